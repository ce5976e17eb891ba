//! The server's configuration: command-line flags, each with an environment fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "dtc.redb";

/// Default maximum plaintext file size: 2 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 2 * 1024 * 1024 * 1024;

/// Default longest share-link lifetime: 30 days, in seconds.
pub const DEFAULT_LINK_MAX_EXPIRY_SECS: u64 = 30 * 24 * 60 * 60;

/// Highest accepted `--link-max-expiry-secs`: 10 years, so that every expiry time fits
/// the millisecond timestamps with room to spare.
pub const LINK_MAX_EXPIRY_CEILING_SECS: u64 = 10 * 365 * 24 * 60 * 60;

#[derive(Clone, Debug, Parser)]
#[command(name = "dtc-server", version, about = "The data-transfer-cloud server")]
pub struct Config {
    /// Socket address to listen on.
    #[arg(long, env = "DTC_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Directory that holds the database file `dtc.redb`; created if missing.
    #[arg(long, env = "DTC_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Largest plaintext file accepted for upload, in bytes.
    #[arg(long, env = "DTC_MAX_FILE_SIZE", default_value_t = DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,

    /// Maximum share-link lifetime a sender may pick, in seconds (at least 300).
    #[arg(
        long,
        env = "DTC_LINK_MAX_EXPIRY_SECS",
        default_value_t = DEFAULT_LINK_MAX_EXPIRY_SECS,
        value_parser = parse_link_max_expiry,
        value_name = "SECS"
    )]
    pub link_max_expiry_secs: u64,

    /// Directory of the built web pages (the Trunk output) served at `/`.
    #[arg(long, env = "DTC_SITE_DIR", default_value = "dist")]
    pub site_dir: PathBuf,

    /// Log line format.
    #[arg(long, env = "DTC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Whether the session cookie carries the `Secure` attribute, so browsers send it over
    /// HTTPS only. Set `false` only to serve plain HTTP on a host other than localhost.
    #[arg(
        long,
        env = "DTC_COOKIE_SECURE",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    pub cookie_secure: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// The path of the database file inside the data directory.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }
}

/// Parses `--link-max-expiry-secs`, with a message that names the value and the range.
fn parse_link_max_expiry(text: &str) -> Result<u64, String> {
    let min = crate::backend::MIN_LINK_EXPIRY_SECS;
    let max = LINK_MAX_EXPIRY_CEILING_SECS;
    let secs: u64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of seconds; use {min} to {max}"))?;
    if !(min..=max).contains(&secs) {
        return Err(format!(
            "maximum link lifetime {secs} s is out of range; use {min} to {max} seconds"
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_without_flags() {
        let config = Config::try_parse_from(["dtc-server"]).unwrap();
        assert_eq!(config.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.max_file_size, 2_147_483_648);
        assert_eq!(config.site_dir, PathBuf::from("dist"));
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.cookie_secure);
        assert_eq!(config.link_max_expiry_secs, 2_592_000);
        assert_eq!(config.database_path(), PathBuf::from("data/dtc.redb"));
    }

    #[test]
    fn flags_override_defaults() {
        let config = Config::try_parse_from([
            "dtc-server",
            "--addr",
            "0.0.0.0:9000",
            "--max-file-size",
            "1000",
            "--log-format",
            "json",
            "--cookie-secure",
            "false",
        ])
        .unwrap();
        assert_eq!(config.addr, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.max_file_size, 1000);
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(!config.cookie_secure);
    }

    #[test]
    fn link_max_expiry_accepts_minimum() {
        let config =
            Config::try_parse_from(["dtc-server", "--link-max-expiry-secs", "300"]).unwrap();
        assert_eq!(config.link_max_expiry_secs, 300);
    }

    #[test]
    fn link_max_expiry_rejects_bad_values() {
        for bad in ["299", "0", "-1", "ten", "315360001"] {
            let flag = format!("--link-max-expiry-secs={bad}");
            let err = Config::try_parse_from(["dtc-server", flag.as_str()])
                .unwrap_err()
                .to_string();
            assert!(err.contains("--link-max-expiry-secs"), "{bad}: {err}");
            assert!(err.contains("use 300 to 315360000"), "{bad}: {err}");
        }
    }
}

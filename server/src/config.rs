//! The server's configuration: command-line flags, each with an environment fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "dtc.redb";

/// Default maximum plaintext file size: 64 GiB, 16384 parts.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024 * 1024;

/// Default longest share-link lifetime: 30 days, in seconds.
pub const DEFAULT_LINK_MAX_EXPIRY_SECS: u64 = 30 * 24 * 60 * 60;

/// Default idle session timeout: 7 days, in seconds.
pub const DEFAULT_SESSION_IDLE_SECS: u64 = 7 * 24 * 60 * 60;

/// Default absolute session lifetime: 30 days, in seconds.
pub const DEFAULT_SESSION_MAX_AGE_SECS: u64 = 30 * 24 * 60 * 60;

/// Default storage quota per account: 100 GiB of ciphertext.
pub const DEFAULT_QUOTA_BYTES: u64 = 100 * 1024 * 1024 * 1024;

/// Default file-count quota per account.
pub const DEFAULT_QUOTA_FILES: u64 = 10_000;

/// Default lifetime of a finished file: 30 days, in seconds.
pub const DEFAULT_FILE_LIFETIME_SECS: u64 = 30 * 24 * 60 * 60;

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

    /// Whether people reach the site over HTTPS, through a TLS proxy such as nginx. When
    /// true, the session cookie is `__Host-dtc_session` with `Secure`, and every response
    /// carries `Strict-Transport-Security`.
    #[arg(
        long,
        env = "DTC_HTTPS",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    pub https: bool,

    /// Request header that carries the client's address, set by the proxy in front (for
    /// example `X-Real-IP`). Without it the TCP peer address is used. Set it only behind
    /// a proxy that always overwrites the header.
    #[arg(
        long,
        env = "DTC_CLIENT_ADDRESS_HEADER",
        value_name = "HEADER",
        value_parser = parse_header_name
    )]
    pub client_address_header: Option<String>,

    /// A session ends after this many seconds without a request (at least 60).
    #[arg(
        long,
        env = "DTC_SESSION_IDLE_SECS",
        default_value_t = DEFAULT_SESSION_IDLE_SECS,
        value_parser = parse_session_secs,
        value_name = "SECS"
    )]
    pub session_idle_secs: u64,

    /// A session ends this many seconds after its sign-in, however active it is (at
    /// least 60).
    #[arg(
        long,
        env = "DTC_SESSION_MAX_AGE_SECS",
        default_value_t = DEFAULT_SESSION_MAX_AGE_SECS,
        value_parser = parse_session_secs,
        value_name = "SECS"
    )]
    pub session_max_age_secs: u64,

    /// Most ciphertext bytes one account may have stored, finished files and pending
    /// uploads together.
    #[arg(long, env = "DTC_QUOTA_BYTES", default_value_t = DEFAULT_QUOTA_BYTES, value_name = "BYTES")]
    pub quota_bytes: u64,

    /// Most files one account may have stored, finished and pending together.
    #[arg(long, env = "DTC_QUOTA_FILES", default_value_t = DEFAULT_QUOTA_FILES, value_name = "COUNT")]
    pub quota_files: u64,

    /// A finished file is deleted this many seconds after its upload finished (at least
    /// 300). Lowering it expires stored files at once.
    #[arg(
        long,
        env = "DTC_FILE_LIFETIME_SECS",
        default_value_t = DEFAULT_FILE_LIFETIME_SECS,
        value_parser = parse_file_lifetime,
        value_name = "SECS"
    )]
    pub file_lifetime_secs: u64,

    /// Socket address of the optional Prometheus metrics listener (`GET /metrics`).
    /// Without it no metrics listener runs.
    #[arg(long, env = "DTC_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
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

/// Parses `--client-address-header`, so that a misspelt name fails at start instead of
/// every client being counted under the proxy's address.
fn parse_header_name(text: &str) -> Result<String, String> {
    axum::http::HeaderName::try_from(text)
        .map(|_| text.to_owned())
        .map_err(|_| format!("{text:?} is not a valid HTTP header name; use one such as X-Real-IP"))
}

/// Parses `--link-max-expiry-secs`.
fn parse_link_max_expiry(text: &str) -> Result<u64, String> {
    parse_secs_in(
        text,
        "maximum link lifetime",
        crate::backend::MIN_LINK_EXPIRY_SECS,
    )
}

/// Minimum of `--session-idle-secs` and `--session-max-age-secs`: a shorter session
/// would end between two clicks.
const MIN_SESSION_SECS: u64 = 60;

/// Minimum of `--file-lifetime-secs`, the shortest share-link lifetime, because a link
/// never outlives its file. A mistyped 0 would delete every stored file at start.
const MIN_FILE_LIFETIME_SECS: u64 = crate::backend::MIN_LINK_EXPIRY_SECS;

/// Parses `--session-idle-secs` and `--session-max-age-secs`.
fn parse_session_secs(text: &str) -> Result<u64, String> {
    parse_secs_in(text, "session time", MIN_SESSION_SECS)
}

/// Parses `--file-lifetime-secs`.
fn parse_file_lifetime(text: &str) -> Result<u64, String> {
    parse_secs_in(text, "file lifetime", MIN_FILE_LIFETIME_SECS)
}

/// Parses a whole number of seconds from `min` to the ceiling of ten years, with a
/// message that names `what`, the value and the range.
fn parse_secs_in(text: &str, what: &str, min: u64) -> Result<u64, String> {
    let max = LINK_MAX_EXPIRY_CEILING_SECS;
    let secs: u64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of seconds; use {min} to {max}"))?;
    if !(min..=max).contains(&secs) {
        return Err(format!(
            "{what} {secs} s is out of range; use {min} to {max} seconds"
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
        assert_eq!(config.max_file_size, 68_719_476_736);
        assert_eq!(config.site_dir, PathBuf::from("dist"));
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(!config.https);
        assert_eq!(config.client_address_header, None);
        assert_eq!(config.session_idle_secs, 604_800);
        assert_eq!(config.session_max_age_secs, 2_592_000);
        assert_eq!(config.quota_bytes, 107_374_182_400);
        assert_eq!(config.quota_files, 10_000);
        assert_eq!(config.file_lifetime_secs, 2_592_000);
        assert_eq!(config.metrics_addr, None);
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
            "--https",
            "true",
        ])
        .unwrap();
        assert_eq!(config.addr, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.max_file_size, 1000);
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.https);
    }

    #[test]
    fn link_max_expiry_accepts_minimum() {
        let config =
            Config::try_parse_from(["dtc-server", "--link-max-expiry-secs", "300"]).unwrap();
        assert_eq!(config.link_max_expiry_secs, 300);
    }

    #[test]
    fn client_address_header_must_be_header_name() {
        let config =
            Config::try_parse_from(["dtc-server", "--client-address-header", "X-Real-IP"]).unwrap();
        assert_eq!(config.client_address_header.as_deref(), Some("X-Real-IP"));
        for bad in ["X Real IP", "", "X-Real-IP:"] {
            let flag = format!("--client-address-header={bad}");
            let err = Config::try_parse_from(["dtc-server", flag.as_str()])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("not a valid HTTP header name"),
                "{bad:?}: {err}"
            );
        }
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

    #[test]
    fn lifetimes_reject_zero_and_garbage() {
        let cases = [
            ("--session-idle-secs", "use 60 to 315360000"),
            ("--session-max-age-secs", "use 60 to 315360000"),
            ("--file-lifetime-secs", "use 300 to 315360000"),
        ];
        for (flag, range) in cases {
            for bad in ["0", "-5", "soon", "315360001"] {
                let arg = format!("{flag}={bad}");
                let err = Config::try_parse_from(["dtc-server", arg.as_str()])
                    .unwrap_err()
                    .to_string();
                assert!(err.contains(flag), "{arg}: {err}");
                assert!(err.contains(range), "{arg}: {err}");
            }
        }
        let config = Config::try_parse_from([
            "dtc-server",
            "--session-idle-secs=60",
            "--file-lifetime-secs=300",
        ])
        .unwrap();
        assert_eq!(config.session_idle_secs, 60);
        assert_eq!(config.file_lifetime_secs, 300);
    }
}

//! `dtc-server admin`: operator commands on a data directory.
//!
//! redb locks the database file for one process, so while a server runs it serves
//! these commands itself on a Unix socket in the data directory ([`SOCKET_FILE`], mode
//! 0600, removed at shutdown). The command asks that socket first and opens the
//! database itself only when no server answers. `restore` runs only without a server.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use dtc_server::config::DATABASE_FILE;
use dtc_server::store::{
    AccountDeletion, AccountUsage, BackupSummary, DELETED_ACCOUNT_NAME, Restored, Store, StoreError,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

/// Name of the admin socket inside the data directory.
pub const SOCKET_FILE: &str = "admin.sock";

/// Maximum length of a request line on the socket.
const MAX_REQUEST_LEN: u64 = 64 * 1024;

/// Longest time a client of the socket may take to send its request line, so that one
/// that sends nothing cannot hold the socket, which serves one client at a time.
const REQUEST_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Operator commands on a data directory; see docs/server.md, "Administration".
#[derive(Debug, Parser)]
#[command(name = "dtc-server admin", bin_name = "dtc-server admin", version)]
pub struct AdminArgs {
    /// Data directory of the server (the one given to `dtc-server --data-dir`).
    #[arg(long, env = "DTC_DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes a consistent copy of the database, also while the server runs.
    Backup {
        /// The backup file to write; it must not exist unless --force is given.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replaces the database with a backup; the server must be stopped.
    Restore {
        /// The backup file written by `backup`.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
    /// Lists the accounts with what each stores.
    Accounts {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Deletes an account, its sessions, the files sent to it, its uploads and links.
    DeleteAccount {
        /// Username of the account to delete.
        username: String,
        /// Delete; without it the command only prints what it would delete.
        #[arg(long)]
        yes: bool,
    },
}

/// One command sent over the admin socket, as one JSON line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
enum Request {
    Backup { to: PathBuf, force: bool },
    Accounts,
    DeleteAccount { username: String, apply: bool },
}

/// The response to a [`Request`], as one JSON line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(serde_json::Value),
    Error(String),
}

/// Runs one admin command and prints its result.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir;
    let request = match args.command {
        Command::Restore { from } => return restore(&data_dir, &from).await,
        Command::Backup { to, force } => Request::Backup {
            to: std::path::absolute(&to)
                .with_context(|| format!("failed to resolve the path {}", to.display()))?,
            force,
        },
        Command::Accounts { json } => {
            let usage: Vec<AccountUsage> = ask(&data_dir, Request::Accounts).await?;
            print_accounts(&usage, json)?;
            return Ok(());
        }
        Command::DeleteAccount { username, yes } => Request::DeleteAccount {
            username: dtc_app::api::normalize_username(&username)
                .map_err(|err| anyhow::anyhow!("{}", err.message))?,
            apply: yes,
        },
    };
    match request {
        Request::Backup { ref to, .. } => {
            let to = to.clone();
            let summary: BackupSummary = ask(&data_dir, request).await?;
            // The server may see another /tmp than this command (systemd's PrivateTmp).
            if !to.is_file() {
                bail!(
                    "the server wrote the backup to {} but this command does not see the file \
                     there, so the server has a private view of that directory; write the \
                     backup under the data directory instead",
                    to.display()
                );
            }
            println!(
                "backup written to {}: {} accounts, {} files, {} bytes of file parts, {} tables",
                to.display(),
                summary.accounts,
                summary.files,
                summary.part_bytes,
                summary.tables
            );
        }
        Request::DeleteAccount { .. } => {
            let deletion: AccountDeletion = ask(&data_dir, request).await?;
            print_deletion(&deletion);
        }
        Request::Accounts => {}
    }
    Ok(())
}

/// Sends `request` to the running server, or runs it on the database directly when no
/// server responds on the socket.
async fn ask<T: serde::de::DeserializeOwned>(
    data_dir: &Path,
    request: Request,
) -> anyhow::Result<T> {
    let value = match connect(data_dir).await? {
        Some(stream) => send(stream, &request).await?,
        None => run_offline(data_dir, request).await?,
    };
    serde_json::from_value(value).context("the server's response has an unexpected form")
}

/// Connects to the socket of a running server; `None` when there is none.
async fn connect(data_dir: &Path) -> anyhow::Result<Option<UnixStream>> {
    let path = data_dir.join(SOCKET_FILE);
    match UnixStream::connect(&path).await {
        Ok(stream) => Ok(Some(stream)),
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(err).with_context(|| {
            format!(
                "failed to reach the running server on {}; run the command as the server's user",
                path.display()
            )
        }),
    }
}

async fn send(stream: UnixStream, request: &Request) -> anyhow::Result<serde_json::Value> {
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    write.shutdown().await?;
    let mut answer = String::new();
    BufReader::new(read)
        .read_line(&mut answer)
        .await
        .context("failed to read the server's response on the admin socket")?;
    match serde_json::from_str(&answer) {
        Ok(Reply::Ok(value)) => Ok(value),
        Ok(Reply::Error(message)) => bail!("{message}"),
        Err(err) => bail!("the server's response on the admin socket is invalid: {err}"),
    }
}

async fn run_offline(data_dir: &Path, request: Request) -> anyhow::Result<serde_json::Value> {
    let store = open_existing(data_dir).await?;
    let result = execute(&store, request).await;
    if let Err(err) = store.close().await {
        tracing::warn!(error = %err, "failed to close the database");
    }
    result.map_err(anyhow::Error::msg)
}

/// Opens the database of a data directory without creating one.
async fn open_existing(data_dir: &Path) -> anyhow::Result<Store> {
    let path = data_dir.join(DATABASE_FILE);
    if !path.is_file() {
        bail!(
            "no database at {}; check --data-dir (the server's --data-dir)",
            path.display()
        );
    }
    match Store::open(&path).await {
        Ok(store) => Ok(store),
        Err(StoreError::Database(redb::Error::DatabaseAlreadyOpen)) => bail!(
            "the database {} is open in another process that does not respond on {}; \
             stop that process or run the command from the server's version",
            path.display(),
            data_dir.join(SOCKET_FILE).display()
        ),
        Err(err) => Err(err).with_context(|| format!("failed to open {}", path.display())),
    }
}

/// Runs one request on an open store; the error is the message for the operator.
async fn execute(store: &Store, request: Request) -> Result<serde_json::Value, String> {
    let value = match request {
        Request::Backup { to, force } => store
            .backup_to(to, force)
            .await
            .map(serde_json::to_value)
            .map_err(|err| err.to_string())?,
        Request::Accounts => store
            .account_usage()
            .await
            .map(serde_json::to_value)
            .map_err(|err| err.to_string())?,
        Request::DeleteAccount { username, apply } => store
            .delete_account(username, apply)
            .await
            .map(serde_json::to_value)
            .map_err(|err| err.to_string())?,
    };
    value.map_err(|err| format!("failed to encode the answer: {err}"))
}

async fn restore(data_dir: &Path, from: &Path) -> anyhow::Result<()> {
    if connect(data_dir).await?.is_some() {
        bail!(
            "a server is running on {} (it responds on {}); stop it first, then restore",
            data_dir.display(),
            data_dir.join(SOCKET_FILE).display()
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("failed to create data directory {}", data_dir.display()))?;
    let database = data_dir.join(DATABASE_FILE);
    let (from_path, target) = (from.to_path_buf(), database.clone());
    let restored: Restored =
        tokio::task::spawn_blocking(move || dtc_server::store::restore(&target, &from_path))
            .await??;
    println!(
        "restored {} into {}: {} accounts, {} files, {} bytes of file parts",
        from.display(),
        database.display(),
        restored.backup.accounts,
        restored.backup.files,
        restored.backup.part_bytes
    );
    if let Some(previous) = restored.previous {
        println!(
            "the previous database is kept at {}; once the restored server works, delete it \
             with: rm {}",
            previous.display(),
            previous.display()
        );
    }
    Ok(())
}

fn print_accounts(usage: &[AccountUsage], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(usage)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<32} {:<20} {:>6} {:>14} {:>8} {:>7} {:>5} {:>8}",
        "USERNAME",
        "ID",
        "CREATED (UTC)",
        "SENT",
        "SENT BYTES",
        "RECEIVED",
        "PENDING",
        "LINKS",
        "SESSIONS"
    );
    for account in usage {
        println!(
            "{:<24} {:<32} {:<20} {:>6} {:>14} {:>8} {:>7} {:>5} {:>8}",
            account.username,
            account.id,
            utc_time(account.created_at_ms),
            account.files_sent,
            account.bytes_sent,
            account.files_received,
            account.pending_uploads,
            account.links,
            account.sessions
        );
    }
    Ok(())
}

fn print_deletion(deletion: &AccountDeletion) {
    let verb = if deletion.applied {
        "deleted"
    } else {
        "would delete"
    };
    println!(
        "{verb} account {} ({}): {} sessions, {} received files, {} unfinished uploads, \
         {} links",
        deletion.username,
        deletion.id,
        deletion.sessions,
        deletion.files_received,
        deletion.pending_uploads,
        deletion.links
    );
    if deletion.files_kept > 0 {
        println!(
            "{} files it sent stay readable by their recipients, sent by {DELETED_ACCOUNT_NAME:?}",
            deletion.files_kept
        );
    }
    if !deletion.applied {
        println!("nothing was changed; run again with --yes to delete");
    }
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` in UTC.
fn utc_time(ms: i64) -> String {
    let Ok(time) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else {
        return ms.to_string();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// The admin socket of a running server.
pub struct AdminSocket {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl AdminSocket {
    /// Listens on `SOCKET_FILE` in the data directory. The caller has the database open,
    /// so a socket file found there is left from a server that died; it is replaced.
    pub fn listen(data_dir: &Path, store: Store) -> anyhow::Result<AdminSocket> {
        let path = data_dir.join(SOCKET_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(socket = %path.display(), "replaced a stale admin socket"),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("failed to remove the stale {}", path.display()));
            }
        }
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("failed to listen on {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("failed to set the mode of {}", path.display()))?;
        let task = tokio::spawn(accept_loop(listener, store));
        Ok(AdminSocket { path, task })
    }

    /// Stops serving commands, drops the store handle and removes the socket file.
    pub async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
        if let Err(err) = std::fs::remove_file(&self.path) {
            tracing::warn!(error = %err, socket = %self.path.display(), "failed to remove the admin socket");
        }
    }
}

/// Serves one connection at a time, because the commands are rare and each keeps the
/// database busy for its whole length anyway.
async fn accept_loop(listener: UnixListener, store: Store) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => answer(stream, &store).await,
            Err(err) => {
                tracing::warn!(error = %err, "failed to accept on the admin socket");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

async fn answer(stream: UnixStream, store: &Store) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST_LEN));
    let read = tokio::time::timeout(REQUEST_READ_TIMEOUT, reader.read_line(&mut line))
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
    // A client that only checks whether a server runs closes without a request.
    if matches!(read, Ok(0)) {
        return;
    }
    let reply = match read.map(|_| serde_json::from_str::<Request>(&line)) {
        Ok(Ok(request)) => {
            let command = command_name(&request);
            tracing::info!(command, "admin command");
            match execute(store, request).await {
                Ok(value) => Reply::Ok(value),
                Err(message) => {
                    tracing::warn!(command, error = %message, "admin command failed");
                    Reply::Error(message)
                }
            }
        }
        Ok(Err(err)) => Reply::Error(format!("the admin request is invalid: {err}")),
        Err(err) => Reply::Error(format!("failed to read the admin request: {err}")),
    };
    let mut bytes = serde_json::to_vec(&reply).unwrap_or_else(|_| b"{}".to_vec());
    bytes.push(b'\n');
    if let Err(err) = write.write_all(&bytes).await {
        tracing::warn!(error = %err, "failed to send the response on the admin socket");
    }
}

fn command_name(request: &Request) -> &'static str {
    match request {
        Request::Backup { .. } => "backup",
        Request::Accounts => "accounts",
        Request::DeleteAccount { .. } => "delete-account",
    }
}

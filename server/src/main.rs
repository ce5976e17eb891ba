//! The `dtc-server` binary: reads the configuration, opens the database and serves
//! until Ctrl-C or SIGTERM.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser};
use dtc_server::config::{Config, LogFormat};
use dtc_server::store::Store;
use dtc_server::{AppState, metrics, router, serve, shutdown_signal, sweep};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing_subscriber::EnvFilter;

mod admin;

/// See the `mimalloc` entry in Cargo.toml for why the server replaces the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|arg| arg == "admin") {
        return run_admin().await;
    }
    let config = parse_config();
    init_tracing(config.log_format);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    dtc_server::store::create_data_dir(&config.data_dir).with_context(|| {
        format!(
            "failed to create data directory {}",
            config.data_dir.display()
        )
    })?;
    let database = config.database_path();
    let store = Store::open(&database)
        .await
        .with_context(|| format!("failed to open database {}", database.display()))?;
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("failed to listen on {}", config.addr))?;
    if !config.site_dir.join("index.html").is_file() {
        tracing::warn!(site_dir = %config.site_dir.display(), "site directory has no index.html; pages will not load");
    }
    tracing::info!(
        addr = %listener.local_addr().unwrap_or(config.addr),
        database = %database.display(),
        version = env!("CARGO_PKG_VERSION"),
        "server started"
    );

    let admin_socket = admin::AdminSocket::listen(&config.data_dir, store.clone())?;
    // The backend sets the store's file lifetime, which the sweep's first run reads.
    let state = AppState::new(store.clone(), &config);
    let sweeper = tokio::spawn(sweep::run(store.clone()));
    let metrics_server = match config.metrics_addr {
        Some(addr) => Some(spawn_metrics(addr, &state).await?),
        None => None,
    };
    let served = serve(listener, router(state), shutdown_signal()).await;
    sweeper.abort();
    let _ = sweeper.await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
        let _ = metrics_server.await;
    }

    admin_socket.close().await;

    match store.close().await {
        Ok(true) => tracing::info!(database = %database.display(), "database closed"),
        Ok(false) => {
            tracing::warn!("database still in use by unfinished requests; it closes at exit")
        }
        Err(err) => tracing::error!(error = %err, "failed to close the database"),
    }
    served.context("server failed")?;
    tracing::info!("server stopped");
    Ok(())
}

/// Starts the metrics listener on `addr`; it runs until its task is aborted.
async fn spawn_metrics(
    addr: SocketAddr,
    state: &AppState,
) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen for metrics on {addr}"))?;
    tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "metrics listener started");
    let task = metrics::serve_metrics(listener, state.metrics.clone(), state.store.clone());
    Ok(tokio::spawn(task))
}

/// Reads the server's flags. The help lists `admin`, which `main` hands to
/// [`run_admin`] before this runs, so that `dtc-server --help` shows the operator
/// commands too.
fn parse_config() -> Config {
    let command = Config::command()
        .subcommand(admin::AdminArgs::command().name("admin"))
        .after_help(
            "Operator commands (backup, restore, accounts, delete-account) run as \
             `dtc-server admin COMMAND`; see `dtc-server admin --help`.",
        );
    command
        .try_get_matches()
        .and_then(|matches| Config::from_arg_matches(&matches))
        .unwrap_or_else(|err| err.exit())
}

/// Runs `dtc-server admin ...`, with warnings and errors logged to standard error.
async fn run_admin() -> ExitCode {
    let args = admin::AdminArgs::parse_from(std::env::args_os().skip(1));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match admin::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The log filter when `RUST_LOG` is unset. tower-sessions warns of "possibly suspicious
/// activity" for every cookie of a session that expired or ended elsewhere, which is
/// normal traffic, so only its errors are kept.
const DEFAULT_LOG_FILTER: &str = "info,tower_sessions=error";

fn init_tracing(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let colors = std::io::stdout().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colors);
    match format {
        LogFormat::Text => builder.init(),
        // The span list carries the request span, and with it the request id, into
        // every line of a request, also from inside nested spans.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

//! The HTTP/1.1 server loop: one hyper connection per accepted socket with a header
//! read timeout and a write stall limit, and a graceful shutdown that ends stalled
//! connections after a grace.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::write_stall::WriteStallLimit;

/// How long shutdown waits for open requests before it closes their connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Longest time a client may take to send a request line and headers. An idle
/// keep-alive connection is closed after the same time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest time a response write may wait for a client that reads nothing, after
/// which the connection is closed (see [`crate::write_stall`]).
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Pause after a failed accept, such as one for lack of file descriptors, so that the
/// loop does not spin while the condition lasts.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// The time limits of [`serve_with_limits`].
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    pub header_read: Duration,
    pub shutdown_grace: Duration,
    pub write_stall: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read: HEADER_READ_TIMEOUT,
            shutdown_grace: SHUTDOWN_GRACE,
            write_stall: WRITE_STALL_TIMEOUT,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests
/// finish for up to [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(listener, app, shutdown, ServeLimits::default()).await
}

/// Serves like [`serve`] with other time limits. Connections still open when the
/// shutdown grace ends are closed, and this returns only when they are gone.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ServeLimits,
) -> std::io::Result<()> {
    let (closing, closing_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection =
                        serve_connection(stream, peer, app.clone(), limits, closing_seen.clone());
                    connections.spawn(connection);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "failed to accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                }
            },
            Some(_) = connections.join_next() => {}
        }
    }
    drop(listener);

    tracing::info!(
        connections = connections.len(),
        "shutdown requested; finishing open requests"
    );
    let _ = closing.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = limits.shutdown_grace.as_secs(),
            connections = connections.len(),
            "requests still open after the shutdown grace; closing them"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

/// Serves one connection until the client closes it, a time limit ends it, or
/// `closing` turns true and its open request finishes. Every request carries the
/// peer address as a [`ConnectInfo`] extension, which [`crate::client`] reads.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ServeLimits,
    mut closing: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let app = app.map_request(move |mut request: axum::extract::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let stream = WriteStallLimit::new(stream, limits.write_stall);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = closing.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

/// Completes on Ctrl-C or, on Unix, on SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "failed to listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "failed to listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "ctrl-c", "signal received"),
        () = terminate => tracing::info!(signal = "SIGTERM", "signal received"),
    }
}

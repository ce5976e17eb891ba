#![cfg_attr(test, allow(clippy::unwrap_used))]

//! The data-transfer-cloud server: the API on a redb store, sessions, the ciphertext
//! part routes and the static pages. [`router`] builds the whole application, so tests
//! drive it without a socket; [`serve`] runs it until shutdown.

pub mod backend;
pub mod config;
pub mod error;
pub mod parts;
pub mod server_fns;
pub mod session_store;
pub mod store;

use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::routing::{any, post, put};
use dtc_app::api::SharedBackend;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Span;

use crate::backend::ServerBackend;
use crate::config::Config;
use crate::parts::MAX_PART_LEN;
use crate::store::Store;

/// How long shutdown waits for open requests before it closes their connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Everything a request handler needs; clones share it.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub backend: SharedBackend,
    pub settings: Arc<Settings>,
}

/// The parts of the configuration that the router uses.
#[derive(Clone, Debug)]
pub struct Settings {
    pub site_dir: PathBuf,
    pub cookie_secure: bool,
}

impl AppState {
    pub fn new(store: Store, config: &Config) -> Self {
        let backend = ServerBackend::new(store.clone(), config.max_file_size);
        AppState {
            store,
            backend: Arc::new(backend),
            settings: Arc::new(Settings {
                site_dir: config.site_dir.clone(),
                cookie_secure: config.cookie_secure,
            }),
        }
    }
}

/// Builds the application: the API under `/api` with sessions, and the static pages
/// from the site directory, where any other path gets `index.html` so that page
/// routes load the app.
pub fn router(state: AppState) -> Router {
    let site_dir = &state.settings.site_dir;
    let pages = ServeDir::new(site_dir).fallback(ServeFile::new(site_dir.join("index.html")));

    Router::new()
        .merge(api_router(state))
        .fallback_service(pages)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn api_router(state: AppState) -> Router {
    let part_limit = middleware::from_fn(|request: Request, next: Next| {
        server_fns::reject_long_body(MAX_PART_LEN, request, next)
    });
    let part_routes = put(parts::put_part)
        .get(parts::get_part)
        .fallback(api_not_found)
        .layer(part_limit);
    let server_fn_route = post(server_fns::handle)
        .layer(middleware::from_fn(server_fns::buffer_json_body))
        .fallback(api_not_found);

    let sessions = session_store::session_layer(state.store.clone(), state.settings.cookie_secure);
    Router::new()
        .route("/api/files/{file_id}/parts/{index}", part_routes)
        .route("/api/{*fn_name}", server_fn_route)
        .route("/api", any(api_not_found))
        .route("/api/", any(api_not_found))
        .layer(sessions)
        .with_state(state)
}

async fn api_not_found(request: Request) -> axum::response::Response {
    server_fns::not_found(request.uri().path())
}

/// Opens the root span of a request. Handlers record the ids they learn in it.
fn request_span(request: &Request) -> Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
        account = tracing::field::Empty,
        file_id = tracing::field::Empty,
        part = tracing::field::Empty,
    )
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests
/// finish for up to [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutdown requested; finishing open requests");
            let _ = stopping.send(());
        })
        .into_future();
    tokio::pin!(server);

    tokio::select! {
        biased;
        result = &mut server => result,
        Ok(()) = stopped => {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(
                        grace_secs = SHUTDOWN_GRACE.as_secs(),
                        "requests still open after the shutdown grace; closing them"
                    );
                    Ok(())
                }
            }
        }
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

#![cfg_attr(test, allow(clippy::unwrap_used))]

//! The data-transfer-cloud server: the API on a redb store, sessions, the ciphertext
//! part routes and the static pages. [`router`] builds the whole application, so tests
//! drive it without a socket; [`serve`] runs it until shutdown.

pub mod backend;
pub mod client;
pub mod config;
pub mod csrf;
pub mod error;
pub mod health;
pub mod link_parts;
pub mod metrics;
pub mod part_bodies;
pub mod parts;
pub mod request_id;
pub mod request_span;
pub mod security_headers;
pub mod serve;
pub mod server_fns;
pub mod session_store;
pub mod store;
pub mod sweep;
pub mod transfer_slots;
pub mod write_stall;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::routing::{any, get, post, put};
use dtc_app::api::SharedBackend;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::DeadlineBody;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::backend::{Policy, ServerBackend};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::part_bodies::PartBodies;
use crate::parts::MAX_PART_LEN;
use crate::request_id::REQUEST_ID;
use crate::store::Store;
use crate::transfer_slots::{MAX_CONCURRENT_PART_TRANSFERS, TransferSlots};
use tower::Layer;

pub use serve::{SHUTDOWN_GRACE, ServeLimits, serve, serve_with_limits, shutdown_signal};

/// Longest time a part body may take to arrive in full. A full part is 4 MiB, so
/// this allows links down to about 35 KB/s.
pub const PART_BODY_TIMEOUT: Duration = Duration::from_secs(120);

/// Longest time a server-function body (at most 1 MiB of JSON) may take to arrive.
pub const JSON_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a request handler needs; clones share it.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub backend: SharedBackend,
    pub settings: Arc<Settings>,
    /// The counters that the metrics listener serves.
    pub metrics: Arc<Metrics>,
    /// The turns in which part bodies are read into memory.
    pub part_bodies: PartBodies,
}

/// The parts of the configuration that the router uses.
#[derive(Clone, Debug)]
pub struct Settings {
    pub site_dir: PathBuf,
    /// Whether the site is reached over HTTPS (see [`Config::https`]).
    pub https: bool,
    /// Header carrying the client address (see [`Config::client_address_header`]).
    pub client_address_header: Option<HeaderName>,
    pub session_idle: Duration,
    pub session_max_age: Duration,
    /// Time limit for a whole part body ([`PART_BODY_TIMEOUT`] unless changed).
    pub part_body_timeout: Duration,
    /// Time limit for a whole server-function body ([`JSON_BODY_TIMEOUT`] unless changed).
    pub json_body_timeout: Duration,
    /// Part transfers one client address may have at once
    /// ([`transfer_slots::MAX_PART_TRANSFERS_PER_ADDRESS`] unless changed).
    pub part_transfers_per_address: usize,
}

impl AppState {
    pub fn new(store: Store, config: &Config) -> Self {
        let backend = ServerBackend::new(store.clone(), Policy::from_config(config));
        AppState {
            store,
            backend: Arc::new(backend),
            settings: Arc::new(Settings {
                site_dir: config.site_dir.clone(),
                https: config.https,
                client_address_header: config
                    .client_address_header
                    .as_deref()
                    .and_then(|name| HeaderName::try_from(name).ok()),
                session_idle: Duration::from_secs(config.session_idle_secs),
                session_max_age: Duration::from_secs(config.session_max_age_secs),
                part_body_timeout: PART_BODY_TIMEOUT,
                json_body_timeout: JSON_BODY_TIMEOUT,
                part_transfers_per_address: transfer_slots::MAX_PART_TRANSFERS_PER_ADDRESS,
            }),
            metrics: Metrics::new(),
            part_bodies: PartBodies::default(),
        }
    }
}

/// Builds the application: the API under `/api` with sessions, and the static pages
/// from the site directory, where any other path gets `index.html` so that page
/// routes load the app.
pub fn router(state: AppState) -> Router {
    let site_dir = &state.settings.site_dir;
    let pages = ServeDir::new(site_dir).fallback(ServeFile::new(site_dir.join("index.html")));
    // Pages and assets keep their names across versions, so a browser must revalidate
    // them (by ETag or Last-Modified) and never run old pages against a new API.
    let pages = SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    )
    .layer(pages);
    let https = state.settings.https;
    let metrics = state.metrics.clone();

    Router::new()
        .route("/healthz", get(health::healthz).with_state(state.clone()))
        // Metrics are served only by the listener of `--metrics-addr`, never here.
        .route("/metrics", any(StatusCode::NOT_FOUND))
        .merge(api_router(state))
        .fallback_service(pages)
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
        .layer(middleware::from_fn_with_state(
            https,
            security_headers::add_security_headers,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(middleware::from_fn(request_span::keep))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span::open)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(middleware::from_fn(request_id::drop_unsafe_request_id))
}

fn api_router(state: AppState) -> Router {
    let part_limit = middleware::from_fn(|request: Request, next: Next| {
        server_fns::reject_long_body(MAX_PART_LEN, request, next)
    });
    let part_timeout = state.settings.part_body_timeout;
    let json_timeout = state.settings.json_body_timeout;
    let transfers = middleware::from_fn_with_state(
        TransferSlots::new(MAX_CONCURRENT_PART_TRANSFERS, Arc::clone(&state.settings)),
        transfer_slots::hold_slot,
    );
    let part_routes = put(parts::put_part)
        .get(parts::get_part)
        .fallback(api_not_found)
        .layer(transfers.clone())
        .layer(part_limit.clone())
        .layer(middleware::from_fn_with_state(part_timeout, body_deadline))
        .layer(middleware::from_fn_with_state(
            csrf::Expected {
                content_type: "application/octet-stream",
                https: state.settings.https,
            },
            csrf::check_state_change,
        ))
        .layer(middleware::from_fn(security_headers::add_part_headers));
    let link_part_route = get(link_parts::get_link_part)
        .fallback(api_not_found)
        .layer(transfers)
        .layer(part_limit)
        .layer(middleware::from_fn_with_state(part_timeout, body_deadline))
        .layer(middleware::from_fn_with_state(
            csrf::Expected {
                content_type: "application/octet-stream",
                https: state.settings.https,
            },
            csrf::check_state_change,
        ))
        .layer(middleware::from_fn(security_headers::add_part_headers));
    let server_fn_route = post(server_fns::handle)
        .layer(middleware::from_fn(server_fns::buffer_json_body))
        .layer(middleware::from_fn_with_state(json_timeout, body_deadline))
        .layer(middleware::from_fn_with_state(
            csrf::Expected {
                content_type: "application/json",
                https: state.settings.https,
            },
            csrf::check_state_change,
        ))
        .fallback(api_not_found);

    let sessions = session_store::session_layer(
        state.store.clone(),
        state.settings.https,
        state.settings.session_idle,
        state.settings.session_max_age,
    );
    Router::new()
        .route("/api/files/{file_id}/parts/{index}", part_routes)
        .route("/api/links/{link_id}/parts/{index}", link_part_route)
        .route("/api/{*fn_name}", server_fn_route)
        .route("/api", any(api_not_found))
        .route("/api/", any(api_not_found))
        .layer(sessions)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// Makes reading the request body fail with a timeout once `limit` has passed since
/// the request arrived, so that a client that stops sending cannot hold a connection.
async fn body_deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> axum::response::Response {
    let request = request.map(|body| Body::new(DeadlineBody::new(limit, body)));
    next.run(request).await
}

async fn api_not_found(request: Request) -> axum::response::Response {
    server_fns::not_found(request.uri().path())
}

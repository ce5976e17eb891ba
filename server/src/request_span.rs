//! The root span of each request and the ids recorded in it.
//!
//! Handlers run inside spans that other layers open, such as the session layer's, so
//! the current span is not the request span and a field recorded there is dropped.
//! [`keep`] therefore stores the request span for the whole request, and [`record`]
//! writes into it from any span inside the request.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::RequestId;
use tracing::Span;

tokio::task_local! {
    static REQUEST_SPAN: Span;
}

/// Opens the root span of a request, with empty fields for the ids handlers learn.
pub fn open(request: &Request) -> Span {
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
        link_id = tracing::field::Empty,
        part = tracing::field::Empty,
    )
}

/// Runs the rest of the request with the current span stored for [`current`]. Placed
/// right inside the trace layer, the current span is the request span.
pub async fn keep(request: Request, next: Next) -> Response {
    REQUEST_SPAN.scope(Span::current(), next.run(request)).await
}

/// Returns the span of the request being handled, or the current span outside a
/// request.
pub fn current() -> Span {
    REQUEST_SPAN
        .try_with(Span::clone)
        .unwrap_or_else(|_| Span::current())
}

/// Records `value` as the field `name` of the request span.
pub fn record(name: &str, value: impl tracing::Value) {
    current().record(name, value);
}

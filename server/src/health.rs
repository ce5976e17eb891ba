//! `GET /healthz`: whether the server can read its database, for load balancers and
//! monitoring. It needs no session and sets no cookie.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::store::StoreError;

/// Returns 200 `ok` when a read transaction on the database succeeds, else 503.
pub async fn healthz(State(state): State<AppState>) -> Response {
    health_response(state.store.check_readable().await)
}

fn health_response(checked: Result<(), StoreError>) -> Response {
    let (status, body) = match checked {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::error!(error = %err, "health check failed to read the database");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    };
    let headers = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ),
    ];
    (status, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_read_is_service_unavailable() {
        let err = StoreError::Corrupt {
            what: "meta",
            detail: "test".into(),
        };
        let response = health_response(Err(err));

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}

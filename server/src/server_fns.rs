//! The server functions at `POST /api/{name}`: dispatch to leptos_axum with the
//! backend in context, a buffered and limited JSON body, and statuses by error code.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dtc_app::api::{ApiError, ErrorCode, SharedBackend};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use leptos::prelude::provide_context;
use server_fn::error::SERVER_FN_ERROR_HEADER;

use crate::AppState;
use crate::error::{ApiFailure, log_rejection, set_retry_after, status_of};

/// Largest JSON request body, in bytes.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Largest error body read back to find its code. Longer bodies come only from a
/// message that echoes a long input, which makes them a client error.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Runs the server function named by the path, or returns 404 for an unknown name.
pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if server_fn::axum::get_server_fn_service(&path, request.method().clone()).is_none() {
        return not_found(&path);
    }
    let backend: SharedBackend = state.backend.clone();
    let settings = state.settings.clone();
    let context = move || {
        provide_context(backend.clone());
        provide_context(settings.clone());
    };
    let response = leptos_axum::handle_server_fns_with_context(context, request)
        .await
        .into_response();
    set_error_status(response).await
}

/// Builds the 404 response for a path under `/api` that names no endpoint.
pub fn not_found(path: &str) -> Response {
    ApiFailure(ApiError::not_found(format!("no API endpoint at {path}"))).into_response()
}

/// Gives a server-function error response the status of its `ApiError` code in place
/// of the 500 that server functions send for every error.
async fn set_error_status(response: Response) -> Response {
    if !response.headers().contains_key(SERVER_FN_ERROR_HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match Limited::new(body, MAX_ERROR_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return ApiFailure(ApiError::invalid_input(
                "invalid request: an input is too long to be named in the error; shorten it",
            ))
            .into_response();
        }
        Err(err) => {
            tracing::error!(error = %err, "failed to read a server-function error body");
            return ApiFailure(ApiError::internal()).into_response();
        }
    };
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(error) => {
            log_rejection(&error);
            parts.status = status_of(error.code);
            if let Some(secs) = error.retry_after_secs {
                set_retry_after(&mut parts.headers, secs);
            }
        }
        Err(err) => {
            tracing::error!(error = %err, "server-function error body is not an ApiError");
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(bytes))
}

/// Reads the whole request body up to [`MAX_JSON_BODY`] before the server function
/// decodes it, so that a larger body gets a 413 `ApiError` and never reaches the decoder.
pub async fn buffer_json_body(request: Request, next: Next) -> Response {
    if declared_length(&request).is_some_and(|len| len > MAX_JSON_BODY as u64) {
        return body_too_large(MAX_JSON_BODY as u64);
    }
    let (parts, body) = request.into_parts();
    match Limited::new(body, MAX_JSON_BODY).collect().await {
        Ok(collected) => {
            next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                .await
        }
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            body_too_large(MAX_JSON_BODY as u64)
        }
        Err(err) => ApiFailure(ApiError::invalid_input(format!(
            "failed to read the request body: {err}"
        )))
        .into_response(),
    }
}

/// Rejects a request whose declared body is longer than `max` bytes before it is read.
pub async fn reject_long_body(max: u64, request: Request, next: Next) -> Response {
    if declared_length(&request).is_some_and(|len| len > max) {
        return body_too_large(max);
    }
    next.run(request).await
}

/// Reads the `Content-Length` of a request, if present and valid.
fn declared_length(request: &Request) -> Option<u64> {
    let value = request.headers().get(header::CONTENT_LENGTH)?;
    value.to_str().ok()?.parse().ok()
}

fn body_too_large(max: u64) -> Response {
    ApiFailure(ApiError::new(
        ErrorCode::TooLarge,
        format!("request body exceeds the maximum of {max} bytes"),
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_fn_error(body: Vec<u8>) -> Response {
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
            .headers_mut()
            .insert(SERVER_FN_ERROR_HEADER, HeaderValue::from_static("1"));
        response
    }

    #[tokio::test]
    async fn error_body_over_limit_is_invalid_input() {
        let error = ApiError::invalid_input("x".repeat(MAX_ERROR_BODY + 1));
        let response = set_error_status(server_fn_error(serde_json::to_vec(&error).unwrap()));
        let response = response.await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let error: ApiError = serde_json::from_slice(&body).unwrap();
        assert_eq!(error.code, ErrorCode::InvalidInput);
        assert!(error.message.len() < 200, "{}", error.message);
    }
}

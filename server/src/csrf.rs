//! Checks of state-changing API requests on top of the `SameSite=Strict` cookie: a
//! browser sends a foreign `Origin` on a cross-site request, and a plain HTML form
//! cannot send a JSON or octet-stream body.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dtc_app::api::ApiError;

use crate::error::{ApiFailure, log_rejection};

/// Rejects a `POST` or `PUT` whose `Origin` is another host than its `Host`, or whose
/// `Content-Type` is not `expected`. Other methods pass unchecked.
pub async fn check_state_change(
    State(expected): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST && request.method() != Method::PUT {
        return next.run(request).await;
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !same_origin(origin, request.headers()) {
            let error = ApiError::invalid_input(format!(
                "cross-origin request from {origin:?} rejected; use the page of this server"
            ));
            log_rejection(&error);
            return (StatusCode::FORBIDDEN, Json(error)).into_response();
        }
    }
    let media_type = media_type(request.headers());
    if !media_type.is_some_and(|media_type| media_type.eq_ignore_ascii_case(expected)) {
        let error = ApiError::invalid_input(format!(
            "invalid Content-Type {:?}; expected {expected}",
            media_type.unwrap_or("")
        ));
        return ApiFailure(error).into_response();
    }
    next.run(request).await
}

/// Compares the host and port of `origin` (`scheme://host[:port]`) with the `Host`
/// header, with the scheme's default port made explicit on both sides.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let with_port = |authority: &str| {
        let has_port = authority.rsplit_once(':').is_some_and(|(_, port)| {
            !port.is_empty() && port.bytes().all(|byte| byte.is_ascii_digit())
        });
        if has_port {
            authority.to_ascii_lowercase()
        } else {
            format!("{}:{default_port}", authority.to_ascii_lowercase())
        }
    };
    with_port(authority) == with_port(host)
}

/// Returns the media type of the `Content-Type` header, without parameters.
fn media_type(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim())
}

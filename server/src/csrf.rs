//! Checks of state-changing API requests on top of the `SameSite=Strict` cookie. A
//! browser sends `Origin` on every `POST` and `PUT` and names the foreign site on a
//! cross-site request, and a plain HTML form cannot send a JSON or octet-stream body.
//! So a `POST` or `PUT` needs an `Origin` of this server's scheme and host and the
//! expected `Content-Type`. A request without `Origin` did not come from a page of this server,
//! so it is rejected too.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dtc_app::api::ApiError;

/// The expectations of [`check_state_change`] for a state-changing request.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    /// The media type of the body, such as `application/json`.
    pub content_type: &'static str,
    /// Whether pages are served over HTTPS (`--https`), so that their `Origin` has the
    /// scheme `https` rather than `http`.
    pub https: bool,
}

/// Rejects a `POST` or `PUT` without an `Origin`, or with an `Origin` of another scheme
/// than the site's or another host than its `Host` (403), or whose `Content-Type` is
/// not the expected one (415). Other methods pass unchecked.
pub async fn check_state_change(
    State(Expected {
        content_type: expected,
        https,
    }): State<Expected>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST && request.method() != Method::PUT {
        return next.run(request).await;
    }
    let headers = request.headers();
    let Some(origin) = headers.get(header::ORIGIN) else {
        let error = ApiError::invalid_input(format!(
            "{} request without an Origin header rejected; send it from the page of this \
             server, or set Origin to this server's address",
            request.method()
        ));
        return reject(StatusCode::FORBIDDEN, error);
    };
    let origin = origin.to_str().unwrap_or("");
    if !same_origin(origin, headers, https) {
        let error = ApiError::invalid_input(format!(
            "cross-origin request from {origin:?} rejected; use the page of this server"
        ));
        return reject(StatusCode::FORBIDDEN, error);
    }
    let media_type = media_type(headers);
    if !media_type.is_some_and(|media_type| media_type.eq_ignore_ascii_case(expected)) {
        let error = ApiError::invalid_input(format!(
            "invalid Content-Type {:?}; expected {expected}",
            media_type.unwrap_or("")
        ));
        return reject(StatusCode::UNSUPPORTED_MEDIA_TYPE, error);
    }
    next.run(request).await
}

/// Logs a rejected request and returns the response: `status` with the error as JSON.
fn reject(status: StatusCode, error: ApiError) -> Response {
    tracing::info!(
        code = "invalid_input",
        status = status.as_u16(),
        "request rejected"
    );
    (status, Json(error)).into_response()
}

/// Checks that `origin` (`scheme://host[:port]`) has the site's scheme (`https` when
/// `https`, else `http`) and the host and port of the `Host` header, with that scheme's
/// default port made explicit on both sides.
fn same_origin(origin: &str, headers: &HeaderMap, https: bool) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let (site_scheme, default_port) = if https {
        ("https", "443")
    } else {
        ("http", "80")
    };
    if !scheme.eq_ignore_ascii_case(site_scheme) {
        return false;
    }
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

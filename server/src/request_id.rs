//! The request id: the `x-request-id` header of each request, sent back in the
//! response and logged in the request span. A client may supply its own id, so that
//! a proxy's id follows the request, but only in a short, safe form.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id accepted from a client, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client's request id may be kept: 1 to [`MAX_REQUEST_ID_LEN`] ASCII
/// letters, digits and hyphens, so that it cannot forge log fields or lines.
pub fn is_safe_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
}

/// Removes a client's request id that is not safe, or that is sent more than once, so
/// that the id layer behind this one makes a new one.
pub async fn drop_unsafe_request_id(mut request: Request, next: Next) -> Response {
    let headers = request.headers_mut();
    let mut values = headers.get_all(&REQUEST_ID).iter();
    let keep = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(value), None) => is_safe_request_id(value),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        headers.remove(&REQUEST_ID);
        tracing::debug!("replaced a client request id that is not 1 to 64 of [A-Za-z0-9-]");
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_request_ids_are_kept() {
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        for id in [
            "abc",
            "0b6f2c1e-59a4-4b3e-9d8e-1f2a3b4c5d6e",
            longest.as_str(),
        ] {
            assert!(
                is_safe_request_id(&HeaderValue::from_str(id).unwrap()),
                "{id}"
            );
        }
    }

    #[test]
    fn unsafe_request_ids_are_rejected() {
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for id in [
            "",
            "a b",
            "a\"b",
            "a_b",
            "a.b",
            "a=b",
            "é",
            too_long.as_str(),
        ] {
            let value = HeaderValue::from_bytes(id.as_bytes()).unwrap();
            assert!(!is_safe_request_id(&value), "{id:?}");
        }
    }
}

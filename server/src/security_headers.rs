//! Security headers on every response: the page's Content-Security-Policy, no MIME
//! sniffing, no referrer, a browsing context of its own, no camera, microphone or
//! location, and HSTS when the site is reached over HTTPS. Ciphertext part responses
//! also carry a sandbox policy, so that a part opened as a page runs nothing.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of the pages, the worker and every other response. Scripts come from
/// this server only, as files: Trunk's inline loader is replaced by `boot.js`.
/// `'wasm-unsafe-eval'` lets the page and the worker compile the WebAssembly module,
/// and allows no JavaScript `eval`. `frame-src 'self'` lets the page open a download
/// of the service worker `sw.js` in a hidden frame. Every page of this server still
/// rejects being framed (`frame-ancestors 'none'`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; \
     frame-src 'self'; \
     img-src 'self' data: blob:; style-src 'self'; font-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The second policy of a ciphertext part response: opened as a document, it is a
/// sandboxed page that may load nothing.
pub const PART_CONTENT_SECURITY_POLICY: &str = "sandbox; default-src 'none'";

/// Two years of HTTPS only, for this host and its subdomains.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// Denies the features that the product never uses.
pub const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=()";

/// Adds the security headers to the response. A policy that an inner layer set stays,
/// and the page policy is added next to it, so a browser enforces both.
pub async fn add_security_headers(
    State(https): State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    );
    if https {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            STRICT_TRANSPORT_SECURITY,
        );
    }
    response
}

/// Adds the sandbox policy and `Content-Disposition: attachment` to a part response,
/// so that a browser saves a part opened by its address instead of showing it.
pub async fn add_part_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PART_CONTENT_SECURITY_POLICY),
    );
    let ciphertext = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value == "application/octet-stream");
    if ciphertext && !headers.contains_key(header::CONTENT_DISPOSITION) {
        set(headers, header::CONTENT_DISPOSITION, "attachment");
    }
    response
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

//! The client of the server functions: the browser's `fetch`, with failed responses
//! read into an [`ApiError`] that names the HTTP status when the body is not one.
//!
//! A proxy in front of the server, such as nginx, answers with its own HTML page when
//! the server is down (502, 503, 504) or a body is over its limit (413). Decoding that
//! page as JSON would only say "expected value at line 1 column 1", so such an answer
//! becomes an error that says what happened.

#[cfg(any(feature = "csr", test))]
use crate::error::{ApiError, ErrorCode, excerpt};

/// The client every server function in [`crate::api`] names with `client = ...`.
#[cfg(feature = "csr")]
pub struct ApiClient;

/// Without the pages, the server functions are never called over HTTP; the name
/// stays the one server_fn uses by default.
#[cfg(not(feature = "csr"))]
pub type ApiClient = server_fn::client::browser::BrowserClient;

#[cfg(feature = "csr")]
mod browser {
    use std::future::Future;

    use server_fn::Bytes;
    use server_fn::client::Client;
    use server_fn::client::browser::BrowserClient;
    use server_fn::response::ClientRes;

    use super::{ApiClient, failed_response};
    use crate::error::ApiError;

    impl Client<ApiError> for ApiClient {
        type Request = <BrowserClient as Client<ApiError>>::Request;
        type Response = <BrowserClient as Client<ApiError>>::Response;

        async fn send(req: Self::Request) -> Result<Self::Response, ApiError> {
            let response = <BrowserClient as Client<ApiError>>::send(req).await?;
            let status = ClientRes::<ApiError>::status(&response);
            if !(400..=599).contains(&status) {
                return Ok(response);
            }
            let body = ClientRes::<ApiError>::try_into_bytes(response).await?;
            Err(failed_response(status, &body))
        }

        fn open_websocket(
            path: &str,
        ) -> impl Future<
            Output = Result<
                (
                    impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                    impl futures::Sink<Bytes> + Send + 'static,
                ),
                ApiError,
            >,
        > + Send {
            <BrowserClient as Client<ApiError>>::open_websocket(path)
        }

        fn spawn(future: impl Future<Output = ()> + Send + 'static) {
            <BrowserClient as Client<ApiError>>::spawn(future)
        }
    }
}

#[cfg(any(feature = "csr", test))]
/// Reads the body of a response with status `status` (400 to 599): the server's own
/// JSON [`ApiError`], or else an error named by the status.
pub(crate) fn failed_response(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(error) => error,
        Err(err) => unreadable_answer(status, &err.to_string()),
    }
}

#[cfg(any(feature = "csr", test))]
/// Builds the error for a failed response whose body is not the server's JSON: what a proxy
/// sends in the server's place. `detail` is why the body did not decode.
pub(crate) fn unreadable_answer(status: u16, detail: &str) -> ApiError {
    match status {
        502..=504 => ApiError::new(
            ErrorCode::BadResponse,
            format!("the server is unavailable (HTTP {status}); try again in a moment"),
        ),
        413 => ApiError::new(
            ErrorCode::TooLarge,
            "the request was too large for the server (HTTP 413)",
        ),
        _ => ApiError::new(
            ErrorCode::BadResponse,
            format!(
                "unreadable answer from the server (HTTP {status}): {}",
                excerpt(detail)
            ),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
        <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

    #[test]
    fn proxy_page_for_a_server_that_is_down_says_unavailable() {
        for status in [502, 503, 504] {
            let error = failed_response(status, NGINX_502.as_bytes());
            assert_eq!(error.code, ErrorCode::BadResponse);
            assert_eq!(
                error.message,
                format!("the server is unavailable (HTTP {status}); try again in a moment")
            );
        }
    }

    #[test]
    fn proxy_page_for_a_body_over_its_limit_says_too_large() {
        let page = "<html><head><title>413 Request Entity Too Large</title></head></html>";
        let error = failed_response(413, page.as_bytes());
        assert_eq!(error.code, ErrorCode::TooLarge);
        assert_eq!(
            error.message,
            "the request was too large for the server (HTTP 413)"
        );
    }

    #[test]
    fn json_error_of_the_server_is_kept_whatever_the_status() {
        let sent = ApiError::new(ErrorCode::QuotaExceeded, "over the quota of 100 GiB");
        let body = serde_json::to_vec(&sent).unwrap();
        assert_eq!(failed_response(413, &body), sent);
        let sent = ApiError::internal();
        let body = serde_json::to_vec(&sent).unwrap();
        assert_eq!(failed_response(503, &body), sent);
    }

    #[test]
    fn other_unreadable_answers_name_the_status() {
        let error = failed_response(500, b"<html>oops</html>");
        assert_eq!(error.code, ErrorCode::BadResponse);
        assert!(
            error
                .message
                .starts_with("unreadable answer from the server (HTTP 500): "),
            "{}",
            error.message
        );
    }

    /// Each server function must name [`ApiClient`], or its failures are decoded
    /// without the status.
    #[test]
    fn every_server_function_uses_the_api_client() {
        let source = include_str!("api.rs");
        let functions = source.matches("#[server(").count();
        let with_client = source.matches("client = crate::client::ApiClient").count();
        assert!(functions > 0);
        assert_eq!(
            with_client, functions,
            "{functions} server functions, {with_client} with client = crate::client::ApiClient"
        );
    }
}

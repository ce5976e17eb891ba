//! The error type of the page's own operations; each `Display` is a message for people.

use dtc_crypto::CryptoError;
use wasm_bindgen::{JsCast, JsValue};

use crate::api::{ApiError, ErrorCode};

/// The message for a request that never reached the server. The browser's own
/// detail, such as "TypeError: Failed to fetch", goes to the console instead.
const SERVER_UNREACHABLE: &str =
    "the server could not be reached; check your connection and try again";

#[derive(Clone, Debug, thiserror::Error)]
pub enum UiError {
    /// The server rejected the request or could not be reached.
    #[error("{}", api_message(.0))]
    Api(ApiError),
    /// An input failed a check before anything was sent or derived.
    #[error("{0}")]
    Invalid(String),
    /// A crypto operation on the page failed.
    #[error("{operation} failed: {source}")]
    Crypto {
        operation: &'static str,
        source: CryptoError,
    },
    /// An operation inside the encryption worker failed; the message is its error.
    #[error("{operation} failed: {message}")]
    WorkerOperation {
        operation: &'static str,
        message: String,
    },
    /// The encryption worker could not be started or reached.
    #[error("the encryption worker is not available: {0}; reload the page and try again")]
    WorkerUnavailable(String),
    /// A sign-out cancelled the login, unlock or registration; nothing needs showing.
    #[error("cancelled by logging out")]
    Cancelled,
    /// The person pressed Cancel during a transfer.
    #[error("cancelled")]
    Stopped,
    /// A browser API failed.
    #[error("{operation} failed: {detail}")]
    Browser {
        operation: &'static str,
        detail: String,
    },
}

impl From<ApiError> for UiError {
    fn from(error: ApiError) -> Self {
        if error.code == ErrorCode::Network {
            leptos::logging::warn!("request failed: {}", error.message);
        }
        UiError::Api(error)
    }
}

fn api_message(error: &ApiError) -> &str {
    match error.code {
        ErrorCode::Network => SERVER_UNREACHABLE,
        _ => &error.message,
    }
}

impl UiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        UiError::Invalid(message.into())
    }

    /// Wraps a crypto error with the name of the operation that raised it.
    pub fn crypto(operation: &'static str) -> impl FnOnce(CryptoError) -> UiError {
        move |source| UiError::Crypto { operation, source }
    }

    /// Wraps a rejected browser call with the name of the operation.
    pub fn browser(operation: &'static str) -> impl FnOnce(JsValue) -> UiError {
        move |value| UiError::Browser {
            operation,
            detail: js_detail(&value),
        }
    }
}

/// Returns the message of a JavaScript error value, or the text of any other value.
pub fn js_detail(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_error_hides_browser_detail() {
        let error = UiError::from(ApiError::new(
            ErrorCode::Network,
            "the server could not be reached: TypeError: Failed to fetch",
        ));
        let message = error.to_string();
        assert_eq!(message, SERVER_UNREACHABLE);
        assert!(!message.contains("TypeError"), "message {message:?}");
    }

    #[test]
    fn other_api_errors_keep_their_message() {
        let error = UiError::from(ApiError::not_found("file 00ff not found"));
        assert_eq!(error.to_string(), "file 00ff not found");
    }
}

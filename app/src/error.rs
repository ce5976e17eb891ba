//! The one error type every API function returns, on both sides of the wire.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// A stable machine-readable error code; the server maps each to one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A field failed validation; the message names it.
    InvalidInput,
    /// Wrong password or unknown username (deliberately the same code).
    InvalidCredentials,
    UsernameTaken,
    NotSignedIn,
    /// The file, upload, part or account does not exist for the caller.
    NotFound,
    /// A size exceeds a configured or declared limit.
    TooLarge,
    /// The request conflicts with the current state (for example, an upload already finished).
    Conflict,
    /// Too many attempts. [`ApiError::retry_after_secs`] gives the wait before the next one.
    TooManyRequests,
    /// The request would bring the account's stored files past its quota of bytes or
    /// of files; the message names the sizes.
    QuotaExceeded,
    /// The server failed; the cause is in its log, not in the message.
    Internal,
    /// The request did not reach the server or the response did not arrive.
    Network,
    /// The response could not be read.
    BadResponse,
}

impl ErrorCode {
    /// Returns the HTTP status of the server's response for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidInput => 400,
            ErrorCode::InvalidCredentials | ErrorCode::NotSignedIn => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::UsernameTaken | ErrorCode::Conflict => 409,
            ErrorCode::TooLarge | ErrorCode::QuotaExceeded => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal | ErrorCode::BadResponse => 500,
            ErrorCode::Network => 502,
        }
    }
}

/// An error with its code and a message for people: what failed, on which value,
/// and what to do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds to wait before the next attempt, for [`ErrorCode::TooManyRequests`]. The
    /// server also sends it as the `Retry-After` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// Builds a 429 error with the number of seconds the client must wait.
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(ErrorCode::TooManyRequests, message)
        }
    }

    /// Builds the one error for a share link that expired, was used up, was revoked or
    /// never existed: all four get exactly this response.
    pub fn link_not_found() -> Self {
        Self::not_found(
            "this link does not work: it may have expired, been used up or been revoked, or it was copied incompletely; check that you have the whole link, or ask the sender for a new one",
        )
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "the server failed; try again later")
    }

    /// Builds the one error for both a wrong password and an unknown username.
    pub fn invalid_credentials() -> Self {
        Self::new(
            ErrorCode::InvalidCredentials,
            "invalid username or password",
        )
    }

    pub fn not_signed_in() -> Self {
        Self::new(
            ErrorCode::NotSignedIn,
            "not signed in; log in and try again",
        )
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                Self::invalid_input(format!("invalid request body: {}", excerpt(&detail)))
            }
            ServerFnErrorErr::Request(detail) => Self::new(
                ErrorCode::Network,
                format!(
                    "the server could not be reached: {}; check the connection and try again",
                    excerpt(&detail)
                ),
            ),
            // On the server, deserialization only ever reads the request body.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(detail) => {
                Self::invalid_input(format!("invalid request body: {}", excerpt(&detail)))
            }
            #[cfg(not(feature = "ssr"))]
            ServerFnErrorErr::Deserialization(detail) => Self::new(
                ErrorCode::BadResponse,
                format!("unreadable answer from the server: {}", excerpt(&detail)),
            ),
            ServerFnErrorErr::Response(detail) => Self::new(
                ErrorCode::BadResponse,
                format!("unreadable answer from the server: {}", excerpt(&detail)),
            ),
            _ => Self::internal(),
        }
    }
}

/// Maximum length of an input value quoted in an error message, in characters.
const MAX_EXCERPT_CHARS: usize = 160;

/// Shortens a value quoted in an error message, so that a huge input is never
/// echoed back whole.
pub(crate) fn excerpt(value: &str) -> String {
    if value.chars().count() <= MAX_EXCERPT_CHARS {
        return value.to_owned();
    }
    let head: String = value.chars().take(MAX_EXCERPT_CHARS).collect();
    format!("{head}… ({} characters in all)", value.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_short_values() {
        assert_eq!(excerpt("alice"), "alice");
    }

    #[test]
    fn excerpt_cuts_long_values() {
        let cut = excerpt(&"x".repeat(70_000));
        assert!(cut.chars().count() < 200, "excerpt {cut:?}");
        assert!(cut.ends_with("(70000 characters in all)"));
    }
}

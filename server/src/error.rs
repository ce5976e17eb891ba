//! The mapping from failures to `ApiError` responses: one place decides the status,
//! the message and the log line.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dtc_app::api::{ApiError, ErrorCode};

use crate::store::{FileId, StoreError};

/// Returns the HTTP status of an error code, or 500 for a code out of the HTTP range.
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Logs an error response once, inside the request span that carries the ids. Internal
/// errors are logged where they happen, with their cause, so they are skipped here.
pub fn log_rejection(error: &ApiError) {
    if error.code != ErrorCode::Internal {
        let code = serde_json::to_value(error.code).ok();
        let code = code
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .unwrap_or("unknown");
        tracing::info!(code, status = error.code.http_status(), "request rejected");
    }
}

/// An `ApiError` as a JSON response with the status of its code.
#[derive(Debug)]
pub struct ApiFailure(pub ApiError);

impl From<ApiError> for ApiFailure {
    fn from(error: ApiError) -> Self {
        ApiFailure(error)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        log_rejection(&self.0);
        let retry_after = self.0.retry_after_secs;
        let mut response = (status_of(self.0.code), Json(self.0)).into_response();
        if let Some(secs) = retry_after {
            set_retry_after(response.headers_mut(), secs);
        }
        response
    }
}

/// Sets the `Retry-After` header to a number of seconds.
pub fn set_retry_after(headers: &mut axum::http::HeaderMap, secs: u64) {
    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
}

/// Builds the error for a file that does not exist or that the caller may not see.
/// Both get one message, so that a response never tells them apart.
pub fn file_not_found(id: FileId) -> ApiError {
    ApiError::not_found(format!("file {id} not found"))
}

/// Logs a server fault with its cause and returns the generic internal error.
pub fn internal(operation: &'static str, cause: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(operation, error = %cause, "server failure");
    ApiError::internal()
}

/// Maps a store failure to its API error and logs server faults with their cause.
pub fn from_store(operation: &'static str, err: StoreError) -> ApiError {
    match err {
        StoreError::UsernameTaken(name) => ApiError::new(
            ErrorCode::UsernameTaken,
            format!("username {name:?} is taken; choose another"),
        ),
        StoreError::FileNotFound(id) => file_not_found(id),
        StoreError::AlreadyFinished(id) => ApiError::new(
            ErrorCode::Conflict,
            format!("upload {id} is already finished; its parts can no longer change"),
        ),
        StoreError::MissingPart { file, index } => ApiError::new(
            ErrorCode::Conflict,
            format!("upload {file} is missing part {index}; upload it, then finish again"),
        ),
        StoreError::LinkDead
        | StoreError::WrongLinkKey {
            has_password: false,
        } => ApiError::link_not_found(),
        StoreError::WrongLinkKey { has_password: true } => ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong password for this link; check the password and try again",
        ),
        StoreError::LinkThrottled { retry_after_secs } => ApiError::too_many_requests(
            format!(
                "too many wrong attempts for this link; wait {retry_after_secs} s, then try again"
            ),
            retry_after_secs,
        ),
        StoreError::LinkNotFound(id) => ApiError::not_found(format!("link {id} not found")),
        StoreError::LinkIdTaken(id) => ApiError::new(
            ErrorCode::Conflict,
            format!("link id {id} is taken; make the link again with a new random id"),
        ),
        StoreError::FileNotComplete(id) => ApiError::new(
            ErrorCode::Conflict,
            format!("file {id} is still uploading; finish the upload, then make the link"),
        ),
        StoreError::TooManyLinks(id) => ApiError::new(
            ErrorCode::Conflict,
            format!(
                "file {id} already has {} links; revoke one, then make the link",
                crate::store::MAX_LINKS_PER_FILE
            ),
        ),
        StoreError::NotReserved => ApiError::new(
            ErrorCode::Conflict,
            "this download has not received its last part; download the whole file, then confirm",
        ),
        StoreError::LoginThrottled { retry_after_secs } => ApiError::too_many_requests(
            format!("too many failed sign-in attempts; wait {retry_after_secs} s, then try again"),
            retry_after_secs,
        ),
        StoreError::TooManyTickets { retry_after_secs } => ApiError::too_many_requests(
            format!(
                "this link has {} downloads open; try again in about {} minutes",
                crate::store::MAX_TICKETS_PER_LINK,
                retry_after_secs.div_ceil(60)
            ),
            retry_after_secs,
        ),
        StoreError::ReservationExpired => ApiError::new(
            ErrorCode::Conflict,
            format!(
                "the last part of this download was not received within {} minutes; open \
                 the link again to start a new download",
                crate::store::RESERVATION_LIFETIME.as_secs() / 60
            ),
        ),
        StoreError::LastPartStartsUsed => ApiError::new(
            ErrorCode::Conflict,
            format!(
                "the last part of this download was already sent {} times; open the link \
                 again to start a new download",
                crate::store::MAX_LAST_PART_STARTS
            ),
        ),
        StoreError::QuotaExceeded {
            used,
            quota,
            upload_bytes,
        } => {
            let usage = crate::backend::storage_usage(used, quota);
            match usage.check_upload(upload_bytes) {
                Err(error) => error,
                // The store and the page's check disagree only if the quota changed.
                Ok(()) => internal(operation, &"quota check disagrees with the store"),
            }
        }
        other => internal(operation, &other),
    }
}

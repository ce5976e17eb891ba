//! Raw ciphertext parts over HTTP: `PUT` and `GET` on [`part_url`] and `GET` on
//! [`link_part_url`], retried a few
//! times when the network or the server fails, never when the server rejects.

use js_sys::{Array, ArrayBuffer, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, Headers, Request, RequestCredentials, RequestInit, Response};

use super::error::{UiError, js_detail};
use crate::api::{ApiError, ErrorCode, LINK_TICKET_HEADER, link_part_url, part_url};

/// Attempts per part, the first included.
const MAX_ATTEMPTS: u32 = 4;
/// Wait before the first retry; it doubles for each further retry.
const FIRST_RETRY_DELAY_MS: i32 = 500;

/// One failed attempt, and whether trying again can help.
struct AttemptError {
    error: UiError,
    retryable: bool,
}

/// Uploads one ciphertext part, given as its pieces in order.
pub async fn put_part(file_id: &str, index: u32, pieces: &Array) -> Result<(), UiError> {
    // One `Blob` of the pieces is the body of every attempt, so the pieces are never
    // joined into one array. It is built here and not in the part worker, because a
    // Blob built in the worker halved the upload speed in the benchmark. The likely
    // cause, not confirmed: the browser reads its bytes through the worker's busy
    // thread.
    let body = Blob::new_with_u8_array_sequence(pieces)
        .map_err(UiError::browser("wrapping the encrypted part for upload"))?;
    with_retries("upload", index, || async {
        let init = RequestInit::new();
        init.set_method("PUT");
        init.set_body(&body);
        let headers = Headers::new().map_err(fatal("create request headers"))?;
        headers
            .set("Content-Type", "application/octet-stream")
            .map_err(fatal("set the Content-Type header"))?;
        init.set_headers(&headers);
        fetch(&part_url(file_id, index), &init, index)
            .await
            .map(|_| ())
    })
    .await
}

/// Downloads one ciphertext part of a file sent to or by the signed-in account.
pub async fn get_part(file_id: &str, index: u32) -> Result<Uint8Array, UiError> {
    get_bytes(&part_url(file_id, index), None, index).await
}

/// Downloads one ciphertext part of the file behind a share link, with its ticket.
pub async fn get_link_part(link_id: &str, ticket: &str, index: u32) -> Result<Uint8Array, UiError> {
    get_bytes(&link_part_url(link_id, index), Some(ticket), index).await
}

async fn get_bytes(url: &str, ticket: Option<&str>, index: u32) -> Result<Uint8Array, UiError> {
    with_retries("download", index, || async {
        let init = RequestInit::new();
        init.set_method("GET");
        if let Some(ticket) = ticket {
            let headers = Headers::new().map_err(fatal("create request headers"))?;
            headers
                .set(LINK_TICKET_HEADER, ticket)
                .map_err(fatal("set the link ticket header"))?;
            init.set_headers(&headers);
        }
        let response = fetch(url, &init, index).await?;
        let body = response
            .array_buffer()
            .map_err(retryable("read the part"))?;
        let buffer = JsFuture::from(body)
            .await
            .map_err(retryable("read the part"))?;
        let buffer = buffer
            .dyn_into::<ArrayBuffer>()
            .map_err(retryable("read the part"))?;
        Ok(Uint8Array::new(&buffer))
    })
    .await
}

async fn with_retries<T, F, Fut>(direction: &str, index: u32, mut attempt: F) -> Result<T, UiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let mut delay_ms = FIRST_RETRY_DELAY_MS;
    let mut attempt_number = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(failed) if failed.retryable && attempt_number < MAX_ATTEMPTS => {
                leptos::logging::warn!(
                    "{direction} of part {index} failed (attempt {attempt_number} of {MAX_ATTEMPTS}), retrying in {delay_ms} ms: {}",
                    failed.error
                );
                sleep(delay_ms).await;
                delay_ms *= 2;
                attempt_number += 1;
            }
            Err(failed) => return Err(failed.error),
        }
    }
}

/// Sends one request with the session cookie and returns a successful response.
async fn fetch(url: &str, init: &RequestInit, index: u32) -> Result<Response, AttemptError> {
    init.set_credentials(RequestCredentials::SameOrigin);
    let request = Request::new_with_str_and_init(url, init).map_err(fatal("create the request"))?;
    let window = web_sys::window().ok_or_else(|| AttemptError {
        error: UiError::invalid("no browser window to send the request from"),
        retryable: false,
    })?;
    let response = JsFuture::from(window.fetch_with_request(&request)).await.map_err(|err| {
        AttemptError {
            error: UiError::from(ApiError::new(
                ErrorCode::Network,
                format!(
                    "part {index}: the server could not be reached ({}); check the connection and try again",
                    js_detail(&err)
                ),
            )),
            retryable: true,
        }
    })?;
    let response = response
        .dyn_into::<Response>()
        .map_err(fatal("read the response"))?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let error = response_error(&response, index).await;
    Err(AttemptError {
        error: UiError::Api(error),
        retryable: is_transient(status),
    })
}

/// Reads the server's `ApiError` from a failed response, or makes one naming the status.
async fn response_error(response: &Response, index: u32) -> ApiError {
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|text| text.as_string()),
        Err(_) => None,
    };
    let status = response.status();
    text.and_then(|text| serde_json::from_str::<ApiError>(&text).ok())
        .unwrap_or_else(|| {
            ApiError::new(
                ErrorCode::BadResponse,
                format!("part {index}: the server answered HTTP {status}; try again later"),
            )
        })
}

/// Statuses after which the same request may succeed: timeouts, rate limits and
/// server failures.
fn is_transient(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

fn fatal(operation: &'static str) -> impl FnOnce(JsValue) -> AttemptError {
    move |value| AttemptError {
        error: UiError::browser(operation)(value),
        retryable: false,
    }
}

fn retryable(operation: &'static str) -> impl FnOnce(JsValue) -> AttemptError {
    move |value| AttemptError {
        error: UiError::browser(operation)(value),
        retryable: true,
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _reject| {
        let scheduled = web_sys::window().map(|window| {
            window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
        });
        // Without a timer the wait ends at once rather than never.
        if !matches!(scheduled, Some(Ok(_))) {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

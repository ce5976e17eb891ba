//! The plain routes for raw ciphertext parts: `PUT` and `GET /api/files/{file_id}/parts/{index}`.

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use dtc_app::api::{ApiError, ErrorCode};
use dtc_crypto::chunked::HEADER_LEN;
use dtc_crypto::layout::{PART_CIPHERTEXT_LEN, PartLayout};
use http_body_util::BodyExt;
use tower_sessions::Session;

use crate::AppState;
use crate::backend::{parse_file_id, record_file, require_in};
use crate::client::client_ip;
use crate::error::{ApiFailure, file_not_found, from_store, internal};
use crate::store::{FileId, FileRecord, FileState};

/// Largest part ciphertext: part 0 of a multi-part file, with the header in front of
/// 256 full chunks (56 + 4198400 bytes).
pub const MAX_PART_LEN: u64 = HEADER_LEN + PART_CIPHERTEXT_LEN;

type PartPath = Result<Path<(String, String)>, PathRejection>;

/// Stores one part of the caller's pending upload; the body must be exactly the part's
/// length in the file's layout. Sending an index again replaces the part. The body is
/// read only in one of the client address's turns (see [`crate::part_bodies`]).
pub async fn put_part(
    State(state): State<AppState>,
    session: Session,
    path: PartPath,
    request: Request,
) -> Result<StatusCode, ApiFailure> {
    let owner = require_in(&session).await?;
    let (id, index) = parse_path(path)?;
    let file = find_file(&state, id).await?;
    let file = file
        .filter(|file| file.owner == owner.id)
        .ok_or_else(|| file_not_found(id))?;
    if file.state == FileState::Complete {
        return Err(from_store("put part", crate::store::StoreError::AlreadyFinished(id)).into());
    }
    let expected = expected_part_len(&file, index)?;
    check_content_length(request.headers(), index, expected)?;
    let address = client_ip(request.headers(), request.extensions(), &state.settings)?;

    let _turn = state.part_bodies.turn(address).await;
    let bytes = read_exact(request.into_body(), index, expected).await?;
    state
        .store
        .put_part(owner.id, id, index, bytes)
        .await
        .map_err(|err| from_store("put part", err))?;
    tracing::info!(bytes = expected, "part stored");
    Ok(StatusCode::NO_CONTENT)
}

/// Returns one part of a complete, unexpired file to its sender or its recipient, or a
/// stored part of a pending upload to its sender, so that a resumed upload can check
/// the file picked again against it. Any other caller, and an expired file, gets the
/// response of a missing file.
pub async fn get_part(
    State(state): State<AppState>,
    session: Session,
    path: PartPath,
) -> Result<Response, ApiFailure> {
    let account = require_in(&session).await?;
    let (id, index) = parse_path(path)?;
    let file = find_file(&state, id).await?;
    let visible = |file: &FileRecord| match file.state {
        FileState::Complete => {
            (file.owner == account.id || file.recipient == account.id)
                && !state.store.is_expired(file)
        }
        FileState::Pending => file.owner == account.id,
    };
    let file = file.filter(visible).ok_or_else(|| file_not_found(id))?;
    check_index(&file, index)?;

    let part = state
        .store
        .read_part(id, index)
        .await
        .map_err(|err| from_store("read part", err))?;
    let part = match (part, file.state) {
        (Some(part), _) => part,
        (None, FileState::Pending) => return Err(part_not_stored(id, index).into()),
        (None, FileState::Complete) => return Err(file_not_found(id).into()),
    };
    tracing::info!(bytes = part.len(), "part served");
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ),
    ];
    Ok((headers, part).into_response())
}

/// Builds the error for a part that the owner of a pending upload has not sent yet.
fn part_not_stored(id: FileId, index: u32) -> ApiError {
    ApiError::not_found(format!(
        "part {index} of upload {id} is not stored yet; upload it first"
    ))
}

async fn find_file(state: &AppState, id: FileId) -> Result<Option<FileRecord>, ApiError> {
    let found = state.store.find_file(id).await;
    found.map_err(|err| from_store("find file", err))
}

fn parse_path(path: PartPath) -> Result<(FileId, u32), ApiError> {
    let Path((file_id, index)) = path.map_err(|err| ApiError::invalid_input(err.body_text()))?;
    let id = parse_file_id(&file_id)?;
    record_file(id);
    Ok((id, parse_index(&index)?))
}

/// Parses a part index from a request path and records it in the request span.
pub(crate) fn parse_index(text: &str) -> Result<u32, ApiError> {
    let index = parse_part_index(text).ok_or_else(|| {
        ApiError::invalid_input(format!(
            "invalid part index {text:?}; expected a whole number from 0, in plain decimal"
        ))
    })?;
    crate::request_span::record("part", index);
    Ok(index)
}

/// Parses a part index in its one canonical form, so that `+1` and `01` are not
/// other names for part 1.
fn parse_part_index(text: &str) -> Option<u32> {
    let canonical = text == "0"
        || (!text.is_empty()
            && !text.starts_with('0')
            && text.bytes().all(|byte| byte.is_ascii_digit()));
    if canonical { text.parse().ok() } else { None }
}

pub(crate) fn check_index(file: &FileRecord, index: u32) -> Result<(), ApiError> {
    if index < file.part_count {
        return Ok(());
    }
    Err(ApiError::invalid_input(format!(
        "part index {index} is out of range for a file of {} parts; use 0 to {}",
        file.part_count,
        file.part_count.saturating_sub(1)
    )))
}

/// Computes the ciphertext length of part `index` in the file's layout.
fn expected_part_len(file: &FileRecord, index: u32) -> Result<u64, ApiError> {
    check_index(file, index)?;
    PartLayout::from_ciphertext_len(file.ciphertext_len)
        .and_then(|layout| layout.part_ciphertext_len(index))
        .map_err(|err| internal("part layout of a stored file", &err))
}

/// Rejects a declared body length other than `expected` before any byte is read.
fn check_content_length(headers: &HeaderMap, index: u32, expected: u64) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(());
    };
    let declared = value
        .to_str()
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| ApiError::invalid_input("invalid Content-Length header"))?;
    if declared == expected {
        return Ok(());
    }
    Err(wrong_length(index, declared, expected))
}

/// Reads a body of exactly `expected` bytes, stopping as soon as it grows past that.
async fn read_exact(body: Body, index: u32, expected: u64) -> Result<Bytes, ApiError> {
    let limit = usize::try_from(expected).unwrap_or(usize::MAX);
    // Each frame goes straight into one buffer of the part's length, so a part is held
    // once, not as its frames and again as their concatenation.
    let mut buffer = BytesMut::with_capacity(limit);
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            ApiError::invalid_input(format!("failed to read the body of part {index}: {err}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buffer.len() + data.len() > limit {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!(
                    "part {index} is longer than its {expected} bytes; send exactly {expected}"
                ),
            ));
        }
        buffer.extend_from_slice(&data);
    }
    let received = buffer.len() as u64;
    if received != expected {
        return Err(wrong_length(index, received, expected));
    }
    Ok(buffer.freeze())
}

fn wrong_length(index: u32, actual: u64, expected: u64) -> ApiError {
    let code = if actual > expected {
        ErrorCode::TooLarge
    } else {
        ErrorCode::InvalidInput
    };
    ApiError::new(
        code,
        format!("part {index} has {actual} bytes; expected exactly {expected}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_part_len_matches_layout() {
        let layout = PartLayout::for_plaintext_len(3 * 256 * 16384).unwrap();
        assert_eq!(layout.part_ciphertext_len(0).unwrap(), MAX_PART_LEN);
        assert_eq!(MAX_PART_LEN, 4_198_456);
    }

    #[test]
    fn part_index_accepts_canonical_decimal() {
        assert_eq!(parse_part_index("0"), Some(0));
        assert_eq!(parse_part_index("1"), Some(1));
        assert_eq!(parse_part_index("4294967295"), Some(u32::MAX));
    }

    #[test]
    fn part_index_rejects_other_spellings() {
        for text in [
            "",
            "+1",
            "01",
            "00",
            "-1",
            " 1",
            "1 ",
            "0x1",
            "4294967296",
            "١",
        ] {
            assert_eq!(parse_part_index(text), None, "index {text:?}");
        }
    }
}

//! Resuming an upload of which the server stores some parts, after a dropped connection, a server
//! restart or a page reload.
//!
//! At the start of every send the page stores the file key sealed to the sender's own
//! public key with the pending upload. To resume, the page opens that key, decrypts
//! the file's name and details, and requests that the person choose the same file again.
//! The chosen file must have the same name, size and modification time, and its first
//! part must decrypt from the server's stored part 0 to the same bytes: only then are
//! the missing parts encrypted (under the salt in part 0's header) and sent. A
//! different file would otherwise be encrypted under nonces already used.

use std::rc::Rc;

use dtc_crypto::chunked::{HEADER_LEN, SALT_LEN};
use dtc_crypto::exchange::{SealedFileKey, open_file_key};
use dtc_crypto::file::{ContentsEncryptor, FileKey, decrypt_metadata};
use dtc_crypto::layout::PartLayout;
use dtc_crypto::metadata::FileMetadata;
use js_sys::Uint8Array;
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

use super::error::UiError;
use super::file_name::display_name;
use super::format::{parse_file_id, size_with_bytes};
use super::session::Keys;
use super::transport::get_part;
use super::upload::{
    CancelFlag, Destination, PartUpload, SentFile, file_size, finish, look_up_recipient,
};
use super::worker::part_workers;
use crate::api::{PartRange, PendingUpload, pending_uploads, upload_status};

/// An unfinished upload of this account, opened with the account's keys.
#[derive(Clone)]
pub struct InterruptedUpload {
    pub file_id: String,
    /// The recipient's username.
    pub recipient: String,
    pub metadata: FileMetadata,
    pub part_count: u32,
    /// How many parts the server stores.
    pub stored_parts: u32,
    /// Milliseconds since the Unix epoch (UTC) after which the server deletes it.
    pub expires_at_ms: i64,
    key: Rc<FileKey>,
    layout: PartLayout,
}

impl InterruptedUpload {
    /// Returns the name as the page shows it.
    pub fn display_name(&self) -> String {
        display_name(&self.metadata.name)
    }
}

/// Lists the account's unfinished uploads that can resume, newest first. An upload
/// whose key or details do not open is left out, with a warning in the console.
pub async fn interrupted_uploads(keys: &Keys) -> Result<Vec<InterruptedUpload>, UiError> {
    let pending = pending_uploads().await?;
    Ok(pending
        .into_iter()
        .filter_map(|upload| {
            let file_id = upload.file_id.clone();
            open_pending(keys, upload)
                .inspect_err(|error| {
                    leptos::logging::warn!("unfinished upload {file_id} cannot resume: {error}");
                })
                .ok()
        })
        .collect())
}

fn open_pending(keys: &Keys, upload: PendingUpload) -> Result<InterruptedUpload, UiError> {
    let file_id = parse_file_id(&upload.file_id)?;
    let sealed = SealedFileKey::from_parts(upload.enc.as_slice(), upload.sealed_key.as_slice())
        .map_err(UiError::crypto("reading the upload's key"))?;
    // The sender sealed the key to itself, so its own public key authenticates it.
    let key = open_file_key(&keys.identity, &keys.public_key, &file_id, &sealed)
        .map_err(UiError::crypto("opening the upload's key"))?;
    let metadata = decrypt_metadata(&key, upload.metadata.as_slice())
        .map_err(UiError::crypto("decrypting the file's name and details"))?;
    let layout = PartLayout::from_ciphertext_len(upload.ciphertext_len)
        .map_err(UiError::crypto("laying out the file"))?;
    if layout.part_count() != upload.part_count || layout.plaintext_len() != metadata.size {
        return Err(UiError::invalid(format!(
            "the server lists {} parts of {} bytes for a file of {} bytes",
            upload.part_count, upload.ciphertext_len, metadata.size
        )));
    }
    Ok(InterruptedUpload {
        file_id: upload.file_id,
        recipient: upload.recipient,
        metadata,
        part_count: upload.part_count,
        stored_parts: stored_count(&upload.stored_parts),
        expires_at_ms: upload.expires_at_ms,
        key: Rc::new(key),
        layout,
    })
}

/// Finishes `upload` with `file`, which must be the file it started with: sends the
/// parts the server does not have, then seals the file key to the recipient and the
/// sender. `on_progress` receives the plaintext bytes stored so far, counting the
/// parts stored before.
pub async fn resume_upload(
    keys: &Keys,
    upload: &InterruptedUpload,
    file: &File,
    cancel: &CancelFlag,
    on_progress: impl Fn(u64),
    on_wait: impl Fn(Option<u32>),
) -> Result<SentFile, UiError> {
    check_same_file(upload, file)?;
    let recipient = look_up_recipient(&upload.recipient).await?;
    let status = upload_status(upload.file_id.clone()).await?;
    let missing = missing_parts(&status.stored_parts, upload.part_count);

    // Part 0 carries the salt. Without it every part goes again under a fresh salt,
    // replacing whatever parts the server stores.
    let salt = if missing.first() == Some(&0) {
        ContentsEncryptor::random_salt()
    } else {
        check_first_part(upload, file).await?
    };
    let parts = PartUpload {
        workers: part_workers()?,
        file,
        destination: Destination::Server(&upload.file_id),
        key: &upload.key,
        salt,
        layout: upload.layout,
        cancel,
    };
    let already_stored = parts.stored_bytes(&missing)?;
    on_progress(already_stored);
    parts
        .send_or_discard(
            &upload.file_id,
            missing,
            already_stored,
            &on_progress,
            &on_wait,
        )
        .await?;
    let file_id = parse_file_id(&upload.file_id)?;
    finish(keys, &recipient, &upload.file_id, &file_id, &upload.key).await?;
    let key = FileKey::from_bytes(upload.key.expose_secret_bytes())
        .map_err(UiError::crypto("copying the file key"))?;
    Ok(SentFile {
        file_id: upload.file_id.clone(),
        key,
    })
}

/// Rejects a file whose name, size or modification time differ from the upload's.
fn check_same_file(upload: &InterruptedUpload, file: &File) -> Result<(), UiError> {
    let expected = &upload.metadata;
    let name = file.name();
    let size = file_size(file);
    let modified_ms = file.last_modified() as i64;
    // A file sent from a folder has its path as name; the file chosen again has only
    // the last part of it.
    let expected_name = expected.name.rsplit('/').next().unwrap_or(&expected.name);
    if name != expected_name || size != expected.size || modified_ms != expected.modified_ms {
        return Err(UiError::invalid(format!(
            "{:?} ({}) is not the file whose upload was interrupted; choose {:?} ({}) as it \
             was when the upload started, or discard the unfinished upload and send again",
            name,
            size_with_bytes(size),
            expected_name,
            size_with_bytes(expected.size)
        )));
    }
    Ok(())
}

/// Fetches the stored part 0, decrypts it and compares it with the start of `file`;
/// returns the salt from its header.
async fn check_first_part(
    upload: &InterruptedUpload,
    file: &File,
) -> Result<[u8; SALT_LEN], UiError> {
    let ciphertext = get_part(&upload.file_id, 0).await?;
    let header_len = HEADER_LEN as u32;
    if ciphertext.length() < header_len {
        return Err(UiError::invalid(format!(
            "the server's part 0 of upload {} is {} bytes, too short for a header; discard \
             the unfinished upload and send again",
            upload.file_id,
            ciphertext.length()
        )));
    }
    let header = ciphertext.subarray(0, header_len).to_vec();
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&header[..SALT_LEN]);
    let stored_plaintext = part_workers()?
        .decrypt_part(
            upload.key.expose_secret_bytes(),
            &header,
            upload.layout.ciphertext_len(),
            0,
            ciphertext,
        )
        .await
        .map_err(|error| {
            UiError::invalid(format!(
                "the server's part 0 of upload {} does not decrypt ({error}); discard the \
                 unfinished upload and send again",
                upload.file_id
            ))
        })?;
    let range = upload
        .layout
        .part_plaintext_range(0)
        .map_err(UiError::crypto("cutting the file into parts"))?;
    let blob = file
        .slice_with_f64_and_f64(range.start as f64, range.end as f64)
        .map_err(UiError::browser("reading the file"))?;
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(UiError::browser("reading the file"))?;
    let chosen = Uint8Array::new(&buffer);
    if chosen.to_vec() != stored_plaintext.to_vec() {
        return Err(UiError::invalid(format!(
            "{:?} has different contents from the file whose upload was interrupted, though \
             its name, size and date match; discard the unfinished upload and send the file \
             again",
            file.name()
        )));
    }
    Ok(salt)
}

/// Returns the stored part indices below `part_count`, ascending.
fn stored_indices(runs: &[PartRange], part_count: u32) -> Vec<u32> {
    let mut indices: Vec<u32> = runs
        .iter()
        .flat_map(|run| run.start..run.end.min(part_count))
        .collect();
    indices.sort_unstable();
    indices.dedup();
    indices
}

/// Returns the part indices an upload still has to send, ascending: those not in
/// `runs`, or all of them when part 0, which carries the salt, is not stored.
pub(super) fn missing_parts(runs: &[PartRange], part_count: u32) -> Vec<u32> {
    let stored = stored_indices(runs, part_count);
    if stored.first() != Some(&0) {
        return (0..part_count).collect();
    }
    (0..part_count)
        .filter(|index| stored.binary_search(index).is_err())
        .collect()
}

fn stored_count(runs: &[PartRange]) -> u32 {
    runs.iter()
        .map(|run| run.end.saturating_sub(run.start))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(start: u32, end: u32) -> PartRange {
        PartRange { start, end }
    }

    #[test]
    fn stored_runs_become_indices() {
        assert_eq!(stored_indices(&[run(0, 2), run(3, 4)], 5), vec![0, 1, 3]);
        assert_eq!(stored_indices(&[], 5), Vec::<u32>::new());
        // Runs past the part count and overlapping runs from a confused server.
        assert_eq!(
            stored_indices(&[run(3, 9), run(0, 4)], 5),
            vec![0, 1, 2, 3, 4]
        );
        assert_eq!(stored_count(&[run(0, 2), run(3, 4)]), 3);
    }

    #[test]
    fn missing_parts_need_part_zero() {
        assert_eq!(missing_parts(&[run(0, 2), run(3, 4)], 5), vec![2, 4]);
        assert_eq!(missing_parts(&[run(1, 5)], 5), vec![0, 1, 2, 3, 4]);
        assert_eq!(missing_parts(&[run(0, 5)], 5), Vec::<u32>::new());
        assert_eq!(missing_parts(&[], 3), vec![0, 1, 2]);
    }
}

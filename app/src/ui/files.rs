//! Opening a file entry from the inbox or the sent list: the HPKE record gives the
//! file key, and the file key opens the metadata.

use dtc_crypto::exchange::{SealedFileKey, open_file_key};
use dtc_crypto::file::{FileKey, decrypt_metadata};
use dtc_crypto::identity::PublicKey;
use dtc_crypto::metadata::FileMetadata;

use super::error::UiError;
use super::format::parse_file_id;
use super::session::Keys;
use crate::api::{self, FileEntry};

/// A file whose key and metadata opened with the account's identity key.
pub struct OpenedFile {
    pub key: FileKey,
    pub metadata: FileMetadata,
}

/// The kind of list an entry comes from, which fixes the public key that
/// authenticates its key-exchange record.
#[derive(Clone, Copy)]
pub enum Direction {
    /// A received file: the sender's public key comes with the entry.
    Received,
    /// A sent file: the record was sealed by this account to itself.
    Sent,
}

pub fn open_entry(
    keys: &Keys,
    entry: &FileEntry,
    direction: Direction,
) -> Result<OpenedFile, UiError> {
    let sender = match direction {
        Direction::Received => PublicKey::from_sec1(entry.sender_public_key.as_slice())
            .map_err(UiError::crypto("reading the sender's public key"))?,
        Direction::Sent => keys.public_key.clone(),
    };
    let file_id = parse_file_id(&entry.file_id)?;
    let sealed = SealedFileKey::from_parts(
        entry.record.enc.as_slice(),
        entry.record.sealed_key.as_slice(),
    )
    .map_err(UiError::crypto("reading the key-exchange record"))?;
    let key = open_file_key(&keys.identity, &sender, &file_id, &sealed)
        .map_err(UiError::crypto("opening the file key"))?;
    let metadata = decrypt_metadata(&key, entry.metadata.as_slice())
        .map_err(UiError::crypto("decrypting the file's name and details"))?;
    Ok(OpenedFile { key, metadata })
}

/// Returns the sender's fingerprint as people read it, or `None` for an invalid key.
pub fn sender_fingerprint(entry: &FileEntry) -> Option<String> {
    PublicKey::from_sec1(entry.sender_public_key.as_slice())
        .ok()
        .map(|key| key.fingerprint().to_string())
}

/// One entry of the inbox or the sent list with the result of opening it. An entry
/// that fails to open keeps its error, so the rest of the list still shows.
pub struct FileRow {
    pub entry: FileEntry,
    pub opened: Result<OpenedFile, String>,
}

/// Fetches the inbox or the sent list and opens every entry with the account's keys.
pub async fn load_rows(keys: &Keys, direction: Direction) -> Result<Vec<FileRow>, UiError> {
    let mut entries = match direction {
        Direction::Received => api::inbox().await?,
        Direction::Sent => api::sent().await?,
    };
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.created_at_ms));
    let rows = entries
        .into_iter()
        .map(|entry| {
            let opened = open_entry(keys, &entry, direction).map_err(|err| err.to_string());
            FileRow { entry, opened }
        })
        .collect();
    Ok(rows)
}

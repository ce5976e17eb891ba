//! The deletion of expired files and abandoned uploads, in bounded batches.
//!
//! Each batch is one write transaction of at most [`SWEEP_BATCH`] files, so that a
//! large backlog never holds the write lock, or the pages of one huge transaction,
//! for long. A file's parts, key records, list rows, links and usage go with it in
//! the same transaction (see `remove_file`).

use redb::{ReadableDatabase, ReadableTable};

use super::files::{read_file, remove_file};
use super::ids::FileId;
use super::records::{self, FileRecord, FileState};
use super::tables::{COMPLETED, FILES, IdBytes};
use super::{Inner, Store, StoreError};

/// Maximum number of files one sweep transaction deletes.
pub const SWEEP_BATCH: usize = 64;

impl Store {
    /// Deletes every complete file past its expiry, oldest first, and returns their
    /// ids.
    pub async fn expire_files(&self) -> Result<Vec<FileId>, StoreError> {
        self.run(|inner| {
            let mut deleted = Vec::new();
            loop {
                let batch = expire_batch(inner)?;
                let done = batch.len() < SWEEP_BATCH;
                deleted.extend(batch);
                if done {
                    return Ok(deleted);
                }
            }
        })
        .await
    }

    /// Deletes every pending upload created before `cutoff_ms` (milliseconds since the
    /// Unix epoch), with its parts, and returns their ids.
    pub async fn delete_stale_uploads(&self, cutoff_ms: i64) -> Result<Vec<FileId>, StoreError> {
        self.run(move |inner| {
            let stale = {
                let txn = inner.db.begin_read()?;
                stale_uploads(&txn.open_table(FILES)?, cutoff_ms)?
            };
            let mut deleted = Vec::new();
            for batch in stale.chunks(SWEEP_BATCH) {
                deleted.extend(delete_stale_batch(inner, batch, cutoff_ms)?);
            }
            Ok(deleted)
        })
        .await
    }
}

/// Deletes up to [`SWEEP_BATCH`] expired files in one transaction.
fn expire_batch(inner: &Inner) -> Result<Vec<FileId>, StoreError> {
    let txn = inner.db.begin_write()?;
    let now = inner.clock.now_ms();
    let mut expired = Vec::new();
    for entry in txn.open_table(COMPLETED)?.iter()?.take(SWEEP_BATCH) {
        let (completed_at, id) = entry?.0.value();
        let file =
            read_file(&txn.open_table(FILES)?, FileId(id))?.ok_or_else(|| StoreError::Corrupt {
                what: "files_by_completion",
                detail: format!("entry at {completed_at} for missing file {}", FileId(id)),
            })?;
        if !inner.is_expired(&file, now) {
            break;
        }
        expired.push(file);
    }
    for file in &expired {
        remove_file(&txn, file.owner, file.id)?;
    }
    txn.commit()?;
    Ok(expired.into_iter().map(|file| file.id).collect())
}

/// Deletes the uploads of `batch` that are still pending and stale, in one
/// transaction; one finished since the scan stays.
fn delete_stale_batch(
    inner: &Inner,
    batch: &[FileId],
    cutoff_ms: i64,
) -> Result<Vec<FileId>, StoreError> {
    let txn = inner.db.begin_write()?;
    let mut deleted = Vec::new();
    for &id in batch {
        let file = read_file(&txn.open_table(FILES)?, id)?;
        if let Some(file) = file.filter(|file| is_stale(file, cutoff_ms)) {
            remove_file(&txn, file.owner, file.id)?;
            deleted.push(id);
        }
    }
    txn.commit()?;
    Ok(deleted)
}

fn stale_uploads(
    files: &impl ReadableTable<IdBytes, &'static [u8]>,
    cutoff_ms: i64,
) -> Result<Vec<FileId>, StoreError> {
    let mut stale = Vec::new();
    for entry in files.iter()? {
        let (_, value) = entry?;
        let file: FileRecord = records::decode("files", value.value())?;
        if is_stale(&file, cutoff_ms) {
            stale.push(file.id);
        }
    }
    Ok(stale)
}

fn is_stale(file: &FileRecord, cutoff_ms: i64) -> bool {
    file.state == FileState::Pending && file.created_at_ms < cutoff_ms
}

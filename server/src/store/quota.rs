//! Per-account usage counters and the quota check.
//!
//! The counters in [`USAGE`] are kept up to date by the transactions that create,
//! delete and expire files, so a request reads one row instead of summing the
//! account's files. A database written before the counters existed gets them by a
//! recount when it opens (see [`rebuild_if_missing`]).
//!
//! A file counts with its stored ciphertext: the contents and the metadata. An
//! expired file stays in the counters until it is deleted, but [`Store::usage`] and
//! the quota check leave it out, so that a file the lists no longer show never holds
//! the quota.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable, TableHandle, WriteTransaction};

use super::files::{read_file, remove_file};
use super::ids::AccountId;
use super::ids::FileId;
use super::records::{self, FileRecord, FileState};
use super::tables::{COMPLETED, FILES, IdBytes, SENT, USAGE, account_index_range};
use super::{Inner, Store, StoreError};

/// Maximum number of expired files of one account that an upload over the quota
/// deletes in its own transaction before it checks the quota again. The sweep deletes
/// the rest.
pub const EXPIRED_DELETED_PER_UPLOAD: usize = 32;

/// The stored ciphertext bytes (contents and metadata) and the number of files one
/// account has stored, finished files and pending uploads together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
}

/// The maximum bytes and files one account may have stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub bytes: u64,
    pub files: u64,
}

impl Store {
    /// Returns the usage of `account` without its expired files, which the sweep has
    /// not deleted yet.
    pub async fn usage(&self, account: AccountId) -> Result<Usage, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let used = read_usage(&txn.open_table(USAGE)?, account)?;
            let expired = expired_files(
                inner,
                &txn.open_table(SENT)?,
                &txn.open_table(FILES)?,
                account,
            )?;
            Ok(without(used, &expired))
        })
        .await
    }

    /// Returns every stored usage counter. Accounts without files have none.
    pub async fn usage_counters(&self) -> Result<BTreeMap<AccountId, Usage>, StoreError> {
        self.run(|inner| {
            let txn = inner.db.begin_read()?;
            let mut counters = BTreeMap::new();
            for entry in txn.open_table(USAGE)?.iter()? {
                let (account, value) = entry?;
                let (bytes, files) = value.value();
                counters.insert(AccountId(account.value()), Usage { bytes, files });
            }
            Ok(counters)
        })
        .await
    }

    /// Sums the usage of every account from the file records, the way the counters are
    /// rebuilt. It reads every file, so it is for checks and tests.
    pub async fn recount_usage(&self) -> Result<BTreeMap<AccountId, Usage>, StoreError> {
        self.run(|inner| {
            let txn = inner.db.begin_read()?;
            let (usage, _) = recount(&txn.open_table(FILES)?)?;
            Ok(usage)
        })
        .await
    }
}

/// Adds one file of `bytes` to the usage of `account` if both quotas allow it, else
/// returns [`StoreError::QuotaExceeded`]. Runs in the transaction that stores the
/// file, so concurrent uploads cannot pass the quota together.
///
/// When the counters are over the quota, it first deletes up to
/// [`EXPIRED_DELETED_PER_UPLOAD`] expired files of the account, oldest first, and
/// then checks the usage without the expired files that remain.
pub(super) fn charge(
    inner: &Inner,
    txn: &WriteTransaction,
    account: AccountId,
    bytes: u64,
    quota: Quota,
) -> Result<(), StoreError> {
    let fits =
        |used: Usage| used.bytes.saturating_add(bytes) <= quota.bytes && used.files < quota.files;
    let mut used = read_usage(&txn.open_table(USAGE)?, account)?;
    if !fits(used) {
        let expired = expired_files(
            inner,
            &txn.open_table(SENT)?,
            &txn.open_table(FILES)?,
            account,
        )?;
        let (deleted, remaining) = expired.split_at(expired.len().min(EXPIRED_DELETED_PER_UPLOAD));
        for file in deleted {
            remove_file(txn, file.owner, file.id)?;
        }
        if !deleted.is_empty() {
            tracing::info!(
                account = %account,
                files = deleted.len(),
                "deleted expired files of an upload's owner to make room"
            );
        }
        used = without(read_usage(&txn.open_table(USAGE)?, account)?, remaining);
        if !fits(used) {
            return Err(StoreError::QuotaExceeded {
                used,
                quota,
                upload_bytes: bytes,
            });
        }
    }
    let mut table = txn.open_table(USAGE)?;
    let counted = read_usage(&table, account)?;
    table.insert(
        account.0,
        (counted.bytes.saturating_add(bytes), counted.files + 1),
    )?;
    Ok(())
}

/// Returns the bytes one file takes in the usage: its contents ciphertext and its metadata
/// ciphertext. The key records, at most two of 113 bytes each, are left out.
pub(super) fn stored_bytes(file: &FileRecord) -> u64 {
    stored_len(file.ciphertext_len, &file.metadata)
}

/// Returns the bytes a file of `ciphertext_len` contents bytes and `metadata` takes
/// in the usage.
pub(super) fn stored_len(ciphertext_len: u64, metadata: &[u8]) -> u64 {
    ciphertext_len.saturating_add(u64::try_from(metadata.len()).unwrap_or(u64::MAX))
}

/// Returns the complete files `account` sent that have expired, oldest first.
fn expired_files(
    inner: &Inner,
    sent: &impl ReadableTable<(IdBytes, i64, IdBytes), ()>,
    files: &impl ReadableTable<IdBytes, &'static [u8]>,
    account: AccountId,
) -> Result<Vec<FileRecord>, StoreError> {
    let now = inner.clock.now_ms();
    let mut expired = Vec::new();
    for entry in sent.range(account_index_range(account.0))? {
        let (key, _) = entry?;
        let (_, _, id) = key.value();
        let file = read_file(files, FileId(id))?.ok_or_else(|| StoreError::Corrupt {
            what: "sent",
            detail: format!("entry for missing file {}", FileId(id)),
        })?;
        // The list is ordered by completion time, so the first file that has not
        // expired ends the expired ones.
        if !inner.is_expired(&file, now) {
            break;
        }
        expired.push(file);
    }
    Ok(expired)
}

/// Takes `files` off `used`.
fn without(used: Usage, files: &[FileRecord]) -> Usage {
    files.iter().fold(used, |used, file| Usage {
        bytes: used.bytes.saturating_sub(stored_bytes(file)),
        files: used.files.saturating_sub(1),
    })
}

/// Removes one deleted or expired file from the usage of its owner.
pub(super) fn refund(txn: &WriteTransaction, file: &FileRecord) -> Result<(), StoreError> {
    let mut table = txn.open_table(USAGE)?;
    let used = read_usage(&table, file.owner)?;
    let bytes = stored_bytes(file);
    if used.bytes < bytes || used.files == 0 {
        tracing::warn!(
            account = %file.owner,
            file_id = %file.id,
            bytes = used.bytes,
            files = used.files,
            "usage counter is below a file it counts; clamping it at zero"
        );
    }
    let bytes = used.bytes.saturating_sub(bytes);
    let files = used.files.saturating_sub(1);
    if files == 0 {
        table.remove(file.owner.0)?;
    } else {
        table.insert(file.owner.0, (bytes, files))?;
    }
    Ok(())
}

/// Fills the usage counters and the completion index from the file records when the
/// database has no counters table yet, as a database of an earlier release has not.
/// Runs before the tables are created. Returns the number of files counted, if any.
pub(super) fn rebuild_if_missing(txn: &WriteTransaction) -> Result<Option<u64>, StoreError> {
    let has_counters = txn.list_tables()?.any(|table| table.name() == USAGE.name());
    if has_counters {
        return Ok(None);
    }
    let files = txn.open_table(FILES)?;
    let (usage, completed) = recount(&files)?;
    let mut counters = txn.open_table(USAGE)?;
    let mut index = txn.open_table(COMPLETED)?;
    let mut counted = 0;
    for (account, used) in &usage {
        counters.insert(account.0, (used.bytes, used.files))?;
        counted += used.files;
    }
    for key in completed {
        index.insert(key, ())?;
    }
    Ok(Some(counted))
}

fn read_usage(
    table: &impl ReadableTable<IdBytes, (u64, u64)>,
    account: AccountId,
) -> Result<Usage, StoreError> {
    Ok(table
        .get(account.0)?
        .map(|value| {
            let (bytes, files) = value.value();
            Usage { bytes, files }
        })
        .unwrap_or_default())
}

/// Sums the usage of every owner and lists the completion-index keys of every
/// complete file.
#[allow(clippy::type_complexity)]
fn recount(
    files: &impl ReadableTable<IdBytes, &'static [u8]>,
) -> Result<(BTreeMap<AccountId, Usage>, Vec<(i64, IdBytes)>), StoreError> {
    let mut usage: BTreeMap<AccountId, Usage> = BTreeMap::new();
    let mut completed = Vec::new();
    for entry in files.iter()? {
        let (_, value) = entry?;
        let file: FileRecord = records::decode("files", value.value())?;
        let used = usage.entry(file.owner).or_default();
        used.bytes = used.bytes.saturating_add(stored_bytes(&file));
        used.files += 1;
        if let (FileState::Complete, Some(at)) = (file.state, file.completed_at_ms) {
            completed.push((at, file.id.0));
        }
    }
    Ok((usage, completed))
}

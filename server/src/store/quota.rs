//! Per-account usage counters and the quota check.
//!
//! The counters in [`USAGE`] are kept up to date by the transactions that create,
//! delete and expire files, so a request reads one row instead of summing the
//! account's files. A database written before the counters existed gets them by a
//! recount when it opens (see [`rebuild_if_missing`]).

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable, TableHandle, WriteTransaction};

use super::ids::AccountId;
use super::records::{self, FileRecord, FileState};
use super::tables::{COMPLETED, FILES, IdBytes, USAGE};
use super::{Store, StoreError};

/// The ciphertext bytes and the number of files one account has stored, finished
/// files and pending uploads together.
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
    /// Returns the stored usage counters of `account`.
    pub async fn usage(&self, account: AccountId) -> Result<Usage, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            read_usage(&txn.open_table(USAGE)?, account)
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
pub(super) fn charge(
    txn: &WriteTransaction,
    account: AccountId,
    bytes: u64,
    quota: Quota,
) -> Result<(), StoreError> {
    let mut table = txn.open_table(USAGE)?;
    let used = read_usage(&table, account)?;
    if used.bytes.saturating_add(bytes) > quota.bytes || used.files >= quota.files {
        return Err(StoreError::QuotaExceeded {
            used,
            quota,
            upload_bytes: bytes,
        });
    }
    table.insert(account.0, (used.bytes + bytes, used.files + 1))?;
    Ok(())
}

/// Removes one deleted or expired file from the usage of its owner.
pub(super) fn refund(txn: &WriteTransaction, file: &FileRecord) -> Result<(), StoreError> {
    let mut table = txn.open_table(USAGE)?;
    let used = read_usage(&table, file.owner)?;
    if used.bytes < file.ciphertext_len || used.files == 0 {
        tracing::warn!(
            account = %file.owner,
            file_id = %file.id,
            bytes = used.bytes,
            files = used.files,
            "usage counter is below a file it counts; clamping it at zero"
        );
    }
    let bytes = used.bytes.saturating_sub(file.ciphertext_len);
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
        used.bytes = used.bytes.saturating_add(file.ciphertext_len);
        used.files += 1;
        if let (FileState::Complete, Some(at)) = (file.state, file.completed_at_ms) {
            completed.push((at, file.id.0));
        }
    }
    Ok((usage, completed))
}

//! Files: pending uploads, their parts, key-exchange records and the two lists.

use std::ops::Range;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableHandle, WriteTransaction};

use super::accounts::read_account_by_id;
use super::ids::{AccountId, FileId, TransferId};
use super::links::remove_links_of_file;
use super::quota::{self, Quota};
use super::records::{self, AccountRecord, FileRecord, FileState, KeyRecord, ResumeKey};
use super::tables::{
    ACCOUNT_NAMES, ACCOUNTS, COMPLETED, FILES, INBOX, IdBytes, KEY_RECORDS, PARTS, SENT,
    UPLOAD_PARTS, account_index_range, file_key_records_range, file_parts_range,
};
use super::{Inner, Store, StoreError};

/// Maximum length of a part stored as one value: 4 MiB less one 4 KiB page. redb 5.0
/// stores a value in a power-of-two run of pages, so a whole part of 4198400 bytes,
/// just over 4 MiB, would take 8 MiB on disk. A longer part is stored as this head
/// under its index and the rest under [`PART_TAIL_FLAG`] | index.
const PART_HEAD_LEN: usize = 4 * 1024 * 1024 - 4096;

/// Set in the index of the key that stores the tail of a part. Part indexes stay far
/// below it: a 64 GiB file has 16384 parts, and no file has more than 2^30.
const PART_TAIL_FLAG: u32 = 1 << 31;

/// The fields of an upload that its creation supplies; the caller has checked them.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub owner: AccountId,
    pub recipient: AccountId,
    pub ciphertext_len: u64,
    pub part_count: u32,
    pub metadata: Vec<u8>,
    /// The transfer id the page sent with the file, if any.
    pub transfer: Option<TransferId>,
}

/// A key-exchange record to store when an upload is finished.
#[derive(Clone, Debug)]
pub struct NewKeyRecord {
    pub recipient: AccountId,
    pub enc: Vec<u8>,
    pub sealed_key: Vec<u8>,
}

/// A complete file as it is listed for one account.
#[derive(Clone, Debug)]
pub struct FileListing {
    pub file: FileRecord,
    pub sender: AccountRecord,
    pub recipient: AccountRecord,
    /// The key-exchange record addressed to the account that asked for the list.
    pub own_record: KeyRecord,
    /// When the file expires, in ms since the Unix epoch.
    pub expires_at_ms: i64,
}

/// A pending upload with a resume key, as it is listed for its owner.
#[derive(Clone, Debug)]
pub struct PendingListing {
    pub file: FileRecord,
    pub recipient: AccountRecord,
    /// Half-open runs of stored part indexes, ascending.
    pub stored_parts: Vec<Range<u32>>,
}

/// How many rows in each table refer to one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileRows {
    pub files: u64,
    pub parts: u64,
    /// Rows in the index of stored parts, which only a pending upload has.
    pub upload_parts: u64,
    pub key_records: u64,
    pub inbox: u64,
    pub sent: u64,
}

impl Store {
    /// Stores a pending upload under a fresh file id and adds its declared ciphertext
    /// length and its metadata length to the owner's usage, or returns
    /// [`StoreError::QuotaExceeded`] if that would pass `quota`. Expired files of the
    /// owner do not count, and some of them are deleted to make room (see
    /// `quota::charge`).
    pub async fn create_upload(
        &self,
        upload: NewUpload,
        quota: Quota,
    ) -> Result<FileRecord, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let bytes = quota::stored_len(upload.ciphertext_len, &upload.metadata);
            quota::charge(inner, &txn, upload.owner, bytes, quota)?;
            let record = {
                let mut files = txn.open_table(FILES)?;
                let id = unused_file_id(&files)?;
                let record = FileRecord {
                    id,
                    owner: upload.owner,
                    recipient: upload.recipient,
                    ciphertext_len: upload.ciphertext_len,
                    part_count: upload.part_count,
                    metadata: upload.metadata,
                    state: FileState::Pending,
                    created_at_ms: inner.clock.now_ms(),
                    completed_at_ms: None,
                    resume_key: None,
                    transfer: upload.transfer,
                };
                files.insert(id.0, records::encode(&record)?.as_slice())?;
                record
            };
            txn.commit()?;
            Ok(record)
        })
        .await
    }

    pub async fn find_file(&self, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let files = txn.open_table(FILES)?;
            read_file(&files, id)
        })
        .await
    }

    /// Stores one part of a pending upload owned by `owner`, replacing an earlier copy
    /// of the same index. The caller has checked the index and the length, which keeps
    /// the index below [`PART_TAIL_FLAG`].
    pub async fn put_part(
        &self,
        owner: AccountId,
        id: FileId,
        index: u32,
        bytes: impl AsRef<[u8]> + Send + 'static,
    ) -> Result<(), StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            {
                let files = txn.open_table(FILES)?;
                pending_upload(&files, owner, id)?;
                let mut parts = txn.open_table(PARTS)?;
                let bytes = bytes.as_ref();
                let (head, tail) = bytes.split_at(bytes.len().min(PART_HEAD_LEN));
                parts.insert((id.0, index), head)?;
                if tail.is_empty() {
                    parts.remove((id.0, index | PART_TAIL_FLAG))?;
                } else {
                    parts.insert((id.0, index | PART_TAIL_FLAG), tail)?;
                }
                txn.open_table(UPLOAD_PARTS)?.insert((id.0, index), ())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Reads one part, joining its head and tail when it is stored in two pieces.
    pub async fn read_part(&self, id: FileId, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        if index & PART_TAIL_FLAG != 0 {
            return Ok(None);
        }
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let parts = txn.open_table(PARTS)?;
            let Some(head) = parts.get((id.0, index))? else {
                return Ok(None);
            };
            let mut part = head.value().to_vec();
            if let Some(tail) = parts.get((id.0, index | PART_TAIL_FLAG))? {
                part.extend_from_slice(tail.value());
            }
            Ok(Some(part))
        })
        .await
    }

    /// Completes a pending upload owned by `owner`: checks that every part is present,
    /// stores the key-exchange records and adds the file to the recipient's inbox and
    /// the owner's sent list. The caller has checked the records.
    pub async fn finish_upload(
        &self,
        owner: AccountId,
        id: FileId,
        key_records: Vec<NewKeyRecord>,
    ) -> Result<FileListing, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let file = complete_upload(&txn, owner, id, key_records, inner.clock.now_ms())?;
            txn.commit()?;

            let read = inner.db.begin_read()?;
            let listing = read_listing(inner, &read, file, owner)?;
            Ok(listing)
        })
        .await
    }

    /// Stores the resume key of a pending upload owned by `owner`, replacing an earlier
    /// one. The caller has checked the key.
    pub async fn save_resume_key(
        &self,
        owner: AccountId,
        id: FileId,
        key: ResumeKey,
    ) -> Result<(), StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            {
                let mut files = txn.open_table(FILES)?;
                let mut file = pending_upload(&files, owner, id)?;
                file.resume_key = Some(key);
                files.insert(id.0, records::encode(&file)?.as_slice())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Reads a pending upload owned by `owner` with the runs of its stored part indexes.
    pub async fn upload_parts(
        &self,
        owner: AccountId,
        id: FileId,
    ) -> Result<(FileRecord, Vec<Range<u32>>), StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let file = pending_upload(&txn.open_table(FILES)?, owner, id)?;
            let runs = stored_runs(&txn.open_table(UPLOAD_PARTS)?, &file)?;
            Ok((file, runs))
        })
        .await
    }

    /// Lists the pending uploads of `owner` that have a resume key, newest first. It
    /// reads every file record, since no index lists pending uploads by owner.
    pub async fn list_pending(&self, owner: AccountId) -> Result<Vec<PendingListing>, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let accounts = txn.open_table(ACCOUNTS)?;
            let names = txn.open_table(ACCOUNT_NAMES)?;
            let upload_parts = txn.open_table(UPLOAD_PARTS)?;
            let mut listings = Vec::new();
            for entry in txn.open_table(FILES)?.iter()? {
                let file: FileRecord = records::decode("files", entry?.1.value())?;
                let resumable = file.owner == owner
                    && file.state == FileState::Pending
                    && file.resume_key.is_some();
                if !resumable {
                    continue;
                }
                let recipient = read_account_by_id(&accounts, &names, file.recipient)?
                    .ok_or(StoreError::DanglingAccount(file.recipient))?;
                let stored_parts = stored_runs(&upload_parts, &file)?;
                listings.push(PendingListing {
                    file,
                    recipient,
                    stored_parts,
                });
            }
            listings.sort_by_key(|listing| {
                std::cmp::Reverse((listing.file.created_at_ms, listing.file.id))
            });
            Ok(listings)
        })
        .await
    }

    /// Complete files sent to `account` that have not expired, newest first.
    pub async fn list_inbox(&self, account: AccountId) -> Result<Vec<FileListing>, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            read_list(inner, &txn, INBOX, account)
        })
        .await
    }

    /// Complete files sent by `account` that have not expired, newest first.
    pub async fn list_sent(&self, account: AccountId) -> Result<Vec<FileListing>, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            read_list(inner, &txn, SENT, account)
        })
        .await
    }

    /// Deletes a file owned by `owner`, pending or complete: its row, every part, every
    /// key-exchange record, its list entries and its links, in one transaction.
    pub async fn delete_file(
        &self,
        owner: AccountId,
        id: FileId,
    ) -> Result<FileRecord, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let file = remove_file(&txn, owner, id)?;
            txn.commit()?;
            Ok(file)
        })
        .await
    }

    /// Counts the rows that refer to one file in every table. The list tables are
    /// scanned in full, so this is for diagnostics and tests.
    pub async fn file_rows(&self, id: FileId) -> Result<FileRows, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let files = u64::from(txn.open_table(FILES)?.get(id.0)?.is_some());
            let parts = txn
                .open_table(PARTS)?
                .range((id.0, 0)..(id.0, PART_TAIL_FLAG))?
                .count();
            let upload_parts = txn
                .open_table(UPLOAD_PARTS)?
                .range(file_parts_range(id.0))?
                .count();
            let key_records = txn
                .open_table(KEY_RECORDS)?
                .range(file_key_records_range(id.0))?
                .count();
            let inbox = count_list_entries(&txn.open_table(INBOX)?, id)?;
            let sent = count_list_entries(&txn.open_table(SENT)?, id)?;
            Ok(FileRows {
                files,
                parts: parts as u64,
                upload_parts: upload_parts as u64,
                key_records: key_records as u64,
                inbox,
                sent,
            })
        })
        .await
    }

    /// Counts the files, pending or complete.
    pub async fn file_count(&self) -> Result<u64, StoreError> {
        self.run(|inner| {
            let txn = inner.db.begin_read()?;
            Ok(txn.open_table(FILES)?.len()?)
        })
        .await
    }
}

fn unused_file_id(
    files: &impl ReadableTable<IdBytes, &'static [u8]>,
) -> Result<FileId, StoreError> {
    loop {
        let id = FileId::random()?;
        if files.get(id.0)?.is_none() {
            return Ok(id);
        }
    }
}

pub(super) fn read_file(
    files: &impl ReadableTable<IdBytes, &'static [u8]>,
    id: FileId,
) -> Result<Option<FileRecord>, StoreError> {
    match files.get(id.0)? {
        Some(value) => Ok(Some(records::decode("files", value.value())?)),
        None => Ok(None),
    }
}

/// Reads the file `id` if `owner` owns it. Any other case is
/// [`StoreError::FileNotFound`], so that a stranger learns nothing about the file.
fn owned_file(
    files: &impl ReadableTable<IdBytes, &'static [u8]>,
    owner: AccountId,
    id: FileId,
) -> Result<FileRecord, StoreError> {
    match read_file(files, id)? {
        Some(file) if file.owner == owner => Ok(file),
        _ => Err(StoreError::FileNotFound(id)),
    }
}

fn pending_upload(
    files: &impl ReadableTable<IdBytes, &'static [u8]>,
    owner: AccountId,
    id: FileId,
) -> Result<FileRecord, StoreError> {
    let file = owned_file(files, owner, id)?;
    match file.state {
        FileState::Pending => Ok(file),
        FileState::Complete => Err(StoreError::AlreadyFinished(id)),
    }
}

fn complete_upload(
    txn: &WriteTransaction,
    owner: AccountId,
    id: FileId,
    key_records: Vec<NewKeyRecord>,
    completed_at: i64,
) -> Result<FileRecord, StoreError> {
    let mut files = txn.open_table(FILES)?;
    let mut file = pending_upload(&files, owner, id)?;
    // The key-only index, because iterating the parts table reads every part body.
    check_parts_present(&txn.open_table(UPLOAD_PARTS)?, &file)?;

    let mut records_table = txn.open_table(KEY_RECORDS)?;
    for new in key_records {
        let record = KeyRecord {
            sender: owner,
            enc: new.enc,
            sealed_key: new.sealed_key,
        };
        records_table.insert(
            (id.0, new.recipient.0),
            records::encode(&record)?.as_slice(),
        )?;
    }

    // The owner's key record replaces the resume key, and a finished file's parts
    // are never listed again.
    file.resume_key = None;
    txn.open_table(UPLOAD_PARTS)?
        .retain_in(file_parts_range(id.0), |_, _| false)?;
    file.state = FileState::Complete;
    file.completed_at_ms = Some(completed_at);
    files.insert(id.0, records::encode(&file)?.as_slice())?;
    txn.open_table(INBOX)?
        .insert((file.recipient.0, completed_at, id.0), ())?;
    txn.open_table(SENT)?
        .insert((owner.0, completed_at, id.0), ())?;
    txn.open_table(COMPLETED)?
        .insert((completed_at, id.0), ())?;
    Ok(file)
}

fn check_parts_present(
    upload_parts: &impl ReadableTable<(IdBytes, u32), ()>,
    file: &FileRecord,
) -> Result<(), StoreError> {
    let mut expected = 0u32;
    for entry in upload_parts.range(file_parts_range(file.id.0))? {
        let (key, _) = entry?;
        let (_, index) = key.value();
        if index != expected {
            break;
        }
        expected += 1;
    }
    if expected < file.part_count {
        return Err(StoreError::MissingPart {
            file: file.id,
            index: expected,
        });
    }
    Ok(())
}

/// Returns the stored part indexes of `file` below its part count as half-open runs,
/// ascending.
fn stored_runs(
    upload_parts: &impl ReadableTable<(IdBytes, u32), ()>,
    file: &FileRecord,
) -> Result<Vec<Range<u32>>, StoreError> {
    let mut runs: Vec<Range<u32>> = Vec::new();
    for entry in upload_parts.range((file.id.0, 0)..(file.id.0, file.part_count))? {
        let (_, index) = entry?.0.value();
        match runs.last_mut() {
            Some(run) if run.end == index => run.end = index + 1,
            _ => runs.push(index..index + 1),
        }
    }
    Ok(runs)
}

/// Fills [`UPLOAD_PARTS`] from the stored parts of every pending upload when the
/// database has no such table yet, as a database of an earlier release has not. Runs
/// before the tables are created. Returns the number of uploads indexed, if any.
pub(super) fn index_parts_if_missing(txn: &WriteTransaction) -> Result<Option<u64>, StoreError> {
    let has_index = txn
        .list_tables()?
        .any(|table| table.name() == UPLOAD_PARTS.name());
    if has_index {
        return Ok(None);
    }
    let files = txn.open_table(FILES)?;
    let parts = txn.open_table(PARTS)?;
    let mut index = txn.open_table(UPLOAD_PARTS)?;
    let mut uploads = 0;
    for entry in files.iter()? {
        let file: FileRecord = records::decode("files", entry?.1.value())?;
        if file.state != FileState::Pending {
            continue;
        }
        uploads += 1;
        // NOTE: this reads the part bodies, since redb loads whole pages; it runs
        // once, on the first start of a database written before the index existed.
        for part in parts.range((file.id.0, 0)..(file.id.0, PART_TAIL_FLAG))? {
            index.insert(part?.0.value(), ())?;
        }
    }
    Ok(Some(uploads))
}

/// Deletes a file of `owner` with every row that refers to it and takes it off the
/// owner's usage.
pub(super) fn remove_file(
    txn: &WriteTransaction,
    owner: AccountId,
    id: FileId,
) -> Result<FileRecord, StoreError> {
    let mut files = txn.open_table(FILES)?;
    let file = owned_file(&files, owner, id)?;
    files.remove(id.0)?;
    quota::refund(txn, &file)?;
    remove_links_of_file(txn, id)?;
    txn.open_table(PARTS)?
        .retain_in(file_parts_range(id.0), |_, _| false)?;
    txn.open_table(UPLOAD_PARTS)?
        .retain_in(file_parts_range(id.0), |_, _| false)?;
    txn.open_table(KEY_RECORDS)?
        .retain_in(file_key_records_range(id.0), |_, _| false)?;
    if let Some(completed_at) = file.completed_at_ms {
        txn.open_table(INBOX)?
            .remove((file.recipient.0, completed_at, id.0))?;
        txn.open_table(SENT)?
            .remove((file.owner.0, completed_at, id.0))?;
        txn.open_table(COMPLETED)?.remove((completed_at, id.0))?;
    }
    Ok(file)
}

/// Reads the files of one account's inbox or sent list, newest first, leaving out the
/// expired ones that the sweep has not deleted yet.
fn read_list(
    inner: &Inner,
    txn: &redb::ReadTransaction,
    list: redb::TableDefinition<(IdBytes, i64, IdBytes), ()>,
    account: AccountId,
) -> Result<Vec<FileListing>, StoreError> {
    let index = txn.open_table(list)?;
    let now = inner.clock.now_ms();
    let mut listings = Vec::new();
    for entry in index.range(account_index_range(account.0))?.rev() {
        let (key, _) = entry?;
        let (_, _, file_id) = key.value();
        let file = read_file(&txn.open_table(FILES)?, FileId(file_id))?.ok_or_else(|| {
            StoreError::Corrupt {
                what: "inbox or sent",
                detail: format!("entry for missing file {}", FileId(file_id)),
            }
        })?;
        if !inner.is_expired(&file, now) {
            listings.push(read_listing(inner, txn, file, account)?);
        }
    }
    Ok(listings)
}

/// Gathers the accounts and the record of `viewer` for one complete file.
fn read_listing(
    inner: &Inner,
    txn: &redb::ReadTransaction,
    file: FileRecord,
    viewer: AccountId,
) -> Result<FileListing, StoreError> {
    let accounts = txn.open_table(ACCOUNTS)?;
    let names = txn.open_table(ACCOUNT_NAMES)?;
    let account = |id: AccountId| -> Result<AccountRecord, StoreError> {
        read_account_by_id(&accounts, &names, id)?.ok_or(StoreError::DanglingAccount(id))
    };
    let sender = account(file.owner)?;
    let recipient = account(file.recipient)?;

    let key_records = txn.open_table(KEY_RECORDS)?;
    let own_record = match key_records.get((file.id.0, viewer.0))? {
        Some(value) => records::decode("key_records", value.value())?,
        None => {
            return Err(StoreError::Corrupt {
                what: "key_records",
                detail: format!("file {} has no record for account {viewer}", file.id),
            });
        }
    };
    let expires_at_ms = inner.expires_at_ms(&file).unwrap_or(i64::MAX);
    Ok(FileListing {
        file,
        sender,
        recipient,
        own_record,
        expires_at_ms,
    })
}

fn count_list_entries(
    index: &impl ReadableTable<(IdBytes, i64, IdBytes), ()>,
    id: FileId,
) -> Result<u64, StoreError> {
    let mut count = 0;
    for entry in index.iter()? {
        let (key, _) = entry?;
        if key.value().2 == id.0 {
            count += 1;
        }
    }
    Ok(count)
}

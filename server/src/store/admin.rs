//! Operator commands on the whole database: account usage and account deletion.
//!
//! A deleted account that sent files to others leaves a tombstone: an account record
//! under a key no normalized username can take, named [`DELETED_ACCOUNT_NAME`], that
//! keeps only the public key. Recipients need that key to open the files it sent
//! (HPKE Auth mode checks the sender), and nobody can sign in to it or find it as a
//! recipient. The username itself becomes free.

use std::collections::HashMap;

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::files::remove_file;
use super::ids::AccountId;
use super::links::remove_links_of_file;
use super::records::{self, AccountRecord, FileRecord, FileState};
use super::tables::{
    ACCOUNT_NAMES, ACCOUNT_SESSIONS, ACCOUNTS, DEVICES, FILES, IdBytes, KEY_RECORDS,
    LINKS_BY_OWNER, SENT, SESSION_ACCOUNTS, SESSIONS, account_index_range,
};
use super::{Store, StoreError};

/// The name a deleted account shows as the sender of the files it sent.
pub const DELETED_ACCOUNT_NAME: &str = "deleted account";

/// First character of the key of a tombstone in the accounts table. Normalized
/// usernames start with a letter or a digit, so no login or lookup reaches it.
const TOMBSTONE_PREFIX: char = '~';

/// The usage of one account, for the operator's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUsage {
    pub username: String,
    pub id: AccountId,
    pub created_at_ms: i64,
    /// Complete files this account sent, to others or to itself.
    pub files_sent: u64,
    /// Stored ciphertext bytes of those files, contents and metadata, as the quota
    /// counts them.
    pub bytes_sent: u64,
    /// Complete files sent to this account.
    pub files_received: u64,
    /// Uploads this account started and has not finished.
    pub pending_uploads: u64,
    pub links: u64,
    /// Sessions signed in as this account that have not expired.
    pub sessions: u64,
}

/// The rows that deleting an account removes, or would remove in a dry run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDeletion {
    pub username: String,
    pub id: AccountId,
    pub sessions: u64,
    /// Complete files sent to the account, with their parts and links.
    pub files_received: u64,
    /// Unfinished uploads from or to the account.
    pub pending_uploads: u64,
    /// Links the account made.
    pub links: u64,
    /// Complete files the account sent to others, which stay readable by them.
    pub files_kept: u64,
    /// Whether the deletion was committed; `false` for a dry run.
    pub applied: bool,
}

/// A failed account command.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no account named {0:?}; run `dtc-server admin accounts` to list them")]
    AccountNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redb::Error> for AdminError {
    fn from(err: redb::Error) -> Self {
        AdminError::Store(StoreError::Database(err))
    }
}

macro_rules! admin_from_redb_error {
    ($($error:ty),*) => {
        $(impl From<$error> for AdminError {
            fn from(err: $error) -> Self {
                AdminError::Store(err.into())
            }
        })*
    };
}

admin_from_redb_error!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl Store {
    /// Lists every account with what it stores, by username. Tombstones of deleted
    /// accounts and expired files are left out.
    pub async fn account_usage(&self) -> Result<Vec<AccountUsage>, StoreError> {
        self.run(|inner| {
            let txn = inner.db.begin_read()?;
            let mut usage = Vec::new();
            for entry in txn.open_table(ACCOUNTS)?.iter()? {
                let (key, value) = entry?;
                if key.value().starts_with(TOMBSTONE_PREFIX) {
                    continue;
                }
                let account: AccountRecord = records::decode("accounts", value.value())?;
                usage.push(AccountUsage {
                    username: account.username,
                    id: account.id,
                    created_at_ms: account.created_at_ms,
                    files_sent: 0,
                    bytes_sent: 0,
                    files_received: 0,
                    pending_uploads: 0,
                    links: count_index(&txn.open_table(LINKS_BY_OWNER)?, account.id)?,
                    sessions: 0,
                });
            }
            let rows: HashMap<AccountId, usize> = usage
                .iter()
                .enumerate()
                .map(|(row, account)| (account.id, row))
                .collect();
            let now = inner.clock.now_ms();
            for entry in txn.open_table(FILES)?.iter()? {
                let file: FileRecord = records::decode("files", entry?.1.value())?;
                // An expired file the sweep has not deleted yet no longer counts.
                if inner.is_expired(&file, now) {
                    continue;
                }
                if let Some(&row) = rows.get(&file.owner) {
                    count_file(&mut usage[row], &file);
                }
                if file.recipient != file.owner
                    && let Some(&row) = rows.get(&file.recipient)
                {
                    count_file(&mut usage[row], &file);
                }
            }
            let now_secs = inner.clock.now_ms() / 1000;
            for entry in txn.open_table(SESSIONS)?.iter()? {
                let (_, value) = entry?;
                let (expires_at, record) = value.value();
                if expires_at <= now_secs {
                    continue;
                }
                if let Some(id) = session_account(record)
                    && let Some(&row) = rows.get(&id)
                {
                    usage[row].sessions += 1;
                }
            }
            Ok(usage)
        })
        .await
    }

    /// Deletes the account `username` (normalized): its sessions, the files sent to
    /// it, its unfinished uploads and its links, in one transaction. Files it sent to
    /// others stay; they then show [`DELETED_ACCOUNT_NAME`] as their sender. With
    /// `apply` false nothing changes and the result lists what would be deleted.
    pub async fn delete_account(
        &self,
        username: String,
        apply: bool,
    ) -> Result<AccountDeletion, AdminError> {
        let job = move |inner: &super::Inner| {
            let txn = inner.db.begin_write()?;
            let deletion = remove_account(&txn, &username, apply)?;
            if apply {
                txn.commit()?;
            } else {
                txn.abort()?;
            }
            Ok::<_, AdminError>(deletion)
        };
        let inner = std::sync::Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || job(&inner))
            .await
            .map_err(StoreError::from)?
    }
}

fn count_file(account: &mut AccountUsage, file: &FileRecord) {
    match file.state {
        FileState::Pending if file.owner == account.id => account.pending_uploads += 1,
        FileState::Pending => {}
        FileState::Complete => {
            if file.owner == account.id {
                account.files_sent += 1;
                account.bytes_sent += super::quota::stored_bytes(file);
            }
            if file.recipient == account.id {
                account.files_received += 1;
            }
        }
    }
}

fn count_index(
    index: &impl ReadableTable<(IdBytes, i64, IdBytes), ()>,
    account: AccountId,
) -> Result<u64, StoreError> {
    let mut count = 0;
    for entry in index.range(account_index_range(account.0))? {
        entry?;
        count += 1;
    }
    Ok(count)
}

/// The account a stored session is signed in as, if any. The record is the JSON of
/// the session layer, whose data has the signed-in account under `account`.
fn session_account(record: &[u8]) -> Option<AccountId> {
    let body: serde_json::Value = serde_json::from_slice(record).ok()?;
    let id = body.get("data")?.get("account")?.get("id")?.as_str()?;
    id.parse().ok()
}

fn remove_account(
    txn: &WriteTransaction,
    username: &str,
    apply: bool,
) -> Result<AccountDeletion, AdminError> {
    let account = {
        let accounts = txn.open_table(ACCOUNTS)?;
        super::accounts::read_account(&accounts, username)?
            .ok_or_else(|| AdminError::AccountNotFound(username.to_owned()))?
    };
    let id = account.id;
    let links_before = count_index(&txn.open_table(LINKS_BY_OWNER)?, id)?;

    let mut deletion = AccountDeletion {
        username: account.username.clone(),
        id,
        sessions: remove_sessions(txn, id)?,
        files_received: 0,
        pending_uploads: 0,
        links: 0,
        files_kept: 0,
        applied: apply,
    };
    for file in files_of(txn, id)? {
        if file.state == FileState::Pending {
            deletion.pending_uploads += 1;
            remove_file(txn, file.owner, file.id)?;
        } else if file.recipient == id {
            deletion.files_received += 1;
            remove_file(txn, file.owner, file.id)?;
        } else {
            deletion.files_kept += 1;
            keep_for_recipient(txn, &file)?;
        }
    }
    let links_after = count_index(&txn.open_table(LINKS_BY_OWNER)?, id)?;
    deletion.links = links_before.saturating_sub(links_after);

    let mut accounts = txn.open_table(ACCOUNTS)?;
    let mut names = txn.open_table(ACCOUNT_NAMES)?;
    accounts.remove(account.username.as_str())?;
    names.remove(id.0)?;
    txn.open_table(DEVICES)?
        .retain(|_, (owner, _)| owner != id.0)?;
    if deletion.files_kept > 0 {
        let tombstone = tombstone(account);
        let key = format!("{TOMBSTONE_PREFIX}{id}");
        accounts.insert(key.as_str(), records::encode(&tombstone)?.as_slice())?;
        names.insert(id.0, key.as_str())?;
    }
    Ok(deletion)
}

/// Reads every file the account sent or was sent, pending or complete.
fn files_of(txn: &WriteTransaction, id: AccountId) -> Result<Vec<FileRecord>, StoreError> {
    let files = txn.open_table(FILES)?;
    let mut found = Vec::new();
    for entry in files.iter()? {
        let file: FileRecord = records::decode("files", entry?.1.value())?;
        if file.owner == id || file.recipient == id {
            found.push(file);
        }
    }
    Ok(found)
}

/// Strips a file the deleted account sent down to what its recipient needs: its
/// links, the sender's own key record and its sent-list entry go.
fn keep_for_recipient(txn: &WriteTransaction, file: &FileRecord) -> Result<(), StoreError> {
    remove_links_of_file(txn, file.id)?;
    txn.open_table(KEY_RECORDS)?
        .remove((file.id.0, file.owner.0))?;
    if let Some(completed_at) = file.completed_at_ms {
        txn.open_table(SENT)?
            .remove((file.owner.0, completed_at, file.id.0))?;
    }
    Ok(())
}

/// Deletes the sessions of the account found through the session index, and those
/// whose record names the account (sessions stored before the index existed).
fn remove_sessions(txn: &WriteTransaction, id: AccountId) -> Result<u64, StoreError> {
    let range = (id.0, i128::MIN)..=(id.0, i128::MAX);
    let indexed: Vec<i128> = {
        let index = txn.open_table(ACCOUNT_SESSIONS)?;
        let mut keys = Vec::new();
        for entry in index.range(range.clone())? {
            keys.push(entry?.0.value().1);
        }
        keys
    };
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut owners = txn.open_table(SESSION_ACCOUNTS)?;
    let mut removed = 0;
    for key in &indexed {
        removed += u64::from(sessions.remove(key)?.is_some());
        owners.remove(key)?;
    }
    txn.open_table(ACCOUNT_SESSIONS)?
        .retain_in(range, |_, _| false)?;
    sessions.retain(|_, (_, record)| {
        let own = session_account(record) == Some(id);
        removed += u64::from(own);
        !own
    })?;
    Ok(removed)
}

/// The record left for a deleted account that sent files: its id, its public key and
/// its creation time; no salt, login key hash or wrapped identity.
fn tombstone(account: AccountRecord) -> AccountRecord {
    AccountRecord {
        id: account.id,
        username: DELETED_ACCOUNT_NAME.to_owned(),
        salt: Vec::new(),
        kdf: account.kdf,
        login_key_hash: Vec::new(),
        public_key: account.public_key,
        wrapped_identity: Vec::new(),
        created_at_ms: account.created_at_ms,
    }
}

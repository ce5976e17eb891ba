//! Session records of tower-sessions, kept so that sign-ins survive a restart.
//!
//! The table is keyed by a hash of the session id, never the id itself, so that a copy
//! of the database gives no live session. Two index tables map the signed-in sessions
//! to their account and back, so that one account's sessions can be ended together.
//! Every write of a session updates them in the same transaction.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use sha2::{Digest, Sha256};

use super::ids::AccountId;
use super::tables::{ACCOUNT_SESSIONS, SESSION_ACCOUNTS, SESSIONS};
use super::{Store, StoreError};

/// One stored session: its expiry, the tower-sessions record encoded by the caller, and
/// the account it is signed in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// Expiry in seconds since the Unix epoch, UTC.
    pub expires_at: i64,
    pub record: Vec<u8>,
    pub account: Option<AccountId>,
}

/// Returns the key a session id is stored under: the first 16 bytes of SHA-256 of the
/// id's little-endian bytes.
fn session_key(id: i128) -> i128 {
    let digest = Sha256::digest(id.to_le_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    i128::from_le_bytes(key)
}

impl Store {
    /// Stores a session under an id that must be new. Returns `false`, storing nothing,
    /// when the id is taken.
    pub async fn create_session(
        &self,
        id: i128,
        session: StoredSession,
    ) -> Result<bool, StoreError> {
        let key = session_key(id);
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let created = {
                let mut sessions = txn.open_table(SESSIONS)?;
                if sessions.get(key)?.is_some() {
                    false
                } else {
                    sessions.insert(key, (session.expires_at, session.record.as_slice()))?;
                    true
                }
            };
            if created {
                set_account(&txn, key, session.account)?;
            }
            txn.commit()?;
            Ok(created)
        })
        .await
    }

    /// Replaces the record of a stored session. A session that is no longer stored
    /// stays deleted, so that a request that loaded it before it was ended (by logging
    /// out everywhere, say) cannot bring it back when it saves at its end.
    pub async fn save_session(&self, id: i128, session: StoredSession) -> Result<(), StoreError> {
        let key = session_key(id);
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let exists = {
                let mut sessions = txn.open_table(SESSIONS)?;
                let exists = sessions.get(key)?.is_some();
                if exists {
                    sessions.insert(key, (session.expires_at, session.record.as_slice()))?;
                }
                exists
            };
            if exists {
                set_account(&txn, key, session.account)?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Loads a session that expires after `now` (Unix seconds); an expired one reads as
    /// missing and is deleted.
    pub async fn load_session(
        &self,
        id: i128,
        now: i64,
    ) -> Result<Option<StoredSession>, StoreError> {
        let key = session_key(id);
        let loaded = self
            .run(move |inner| {
                let txn = inner.db.begin_read()?;
                let sessions = txn.open_table(SESSIONS)?;
                let Some(value) = sessions.get(key)? else {
                    return Ok(None);
                };
                let (expires_at, record) = value.value();
                let owners = txn.open_table(SESSION_ACCOUNTS)?;
                let account = owners.get(key)?.map(|id| AccountId(id.value()));
                Ok(Some(StoredSession {
                    expires_at,
                    record: record.to_vec(),
                    account,
                }))
            })
            .await?;
        match loaded {
            Some(session) if session.expires_at <= now => {
                self.delete_session(id).await?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    pub async fn delete_session(&self, id: i128) -> Result<(), StoreError> {
        let key = session_key(id);
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            txn.open_table(SESSIONS)?.remove(key)?;
            set_account(&txn, key, None)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Deletes every session signed in as `account` and returns how many were deleted.
    pub async fn delete_account_sessions(&self, account: AccountId) -> Result<u64, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let keys = {
                let index = txn.open_table(ACCOUNT_SESSIONS)?;
                let range = (account.0, i128::MIN)..=(account.0, i128::MAX);
                let mut keys = Vec::new();
                for entry in index.range(range)? {
                    keys.push(entry?.0.value().1);
                }
                keys
            };
            let mut deleted = 0;
            for key in &keys {
                if txn.open_table(SESSIONS)?.remove(key)?.is_some() {
                    deleted += 1;
                }
                set_account(&txn, *key, None)?;
            }
            txn.commit()?;
            Ok(deleted)
        })
        .await
    }

    /// Deletes every session that expired at or before `now` (Unix seconds) and returns
    /// how many were deleted. Index rows of sessions that no longer exist go too.
    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let mut deleted = 0;
            txn.open_table(SESSIONS)?.retain(|_, (expires_at, _)| {
                let keep = expires_at > now;
                if !keep {
                    deleted += 1;
                }
                keep
            })?;
            let orphans = {
                let sessions = txn.open_table(SESSIONS)?;
                let mut orphans = Vec::new();
                for entry in txn.open_table(SESSION_ACCOUNTS)?.iter()? {
                    let key = entry?.0.value();
                    if sessions.get(key)?.is_none() {
                        orphans.push(key);
                    }
                }
                orphans
            };
            for key in orphans {
                set_account(&txn, key, None)?;
            }
            txn.commit()?;
            Ok(deleted)
        })
        .await
    }
}

/// Sets the account of the session stored under `key` in both index tables, or removes
/// it from them when `account` is `None`.
fn set_account(
    txn: &WriteTransaction,
    key: i128,
    account: Option<AccountId>,
) -> Result<(), StoreError> {
    let mut owners = txn.open_table(SESSION_ACCOUNTS)?;
    let previous = owners.get(key)?.map(|id| id.value());
    if previous == account.map(|id| id.0) {
        return Ok(());
    }
    let mut index = txn.open_table(ACCOUNT_SESSIONS)?;
    if let Some(previous) = previous {
        index.remove((previous, key))?;
        owners.remove(key)?;
    }
    if let Some(account) = account {
        index.insert((account.0, key), ())?;
        owners.insert(key, account.0)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn database_stores_no_raw_session_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path).await.unwrap();
        let id = i128::from_le_bytes([0x5a; 16]) ^ 0x0123_4567_89ab_cdef;
        let session = StoredSession {
            expires_at: i64::MAX,
            record: b"{}".to_vec(),
            account: None,
        };
        assert!(store.create_session(id, session.clone()).await.unwrap());
        assert!(!store.create_session(id, session.clone()).await.unwrap());
        assert_eq!(
            store.load_session(id, 0).await.unwrap(),
            Some(session.clone())
        );
        assert!(store.close().await.unwrap());

        let file = std::fs::read(&path).unwrap();
        for raw in [id.to_le_bytes(), id.to_be_bytes()] {
            let found = file.windows(raw.len()).any(|window| window == raw);
            assert!(!found, "the database file contains the raw session id");
        }
    }

    fn signed_in(account: AccountId) -> StoredSession {
        StoredSession {
            expires_at: i64::MAX,
            record: b"{}".to_vec(),
            account: Some(account),
        }
    }

    #[tokio::test]
    async fn account_sessions_are_deleted_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("db.redb")).await.unwrap();
        let alice = AccountId([1; 16]);
        let bob = AccountId([2; 16]);
        for id in [10, 11, 12] {
            assert!(store.create_session(id, signed_in(alice)).await.unwrap());
        }
        assert!(store.create_session(20, signed_in(bob)).await.unwrap());

        assert_eq!(store.delete_account_sessions(alice).await.unwrap(), 3);
        for id in [10, 11, 12] {
            assert_eq!(store.load_session(id, 0).await.unwrap(), None);
        }
        assert!(store.load_session(20, 0).await.unwrap().is_some());
        assert_eq!(store.delete_account_sessions(alice).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn save_does_not_revive_deleted_session() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("db.redb")).await.unwrap();
        let alice = AccountId([1; 16]);
        assert!(store.create_session(7, signed_in(alice)).await.unwrap());
        store.delete_account_sessions(alice).await.unwrap();

        store.save_session(7, signed_in(alice)).await.unwrap();
        assert_eq!(store.load_session(7, 0).await.unwrap(), None);
        assert_eq!(store.delete_account_sessions(alice).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn sweep_deletes_expired_index_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("db.redb")).await.unwrap();
        let alice = AccountId([1; 16]);
        let mut expiring = signed_in(alice);
        expiring.expires_at = 100;
        assert!(store.create_session(7, expiring).await.unwrap());
        assert!(store.create_session(8, signed_in(alice)).await.unwrap());

        assert_eq!(store.delete_expired_sessions(200).await.unwrap(), 1);
        assert_eq!(store.delete_account_sessions(alice).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn expired_session_is_deleted_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("db.redb")).await.unwrap();
        let alice = AccountId([1; 16]);
        let mut session = signed_in(alice);
        session.expires_at = 100;
        assert!(store.create_session(7, session).await.unwrap());

        assert_eq!(store.load_session(7, 100).await.unwrap(), None);
        assert_eq!(store.load_session(7, 0).await.unwrap(), None);
        assert_eq!(store.delete_account_sessions(alice).await.unwrap(), 0);
    }
}

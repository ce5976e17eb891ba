//! Session records of tower-sessions, kept so that sign-ins survive a restart.
//!
//! The table is keyed by a hash of the session id, never the id itself, so that a copy
//! of the database gives no live session.

use redb::{ReadableDatabase, ReadableTable};
use sha2::{Digest, Sha256};

use super::tables::SESSIONS;
use super::{Store, StoreError};

/// One stored session: its expiry and the tower-sessions record encoded by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// Expiry in seconds since the Unix epoch, UTC.
    pub expires_at: i64,
    pub record: Vec<u8>,
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
            txn.commit()?;
            Ok(created)
        })
        .await
    }

    /// Stores a session, replacing the record under the same id.
    pub async fn save_session(&self, id: i128, session: StoredSession) -> Result<(), StoreError> {
        let key = session_key(id);
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            txn.open_table(SESSIONS)?
                .insert(key, (session.expires_at, session.record.as_slice()))?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Loads a session that expires after `now` (Unix seconds); an expired one reads as
    /// missing.
    pub async fn load_session(
        &self,
        id: i128,
        now: i64,
    ) -> Result<Option<StoredSession>, StoreError> {
        let key = session_key(id);
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let sessions = txn.open_table(SESSIONS)?;
            let Some(value) = sessions.get(key)? else {
                return Ok(None);
            };
            let (expires_at, record) = value.value();
            if expires_at <= now {
                return Ok(None);
            }
            Ok(Some(StoredSession {
                expires_at,
                record: record.to_vec(),
            }))
        })
        .await
    }

    pub async fn delete_session(&self, id: i128) -> Result<(), StoreError> {
        let key = session_key(id);
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            txn.open_table(SESSIONS)?.remove(key)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Deletes every session that expired at or before `now` (Unix seconds) and returns
    /// how many were deleted.
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
            txn.commit()?;
            Ok(deleted)
        })
        .await
    }
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
}

//! Session records of tower-sessions, kept so that sign-ins survive a restart.

use redb::{ReadableDatabase, ReadableTable};

use super::tables::SESSIONS;
use super::{Store, StoreError};

/// One stored session: its expiry and the tower-sessions record encoded by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// Expiry in seconds since the Unix epoch, UTC.
    pub expires_at: i64,
    pub record: Vec<u8>,
}

impl Store {
    /// Stores a session under an id that must be new. Returns `false`, storing nothing,
    /// when the id is taken.
    pub async fn create_session(
        &self,
        id: i128,
        session: StoredSession,
    ) -> Result<bool, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let created = {
                let mut sessions = txn.open_table(SESSIONS)?;
                if sessions.get(id)?.is_some() {
                    false
                } else {
                    sessions.insert(id, (session.expires_at, session.record.as_slice()))?;
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
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            txn.open_table(SESSIONS)?
                .insert(id, (session.expires_at, session.record.as_slice()))?;
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
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let sessions = txn.open_table(SESSIONS)?;
            let Some(value) = sessions.get(id)? else {
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
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            txn.open_table(SESSIONS)?.remove(id)?;
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

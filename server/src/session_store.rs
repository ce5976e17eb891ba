//! Sessions: a tower-sessions store on the database's sessions table, and the cookie
//! settings.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::store::{Store, StoredSession};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "dtc_session";

/// A session expires after this long without a request.
pub const SESSION_INACTIVITY: Duration = Duration::days(7);

/// Keeps tower-sessions records in the [`Store`], so sessions survive a restart.
#[derive(Clone, Debug)]
pub struct RedbSessionStore {
    store: Store,
}

impl RedbSessionStore {
    pub fn new(store: Store) -> Self {
        RedbSessionStore { store }
    }
}

/// Builds the session layer: cookie `dtc_session`, HttpOnly, SameSite=Strict, path `/`,
/// expiry after [`SESSION_INACTIVITY`]. Every request of a signed-in client saves
/// the session, which moves its expiry forward.
pub fn session_layer(store: Store, secure: bool) -> SessionManagerLayer<RedbSessionStore> {
    SessionManagerLayer::new(RedbSessionStore::new(store))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(SESSION_INACTIVITY))
        .with_always_save(true)
}

#[async_trait]
impl SessionStore for RedbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let stored = encode(record)?;
            if self
                .store
                .create_session(record.id.0, stored)
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let stored = encode(record)?;
        self.store
            .save_session(record.id.0, stored)
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let Some(stored) = self.store.load_session(id.0, now).await.map_err(backend)? else {
            return Ok(None);
        };
        let record = serde_json::from_slice(&stored.record)
            .map_err(|err| session_store::Error::Decode(err.to_string()))?;
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete_session(id.0).await.map_err(backend)
    }
}

fn encode(record: &Record) -> session_store::Result<StoredSession> {
    let bytes =
        serde_json::to_vec(record).map_err(|err| session_store::Error::Encode(err.to_string()))?;
    Ok(StoredSession {
        expires_at: record.expiry_date.unix_timestamp(),
        record: bytes,
    })
}

fn backend(err: crate::store::StoreError) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

//! Sessions: a tower-sessions store on the database's sessions table, and the cookie
//! settings.
//!
//! A stored session contains the record's data and expiry but not its id, which is the
//! cookie's value: `load` rebuilds the record with the id it was given, so a copy of
//! the database gives no working cookie.
//!
//! A session ends after `session_idle` without a request, and a signed-in one also
//! `session_max_age` after its sign-in, however active it is. The store computes both
//! from its [`Clock`](crate::store::Clock), stores the earlier as the record's expiry,
//! and deletes a record that it finds past either. A record also keeps the time it was
//! saved, so that a lowered `session_idle` ends idle sessions saved before it.

use std::collections::HashMap;

use async_trait::async_trait;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::backend::{ACCOUNT_KEY, SignedIn};
use crate::store::{DeviceToken, Store, StoredSession};

/// Name of the session cookie on plain HTTP, as in development on 127.0.0.1.
pub const SESSION_COOKIE: &str = "dtc_session";

/// Name of the session cookie over HTTPS. Browsers accept a `__Host-` cookie only with
/// `Secure`, `Path=/` and no `Domain`, so no subdomain or plain-HTTP page can set or
/// replace it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-dtc_session";

/// Returns the session cookie's name: [`SECURE_SESSION_COOKIE`] when the site is
/// reached over HTTPS, else [`SESSION_COOKIE`].
pub fn session_cookie_name(https: bool) -> &'static str {
    if https {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// Name of the device cookie on plain HTTP. A successful sign-in or registration sets
/// it so that later sign-ins of the same account from this browser skip the
/// per-username login throttle (see `store/throttle.rs`).
pub const DEVICE_COOKIE: &str = "dtc_device";

/// Name of the device cookie over HTTPS, with the same `__Host-` rules as
/// [`SECURE_SESSION_COOKIE`].
pub const SECURE_DEVICE_COOKIE: &str = "__Host-dtc_device";

/// Returns the device cookie's name: [`SECURE_DEVICE_COOKIE`] when the site is reached
/// over HTTPS, else [`DEVICE_COOKIE`].
pub fn device_cookie_name(https: bool) -> &'static str {
    if https {
        SECURE_DEVICE_COOKIE
    } else {
        DEVICE_COOKIE
    }
}

/// Lifetime of the device cookie in the browser, in seconds: one year, the same as
/// its record's.
const DEVICE_COOKIE_MAX_AGE: u64 = crate::store::DEVICE_LIFETIME.as_secs();

/// Returns the `Set-Cookie` value that gives the browser `token` as its device cookie:
/// HttpOnly, SameSite=Strict, path `/`, one year, and `Secure` when `https`.
pub fn device_set_cookie(token: &DeviceToken, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let value = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={DEVICE_COOKIE_MAX_AGE}{secure}",
        device_cookie_name(https),
        token.to_cookie()
    );
    HeaderValue::from_str(&value).expect("a device cookie is visible ASCII")
}

/// Reads the device cookie of a request. A missing or malformed one is `None`.
pub fn device_cookie(headers: &HeaderMap, https: bool) -> Option<DeviceToken> {
    let name = device_cookie_name(https);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| DeviceToken::from_cookie(value.trim()))
}

/// Keeps tower-sessions records in the [`Store`], so sessions survive a restart.
#[derive(Clone, Debug)]
pub struct RedbSessionStore {
    store: Store,
    idle_ms: i64,
    max_age_ms: i64,
}

impl RedbSessionStore {
    /// Builds a store whose sessions end after `idle` without a request, and signed-in
    /// ones `max_age` after their sign-in at the latest.
    pub fn new(store: Store, idle: std::time::Duration, max_age: std::time::Duration) -> Self {
        RedbSessionStore {
            store,
            idle_ms: duration_ms(idle),
            max_age_ms: duration_ms(max_age),
        }
    }

    /// Returns when a session with `data` ends if it is saved now, in ms: `idle` from
    /// now, and for a signed-in session at most `max_age` after its sign-in. A signed-in
    /// session without a sign-in time has ended.
    fn end_ms(&self, data: &HashMap<String, serde_json::Value>, now_ms: i64) -> i64 {
        let idle_end = now_ms.saturating_add(self.idle_ms);
        match signed_in(data) {
            Some(account) => idle_end.min(self.sign_in_end_ms(&account)),
            None => idle_end,
        }
    }

    fn sign_in_end_ms(&self, account: &SignedIn) -> i64 {
        account
            .signed_in_at_ms
            .map_or(i64::MIN, |at| at.saturating_add(self.max_age_ms))
    }

    fn encode(&self, record: &Record) -> session_store::Result<StoredSession> {
        let now_ms = self.store.clock().now_ms();
        let body = SessionBody {
            data: record.data.clone(),
            expiry_unix_nanos: record.expiry_date.unix_timestamp_nanos(),
            saved_at_ms: Some(now_ms),
        };
        let bytes = serde_json::to_vec(&body)
            .map_err(|err| session_store::Error::Encode(err.to_string()))?;
        Ok(StoredSession {
            expires_at: self.end_ms(&record.data, now_ms).div_euclid(1000),
            record: bytes,
            account: signed_in(&record.data).map(|account| account.id),
        })
    }
}

/// Builds the session layer: the cookie of [`session_cookie_name`] with `Secure` exactly
/// when `secure` (the site is reached over HTTPS), HttpOnly, SameSite=Strict, path `/`,
/// no domain, a cookie lifetime of `idle`, and records that end as
/// [`RedbSessionStore::new`] describes. Every request of a signed-in client saves the
/// session, which moves its idle expiry forward.
pub fn session_layer(
    store: Store,
    secure: bool,
    idle: std::time::Duration,
    max_age: std::time::Duration,
) -> SessionManagerLayer<RedbSessionStore> {
    let cookie_lifetime = Duration::try_from(idle).unwrap_or(Duration::MAX);
    SessionManagerLayer::new(RedbSessionStore::new(store, idle, max_age))
        .with_name(session_cookie_name(secure))
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(cookie_lifetime))
        .with_always_save(true)
}

#[async_trait]
impl SessionStore for RedbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let stored = self.encode(record)?;
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
        let stored = self.encode(record)?;
        self.store
            .save_session(record.id.0, stored)
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now_ms = self.store.clock().now_ms();
        let loaded = self
            .store
            .load_session(id.0, now_ms.div_euclid(1000))
            .await
            .map_err(backend)?;
        let Some(stored) = loaded else {
            return Ok(None);
        };
        let body: SessionBody = serde_json::from_slice(&stored.record)
            .map_err(|err| session_store::Error::Decode(err.to_string()))?;
        // The idle time may have been lowered since the record was saved.
        if body
            .saved_at_ms
            .is_some_and(|saved| saved.saturating_add(self.idle_ms) <= now_ms)
        {
            tracing::info!("session reached its idle time");
            self.delete(id).await?;
            return Ok(None);
        }
        // The maximum age may have been lowered since the record was saved.
        if let Some(account) = signed_in(&body.data)
            && self.sign_in_end_ms(&account) <= now_ms
        {
            tracing::info!(account = %account.id, "session reached its maximum age");
            self.delete(id).await?;
            return Ok(None);
        }
        let expiry_date = OffsetDateTime::from_unix_timestamp_nanos(body.expiry_unix_nanos)
            .map_err(|err| {
                session_store::Error::Decode(format!(
                    "session expiry {} ns is out of range: {err}",
                    body.expiry_unix_nanos
                ))
            })?;
        Ok(Some(Record {
            id: *id,
            data: body.data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete_session(id.0).await.map_err(backend)
    }
}

/// The stored form of a tower-sessions record: everything but its id.
#[derive(Serialize, Deserialize)]
struct SessionBody {
    data: HashMap<String, serde_json::Value>,
    /// The record's expiry in nanoseconds since the Unix epoch, UTC.
    expiry_unix_nanos: i128,
    /// When the record was last saved, that is the last request of its client, in ms
    /// since the Unix epoch; absent in records saved before it was stored.
    #[serde(default)]
    saved_at_ms: Option<i64>,
}

/// Returns the account a session's data is signed in as, if any.
fn signed_in(data: &HashMap<String, serde_json::Value>) -> Option<SignedIn> {
    let value = data.get(ACCOUNT_KEY)?;
    serde_json::from_value(value.clone()).ok()
}

fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn backend(err: crate::store::StoreError) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

    use super::*;

    const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

    /// Returns every form the session id could be written in.
    fn id_forms(id: Id) -> Vec<Vec<u8>> {
        let le = id.0.to_le_bytes();
        let be = id.0.to_be_bytes();
        vec![
            le.to_vec(),
            be.to_vec(),
            id.0.to_string().into_bytes(),
            id.to_string().into_bytes(),
            URL_SAFE_NO_PAD.encode(le).into_bytes(),
            STANDARD_NO_PAD.encode(le).into_bytes(),
            URL_SAFE_NO_PAD.encode(be).into_bytes(),
        ]
    }

    #[tokio::test]
    async fn database_stores_no_session_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let store = Store::open(&path).await.unwrap();
        let sessions = RedbSessionStore::new(store.clone(), DAY, DAY);
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([("user".to_owned(), serde_json::json!("alice"))]),
            expiry_date: OffsetDateTime::now_utc() + Duration::days(1),
        };
        sessions.create(&mut record).await.unwrap();
        sessions.save(&record).await.unwrap();
        let loaded = sessions.load(&record.id).await.unwrap();
        assert_eq!(loaded, Some(record.clone()));
        drop(sessions);
        assert!(store.close().await.unwrap());

        let file = std::fs::read(&path).unwrap();
        for form in id_forms(record.id) {
            let found = file.windows(form.len()).any(|window| window == form);
            assert!(
                !found,
                "the database file contains the session id as {:?}",
                String::from_utf8_lossy(&form)
            );
        }
    }

    #[tokio::test]
    async fn loaded_record_takes_requested_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("db.redb")).await.unwrap();
        let sessions = RedbSessionStore::new(store, DAY, DAY);
        let mut record = Record {
            id: Id::default(),
            data: HashMap::new(),
            expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
        };
        sessions.create(&mut record).await.unwrap();
        let loaded = sessions.load(&record.id).await.unwrap().unwrap();
        assert_eq!(loaded.id, record.id);
        assert_eq!(loaded.expiry_date, record.expiry_date);
        assert_eq!(sessions.load(&Id::default()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn lowered_idle_time_ends_sessions_saved_before() {
        const HOUR: std::time::Duration = std::time::Duration::from_secs(60 * 60);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let clock = crate::store::Clock::manual(1_700_000_000_000);
        let store = Store::open_with_clock(&path, clock.clone()).await.unwrap();
        let sessions = RedbSessionStore::new(store.clone(), DAY, DAY);
        let mut record = Record {
            id: Id::default(),
            data: HashMap::new(),
            expiry_date: OffsetDateTime::now_utc() + Duration::days(1),
        };
        sessions.create(&mut record).await.unwrap();
        drop(sessions);
        assert!(store.close().await.unwrap());

        clock.advance(2 * HOUR);
        let store = Store::open_with_clock(&path, clock.clone()).await.unwrap();
        let kept = RedbSessionStore::new(store.clone(), 3 * HOUR, DAY);
        assert!(kept.load(&record.id).await.unwrap().is_some());
        let sessions = RedbSessionStore::new(store.clone(), HOUR, DAY);
        assert_eq!(sessions.load(&record.id).await.unwrap(), None);
        assert_eq!(kept.load(&record.id).await.unwrap(), None, "not deleted");
    }
}

//! The database: one redb file behind named operations. No other module opens a table.
//!
//! redb calls block, so every public operation runs on tokio's blocking pool. Each
//! operation is one transaction, so a check and the write that depends on it see the
//! same state.

mod accounts;
mod admin;
mod backup;
mod clock;
mod expiry;
mod files;
pub mod ids;
mod links;
mod permissions;
mod quota;
pub mod records;
mod sessions;
mod tables;
mod throttle;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable};

pub use accounts::NewAccount;
pub use admin::{AccountDeletion, AccountUsage, AdminError, DELETED_ACCOUNT_NAME};
pub use backup::{BackupError, BackupSummary, Restored, inspect_backup, restore, verify_backup};
pub use clock::Clock;
pub use expiry::SWEEP_BATCH;
pub use files::{FileListing, FileRows, NewKeyRecord, NewUpload, PendingListing};
pub use ids::{AccountId, FileId, InvalidId, LinkId, TransferId};
pub use links::{
    DEAD_LINK_RETENTION, LinkState, LinkView, MAX_LAST_PART_STARTS, MAX_LINKS_PER_FILE,
    MAX_TICKETS_PER_LINK, NewLink, RESERVATION_LIFETIME, Reserved, SweptLinks,
    TICKET_IDLE_LIFETIME, TICKET_LIFETIME, Ticket, Unlocked, throttle_delay_secs,
};
pub use permissions::create_data_dir;
pub use quota::{EXPIRED_DELETED_PER_UPLOAD, Quota, Usage};
pub use records::{
    AccountRecord, FileRecord, FileState, KdfParams, KeyRecord, LinkPassword, LinkRecord, ResumeKey,
};
pub use sessions::StoredSession;
pub use throttle::{
    ACCOUNT_LIMIT, ADDRESS_LIMIT, DEVICE_LIFETIME, DeviceToken, FAILURE_MEMORY,
    KNOWN_ADDRESS_LIFETIME, LoginAttempt, PAIR_LIMIT, ThrottleLimit,
};

use tables::{META, META_SCHEMA_VERSION, META_SERVER_SECRET, SCHEMA_VERSION};

/// Length of the server secret in bytes.
const SERVER_SECRET_LEN: usize = 32;

/// A failed store operation. The domain variants name the ids involved, and the
/// others are server faults.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("username {0:?} is taken")]
    UsernameTaken(String),
    #[error("file {0} not found for this account")]
    FileNotFound(FileId),
    #[error("upload {0} is already finished")]
    AlreadyFinished(FileId),
    #[error("upload {file} has no part {index}")]
    MissingPart { file: FileId, index: u32 },
    /// The one error for a share link that expired, was used up, was revoked or never
    /// existed, and for a ticket that is forged, expired or for another link.
    #[error("share link is dead or unknown")]
    LinkDead,
    #[error("link {0} not found for this account")]
    LinkNotFound(LinkId),
    #[error("link id {0} is taken")]
    LinkIdTaken(LinkId),
    #[error("file {0} is still uploading")]
    FileNotComplete(FileId),
    #[error("file {0} already has {MAX_LINKS_PER_FILE} links")]
    TooManyLinks(FileId),
    #[error("too many wrong access keys for this link; retry in {retry_after_secs} s")]
    LinkThrottled { retry_after_secs: u64 },
    #[error("wrong access key for this link")]
    WrongLinkKey { has_password: bool },
    #[error("ticket has no download in progress")]
    NotReserved,
    #[error("the last part of this download was started {MAX_LAST_PART_STARTS} times")]
    LastPartStartsUsed,
    #[error("the reservation of this download expired while its last part was sent")]
    ReservationExpired,
    #[error("link has too many open downloads; retry in {retry_after_secs} s")]
    TooManyTickets { retry_after_secs: u64 },
    #[error("too many failed sign-in attempts; retry in {retry_after_secs} s")]
    LoginThrottled { retry_after_secs: u64 },
    #[error(
        "upload of {upload_bytes} bytes exceeds the quota: {} of {} bytes and {} of {} files used",
        used.bytes, quota.bytes, used.files, quota.files
    )]
    QuotaExceeded {
        used: Usage,
        quota: Quota,
        upload_bytes: u64,
    },
    #[error("account {0} referenced by a record does not exist")]
    DanglingAccount(AccountId),
    #[error("stored {what} record is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("failed to encode a record: {0}")]
    Encode(String),
    #[error(
        "database schema version {found} is not supported; this server reads version {expected}"
    )]
    SchemaVersion { found: u32, expected: u32 },
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    #[error(
        "the database file is damaged ({0}); restore a backup with `dtc-server admin restore \
         --from FILE`"
    )]
    Damaged(String),
    #[error("database error: {0}")]
    Database(#[from] redb::Error),
    #[error("database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

macro_rules! from_redb_error {
    ($($error:ty),*) => {
        $(impl From<$error> for StoreError {
            fn from(err: $error) -> Self {
                StoreError::Database(err.into())
            }
        })*
    };
}

from_redb_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A handle on the open database; clones share it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    path: PathBuf,
    /// The time of every share-link and file-lifetime rule.
    clock: Clock,
    /// How long a complete file lives after its upload finished, in ms; `i64::MAX`
    /// keeps files until they are deleted.
    file_lifetime_ms: AtomicI64,
    /// Key of the HMAC that derives the salt for unknown usernames.
    server_secret: [u8; SERVER_SECRET_LEN],
}

/// Prints the path only, never the server secret.
impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database file, creating it, its tables and the server secret if missing.
    pub async fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Self::open_with_clock(path, Clock::system()).await
    }

    /// Opens the database like [`Store::open`], with `clock` as the time of the
    /// share-link rules.
    pub async fn open_with_clock(
        path: impl AsRef<Path>,
        clock: Clock,
    ) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let inner = tokio::task::spawn_blocking(move || {
            backup::catch_damage(|| Inner::open(path, clock))
                .unwrap_or_else(|panic| Err(StoreError::Damaged(panic)))
        })
        .await??;
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Sets how long a complete file lives after its upload finished. Until it is set,
    /// files live until they are deleted.
    pub fn set_file_lifetime(&self, lifetime: Duration) {
        let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
        self.inner
            .file_lifetime_ms
            .store(lifetime_ms, Ordering::SeqCst);
    }

    /// Returns when a complete file expires, in ms since the Unix epoch; a pending upload
    /// has no expiry.
    pub fn expires_at_ms(&self, file: &FileRecord) -> Option<i64> {
        self.inner.expires_at_ms(file)
    }

    /// Returns whether `file` is complete and past its expiry at the store's current time.
    pub fn is_expired(&self, file: &FileRecord) -> bool {
        self.inner.is_expired(file, self.inner.clock.now_ms())
    }

    /// Closes the database file if this is the last handle. Returns `false` when other
    /// handles are still alive; the file then closes when the last one is dropped.
    pub async fn close(self) -> Result<bool, StoreError> {
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return Ok(false);
        };
        tokio::task::spawn_blocking(move || inner.db.close()).await??;
        Ok(true)
    }

    /// Reads the schema version in a read transaction, to show that the database
    /// answers.
    pub async fn check_readable(&self) -> Result<(), StoreError> {
        self.run(|inner| {
            let txn = inner.db.begin_read()?;
            let meta = txn.open_table(META)?;
            meta.get(META_SCHEMA_VERSION)?;
            Ok(())
        })
        .await
    }

    /// Runs `operation` on the blocking pool, inside the caller's span so that its log
    /// lines belong to the caller's request.
    async fn run<T, F>(&self, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| operation(&inner))).await?
    }
}

/// The database's page cache. redb's default of 1 GiB fills with the pages of
/// ciphertext parts, which are written and read once per transfer, so the server's
/// memory would grow by up to that much during a large upload. Every table but the
/// parts fits in far less.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

impl Inner {
    fn open(path: PathBuf, clock: Clock) -> Result<Inner, StoreError> {
        permissions::prepare_database_file(&path).map_err(redb::StorageError::from)?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)?;
        let server_secret = prepare(&db)?;
        Ok(Inner {
            db,
            path,
            clock,
            file_lifetime_ms: AtomicI64::new(i64::MAX),
            server_secret,
        })
    }

    fn expires_at_ms(&self, file: &FileRecord) -> Option<i64> {
        let lifetime_ms = self.file_lifetime_ms.load(Ordering::SeqCst);
        file.completed_at_ms
            .map(|completed| completed.saturating_add(lifetime_ms))
    }

    fn is_expired(&self, file: &FileRecord, now_ms: i64) -> bool {
        self.expires_at_ms(file)
            .is_some_and(|expiry| now_ms >= expiry)
    }
}

/// Creates every table, checks the schema version and returns the server secret,
/// writing both on first start. Ends the last-part responses of the previous run in the
/// same transaction.
fn prepare(db: &Database) -> Result<[u8; SERVER_SECRET_LEN], StoreError> {
    let txn = db.begin_write()?;
    let secret = {
        let mut meta = txn.open_table(META)?;
        check_schema_version(&mut meta)?;
        load_or_make_secret(&mut meta)?
    };
    let recounted = quota::rebuild_if_missing(&txn)?;
    let indexed = files::index_parts_if_missing(&txn)?;
    tables::create_all(&txn)?;
    let ended = links::end_responses_in_flight(&txn)?;
    txn.commit()?;
    if let Some(files) = recounted.filter(|files| *files > 0) {
        tracing::info!(
            files,
            "usage counters and completion index built by a recount"
        );
    }
    if let Some(uploads) = indexed.filter(|uploads| *uploads > 0) {
        tracing::info!(uploads, "stored parts of pending uploads indexed");
    }
    if ended > 0 {
        tracing::info!(
            reservations = ended,
            "ended last-part responses of the previous run"
        );
    }
    Ok(secret)
}

fn check_schema_version(meta: &mut redb::Table<&str, &[u8]>) -> Result<(), StoreError> {
    let stored = meta
        .get(META_SCHEMA_VERSION)?
        .map(|value| value.value().to_vec());
    match stored {
        None => {
            meta.insert(META_SCHEMA_VERSION, SCHEMA_VERSION.to_be_bytes().as_slice())?;
            Ok(())
        }
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes.as_slice())
                .map(u32::from_be_bytes)
                .map_err(|_| corrupt_meta(META_SCHEMA_VERSION, bytes.len()))?;
            if found == SCHEMA_VERSION {
                Ok(())
            } else {
                Err(StoreError::SchemaVersion {
                    found,
                    expected: SCHEMA_VERSION,
                })
            }
        }
    }
}

fn load_or_make_secret(
    meta: &mut redb::Table<&str, &[u8]>,
) -> Result<[u8; SERVER_SECRET_LEN], StoreError> {
    let stored = meta
        .get(META_SERVER_SECRET)?
        .map(|value| value.value().to_vec());
    if let Some(bytes) = stored {
        return <[u8; SERVER_SECRET_LEN]>::try_from(bytes.as_slice())
            .map_err(|_| corrupt_meta(META_SERVER_SECRET, bytes.len()));
    }
    let mut secret = [0u8; SERVER_SECRET_LEN];
    getrandom::fill(&mut secret).map_err(|err| StoreError::Random(err.to_string()))?;
    meta.insert(META_SERVER_SECRET, secret.as_slice())?;
    Ok(secret)
}

fn corrupt_meta(key: &str, len: usize) -> StoreError {
    StoreError::Corrupt {
        what: "meta",
        detail: format!("{key} has {len} bytes"),
    }
}

/// Returns the current time in milliseconds since the Unix epoch, UTC.
fn now_ms() -> i64 {
    clock::system_now_ms()
}

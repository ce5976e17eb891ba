//! Online backup and offline restore of the database file.
//!
//! A backup is one read transaction of the live database copied table by table into a
//! new redb file, so it contains exactly the state of one moment while writers go on. The
//! copy is written to a new `FILE.tmp-<random>`, committed (which syncs it), synced again
//! and then given its name, so a file under the final name is always a whole backup.
//! A backup never goes over the live database or the files beside it.
//!
//! A restore first reads and decodes every record of the backup ([`verify_backup`]), so a
//! damaged backup is refused before it replaces anything.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use redb::{
    Database, Key, MultimapTableHandle, ReadOnlyDatabase, ReadTransaction, ReadableDatabase,
    ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle, Value, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::tables::{
    ACCOUNT_NAMES, ACCOUNT_SESSIONS, ACCOUNTS, COMPLETED, DEVICES, FILES, INBOX, KEY_RECORDS,
    KNOWN_SIGN_INS, LINKS, LINKS_BY_FILE, LINKS_BY_OWNER, LOGIN_FAILURES, META,
    META_SCHEMA_VERSION, PARTS, RESERVATIONS, SCHEMA_VERSION, SENT, SESSION_ACCOUNTS, SESSIONS,
    TICKETS, TICKETS_BY_LINK, UPLOAD_PARTS, USAGE,
};
use super::{Store, StoreError};

/// The contents of a backup, counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    /// Account records, tombstones of deleted accounts included.
    pub accounts: u64,
    /// Files, pending or complete.
    pub files: u64,
    /// Ciphertext bytes of every stored part.
    pub part_bytes: u64,
    pub tables: u64,
    pub schema_version: u32,
}

/// A failed backup or restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{} already exists; choose another file or pass --force to replace it", .0.display())]
    Exists(PathBuf),
    #[error("table {0:?} of the database is unknown to the backup; update the server")]
    UnknownTable(String),
    #[error("{} is not a readable database backup: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error(
        "the database {} is open in a running server; stop the server first (systemctl stop dtc-server)",
        .0.display()
    )]
    InUse(PathBuf),
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "failed to give {} the owner of the database it replaces: {source}; run the restore as \
         the server's user or as root",
        path.display()
    )]
    Owner {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is the server's database or a file beside it in the data directory; choose a \
         path outside the database file, e.g. {}",
        dest.display(), example.display()
    )]
    IntoDatabase { dest: PathBuf, example: PathBuf },
    #[error(
        "{} is a directory; name the backup file inside it, e.g. {}",
        .0.display(), .0.join("dtc-backup.redb").display()
    )]
    IsDirectory(PathBuf),
    #[error("{} exists and is not a regular file; choose another path", .0.display())]
    NotAFile(PathBuf),
    #[error("backup {} is damaged ({detail}); use another backup", path.display())]
    Damaged { path: PathBuf, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn store_err(err: impl Into<redb::Error>) -> BackupError {
    BackupError::Store(StoreError::Database(err.into()))
}

impl Store {
    /// Writes a consistent copy of the database to `dest`. An existing `dest` is kept
    /// (the call fails) unless `force` is set.
    pub async fn backup_to(
        &self,
        dest: PathBuf,
        force: bool,
    ) -> Result<BackupSummary, BackupError> {
        let inner = std::sync::Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            check_destination(&inner.path, &dest)?;
            let read = inner.db.begin_read().map_err(store_err)?;
            write_backup(&read, &dest, force)
        })
        .await
        .map_err(StoreError::from)?
    }
}

/// Copies the state of the read transaction `read` into a new database file at `dest`.
pub fn write_backup(
    read: &ReadTransaction,
    dest: &Path,
    force: bool,
) -> Result<BackupSummary, BackupError> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => return Err(BackupError::IsDirectory(dest.to_path_buf())),
        Ok(meta) if !meta.is_file() => return Err(BackupError::NotAFile(dest.to_path_buf())),
        Ok(_) if !force => return Err(BackupError::Exists(dest.to_path_buf())),
        _ => {}
    }
    let tmp = temporary_path(dest)?;
    let written = copy_into(read, &tmp).and_then(|summary| {
        File::open(&tmp)
            .and_then(|file| file.sync_all())
            .map_err(io("sync", &tmp))?;
        publish(&tmp, dest, force)?;
        Ok(summary)
    });
    if written.is_err() {
        // The name is unique to this backup, so whatever is under it is ours.
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Rejects a backup destination that is the database `database` or a file beside it
/// whose name starts with the database's, such as its temporary copies and the
/// databases a restore moved aside. Paths are compared canonicalized, and also by
/// device and inode when `dest` exists.
fn check_destination(database: &Path, dest: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::MetadataExt;

    let data_dir = database.parent().unwrap_or(Path::new("."));
    let refuse = || BackupError::IntoDatabase {
        dest: dest.to_path_buf(),
        example: data_dir.join("backups").join("NAME.redb"),
    };
    if let (Ok(a), Ok(b)) = (fs::metadata(database), fs::metadata(dest))
        && (a.dev(), a.ino()) == (b.dev(), b.ino())
    {
        return Err(refuse());
    }
    let (Some(dest_dir), Some(dest_name)) = (dest.parent(), dest.file_name()) else {
        return Ok(());
    };
    let dest_dir = if dest_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dest_dir
    };
    let same_dir = match (fs::canonicalize(dest_dir), fs::canonicalize(data_dir)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let database_name = database.file_name().unwrap_or_default().as_encoded_bytes();
    if same_dir && dest_name.as_encoded_bytes().starts_with(database_name) {
        return Err(refuse());
    }
    Ok(())
}

/// Returns a new name `FILE.tmp-<random>` beside `FILE`, which no other file has.
fn temporary_path(dest: &Path) -> Result<PathBuf, BackupError> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|err| StoreError::Random(err.to_string()))?;
    let mut name = dest.as_os_str().to_owned();
    name.push(format!(".tmp-{:016x}", u64::from_be_bytes(random)));
    Ok(PathBuf::from(name))
}

/// Creates `path`, which must not exist, with mode 0600 whatever the umask.
fn create_private(path: &Path) -> Result<File, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("create", path))?;
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(io("set the mode of", path))?;
    Ok(file)
}

fn copy_into(read: &ReadTransaction, tmp: &Path) -> Result<BackupSummary, BackupError> {
    // The backup has the server secret and the sessions, so only its owner may read it:
    // the file is made with mode 0600 before any data goes in, whatever the umask.
    create_private(tmp)?;
    let db = Database::create(tmp).map_err(|err| BackupError::Io {
        action: "create",
        path: tmp.to_path_buf(),
        source: std::io::Error::other(err.to_string()),
    })?;
    let write = db.begin_write().map_err(store_err)?;
    let copied = copy_tables(read, &write)?;
    check_no_other_table(read, &copied)?;
    write.commit().map_err(store_err)?;

    let read_copy = db.begin_read().map_err(store_err)?;
    let summary = summarize(&read_copy, copied.len() as u64)?;
    drop(read_copy);
    drop(db);
    Ok(summary)
}

/// Gives the finished copy its name: a rename over `dest` with `force`, else a hard
/// link that fails when `dest` appeared meanwhile. Then syncs the directory.
fn publish(tmp: &Path, dest: &Path, force: bool) -> Result<(), BackupError> {
    if force {
        fs::rename(tmp, dest).map_err(io("rename the backup to", dest))?;
    } else {
        match fs::hard_link(tmp, dest) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let _ = fs::remove_file(tmp);
                return Err(BackupError::Exists(dest.to_path_buf()));
            }
            Err(err) => return Err(io("name the backup", dest)(err)),
        }
        fs::remove_file(tmp).map_err(io("remove", tmp))?;
    }
    sync_parent(dest)
}

/// Syncs the directory of `path`, so a rename in it survives a power cut.
pub fn sync_parent(path: &Path) -> Result<(), BackupError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io("sync the directory", parent))
}

/// Copies every table of the schema and returns the names copied.
fn copy_tables(
    read: &ReadTransaction,
    write: &WriteTransaction,
) -> Result<Vec<String>, BackupError> {
    let mut copied = Vec::new();
    copy_table(read, write, META, &mut copied)?;
    copy_table(read, write, ACCOUNTS, &mut copied)?;
    copy_table(read, write, ACCOUNT_NAMES, &mut copied)?;
    copy_table(read, write, FILES, &mut copied)?;
    copy_table(read, write, PARTS, &mut copied)?;
    copy_table(read, write, UPLOAD_PARTS, &mut copied)?;
    copy_table(read, write, KEY_RECORDS, &mut copied)?;
    copy_table(read, write, INBOX, &mut copied)?;
    copy_table(read, write, SENT, &mut copied)?;
    copy_table(read, write, SESSIONS, &mut copied)?;
    copy_table(read, write, LINKS, &mut copied)?;
    copy_table(read, write, LINKS_BY_OWNER, &mut copied)?;
    copy_table(read, write, LINKS_BY_FILE, &mut copied)?;
    copy_table(read, write, TICKETS, &mut copied)?;
    copy_table(read, write, RESERVATIONS, &mut copied)?;
    copy_table(read, write, TICKETS_BY_LINK, &mut copied)?;
    copy_table(read, write, LOGIN_FAILURES, &mut copied)?;
    copy_table(read, write, KNOWN_SIGN_INS, &mut copied)?;
    copy_table(read, write, SESSION_ACCOUNTS, &mut copied)?;
    copy_table(read, write, ACCOUNT_SESSIONS, &mut copied)?;
    copy_table(read, write, USAGE, &mut copied)?;
    copy_table(read, write, COMPLETED, &mut copied)?;
    copy_table(read, write, DEVICES, &mut copied)?;
    Ok(copied)
}

fn copy_table<K: Key + 'static, V: Value + 'static>(
    read: &ReadTransaction,
    write: &WriteTransaction,
    definition: TableDefinition<K, V>,
    copied: &mut Vec<String>,
) -> Result<(), BackupError> {
    copied.push(definition.name().to_owned());
    let source = match read.open_table(definition) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(err) => return Err(store_err(err)),
    };
    let mut target = write.open_table(definition).map_err(store_err)?;
    for entry in source.iter().map_err(store_err)? {
        let (key, value) = entry.map_err(store_err)?;
        target
            .insert(key.value(), value.value())
            .map_err(store_err)?;
    }
    Ok(())
}

/// Fails when the database has a table that [`copy_tables`] does not know, so that a
/// table added later cannot be left out of backups silently.
fn check_no_other_table(read: &ReadTransaction, copied: &[String]) -> Result<(), BackupError> {
    for table in read.list_tables().map_err(store_err)? {
        if !copied.iter().any(|name| name == table.name()) {
            return Err(BackupError::UnknownTable(table.name().to_owned()));
        }
    }
    if let Some(table) = read.list_multimap_tables().map_err(store_err)?.next() {
        return Err(BackupError::UnknownTable(table.name().to_owned()));
    }
    Ok(())
}

fn summarize(read: &ReadTransaction, tables: u64) -> Result<BackupSummary, BackupError> {
    let schema_version = read_schema_version(read)?;
    let accounts = read
        .open_table(ACCOUNTS)
        .map_err(store_err)?
        .len()
        .map_err(store_err)?;
    let files = read
        .open_table(FILES)
        .map_err(store_err)?
        .len()
        .map_err(store_err)?;
    let mut part_bytes = 0u64;
    for entry in read
        .open_table(PARTS)
        .map_err(store_err)?
        .iter()
        .map_err(store_err)?
    {
        part_bytes += entry.map_err(store_err)?.1.value().len() as u64;
    }
    Ok(BackupSummary {
        accounts,
        files,
        part_bytes,
        tables,
        schema_version,
    })
}

fn read_schema_version(read: &ReadTransaction) -> Result<u32, BackupError> {
    let meta = read.open_table(META).map_err(store_err)?;
    let stored = meta.get(META_SCHEMA_VERSION).map_err(store_err)?;
    let found = stored
        .and_then(|value| <[u8; 4]>::try_from(value.value()).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| StoreError::Corrupt {
            what: "meta",
            detail: format!("{META_SCHEMA_VERSION} is missing or malformed"),
        })?;
    if found != SCHEMA_VERSION {
        return Err(StoreError::SchemaVersion {
            found,
            expected: SCHEMA_VERSION,
        }
        .into());
    }
    Ok(found)
}

/// Opens a backup read-only and checks that it is a database of this schema version.
pub fn inspect_backup(path: &Path) -> Result<BackupSummary, BackupError> {
    open_backup(path, |_| Ok(()))
}

/// Opens a backup read-only, checks that it is a database of this schema version, and
/// reads and decodes every record of every table the way the server does, checking that
/// each index row points at an existing record. A panic of redb on a damaged file is
/// reported as [`BackupError::Damaged`], like a record that does not decode.
pub fn verify_backup(path: &Path) -> Result<BackupSummary, BackupError> {
    open_backup(path, verify)
}

fn open_backup(
    path: &Path,
    check: fn(&ReadTransaction) -> Result<(), String>,
) -> Result<BackupSummary, BackupError> {
    let unreadable = |source: StoreError| BackupError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let damaged = |detail: String| BackupError::Damaged {
        path: path.to_path_buf(),
        detail,
    };
    catch_damage(|| {
        let db = ReadOnlyDatabase::open(path).map_err(|err| unreadable(StoreError::from(err)))?;
        let read = db.begin_read().map_err(|err| unreadable(err.into()))?;
        let tables = read
            .list_tables()
            .map_err(|err| unreadable(err.into()))?
            .count() as u64;
        let summary = summarize(&read, tables).map_err(|err| match err {
            BackupError::Store(source) => unreadable(source),
            other => other,
        })?;
        check(&read).map_err(damaged)?;
        Ok(summary)
    })
    .map_err(|panic| damaged(format!("the database library failed reading it: {panic}")))?
}

thread_local! {
    /// Set while [`catch_damage`] runs on this thread, so that the panic hook keeps quiet.
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work`, which reads a database file that may be damaged, and returns the
/// message of a panic in it as the error. redb panics on some damaged files (such as
/// "Malformed allocator state"); such a panic is caught without being printed, while
/// panics elsewhere still reach the previous hook.
pub(super) fn catch_damage<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = CATCHING.with(|catching| catching.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CATCHING.with(|catching| catching.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".to_owned())
    })
}

/// Names a row in the message of a failed check.
fn row(table: &str, key: impl std::fmt::Display) -> impl FnOnce(String) -> String {
    let at = format!("table {table}, key {key}");
    move |detail| format!("{at}: {detail}")
}

fn text(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// Opens `definition` in `read` and calls `check` on every row; a missing table is
/// empty.
fn each_row<K: Key + 'static, V: Value + 'static>(
    read: &ReadTransaction,
    definition: TableDefinition<K, V>,
    mut check: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let name = definition.name();
    let table = match read.open_table(definition) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(err) => return Err(format!("table {name}: {err}")),
    };
    for entry in table.iter().map_err(|err| format!("table {name}: {err}"))? {
        let (key, value) = entry.map_err(|err| format!("table {name}: {err}"))?;
        check(key.value(), value.value())?;
    }
    Ok(())
}

/// Reads every row of every table, decodes the records and checks the references
/// between tables.
fn verify(read: &ReadTransaction) -> Result<(), String> {
    use std::collections::{HashMap, HashSet};

    use super::ids::{AccountId, FileId, LinkId};
    use super::records::{self, AccountRecord, FileRecord, KeyRecord, LinkRecord};
    use super::tables::META_SERVER_SECRET;

    each_row(read, META, |key, value| {
        if key == META_SERVER_SECRET && value.len() != 32 {
            return Err(row("meta", key)(format!("{} bytes, not 32", value.len())));
        }
        Ok(())
    })?;

    let mut accounts: HashMap<AccountId, String> = HashMap::new();
    each_row(read, ACCOUNTS, |key, value| {
        let at = || row("accounts", format!("{key:?}"));
        let account: AccountRecord = records::decode("accounts", value)
            .map_err(text)
            .map_err(at())?;
        let expected = if key.starts_with('~') {
            format!("~{}", account.id)
        } else {
            account.username.clone()
        };
        if key != expected {
            return Err(at()(format!("the record is of {expected:?}")));
        }
        accounts.insert(account.id, key.to_owned());
        Ok(())
    })?;
    let mut named = 0usize;
    each_row(read, ACCOUNT_NAMES, |id, name| {
        let id = AccountId(id);
        if accounts.get(&id).map(String::as_str) != Some(name) {
            return Err(row("account_names", id)(format!(
                "no account {name:?} with this id"
            )));
        }
        named += 1;
        Ok(())
    })?;
    if named != accounts.len() {
        return Err(format!(
            "table account_names: {named} names for {} accounts",
            accounts.len()
        ));
    }

    let mut files = HashSet::new();
    each_row(read, FILES, |key, value| {
        let at = || row("files", FileId(key));
        let file: FileRecord = records::decode("files", value)
            .map_err(text)
            .map_err(at())?;
        if file.id.0 != key {
            return Err(at()(format!("the record is of file {}", file.id)));
        }
        for account in [file.owner, file.recipient] {
            if !accounts.contains_key(&account) {
                return Err(at()(format!("account {account} does not exist")));
            }
        }
        files.insert(key);
        Ok(())
    })?;
    let file_exists = |table: &'static str, file: [u8; 16]| {
        if files.contains(&file) {
            Ok(())
        } else {
            Err(row(table, FileId(file))(
                "the file does not exist".to_owned(),
            ))
        }
    };
    each_row(read, PARTS, |(file, _), _| file_exists("parts", file))?;
    each_row(read, UPLOAD_PARTS, |(file, _), ()| {
        file_exists("upload_parts", file)
    })?;
    each_row(read, KEY_RECORDS, |(file, account), value| {
        records::decode::<KeyRecord>("key_records", value)
            .map_err(text)
            .map_err(row(
                "key_records",
                format!("{} {}", FileId(file), AccountId(account)),
            ))?;
        file_exists("key_records", file)
    })?;
    each_row(read, INBOX, |(_, _, file), ()| file_exists("inbox", file))?;
    each_row(read, SENT, |(_, _, file), ()| file_exists("sent", file))?;
    each_row(read, COMPLETED, |(_, file), ()| {
        file_exists("files_by_completion", file)
    })?;

    each_row(read, SESSIONS, |key, (_, record)| {
        let body: serde_json::Value = serde_json::from_slice(record)
            .map_err(text)
            .map_err(row("sessions", key))?;
        if !body.get("data").is_some_and(serde_json::Value::is_object) {
            return Err(row("sessions", key)("the record has no data".to_owned()));
        }
        Ok(())
    })?;

    let mut links = HashSet::new();
    each_row(read, LINKS, |key, value| {
        let at = || row("links", LinkId(key));
        let link: LinkRecord = records::decode("links", value)
            .map_err(text)
            .map_err(at())?;
        if link.id.0 != key {
            return Err(at()(format!("the record is of link {}", link.id)));
        }
        links.insert(key);
        Ok(())
    })?;
    let link_exists = |table: &'static str, link: [u8; 16]| {
        if links.contains(&link) {
            Ok(())
        } else {
            Err(row(table, LinkId(link))(
                "the link does not exist".to_owned(),
            ))
        }
    };
    each_row(read, LINKS_BY_OWNER, |(_, _, link), ()| {
        link_exists("links_by_owner", link)
    })?;
    each_row(read, LINKS_BY_FILE, |(_, link), ()| {
        link_exists("links_by_file", link)
    })?;

    // The rest have fixed-layout values; reading them is the check.
    each_row(read, TICKETS, |_, _| Ok(()))?;
    each_row(read, RESERVATIONS, |_, _| Ok(()))?;
    each_row(read, TICKETS_BY_LINK, |_, _| Ok(()))?;
    each_row(read, LOGIN_FAILURES, |_, _| Ok(()))?;
    each_row(read, KNOWN_SIGN_INS, |_, _| Ok(()))?;
    each_row(read, SESSION_ACCOUNTS, |_, _| Ok(()))?;
    each_row(read, ACCOUNT_SESSIONS, |_, _| Ok(()))?;
    each_row(read, USAGE, |_, _| Ok(()))?;
    each_row(read, DEVICES, |_, _| Ok(()))?;
    Ok(())
}

/// Returns the path a restore moves the replaced database to:
/// `dtc.redb.before-restore-<time>`.
fn aside_path(database: &Path, now: time::OffsetDateTime) -> PathBuf {
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut name = database.as_os_str().to_owned();
    name.push(format!(".before-restore-{stamp}"));
    PathBuf::from(name)
}

/// The result of a restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    pub backup: BackupSummary,
    /// The new path of the database that was replaced, if there was one.
    pub previous: Option<PathBuf>,
}

/// Puts the backup `from` in place of `database`, which no server may have open. The
/// old database is moved aside, never deleted; the backup file stays as it is.
pub fn restore(database: &Path, from: &Path) -> Result<Restored, BackupError> {
    // A FIFO or a device would block the read or never end it.
    match fs::metadata(from) {
        Ok(meta) if meta.is_dir() => return Err(BackupError::IsDirectory(from.to_path_buf())),
        Ok(meta) if !meta.is_file() => return Err(BackupError::NotAFile(from.to_path_buf())),
        _ => {}
    }
    let backup = verify_backup(from)?;
    // Holding the old database open keeps a server from opening it meanwhile.
    let current = if database.exists() {
        match catch_damage(|| Database::open(database)) {
            Ok(Ok(db)) => Some(db),
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(BackupError::InUse(database.to_path_buf()));
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the current database does not open; moving it aside");
                None
            }
            Err(panic) => {
                tracing::warn!(error = %panic, "the current database is damaged; moving it aside");
                None
            }
        }
    } else {
        None
    };

    let tmp = temporary_path(database)?;
    let copied = copy_file(from, &tmp)
        .and_then(|()| check_integrity(from, &tmp))
        .and_then(|()| take_owner_and_mode(database, &tmp))
        .and_then(|()| {
            File::open(&tmp)
                .and_then(|file| file.sync_all())
                .map_err(io("sync", &tmp))
        });
    if let Err(err) = copied {
        let _ = fs::remove_file(&tmp);
        return Err(err);
    }

    let previous = if database.exists() {
        match keep_aside(database, time::OffsetDateTime::now_utc()) {
            Ok(aside) => Some(aside),
            Err(err) => {
                let _ = fs::remove_file(&tmp);
                return Err(err);
            }
        }
    } else {
        None
    };
    fs::rename(&tmp, database).map_err(io("put the backup in place at", database))?;
    sync_parent(database)?;
    drop(current);
    Ok(Restored { backup, previous })
}

/// Runs redb's integrity check, which verifies the page checksums, on the copy `copy`
/// of the backup `from`. A copy that fails it, even one redb could repair, is damaged.
fn check_integrity(from: &Path, copy: &Path) -> Result<(), BackupError> {
    let damaged = |detail: String| BackupError::Damaged {
        path: from.to_path_buf(),
        detail,
    };
    let checked = catch_damage(|| {
        let mut db = Database::open(copy)?;
        db.check_integrity()
    })
    .map_err(|panic| damaged(format!("the database library failed checking it: {panic}")))?;
    match checked {
        Ok(true) => Ok(()),
        Ok(false) => Err(damaged("its page checksums do not match".to_owned())),
        Err(err) => Err(damaged(format!("the integrity check failed: {err}"))),
    }
}

/// Keeps the database under a new name beside it, `dtc.redb.before-restore-<time>`
/// or, when a restore in the same second took that name, with `-2`, `-3` … appended.
/// The new name is a hard link, which never replaces an existing file, so the
/// database keeps its own name until the backup is renamed over it.
fn keep_aside(database: &Path, now: time::OffsetDateTime) -> Result<PathBuf, BackupError> {
    let first = aside_path(database, now);
    for attempt in 1..=100u32 {
        let aside = if attempt == 1 {
            first.clone()
        } else {
            let mut name = first.as_os_str().to_owned();
            name.push(format!("-{attempt}"));
            PathBuf::from(name)
        };
        match fs::hard_link(database, &aside) {
            Ok(()) => return Ok(aside),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(io("keep the current database as", &aside)(err)),
        }
    }
    Err(io("keep the current database as", &first)(
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "100 files of this second exist already; move some of them away",
        ),
    ))
}

/// Copies `from` into the new file `to`.
fn copy_file(from: &Path, to: &Path) -> Result<(), BackupError> {
    let mut source = File::open(from).map_err(io("open", from))?;
    let mut target = create_private(to)?;
    std::io::copy(&mut source, &mut target).map_err(io("copy the backup to", to))?;
    Ok(())
}

/// Gives the restored copy the owner and mode of the database it replaces (or the
/// owner of the data directory and mode 0600), so that the server's user can open it
/// when root runs the restore.
fn take_owner_and_mode(database: &Path, copy: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let (model, mode) = match fs::metadata(database) {
        Ok(meta) => (meta.clone(), meta.mode() & 0o7777),
        Err(_) => {
            let dir = database.parent().unwrap_or(Path::new("."));
            let meta = fs::metadata(dir).map_err(io("read the owner of", dir))?;
            (meta, 0o600)
        }
    };
    let current = fs::metadata(copy).map_err(io("read the owner of", copy))?;
    if (current.uid(), current.gid()) != (model.uid(), model.gid()) {
        std::os::unix::fs::chown(copy, Some(model.uid()), Some(model.gid())).map_err(|source| {
            BackupError::Owner {
                path: copy.to_path_buf(),
                source,
            }
        })?;
    }
    fs::set_permissions(copy, fs::Permissions::from_mode(mode)).map_err(io("set the mode of", copy))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store_in(dir: &Path) -> Store {
        Store::open(dir.join("dtc.redb")).await.unwrap()
    }

    #[tokio::test]
    async fn backup_rejects_a_table_it_does_not_know() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let stray: TableDefinition<u8, u8> = TableDefinition::new("stray");
        let txn = store.inner.db.begin_write().unwrap();
        txn.open_table(stray).unwrap().insert(1, 2).unwrap();
        txn.commit().unwrap();

        let dest = dir.path().join("backup.redb");
        let err = store.backup_to(dest.clone(), false).await.unwrap_err();
        assert!(
            matches!(&err, BackupError::UnknownTable(name) if name == "stray"),
            "{err}"
        );
        assert!(!dest.exists());
        assert_eq!(temporary_files(&dest), Vec::<String>::new());
    }

    #[tokio::test]
    async fn backup_keeps_an_existing_file_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let dest = dir.path().join("backup.redb");
        fs::write(&dest, b"older backup").unwrap();

        let err = store.backup_to(dest.clone(), false).await.unwrap_err();
        assert!(matches!(err, BackupError::Exists(_)), "{err}");
        assert_eq!(fs::read(&dest).unwrap(), b"older backup");

        let summary = store.backup_to(dest.clone(), true).await.unwrap();
        assert_eq!(summary.schema_version, SCHEMA_VERSION);
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&dest).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(inspect_backup(&dest).unwrap(), summary);
        assert_eq!(temporary_files(&dest), Vec::<String>::new());
    }

    /// Returns the names of the temporary copies left beside `dest`.
    fn temporary_files(dest: &Path) -> Vec<String> {
        let prefix = format!("{}.tmp", dest.file_name().unwrap().to_str().unwrap());
        fs::read_dir(dest.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with(&prefix))
            .collect()
    }

    #[test]
    fn aside_path_names_the_utc_time() {
        let time = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
        let path = aside_path(Path::new("/data/dtc.redb"), time);
        assert_eq!(
            path,
            PathBuf::from("/data/dtc.redb.before-restore-20260528T202640Z")
        );
    }

    /// Makes a database in `dir` with `blob` stored in the meta table, which the
    /// record checks of a restore do not read, backs it up and closes it, and returns
    /// the paths of the database and the backup.
    async fn closed_database_and_backup(dir: &Path, blob: &[u8]) -> (PathBuf, PathBuf) {
        let store = store_in(dir).await;
        let txn = store.inner.db.begin_write().unwrap();
        txn.open_table(META).unwrap().insert("blob", blob).unwrap();
        txn.commit().unwrap();
        let backup = dir.join("backup.redb");
        store.backup_to(backup.clone(), false).await.unwrap();
        assert!(store.close().await.unwrap());
        (dir.join("dtc.redb"), backup)
    }

    #[tokio::test]
    async fn restores_in_one_second_keep_every_database() {
        let dir = tempfile::tempdir().unwrap();
        let (database, _) = closed_database_and_backup(dir.path(), b"").await;
        let now = time::OffsetDateTime::now_utc();

        let mut kept = Vec::new();
        for _ in 0..3 {
            let before = fs::read(&database).unwrap();
            let aside = keep_aside(&database, now).unwrap();
            assert_eq!(fs::read(&aside).unwrap(), before);
            kept.push(aside);
        }
        assert_eq!(kept[1], PathBuf::from(format!("{}-2", kept[0].display())));
        assert_eq!(kept[2], PathBuf::from(format!("{}-3", kept[0].display())));
        assert!(database.is_file());
    }

    #[tokio::test]
    async fn two_restores_keep_both_databases() {
        let dir = tempfile::tempdir().unwrap();
        let (database, backup) = closed_database_and_backup(dir.path(), b"").await;
        let first = restore(&database, &backup).unwrap().previous.unwrap();
        let second = restore(&database, &backup).unwrap().previous.unwrap();
        assert_ne!(first, second);
        assert!(first.is_file());
        assert!(second.is_file());
        assert!(database.is_file());
    }

    #[tokio::test]
    async fn restore_rejects_a_flipped_byte_in_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let blob = [0x5a; 8192];
        let (database, backup) = closed_database_and_backup(dir.path(), &blob).await;
        let mut bytes = fs::read(&backup).unwrap();
        let at = bytes
            .windows(blob.len())
            .position(|window| window == blob)
            .expect("the value is stored in one piece");
        bytes[at + 100] ^= 1;
        fs::write(&backup, &bytes).unwrap();

        let err = restore(&database, &backup).unwrap_err();
        assert!(matches!(err, BackupError::Damaged { .. }), "{err}");
        let db = ReadOnlyDatabase::open(&database).unwrap();
        let read = db.begin_read().unwrap();
        let meta = read.open_table(META).unwrap();
        let kept = meta.get("blob").unwrap().unwrap();
        assert!(kept.value() == blob, "the database was changed");
        assert_eq!(temporary_files(&database), Vec::<String>::new());
    }

    #[test]
    fn restore_rejects_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("backup.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = restore(&dir.path().join("dtc.redb"), &fifo).unwrap_err();
        assert!(matches!(err, BackupError::NotAFile(_)), "{err}");
        assert!(!dir.path().join("dtc.redb").exists());
    }

    /// The restored file gets the owner and mode of the database it replaces. Changing
    /// the owner needs root, so the test runs only as root.
    #[tokio::test]
    async fn restore_keeps_the_owner_and_mode_of_the_database() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};

        if fs::metadata("/proc/self").map(|meta| meta.uid()).ok() != Some(0) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let backup = dir.path().join("backup.redb");
        store.backup_to(backup.clone(), false).await.unwrap();
        assert!(store.close().await.unwrap());
        let database = dir.path().join("dtc.redb");
        std::os::unix::fs::chown(&database, Some(65534), Some(65534)).unwrap();
        fs::set_permissions(&database, fs::Permissions::from_mode(0o640)).unwrap();

        let restored = restore(&database, &backup).unwrap();
        let meta = fs::metadata(&database).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert!(restored.previous.unwrap().is_file());
    }

    #[test]
    fn temporary_path_adds_random_suffix() {
        let first = temporary_path(Path::new("/b/dtc.bak")).unwrap();
        let second = temporary_path(Path::new("/b/dtc.bak")).unwrap();
        let suffix = first
            .to_str()
            .unwrap()
            .strip_prefix("/b/dtc.bak.tmp-")
            .unwrap();
        assert_eq!(suffix.len(), 16);
        assert!(
            suffix.bytes().all(|byte| byte.is_ascii_hexdigit()),
            "{suffix}"
        );
        assert_ne!(first, second);
    }
}

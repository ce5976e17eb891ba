//! Table definitions and key layouts. Only the store opens these tables.
//!
//! Ids are stored as their 16 raw bytes. Record values are JSON documents (see
//! `records.rs`) so that a field can be added without a migration; part bodies are the
//! raw ciphertext bytes.

use redb::TableDefinition;

use super::ids::ID_LEN;

/// Raw id bytes as stored in keys.
pub type IdBytes = [u8; ID_LEN];

/// Version of the table layout and record encodings in this file. Opening a database
/// written with another version fails instead of misreading it.
pub const SCHEMA_VERSION: u32 = 1;

/// Settings of the database itself: [`META_SCHEMA_VERSION`] and [`META_SERVER_SECRET`].
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Key in [`META`] of the schema version, a big-endian u32.
pub const META_SCHEMA_VERSION: &str = "schema_version";
/// Key in [`META`] of the 32 random bytes made at first start.
pub const META_SERVER_SECRET: &str = "server_secret";

/// Normalized username → account record (JSON).
pub const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// Account id → normalized username, to resolve the ids in file records.
pub const ACCOUNT_NAMES: TableDefinition<IdBytes, &str> = TableDefinition::new("account_names");

/// File id → file record (JSON).
pub const FILES: TableDefinition<IdBytes, &[u8]> = TableDefinition::new("files");
/// (file id, part index) → part ciphertext. A part longer than 4 MiB less 4 KiB is
/// stored as that head under its index and the rest under the index with bit 31 set.
pub const PARTS: TableDefinition<(IdBytes, u32), &[u8]> = TableDefinition::new("parts");
/// (file id, part index) for every stored part of a pending upload, so that the stored
/// parts are listed without reading their bodies from [`PARTS`]. Finishing or deleting
/// the upload deletes its rows.
pub const UPLOAD_PARTS: TableDefinition<(IdBytes, u32), ()> = TableDefinition::new("upload_parts");
/// (file id, recipient account id) → key-exchange record (JSON).
pub const KEY_RECORDS: TableDefinition<(IdBytes, IdBytes), &[u8]> =
    TableDefinition::new("key_records");

/// (recipient account id, completion time in ms, file id) for complete files, oldest first.
pub const INBOX: TableDefinition<(IdBytes, i64, IdBytes), ()> = TableDefinition::new("inbox");
/// (sender account id, completion time in ms, file id) for complete files, oldest first.
pub const SENT: TableDefinition<(IdBytes, i64, IdBytes), ()> = TableDefinition::new("sent");

/// First 16 bytes of SHA-256 of a session id → (expiry in Unix seconds, tower-sessions
/// record as JSON). The id itself is never stored.
pub const SESSIONS: TableDefinition<i128, (i64, &[u8])> = TableDefinition::new("sessions");

/// Link id → link record (JSON).
pub const LINKS: TableDefinition<IdBytes, &[u8]> = TableDefinition::new("links");
/// (owner account id, creation time in ms, link id) for every link, oldest first.
pub const LINKS_BY_OWNER: TableDefinition<(IdBytes, i64, IdBytes), ()> =
    TableDefinition::new("links_by_owner");
/// (file id, link id) for every link, so that deleting a file finds its links.
pub const LINKS_BY_FILE: TableDefinition<(IdBytes, IdBytes), ()> =
    TableDefinition::new("links_by_file");
/// SHA-256 of a download ticket → [`TicketValue`]. The ticket itself is never stored.
pub const TICKETS: TableDefinition<TicketBytes, TicketValue> = TableDefinition::new("tickets");
/// (link id, SHA-256 of the ticket) → ticket expiry in ms, the same as in [`TICKETS`], so
/// that a link's live tickets can be counted and deleted with it.
pub const TICKETS_BY_LINK: TableDefinition<(IdBytes, TicketBytes), i64> =
    TableDefinition::new("tickets_by_link");
/// (link id, SHA-256 of the ticket, generation) → [`ReservationValue`] for every
/// reservation of the last part that is not settled yet.
pub const RESERVATIONS: TableDefinition<ReservationKey, ReservationValue> =
    TableDefinition::new("link_reservations");

/// A ticket: (link id, issue time in ms, expiry in ms, whether a download of this ticket
/// was counted). The expiry slides to 30 minutes after each use, but never past 6 hours
/// after issue.
pub type TicketValue = (IdBytes, i64, i64, bool);

/// The key of a reservation. The generation is a random number of each reservation, so
/// that a response started under one reservation never acts on a later one of the same
/// ticket.
pub type ReservationKey = (IdBytes, TicketBytes, u64);

/// A reservation: (expiry in ms, starts of the last part, last-part responses in flight,
/// whether one of them was sent to its end, whether it was confirmed and counted).
pub type ReservationValue = (i64, u32, u32, bool, bool);

/// Raw ticket bytes as stored in keys.
pub type TicketBytes = [u8; TICKET_LEN];
/// Length of a download ticket in bytes.
pub const TICKET_LEN: usize = 32;

/// Account id → (ciphertext bytes, file count) of the files the account sent that
/// still exist, finished and pending. Every transaction that creates, deletes or
/// expires a file updates it, so that it always equals a recount of [`FILES`].
pub const USAGE: TableDefinition<IdBytes, (u64, u64)> = TableDefinition::new("account_usage");
/// (completion time in ms, file id) for complete files, oldest first, so that the sweep
/// finds the expired files without reading every file record.
pub const COMPLETED: TableDefinition<(i64, IdBytes), ()> =
    TableDefinition::new("files_by_completion");

/// The lowest and highest key of an index for one account.
pub fn account_index_range(account: IdBytes) -> std::ops::RangeInclusive<(IdBytes, i64, IdBytes)> {
    (account, i64::MIN, [0; ID_LEN])..=(account, i64::MAX, [0xff; ID_LEN])
}

/// Every part key of one file.
pub fn file_parts_range(file: IdBytes) -> std::ops::RangeInclusive<(IdBytes, u32)> {
    (file, 0)..=(file, u32::MAX)
}

/// Every key-record key of one file.
pub fn file_key_records_range(file: IdBytes) -> std::ops::RangeInclusive<(IdBytes, IdBytes)> {
    (file, [0; ID_LEN])..=(file, [0xff; ID_LEN])
}

/// Every key of an index on one id, such as the links of one file.
pub fn pair_range<T: Copy>(
    first: IdBytes,
    low: T,
    high: T,
) -> std::ops::RangeInclusive<(IdBytes, T)> {
    (first, low)..=(first, high)
}

/// Creates every table that does not exist yet, so that read transactions can open them.
/// A table added here must also be copied by `copy_tables` in `backup.rs`; a backup
/// fails on a table it does not copy.
pub fn create_all(txn: &redb::WriteTransaction) -> Result<(), redb::TableError> {
    txn.open_table(META)?;
    txn.open_table(ACCOUNTS)?;
    txn.open_table(ACCOUNT_NAMES)?;
    txn.open_table(FILES)?;
    txn.open_table(PARTS)?;
    txn.open_table(UPLOAD_PARTS)?;
    txn.open_table(KEY_RECORDS)?;
    txn.open_table(INBOX)?;
    txn.open_table(SENT)?;
    txn.open_table(SESSIONS)?;
    txn.open_table(LINKS)?;
    txn.open_table(LINKS_BY_OWNER)?;
    txn.open_table(LINKS_BY_FILE)?;
    txn.open_table(TICKETS)?;
    txn.open_table(RESERVATIONS)?;
    txn.open_table(TICKETS_BY_LINK)?;
    txn.open_table(LOGIN_FAILURES)?;
    txn.open_table(KNOWN_SIGN_INS)?;
    txn.open_table(SESSION_ACCOUNTS)?;
    txn.open_table(ACCOUNT_SESSIONS)?;
    txn.open_table(USAGE)?;
    txn.open_table(COMPLETED)?;
    txn.open_table(DEVICES)?;
    Ok(())
}

/// Keyed hash of one login-throttle count (see `throttle.rs`) → (failed attempts, time
/// of the last counted attempt in ms).
pub const LOGIN_FAILURES: TableDefinition<ThrottleKey, (u32, i64)> =
    TableDefinition::new("login_failures");
/// Keyed hash of (username, client address) of a past sign-in → time of the latest such
/// sign-in in ms. Neither the name nor the address is stored.
pub const KNOWN_SIGN_INS: TableDefinition<ThrottleKey, i64> =
    TableDefinition::new("login_known_addresses");
/// An HMAC-SHA256 tag under the server secret, the key of the throttle tables.
pub type ThrottleKey = [u8; 32];

/// Key of a signed-in session in [`SESSIONS`] → its account id.
pub const SESSION_ACCOUNTS: TableDefinition<i128, IdBytes> =
    TableDefinition::new("session_accounts");
/// (account id, key of the session in [`SESSIONS`]) for every signed-in session, so that
/// the sessions of one account can be ended together.
pub const ACCOUNT_SESSIONS: TableDefinition<(IdBytes, i128), ()> =
    TableDefinition::new("account_sessions");

/// Keyed hash of a device cookie (see `throttle.rs`) → (account id, expiry in ms). The
/// cookie itself is never stored.
pub const DEVICES: TableDefinition<ThrottleKey, (IdBytes, i64)> =
    TableDefinition::new("login_devices");

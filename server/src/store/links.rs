//! Share links: their records, the owner and file indexes, download tickets and
//! reservations. Each rule that depends on stored state (expiry, download limit,
//! reservation, password throttle) is checked in the write transaction that acts on
//! it, so concurrent requests cannot slip past it.
//!
//! A download counts against the limit in two steps. Serving the last part of a file
//! to a ticket first takes a reservation, allowed only while `used + open
//! reservations < limit`, where open means not yet confirmed or settled. Each
//! reservation has a random generation. Every last-part response carries the
//! generation it started under, so its end acts only on the reservation of that
//! generation, never on a later one of the same ticket. One reservation allows at most
//! [`MAX_LAST_PART_STARTS`] starts, and expires [`RESERVATION_LIFETIME`] after the
//! first; a last-part body stops with an error once that expiry has passed.
//!
//! A confirm counts the use at once. The reservation row stays, marked confirmed,
//! until its responses in flight have ended, so those finish as part of that use. A
//! reservation with responses in flight is settled only [`SETTLE_GRACE`] after its
//! expiry, because a reader that stops reading is never polled again (hyper does not
//! poll a body whose socket is not writable) and would otherwise hold its slot for the
//! link's whole lifetime. An expired unconfirmed reservation with no response in
//! flight, or one past the grace, counts as a use if one of its responses was sent to
//! the end, and is dropped otherwise. Expired reservations are settled by every write
//! on their link and by the sweep; reads compute the same result without writing it.
//! No response survives a restart: opening the store ends them all (see
//! [`end_responses_in_flight`]).
//!
//! A ticket expires [`TICKET_IDLE_LIFETIME`] after its last use (unlock, part,
//! confirm), and at the latest [`TICKET_LIFETIME`] after it was issued.
//!
//! Every write reads the clock after its write transaction began, because a request
//! may wait for the write lock and must not act on the time it arrived.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, Table, WriteTransaction};
use sha2::{Digest, Sha256};

use super::accounts::read_account_by_id;
use super::files::read_file;
use super::ids::{AccountId, FileId, LinkId};
use super::records::{self, FileRecord, FileState, LinkPassword, LinkRecord};
use super::tables::{
    ACCOUNT_NAMES, ACCOUNTS, FILES, IdBytes, LINKS, LINKS_BY_FILE, LINKS_BY_OWNER, RESERVATIONS,
    ReservationKey, ReservationValue, TICKET_LEN, TICKETS, TICKETS_BY_LINK, TicketBytes,
    TicketValue, account_index_range, pair_range,
};
use super::{Inner, Store, StoreError};

/// Most links one file may have, dead ones included until the sweep removes them.
pub const MAX_LINKS_PER_FILE: u64 = 50;
/// Maximum time a ticket from unlocking a link may fetch parts and confirm.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(6 * 60 * 60);
/// How long a ticket lives after its last use, so that the tickets of pages opened and
/// left do not hold the cap of a link for hours.
pub const TICKET_IDLE_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Minimum time between two stored renewals of a ticket's idle expiry, so that part
/// requests need not write each time.
const TICKET_RENEWAL_STEP_MS: i64 = 60 * 1000;
/// Most live tickets one link may have, so that unlocking again and again cannot fill
/// the database.
pub const MAX_TICKETS_PER_LINK: usize = 200;
/// How long a reservation for a last part lasts from its first start. A last-part body
/// still being sent then stops with an error.
pub const RESERVATION_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long after its expiry a reservation is settled even with responses in flight.
/// No body of it hands out its final piece after the expiry it captured, and the
/// grace covers a mark-delivered write spawned just before that expiry.
pub const SETTLE_GRACE: Duration = Duration::from_secs(60);
/// Most times one reservation may start sending the last part, so that a page can
/// retry after a dropped connection but cannot fetch the file again and again.
pub const MAX_LAST_PART_STARTS: u32 = 3;
/// How long a dead link stays listed for its owner before the sweep removes it.
pub const DEAD_LINK_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Wrong access keys in a row that need no wait before the next attempt.
const FREE_FAILURES: u32 = 4;
/// Maximum wait between attempts after wrong access keys, in seconds.
const MAX_THROTTLE_DELAY_SECS: u64 = 300;

/// Returns the wait in seconds after `failures` wrong access keys in a row: none for
/// the first four, then `2^(failures - 4)`, at most 300.
pub fn throttle_delay_secs(failures: u32) -> u64 {
    if failures <= FREE_FAILURES {
        return 0;
    }
    1u64.checked_shl(failures - FREE_FAILURES)
        .unwrap_or(u64::MAX)
        .min(MAX_THROTTLE_DELAY_SECS)
}

/// The fields of a new link; the caller has checked their forms and ranges.
#[derive(Clone, Debug)]
pub struct NewLink {
    pub id: LinkId,
    pub file: FileId,
    pub owner: AccountId,
    pub expires_in_secs: u64,
    pub download_limit: u32,
    /// SHA-256 of the gate key.
    pub gate_verifier: Vec<u8>,
    /// SHA-256 of the access key.
    pub verifier: Vec<u8>,
    pub password: Option<LinkPassword>,
    pub wrapped_key: Vec<u8>,
    pub sealed_secret: Vec<u8>,
}

/// The state of a link at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Active,
    Expired,
    UsedUp,
    Revoked,
}

/// A link with its counts settled at one moment.
#[derive(Clone, Debug)]
pub struct LinkView {
    pub link: LinkRecord,
    pub state: LinkState,
    /// Complete downloads, including expired reservations whose last part went out.
    pub downloads_used: u32,
    /// Reservations neither confirmed nor settled.
    pub downloads_in_progress: u32,
}

/// A download ticket: 32 random bytes, as unpadded base64url in requests. `Debug`
/// prints no bytes, so a ticket cannot reach a log by accident.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ticket(TicketBytes);

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ticket([redacted])")
    }
}

impl Ticket {
    fn random() -> Result<Ticket, StoreError> {
        let mut bytes = [0u8; TICKET_LEN];
        getrandom::fill(&mut bytes).map_err(|err| StoreError::Random(err.to_string()))?;
        Ok(Ticket(bytes))
    }

    /// Parses the text form; any other text is `None`.
    pub fn parse(text: &str) -> Option<Ticket> {
        let bytes = URL_SAFE_NO_PAD.decode(text.as_bytes()).ok()?;
        TicketBytes::try_from(bytes.as_slice()).ok().map(Ticket)
    }

    /// Returns the text form, for the client alone.
    pub fn expose_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Returns SHA-256 of the ticket, the only form stored, so that a copy of the
    /// database contains no usable ticket.
    fn key(&self) -> TicketBytes {
        Sha256::digest(self.0).into()
    }
}

/// The result of unlocking a link: a fresh ticket and the data the download needs.
#[derive(Debug)]
pub struct Unlocked {
    pub ticket: Ticket,
    pub link: LinkRecord,
    pub file: FileRecord,
    pub sender: String,
    /// Downloads left before this one, counting those in progress.
    pub downloads_left: u32,
}

/// A reservation taken for one last-part response: the generation that response acts
/// on when it ends, and the time its body must stop by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reserved {
    pub generation: u64,
    pub expires_at_ms: i64,
}

/// Counts of the rows one sweep of the link tables removed or settled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweptLinks {
    pub links: u64,
    pub tickets: u64,
    pub reservations: u64,
}

impl Store {
    /// Stores a new link for a complete file of its owner.
    pub async fn create_link(&self, new: NewLink) -> Result<LinkView, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            let link = insert_link(inner, &txn, new, now)?;
            txn.commit()?;
            Ok(view_of(link, Tally::default(), now))
        })
        .await
    }

    /// Lists the links of `owner`'s files, newest first, settled at the current time.
    pub async fn list_links(&self, owner: AccountId) -> Result<Vec<LinkView>, StoreError> {
        self.run(move |inner| {
            let now = inner.clock.now_ms();
            let txn = inner.db.begin_read()?;
            let index = txn.open_table(LINKS_BY_OWNER)?;
            let links = txn.open_table(LINKS)?;
            let reservations = txn.open_table(RESERVATIONS)?;
            let mut views = Vec::new();
            for entry in index.range(account_index_range(owner.0))?.rev() {
                let (key, _) = entry?;
                let id = LinkId(key.value().2);
                let link = read_link(&links, id)?.ok_or_else(|| dangling_index(id))?;
                let tally = tally(&reservations, id, now)?;
                views.push(view_of(link, tally, now));
            }
            Ok(views)
        })
        .await
    }

    /// Ends a link of `owner` now. Revoking it again changes nothing.
    pub async fn revoke_link(&self, owner: AccountId, id: LinkId) -> Result<(), StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            {
                let mut links = txn.open_table(LINKS)?;
                let mut link = match read_link(&links, id)? {
                    Some(link) if link.owner == owner => link,
                    _ => return Err(StoreError::LinkNotFound(id)),
                };
                if link.revoked_at_ms.is_none() {
                    link.revoked_at_ms = Some(now);
                    write_link(&mut links, &link)?;
                }
                txn.open_table(RESERVATIONS)?
                    .retain_in(reservations_of(id), |_, _| false)?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Returns the password parameters of a live link, or [`StoreError::LinkDead`].
    pub async fn open_link(&self, id: LinkId) -> Result<Option<LinkPassword>, StoreError> {
        self.run(move |inner| {
            let now = inner.clock.now_ms();
            let txn = inner.db.begin_read()?;
            let view = read_view(&txn, id, now)?;
            live(view).map(|view| view.link.password)
        })
        .await
    }

    /// Checks the gate key and the access key of a live link with `gate_matches` and
    /// `access_matches` (each given its stored verifier) and returns a new ticket.
    ///
    /// The gate key proves the link secret alone, so it is checked first, in a read
    /// transaction: a wrong one is [`StoreError::LinkDead`], writes nothing and never
    /// counts as a failure, so that someone who has only the link id cannot make a
    /// password link wait. A link without password has a 256-bit random access key, so
    /// a wrong key there is checked in the same read transaction and writes nothing
    /// either. On a password link the throttle applies behind the gate. While it is in
    /// force the access key is not checked. A wrong access key counts a failure, and a
    /// right one resets the count.
    pub async fn unlock_link(
        &self,
        id: LinkId,
        gate_matches: impl Fn(&[u8]) -> bool + Send + 'static,
        access_matches: impl Fn(&[u8]) -> bool + Send + 'static,
    ) -> Result<Unlocked, StoreError> {
        self.run(move |inner| {
            {
                let txn = inner.db.begin_read()?;
                let view = live(read_view(&txn, id, inner.clock.now_ms())?)?;
                if !gate_matches(&view.link.gate_verifier) {
                    return Err(StoreError::LinkDead);
                }
                if view.link.password.is_none() && !access_matches(&view.link.verifier) {
                    return Err(StoreError::LinkDead);
                }
            }
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            let unlocked = unlock(inner, &txn, id, gate_matches, access_matches, now);
            // A failure count must be stored even though the request fails.
            txn.commit()?;
            unlocked
        })
        .await
    }

    /// Returns the file behind a live link if `ticket` is a valid ticket of it, and
    /// moves the ticket's idle expiry forward.
    pub async fn link_file(&self, id: LinkId, ticket: Ticket) -> Result<FileRecord, StoreError> {
        self.run(move |inner| {
            let now = inner.clock.now_ms();
            let (file, stale) = {
                let txn = inner.db.begin_read()?;
                let stored = check_ticket(&txn.open_table(TICKETS)?, ticket, id, now)?;
                let view = live(read_view(&txn, id, now)?)?;
                let file = complete_file(inner, &txn.open_table(FILES)?, view.link.file, now)?;
                (
                    file,
                    renewed_expiry(stored, now) >= stored.2 + TICKET_RENEWAL_STEP_MS,
                )
            };
            if stale {
                let txn = inner.db.begin_write()?;
                touch_ticket(&txn, ticket, id, inner.clock.now_ms())?;
                txn.commit()?;
            }
            Ok(file)
        })
        .await
    }

    /// Takes the reservation that serving the last part needs and counts one response
    /// of it in flight. A ticket with an open reservation reuses it for at most
    /// [`MAX_LAST_PART_STARTS`] starts, else [`StoreError::LastPartStartsUsed`], and
    /// only until it expires, else [`StoreError::ReservationExpired`]. Otherwise a new
    /// reservation is taken only while the downloads used and open stay below the
    /// limit, else [`StoreError::LinkDead`].
    pub async fn reserve_download(
        &self,
        id: LinkId,
        ticket: Ticket,
    ) -> Result<Reserved, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            let reserved = reserve(&txn, id, ticket, now)?;
            txn.commit()?;
            Ok(reserved)
        })
        .await
    }

    /// Records that one last-part response of `ticket` under `generation` was sent to
    /// the end, so that its reservation counts as a use when it expires unconfirmed.
    pub async fn mark_delivered(
        &self,
        id: LinkId,
        ticket: Ticket,
        generation: u64,
    ) -> Result<(), StoreError> {
        self.end_response(id, ticket, generation, true).await
    }

    /// Records that one last-part response of `ticket` under `generation` ended before
    /// its end. The reservation is dropped once no response of it is in flight and
    /// none was sent to the end.
    pub async fn release_reservation(
        &self,
        id: LinkId,
        ticket: Ticket,
        generation: u64,
    ) -> Result<(), StoreError> {
        self.end_response(id, ticket, generation, false).await
    }

    async fn end_response(
        &self,
        id: LinkId,
        ticket: Ticket,
        generation: u64,
        delivered: bool,
    ) -> Result<(), StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            end_response(&txn, (id.0, ticket.key(), generation), delivered)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Turns the reservation of `ticket` into a use. A ticket whose download was
    /// already counted gets `Ok` again; one that never took a reservation gets
    /// [`StoreError::NotReserved`].
    pub async fn confirm_download(&self, ticket: Ticket) -> Result<LinkId, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            let confirmed = confirm(&txn, ticket, now)?;
            txn.commit()?;
            Ok(confirmed)
        })
        .await
    }

    /// Settles expired reservations, deletes expired tickets and deletes links dead for
    /// longer than [`DEAD_LINK_RETENTION`].
    pub async fn sweep_links(&self) -> Result<SweptLinks, StoreError> {
        self.run(|inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            let swept = sweep(&txn, now)?;
            txn.commit()?;
            Ok(swept)
        })
        .await
    }

    /// Counts the stored links and reservations, for diagnostics and tests.
    pub async fn link_rows(&self) -> Result<(u64, u64), StoreError> {
        self.run(|inner| {
            let txn = inner.db.begin_read()?;
            let links = txn.open_table(LINKS)?.len()?;
            let reservations = txn.open_table(RESERVATIONS)?.len()?;
            Ok((links, reservations))
        })
        .await
    }
}

/// The reservations of one link, split by what settling them at a moment does.
#[derive(Debug, Default)]
struct Tally {
    /// Expired unconfirmed reservations with no response in flight whose last part
    /// went out: uses not yet stored.
    expired_delivered: Vec<ReservationKey>,
    /// Reservations with no response in flight that end without a use: expired ones
    /// whose last part never went out, and confirmed ones already counted.
    ended: Vec<ReservationKey>,
    /// Unconfirmed reservations that stay.
    open: u32,
    /// Reservations among the settled ones that still had responses in flight.
    stalled: u32,
}

fn tally(
    reservations: &impl ReadableTable<ReservationKey, ReservationValue>,
    id: LinkId,
    now: i64,
) -> Result<Tally, StoreError> {
    let mut tally = Tally::default();
    let grace_ms = duration_ms(SETTLE_GRACE);
    for entry in reservations.range(reservations_of(id))? {
        let (key, value) = entry?;
        let key = key.value();
        let (until, _, in_flight, delivered, confirmed) = value.value();
        let past_grace = until.saturating_add(grace_ms) <= now;
        let settles = in_flight == 0 || past_grace;
        if settles && in_flight > 0 {
            tally.stalled += 1;
        }
        match (confirmed, settles) {
            (true, true) => tally.ended.push(key),
            (true, false) => {}
            (false, true) if until <= now => match delivered {
                true => tally.expired_delivered.push(key),
                false => tally.ended.push(key),
            },
            (false, _) => tally.open += 1,
        }
    }
    Ok(tally)
}

fn view_of(link: LinkRecord, tally: Tally, now: i64) -> LinkView {
    let counted = u32::try_from(tally.expired_delivered.len()).unwrap_or(u32::MAX);
    let downloads_used = link.downloads_used.saturating_add(counted);
    let state = if link.revoked_at_ms.is_some() {
        LinkState::Revoked
    } else if downloads_used >= link.download_limit {
        LinkState::UsedUp
    } else if now >= link.expires_at_ms {
        LinkState::Expired
    } else {
        LinkState::Active
    };
    LinkView {
        link,
        state,
        downloads_used,
        downloads_in_progress: tally.open,
    }
}

fn live(view: LinkView) -> Result<LinkView, StoreError> {
    match view.state {
        LinkState::Active => Ok(view),
        _ => Err(StoreError::LinkDead),
    }
}

fn read_view(txn: &redb::ReadTransaction, id: LinkId, now: i64) -> Result<LinkView, StoreError> {
    let link = read_link(&txn.open_table(LINKS)?, id)?.ok_or(StoreError::LinkDead)?;
    let tally = tally(&txn.open_table(RESERVATIONS)?, id, now)?;
    Ok(view_of(link, tally, now))
}

/// Reads a link and stores the result of its expired reservations: uses counted,
/// their tickets marked as counted, undelivered ones dropped.
fn settle(txn: &WriteTransaction, id: LinkId, now: i64) -> Result<LinkView, StoreError> {
    let mut links = txn.open_table(LINKS)?;
    let mut reservations = txn.open_table(RESERVATIONS)?;
    let link = read_link(&links, id)?.ok_or(StoreError::LinkDead)?;
    let tally = tally(&reservations, id, now)?;
    if tally.expired_delivered.is_empty() && tally.ended.is_empty() {
        return Ok(view_of(link, tally, now));
    }

    if tally.stalled > 0 {
        tracing::info!(
            link_id = %id,
            reservations = tally.stalled,
            "settled reservations whose stalled responses outlived their expiry"
        );
    }
    let mut tickets = txn.open_table(TICKETS)?;
    for key in &tally.expired_delivered {
        mark_counted(&mut tickets, key.1)?;
    }
    for key in tally.expired_delivered.iter().chain(&tally.ended) {
        reservations.remove(*key)?;
    }
    let mut view = view_of(link, tally, now);
    if view.downloads_used > view.link.download_limit {
        tracing::error!(
            link_id = %id,
            used = view.downloads_used,
            limit = view.link.download_limit,
            "expired reservations would count a link's downloads above its limit"
        );
        view.downloads_used = view.link.download_limit;
    }
    view.link.downloads_used = view.downloads_used;
    if view.state == LinkState::UsedUp && view.link.used_up_at_ms.is_none() {
        view.link.used_up_at_ms = Some(now);
    }
    write_link(&mut links, &view.link)?;
    Ok(view)
}

/// Stores a new link. Its expiry is capped at the file's current expiry, so that the
/// link does not outlive its file unless the file lifetime is later shortened.
fn insert_link(
    inner: &Inner,
    txn: &WriteTransaction,
    new: NewLink,
    now: i64,
) -> Result<LinkRecord, StoreError> {
    let file = match read_file(&txn.open_table(FILES)?, new.file)? {
        Some(file) if file.owner == new.owner => file,
        _ => return Err(StoreError::FileNotFound(new.file)),
    };
    if file.state != FileState::Complete {
        return Err(StoreError::FileNotComplete(file.id));
    }
    if inner.is_expired(&file, now) {
        return Err(StoreError::FileNotFound(file.id));
    }
    let mut links = txn.open_table(LINKS)?;
    if links.get(new.id.0)?.is_some() {
        return Err(StoreError::LinkIdTaken(new.id));
    }
    let mut by_file = txn.open_table(LINKS_BY_FILE)?;
    let existing = by_file
        .range(pair_range(file.id.0, [0; 16], [0xff; 16]))?
        .count();
    if existing as u64 >= MAX_LINKS_PER_FILE {
        return Err(StoreError::TooManyLinks(file.id));
    }

    let lifetime_ms = i64::try_from(new.expires_in_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let link = LinkRecord {
        id: new.id,
        file: file.id,
        owner: new.owner,
        created_at_ms: now,
        expires_at_ms: now
            .saturating_add(lifetime_ms)
            .min(inner.expires_at_ms(&file).unwrap_or(i64::MAX)),
        download_limit: new.download_limit,
        downloads_used: 0,
        used_up_at_ms: None,
        revoked_at_ms: None,
        gate_verifier: new.gate_verifier,
        verifier: new.verifier,
        password: new.password,
        wrapped_key: new.wrapped_key,
        sealed_secret: new.sealed_secret,
        failed_attempts: 0,
        last_failure_ms: None,
    };
    write_link(&mut links, &link)?;
    by_file.insert((file.id.0, link.id.0), ())?;
    txn.open_table(LINKS_BY_OWNER)?
        .insert((link.owner.0, now, link.id.0), ())?;
    Ok(link)
}

fn unlock(
    inner: &Inner,
    txn: &WriteTransaction,
    id: LinkId,
    gate_matches: impl Fn(&[u8]) -> bool,
    matches: impl Fn(&[u8]) -> bool,
    now: i64,
) -> Result<Unlocked, StoreError> {
    let view = live(settle(txn, id, now)?)?;
    let mut link = view.link;
    // Checked again because the link may have been replaced since the read.
    if !gate_matches(&link.gate_verifier) {
        return Err(StoreError::LinkDead);
    }
    if link.password.is_none() {
        if !matches(&link.verifier) {
            return Err(StoreError::LinkDead);
        }
    } else if let Some(retry_after_secs) = throttled_for(&link, now) {
        return Err(StoreError::LinkThrottled { retry_after_secs });
    }
    let mut links = txn.open_table(LINKS)?;
    if !matches(&link.verifier) {
        link.failed_attempts = link.failed_attempts.saturating_add(1);
        link.last_failure_ms = Some(now);
        write_link(&mut links, &link)?;
        return Err(StoreError::WrongLinkKey {
            has_password: link.password.is_some(),
        });
    }
    if link.failed_attempts > 0 {
        link.failed_attempts = 0;
        link.last_failure_ms = None;
        write_link(&mut links, &link)?;
    }

    let file = complete_file(inner, &txn.open_table(FILES)?, link.file, now)?;
    let sender = read_account_by_id(
        &txn.open_table(ACCOUNTS)?,
        &txn.open_table(ACCOUNT_NAMES)?,
        link.owner,
    )?
    .ok_or(StoreError::DanglingAccount(link.owner))?;
    check_ticket_room(txn, id, now)?;
    let ticket = unused_ticket(&txn.open_table(TICKETS)?)?;
    let expires_at = renewed_expiry((id.0, now, now, false), now);
    txn.open_table(TICKETS)?
        .insert(ticket.key(), (id.0, now, expires_at, false))?;
    txn.open_table(TICKETS_BY_LINK)?
        .insert((id.0, ticket.key()), expires_at)?;
    let downloads_left = link
        .download_limit
        .saturating_sub(view.downloads_used)
        .saturating_sub(view.downloads_in_progress);
    Ok(Unlocked {
        ticket,
        link,
        file,
        sender: sender.username,
        downloads_left,
    })
}

/// Rejects a new ticket while the link has [`MAX_TICKETS_PER_LINK`] live ones, with the
/// seconds until the first of them expires.
fn check_ticket_room(txn: &WriteTransaction, id: LinkId, now: i64) -> Result<(), StoreError> {
    let index = txn.open_table(TICKETS_BY_LINK)?;
    let mut live = 0;
    let mut first_expiry = i64::MAX;
    for entry in index.range(tickets_of(id))? {
        let expires_at = entry?.1.value();
        if expires_at > now {
            live += 1;
            first_expiry = first_expiry.min(expires_at);
        }
    }
    if live < MAX_TICKETS_PER_LINK {
        return Ok(());
    }
    let wait_ms = first_expiry.saturating_sub(now).max(1) as u64;
    Err(StoreError::TooManyTickets {
        retry_after_secs: wait_ms.div_ceil(1000),
    })
}

/// Returns the seconds left to wait before the next attempt, if any.
fn throttled_for(link: &LinkRecord, now: i64) -> Option<u64> {
    let last = link.last_failure_ms?;
    let delay_ms = i64::try_from(throttle_delay_secs(link.failed_attempts) * 1000).ok()?;
    let wait_ms = last.saturating_add(delay_ms).saturating_sub(now);
    if wait_ms <= 0 {
        return None;
    }
    Some((wait_ms as u64).div_ceil(1000))
}

fn reserve(
    txn: &WriteTransaction,
    id: LinkId,
    ticket: Ticket,
    now: i64,
) -> Result<Reserved, StoreError> {
    touch_ticket(txn, ticket, id, now)?;
    let view = live(settle(txn, id, now)?)?;
    let mut reservations = txn.open_table(RESERVATIONS)?;
    if let Some((key, value)) = open_reservation(&reservations, id, ticket)? {
        let (until, starts, in_flight, delivered, _) = value;
        if now >= until {
            return Err(StoreError::ReservationExpired);
        }
        if starts >= MAX_LAST_PART_STARTS {
            return Err(StoreError::LastPartStartsUsed);
        }
        reservations.insert(key, (until, starts + 1, in_flight + 1, delivered, false))?;
        return Ok(Reserved {
            generation: key.2,
            expires_at_ms: until,
        });
    }
    let taken = view
        .downloads_used
        .saturating_add(view.downloads_in_progress);
    if taken >= view.link.download_limit {
        return Err(StoreError::LinkDead);
    }
    let key = unused_generation(&reservations, id, ticket)?;
    let until = now.saturating_add(duration_ms(RESERVATION_LIFETIME));
    reservations.insert(key, (until, 1, 1, false, false))?;
    Ok(Reserved {
        generation: key.2,
        expires_at_ms: until,
    })
}

/// Returns the reservation of `ticket` that is not confirmed yet, if any. A ticket has
/// at most one.
fn open_reservation(
    reservations: &impl ReadableTable<ReservationKey, ReservationValue>,
    id: LinkId,
    ticket: Ticket,
) -> Result<Option<(ReservationKey, ReservationValue)>, StoreError> {
    let key = ticket.key();
    let range = (id.0, key, 0)..=(id.0, key, u64::MAX);
    let mut found = None;
    for entry in reservations.range(range)? {
        let (key, value) = entry?;
        let value = value.value();
        if value.4 {
            continue;
        }
        if found.is_some() {
            tracing::error!(link_id = %id, generation = key.value().2, "a ticket has two open reservations");
            continue;
        }
        found = Some((key.value(), value));
    }
    Ok(found)
}

fn unused_generation(
    reservations: &impl ReadableTable<ReservationKey, ReservationValue>,
    id: LinkId,
    ticket: Ticket,
) -> Result<ReservationKey, StoreError> {
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|err| StoreError::Random(err.to_string()))?;
        let key = (id.0, ticket.key(), u64::from_le_bytes(bytes));
        if reservations.get(key)?.is_none() {
            return Ok(key);
        }
    }
}

/// Ends one last-part response of the reservation at `key`: sent to the end when
/// `delivered`, cut short otherwise. A response never acts on another generation.
fn end_response(
    txn: &WriteTransaction,
    key: ReservationKey,
    delivered: bool,
) -> Result<(), StoreError> {
    let link_id = LinkId(key.0);
    let mut reservations = txn.open_table(RESERVATIONS)?;
    let found = reservations.get(key)?.map(|value| value.value());
    let Some((until, starts, in_flight, was_delivered, confirmed)) = found else {
        // Revoking or removing the link deletes its reservations, and settlement
        // deletes one that is past its expiry and the grace.
        tracing::info!(link_id = %link_id, generation = key.2, "a last-part response ended after its reservation was deleted");
        return Ok(());
    };
    if in_flight == 0 {
        tracing::error!(link_id = %link_id, generation = key.2, "a last-part response ended on a reservation with none in flight");
    }
    let in_flight = in_flight.saturating_sub(1);
    let delivered = delivered || was_delivered;
    if in_flight == 0 && (confirmed || !delivered) {
        reservations.remove(key)?;
    } else {
        reservations.insert(key, (until, starts, in_flight, delivered, confirmed))?;
    }
    Ok(())
}

/// Adds one download to `link` and marks the ticket's download as counted. A use above
/// the limit is refused with an error in the log, since admission never allows one.
fn count_use(
    txn: &WriteTransaction,
    mut link: LinkRecord,
    ticket: Ticket,
    now: i64,
) -> Result<(), StoreError> {
    if link.downloads_used >= link.download_limit {
        tracing::error!(
            link_id = %link.id,
            used = link.downloads_used,
            limit = link.download_limit,
            "a confirmed download would count above the link's limit"
        );
    } else {
        link.downloads_used += 1;
    }
    if link.downloads_used >= link.download_limit && link.used_up_at_ms.is_none() {
        link.used_up_at_ms = Some(now);
    }
    write_link(&mut txn.open_table(LINKS)?, &link)?;
    mark_counted(&mut txn.open_table(TICKETS)?, ticket.key())
}

fn confirm(txn: &WriteTransaction, ticket: Ticket, now: i64) -> Result<LinkId, StoreError> {
    let (id, counted) = {
        let tickets = txn.open_table(TICKETS)?;
        let (id, _, expires_at, counted) = tickets
            .get(ticket.key())?
            .map(|value| value.value())
            .ok_or(StoreError::LinkDead)?;
        if now >= expires_at {
            return Err(StoreError::LinkDead);
        }
        (LinkId(id), counted)
    };
    touch_ticket(txn, ticket, id, now)?;
    let view = settle(txn, id, now)?;
    if matches!(view.state, LinkState::Expired | LinkState::Revoked) {
        return Err(StoreError::LinkDead);
    }
    let mut reservations = txn.open_table(RESERVATIONS)?;
    let Some((key, value)) = open_reservation(&reservations, id, ticket)? else {
        return match (counted, view.state) {
            (true, _) => Ok(id),
            (false, LinkState::Active) => Err(StoreError::NotReserved),
            (false, _) => Err(StoreError::LinkDead),
        };
    };
    let (until, starts, in_flight, delivered, _) = value;
    if in_flight == 0 {
        reservations.remove(key)?;
    } else {
        reservations.insert(key, (until, starts, in_flight, delivered, true))?;
    }
    count_use(txn, view.link, ticket, now)?;
    Ok(id)
}

/// Ends every last-part response at start, since none survives a restart: in-flight
/// counts go to zero, confirmed reservations and those never sent to the end are
/// dropped, and those sent to the end stay until they expire or are confirmed. Returns
/// how many reservations had responses in flight.
pub(super) fn end_responses_in_flight(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let mut reservations = txn.open_table(RESERVATIONS)?;
    let mut in_flight = Vec::new();
    for entry in reservations.iter()? {
        let (key, value) = entry?;
        let value = value.value();
        if value.2 > 0 || value.4 {
            in_flight.push((key.value(), value));
        }
    }
    for (key, (until, starts, _, delivered, confirmed)) in &in_flight {
        if *confirmed || !*delivered {
            reservations.remove(*key)?;
        } else {
            reservations.insert(*key, (*until, *starts, 0, true, false))?;
        }
    }
    Ok(in_flight.iter().filter(|(_, value)| value.2 > 0).count() as u64)
}

fn sweep(txn: &WriteTransaction, now: i64) -> Result<SweptLinks, StoreError> {
    let mut swept = SweptLinks::default();
    let ids: Vec<LinkId> = {
        let links = txn.open_table(LINKS)?;
        let mut ids = Vec::new();
        for entry in links.iter()? {
            ids.push(LinkId(entry?.0.value()));
        }
        ids
    };
    let reservations_before = txn.open_table(RESERVATIONS)?.len()?;
    let retention_ms = duration_ms(DEAD_LINK_RETENTION);
    for id in ids {
        let view = settle(txn, id, now)?;
        if dead_since(&view, now).is_some_and(|since| now.saturating_sub(since) > retention_ms) {
            remove_link(txn, &view.link)?;
            swept.links += 1;
        }
    }
    let reservations_after = txn.open_table(RESERVATIONS)?.len()?;
    swept.reservations = reservations_before.saturating_sub(reservations_after);
    txn.open_table(TICKETS)?
        .retain(|_, (_, _, expires_at, _)| {
            let keep = expires_at > now;
            if !keep {
                swept.tickets += 1;
            }
            keep
        })?;
    txn.open_table(TICKETS_BY_LINK)?
        .retain(|_, expires_at| expires_at > now)?;
    Ok(swept)
}

/// Returns the time a dead link died: the earliest of its revocation, the moment it
/// was used up and its expiry. A live link has none.
fn dead_since(view: &LinkView, now: i64) -> Option<i64> {
    if view.state == LinkState::Active {
        return None;
    }
    let link = &view.link;
    let expired = (now >= link.expires_at_ms).then_some(link.expires_at_ms);
    [link.revoked_at_ms, link.used_up_at_ms, expired]
        .into_iter()
        .flatten()
        .min()
}

/// Deletes every link of a file, with its indexes, reservations and tickets, so that
/// no ticket of it works for a later link with the same id.
pub(super) fn remove_links_of_file(txn: &WriteTransaction, file: FileId) -> Result<(), StoreError> {
    let ids: Vec<LinkId> = {
        let by_file = txn.open_table(LINKS_BY_FILE)?;
        let mut ids = Vec::new();
        for entry in by_file.range(pair_range(file.0, [0; 16], [0xff; 16]))? {
            ids.push(LinkId(entry?.0.value().1));
        }
        ids
    };
    for id in ids {
        let link = read_link(&txn.open_table(LINKS)?, id)?.ok_or_else(|| dangling_index(id))?;
        remove_link(txn, &link)?;
    }
    Ok(())
}

fn remove_link(txn: &WriteTransaction, link: &LinkRecord) -> Result<(), StoreError> {
    txn.open_table(LINKS)?.remove(link.id.0)?;
    txn.open_table(LINKS_BY_OWNER)?
        .remove((link.owner.0, link.created_at_ms, link.id.0))?;
    txn.open_table(LINKS_BY_FILE)?
        .remove((link.file.0, link.id.0))?;
    txn.open_table(RESERVATIONS)?
        .retain_in(reservations_of(link.id), |_, _| false)?;
    let mut index = txn.open_table(TICKETS_BY_LINK)?;
    let mut tickets = txn.open_table(TICKETS)?;
    for entry in index.range(tickets_of(link.id))? {
        let (_, ticket) = entry?.0.value();
        tickets.remove(ticket)?;
    }
    index.retain_in(tickets_of(link.id), |_, _| false)?;
    Ok(())
}

/// Returns the stored ticket if it is a live ticket of link `id`.
fn check_ticket(
    tickets: &impl ReadableTable<TicketBytes, TicketValue>,
    ticket: Ticket,
    id: LinkId,
    now: i64,
) -> Result<TicketValue, StoreError> {
    match tickets.get(ticket.key())?.map(|value| value.value()) {
        Some(stored) if stored.0 == id.0 && now < stored.2 => Ok(stored),
        _ => Err(StoreError::LinkDead),
    }
}

/// Returns the expiry a use of a ticket at `now` gives: [`TICKET_IDLE_LIFETIME`] later,
/// but no later than [`TICKET_LIFETIME`] after issue.
fn renewed_expiry(stored: TicketValue, now: i64) -> i64 {
    let idle = now.saturating_add(duration_ms(TICKET_IDLE_LIFETIME));
    let last = stored.1.saturating_add(duration_ms(TICKET_LIFETIME));
    idle.min(last)
}

/// Checks that `ticket` is a live ticket of link `id` and moves its idle expiry forward.
fn touch_ticket(
    txn: &WriteTransaction,
    ticket: Ticket,
    id: LinkId,
    now: i64,
) -> Result<(), StoreError> {
    let mut tickets = txn.open_table(TICKETS)?;
    let stored = check_ticket(&tickets, ticket, id, now)?;
    let expires_at = renewed_expiry(stored, now);
    if expires_at > stored.2 {
        tickets.insert(ticket.key(), (stored.0, stored.1, expires_at, stored.3))?;
        txn.open_table(TICKETS_BY_LINK)?
            .insert((id.0, ticket.key()), expires_at)?;
    }
    Ok(())
}

fn mark_counted(
    tickets: &mut Table<TicketBytes, TicketValue>,
    ticket: TicketBytes,
) -> Result<(), StoreError> {
    let found = tickets.get(ticket)?.map(|value| value.value());
    if let Some((link, issued_at, expires_at, _)) = found {
        tickets.insert(ticket, (link, issued_at, expires_at, true))?;
    }
    Ok(())
}

fn unused_ticket(
    tickets: &impl ReadableTable<TicketBytes, TicketValue>,
) -> Result<Ticket, StoreError> {
    loop {
        let ticket = Ticket::random()?;
        if tickets.get(ticket.key())?.is_none() {
            return Ok(ticket);
        }
    }
}

/// Reads the complete, unexpired file behind a link; any other is
/// [`StoreError::LinkDead`].
fn complete_file(
    inner: &Inner,
    files: &impl ReadableTable<IdBytes, &'static [u8]>,
    id: FileId,
    now: i64,
) -> Result<FileRecord, StoreError> {
    match read_file(files, id)? {
        Some(file) if file.state == FileState::Complete && !inner.is_expired(&file, now) => {
            Ok(file)
        }
        _ => Err(StoreError::LinkDead),
    }
}

fn read_link(
    links: &impl ReadableTable<IdBytes, &'static [u8]>,
    id: LinkId,
) -> Result<Option<LinkRecord>, StoreError> {
    match links.get(id.0)? {
        Some(value) => Ok(Some(records::decode("links", value.value())?)),
        None => Ok(None),
    }
}

fn write_link(links: &mut Table<IdBytes, &[u8]>, link: &LinkRecord) -> Result<(), StoreError> {
    links.insert(link.id.0, records::encode(link)?.as_slice())?;
    Ok(())
}

fn reservations_of(id: LinkId) -> std::ops::RangeInclusive<ReservationKey> {
    (id.0, [0; TICKET_LEN], 0)..=(id.0, [0xff; TICKET_LEN], u64::MAX)
}

fn tickets_of(id: LinkId) -> std::ops::RangeInclusive<(IdBytes, TicketBytes)> {
    pair_range(id.0, [0; TICKET_LEN], [0xff; TICKET_LEN])
}

fn dangling_index(id: LinkId) -> StoreError {
    StoreError::Corrupt {
        what: "links_by_owner or links_by_file",
        detail: format!("entry for missing link {id}"),
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Clock, KdfParams, NewAccount, NewKeyRecord, NewUpload};

    const START_MS: i64 = 1_800_000_000_000;

    /// Opens a store on a set clock with one complete one-part file of one account.
    async fn store_with_file(dir: &tempfile::TempDir) -> (Store, AccountId, FileId) {
        let store = Store::open_with_clock(dir.path().join("db.redb"), Clock::manual(START_MS))
            .await
            .unwrap();
        let account = store
            .create_account(NewAccount {
                username: "alice".into(),
                salt: vec![1; 16],
                kdf: KdfParams {
                    memory_kib: 19456,
                    iterations: 2,
                    parallelism: 1,
                },
                login_key_hash: vec![2; 32],
                public_key: vec![3; 65],
                wrapped_identity: vec![4; 61],
            })
            .await
            .unwrap();
        let upload = NewUpload {
            owner: account.id,
            recipient: account.id,
            ciphertext_len: 100,
            part_count: 1,
            metadata: vec![5; 40],
            transfer: None,
        };
        let quota = crate::store::Quota {
            bytes: u64::MAX,
            files: u64::MAX,
        };
        let file = store.create_upload(upload, quota).await.unwrap();
        store
            .put_part(account.id, file.id, 0, vec![6; 100])
            .await
            .unwrap();
        let record = NewKeyRecord {
            recipient: account.id,
            enc: vec![7; 65],
            sealed_key: vec![8; 48],
        };
        store
            .finish_upload(account.id, file.id, vec![record])
            .await
            .unwrap();
        (store, account.id, file.id)
    }

    fn new_link(owner: AccountId, file: FileId) -> NewLink {
        NewLink {
            id: LinkId([9; 16]),
            file,
            owner,
            expires_in_secs: 3600,
            download_limit: 1,
            gate_verifier: vec![13; 32],
            verifier: vec![10; 32],
            password: None,
            wrapped_key: vec![11; 61],
            sealed_secret: vec![12; 61],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn write_waiting_for_lock_reads_clock_late() {
        let dir = tempfile::tempdir().unwrap();
        let (store, owner, file) = store_with_file(&dir).await;

        let held = store.inner.db.begin_write().unwrap();
        let create = tokio::spawn({
            let store = store.clone();
            async move { store.create_link(new_link(owner, file)).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        store.clock().advance(Duration::from_secs(3600));
        held.abort().unwrap();

        let view = create.await.unwrap().unwrap();
        assert_eq!(view.link.created_at_ms, START_MS + 3_600_000);
        assert_eq!(view.link.expires_at_ms, START_MS + 7_200_000);
    }

    async fn ticket_of(store: &Store, id: LinkId) -> Ticket {
        store
            .unlock_link(id, |_| true, |_| true)
            .await
            .unwrap()
            .ticket
    }

    #[tokio::test]
    async fn restart_ends_responses_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let (store, owner, file) = store_with_file(&dir).await;
        let link = NewLink {
            download_limit: 2,
            ..new_link(owner, file)
        };
        let id = store.create_link(link).await.unwrap().link.id;
        let cut = ticket_of(&store, id).await;
        store.reserve_download(id, cut).await.unwrap();
        store.reserve_download(id, cut).await.unwrap();
        let sent = ticket_of(&store, id).await;
        let reserved = store.reserve_download(id, sent).await.unwrap();
        store
            .mark_delivered(id, sent, reserved.generation)
            .await
            .unwrap();
        store.reserve_download(id, sent).await.unwrap();
        let late = ticket_of(&store, id).await;
        assert!(matches!(
            store.reserve_download(id, late).await,
            Err(StoreError::LinkDead)
        ));
        assert!(store.close().await.unwrap());

        let store = Store::open_with_clock(dir.path().join("db.redb"), Clock::manual(START_MS))
            .await
            .unwrap();
        assert_eq!(store.link_rows().await.unwrap(), (1, 1));
        store.reserve_download(id, late).await.unwrap();
        // The delivered reservation counts at expiry; the new one is still in flight.
        store.clock().advance(RESERVATION_LIFETIME);
        let view = store.list_links(owner).await.unwrap().remove(0);
        assert_eq!((view.downloads_used, view.downloads_in_progress), (1, 1));
    }

    #[test]
    fn throttle_delay_follows_schedule() {
        let delays: Vec<u64> = (0..=14).map(throttle_delay_secs).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
        );
        assert_eq!(throttle_delay_secs(u32::MAX), 300);
    }

    #[test]
    fn ticket_text_round_trips_and_hides_bytes() {
        let ticket = Ticket::random().unwrap();
        let text = ticket.expose_text();
        assert_eq!(text.len(), 43);
        assert_eq!(Ticket::parse(&text), Some(ticket));
        assert_eq!(format!("{ticket:?}"), "Ticket([redacted])");
        for bad in ["", "abc", &"A".repeat(44), &"!".repeat(43)] {
            assert_eq!(Ticket::parse(bad), None, "ticket {bad:?}");
        }
    }
}

//! The background sweep that deletes what has outlived its time from the database.
//!
//! Expired files and abandoned uploads are deleted with everything that refers to
//! them, in transactions of at most [`SWEEP_BATCH`] files. redb reuses the freed pages
//! for later writes and cuts free space off the end of the file, so the file does not
//! grow with the total ever uploaded (the test `freed_pages_are_reused` measures it).

use std::time::Duration;

use crate::store::{FileId, SWEEP_BATCH, Store};

/// How often expired sessions, expired files, stale uploads, expired tickets and
/// long-dead links are deleted from the database.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// A pending upload this old is deleted with its parts; uploads are expected to finish
/// well within a day.
pub const UPLOAD_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Returns when the sweep may delete a pending upload created at `created_at_ms`, in ms
/// since the Unix epoch: the first sweep after this time deletes it.
pub fn upload_expires_at_ms(created_at_ms: i64) -> i64 {
    created_at_ms.saturating_add(upload_lifetime_ms())
}

fn upload_lifetime_ms() -> i64 {
    i64::try_from(UPLOAD_LIFETIME.as_millis()).unwrap_or(i64::MAX)
}

/// Maximum number of file ids in one log line; the count is always complete.
const LOGGED_IDS: usize = SWEEP_BATCH;

/// The ids of the files one sweep deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired_files: Vec<FileId>,
    pub stale_uploads: Vec<FileId>,
}

/// Runs [`sweep_once`] at start and then every [`SWEEP_INTERVAL`].
pub async fn run(store: Store) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        interval.tick().await;
        sweep_once(&store).await;
    }
}

/// Deletes expired sessions, expired files and stale pending uploads, settles expired
/// link reservations and deletes expired tickets and long-dead links. Each step logs
/// its own failure and the others still run.
pub async fn sweep_once(store: &Store) -> SweepReport {
    let now = time::OffsetDateTime::now_utc();
    match store.delete_expired_sessions(now.unix_timestamp()).await {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "expired sessions deleted"),
        Err(err) => tracing::error!(error = %err, "failed to delete expired sessions"),
    }
    let mut report = SweepReport::default();
    match store.expire_files().await {
        Ok(ids) => {
            log_deleted(&ids, "expired files deleted");
            report.expired_files = ids;
        }
        Err(err) => tracing::error!(error = %err, "failed to delete expired files"),
    }
    let cutoff_ms = store.clock().now_ms().saturating_sub(upload_lifetime_ms());
    match store.delete_stale_uploads(cutoff_ms).await {
        Ok(ids) => {
            log_deleted(&ids, "stale pending uploads deleted");
            report.stale_uploads = ids;
        }
        Err(err) => tracing::error!(error = %err, "failed to delete stale pending uploads"),
    }
    match store.sweep_links().await {
        Ok(swept) if swept == Default::default() => {}
        Ok(swept) => tracing::info!(
            links = swept.links,
            tickets = swept.tickets,
            reservations = swept.reservations,
            "link tables swept"
        ),
        Err(err) => tracing::error!(error = %err, "failed to sweep the link tables"),
    }
    match store.sweep_login_throttle().await {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "expired login-throttle rows deleted"),
        Err(err) => tracing::error!(error = %err, "failed to sweep the login-throttle tables"),
    }
    report
}

/// Logs the count and the first [`LOGGED_IDS`] ids of deleted files.
fn log_deleted(ids: &[FileId], message: &'static str) {
    if ids.is_empty() {
        return;
    }
    let shown: Vec<String> = ids
        .iter()
        .take(LOGGED_IDS)
        .map(ToString::to_string)
        .collect();
    tracing::info!(deleted = ids.len(), file_ids = shown.join(","), "{message}");
}

//! The background sweep that deletes what has outlived its time from the database.

use std::time::Duration;

use crate::store::Store;

/// How often expired sessions, stale uploads, expired tickets and long-dead links are
/// deleted from the database.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// A pending upload this old is deleted with its parts; uploads are expected to finish
/// well within a day.
pub const UPLOAD_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Deletes expired sessions and stale pending uploads, settles expired link
/// reservations and deletes expired tickets and long-dead links, at start and then
/// every [`SWEEP_INTERVAL`].
pub async fn run(store: Store) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        interval.tick().await;
        let now = time::OffsetDateTime::now_utc();
        match store.delete_expired_sessions(now.unix_timestamp()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "expired sessions deleted"),
            Err(err) => tracing::error!(error = %err, "failed to delete expired sessions"),
        }
        let cutoff = now - UPLOAD_LIFETIME;
        let cutoff_ms = i64::try_from(cutoff.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        match store.delete_stale_uploads(cutoff_ms).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "stale pending uploads deleted"),
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
    }
}

//! Receiving a file: parts are fetched and decrypted in the part workers up to
//! [`PARTS_AHEAD`] ahead of the one being written, and each verified part is written
//! to disk in order, so memory does not grow with the file. A download that fails or
//! is cancelled is discarded, so nothing is saved.

use std::pin::pin;

use dtc_crypto::chunked::HEADER_LEN;
use dtc_crypto::file::FileKey;
use dtc_crypto::layout::PartLayout;
use futures::channel::oneshot;
use futures::future::{Either, select};
use futures::{StreamExt, TryStreamExt};
use js_sys::Uint8Array;

use super::error::UiError;
use super::file_name::save_name;
use super::save::{SaveError, SaveTarget};
use super::transport::{get_link_part, get_part};
use super::worker::part_workers;
use crate::api::{ErrorCode, FileEntry, LinkDownload};

/// Parts fetched and decrypted at once, counting the one being written. The server
/// lets one client address transfer four parts at once.
const PARTS_AHEAD: usize = 4;

/// The destination of verified plaintext parts, written in order.
pub trait PartSink {
    /// Writes `part` after the bytes written so far. A decrypted part is a view from
    /// the start of a longer buffer, so only its `length()` bytes are the part's.
    async fn write(&mut self, part: &Uint8Array) -> Result<(), SaveError>;
}

impl PartSink for SaveTarget {
    async fn write(&mut self, part: &Uint8Array) -> Result<(), SaveError> {
        SaveTarget::write(self, part).await
    }
}

/// The end of a download that returned no error.
#[derive(Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Every part verified and the file is closed on disk.
    Saved,
    /// The person closed the save dialog without choosing a file, so nothing started.
    Dismissed,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The ciphertext failed verification or does not fit the file's layout.
    #[error("integrity check failed for \"{name}\": {detail}; nothing was saved")]
    Integrity { name: String, detail: String },
    #[error("downloading \"{name}\" failed: {source}; nothing was saved")]
    Failed { name: String, source: UiError },
    /// The server no longer has the file, most likely because the sender deleted it.
    #[error(
        "downloading \"{name}\" failed: {source}, so the sender may have deleted it. \
         Nothing was saved; refresh the inbox"
    )]
    NotFound { name: String, source: UiError },
    /// Writing the decrypted file to disk failed.
    #[error("saving \"{name}\" failed: {source}; nothing was saved")]
    Save { name: String, source: UiError },
    /// The person cancelled the download on the page or in the browser.
    #[error("the download of \"{name}\" was cancelled; nothing was saved")]
    Cancelled { name: String },
}

/// The origin of a file's ciphertext parts.
pub enum PartSource {
    /// A file sent to or by the signed-in account.
    Account { file_id: String },
    /// The file behind a share link, fetched with the ticket from unlocking it.
    Link { link_id: String, ticket: String },
}

/// A stored file's ciphertext layout as the server reports it, and where its parts are.
pub struct StoredFile {
    pub source: PartSource,
    pub ciphertext_len: u64,
    pub part_count: u32,
}

impl StoredFile {
    pub fn from_entry(entry: &FileEntry) -> Self {
        StoredFile {
            source: PartSource::Account {
                file_id: entry.file_id.clone(),
            },
            ciphertext_len: entry.ciphertext_len,
            part_count: entry.part_count,
        }
    }

    pub fn from_link(link_id: &str, download: &LinkDownload) -> Self {
        StoredFile {
            source: PartSource::Link {
                link_id: link_id.to_owned(),
                ticket: download.ticket.clone(),
            },
            ciphertext_len: download.ciphertext_len,
            part_count: download.part_count,
        }
    }

    async fn get_part(&self, index: u32) -> Result<js_sys::Uint8Array, UiError> {
        match &self.source {
            PartSource::Account { file_id } => get_part(file_id, index).await,
            PartSource::Link { link_id, ticket } => get_link_part(link_id, ticket, index).await,
        }
    }
}

/// Downloads `entry` and saves it under `save_name(file_name)`. `shown_name` is the
/// display name that messages use. `on_progress` receives the count of plaintext
/// bytes written so far, first 0 once the destination is open. A message on
/// `cancel` stops the download.
///
/// The destination opens before any other await, because the save dialog needs the
/// click that started the download. A failure or cancel discards what was written.
pub async fn save_file(
    entry: &StoredFile,
    key: &FileKey,
    file_name: &str,
    shown_name: &str,
    cancel: oneshot::Receiver<()>,
    on_progress: impl Fn(u64),
) -> Result<SaveOutcome, DownloadError> {
    let errors = ErrorContext::new(entry, shown_name);
    let layout = checked_layout(entry, &errors)?;
    let target = SaveTarget::open(&save_name(file_name), layout.plaintext_len())
        .await
        .map_err(|source| errors.save(source))?;
    let Some(target) = target else {
        return Ok(SaveOutcome::Dismissed);
    };
    save_into(entry, key, target, shown_name, cancel, on_progress).await
}

/// Downloads `entry` into the open `target`, then closes it, or discards it on a
/// failure or a message on `cancel`. `shown_name` is the name that messages use.
pub async fn save_into(
    entry: &StoredFile,
    key: &FileKey,
    mut target: SaveTarget,
    shown_name: &str,
    cancel: oneshot::Receiver<()>,
    on_progress: impl Fn(u64),
) -> Result<SaveOutcome, DownloadError> {
    let errors = ErrorContext::new(entry, shown_name);
    let layout = match checked_layout(entry, &errors) {
        Ok(layout) => layout,
        Err(err) => {
            target.abort(&err.to_string()).await;
            return Err(err);
        }
    };
    on_progress(0);

    // Dropping the sender without a message, as a page that goes away does, leaves
    // the download running.
    let cancelled = async {
        if cancel.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let written = {
        let writing = pin!(write_parts(
            entry,
            key,
            &layout,
            &mut target,
            &errors,
            &on_progress
        ));
        match select(writing, pin!(cancelled)).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => Err(errors.cancelled()),
        }
    };
    match written {
        Ok(()) => target
            .close()
            .await
            .map(|()| SaveOutcome::Saved)
            .map_err(|err| errors.save_failure(err)),
        Err(err) => {
            target.abort(&err.to_string()).await;
            Err(err)
        }
    }
}

/// Downloads `entry` into `sink` without opening or closing anything: for one file
/// of several written into one destination. `done_before` counts the bytes of the
/// earlier files, so `on_progress` reports the whole.
pub async fn write_entry(
    entry: &StoredFile,
    key: &FileKey,
    sink: &mut impl PartSink,
    shown_name: &str,
    done_before: u64,
    on_progress: &impl Fn(u64),
) -> Result<(), DownloadError> {
    let errors = ErrorContext::new(entry, shown_name);
    let layout = checked_layout(entry, &errors)?;
    let progress = |done: u64| on_progress(done_before + done);
    write_parts(entry, key, &layout, sink, &errors, &progress).await
}

/// The file name and source that download errors name.
pub(super) struct ErrorContext<'a> {
    name: &'a str,
    from_account: bool,
}

impl<'a> ErrorContext<'a> {
    fn new(entry: &StoredFile, name: &'a str) -> Self {
        ErrorContext {
            name,
            from_account: matches!(entry.source, PartSource::Account { .. }),
        }
    }

    fn integrity(&self, detail: String) -> DownloadError {
        DownloadError::Integrity {
            name: self.name.to_owned(),
            detail,
        }
    }

    fn failed(&self, source: UiError) -> DownloadError {
        match &source {
            UiError::Api(error) if error.code == ErrorCode::NotFound && self.from_account => {
                DownloadError::NotFound {
                    name: self.name.to_owned(),
                    source,
                }
            }
            _ => DownloadError::Failed {
                name: self.name.to_owned(),
                source,
            },
        }
    }

    fn save(&self, source: UiError) -> DownloadError {
        DownloadError::Save {
            name: self.name.to_owned(),
            source,
        }
    }

    fn cancelled(&self) -> DownloadError {
        DownloadError::Cancelled {
            name: self.name.to_owned(),
        }
    }

    fn save_failure(&self, error: SaveError) -> DownloadError {
        match error {
            SaveError::Cancelled => self.cancelled(),
            SaveError::Failed(source) => self.save(source),
        }
    }
}

/// Rejects a part whose length differs from the one the layout fixes.
fn check_part_len(
    layout: &PartLayout,
    index: u32,
    ciphertext: &Uint8Array,
    errors: &ErrorContext<'_>,
) -> Result<(), DownloadError> {
    let expected = layout
        .part_ciphertext_len(index)
        .map_err(|err| errors.integrity(err.to_string()))?;
    if u64::from(ciphertext.length()) != expected {
        return Err(errors.integrity(format!(
            "part {index} is {} bytes where {expected} were expected",
            ciphertext.length()
        )));
    }
    Ok(())
}

/// Returns the layout of `entry`'s ciphertext after checking it against the server's
/// part count.
fn checked_layout(entry: &StoredFile, errors: &ErrorContext) -> Result<PartLayout, DownloadError> {
    let layout = PartLayout::from_ciphertext_len(entry.ciphertext_len).map_err(|err| {
        errors.integrity(format!("the stored length does not fit any file: {err}"))
    })?;
    if layout.part_count() != entry.part_count {
        return Err(errors.integrity(format!(
            "the server lists {} parts where the length gives {}",
            entry.part_count,
            layout.part_count()
        )));
    }
    Ok(layout)
}

/// Fetches, decrypts and verifies every part, up to [`PARTS_AHEAD`] at once, and
/// writes each to `sink` in order.
async fn write_parts(
    entry: &StoredFile,
    key: &FileKey,
    layout: &PartLayout,
    sink: &mut impl PartSink,
    errors: &ErrorContext<'_>,
    on_progress: &impl Fn(u64),
) -> Result<(), DownloadError> {
    let workers = part_workers().map_err(|err| errors.failed(err))?;
    // Part 0 comes first on its own: its header opens every other part.
    let first = entry.get_part(0).await.map_err(|err| errors.failed(err))?;
    check_part_len(layout, 0, &first, errors)?;
    let header = first
        .subarray(0, (HEADER_LEN as u32).min(first.length()))
        .to_vec();
    let decrypt = |index: u32, ciphertext: Uint8Array| {
        let workers = &workers;
        let header = &header;
        async move {
            workers
                .decrypt_part(
                    key.expose_secret_bytes(),
                    header,
                    entry.ciphertext_len,
                    index,
                    ciphertext,
                )
                .await
                .map_err(|err| match err {
                    UiError::WorkerOperation { message, .. } => {
                        errors.integrity(format!("part {index}: {message}"))
                    }
                    other => errors.failed(other),
                })
        }
    };
    let first = decrypt(0, first).await?;
    let rest = futures::stream::iter(1..layout.part_count())
        .map(|index| async move {
            let ciphertext = entry
                .get_part(index)
                .await
                .map_err(|err| errors.failed(err))?;
            check_part_len(layout, index, &ciphertext, errors)?;
            decrypt(index, ciphertext).await
        })
        .buffered(PARTS_AHEAD);
    let mut parts = pin!(
        futures::stream::once(async { Ok(first) })
            .chain(rest)
            .enumerate()
            .map(|(index, part)| part.map(|part| (index, part)))
    );

    let mut done = 0u64;
    while let Some((index, plaintext)) = parts.try_next().await? {
        done += u64::from(plaintext.length());
        if done > layout.plaintext_len() {
            return Err(errors.integrity(format!(
                "part {index} ends at byte {done}, past the file's {} bytes",
                layout.plaintext_len()
            )));
        }
        sink.write(&plaintext)
            .await
            .map_err(|err| errors.save_failure(err))?;
        on_progress(done);
    }
    if done != layout.plaintext_len() {
        return Err(errors.integrity(format!(
            "{done} bytes decrypted where {} were expected",
            layout.plaintext_len()
        )));
    }
    Ok(())
}

//! Receiving a file: every part is fetched and decrypted in the worker, and each
//! verified part is written to disk at once, so memory does not grow with the file.
//! A download that fails or is cancelled is discarded, so nothing is saved.

use std::pin::pin;

use dtc_crypto::chunked::HEADER_LEN;
use dtc_crypto::file::FileKey;
use dtc_crypto::layout::PartLayout;
use futures::channel::oneshot;
use futures::future::{Either, select};

use super::error::UiError;
use super::file_name::save_name;
use super::save::{SaveError, SaveTarget};
use super::transport::{get_link_part, get_part};
use super::worker::crypto_worker;
use crate::api::{ErrorCode, FileEntry, LinkDownload};

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
    let errors = ErrorContext {
        name: shown_name,
        from_account: matches!(entry.source, PartSource::Account { .. }),
    };
    let layout = checked_layout(entry, &errors)?;
    let target = SaveTarget::open(&save_name(file_name), layout.plaintext_len())
        .await
        .map_err(|source| errors.save(source))?;
    let Some(mut target) = target else {
        return Ok(SaveOutcome::Dismissed);
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

/// The file name and source that download errors name.
struct ErrorContext<'a> {
    name: &'a str,
    from_account: bool,
}

impl ErrorContext<'_> {
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

/// Fetches, decrypts and verifies every part in order and writes each to `target`.
async fn write_parts(
    entry: &StoredFile,
    key: &FileKey,
    layout: &PartLayout,
    target: &mut SaveTarget,
    errors: &ErrorContext<'_>,
    on_progress: &impl Fn(u64),
) -> Result<(), DownloadError> {
    let worker = crypto_worker().map_err(|err| errors.failed(err))?;
    let mut header = Vec::new();
    let mut done = 0u64;
    for index in 0..layout.part_count() {
        let ciphertext = entry
            .get_part(index)
            .await
            .map_err(|err| errors.failed(err))?;
        let expected = layout
            .part_ciphertext_len(index)
            .map_err(|err| errors.integrity(err.to_string()))?;
        if u64::from(ciphertext.length()) != expected {
            return Err(errors.integrity(format!(
                "part {index} is {} bytes where {expected} were expected",
                ciphertext.length()
            )));
        }
        if index == 0 {
            header = ciphertext.subarray(0, HEADER_LEN as u32).to_vec();
        }
        let plaintext = worker
            .decrypt_part(
                key.expose_secret_bytes(),
                &header,
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
            })?;
        done += u64::from(plaintext.length());
        if done > layout.plaintext_len() {
            return Err(errors.integrity(format!(
                "part {index} ends at byte {done}, past the file's {} bytes",
                layout.plaintext_len()
            )));
        }
        target
            .write(&plaintext)
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

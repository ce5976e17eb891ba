//! Receiving a file: every part is fetched and decrypted in the worker, and only
//! when all of them verified is the plaintext handed to the browser as a download.

use dtc_crypto::chunked::HEADER_LEN;
use dtc_crypto::file::FileKey;
use dtc_crypto::layout::PartLayout;
use js_sys::Array;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, Url};

use super::error::UiError;
use super::transport::{get_link_part, get_part, sleep};
use super::worker::crypto_worker;
use crate::api::{ErrorCode, FileEntry, LinkDownload};

/// How long the object URL of a saved file stays valid; the browser has started
/// the download long before.
const OBJECT_URL_LIFETIME_MS: i32 = 60_000;

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

/// Fetches and decrypts every part of `entry`. `name` is the display name that
/// messages use. `on_progress` receives the count of plaintext bytes verified so far.
pub async fn download_file(
    entry: &StoredFile,
    key: &FileKey,
    name: &str,
    media_type: &str,
    on_progress: impl Fn(u64),
) -> Result<Blob, DownloadError> {
    let integrity = |detail: String| DownloadError::Integrity {
        name: name.to_owned(),
        detail,
    };
    let from_account = matches!(entry.source, PartSource::Account { .. });
    let failed = |source: UiError| match &source {
        UiError::Api(error) if error.code == ErrorCode::NotFound && from_account => {
            DownloadError::NotFound {
                name: name.to_owned(),
                source,
            }
        }
        _ => DownloadError::Failed {
            name: name.to_owned(),
            source,
        },
    };

    let layout = PartLayout::from_ciphertext_len(entry.ciphertext_len)
        .map_err(|err| integrity(format!("the stored length does not fit any file: {err}")))?;
    if layout.part_count() != entry.part_count {
        return Err(integrity(format!(
            "the server lists {} parts where the length gives {}",
            entry.part_count,
            layout.part_count()
        )));
    }
    let worker = crypto_worker().map_err(failed)?;

    let plaintext_parts = Array::new();
    let mut header = Vec::new();
    let mut done = 0u64;
    for index in 0..layout.part_count() {
        let ciphertext = entry.get_part(index).await.map_err(failed)?;
        let expected = layout
            .part_ciphertext_len(index)
            .map_err(|err| integrity(err.to_string()))?;
        if u64::from(ciphertext.length()) != expected {
            return Err(integrity(format!(
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
                    integrity(format!("part {index}: {message}"))
                }
                other => failed(other),
            })?;
        done += u64::from(plaintext.length());
        on_progress(done);
        plaintext_parts.push(&plaintext);
    }
    if done != layout.plaintext_len() {
        return Err(integrity(format!(
            "{done} bytes decrypted where {} were expected",
            layout.plaintext_len()
        )));
    }

    let options = BlobPropertyBag::new();
    options.set_type(media_type);
    Blob::new_with_u8_array_sequence_and_options(&plaintext_parts, &options)
        .map_err(|err| failed(UiError::browser("assembling the file")(err)))
}

/// Hands `blob` to the browser as a download named `name`, through an object URL
/// and a clicked `<a download>`.
pub fn save_blob(blob: &Blob, name: &str) -> Result<(), UiError> {
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or_else(|| UiError::invalid("no document to save the file from"))?;
    let url =
        Url::create_object_url_with_blob(blob).map_err(UiError::browser("saving the file"))?;
    let anchor = document
        .create_element("a")
        .map_err(UiError::browser("saving the file"))?
        .unchecked_into::<HtmlAnchorElement>();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.set_hidden(true);
    let body = document
        .body()
        .ok_or_else(|| UiError::invalid("no document body to save the file from"))?;
    body.append_child(&anchor)
        .map_err(UiError::browser("saving the file"))?;
    anchor.click();
    anchor.remove();
    leptos::task::spawn_local(async move {
        sleep(OBJECT_URL_LIFETIME_MS).await;
        let _ = Url::revoke_object_url(&url);
    });
    Ok(())
}

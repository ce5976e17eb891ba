//! Sending a file: metadata encrypted on the page, contents read one part at a
//! time from the `File`, encrypted in the worker and uploaded, then the file key
//! sealed to the recipient and to the sender.
//!
//! Part 0 goes first and alone, because it carries the header. The other parts go
//! [`PARTS_IN_FLIGHT`] at a time: each is read from the `File`, encrypted in the least
//! busy of the part workers and uploaded. So at most that many parts (about 4 MiB of
//! plaintext and 4 MiB of ciphertext each) are in memory at once, whatever the size
//! of the file.

use dtc_crypto::exchange::{SealedFileKey, seal_file_key};
use dtc_crypto::file::{ContentsEncryptor, FileKey, encrypt_metadata};
use dtc_crypto::identity::PublicKey;
use dtc_crypto::layout::PartLayout;
use dtc_crypto::metadata::{FileMetadata, MAX_MEDIA_TYPE_LEN, MAX_NAME_LEN};
use futures::StreamExt;
use js_sys::{Array, Uint8Array};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;
use web_sys::File;

use super::error::UiError;
use super::format::{parse_file_id, size_with_bytes};
use super::resume::missing_parts;
use super::session::Keys;
use super::transport::{put_part, sleep};
use super::worker::{PartWorkers, part_workers};
use crate::api::{
    CreateUploadRequest, ErrorCode, FinishUploadRequest, KeyRecord, Limits, LinkOptions,
    SaveUploadKeyRequest, create_upload, delete_file, finish_upload, lookup_recipient,
    normalize_username, save_upload_key, upload_status,
};

/// A recipient whose public key was looked up and parsed.
#[derive(Clone)]
pub struct VerifiedRecipient {
    pub username: String,
    pub public_key: PublicKey,
    pub fingerprint: String,
}

impl VerifiedRecipient {
    /// Returns the sender's own account, the recipient of a file sent only as a link.
    pub fn own_account(keys: &Keys) -> Self {
        VerifiedRecipient {
            username: keys.username.clone(),
            public_key: keys.public_key.clone(),
            fingerprint: keys.fingerprint.clone(),
        }
    }
}

/// The first wait before asking a server that could not be reached again; each
/// further wait doubles, up to [`RECONNECT_MAX_DELAY_MS`].
const RECONNECT_FIRST_DELAY_MS: u32 = 2_000;
const RECONNECT_MAX_DELAY_MS: u32 = 30_000;
/// How long a send waits in all for the server to come back before it stops and
/// leaves the upload to be resumed from the list of unfinished uploads.
const RECONNECT_LIMIT_MS: u32 = 10 * 60 * 1000;

/// Parts read, encrypted or uploading at once. The server lets one client address
/// transfer four parts at once; more would only wait there.
const PARTS_IN_FLIGHT: usize = 4;

/// Set when the person cancels a transfer; the transfer stops before its next step.
#[derive(Clone, Default)]
pub struct CancelFlag(Rc<Cell<bool>>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.set(true);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.get()
    }

    /// Fails with [`UiError::Stopped`] once the transfer was cancelled.
    pub fn check(&self) -> Result<(), UiError> {
        if self.is_cancelled() {
            Err(UiError::Stopped)
        } else {
            Ok(())
        }
    }
}

/// Looks up an account and parses its public key.
pub async fn look_up_recipient(input: &str) -> Result<VerifiedRecipient, UiError> {
    let username = normalize_username(input)?;
    let recipient = lookup_recipient(username).await?;
    let public_key = PublicKey::from_sec1(recipient.public_key.as_slice())
        .map_err(UiError::crypto("reading the recipient's public key"))?;
    let fingerprint = public_key.fingerprint().to_string();
    Ok(VerifiedRecipient {
        username: recipient.username,
        public_key,
        fingerprint,
    })
}

/// A file the server has stored, with the key the page keeps to make a link for it.
pub struct SentFile {
    pub file_id: String,
    pub key: FileKey,
}

/// Rejects a file larger than the server accepts, before anything is encrypted.
pub fn check_file_size(file: &File, limits: &Limits) -> Result<(), UiError> {
    let size = file_size(file);
    if size > limits.max_file_size {
        return Err(UiError::invalid(format!(
            "{:?} is too large: it is {} and this server accepts at most {}; choose a smaller file",
            file.name(),
            size_with_bytes(size),
            size_with_bytes(limits.max_file_size)
        )));
    }
    Ok(())
}

/// Returns the length of the ciphertext that `file` becomes, which counts against
/// the account's quota.
pub fn upload_ciphertext_len(file: &File) -> Result<u64, UiError> {
    let layout = PartLayout::for_plaintext_len(file_size(file))
        .map_err(UiError::crypto("laying out the file"))?;
    Ok(layout.ciphertext_len())
}

/// Returns the size of a `File` in bytes, which browsers report as a whole number.
pub fn file_size(file: &File) -> u64 {
    file.size() as u64
}

/// Encrypts and sends `file` to `recipient` under the name `path` (its path inside
/// a chosen folder, or its own name). `transfer` groups the files of one send. `link`
/// carries the options of a share link the caller makes afterwards, so the server
/// rejects bad ones before any part is sent. `on_progress` receives the count of
/// plaintext bytes whose ciphertext the server has stored.
#[allow(clippy::too_many_arguments)]
pub async fn send_file(
    keys: &Keys,
    recipient: &VerifiedRecipient,
    file: &File,
    path: &str,
    transfer: Option<String>,
    limits: &Limits,
    link: Option<LinkOptions>,
    cancel: &CancelFlag,
    on_progress: impl Fn(u64),
    on_wait: impl Fn(Option<u32>),
) -> Result<SentFile, UiError> {
    check_file_size(file, limits)?;
    let metadata = file_metadata(file, path)?;
    let layout = PartLayout::for_plaintext_len(metadata.size)
        .map_err(UiError::crypto("laying out the file"))?;
    let file_key = FileKey::generate();
    let encrypted_metadata = encrypt_metadata(&file_key, &metadata)
        .map_err(UiError::crypto("encrypting the file's name and details"))?;
    if encrypted_metadata.len() as u64 > limits.max_metadata_size {
        return Err(UiError::invalid(format!(
            "the encrypted file details are {} bytes, more than this server's limit of {} bytes; \
             shorten the file name",
            encrypted_metadata.len(),
            limits.max_metadata_size
        )));
    }

    let ticket = create_upload(CreateUploadRequest {
        recipient: recipient.username.clone(),
        ciphertext_len: layout.ciphertext_len(),
        metadata: encrypted_metadata.into(),
        link,
        transfer,
    })
    .await?;
    if ticket.part_count != layout.part_count() {
        return Err(UiError::invalid(format!(
            "the server expects {} parts but this file has {}; try again",
            ticket.part_count,
            layout.part_count()
        )));
    }
    let file_id = parse_file_id(&ticket.file_id)?;
    // The file key sealed to the sender lets the upload resume after a reload.
    let resume_key = key_record(keys, &keys.username, &keys.public_key, &file_id, &file_key)?;
    save_upload_key(SaveUploadKeyRequest {
        file_id: ticket.file_id.clone(),
        enc: resume_key.enc,
        sealed_key: resume_key.sealed_key,
    })
    .await?;

    let upload = PartUpload {
        workers: part_workers()?,
        file,
        destination: Destination::Server(&ticket.file_id),
        key: &file_key,
        salt: ContentsEncryptor::random_salt(),
        layout,
        cancel,
    };
    upload
        .send_or_discard(
            &ticket.file_id,
            (0..layout.part_count()).collect(),
            0,
            &on_progress,
            &on_wait,
        )
        .await?;
    finish(keys, recipient, &ticket.file_id, &file_id, &file_key).await?;
    Ok(SentFile {
        file_id: ticket.file_id,
        key: file_key,
    })
}

/// Seals the file key to the recipient and to the sender, and marks the upload finished.
pub(super) async fn finish(
    keys: &Keys,
    recipient: &VerifiedRecipient,
    file_id_text: &str,
    file_id: &[u8; 16],
    file_key: &FileKey,
) -> Result<(), UiError> {
    // One record per account, so a file sent to oneself gets only one.
    let mut records = vec![key_record(
        keys,
        &recipient.username,
        &recipient.public_key,
        file_id,
        file_key,
    )?];
    if recipient.username != keys.username {
        records.push(key_record(
            keys,
            &keys.username,
            &keys.public_key,
            file_id,
            file_key,
        )?);
    }
    finish_upload(FinishUploadRequest {
        file_id: file_id_text.to_owned(),
        records,
    })
    .await?;
    Ok(())
}

/// The name, size, media type and modification time the recipient will see; the
/// name is `path`.
fn file_metadata(file: &File, path: &str) -> Result<FileMetadata, UiError> {
    let name = path.to_owned();
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(UiError::invalid(format!(
            "the file name is {} bytes long; rename the file to 1 to {MAX_NAME_LEN} bytes",
            name.len()
        )));
    }
    if name.trim().is_empty() {
        return Err(UiError::invalid(
            "the file name is only whitespace; rename the file and choose it again",
        ));
    }
    Ok(FileMetadata {
        name,
        size: file_size(file),
        media_type: media_type(&file.type_()),
        modified_ms: file.last_modified() as i64,
    })
}

/// Returns the browser's media type if the metadata format can carry it, else "".
fn media_type(reported: &str) -> String {
    let printable = reported.bytes().all(|byte| (0x20..=0x7e).contains(&byte));
    if printable && reported.len() <= MAX_MEDIA_TYPE_LEN {
        reported.to_owned()
    } else {
        String::new()
    }
}

fn key_record(
    keys: &Keys,
    username: &str,
    public_key: &PublicKey,
    file_id: &[u8; 16],
    file_key: &FileKey,
) -> Result<KeyRecord, UiError> {
    let SealedFileKey { enc, ciphertext } =
        seal_file_key(&keys.identity, public_key, file_id, file_key)
            .map_err(UiError::crypto("sealing the file key"))?;
    Ok(KeyRecord {
        recipient: username.to_owned(),
        enc: enc.to_vec().into(),
        sealed_key: ciphertext.to_vec().into(),
    })
}

/// Returns whether `error` means the server could not be reached or failed for a
/// while, so that the same request may succeed later.
pub(super) fn is_connection_failure(error: &UiError) -> bool {
    matches!(
        error,
        UiError::Api(api) if matches!(
            api.code,
            ErrorCode::Network | ErrorCode::BadResponse | ErrorCode::Internal
                | ErrorCode::TooManyRequests
        )
    )
}

/// Deletes the pending upload of a cancelled send, so its parts leave the server.
async fn discard_upload(file_id: &str) {
    if let Err(error) = delete_file(file_id.to_owned()).await {
        leptos::logging::warn!("deleting cancelled upload {file_id} failed: {error}");
    }
}

/// Reads and encrypts every part of `file` exactly as a send does, with a fresh key,
/// and drops the ciphertext instead of uploading it. Measures the page's encryption
/// pipeline on its own; returns the number of ciphertext bytes produced.
pub async fn encrypt_without_sending(file: &Blob) -> Result<u64, UiError> {
    let layout = PartLayout::for_plaintext_len(file.size() as u64)
        .map_err(UiError::crypto("laying out the file"))?;
    let key = FileKey::generate();
    let produced = Rc::new(Cell::new(0u64));
    let upload = PartUpload {
        workers: part_workers()?,
        file,
        destination: Destination::Discard(Rc::clone(&produced)),
        key: &key,
        salt: ContentsEncryptor::random_salt(),
        layout,
        cancel: &CancelFlag::default(),
    };
    upload
        .run((0..layout.part_count()).collect(), 0, |_| ())
        .await?;
    Ok(produced.get())
}

/// The destination of encrypted parts.
pub(super) enum Destination<'a> {
    /// The pending upload with this file id.
    Server(&'a str),
    /// Nowhere: only the count of ciphertext bytes is kept.
    Discard(Rc<Cell<u64>>),
}

/// The contents of one file on their way to the server, part by part.
pub(super) struct PartUpload<'a> {
    pub workers: Rc<PartWorkers>,
    pub file: &'a Blob,
    pub destination: Destination<'a>,
    pub key: &'a FileKey,
    /// One salt for every part, because the parts form one chunked message.
    pub salt: [u8; 24],
    pub layout: PartLayout,
    pub cancel: &'a CancelFlag,
}

impl PartUpload<'_> {
    /// Sends the parts in `indices` with [`run_reconnecting`](Self::run_reconnecting)
    /// and checks for a cancel at the end. A cancelled upload is deleted from the
    /// server, so its parts leave it.
    pub async fn send_or_discard(
        &self,
        file_id: &str,
        indices: Vec<u32>,
        already_stored: u64,
        on_progress: &impl Fn(u64),
        on_wait: &impl Fn(Option<u32>),
    ) -> Result<(), UiError> {
        let sent = self
            .run_reconnecting(file_id, indices, already_stored, on_progress, on_wait)
            .await
            .and_then(|()| self.cancel.check());
        if let Err(UiError::Stopped) = sent {
            discard_upload(file_id).await;
        }
        sent
    }

    /// Sends the parts in `indices` like [`run`](Self::run), and when the server
    /// cannot be reached, waits, requests the list of parts it stores, then sends the
    /// others. `on_wait` receives the seconds until the next try while waiting, and
    /// `None` once parts go out again. Gives up after [`RECONNECT_LIMIT_MS`].
    pub async fn run_reconnecting(
        &self,
        file_id: &str,
        mut indices: Vec<u32>,
        mut already_stored: u64,
        on_progress: &impl Fn(u64),
        on_wait: &impl Fn(Option<u32>),
    ) -> Result<(), UiError> {
        let mut waited_ms = 0;
        let mut delay_ms = RECONNECT_FIRST_DELAY_MS;
        loop {
            let error = match self.run(indices, already_stored, on_progress).await {
                Ok(()) => return Ok(()),
                Err(error) if is_connection_failure(&error) => error,
                Err(error) => return Err(error),
            };
            // Request the stored parts until the server responds or the time is up.
            let status = loop {
                if waited_ms >= RECONNECT_LIMIT_MS {
                    on_wait(None);
                    return Err(error);
                }
                leptos::logging::warn!(
                    "upload {file_id} lost the server ({error}); trying again in {delay_ms} ms"
                );
                self.wait(delay_ms, on_wait).await?;
                waited_ms += delay_ms;
                delay_ms = (delay_ms * 2).min(RECONNECT_MAX_DELAY_MS);
                match upload_status(file_id.to_owned()).await {
                    Ok(status) => break status,
                    Err(failure) if is_connection_failure(&UiError::Api(failure.clone())) => {}
                    Err(failure) => return Err(failure.into()),
                }
            };
            on_wait(None);
            // Without part 0 every part goes again, under the same salt, so the parts
            // are the same bytes as before.
            indices = missing_parts(&status.stored_parts, self.layout.part_count());
            already_stored = self.stored_bytes(&indices)?;
            on_progress(already_stored);
        }
    }

    /// Waits `delay_ms`, counting down through `on_wait` each second, and stops early
    /// when the send is cancelled.
    async fn wait(&self, delay_ms: u32, on_wait: &impl Fn(Option<u32>)) -> Result<(), UiError> {
        let mut left_ms = delay_ms;
        while left_ms > 0 {
            self.cancel.check()?;
            on_wait(Some(left_ms.div_ceil(1000)));
            let step = left_ms.min(1000);
            sleep(step as i32).await;
            left_ms -= step;
        }
        self.cancel.check()
    }

    /// Sends the parts in `indices`. `on_progress` receives `already_stored` plus the
    /// plaintext bytes of the parts sent so far.
    pub async fn run(
        &self,
        mut indices: Vec<u32>,
        already_stored: u64,
        on_progress: impl Fn(u64),
    ) -> Result<(), UiError> {
        let mut done = already_stored;
        if let Some(position) = indices.iter().position(|&index| index == 0) {
            indices.remove(position);
            done += self.send(0).await?;
            on_progress(done);
        }
        let mut sent = futures::stream::iter(indices)
            .map(|index| self.send(index))
            .buffer_unordered(PARTS_IN_FLIGHT);
        while let Some(part) = sent.next().await {
            done += part?;
            on_progress(done);
        }
        Ok(())
    }

    /// Reads, encrypts and uploads part `index`; returns its plaintext length.
    async fn send(&self, index: u32) -> Result<u64, UiError> {
        self.cancel.check()?;
        let ciphertext = self.encrypt(index).await?;
        self.cancel.check()?;
        match &self.destination {
            Destination::Server(file_id) => put_part(file_id, index, &ciphertext).await?,
            Destination::Discard(produced) => {
                for piece in ciphertext.iter() {
                    let piece: Uint8Array = piece.unchecked_into();
                    produced.set(produced.get() + u64::from(piece.length()));
                }
            }
        }
        self.plaintext_len(index)
    }

    /// Reads part `index`'s plaintext range of the file and encrypts it in a worker.
    async fn encrypt(&self, index: u32) -> Result<Array, UiError> {
        let range = self
            .layout
            .part_plaintext_range(index)
            .map_err(UiError::crypto("cutting the file into parts"))?;
        // Offsets stay below the file size, which a JavaScript number represents exactly.
        let blob = self
            .file
            .slice_with_f64_and_f64(range.start as f64, range.end as f64)
            .map_err(UiError::browser("reading the file"))?;
        let buffer = JsFuture::from(blob.array_buffer())
            .await
            .map_err(UiError::browser("reading the file"))?;
        let plaintext = Uint8Array::new(&buffer);
        if u64::from(plaintext.length()) != range.end - range.start {
            return Err(UiError::invalid(
                "the file changed while it was being sent; choose it again and send it again",
            ));
        }
        self.workers
            .encrypt_part(
                self.key.expose_secret_bytes(),
                &self.salt,
                self.layout.plaintext_len(),
                index,
                plaintext,
            )
            .await
    }

    /// Returns the plaintext bytes of every part except the `missing` ones.
    pub fn stored_bytes(&self, missing: &[u32]) -> Result<u64, UiError> {
        let mut missing_bytes = 0;
        for &index in missing {
            missing_bytes += self.plaintext_len(index)?;
        }
        Ok(self.layout.plaintext_len() - missing_bytes)
    }

    fn plaintext_len(&self, index: u32) -> Result<u64, UiError> {
        let range = self
            .layout
            .part_plaintext_range(index)
            .map_err(UiError::crypto("cutting the file into parts"))?;
        Ok(range.end - range.start)
    }
}

//! Sending a file: metadata encrypted on the page, contents read one part at a
//! time from the `File`, encrypted in the worker and uploaded, then the file key
//! sealed to the recipient and to the sender.
//!
//! While part `i` uploads, part `i + 1` is read and encrypted, so at most two parts
//! of ciphertext (about 8 MiB) are in memory at once.

use dtc_crypto::exchange::{SealedFileKey, seal_file_key};
use dtc_crypto::file::{ContentsEncryptor, FileKey, encrypt_metadata};
use dtc_crypto::identity::PublicKey;
use dtc_crypto::layout::PartLayout;
use dtc_crypto::metadata::{FileMetadata, MAX_MEDIA_TYPE_LEN, MAX_NAME_LEN};
use js_sys::Uint8Array;
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

use super::error::UiError;
use super::format::{parse_file_id, size_with_bytes};
use super::session::Keys;
use super::transport::put_part;
use super::worker::{CryptoWorker, crypto_worker};
use crate::api::{
    CreateUploadRequest, FinishUploadRequest, KeyRecord, Limits, LinkOptions, StorageUsage,
    create_upload, finish_upload,
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

/// Rejects a file whose ciphertext would bring the account past its quota, before
/// anything is encrypted. The server checks again when the upload is created.
pub fn check_quota(file: &File, usage: &StorageUsage) -> Result<(), UiError> {
    let layout = PartLayout::for_plaintext_len(file_size(file))
        .map_err(UiError::crypto("laying out the file"))?;
    usage.check_upload(layout.ciphertext_len())?;
    Ok(())
}

/// Returns the size of a `File` in bytes, which browsers report as a whole number.
pub fn file_size(file: &File) -> u64 {
    file.size() as u64
}

/// Encrypts and sends `file` to `recipient`. `link` carries the options of a share
/// link the caller makes afterwards, so the server rejects bad ones before any part is
/// sent. `on_progress` receives the count of plaintext bytes whose ciphertext the
/// server has stored.
pub async fn send_file(
    keys: &Keys,
    recipient: &VerifiedRecipient,
    file: &File,
    limits: &Limits,
    link: Option<LinkOptions>,
    on_progress: impl Fn(u64),
) -> Result<SentFile, UiError> {
    check_file_size(file, limits)?;
    let metadata = file_metadata(file)?;
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

    let upload = PartUpload {
        worker: crypto_worker()?,
        file,
        file_id: &ticket.file_id,
        key: &file_key,
        salt: ContentsEncryptor::random_salt(),
        layout,
    };
    upload.run(on_progress).await?;

    // One record per account, so a file sent to oneself gets only one.
    let mut records = vec![key_record(
        keys,
        &recipient.username,
        &recipient.public_key,
        &file_id,
        &file_key,
    )?];
    if recipient.username != keys.username {
        records.push(key_record(
            keys,
            &keys.username,
            &keys.public_key,
            &file_id,
            &file_key,
        )?);
    }
    finish_upload(FinishUploadRequest {
        file_id: ticket.file_id.clone(),
        records,
    })
    .await?;
    Ok(SentFile {
        file_id: ticket.file_id,
        key: file_key,
    })
}

/// The name, size, media type and modification time the recipient will see.
fn file_metadata(file: &File) -> Result<FileMetadata, UiError> {
    let name = file.name();
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

/// The contents of one file on their way to the server, part by part.
struct PartUpload<'a> {
    worker: std::rc::Rc<CryptoWorker>,
    file: &'a File,
    file_id: &'a str,
    key: &'a FileKey,
    /// One salt for every part, because the parts form one chunked message.
    salt: [u8; 24],
    layout: PartLayout,
}

impl PartUpload<'_> {
    async fn run(&self, on_progress: impl Fn(u64)) -> Result<(), UiError> {
        let part_count = self.layout.part_count();
        let mut done = 0;
        let mut next = self.encrypt(0).await?;
        for index in 0..part_count {
            let current = next;
            if index + 1 < part_count {
                let (uploaded, encrypted) = futures::join!(
                    put_part(self.file_id, index, &current),
                    self.encrypt(index + 1)
                );
                uploaded?;
                next = encrypted?;
            } else {
                put_part(self.file_id, index, &current).await?;
                next = Uint8Array::new_with_length(0);
            }
            done += self.plaintext_len(index)?;
            on_progress(done);
        }
        Ok(())
    }

    /// Reads part `index`'s plaintext range of the file and encrypts it in the worker.
    async fn encrypt(&self, index: u32) -> Result<Uint8Array, UiError> {
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
        self.worker
            .encrypt_part(
                self.key.expose_secret_bytes(),
                &self.salt,
                self.layout.plaintext_len(),
                index,
                plaintext,
            )
            .await
    }

    fn plaintext_len(&self, index: u32) -> Result<u64, UiError> {
        let range = self
            .layout
            .part_plaintext_range(index)
            .map_err(UiError::crypto("cutting the file into parts"))?;
        Ok(range.end - range.start)
    }
}

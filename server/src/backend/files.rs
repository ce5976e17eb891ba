//! Uploads, the inbox and sent lists, and deletion.

use std::collections::BTreeSet;

use std::ops::Range;

use dtc_app::api::{
    ApiError, Bytes, CreateUploadRequest, ErrorCode, FileEntry, FinishUploadRequest, KeyRecord,
    PartRange, PendingUpload, SaveUploadKeyRequest, StorageUsage, UploadStatus, UploadTicket,
    normalize_username,
};
use dtc_crypto::exchange::{SEALED_KEY_LEN, SealedFileKey};
use dtc_crypto::hpke::ENC_LEN;
use dtc_crypto::layout::PartLayout;

use super::accounts::no_account;
use super::session::{self, SignedIn};
use super::{MAX_METADATA_LEN, MIN_METADATA_LEN, ServerBackend};
use crate::error::{file_not_found, from_store, internal};
use crate::store::{
    AccountId, FileId, FileListing, FileRecord, FileState, NewKeyRecord, NewUpload, PendingListing,
    Quota, ResumeKey, TransferId, Usage,
};
use crate::sweep::upload_expires_at_ms;

impl ServerBackend {
    pub(super) async fn start_upload(
        &self,
        request: CreateUploadRequest,
    ) -> Result<UploadTicket, ApiError> {
        let owner = session::current().await?.require().await?;
        if let Some(options) = &request.link {
            self.check_link_options(options)?;
        }
        let transfer = request
            .transfer
            .as_deref()
            .map(parse_transfer_id)
            .transpose()?;
        let recipient_name = normalize_username(&request.recipient)?;
        let recipient = self
            .find(&recipient_name)
            .await?
            .ok_or_else(|| no_account(&recipient_name))?;
        let layout = self.check_size(request.ciphertext_len)?;
        check_metadata_len(request.metadata.len())?;

        let upload = NewUpload {
            owner: owner.id,
            recipient: recipient.id,
            ciphertext_len: request.ciphertext_len,
            part_count: layout.part_count(),
            metadata: request.metadata.0,
            transfer,
        };
        let file = self
            .store
            .create_upload(upload, self.quota())
            .await
            .map_err(|err| from_store("create upload", err))?;
        record_file(file.id);
        tracing::info!(
            recipient = %recipient.id,
            ciphertext_len = file.ciphertext_len,
            parts = file.part_count,
            "upload created"
        );
        Ok(UploadTicket {
            file_id: file.id.to_string(),
            part_count: file.part_count,
        })
    }

    pub(super) async fn complete_upload(
        &self,
        request: FinishUploadRequest,
    ) -> Result<FileEntry, ApiError> {
        let owner = session::current().await?.require().await?;
        let id = parse_file_id(&request.file_id)?;
        record_file(id);
        let file = self.owned_pending(owner.id, id).await?;
        let recipient = self
            .store
            .find_account_by_id(file.recipient)
            .await
            .map_err(|err| from_store("finish upload", err))?
            .ok_or_else(|| {
                internal(
                    "finish upload",
                    &format!("recipient {} is gone", file.recipient),
                )
            })?;

        let records = check_records(
            &request.records,
            &owner,
            (recipient.id, &recipient.username),
        )?;
        let listing = self
            .store
            .finish_upload(owner.id, id, records)
            .await
            .map_err(|err| from_store("finish upload", err))?;
        tracing::info!(recipient = %recipient.id, "upload finished");
        Ok(file_entry(listing, &owner.username))
    }

    pub(super) async fn keep_upload_key(
        &self,
        request: SaveUploadKeyRequest,
    ) -> Result<(), ApiError> {
        let owner = session::current().await?.require().await?;
        let id = parse_file_id(&request.file_id)?;
        record_file(id);
        let key = check_resume_key(&request.enc, &request.sealed_key)?;
        self.store
            .save_resume_key(owner.id, id, key)
            .await
            .map_err(|err| from_store("save upload key", err))?;
        tracing::info!("upload key saved");
        Ok(())
    }

    /// Lists the caller's resumable uploads, leaving out those past their expiry that
    /// the sweep has not deleted yet.
    pub(super) async fn list_pending_uploads(&self) -> Result<Vec<PendingUpload>, ApiError> {
        let owner = session::current().await?.require().await?;
        let listings = self
            .store
            .list_pending(owner.id)
            .await
            .map_err(|err| from_store("list pending uploads", err))?;
        let now = self.store.clock().now_ms();
        let mut uploads = Vec::with_capacity(listings.len());
        for listing in listings {
            let upload = pending_upload(listing)?;
            if now <= upload.expires_at_ms {
                uploads.push(upload);
            }
        }
        Ok(uploads)
    }

    pub(super) async fn read_upload_status(
        &self,
        file_id: String,
    ) -> Result<UploadStatus, ApiError> {
        let owner = session::current().await?.require().await?;
        let id = parse_file_id(&file_id)?;
        record_file(id);
        let (file, runs) = self
            .store
            .upload_parts(owner.id, id)
            .await
            .map_err(|err| from_store("read upload status", err))?;
        Ok(UploadStatus {
            part_count: file.part_count,
            stored_parts: part_ranges(runs),
        })
    }

    pub(super) async fn list_inbox(&self) -> Result<Vec<FileEntry>, ApiError> {
        let account = session::current().await?.require().await?;
        let listings = self
            .store
            .list_inbox(account.id)
            .await
            .map_err(|err| from_store("list inbox", err))?;
        Ok(file_entries(listings, &account.username))
    }

    pub(super) async fn list_sent(&self) -> Result<Vec<FileEntry>, ApiError> {
        let account = session::current().await?.require().await?;
        let listings = self
            .store
            .list_sent(account.id)
            .await
            .map_err(|err| from_store("list sent", err))?;
        Ok(file_entries(listings, &account.username))
    }

    pub(super) async fn remove_file(&self, file_id: String) -> Result<(), ApiError> {
        let owner = session::current().await?.require().await?;
        let id = parse_file_id(&file_id)?;
        record_file(id);
        self.store
            .delete_file(owner.id, id)
            .await
            .map_err(|err| from_store("delete file", err))?;
        tracing::info!("file deleted");
        Ok(())
    }

    pub(super) async fn storage_usage(&self) -> Result<StorageUsage, ApiError> {
        let account = session::current().await?.require().await?;
        let used = self
            .store
            .usage(account.id)
            .await
            .map_err(|err| from_store("read usage", err))?;
        Ok(storage_usage(used, self.quota()))
    }

    fn quota(&self) -> Quota {
        Quota {
            bytes: self.policy.quota_bytes,
            files: self.policy.quota_files,
        }
    }

    /// Returns the layout of a contents ciphertext of `ciphertext_len` bytes if its
    /// plaintext fits the configured maximum.
    fn check_size(&self, ciphertext_len: u64) -> Result<PartLayout, ApiError> {
        let layout = PartLayout::from_ciphertext_len(ciphertext_len).map_err(|err| {
            ApiError::invalid_input(format!(
                "ciphertext length {ciphertext_len} is not a valid encrypted file length ({err})"
            ))
        })?;
        let plaintext_len = layout.plaintext_len();
        if plaintext_len > self.max_file_size {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!(
                    "file of {plaintext_len} bytes exceeds the maximum of {} bytes",
                    self.max_file_size
                ),
            ));
        }
        Ok(layout)
    }

    /// Finds the pending upload `id` of `owner`. Any other file is not found.
    async fn owned_pending(&self, owner: AccountId, id: FileId) -> Result<FileRecord, ApiError> {
        let file = self
            .store
            .find_file(id)
            .await
            .map_err(|err| from_store("find file", err))?;
        let file = file
            .filter(|file| file.owner == owner)
            .ok_or_else(|| file_not_found(id))?;
        if file.state == FileState::Complete {
            return Err(from_store(
                "finish upload",
                crate::store::StoreError::AlreadyFinished(id),
            ));
        }
        Ok(file)
    }
}

/// Parses a file id from a request, naming the rejected text.
pub fn parse_file_id(text: &str) -> Result<FileId, ApiError> {
    text.parse()
        .map_err(|err: crate::store::InvalidId| ApiError::invalid_input(err.to_string()))
}

/// Length of a transfer id in hex digits.
const TRANSFER_ID_DIGITS: usize = 32;

/// Parses the transfer id of a new upload, naming what is wrong with a malformed one.
fn parse_transfer_id(text: &str) -> Result<TransferId, ApiError> {
    let excerpt: String = text.chars().take(2 * TRANSFER_ID_DIGITS).collect();
    let length = text.chars().count();
    if length != TRANSFER_ID_DIGITS {
        return Err(ApiError::invalid_input(format!(
            "transfer id {excerpt:?} has {length} characters; send {TRANSFER_ID_DIGITS} \
             lowercase hex digits, chosen at random once for all files of one send"
        )));
    }
    let is_lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if let Some(bad) = text.chars().find(|&c| !is_lower_hex(c)) {
        return Err(ApiError::invalid_input(format!(
            "transfer id {excerpt:?} contains {bad:?}; use only the digits 0-9 and the \
             lowercase letters a-f"
        )));
    }
    text.parse()
        .map_err(|err: crate::store::InvalidId| ApiError::invalid_input(err.to_string()))
}

/// Records the file id in the request span.
pub fn record_file(id: FileId) {
    crate::request_span::record("file_id", tracing::field::display(id));
}

fn check_metadata_len(len: usize) -> Result<(), ApiError> {
    if len > MAX_METADATA_LEN {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("metadata of {len} bytes exceeds the maximum of {MAX_METADATA_LEN} bytes"),
        ));
    }
    if len < MIN_METADATA_LEN {
        return Err(ApiError::invalid_input(format!(
            "metadata of {len} bytes is shorter than the minimum of {MIN_METADATA_LEN} bytes"
        )));
    }
    Ok(())
}

/// Checks that `records` contains exactly one record for the recipient and one for the
/// sender (a single one when they are the same account), each a well-formed HPKE record.
fn check_records(
    records: &[KeyRecord],
    sender: &SignedIn,
    recipient: (AccountId, &str),
) -> Result<Vec<NewKeyRecord>, ApiError> {
    let (recipient_id, recipient_name) = recipient;
    let mut expected = BTreeSet::from([(sender.username.as_str(), sender.id)]);
    expected.insert((recipient_name, recipient_id));
    let expected_names: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();

    let mut checked = Vec::with_capacity(records.len());
    let mut seen = BTreeSet::new();
    for record in records {
        let name = normalize_username(&record.recipient)?;
        let Some(&(_, account)) = expected.iter().find(|(expected, _)| *expected == name) else {
            return Err(ApiError::invalid_input(format!(
                "key record for {name:?} does not belong to this upload; send one record \
                 for each of {expected_names:?}"
            )));
        };
        if !seen.insert(account) {
            return Err(ApiError::invalid_input(format!(
                "two key records for {name:?}; send exactly one per account"
            )));
        }
        // Checks the sizes (65-byte enc, 48-byte sealed key) and that enc is a P-256 point.
        let sealed = SealedFileKey::from_parts(record.enc.as_slice(), record.sealed_key.as_slice())
            .map_err(|err| ApiError::invalid_input(format!("key record for {name:?}: {err}")))?;
        checked.push(NewKeyRecord {
            recipient: account,
            enc: sealed.enc.to_vec(),
            sealed_key: sealed.ciphertext.to_vec(),
        });
    }
    if let Some((missing, _)) = expected.iter().find(|(_, account)| !seen.contains(account)) {
        return Err(ApiError::invalid_input(format!(
            "missing the key record for {missing:?}; send one record for each of {expected_names:?}"
        )));
    }
    Ok(checked)
}

/// Checks the resume key of an upload: a 65-byte HPKE encapsulated key that is a
/// P-256 point and a 48-byte sealed file key.
fn check_resume_key(enc: &Bytes, sealed_key: &Bytes) -> Result<ResumeKey, ApiError> {
    if enc.len() != ENC_LEN {
        return Err(ApiError::invalid_input(format!(
            "enc has {} bytes; expected {ENC_LEN}: send the HPKE encapsulated key from \
             sealing the file key to your own public key",
            enc.len()
        )));
    }
    if sealed_key.len() != SEALED_KEY_LEN {
        return Err(ApiError::invalid_input(format!(
            "sealed_key has {} bytes; expected {SEALED_KEY_LEN}: send the HPKE ciphertext \
             of the file key sealed to your own public key",
            sealed_key.len()
        )));
    }
    let sealed =
        SealedFileKey::from_parts(enc.as_slice(), sealed_key.as_slice()).map_err(|err| {
            ApiError::invalid_input(format!(
                "enc is not a valid HPKE encapsulated key ({err}); seal the file key again"
            ))
        })?;
    Ok(ResumeKey {
        enc: sealed.enc.to_vec(),
        sealed_key: sealed.ciphertext.to_vec(),
    })
}

/// Builds the page's form of a resumable upload.
fn pending_upload(listing: PendingListing) -> Result<PendingUpload, ApiError> {
    let PendingListing {
        file,
        recipient,
        stored_parts,
    } = listing;
    let key = file.resume_key.ok_or_else(|| {
        internal(
            "list pending uploads",
            &format!("upload {} is listed without a resume key", file.id),
        )
    })?;
    Ok(PendingUpload {
        file_id: file.id.to_string(),
        recipient: recipient.username,
        ciphertext_len: file.ciphertext_len,
        part_count: file.part_count,
        metadata: Bytes(file.metadata),
        enc: Bytes(key.enc),
        sealed_key: Bytes(key.sealed_key),
        created_at_ms: file.created_at_ms,
        expires_at_ms: upload_expires_at_ms(file.created_at_ms),
        stored_parts: part_ranges(stored_parts),
        transfer: file.transfer.map(|id| id.to_string()),
    })
}

fn part_ranges(runs: Vec<Range<u32>>) -> Vec<PartRange> {
    runs.into_iter()
        .map(|run| PartRange {
            start: run.start,
            end: run.end,
        })
        .collect()
}

/// Joins the stored usage and the quota in the form the page shows.
pub fn storage_usage(used: Usage, quota: Quota) -> StorageUsage {
    StorageUsage {
        bytes_used: used.bytes,
        bytes_allowed: quota.bytes,
        files_used: used.files,
        files_allowed: quota.files,
    }
}

fn file_entries(listings: Vec<FileListing>, viewer: &str) -> Vec<FileEntry> {
    listings
        .into_iter()
        .map(|listing| file_entry(listing, viewer))
        .collect()
}

/// Builds a list entry with the record addressed to `viewer`.
fn file_entry(listing: FileListing, viewer: &str) -> FileEntry {
    let FileListing {
        file,
        sender,
        recipient,
        own_record,
        expires_at_ms,
    } = listing;
    FileEntry {
        file_id: file.id.to_string(),
        sender: sender.username,
        sender_public_key: Bytes(sender.public_key),
        recipient: recipient.username,
        ciphertext_len: file.ciphertext_len,
        part_count: file.part_count,
        created_at_ms: file.completed_at_ms.unwrap_or(file.created_at_ms),
        expires_at_ms,
        metadata: Bytes(file.metadata),
        record: KeyRecord {
            recipient: viewer.to_owned(),
            enc: Bytes(own_record.enc),
            sealed_key: Bytes(own_record.sealed_key),
        },
        transfer: file.transfer.map(|id| id.to_string()),
    }
}

//! The JSON API between the page and the server, as Leptos server functions.
//!
//! Every function is a `POST /api/<name>` with a JSON request body and a JSON response. Byte
//! strings travel as unpadded base64url text ([`Bytes`]). On the server each function
//! forwards to the [`Backend`] found in the Leptos context, so the storage code lives
//! in the server crate. Part upload and download are plain HTTP routes, not server
//! functions, because their bodies are raw ciphertext: see [`part_url`].

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::error::{ApiError, ErrorCode};
pub use crate::quota::StorageUsage;
pub use crate::wire::Bytes;

/// Limits and layout the page needs before it encrypts anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest plaintext file the server accepts, in bytes.
    pub max_file_size: u64,
    /// Largest encrypted metadata message the server accepts, in bytes.
    pub max_metadata_size: u64,
    /// Shortest share-link lifetime the server accepts, in seconds.
    pub min_link_expiry_secs: u64,
    /// Maximum share-link lifetime the server accepts, in seconds.
    pub max_link_expiry_secs: u64,
    /// The lifetime the page offers first, in seconds.
    pub default_link_expiry_secs: u64,
    /// Highest download limit of one share link (the lowest is 1).
    pub max_link_downloads: u32,
    /// How long a finished file is kept, in seconds: the server deletes it this long
    /// after its upload finished, and its share links end then at the latest.
    pub file_lifetime_secs: u64,
}

/// Argon2id cost parameters, stored per account so they can be raised later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub username: String,
    /// 16-byte Argon2id salt chosen by the browser.
    pub salt: Bytes,
    pub kdf: KdfParams,
    /// 32-byte login key; the server stores only its SHA-256 hash.
    pub login_key: Bytes,
    /// SEC1 uncompressed P-256 public key, 65 bytes.
    pub public_key: Bytes,
    /// The identity private key, AES-256-GCM encrypted under the password wrapping key.
    pub wrapped_identity: Bytes,
}

/// The password-derivation inputs for one username. For an unknown username the
/// salt is derived from a server secret, so the response looks like a real account's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordParams {
    pub salt: Bytes,
    pub kdf: KdfParams,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub login_key: Bytes,
}

/// The account data the browser rebuilds its keys from after login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub public_key: Bytes,
    pub wrapped_identity: Bytes,
}

/// Another account's name and public key, looked up before encrypting to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub username: String,
    pub public_key: Bytes,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateUploadRequest {
    pub recipient: String,
    /// Length of the contents ciphertext (C2SP chunked encryption, header included).
    pub ciphertext_len: u64,
    /// The encrypted metadata message (name, size, media type, modification time).
    pub metadata: Bytes,
    /// The options of the share link the page will make once the upload is finished.
    /// The server checks them here, so bad options fail before any part is sent.
    #[serde(default)]
    pub link: Option<LinkOptions>,
    /// 32 lowercase hex digits chosen at random by the page, the same for every file
    /// of one send, so that the lists can show those files together. The server checks
    /// its form and stores it, but each file is still checked and counted against the
    /// quotas on its own.
    #[serde(default)]
    pub transfer: Option<String>,
}

/// A pending upload: parts go to [`part_url`] until [`finish_upload`] succeeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadTicket {
    /// 32 lowercase hex digits.
    pub file_id: String,
    pub part_count: u32,
}

/// One HPKE key-exchange record: the file key sealed to `recipient`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub recipient: String,
    /// HPKE encapsulated key, 65 bytes.
    pub enc: Bytes,
    /// HPKE ciphertext of the 32-byte file key, 48 bytes.
    pub sealed_key: Bytes,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinishUploadRequest {
    pub file_id: String,
    /// One record for the recipient and one for the sender, or a single record when
    /// they are the same account.
    pub records: Vec<KeyRecord>,
}

/// The file key of a pending upload sealed to the sender's own public key, stored so
/// that the upload can resume after the page is reloaded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaveUploadKeyRequest {
    /// A pending upload of the caller.
    pub file_id: String,
    /// HPKE encapsulated key, 65 bytes.
    pub enc: Bytes,
    /// HPKE ciphertext of the 32-byte file key, 48 bytes, sealed like the sender's key
    /// record of this file.
    pub sealed_key: Bytes,
}

/// A half-open run `start..end` of part indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRange {
    /// First index in the run.
    pub start: u32,
    /// One past the last index in the run.
    pub end: u32,
}

/// The parts the server stores of one pending upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    pub part_count: u32,
    /// Runs of stored part indexes, ascending and never touching each other.
    pub stored_parts: Vec<PartRange>,
}

/// A pending upload of the caller that has a resume key: what the page needs to go on
/// sending the same file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpload {
    pub file_id: String,
    /// Username of the recipient.
    pub recipient: String,
    pub ciphertext_len: u64,
    pub part_count: u32,
    /// The encrypted metadata message sent to [`create_upload`].
    pub metadata: Bytes,
    /// The resume key from [`save_upload_key`]: HPKE encapsulated key, 65 bytes.
    pub enc: Bytes,
    /// The resume key from [`save_upload_key`]: the sealed file key, 48 bytes.
    pub sealed_key: Bytes,
    /// Upload creation time, milliseconds since the Unix epoch (UTC).
    pub created_at_ms: i64,
    /// Milliseconds since the Unix epoch (UTC) after which the server deletes the
    /// unfinished upload: its creation time plus the server's upload lifetime. The
    /// hourly sweep deletes it, so it can stay up to an hour longer, but the list
    /// leaves it out from then on.
    pub expires_at_ms: i64,
    /// Runs of stored part indexes, ascending and never touching each other.
    pub stored_parts: Vec<PartRange>,
    /// The transfer id given to [`create_upload`], if any.
    #[serde(default)]
    pub transfer: Option<String>,
}

/// A file in the inbox or the sent list, with the record addressed to the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub file_id: String,
    pub sender: String,
    pub sender_public_key: Bytes,
    pub recipient: String,
    pub ciphertext_len: u64,
    pub part_count: u32,
    /// Upload completion time, milliseconds since the Unix epoch (UTC).
    pub created_at_ms: i64,
    /// Milliseconds since the Unix epoch (UTC) from which the file is deleted: its
    /// completion time plus the server's file lifetime.
    pub expires_at_ms: i64,
    pub metadata: Bytes,
    /// The caller's own key-exchange record for this file.
    pub record: KeyRecord,
    /// The transfer id given to [`create_upload`], if any: files with the same one
    /// were sent together.
    #[serde(default)]
    pub transfer: Option<String>,
}

/// Returns the URL of one ciphertext part: `PUT` uploads it, `GET` downloads it. The
/// sender can also `GET` a stored part of its own pending upload.
pub fn part_url(file_id: &str, index: u32) -> String {
    format!("/api/files/{file_id}/parts/{index}")
}

/// Returns the URL of one ciphertext part of the file behind a share link. `GET` with
/// the ticket from [`unlock_link`] in the [`LINK_TICKET_HEADER`] header downloads it.
pub fn link_part_url(link_id: &str, index: u32) -> String {
    format!("/api/links/{link_id}/parts/{index}")
}

/// The request header that carries a share-link download ticket.
pub const LINK_TICKET_HEADER: &str = "x-link-ticket";

/// Returns the path of a share link's page; the link secret follows it as the fragment.
pub fn link_path(link_id: &str) -> String {
    format!("/s/{link_id}")
}

/// The options the sender picks for a share link. The server checks each value against
/// [`Limits`] and computes the expiry itself, in UTC, from the duration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOptions {
    /// Lifetime from creation, in seconds.
    pub expires_in_secs: u64,
    /// Number of complete downloads allowed, 1 to [`Limits::max_link_downloads`].
    pub download_limit: u32,
    /// Argon2id salt and cost of the link password, when the link has one. The password
    /// itself never leaves the browser.
    pub password: Option<PasswordParams>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateLinkRequest {
    /// A sent file of the caller.
    pub file_id: String,
    /// 32 lowercase hex digits, 16 random bytes chosen by the browser.
    pub link_id: String,
    pub options: LinkOptions,
    /// The 32-byte gate key, from the link secret alone; the server stores only its
    /// SHA-256 hash.
    pub gate_key: Bytes,
    /// The 32-byte access key, from the link secret and the password; the server stores
    /// only its SHA-256 hash.
    pub access_key: Bytes,
    /// The file key wrapped under the link's wrapping key, 61 bytes.
    pub wrapped_key: Bytes,
    /// The link secret sealed under the file key for the owner, 61 bytes.
    pub sealed_secret: Bytes,
}

/// The state of a share link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Active,
    Expired,
    UsedUp,
    Revoked,
}

/// One share link as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkEntry {
    pub link_id: String,
    pub file_id: String,
    /// Milliseconds since the Unix epoch (UTC).
    pub created_at_ms: i64,
    /// Milliseconds since the Unix epoch (UTC), computed by the server.
    pub expires_at_ms: i64,
    pub download_limit: u32,
    /// Complete downloads counted against the limit.
    pub downloads_used: u32,
    /// Downloads that received their last part and are not counted yet.
    pub downloads_in_progress: u32,
    pub has_password: bool,
    pub state: LinkState,
    /// The link secret sealed under the file key, so the owner can show the link again.
    pub sealed_secret: Bytes,
}

/// The part of a share link shown to anyone before it is unlocked: only whether it
/// needs a password and, if so, how to derive the key from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkGate {
    pub password: Option<PasswordParams>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnlockLinkRequest {
    pub link_id: String,
    /// The 32-byte gate key derived from the link secret. A wrong one gets the dead-link
    /// response and never counts as a password failure.
    pub gate_key: Bytes,
    /// The 32-byte access key derived from the link secret and the password.
    pub access_key: Bytes,
}

/// The data an unlocked share link returns: the file's ciphertext layout, its encrypted
/// metadata, the wrapped file key and a ticket for the part downloads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDownload {
    /// Goes in the [`LINK_TICKET_HEADER`] header of every part request and in
    /// [`confirm_download`].
    pub ticket: String,
    pub file_id: String,
    /// Username of the account that made the link.
    pub sender: String,
    pub ciphertext_len: u64,
    pub part_count: u32,
    pub metadata: Bytes,
    pub wrapped_key: Bytes,
    /// Milliseconds since the Unix epoch (UTC).
    pub expires_at_ms: i64,
    /// Downloads left before this one, counting those in progress.
    pub downloads_left: u32,
}

#[server(prefix = "/api", endpoint = "server_info", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn server_info() -> Result<Limits, ApiError> {
    backend()?.server_info().await
}

#[server(prefix = "/api", endpoint = "register", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn register(request: RegisterRequest) -> Result<Account, ApiError> {
    backend()?.register(request).await
}

#[server(prefix = "/api", endpoint = "login_params", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn login_params(username: String) -> Result<PasswordParams, ApiError> {
    backend()?.login_params(username).await
}

#[server(prefix = "/api", endpoint = "login", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn login(request: LoginRequest) -> Result<Account, ApiError> {
    backend()?.login(request).await
}

#[server(prefix = "/api", endpoint = "logout", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn logout() -> Result<(), ApiError> {
    backend()?.logout().await
}

/// Returns the username of the signed-in account, or `None` without a session.
#[server(prefix = "/api", endpoint = "session", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn session() -> Result<Option<String>, ApiError> {
    backend()?.session().await
}

#[server(prefix = "/api", endpoint = "lookup_recipient", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn lookup_recipient(username: String) -> Result<Recipient, ApiError> {
    backend()?.lookup_recipient(username).await
}

#[server(prefix = "/api", endpoint = "create_upload", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn create_upload(request: CreateUploadRequest) -> Result<UploadTicket, ApiError> {
    backend()?.create_upload(request).await
}

#[server(prefix = "/api", endpoint = "finish_upload", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn finish_upload(request: FinishUploadRequest) -> Result<FileEntry, ApiError> {
    backend()?.finish_upload(request).await
}

/// Stores the file key of a pending upload of the caller, sealed to the caller's own
/// public key, so that the upload can resume after a page reload. Storing it again
/// replaces it, and finishing the upload deletes it.
#[server(prefix = "/api", endpoint = "save_upload_key", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn save_upload_key(request: SaveUploadKeyRequest) -> Result<(), ApiError> {
    backend()?.save_upload_key(request).await
}

/// Lists the caller's pending uploads that have a resume key, newest first, with the
/// parts stored of each.
#[server(prefix = "/api", endpoint = "pending_uploads", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn pending_uploads() -> Result<Vec<PendingUpload>, ApiError> {
    backend()?.pending_uploads().await
}

/// Returns the parts stored of one pending upload of the caller. The macro would name
/// its argument struct `UploadStatus`, the name of the response type, so `name` sets
/// another.
#[server(name = UploadStatusCall, prefix = "/api", endpoint = "upload_status", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn upload_status(file_id: String) -> Result<UploadStatus, ApiError> {
    backend()?.upload_status(file_id).await
}

#[server(prefix = "/api", endpoint = "inbox", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn inbox() -> Result<Vec<FileEntry>, ApiError> {
    backend()?.inbox().await
}

#[server(prefix = "/api", endpoint = "sent", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn sent() -> Result<Vec<FileEntry>, ApiError> {
    backend()?.sent().await
}

/// Deletes a sent file: its ciphertext, its records and its key-exchange records.
#[server(prefix = "/api", endpoint = "delete_file", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn delete_file(file_id: String) -> Result<(), ApiError> {
    backend()?.delete_file(file_id).await
}

/// Makes a share link for a sent file of the caller.
#[server(prefix = "/api", endpoint = "create_link", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn create_link(request: CreateLinkRequest) -> Result<LinkEntry, ApiError> {
    backend()?.create_link(request).await
}

/// Lists every share link of the caller's files, newest first, with their state.
#[server(prefix = "/api", endpoint = "links", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn links() -> Result<Vec<LinkEntry>, ApiError> {
    backend()?.links().await
}

/// Ends a share link of the caller at once; later requests get the dead-link response.
#[server(prefix = "/api", endpoint = "revoke_link", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn revoke_link(link_id: String) -> Result<(), ApiError> {
    backend()?.revoke_link(link_id).await
}

/// Tells anyone whether a live share link needs a password. Needs no account.
#[server(prefix = "/api", endpoint = "open_link", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn open_link(link_id: String) -> Result<LinkGate, ApiError> {
    backend()?.open_link(link_id).await
}

/// Checks the access key of a share link and returns what the download needs. Wrong
/// keys are throttled per link. Needs no account.
#[server(prefix = "/api", endpoint = "unlock_link", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn unlock_link(request: UnlockLinkRequest) -> Result<LinkDownload, ApiError> {
    backend()?.unlock_link(request).await
}

/// Reports that the download of a ticket received and verified its last part.
#[server(prefix = "/api", endpoint = "confirm_download", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn confirm_download(ticket: String) -> Result<(), ApiError> {
    backend()?.confirm_download(ticket).await
}

/// Ends every session of the signed-in account, on every device, the current one
/// included.
#[server(prefix = "/api", endpoint = "logout_everywhere", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn logout_everywhere() -> Result<(), ApiError> {
    backend()?.logout_everywhere().await
}

/// Returns the caller's stored bytes and files with the quotas that cap them.
#[server(prefix = "/api", endpoint = "usage", input = server_fn::codec::Json, client = crate::client::ApiClient)]
pub async fn usage() -> Result<StorageUsage, ApiError> {
    backend()?.usage().await
}

#[cfg(feature = "ssr")]
pub use backend::{Backend, SharedBackend};

#[cfg(feature = "ssr")]
fn backend() -> Result<SharedBackend, ApiError> {
    use_context::<SharedBackend>().ok_or_else(ApiError::internal)
}

#[cfg(feature = "ssr")]
mod backend {
    use super::*;
    use std::sync::Arc;

    /// The server side of every API function. The server crate implements it and
    /// provides an [`SharedBackend`] in the Leptos context of each request; the
    /// implementation reads the session from the request parts in that context.
    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn server_info(&self) -> Result<Limits, ApiError>;
        async fn register(&self, request: RegisterRequest) -> Result<Account, ApiError>;
        async fn login_params(&self, username: String) -> Result<PasswordParams, ApiError>;
        async fn login(&self, request: LoginRequest) -> Result<Account, ApiError>;
        async fn logout(&self) -> Result<(), ApiError>;
        async fn session(&self) -> Result<Option<String>, ApiError>;
        async fn lookup_recipient(&self, username: String) -> Result<Recipient, ApiError>;
        async fn create_upload(
            &self,
            request: CreateUploadRequest,
        ) -> Result<UploadTicket, ApiError>;
        async fn finish_upload(&self, request: FinishUploadRequest) -> Result<FileEntry, ApiError>;
        async fn save_upload_key(&self, request: SaveUploadKeyRequest) -> Result<(), ApiError>;
        async fn pending_uploads(&self) -> Result<Vec<PendingUpload>, ApiError>;
        async fn upload_status(&self, file_id: String) -> Result<UploadStatus, ApiError>;
        async fn inbox(&self) -> Result<Vec<FileEntry>, ApiError>;
        async fn sent(&self) -> Result<Vec<FileEntry>, ApiError>;
        async fn delete_file(&self, file_id: String) -> Result<(), ApiError>;
        async fn create_link(&self, request: CreateLinkRequest) -> Result<LinkEntry, ApiError>;
        async fn links(&self) -> Result<Vec<LinkEntry>, ApiError>;
        async fn revoke_link(&self, link_id: String) -> Result<(), ApiError>;
        async fn open_link(&self, link_id: String) -> Result<LinkGate, ApiError>;
        async fn unlock_link(&self, request: UnlockLinkRequest) -> Result<LinkDownload, ApiError>;
        async fn confirm_download(&self, ticket: String) -> Result<(), ApiError>;
        async fn logout_everywhere(&self) -> Result<(), ApiError>;
        async fn usage(&self) -> Result<StorageUsage, ApiError>;
    }

    pub type SharedBackend = Arc<dyn Backend>;
}

/// Shortest accepted username, in characters.
pub const MIN_USERNAME_LEN: usize = 3;
/// Longest accepted username, in characters.
pub const MAX_USERNAME_LEN: usize = 32;
/// Shortest accepted password, in characters. The password never leaves the
/// browser, so only the browser can check this.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Checks a username and returns its canonical form: trimmed and lowercased, 3 to
/// 32 characters from `a-z`, `0-9`, `.`, `_` and `-`, starting with a letter or digit.
/// Page and server run the same check, so both reject the same names.
pub fn normalize_username(input: &str) -> Result<String, ApiError> {
    let name = input.trim().to_lowercase();
    let shown = crate::error::excerpt(&name);
    if name.is_empty() {
        return Err(ApiError::invalid_input(
            "username is empty; enter a username",
        ));
    }
    let length = name.chars().count();
    if !(MIN_USERNAME_LEN..=MAX_USERNAME_LEN).contains(&length) {
        return Err(ApiError::invalid_input(format!(
            "username {shown:?} has {length} characters; use {MIN_USERNAME_LEN} to {MAX_USERNAME_LEN}"
        )));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if let Some(bad) = name.chars().find(|&c| !allowed(c)) {
        return Err(ApiError::invalid_input(format!(
            "username {shown:?} contains {bad:?}; use only letters a-z, digits, '.', '_' and '-'"
        )));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid_input(format!(
            "username {shown:?} must start with a letter or a digit"
        )));
    }
    Ok(name)
}

/// Checks a password's length in the browser, before any key is derived from it.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid_input(format!(
            "password is too short ({length} characters); use at least {MIN_PASSWORD_LEN}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_is_lowercased_and_trimmed() {
        assert_eq!(normalize_username("  Alice.B ").unwrap(), "alice.b");
    }

    #[test]
    fn username_rejects_bad_forms() {
        for bad in ["", "ab", "-abc", "a b c", "ålice", &"x".repeat(33)] {
            let err = normalize_username(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidInput, "input {bad:?}");
        }
    }

    #[test]
    fn short_password_is_rejected() {
        assert!(check_password("123456789").is_err());
        assert!(check_password("1234567890").is_ok());
    }
}

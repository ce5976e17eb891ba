//! The server side of the API functions: the [`Backend`] the server functions call.

mod accounts;
mod files;
mod links;
mod session;

use async_trait::async_trait;
use dtc_app::api::{
    Account, ApiError, Backend, CreateLinkRequest, CreateUploadRequest, FileEntry,
    FinishUploadRequest, Limits, LinkDownload, LinkEntry, LinkGate, LoginRequest, PasswordParams,
    PendingUpload, Recipient, RegisterRequest, SaveUploadKeyRequest, StorageUsage,
    UnlockLinkRequest, UploadStatus, UploadTicket,
};

use crate::config::Config;
use crate::store::Store;

pub use files::{parse_file_id, record_file, storage_usage};
pub use links::{parse_link_id, record_link};
pub use session::{ACCOUNT_KEY, SignedIn, require_in};

/// Largest encrypted metadata message accepted, in bytes.
pub const MAX_METADATA_LEN: usize = 65536;

/// Smallest encrypted metadata message: a Cobblestone-256 header (56 bytes) and one
/// empty final chunk (16 bytes).
pub const MIN_METADATA_LEN: usize = 72;

/// Shortest share-link lifetime accepted, in seconds.
pub const MIN_LINK_EXPIRY_SECS: u64 = 300;

/// The share-link lifetime the page offers first, in seconds, unless the configured
/// maximum is shorter.
pub const DEFAULT_LINK_EXPIRY_SECS: u64 = 7 * 24 * 60 * 60;

/// Highest download limit of one share link.
pub const MAX_LINK_DOWNLOADS: u32 = 100;

/// The limits the backend enforces, from the configuration.
#[derive(Clone, Debug)]
pub struct Policy {
    pub max_file_size: u64,
    pub max_link_expiry_secs: u64,
    pub quota_bytes: u64,
    pub quota_files: u64,
    pub file_lifetime_secs: u64,
    pub session_max_age_secs: u64,
}

impl Policy {
    pub fn from_config(config: &Config) -> Self {
        Policy {
            max_file_size: config.max_file_size,
            max_link_expiry_secs: config.link_max_expiry_secs,
            quota_bytes: config.quota_bytes,
            quota_files: config.quota_files,
            file_lifetime_secs: config.file_lifetime_secs,
            session_max_age_secs: config.session_max_age_secs,
        }
    }
}

/// The [`Backend`] on the [`Store`].
#[derive(Clone, Debug)]
pub struct ServerBackend {
    store: Store,
    max_file_size: u64,
    max_link_expiry_secs: u64,
    policy: Policy,
}

impl ServerBackend {
    /// Builds the backend and sets the store's file lifetime from `policy`.
    pub fn new(store: Store, policy: Policy) -> Self {
        store.set_file_lifetime(std::time::Duration::from_secs(policy.file_lifetime_secs));
        ServerBackend {
            store,
            max_file_size: policy.max_file_size,
            max_link_expiry_secs: policy.max_link_expiry_secs,
            policy,
        }
    }
}

#[async_trait]
impl Backend for ServerBackend {
    async fn server_info(&self) -> Result<Limits, ApiError> {
        Ok(Limits {
            max_file_size: self.max_file_size,
            max_metadata_size: MAX_METADATA_LEN as u64,
            min_link_expiry_secs: MIN_LINK_EXPIRY_SECS,
            max_link_expiry_secs: self.max_link_expiry_secs,
            default_link_expiry_secs: DEFAULT_LINK_EXPIRY_SECS.min(self.max_link_expiry_secs),
            max_link_downloads: MAX_LINK_DOWNLOADS,
            file_lifetime_secs: self.policy.file_lifetime_secs,
        })
    }

    async fn register(&self, request: RegisterRequest) -> Result<Account, ApiError> {
        self.register_account(request).await
    }

    async fn login_params(&self, username: String) -> Result<PasswordParams, ApiError> {
        self.password_params(username).await
    }

    async fn login(&self, request: LoginRequest) -> Result<Account, ApiError> {
        self.sign_in(request).await
    }

    async fn logout(&self) -> Result<(), ApiError> {
        self.sign_out().await
    }

    async fn logout_everywhere(&self) -> Result<(), ApiError> {
        self.sign_out_everywhere().await
    }

    async fn session(&self) -> Result<Option<String>, ApiError> {
        let signed_in = session::current().await?.signed_in().await?;
        Ok(signed_in.map(|account| account.username))
    }

    async fn lookup_recipient(&self, username: String) -> Result<Recipient, ApiError> {
        self.find_recipient(username).await
    }

    async fn create_upload(&self, request: CreateUploadRequest) -> Result<UploadTicket, ApiError> {
        self.start_upload(request).await
    }

    async fn finish_upload(&self, request: FinishUploadRequest) -> Result<FileEntry, ApiError> {
        self.complete_upload(request).await
    }

    async fn save_upload_key(&self, request: SaveUploadKeyRequest) -> Result<(), ApiError> {
        self.keep_upload_key(request).await
    }

    async fn pending_uploads(&self) -> Result<Vec<PendingUpload>, ApiError> {
        self.list_pending_uploads().await
    }

    async fn upload_status(&self, file_id: String) -> Result<UploadStatus, ApiError> {
        self.read_upload_status(file_id).await
    }

    async fn inbox(&self) -> Result<Vec<FileEntry>, ApiError> {
        self.list_inbox().await
    }

    async fn sent(&self) -> Result<Vec<FileEntry>, ApiError> {
        self.list_sent().await
    }

    async fn delete_file(&self, file_id: String) -> Result<(), ApiError> {
        self.remove_file(file_id).await
    }

    async fn create_link(&self, request: CreateLinkRequest) -> Result<LinkEntry, ApiError> {
        self.make_link(request).await
    }

    async fn links(&self) -> Result<Vec<LinkEntry>, ApiError> {
        self.list_links().await
    }

    async fn revoke_link(&self, link_id: String) -> Result<(), ApiError> {
        self.end_link(link_id).await
    }

    async fn open_link(&self, link_id: String) -> Result<LinkGate, ApiError> {
        self.gate(link_id).await
    }

    async fn unlock_link(&self, request: UnlockLinkRequest) -> Result<LinkDownload, ApiError> {
        self.unlock(request).await
    }

    async fn confirm_download(&self, ticket: String) -> Result<(), ApiError> {
        self.confirm(ticket).await
    }

    async fn usage(&self) -> Result<StorageUsage, ApiError> {
        self.storage_usage().await
    }
}

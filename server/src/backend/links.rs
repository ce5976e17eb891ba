//! Share links: making, listing and revoking them (the owner), opening, unlocking and
//! confirming them (anyone with the link).

use dtc_app::api::{
    ApiError, Bytes, CreateLinkRequest, LinkDownload, LinkEntry, LinkGate, LinkOptions, LinkState,
    PasswordParams, UnlockLinkRequest,
};
use dtc_crypto::link::{ACCESS_KEY_LEN, AccessKey, SEALED_LEN, SEALED_VERSION};
use dtc_crypto::password::SALT_LEN;

use super::accounts::{check_kdf, check_len};
use super::files::{parse_file_id, record_file};
use super::session;
use super::{MAX_LINK_DOWNLOADS, MIN_LINK_EXPIRY_SECS, ServerBackend};
use crate::error::from_store;
use crate::store::{self, LinkId, LinkView, NewLink, Ticket};

impl ServerBackend {
    /// Checks the options of a share link against the configured limits and returns
    /// its password parameters in stored form.
    pub(super) fn check_link_options(
        &self,
        options: &LinkOptions,
    ) -> Result<Option<store::LinkPassword>, ApiError> {
        let lifetime = options.expires_in_secs;
        if lifetime < MIN_LINK_EXPIRY_SECS {
            return Err(ApiError::invalid_input(format!(
                "link lifetime of {lifetime} s is shorter than the minimum of \
                 {MIN_LINK_EXPIRY_SECS} s; pick a longer one"
            )));
        }
        if lifetime > self.max_link_expiry_secs {
            return Err(ApiError::invalid_input(format!(
                "link lifetime of {lifetime} s exceeds this server's maximum of {} s; \
                 pick a shorter one",
                self.max_link_expiry_secs
            )));
        }
        let limit = options.download_limit;
        if !(1..=MAX_LINK_DOWNLOADS).contains(&limit) {
            return Err(ApiError::invalid_input(format!(
                "download limit {limit} is out of range; use 1 to {MAX_LINK_DOWNLOADS}"
            )));
        }
        let Some(password) = &options.password else {
            return Ok(None);
        };
        check_len("link password salt", &password.salt, SALT_LEN)?;
        check_kdf(password.kdf)?;
        Ok(Some(store::LinkPassword {
            salt: password.salt.0.clone(),
            kdf: store::KdfParams {
                memory_kib: password.kdf.memory_kib,
                iterations: password.kdf.iterations,
                parallelism: password.kdf.parallelism,
            },
        }))
    }

    pub(super) async fn make_link(
        &self,
        request: CreateLinkRequest,
    ) -> Result<LinkEntry, ApiError> {
        let owner = session::current().await?.require().await?;
        let file = parse_file_id(&request.file_id)?;
        record_file(file);
        let id = parse_link_id(&request.link_id)?;
        let password = self.check_link_options(&request.options)?;
        check_len("gate key", &request.gate_key, ACCESS_KEY_LEN)?;
        check_len("access key", &request.access_key, ACCESS_KEY_LEN)?;
        check_sealed("wrapped file key", &request.wrapped_key)?;
        check_sealed("sealed link secret", &request.sealed_secret)?;
        let gate_key = AccessKey::from_bytes(request.gate_key.as_slice())
            .map_err(|err| ApiError::invalid_input(err.to_string()))?;
        let access_key = AccessKey::from_bytes(request.access_key.as_slice())
            .map_err(|err| ApiError::invalid_input(err.to_string()))?;

        let new = NewLink {
            id,
            file,
            owner: owner.id,
            expires_in_secs: request.options.expires_in_secs,
            download_limit: request.options.download_limit,
            gate_verifier: gate_key.verifier().to_vec(),
            verifier: access_key.verifier().to_vec(),
            password,
            wrapped_key: request.wrapped_key.0,
            sealed_secret: request.sealed_secret.0,
        };
        let view = self
            .store
            .create_link(new)
            .await
            .map_err(|err| from_store("create link", err))?;
        tracing::info!(
            expires_at_ms = view.link.expires_at_ms,
            download_limit = view.link.download_limit,
            has_password = view.link.password.is_some(),
            "link created"
        );
        Ok(link_entry(view))
    }

    pub(super) async fn list_links(&self) -> Result<Vec<LinkEntry>, ApiError> {
        let owner = session::current().await?.require().await?;
        let views = self
            .store
            .list_links(owner.id)
            .await
            .map_err(|err| from_store("list links", err))?;
        Ok(views.into_iter().map(link_entry).collect())
    }

    pub(super) async fn end_link(&self, link_id: String) -> Result<(), ApiError> {
        let owner = session::current().await?.require().await?;
        let id = parse_link_id(&link_id)?;
        self.store
            .revoke_link(owner.id, id)
            .await
            .map_err(|err| from_store("revoke link", err))?;
        tracing::info!("link revoked");
        Ok(())
    }

    pub(super) async fn gate(&self, link_id: String) -> Result<LinkGate, ApiError> {
        let id = parse_link_id(&link_id)?;
        let password = self
            .store
            .open_link(id)
            .await
            .map_err(|err| from_store("open link", err))?;
        Ok(LinkGate {
            password: password.map(password_params),
        })
    }

    pub(super) async fn unlock(
        &self,
        request: UnlockLinkRequest,
    ) -> Result<LinkDownload, ApiError> {
        let id = parse_link_id(&request.link_id)?;
        check_len("gate key", &request.gate_key, ACCESS_KEY_LEN)?;
        check_len("access key", &request.access_key, ACCESS_KEY_LEN)?;
        let gate_key = AccessKey::from_bytes(request.gate_key.as_slice())
            .map_err(|err| ApiError::invalid_input(err.to_string()))?;
        let access_key = AccessKey::from_bytes(request.access_key.as_slice())
            .map_err(|err| ApiError::invalid_input(err.to_string()))?;
        let unlocked = self
            .store
            .unlock_link(
                id,
                move |stored| gate_key.matches_verifier(stored),
                move |stored| access_key.matches_verifier(stored),
            )
            .await
            .map_err(|err| from_store("unlock link", err))?;
        record_file(unlocked.file.id);
        tracing::info!(downloads_left = unlocked.downloads_left, "link unlocked");
        Ok(LinkDownload {
            ticket: unlocked.ticket.expose_text(),
            file_id: unlocked.file.id.to_string(),
            sender: unlocked.sender,
            ciphertext_len: unlocked.file.ciphertext_len,
            part_count: unlocked.file.part_count,
            metadata: Bytes(unlocked.file.metadata),
            wrapped_key: Bytes(unlocked.link.wrapped_key),
            expires_at_ms: unlocked.link.expires_at_ms,
            downloads_left: unlocked.downloads_left,
        })
    }

    pub(super) async fn confirm(&self, ticket: String) -> Result<(), ApiError> {
        let ticket = Ticket::parse(&ticket).ok_or_else(ApiError::link_not_found)?;
        let id = self
            .store
            .confirm_download(ticket)
            .await
            .map_err(|err| from_store("confirm download", err))?;
        record_link(id);
        tracing::info!("download confirmed");
        Ok(())
    }
}

/// Parses a link id from a request, naming the rejected text, and records it in the
/// request span.
pub fn parse_link_id(text: &str) -> Result<LinkId, ApiError> {
    let id: LinkId = text
        .parse()
        .map_err(|err: store::InvalidId| ApiError::invalid_input(err.to_string()))?;
    record_link(id);
    Ok(id)
}

/// Records the link id in the request span.
pub fn record_link(id: LinkId) {
    crate::request_span::record("link_id", tracing::field::display(id));
}

/// Checks the form of a wrapped file key or a sealed link secret: 61 bytes that start
/// with the version byte. Only the browser can check the rest.
fn check_sealed(what: &str, bytes: &Bytes) -> Result<(), ApiError> {
    check_len(what, bytes, SEALED_LEN)?;
    match bytes.as_slice().first() {
        Some(&SEALED_VERSION) => Ok(()),
        Some(version) => Err(ApiError::invalid_input(format!(
            "{what} has version byte {version}; expected {SEALED_VERSION}"
        ))),
        None => Err(ApiError::invalid_input(format!("{what} is empty"))),
    }
}

fn password_params(password: store::LinkPassword) -> PasswordParams {
    PasswordParams {
        salt: Bytes(password.salt),
        kdf: dtc_app::api::KdfParams {
            memory_kib: password.kdf.memory_kib,
            iterations: password.kdf.iterations,
            parallelism: password.kdf.parallelism,
        },
    }
}

fn link_entry(view: LinkView) -> LinkEntry {
    let state = match view.state {
        store::LinkState::Active => LinkState::Active,
        store::LinkState::Expired => LinkState::Expired,
        store::LinkState::UsedUp => LinkState::UsedUp,
        store::LinkState::Revoked => LinkState::Revoked,
    };
    let link = view.link;
    LinkEntry {
        link_id: link.id.to_string(),
        file_id: link.file.to_string(),
        created_at_ms: link.created_at_ms,
        expires_at_ms: link.expires_at_ms,
        download_limit: link.download_limit,
        downloads_used: view.downloads_used,
        downloads_in_progress: view.downloads_in_progress,
        has_password: link.password.is_some(),
        state,
        sealed_secret: Bytes(link.sealed_secret),
    }
}

//! Registration, password parameters, login and logout.

use dtc_app::api::{
    Account, ApiError, Bytes, KdfParams, LoginRequest, PasswordParams, Recipient, RegisterRequest,
    normalize_username,
};
use dtc_crypto::identity::PublicKey;
use dtc_crypto::password::{self, LoginKey, SALT_LEN, WRAPPED_IDENTITY_LEN};

use super::ServerBackend;
use super::session::{self, SignedIn};
use std::sync::Arc;

use axum::http::header;
use axum::http::request::Parts;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::Settings;
use crate::client::current_client_ip;
use crate::error::{from_store, internal};
use crate::session_store::{device_cookie, device_set_cookie};
use crate::store::{self, AccountRecord, DeviceToken, NewAccount};

/// The parameters shown for unknown usernames: those new accounts get.
const DEFAULT_KDF: KdfParams = KdfParams {
    memory_kib: password::KdfParams::DEFAULT.memory_kib,
    iterations: password::KdfParams::DEFAULT.iterations,
    parallelism: password::KdfParams::DEFAULT.parallelism,
};

impl ServerBackend {
    pub(super) async fn register_account(
        &self,
        request: RegisterRequest,
    ) -> Result<Account, ApiError> {
        let username = normalize_username(&request.username)?;
        check_len("salt", &request.salt, SALT_LEN)?;
        let login_key = parse_login_key(&request.login_key)?;
        check_len(
            "wrapped identity key",
            &request.wrapped_identity,
            WRAPPED_IDENTITY_LEN,
        )?;
        PublicKey::from_sec1(request.public_key.as_slice()).map_err(|err| {
            ApiError::invalid_input(format!(
                "public key is not a P-256 point in SEC1 uncompressed form ({err}); \
                 register with a newly generated key"
            ))
        })?;
        check_kdf(request.kdf)?;
        let client = current_client_ip()?;

        let session = session::current().await?;
        let new = NewAccount {
            username,
            salt: request.salt.0,
            kdf: store::KdfParams {
                memory_kib: request.kdf.memory_kib,
                iterations: request.kdf.iterations,
                parallelism: request.kdf.parallelism,
            },
            login_key_hash: login_key.verifier().to_vec(),
            public_key: request.public_key.0,
            wrapped_identity: request.wrapped_identity.0,
        };
        let account = self
            .store
            .create_account(new)
            .await
            .map_err(|err| from_store("register", err))?;
        tracing::info!(account = %account.id, "account registered");
        let device = self
            .store
            .record_first_sign_in(&account.username, client, account.id)
            .await
            .map_err(|err| from_store("record sign-in address", err))?;
        give_device_cookie(&device)?;

        session.sign_in(self.signed_in(&account)).await?;
        Ok(account_view(account))
    }

    pub(super) async fn password_params(
        &self,
        username: String,
    ) -> Result<PasswordParams, ApiError> {
        let username = normalize_username(&username)?;
        let found = self.find(&username).await?;
        Ok(match found {
            Some(account) => PasswordParams {
                salt: Bytes(account.salt),
                kdf: KdfParams {
                    memory_kib: account.kdf.memory_kib,
                    iterations: account.kdf.iterations,
                    parallelism: account.kdf.parallelism,
                },
            },
            None => PasswordParams {
                salt: Bytes(self.store.decoy_salt(&username).to_vec()),
                kdf: DEFAULT_KDF,
            },
        })
    }

    /// Signs in with the login key. The attempt is counted by the login throttle
    /// before the key is compared, and a throttled attempt compares nothing. A valid
    /// device cookie of the account puts the attempt in that device's own scope.
    pub(super) async fn sign_in(&self, request: LoginRequest) -> Result<Account, ApiError> {
        let username = normalize_username(&request.username)?;
        let login_key = parse_login_key(&request.login_key)?;
        let client = current_client_ip()?;
        let device = current_device_cookie()?;
        let session = session::current().await?;
        let attempt = self
            .store
            .begin_login_attempt(&username, client, device.as_ref())
            .await
            .map_err(|err| from_store("count login attempt", err))?;
        let found = self.find(&username).await?;
        if let Some(account) = &found {
            session::record_account_id(account.id);
        }

        // An unknown name still runs one comparison, so both failures take the same path.
        let stored: &[u8] = found
            .as_ref()
            .map_or(&[0u8; 32], |account| account.login_key_hash.as_slice());
        let matches = login_key.matches_verifier(stored);
        let Some(account) = found.filter(|_| matches) else {
            return Err(ApiError::invalid_credentials());
        };

        let device = self
            .store
            .end_login_attempt(attempt, account.id)
            .await
            .map_err(|err| from_store("reset login throttle", err))?;
        give_device_cookie(&device)?;
        session.sign_in(self.signed_in(&account)).await?;
        tracing::info!(account = %account.id, "signed in");
        Ok(account_view(account))
    }

    pub(super) async fn sign_out(&self) -> Result<(), ApiError> {
        let session = session::current().await?;
        if let Some(account) = session.signed_in().await? {
            tracing::info!(account = %account.id, "signed out");
        }
        session.sign_out().await
    }

    /// Ends every session of the signed-in account, the current one included.
    pub(super) async fn sign_out_everywhere(&self) -> Result<(), ApiError> {
        let session = session::current().await?;
        let account = session.require().await?;
        session.sign_out().await?;
        let others = self
            .store
            .delete_account_sessions(account.id)
            .await
            .map_err(|err| from_store("end sessions of account", err))?;
        tracing::info!(account = %account.id, other_sessions = others, "signed out everywhere");
        Ok(())
    }

    pub(super) async fn find_recipient(&self, username: String) -> Result<Recipient, ApiError> {
        session::current().await?.require().await?;
        let username = normalize_username(&username)?;
        let account = self
            .find(&username)
            .await?
            .ok_or_else(|| no_account(&username))?;
        Ok(Recipient {
            username: account.username,
            public_key: Bytes(account.public_key),
        })
    }

    pub(super) async fn find(&self, username: &str) -> Result<Option<AccountRecord>, ApiError> {
        let username = username.to_owned();
        self.store
            .find_account(username)
            .await
            .map_err(|err| from_store("find account", err))
    }
}

/// Builds the error for a recipient name without an account.
pub(super) fn no_account(username: &str) -> ApiError {
    ApiError::not_found(format!("no account named {username:?}; check the username"))
}

impl ServerBackend {
    /// Returns the session data of a sign-in to `account` now.
    fn signed_in(&self, account: &AccountRecord) -> SignedIn {
        SignedIn {
            id: account.id,
            username: account.username.clone(),
            signed_in_at_ms: Some(self.store.clock().now_ms()),
        }
    }
}

/// Returns the device cookie of the current server-function request, if it has a
/// well-formed one.
fn current_device_cookie() -> Result<Option<DeviceToken>, ApiError> {
    let parts = use_context::<Parts>()
        .ok_or_else(|| internal("read device cookie", &"no request parts in context"))?;
    let settings = use_context::<Arc<Settings>>()
        .ok_or_else(|| internal("read device cookie", &"no settings in context"))?;
    Ok(device_cookie(&parts.headers, settings.https))
}

/// Sets `token` as the browser's device cookie in the response.
fn give_device_cookie(token: &DeviceToken) -> Result<(), ApiError> {
    let response = use_context::<ResponseOptions>()
        .ok_or_else(|| internal("set device cookie", &"no response options in context"))?;
    let settings = use_context::<Arc<Settings>>()
        .ok_or_else(|| internal("set device cookie", &"no settings in context"))?;
    response.append_header(header::SET_COOKIE, device_set_cookie(token, settings.https));
    Ok(())
}

fn account_view(account: AccountRecord) -> Account {
    Account {
        username: account.username,
        public_key: Bytes(account.public_key),
        wrapped_identity: Bytes(account.wrapped_identity),
    }
}

fn parse_login_key(bytes: &Bytes) -> Result<LoginKey, ApiError> {
    LoginKey::from_bytes(bytes.as_slice()).map_err(|err| ApiError::invalid_input(err.to_string()))
}

pub(super) fn check_len(what: &str, bytes: &Bytes, expected: usize) -> Result<(), ApiError> {
    if bytes.len() == expected {
        return Ok(());
    }
    Err(ApiError::invalid_input(format!(
        "{what} has {} bytes; expected {expected}",
        bytes.len()
    )))
}

pub(super) fn check_kdf(kdf: KdfParams) -> Result<(), ApiError> {
    let params = password::KdfParams {
        memory_kib: kdf.memory_kib,
        iterations: kdf.iterations,
        parallelism: kdf.parallelism,
    };
    params
        .validate()
        .map_err(|err| ApiError::invalid_input(err.to_string()))
}

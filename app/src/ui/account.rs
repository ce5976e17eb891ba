//! Registration and login as the browser runs them: checks first, then Argon2id in
//! the worker, then the server call, then the identity key in page memory.

use dtc_crypto::identity::IdentitySecret;
use dtc_crypto::password::{self, KdfParams};

use super::error::UiError;
use super::session::{Attempt, Keys};
use super::worker::crypto_worker;
use crate::api::{
    self, Account, LoginRequest, RegisterRequest, check_password, normalize_username,
};

/// Status texts for the steps that take a while.
pub const DERIVING_KEYS: &str = "Deriving keys…";
const CREATING_ACCOUNT: &str = "Creating the account…";
const SIGNING_IN: &str = "Signing in…";
const UNLOCKING: &str = "Unlocking your keys…";

/// The fields of the registration form, as typed.
pub struct Registration {
    pub username: String,
    pub password: String,
    pub confirm_password: String,
}

/// Creates an account: a new identity key and salt, password keys from Argon2id,
/// the identity key wrapped under them, and `register`. Returns the unlocked keys,
/// or `UiError::Cancelled` once a sign-out cancels `attempt`.
pub async fn register_account(
    form: Registration,
    attempt: Attempt,
    on_step: impl Fn(&'static str),
) -> Result<Keys, UiError> {
    let username = normalize_username(&form.username)?;
    check_password(&form.password)?;
    if form.password != form.confirm_password {
        return Err(UiError::invalid(
            "the passwords do not match; type the same password in both fields",
        ));
    }

    on_step(DERIVING_KEYS);
    let identity = IdentitySecret::generate();
    let salt = password::random_salt();
    let worker = crypto_worker()?;
    let (slot, login_key) = worker
        .derive_password_keys(&form.password, &salt, KdfParams::DEFAULT)
        .await?;
    ensure_current(attempt)?;
    let wrapped_identity = worker
        .wrap_identity(&slot, identity.expose_secret_bytes().as_slice(), &username)
        .await?;
    drop(slot);
    ensure_current(attempt)?;

    on_step(CREATING_ACCOUNT);
    let request = RegisterRequest {
        username: username.clone(),
        salt: salt.to_vec().into(),
        kdf: to_api_params(KdfParams::DEFAULT),
        login_key: login_key.clone().into(),
        public_key: identity.public_key().to_sec1().to_vec().into(),
        wrapped_identity: wrapped_identity.into(),
    };
    let account = api::register(request).await?;
    ensure_current_signed_in(attempt).await?;
    ensure_signed_in(&account.username, login_key).await?;
    ensure_current_signed_in(attempt).await?;
    Ok(Keys::new(account.username, identity))
}

/// Logs in and unlocks the identity key: `login_params`, Argon2id in the worker,
/// `login`, then the wrapped identity key opened with the wrapping key. Returns
/// `UiError::Cancelled` once a sign-out cancels `attempt`.
pub async fn unlock_account(
    username: &str,
    password: &str,
    attempt: Attempt,
    on_step: impl Fn(&'static str),
) -> Result<Keys, UiError> {
    let username = normalize_username(username)?;
    if password.is_empty() {
        return Err(UiError::invalid("password is empty; enter your password"));
    }

    on_step(DERIVING_KEYS);
    let params = api::login_params(username.clone()).await?;
    ensure_current(attempt)?;
    let kdf = from_api_params(params.kdf);
    // Parameters from the server bound the memory and time Argon2id takes here.
    kdf.validate().map_err(UiError::crypto(
        "checking the account's key derivation parameters",
    ))?;
    let worker = crypto_worker()?;
    let (slot, login_key) = worker
        .derive_password_keys(password, params.salt.as_slice(), kdf)
        .await?;
    ensure_current(attempt)?;

    on_step(SIGNING_IN);
    let account = api::login(LoginRequest {
        username,
        login_key: login_key.into(),
    })
    .await?;
    ensure_current_signed_in(attempt).await?;

    on_step(UNLOCKING);
    let identity = unwrap_account_identity(&worker, &slot, &account).await?;
    ensure_current_signed_in(attempt).await?;
    Ok(Keys::new(account.username, identity))
}

fn ensure_current(attempt: Attempt) -> Result<(), UiError> {
    if attempt.is_current() {
        Ok(())
    } else {
        Err(UiError::Cancelled)
    }
}

/// Checks `attempt` once the server has opened a session for it. A sign-out
/// that came while the server was signing in ran before that session existed,
/// so this logs out again to end it.
async fn ensure_current_signed_in(attempt: Attempt) -> Result<(), UiError> {
    if attempt.is_current() {
        return Ok(());
    }
    if let Err(err) = api::logout().await {
        leptos::logging::warn!("ending the session of a cancelled login failed: {err}");
    }
    Err(UiError::Cancelled)
}

async fn unwrap_account_identity(
    worker: &super::worker::CryptoWorker,
    slot: &super::worker::PasswordKeySlot,
    account: &Account,
) -> Result<IdentitySecret, UiError> {
    let secret = worker
        .unwrap_identity(slot, account.wrapped_identity.as_slice(), &account.username)
        .await?;
    let identity =
        IdentitySecret::from_bytes(&secret).map_err(UiError::crypto("reading the identity key"))?;
    // The server could send a public key that does not belong to the wrapped key.
    if identity.public_key().to_sec1().as_slice() != account.public_key.as_slice() {
        return Err(UiError::invalid(
            "the account's public key on the server does not match its identity key; \
             do not send files from this account and tell the server's administrator",
        ));
    }
    Ok(identity)
}

/// Registration normally opens a session; if it did not, log in with the login
/// key already derived, without a second Argon2id run.
async fn ensure_signed_in(username: &str, login_key: Vec<u8>) -> Result<(), UiError> {
    if api::session().await?.as_deref() == Some(username) {
        return Ok(());
    }
    let request = LoginRequest {
        username: username.to_owned(),
        login_key: login_key.into(),
    };
    api::login(request).await?;
    Ok(())
}

fn to_api_params(params: KdfParams) -> api::KdfParams {
    api::KdfParams {
        memory_kib: params.memory_kib,
        iterations: params.iterations,
        parallelism: params.parallelism,
    }
}

fn from_api_params(params: api::KdfParams) -> KdfParams {
    KdfParams {
        memory_kib: params.memory_kib,
        iterations: params.iterations,
        parallelism: params.parallelism,
    }
}

//! Password keys: Argon2id gives a master key, HKDF-SHA256 splits it into a login
//! key (sent to the server) and a wrapping key (never leaves the browser).

use crate::CryptoError;
use crate::identity::IdentitySecret;

pub const SALT_LEN: usize = 16;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// The parameters new accounts get.
    pub const DEFAULT: KdfParams = KdfParams { memory_kib: 65536, iterations: 3, parallelism: 1 };
    /// Rejects parameters below the floor or above what a browser can run.
    pub fn validate(&self) -> Result<(), CryptoError> { todo!() }
}

pub struct LoginKey(());
impl LoginKey {
    pub fn expose_secret_bytes(&self) -> &[u8; 32] { todo!() }
}

pub struct WrappingKey(());

pub struct PasswordKeys {
    pub login: LoginKey,
    pub wrapping: WrappingKey,
}

impl PasswordKeys {
    pub fn derive(_password: &str, _salt: &[u8], _params: KdfParams) -> Result<Self, CryptoError> { todo!() }
}

/// Encrypts the identity key under the wrapping key, bound to the username.
pub fn wrap_identity(_key: &WrappingKey, _identity: &IdentitySecret, _username: &str) -> Vec<u8> { todo!() }

pub fn unwrap_identity(_key: &WrappingKey, _wrapped: &[u8], _username: &str) -> Result<IdentitySecret, CryptoError> { todo!() }

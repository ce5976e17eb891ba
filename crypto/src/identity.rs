//! Account identity keys: P-256 key pairs made in the browser.

use crate::CryptoError;

/// An account's P-256 private key.
pub struct IdentitySecret(());

impl IdentitySecret {
    pub fn generate() -> Self { todo!() }
    pub fn from_bytes(_bytes: &[u8]) -> Result<Self, CryptoError> { todo!() }
    /// The 32-byte private scalar. Only for wrapping the key; never log or send it.
    pub fn expose_secret_bytes(&self) -> zeroize::Zeroizing<[u8; 32]> { todo!() }
    pub fn public_key(&self) -> PublicKey { todo!() }
}

/// A P-256 public key, held as a valid curve point.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PublicKey(());

impl PublicKey {
    /// Parses the 65-byte SEC1 uncompressed form.
    pub fn from_sec1(_bytes: &[u8]) -> Result<Self, CryptoError> { todo!() }
    pub fn to_sec1(&self) -> [u8; 65] { todo!() }
    pub fn fingerprint(&self) -> Fingerprint { todo!() }
}

/// SHA-256 over the SEC1 uncompressed public key; `Display` prints the form people read aloud.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Fingerprint(pub [u8; 32]);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { todo!() }
}

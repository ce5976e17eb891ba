//! The error type of every operation on untrusted bytes.

/// Why an operation on keys or ciphertext failed. No variant carries secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("invalid {what} length {actual}; expected {expected}")]
    InvalidLength { what: &'static str, expected: usize, actual: usize },
    #[error("invalid P-256 public key")]
    InvalidPublicKey,
    #[error("invalid P-256 private key")]
    InvalidSecretKey,
}

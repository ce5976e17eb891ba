//! The error type of every operation on untrusted bytes.

/// Why an operation on keys or ciphertext failed. No variant carries secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A fixed-size value (key, nonce, record field) has the wrong number of bytes.
    #[error("invalid {what} length {actual}; expected {expected}")]
    InvalidLength {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    /// The bytes are not a point on P-256 (or are the point at infinity).
    #[error("invalid P-256 public key: not a point on the curve")]
    InvalidPublicKey,
    /// The public key is not in the SEC1 uncompressed form (first byte 0x04).
    #[error("invalid P-256 public key encoding tag {tag:#04x}; expected 0x04 (SEC1 uncompressed)")]
    UnsupportedPointEncoding { tag: u8 },
    /// The 32 bytes are zero or not below the P-256 group order.
    #[error("invalid P-256 private key: scalar is zero or not below the group order")]
    InvalidSecretKey,
    /// The input ends before a field that must be there.
    #[error("truncated {what}: {actual} bytes, need at least {needed}")]
    Truncated {
        what: &'static str,
        needed: u64,
        actual: u64,
    },
    /// Bytes follow the end of a complete value.
    #[error("{extra} trailing bytes after the {what}")]
    TrailingData { what: &'static str, extra: u64 },
    /// The version byte in front of a serialized value is not one this crate reads.
    #[error("unknown {what} version {version:#04x}; this build reads version 0x01")]
    UnknownVersion { what: &'static str, version: u8 },
    /// The key commitment in a chunked-encryption header does not match the key and context.
    #[error("key commitment mismatch: wrong key, wrong context or a modified header")]
    CommitmentMismatch,
    /// One encrypted chunk failed AEAD authentication (modified, reordered or misplaced).
    #[error("authentication of chunk {index} failed: the ciphertext was modified or reordered")]
    ChunkAuthenticationFailed { index: u64 },
    /// A ciphertext length that no chunked-encryption message can have.
    #[error(
        "invalid {what} ciphertext length {len}: the final encrypted chunk must be 16 to 16399 bytes after a 56-byte header"
    )]
    InvalidCiphertextLength { what: &'static str, len: u64 },
    /// A message longer than chunked encryption allows (2^38 chunks).
    #[error("message of {len} bytes exceeds the maximum of {max} bytes")]
    MessageTooLong { len: u64, max: u64 },
    /// A part index at or past the part count of the file.
    #[error("part index {index} out of range for a {part_count}-part file")]
    PartIndexOutOfRange { index: u32, part_count: u32 },
    /// The bytes given for a part do not have the length the layout fixes.
    #[error("invalid length {actual} for part {index}; expected {expected}")]
    InvalidPartLength {
        index: u32,
        expected: u64,
        actual: u64,
    },
    /// The wrapped identity key failed AES-GCM authentication.
    #[error("unwrapping the identity key failed: wrong password, wrong username or modified key")]
    UnwrapFailed,
    /// A wrapped link file key or a sealed link secret failed AES-GCM authentication.
    #[error(
        "opening the {what} failed: wrong link secret, wrong password, another link or file, or modified bytes"
    )]
    LinkUnsealFailed { what: &'static str },
    /// HPKE decryption failed: wrong recipient or sender key, wrong file id, or a modified record.
    #[error("HPKE open failed: wrong key, wrong sender, wrong file id or modified record")]
    HpkeOpenFailed,
    /// An HPKE context has sealed or opened as many messages as its nonce space allows.
    #[error("HPKE message limit reached for this context")]
    HpkeMessageLimit,
    /// HPKE DeriveKeyPair found no valid scalar in 256 candidates.
    #[error("HPKE key derivation failed: no valid P-256 scalar from this input keying material")]
    DeriveKeyPairFailed,
    /// The PSK and PSK id were not both given for a PSK mode, or given for a non-PSK mode.
    #[error("inconsistent HPKE PSK inputs for mode {mode:#04x}")]
    InconsistentPsk { mode: u8 },
    /// An HKDF output longer than 255 hash blocks was requested.
    #[error("HKDF output length {len} exceeds 255 hash blocks")]
    HkdfOutputTooLong { len: usize },
    /// An Argon2id parameter outside the accepted range.
    #[error("invalid Argon2id {name} {value}; accepted range is {min}..={max}")]
    KdfParamOutOfRange {
        name: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    /// Argon2id itself rejected its input (for example a password longer than 2^32 bytes).
    #[error("Argon2id failed: {reason}")]
    Argon2Failed { reason: String },
    /// A metadata field outside the range the format allows.
    #[error("invalid metadata {field}: {reason}")]
    InvalidMetadata { field: &'static str, reason: String },
    /// A file id that is not 32 lowercase hex digits.
    #[error("invalid file id: {reason}")]
    InvalidFileId { reason: String },
    /// Part 0 starts with a header other than the one the decryptor was made from.
    #[error("part 0 header differs from the contents header given to the decryptor")]
    HeaderMismatch,
    /// The browser's WebCrypto is missing or refused an operation other than a failed
    /// authentication (which is `ChunkAuthenticationFailed`).
    #[error("the browser's WebCrypto could not {operation}: {detail}")]
    WebCrypto {
        operation: &'static str,
        detail: String,
    },
}

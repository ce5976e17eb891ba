//! The metadata plaintext: name, size, media type and modification time.

use crate::CryptoError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMetadata {
    pub name: String,
    pub size: u64,
    pub media_type: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub modified_ms: i64,
}

impl FileMetadata {
    pub fn encode(&self) -> Result<Vec<u8>, CryptoError> { todo!() }
    pub fn decode(_bytes: &[u8]) -> Result<Self, CryptoError> { todo!() }
}

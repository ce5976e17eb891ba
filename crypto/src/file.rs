//! File keys, part-wise contents encryption and metadata encryption.

use crate::CryptoError;
use crate::layout::PartLayout;
use crate::metadata::FileMetadata;

/// A fresh random 32-byte key per file.
pub struct FileKey(());

impl FileKey {
    pub fn generate() -> Self { todo!() }
    pub fn from_bytes(_bytes: &[u8]) -> Result<Self, CryptoError> { todo!() }
    pub fn expose_secret_bytes(&self) -> &[u8; 32] { todo!() }
}

/// Encrypts the parts of one file; any part may be encrypted on its own, in any order.
pub struct ContentsEncryptor(());

impl ContentsEncryptor {
    /// The 24-byte salt comes from the caller so that workers share one message.
    pub fn new(_key: &FileKey, _salt: &[u8], _layout: PartLayout) -> Result<Self, CryptoError> { todo!() }
    pub fn random_salt() -> [u8; 24] { todo!() }
    /// `plaintext` must be exactly the part's plaintext range; part 0 gets the header in front.
    pub fn encrypt_part(&self, _index: u32, _plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> { todo!() }
}

pub struct ContentsDecryptor(());

impl ContentsDecryptor {
    /// `header` is the first 56 bytes of part 0; the commitment is checked here.
    pub fn new(_key: &FileKey, _header: &[u8], _layout: PartLayout) -> Result<Self, CryptoError> { todo!() }
    pub fn decrypt_part(&self, _index: u32, _ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> { todo!() }
}

pub fn encrypt_metadata(_key: &FileKey, _metadata: &FileMetadata) -> Result<Vec<u8>, CryptoError> { todo!() }
pub fn decrypt_metadata(_key: &FileKey, _ciphertext: &[u8]) -> Result<FileMetadata, CryptoError> { todo!() }

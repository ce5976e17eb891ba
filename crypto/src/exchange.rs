//! The file key sealed to one account with HPKE Auth mode, bound to the file id.

use crate::CryptoError;
use crate::file::FileKey;
use crate::identity::{IdentitySecret, PublicKey};

pub const FILE_ID_LEN: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedFileKey {
    pub enc: [u8; 65],
    pub ciphertext: [u8; 48],
}

impl SealedFileKey {
    pub fn from_parts(_enc: &[u8], _ciphertext: &[u8]) -> Result<Self, CryptoError> { todo!() }
}

pub fn seal_file_key(_sender: &IdentitySecret, _recipient: &PublicKey, _file_id: &[u8; FILE_ID_LEN], _key: &FileKey) -> Result<SealedFileKey, CryptoError> { todo!() }

pub fn open_file_key(_recipient: &IdentitySecret, _sender: &PublicKey, _file_id: &[u8; FILE_ID_LEN], _sealed: &SealedFileKey) -> Result<FileKey, CryptoError> { todo!() }

//! How a contents ciphertext is cut into upload parts of whole chunks.

use crate::CryptoError;

pub const CHUNKS_PER_PART: u64 = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartLayout { plaintext_len: u64 }

impl PartLayout {
    pub fn for_plaintext_len(plaintext_len: u64) -> Self { PartLayout { plaintext_len } }
    /// Rejects lengths no Cobblestone-256 ciphertext can have.
    pub fn from_ciphertext_len(_len: u64) -> Result<Self, CryptoError> { todo!() }
    pub fn plaintext_len(&self) -> u64 { self.plaintext_len }
    pub fn ciphertext_len(&self) -> u64 { todo!() }
    pub fn chunk_count(&self) -> u64 { todo!() }
    pub fn part_count(&self) -> u32 { todo!() }
    /// Part 0 carries the 56-byte header in front of its chunks.
    pub fn part_ciphertext_len(&self, _index: u32) -> Result<u64, CryptoError> { todo!() }
    pub fn part_plaintext_range(&self, _index: u32) -> Result<std::ops::Range<u64>, CryptoError> { todo!() }
}

//! How a contents ciphertext is cut into upload parts of whole chunks.
//!
//! A part is [`CHUNKS_PER_PART`] consecutive encrypted chunks; part 0 also carries the
//! 56-byte chunked-encryption header in front. Every length here follows from the
//! plaintext length alone, so parts can be encrypted, uploaded and read independently.

use std::ops::Range;

use crate::CryptoError;
use crate::chunked::{CHUNK_SIZE, ENCRYPTED_CHUNK_LEN, HEADER_LEN, MAX_PLAINTEXT_LEN, TAG_LEN};

/// Chunks per upload part: 256 chunks of 16 KiB, about 4 MiB of ciphertext per part.
pub const CHUNKS_PER_PART: u64 = 256;

/// Plaintext bytes in a full part (256 × 16384 = 4 MiB).
pub const PART_PLAINTEXT_LEN: u64 = CHUNKS_PER_PART * CHUNK_SIZE;

/// Ciphertext bytes in a full part without the header (256 × 16400 = 4198400).
pub const PART_CIPHERTEXT_LEN: u64 = CHUNKS_PER_PART * ENCRYPTED_CHUNK_LEN;

/// The part layout of one contents message, fixed by its plaintext length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartLayout {
    plaintext_len: u64,
}

impl PartLayout {
    /// Layout of a message of `plaintext_len` bytes; rejects lengths above
    /// [`MAX_PLAINTEXT_LEN`] (2^38 chunks, the chunked-encryption limit).
    pub fn for_plaintext_len(plaintext_len: u64) -> Result<Self, CryptoError> {
        if plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(CryptoError::MessageTooLong {
                len: plaintext_len,
                max: MAX_PLAINTEXT_LEN,
            });
        }
        Ok(PartLayout { plaintext_len })
    }

    /// Rejects lengths no Cobblestone-256 ciphertext can have: shorter than 72 bytes
    /// (header and one empty chunk), or a final encrypted chunk shorter than its 16-byte
    /// tag or as long as a full 16400-byte chunk.
    pub fn from_ciphertext_len(len: u64) -> Result<Self, CryptoError> {
        let invalid = CryptoError::InvalidCiphertextLength {
            what: "contents",
            len,
        };
        let Some(body) = len.checked_sub(HEADER_LEN) else {
            return Err(invalid);
        };
        let full_chunks = body / ENCRYPTED_CHUNK_LEN;
        let final_encrypted = body % ENCRYPTED_CHUNK_LEN;
        let Some(final_plaintext) = final_encrypted.checked_sub(TAG_LEN) else {
            return Err(invalid);
        };
        // full_chunks < 2^64 / 16400, so this product and sum cannot overflow.
        let plaintext_len = full_chunks * CHUNK_SIZE + final_plaintext;
        Self::for_plaintext_len(plaintext_len)
    }

    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// 56 + L + 16 n for plaintext length L and n chunks.
    pub fn ciphertext_len(&self) -> u64 {
        HEADER_LEN + self.plaintext_len + TAG_LEN * self.chunk_count()
    }

    /// L / 16384 + 1: the final chunk is always shorter than 16 KiB, maybe empty.
    pub fn chunk_count(&self) -> u64 {
        self.plaintext_len / CHUNK_SIZE + 1
    }

    /// ceil(chunk_count / 256); at most 2^30 because chunk_count is at most 2^38.
    pub fn part_count(&self) -> u32 {
        let parts = self.chunk_count().div_ceil(CHUNKS_PER_PART);
        u32::try_from(parts).unwrap_or(u32::MAX)
    }

    /// The chunk indices part `index` holds: [256 i, min(256 (i + 1), n)).
    pub fn part_chunk_range(&self, index: u32) -> Result<Range<u64>, CryptoError> {
        self.check_index(index)?;
        let start = u64::from(index) * CHUNKS_PER_PART;
        let end = (start + CHUNKS_PER_PART).min(self.chunk_count());
        Ok(start..end)
    }

    /// Part 0 carries the 56-byte header in front of its chunks.
    pub fn part_ciphertext_len(&self, index: u32) -> Result<u64, CryptoError> {
        let plaintext = self.part_plaintext_range(index)?;
        let chunks = self.part_chunk_range(index)?;
        let header = if index == 0 { HEADER_LEN } else { 0 };
        let chunk_count = chunks.end - chunks.start;
        Ok(header + (plaintext.end - plaintext.start) + TAG_LEN * chunk_count)
    }

    /// Where part `index`'s ciphertext starts in the whole message, header included.
    pub fn part_ciphertext_offset(&self, index: u32) -> Result<u64, CryptoError> {
        self.check_index(index)?;
        if index == 0 {
            return Ok(0);
        }
        Ok(HEADER_LEN + u64::from(index) * PART_CIPHERTEXT_LEN)
    }

    /// [i × 4 MiB, min((i + 1) × 4 MiB, L)).
    pub fn part_plaintext_range(&self, index: u32) -> Result<Range<u64>, CryptoError> {
        self.check_index(index)?;
        let start = u64::from(index) * PART_PLAINTEXT_LEN;
        let end = (start + PART_PLAINTEXT_LEN).min(self.plaintext_len);
        Ok(start..end)
    }

    fn check_index(&self, index: u32) -> Result<(), CryptoError> {
        let part_count = self.part_count();
        if index >= part_count {
            return Err(CryptoError::PartIndexOutOfRange { index, part_count });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn layout(len: u64) -> PartLayout {
        PartLayout::for_plaintext_len(len).expect("length within the maximum")
    }

    #[test]
    fn empty_plaintext_is_one_empty_chunk() {
        let l = layout(0);
        assert_eq!(l.chunk_count(), 1);
        assert_eq!(l.ciphertext_len(), 72);
        assert_eq!(l.part_count(), 1);
        assert_eq!(l.part_ciphertext_len(0), Ok(72));
        assert_eq!(l.part_plaintext_range(0), Ok(0..0));
    }

    #[test]
    fn full_chunk_is_followed_by_empty_chunk() {
        let l = layout(16384);
        assert_eq!(l.chunk_count(), 2);
        assert_eq!(l.ciphertext_len(), 56 + 16384 + 32);
    }

    #[test]
    fn exactly_one_full_part_spills_an_empty_chunk_into_part_one() {
        let l = layout(PART_PLAINTEXT_LEN);
        assert_eq!(l.chunk_count(), 257);
        assert_eq!(l.part_count(), 2);
        assert_eq!(l.part_ciphertext_len(0), Ok(56 + 4_198_400));
        assert_eq!(l.part_ciphertext_len(1), Ok(16));
        assert_eq!(
            l.part_plaintext_range(1),
            Ok(PART_PLAINTEXT_LEN..PART_PLAINTEXT_LEN)
        );
        assert_eq!(l.part_chunk_range(1), Ok(256..257));
        assert_eq!(l.part_ciphertext_offset(1), Ok(56 + 4_198_400));
    }

    #[test]
    fn one_byte_short_of_a_part_is_one_part() {
        let l = layout(PART_PLAINTEXT_LEN - 1);
        assert_eq!(l.chunk_count(), 256);
        assert_eq!(l.part_count(), 1);
        assert_eq!(l.part_ciphertext_len(0), Ok(l.ciphertext_len()));
    }

    #[test]
    fn part_lengths_sum_to_ciphertext_len() {
        for len in [
            0,
            1,
            16383,
            16384,
            16385,
            PART_PLAINTEXT_LEN + 1,
            3 * PART_PLAINTEXT_LEN + 7,
        ] {
            let l = layout(len);
            let total: u64 = (0..l.part_count())
                .map(|i| l.part_ciphertext_len(i).expect("index in range"))
                .sum();
            assert_eq!(total, l.ciphertext_len(), "plaintext length {len}");
            let last = l.part_count() - 1;
            assert_eq!(l.part_plaintext_range(last).map(|r| r.end), Ok(len));
        }
    }

    #[test]
    fn ciphertext_len_round_trips() {
        for len in [
            0,
            1,
            16383,
            16384,
            16385,
            32768,
            PART_PLAINTEXT_LEN,
            10_000_000,
        ] {
            let l = layout(len);
            assert_eq!(PartLayout::from_ciphertext_len(l.ciphertext_len()), Ok(l));
        }
    }

    #[test]
    fn from_ciphertext_len_rejects_impossible_lengths() {
        for len in [
            0,
            1,
            55,
            56,
            71,
            56 + 16400,
            56 + 16400 + 15,
            56 + 2 * 16400,
        ] {
            assert_eq!(
                PartLayout::from_ciphertext_len(len),
                Err(CryptoError::InvalidCiphertextLength {
                    what: "contents",
                    len
                }),
                "ciphertext length {len}"
            );
        }
        assert_eq!(
            PartLayout::from_ciphertext_len(56 + 16400 + 16),
            Ok(layout(16384))
        );
    }

    #[test]
    fn oversized_ciphertext_len_is_error_not_panic() {
        assert!(PartLayout::from_ciphertext_len(u64::MAX).is_err());
        assert!(PartLayout::for_plaintext_len(u64::MAX).is_err());
        assert!(PartLayout::for_plaintext_len(MAX_PLAINTEXT_LEN + 1).is_err());
        let max = layout(MAX_PLAINTEXT_LEN);
        assert_eq!(max.chunk_count(), 1 << 38);
        assert_eq!(max.part_count(), 1 << 30);
        assert_eq!(
            PartLayout::from_ciphertext_len(max.ciphertext_len()),
            Ok(max)
        );
    }

    #[test]
    fn part_index_past_the_end_is_error() {
        let l = layout(16384);
        assert_eq!(
            l.part_ciphertext_len(1),
            Err(CryptoError::PartIndexOutOfRange {
                index: 1,
                part_count: 1
            })
        );
        assert!(l.part_plaintext_range(u32::MAX).is_err());
        assert!(l.part_ciphertext_offset(7).is_err());
    }
}

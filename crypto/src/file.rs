//! File keys, part-wise contents encryption and metadata encryption.
//!
//! Contents and metadata are two Cobblestone-256 messages under the same file key, kept
//! apart by their context strings. Contents are encrypted part by part: any part can be
//! encrypted or decrypted on its own, in any order, because chunk k's nonce and offset
//! follow from k alone.

use std::ops::Range;

use zeroize::Zeroizing;

use crate::CryptoError;
use crate::chunked::{
    self, CHUNK_SIZE, ENCRYPTED_CHUNK_LEN, HEADER_LEN, KEY_LEN, MessageKeys, NONCE_LEN, SALT_LEN,
    TAG_LEN,
};
use crate::layout::PartLayout;
use crate::metadata::FileMetadata;
use crate::secret::{SecretBytes, masked_debug, wiped_on_drop};

/// Length of a file key: the AES-256-GCM key size of Cobblestone-256.
pub const FILE_KEY_LEN: usize = 32;
/// Chunked-encryption context of the contents message, version 1.
pub const CONTENTS_CONTEXT: &[u8] = b"data-transfer-cloud/v1/contents";
/// Chunked-encryption context of the metadata message, version 1.
pub const METADATA_CONTEXT: &[u8] = b"data-transfer-cloud/v1/metadata";

const HEADER_USIZE: usize = HEADER_LEN as usize;
const CHUNK_USIZE: usize = CHUNK_SIZE as usize;

/// A fresh random 32-byte key per file. Wiped on drop; `Debug` prints no key bytes.
pub struct FileKey(SecretBytes<FILE_KEY_LEN>);
masked_debug!(FileKey);
wiped_on_drop!(FileKey: SecretBytes<FILE_KEY_LEN>);

impl FileKey {
    /// # Panics
    /// If the system random number generator fails.
    pub fn generate() -> Self {
        FileKey(SecretBytes::new(crate::random::bytes::<FILE_KEY_LEN>()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        SecretBytes::from_slice("file key", bytes).map(FileKey)
    }

    /// The raw key, for sealing it with HPKE or putting it in a share link's fragment.
    pub fn expose_secret_bytes(&self) -> &[u8; 32] {
        self.0.bytes()
    }
}

/// Encrypts the parts of one file; any part may be encrypted on its own, in any order.
pub struct ContentsEncryptor {
    keys: MessageKeys,
    salt: [u8; SALT_LEN],
    layout: PartLayout,
}
wiped_on_drop!(ContentsEncryptor: MessageKeys);

impl ContentsEncryptor {
    /// The 24-byte salt comes from the caller so that workers share one message.
    pub fn new(key: &FileKey, salt: &[u8], layout: PartLayout) -> Result<Self, CryptoError> {
        let keys = MessageKeys::derive(key.expose_secret_bytes(), salt, CONTENTS_CONTEXT)?;
        let mut salt_bytes = [0u8; SALT_LEN];
        salt_bytes.copy_from_slice(salt);
        Ok(ContentsEncryptor {
            keys,
            salt: salt_bytes,
            layout,
        })
    }

    /// A fresh random salt; use one per file and give it to every worker.
    pub fn random_salt() -> [u8; 24] {
        chunked::random_salt()
    }

    /// The 56-byte header (salt || commitment) at the start of part 0.
    pub fn header(&self) -> [u8; HEADER_USIZE] {
        let mut header = [0u8; HEADER_USIZE];
        header[..SALT_LEN].copy_from_slice(&self.salt);
        header[SALT_LEN..].copy_from_slice(self.keys.commitment());
        header
    }

    /// `plaintext` must be exactly the part's plaintext range; part 0 gets the header in front.
    pub fn encrypt_part(&self, index: u32, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let range = self.layout.part_plaintext_range(index)?;
        let expected = range.end - range.start;
        if plaintext.len() as u64 != expected {
            return Err(CryptoError::InvalidPartLength {
                index,
                expected,
                actual: plaintext.len() as u64,
            });
        }
        let capacity = self.layout.part_ciphertext_len(index)?;
        let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        if index == 0 {
            out.extend_from_slice(&self.header());
        }
        let mut offset = 0;
        for chunk_index in self.layout.part_chunk_range(index)? {
            let end = plaintext.len().min(offset + CHUNK_USIZE);
            self.keys
                .encrypt_chunk(chunk_index, &plaintext[offset..end], &mut out)?;
            offset = end;
        }
        Ok(out)
    }

    /// The AES-GCM work of part `index`, for another AES-GCM implementation to do:
    /// the header to write first (part 0 only) and each chunk's nonce and byte ranges.
    /// Running AES-256-GCM with empty AAD and a 16-byte tag over every step gives the
    /// same bytes as [`encrypt_part`](Self::encrypt_part).
    pub fn schedule(&self, index: u32) -> Result<PartSchedule, CryptoError> {
        let header = (index == 0).then(|| self.header());
        PartSchedule::new(&self.keys, &self.layout, index, header)
    }
}

/// One chunk of a part: its index in the message, its nonce, and where its bytes sit
/// in the part's plaintext and in the part's ciphertext (header included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkStep {
    pub index: u64,
    pub nonce: [u8; NONCE_LEN],
    pub plaintext: Range<usize>,
    pub ciphertext: Range<usize>,
}

/// The AES-256-GCM work of one part, laid out by the Rust core so that the browser's
/// WebCrypto can do the AES-GCM step alone. This crate derives the key and every
/// nonce, fixes the lengths and writes the header. It checks the commitment before a
/// decryption schedule exists.
pub struct PartSchedule {
    aead_key: Zeroizing<[u8; KEY_LEN]>,
    header: Option<[u8; HEADER_USIZE]>,
    plaintext_len: usize,
    ciphertext_len: usize,
    chunks: Vec<ChunkStep>,
}
masked_debug!(PartSchedule);
wiped_on_drop!(PartSchedule: Zeroizing<[u8; KEY_LEN]>);

impl PartSchedule {
    fn new(
        keys: &MessageKeys,
        layout: &PartLayout,
        index: u32,
        header: Option<[u8; HEADER_USIZE]>,
    ) -> Result<Self, CryptoError> {
        let plaintext = layout.part_plaintext_range(index)?;
        let plaintext_len = usize_len(plaintext.end - plaintext.start)?;
        let ciphertext_len = usize_len(layout.part_ciphertext_len(index)?)?;
        let chunk_range = layout.part_chunk_range(index)?;
        let mut chunks = Vec::with_capacity(usize_len(chunk_range.end - chunk_range.start)?);
        let mut plaintext_start = 0;
        let mut ciphertext_start = if index == 0 { HEADER_USIZE } else { 0 };
        for chunk in chunk_range {
            let plaintext_end = plaintext_len.min(plaintext_start + CHUNK_USIZE);
            let ciphertext_end = ciphertext_start + (plaintext_end - plaintext_start) + TAG_USIZE;
            chunks.push(ChunkStep {
                index: chunk,
                nonce: *keys.chunk_nonce_bytes(chunk)?,
                plaintext: plaintext_start..plaintext_end,
                ciphertext: ciphertext_start..ciphertext_end,
            });
            plaintext_start = plaintext_end;
            ciphertext_start = ciphertext_end;
        }
        let mut aead_key = Zeroizing::new([0u8; KEY_LEN]);
        aead_key.copy_from_slice(keys.expose_aead_key());
        Ok(PartSchedule {
            aead_key,
            header,
            plaintext_len,
            ciphertext_len,
            chunks,
        })
    }

    /// Returns the AES-256-GCM key of every chunk.
    pub fn expose_aead_key(&self) -> &[u8; KEY_LEN] {
        &self.aead_key
    }

    /// Returns the 56-byte header that starts part 0's ciphertext, or `None` for
    /// other parts.
    pub fn header(&self) -> Option<&[u8; HEADER_USIZE]> {
        self.header.as_ref()
    }

    /// Returns the part's plaintext length in bytes.
    pub fn plaintext_len(&self) -> usize {
        self.plaintext_len
    }

    /// Returns the part's ciphertext length in bytes, header included for part 0.
    pub fn ciphertext_len(&self) -> usize {
        self.ciphertext_len
    }

    /// Returns the chunks in order. A final empty chunk has an empty plaintext range.
    pub fn chunks(&self) -> &[ChunkStep] {
        &self.chunks
    }
}

/// Part and chunk lengths are at most a few MiB, so they fit `usize` on every target.
fn usize_len(len: u64) -> Result<usize, CryptoError> {
    usize::try_from(len).map_err(|_| CryptoError::MessageTooLong {
        len,
        max: usize::MAX as u64,
    })
}

const TAG_USIZE: usize = TAG_LEN as usize;
const _: () = assert!(ENCRYPTED_CHUNK_LEN == CHUNK_SIZE + TAG_LEN);

/// Decrypts the parts of one file in any order, after the header's commitment checked out.
pub struct ContentsDecryptor {
    keys: MessageKeys,
    header: [u8; HEADER_USIZE],
    layout: PartLayout,
}
wiped_on_drop!(ContentsDecryptor: MessageKeys);

impl ContentsDecryptor {
    /// `header` is the first 56 bytes of part 0; the commitment is checked here.
    pub fn new(key: &FileKey, header: &[u8], layout: PartLayout) -> Result<Self, CryptoError> {
        if header.len() != HEADER_USIZE {
            return Err(CryptoError::InvalidLength {
                what: "contents header",
                expected: HEADER_USIZE,
                actual: header.len(),
            });
        }
        let (keys, _) = chunked::open_header(key.expose_secret_bytes(), CONTENTS_CONTEXT, header)?;
        let mut header_bytes = [0u8; HEADER_USIZE];
        header_bytes.copy_from_slice(header);
        Ok(ContentsDecryptor {
            keys,
            header: header_bytes,
            layout,
        })
    }

    /// Decrypts part `index` (for part 0 including its header, which must be the one this
    /// decryptor was made from). Its length must be exactly what the layout fixes, so a
    /// truncated or extended final part is rejected before any chunk is decrypted.
    pub fn decrypt_part(&self, index: u32, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let expected = self.layout.part_ciphertext_len(index)?;
        if ciphertext.len() as u64 != expected {
            return Err(CryptoError::InvalidPartLength {
                index,
                expected,
                actual: ciphertext.len() as u64,
            });
        }
        let mut body = ciphertext;
        if index == 0 {
            let (header, rest) = ciphertext.split_at(HEADER_USIZE);
            if header != self.header {
                return Err(CryptoError::HeaderMismatch);
            }
            body = rest;
        }

        let range = self.layout.part_plaintext_range(index)?;
        let mut out = Zeroizing::new(Vec::with_capacity(
            usize::try_from(range.end - range.start).unwrap_or(0),
        ));
        let chunks = self.layout.part_chunk_range(index)?;
        for (chunk_index, chunk) in chunks.zip(body.chunks(chunked::ENCRYPTED_CHUNK_LEN as usize)) {
            self.keys.decrypt_chunk(chunk_index, chunk, &mut out)?;
        }
        // The final chunk may be empty (16 bytes), and `chunks` yields it as the last item,
        // so every chunk of the range was visited.
        Ok(std::mem::take(&mut *out))
    }

    /// The AES-GCM work of decrypting part `index` of `ciphertext_len` bytes, for
    /// another AES-GCM implementation to do. `leading` is the part's first 56 bytes
    /// when `index` is 0 (it must equal this decryptor's header) and is ignored
    /// otherwise. Fails as [`decrypt_part`](Self::decrypt_part) does on a wrong length
    /// or header, before any chunk is decrypted.
    pub fn schedule(
        &self,
        index: u32,
        ciphertext_len: u64,
        leading: &[u8],
    ) -> Result<PartSchedule, CryptoError> {
        let expected = self.layout.part_ciphertext_len(index)?;
        if ciphertext_len != expected {
            return Err(CryptoError::InvalidPartLength {
                index,
                expected,
                actual: ciphertext_len,
            });
        }
        if index == 0 && leading.get(..HEADER_USIZE) != Some(&self.header[..]) {
            return Err(CryptoError::HeaderMismatch);
        }
        PartSchedule::new(&self.keys, &self.layout, index, None)
    }
}

/// Encrypts the metadata as its own Cobblestone-256 message with a fresh salt.
pub fn encrypt_metadata(key: &FileKey, metadata: &FileMetadata) -> Result<Vec<u8>, CryptoError> {
    let plaintext = Zeroizing::new(metadata.encode()?);
    chunked::encrypt(key.expose_secret_bytes(), METADATA_CONTEXT, &plaintext)
}

/// Decrypts and decodes a metadata message.
pub fn decrypt_metadata(key: &FileKey, ciphertext: &[u8]) -> Result<FileMetadata, CryptoError> {
    let plaintext = Zeroizing::new(chunked::decrypt(
        key.expose_secret_bytes(),
        METADATA_CONTEXT,
        ciphertext,
    )?);
    FileMetadata::decode(&plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::PART_PLAINTEXT_LEN;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const SALT: [u8; SALT_LEN] = [0x5a; SALT_LEN];

    fn key(byte: u8) -> FileKey {
        FileKey::from_bytes(&[byte; FILE_KEY_LEN]).expect("32 bytes")
    }

    fn plaintext(len: u64) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn layout(len: u64) -> PartLayout {
        PartLayout::for_plaintext_len(len).expect("length within the maximum")
    }

    fn encrypt_parts(key: &FileKey, plaintext: &[u8]) -> (ContentsEncryptor, Vec<Vec<u8>>) {
        let layout = layout(plaintext.len() as u64);
        let encryptor = ContentsEncryptor::new(key, &SALT, layout).expect("valid key and salt");
        let parts = (0..layout.part_count())
            .map(|i| {
                let range = layout.part_plaintext_range(i).expect("index in range");
                let part = &plaintext[range.start as usize..range.end as usize];
                encryptor
                    .encrypt_part(i, part)
                    .expect("part of the right length")
            })
            .collect();
        (encryptor, parts)
    }

    /// Lengths around the chunk and part boundaries.
    const BOUNDARY_LENGTHS: [u64; 9] = [
        0,
        1,
        16383,
        16384,
        16385,
        PART_PLAINTEXT_LEN - 1,
        PART_PLAINTEXT_LEN,
        PART_PLAINTEXT_LEN + 1,
        2 * PART_PLAINTEXT_LEN + 20000,
    ];

    #[test]
    fn parts_concatenate_to_the_whole_message() {
        let key = key(1);
        for len in BOUNDARY_LENGTHS {
            let plaintext = plaintext(len);
            let (_, parts) = encrypt_parts(&key, &plaintext);
            let joined = parts.concat();
            assert_eq!(
                joined.len() as u64,
                layout(len).ciphertext_len(),
                "length {len}"
            );
            let whole = chunked::encrypt_with_salt(
                key.expose_secret_bytes(),
                &SALT,
                CONTENTS_CONTEXT,
                &plaintext,
            )
            .expect("valid inputs");
            assert!(
                joined == whole,
                "parts differ from the whole message for length {len}"
            );
            let decrypted = chunked::decrypt(key.expose_secret_bytes(), CONTENTS_CONTEXT, &joined)
                .expect("valid message");
            assert!(
                decrypted == plaintext,
                "whole-message decryption differs for length {len}"
            );
        }
    }

    #[test]
    fn parts_decrypt_in_any_order() {
        let key = key(2);
        for len in BOUNDARY_LENGTHS {
            let plaintext = plaintext(len);
            let (encryptor, parts) = encrypt_parts(&key, &plaintext);
            let layout = layout(len);
            assert_eq!(parts.len() as u32, layout.part_count());
            let decryptor = ContentsDecryptor::new(&key, &encryptor.header(), layout)
                .expect("commitment matches");
            let mut recovered = vec![Vec::new(); parts.len()];
            for i in (0..parts.len()).rev() {
                recovered[i] = decryptor
                    .decrypt_part(i as u32, &parts[i])
                    .expect("authentic part");
            }
            assert!(recovered.concat() == plaintext, "length {len}");
        }
    }

    #[test]
    fn header_is_salt_then_commitment() {
        let key = key(3);
        let (encryptor, parts) = encrypt_parts(&key, b"hello");
        let header = encryptor.header();
        assert_eq!(&header[..24], &SALT);
        assert_eq!(&parts[0][..56], &header);
        let keys =
            MessageKeys::derive(key.expose_secret_bytes(), &SALT, CONTENTS_CONTEXT).expect("valid");
        assert_eq!(&header[24..], keys.commitment());
    }

    #[test]
    fn flipped_byte_fails_its_chunk() {
        let key = key(4);
        let plaintext = plaintext(3 * 16384 + 5);
        let (encryptor, parts) = encrypt_parts(&key, &plaintext);
        let decryptor =
            ContentsDecryptor::new(&key, &encryptor.header(), layout(plaintext.len() as u64))
                .expect("commitment matches");
        for (position, chunk) in [(56, 0), (56 + 16400 + 7, 1), (parts[0].len() - 1, 3)] {
            let mut part = parts[0].clone();
            part[position] ^= 0x80;
            assert_eq!(
                decryptor.decrypt_part(0, &part),
                Err(CryptoError::ChunkAuthenticationFailed { index: chunk }),
                "byte {position}"
            );
        }
        let mut header = parts[0].clone();
        header[3] ^= 1;
        assert_eq!(
            decryptor.decrypt_part(0, &header),
            Err(CryptoError::HeaderMismatch)
        );
    }

    #[test]
    fn swapped_parts_fail() {
        let key = key(5);
        let plaintext = plaintext(3 * PART_PLAINTEXT_LEN);
        let (encryptor, parts) = encrypt_parts(&key, &plaintext);
        let decryptor =
            ContentsDecryptor::new(&key, &encryptor.header(), layout(plaintext.len() as u64))
                .expect("commitment matches");
        assert_eq!(parts[1].len(), parts[2].len());
        assert_eq!(
            decryptor.decrypt_part(1, &parts[2]),
            Err(CryptoError::ChunkAuthenticationFailed { index: 256 })
        );
        assert_eq!(
            decryptor.decrypt_part(2, &parts[1]),
            Err(CryptoError::ChunkAuthenticationFailed { index: 512 })
        );
    }

    #[test]
    fn truncated_final_part_is_error_not_panic() {
        let key = key(6);
        let plaintext = plaintext(PART_PLAINTEXT_LEN + 100);
        let (encryptor, parts) = encrypt_parts(&key, &plaintext);
        let full = layout(plaintext.len() as u64);
        let decryptor =
            ContentsDecryptor::new(&key, &encryptor.header(), full).expect("commitment matches");
        let last = &parts[1];
        for cut in [0, 1, 16, last.len() - 1] {
            assert_eq!(
                decryptor.decrypt_part(1, &last[..cut]),
                Err(CryptoError::InvalidPartLength {
                    index: 1,
                    expected: last.len() as u64,
                    actual: cut as u64
                })
            );
        }
        // A server that also shrinks the layout still cannot cut the message short:
        // the shorter final chunk fails its tag.
        let shorter = layout(plaintext.len() as u64 - 1);
        let decryptor =
            ContentsDecryptor::new(&key, &encryptor.header(), shorter).expect("commitment matches");
        assert_eq!(
            decryptor.decrypt_part(1, &last[..last.len() - 1]),
            Err(CryptoError::ChunkAuthenticationFailed { index: 256 })
        );
    }

    #[test]
    fn wrong_key_fails_the_commitment() {
        let (encryptor, _) = encrypt_parts(&key(7), b"secret");
        let layout = layout(6);
        assert!(matches!(
            ContentsDecryptor::new(&key(8), &encryptor.header(), layout),
            Err(CryptoError::CommitmentMismatch)
        ));
    }

    #[test]
    fn part_of_wrong_length_or_index_is_rejected() {
        let encryptor = ContentsEncryptor::new(&key(9), &SALT, layout(20000)).expect("valid");
        assert_eq!(
            encryptor.encrypt_part(0, &[0u8; 19999]),
            Err(CryptoError::InvalidPartLength {
                index: 0,
                expected: 20000,
                actual: 19999
            })
        );
        assert!(matches!(
            encryptor.encrypt_part(1, &[]),
            Err(CryptoError::PartIndexOutOfRange {
                index: 1,
                part_count: 1
            })
        ));
        assert!(ContentsEncryptor::new(&key(9), &SALT[..23], layout(0)).is_err());
    }

    #[test]
    fn malformed_header_is_error_not_panic() {
        let key = key(10);
        for len in [0, 1, 55, 57, 100] {
            assert!(matches!(
                ContentsDecryptor::new(&key, &vec![0u8; len], layout(0)),
                Err(CryptoError::InvalidLength { actual, .. }) if actual == len
            ));
        }
        assert!(matches!(
            ContentsDecryptor::new(&key, &[0u8; 56], layout(0)),
            Err(CryptoError::CommitmentMismatch)
        ));
    }

    #[test]
    fn garbage_part_is_error_not_panic() {
        let key = key(11);
        let (encryptor, parts) = encrypt_parts(&key, &plaintext(40000));
        let decryptor =
            ContentsDecryptor::new(&key, &encryptor.header(), layout(40000)).expect("valid");
        let mut garbage = vec![0xa5u8; parts[0].len()];
        garbage[..56].copy_from_slice(&encryptor.header());
        assert_eq!(
            decryptor.decrypt_part(0, &garbage),
            Err(CryptoError::ChunkAuthenticationFailed { index: 0 })
        );
        assert!(decryptor.decrypt_part(u32::MAX, &garbage).is_err());
    }

    #[test]
    fn metadata_round_trips() {
        let file_key = key(12);
        let metadata = FileMetadata {
            name: "photo.jpg".to_owned(),
            size: 1 << 40,
            media_type: "image/jpeg".to_owned(),
            modified_ms: 1_700_000_000_000,
        };
        let sealed = encrypt_metadata(&file_key, &metadata).expect("valid metadata");
        assert_eq!(decrypt_metadata(&file_key, &sealed), Ok(metadata));
        assert_eq!(
            decrypt_metadata(&key(13), &sealed),
            Err(CryptoError::CommitmentMismatch)
        );
    }

    #[test]
    fn metadata_is_not_contents() {
        let key = key(14);
        let contents =
            chunked::encrypt(key.expose_secret_bytes(), CONTENTS_CONTEXT, b"\x01").expect("valid");
        assert_eq!(
            decrypt_metadata(&key, &contents),
            Err(CryptoError::CommitmentMismatch)
        );
    }

    #[test]
    fn malformed_metadata_ciphertext_is_error_not_panic() {
        let key = key(15);
        let metadata = FileMetadata {
            name: "a".to_owned(),
            size: 1,
            media_type: String::new(),
            modified_ms: 0,
        };
        let sealed = encrypt_metadata(&key, &metadata).expect("valid metadata");
        for len in 0..sealed.len() {
            assert!(
                decrypt_metadata(&key, &sealed[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
        let mut long = sealed.clone();
        long.push(0);
        assert!(decrypt_metadata(&key, &long).is_err());
        let inner = chunked::encrypt(key.expose_secret_bytes(), METADATA_CONTEXT, b"\x01\x00")
            .expect("valid");
        assert!(matches!(
            decrypt_metadata(&key, &inner),
            Err(CryptoError::Truncated { .. })
        ));
    }

    #[test]
    fn file_key_rejects_wrong_length_and_masks_debug() {
        assert!(matches!(
            FileKey::from_bytes(&[0u8; 31]),
            Err(CryptoError::InvalidLength {
                what: "file key",
                ..
            })
        ));
        assert_ne!(
            FileKey::generate().expose_secret_bytes(),
            FileKey::generate().expose_secret_bytes()
        );
        assert_eq!(format!("{:?}", key(1)), "FileKey([redacted])");
    }

    /// Runs AES-256-GCM over each step of an encryption schedule with the `aes-gcm`
    /// crate, as WebCrypto does in the browser.
    fn encrypt_by_schedule(schedule: &PartSchedule, plaintext: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{Aead, KeyInit};
        let cipher =
            aes_gcm::Aes256Gcm::new_from_slice(schedule.expose_aead_key()).expect("32 bytes");
        let mut out = vec![0u8; schedule.ciphertext_len()];
        if let Some(header) = schedule.header() {
            out[..HEADER_USIZE].copy_from_slice(header);
        }
        for step in schedule.chunks() {
            let sealed = cipher
                .encrypt(&step.nonce.into(), &plaintext[step.plaintext.clone()])
                .expect("encryption never fails");
            out[step.ciphertext.clone()].copy_from_slice(&sealed);
        }
        out
    }

    #[test]
    fn schedules_match_part_encryption() {
        let key = key(4);
        for len in BOUNDARY_LENGTHS {
            let plaintext = plaintext(len);
            let (encryptor, parts) = encrypt_parts(&key, &plaintext);
            let layout = layout(len);
            let decryptor =
                ContentsDecryptor::new(&key, &parts[0][..HEADER_USIZE], layout).expect("header");
            for (index, part) in (0u32..).zip(&parts) {
                let range = layout.part_plaintext_range(index).expect("index in range");
                let part_plaintext = &plaintext[range.start as usize..range.end as usize];
                let schedule = encryptor.schedule(index).expect("index in range");
                assert_eq!(
                    schedule.plaintext_len(),
                    part_plaintext.len(),
                    "length {len}"
                );
                assert_eq!(
                    &encrypt_by_schedule(&schedule, part_plaintext),
                    part,
                    "length {len}, part {index}"
                );

                let schedule = decryptor
                    .schedule(index, part.len() as u64, part)
                    .expect("the right length and header");
                let mut opened = Vec::new();
                use aes_gcm::aead::{Aead, KeyInit};
                let cipher = aes_gcm::Aes256Gcm::new_from_slice(schedule.expose_aead_key())
                    .expect("32 bytes");
                for step in schedule.chunks() {
                    let chunk = cipher
                        .decrypt(&step.nonce.into(), &part[step.ciphertext.clone()])
                        .expect("an authentic chunk");
                    assert_eq!(chunk.len(), step.plaintext.len());
                    opened.extend_from_slice(&chunk);
                }
                assert!(
                    opened == part_plaintext,
                    "length {len}, part {index} decrypted differently"
                );
            }
        }
    }

    #[test]
    fn decryption_schedule_rejects_a_wrong_length_or_header() {
        let key = key(5);
        let plaintext = plaintext(PART_PLAINTEXT_LEN + 1);
        let (_, parts) = encrypt_parts(&key, &plaintext);
        let layout = layout(plaintext.len() as u64);
        let decryptor =
            ContentsDecryptor::new(&key, &parts[0][..HEADER_USIZE], layout).expect("header");
        let short = decryptor.schedule(1, parts[1].len() as u64 - 1, &[]);
        assert!(matches!(
            short,
            Err(CryptoError::InvalidPartLength { index: 1, .. })
        ));
        let mut other_header = parts[0][..HEADER_USIZE].to_vec();
        other_header[0] ^= 1;
        let swapped = decryptor.schedule(0, parts[0].len() as u64, &other_header);
        assert!(matches!(swapped, Err(CryptoError::HeaderMismatch)));
        let missing = decryptor.schedule(0, parts[0].len() as u64, &[]);
        assert!(matches!(missing, Err(CryptoError::HeaderMismatch)));
        let past_end = decryptor.schedule(2, 16, &[]);
        assert!(matches!(
            past_end,
            Err(CryptoError::PartIndexOutOfRange { index: 2, .. })
        ));
    }

    #[test]
    fn last_part_past_four_gib() {
        let len = (1u64 << 32) + 1;
        let layout = layout(len);
        assert_eq!(layout.part_count(), 1025);
        let last = layout.part_count() - 1;
        assert_eq!(
            layout.part_plaintext_range(last).expect("last part"),
            (1u64 << 32)..len
        );
        assert_eq!(
            layout.part_chunk_range(last).expect("last part"),
            262_144..262_145
        );

        let key = key(6);
        let encryptor = ContentsEncryptor::new(&key, &SALT, layout).expect("valid salt");
        let part = encryptor.encrypt_part(last, &[0xab]).expect("one byte");
        assert_eq!(
            part.len() as u64,
            layout.part_ciphertext_len(last).expect("last part")
        );
        assert_eq!(part.len(), 17);

        let decryptor = ContentsDecryptor::new(&key, &encryptor.header(), layout).expect("header");
        assert_eq!(
            decryptor.decrypt_part(last, &part).expect("authentic"),
            vec![0xab]
        );
        let schedule = encryptor.schedule(last).expect("last part");
        assert_eq!(schedule.chunks().len(), 1);
        assert_eq!(schedule.chunks()[0].index, 262_144);
        assert_eq!(encrypt_by_schedule(&schedule, &[0xab]), part);
    }
}

//! C2SP chunked encryption (c2sp.org/chunked-encryption), instantiation Cobblestone-256:
//! HKDF-Expand with SHA-512, AEAD_AES_256_GCM, 16 KiB chunks.
//!
//! A message is `salt (24) || commitment (32) || chunk 0 || chunk 1 || ...`. Each chunk is
//! AES-256-GCM of up to 16384 plaintext bytes under the derived key, with the nonce
//! `base nonce XOR big-endian chunk index` and empty AAD. The final chunk is always
//! shorter than 16384 bytes (maybe empty), which marks the end of the message.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::CryptoError;
use crate::kdf::hkdf_expand;
use crate::secret::wiped_on_drop;

/// Plaintext bytes in every chunk but the final one (16 KiB, fixed by the C2SP spec).
pub const CHUNK_SIZE: u64 = 16384;
/// AES-GCM tag length (NIST SP 800-38D, 128-bit tags).
pub const TAG_LEN: u64 = 16;
/// A full chunk as stored: 16384 + 16 bytes.
pub const ENCRYPTED_CHUNK_LEN: u64 = CHUNK_SIZE + TAG_LEN;
/// Random per-message salt in front of the ciphertext (24 bytes, C2SP spec).
pub const SALT_LEN: usize = 24;
/// Key commitment after the salt (32 bytes, C2SP spec).
pub const COMMITMENT_LEN: usize = 32;
/// Salt and commitment: the 56-byte header.
pub const HEADER_LEN: u64 = (SALT_LEN + COMMITMENT_LEN) as u64;
/// Input key and AEAD key length of AEAD_AES_256_GCM (RFC 5116 section 5.2).
pub const KEY_LEN: usize = 32;
/// AES-GCM nonce length (RFC 5116 section 5.1, 12 bytes).
pub const NONCE_LEN: usize = 12;
/// The C2SP spec caps a message at 2^38 chunks (4 PiB) so the counter fits 38 bits.
pub const MAX_CHUNKS: u64 = 1 << 38;
/// The longest plaintext: 2^38 - 1 full chunks and a final chunk of 16383 bytes.
pub const MAX_PLAINTEXT_LEN: u64 = MAX_CHUNKS * CHUNK_SIZE - 1;

/// HKDF-Expand info prefix of version 1 of the C2SP spec.
const INFO_PREFIX: &[u8] = b"c2sp.org/chunked-encryption@v1+";
/// The AEAD's name in the IANA AEAD registry, as the info field carries it.
const AEAD_NAME: &[u8] = b"AEAD_AES_256_GCM";
/// Key, base nonce and commitment come out of one HKDF-Expand call.
const DERIVED_LEN: usize = KEY_LEN + NONCE_LEN + COMMITMENT_LEN;
const CHUNK_SIZE_USIZE: usize = CHUNK_SIZE as usize;
const TAG_LEN_USIZE: usize = TAG_LEN as usize;
const ENCRYPTED_CHUNK_USIZE: usize = ENCRYPTED_CHUNK_LEN as usize;
const HEADER_USIZE: usize = HEADER_LEN as usize;

/// The per-message AEAD key and base nonce, and the commitment if they were derived.
pub struct MessageKeys {
    cipher: Aes256Gcm,
    /// The raw AEAD key, for handing the AES-GCM step to the browser's WebCrypto.
    aead_key: Zeroizing<[u8; KEY_LEN]>,
    base_nonce: Zeroizing<[u8; NONCE_LEN]>,
    commitment: [u8; COMMITMENT_LEN],
}
// The commitment is public: it is written in the message header.
wiped_on_drop!(MessageKeys: Aes256Gcm, Zeroizing<[u8; KEY_LEN]>, Zeroizing<[u8; NONCE_LEN]>);

impl MessageKeys {
    /// `key || base nonce || commitment = HKDF-Expand-SHA512(prk = input key,
    /// info = "c2sp.org/chunked-encryption@v1+" || "AEAD_AES_256_GCM" || 0x00 || salt || context)`.
    pub fn derive(input_key: &[u8], salt: &[u8], context: &[u8]) -> Result<Self, CryptoError> {
        check_len("chunked-encryption input key", input_key.len(), KEY_LEN)?;
        check_len("chunked-encryption salt", salt.len(), SALT_LEN)?;
        let mut okm = Zeroizing::new([0u8; DERIVED_LEN]);
        let info = [INFO_PREFIX, AEAD_NAME, &[0x00], salt, context];
        hkdf_expand::<sha2::Sha512>(input_key, &info, okm.as_mut_slice())?;

        let (key, rest) = okm.split_at(KEY_LEN);
        let (nonce, commitment) = rest.split_at(NONCE_LEN);
        let mut keys = Self::from_raw(key, nonce)?;
        keys.commitment.copy_from_slice(commitment);
        Ok(keys)
    }

    /// Raw mode (C2SP appendix): an AEAD key and base nonce from a higher-level protocol,
    /// with no salt, no commitment and no header. The commitment reads as all zeros.
    pub fn from_raw(aead_key: &[u8], base_nonce: &[u8]) -> Result<Self, CryptoError> {
        check_len("AES-256-GCM key", aead_key.len(), KEY_LEN)?;
        check_len("chunked-encryption base nonce", base_nonce.len(), NONCE_LEN)?;
        let cipher =
            Aes256Gcm::new_from_slice(aead_key).map_err(|_| CryptoError::InvalidLength {
                what: "AES-256-GCM key",
                expected: KEY_LEN,
                actual: aead_key.len(),
            })?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(aead_key);
        let mut nonce = Zeroizing::new([0u8; NONCE_LEN]);
        nonce.copy_from_slice(base_nonce);
        Ok(MessageKeys {
            cipher,
            aead_key: key,
            base_nonce: nonce,
            commitment: [0u8; COMMITMENT_LEN],
        })
    }

    /// The 32-byte key commitment written after the salt.
    pub fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// Checks a header's commitment in constant time against the derived one.
    pub fn verify_commitment(&self, commitment: &[u8]) -> Result<(), CryptoError> {
        if bool::from(self.commitment.as_slice().ct_eq(commitment)) {
            Ok(())
        } else {
            Err(CryptoError::CommitmentMismatch)
        }
    }

    /// Returns the 32-byte AES-256-GCM key every chunk is encrypted under, only for
    /// running the AES-GCM step in another implementation of it, such as WebCrypto.
    pub fn expose_aead_key(&self) -> &[u8; KEY_LEN] {
        &self.aead_key
    }

    /// Base nonce XOR the chunk index as a 96-bit big-endian integer: the nonce of
    /// chunk `index`. Indices from 2^38 on are past the longest message.
    pub fn chunk_nonce_bytes(&self, index: u64) -> Result<Zeroizing<[u8; NONCE_LEN]>, CryptoError> {
        if index >= MAX_CHUNKS {
            return Err(CryptoError::MessageTooLong {
                len: index.saturating_mul(CHUNK_SIZE),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let mut nonce = Zeroizing::new(*self.base_nonce);
        for (byte, counter) in nonce[NONCE_LEN - 8..].iter_mut().zip(index.to_be_bytes()) {
            *byte ^= counter;
        }
        Ok(nonce)
    }

    fn chunk_nonce(&self, index: u64) -> Result<Nonce<aes_gcm::aead::consts::U12>, CryptoError> {
        let nonce = self.chunk_nonce_bytes(index)?;
        Ok(Nonce::from(*nonce))
    }

    /// Appends chunk `index` (`plaintext` of at most 16384 bytes) and its tag to `out`.
    /// The caller keeps the final-chunk rule: only the final chunk may be shorter.
    pub fn encrypt_chunk(
        &self,
        index: u64,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if plaintext.len() > CHUNK_SIZE_USIZE {
            return Err(CryptoError::InvalidLength {
                what: "chunk plaintext",
                expected: CHUNK_SIZE_USIZE,
                actual: plaintext.len(),
            });
        }
        let nonce = self.chunk_nonce(index)?;
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, &[], (&mut out[start..]).into())
            .map_err(|_| CryptoError::ChunkAuthenticationFailed { index })?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Appends the plaintext of encrypted chunk `index` (16 to 16400 bytes) to `out`.
    /// On failure `out` is left as it was.
    pub fn decrypt_chunk(
        &self,
        index: u64,
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let Some(body_len) = ciphertext.len().checked_sub(TAG_LEN_USIZE) else {
            return Err(CryptoError::Truncated {
                what: "encrypted chunk",
                needed: TAG_LEN,
                actual: ciphertext.len() as u64,
            });
        };
        if body_len > CHUNK_SIZE_USIZE {
            return Err(CryptoError::InvalidLength {
                what: "encrypted chunk",
                expected: ENCRYPTED_CHUNK_USIZE,
                actual: ciphertext.len(),
            });
        }
        let nonce = self.chunk_nonce(index)?;
        let (body, tag) = ciphertext.split_at(body_len);
        let tag = aes_gcm::Tag::try_from(tag)
            .map_err(|_| CryptoError::ChunkAuthenticationFailed { index })?;
        let start = out.len();
        out.extend_from_slice(body);
        let result =
            self.cipher
                .decrypt_inout_detached(&nonce, &[], (&mut out[start..]).into(), &tag);
        if result.is_err() {
            out[start..].zeroize();
            out.truncate(start);
            return Err(CryptoError::ChunkAuthenticationFailed { index });
        }
        Ok(())
    }

    /// Encrypts a whole message as chunks 0..n with no header (raw mode body).
    pub fn encrypt_chunks(&self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let len = plaintext.len() as u64;
        if len > MAX_PLAINTEXT_LEN {
            return Err(CryptoError::MessageTooLong {
                len,
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let chunk_count = len / CHUNK_SIZE + 1;
        let tags = TAG_LEN_USIZE.saturating_mul(usize::try_from(chunk_count).unwrap_or(usize::MAX));
        out.reserve(plaintext.len().saturating_add(tags));
        // `chunks` yields nothing for an empty input and no short chunk after a full one,
        // so the final chunk is added by hand when the length is a multiple of 16384.
        let mut index = 0;
        for chunk in plaintext.chunks(CHUNK_SIZE_USIZE) {
            self.encrypt_chunk(index, chunk, out)?;
            index += 1;
        }
        if index < chunk_count {
            self.encrypt_chunk(index, &[], out)?;
        }
        Ok(())
    }

    /// Decrypts a whole headerless body, checking the final-chunk rule first.
    pub fn decrypt_chunks(&self, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let chunk_count = body_chunk_count(body.len() as u64)?;
        let mut out = Vec::with_capacity(body.len());
        for (index, chunk) in (0..chunk_count).zip(body.chunks(ENCRYPTED_CHUNK_USIZE)) {
            if let Err(error) = self.decrypt_chunk(index, chunk, &mut out) {
                out.zeroize();
                return Err(error);
            }
        }
        Ok(out)
    }
}

/// The chunk count of a headerless body, or an error if no message has this length:
/// the final encrypted chunk must be 16 to 16399 bytes.
pub fn body_chunk_count(body_len: u64) -> Result<u64, CryptoError> {
    let full_chunks = body_len / ENCRYPTED_CHUNK_LEN;
    let final_len = body_len % ENCRYPTED_CHUNK_LEN;
    if final_len < TAG_LEN {
        return Err(CryptoError::InvalidCiphertextLength {
            what: "chunked-encryption",
            len: body_len.saturating_add(HEADER_LEN),
        });
    }
    let chunk_count = full_chunks + 1;
    if chunk_count > MAX_CHUNKS {
        return Err(CryptoError::MessageTooLong {
            len: body_len,
            max: MAX_PLAINTEXT_LEN,
        });
    }
    Ok(chunk_count)
}

/// Encrypts `plaintext` under `input_key` and `context` with a fresh random salt.
pub fn encrypt(input_key: &[u8], context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    encrypt_with_salt(input_key, &random_salt(), context, plaintext)
}

/// Encrypts with a caller-chosen salt, which must never repeat for one input key.
/// Deterministic, so test vectors can be reproduced byte for byte.
pub fn encrypt_with_salt(
    input_key: &[u8],
    salt: &[u8],
    context: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let keys = MessageKeys::derive(input_key, salt, context)?;
    let mut out = Vec::with_capacity(HEADER_USIZE + plaintext.len());
    out.extend_from_slice(salt);
    out.extend_from_slice(keys.commitment());
    keys.encrypt_chunks(plaintext, &mut out)?;
    Ok(out)
}

/// Decrypts a whole message: checks the header length, then the commitment, then the
/// body length, then every chunk.
pub fn decrypt(
    input_key: &[u8],
    context: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let (keys, body) = open_header(input_key, context, ciphertext)?;
    keys.decrypt_chunks(body)
}

/// Derives the message keys from the salt in `message`'s header, verifies the
/// commitment, and returns the keys with the bytes after the header.
pub fn open_header<'a>(
    input_key: &[u8],
    context: &[u8],
    message: &'a [u8],
) -> Result<(MessageKeys, &'a [u8]), CryptoError> {
    check_len("chunked-encryption input key", input_key.len(), KEY_LEN)?;
    if message.len() < HEADER_USIZE {
        return Err(CryptoError::Truncated {
            what: "chunked-encryption header",
            needed: HEADER_LEN,
            actual: message.len() as u64,
        });
    }
    let (header, body) = message.split_at(HEADER_USIZE);
    let (salt, commitment) = header.split_at(SALT_LEN);
    let keys = MessageKeys::derive(input_key, salt, context)?;
    keys.verify_commitment(commitment)?;
    Ok((keys, body))
}

/// Encrypts in raw mode: no header, the AEAD key and base nonce given directly.
pub fn encrypt_raw(
    aead_key: &[u8],
    base_nonce: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let keys = MessageKeys::from_raw(aead_key, base_nonce)?;
    let mut out = Vec::new();
    keys.encrypt_chunks(plaintext, &mut out)?;
    Ok(out)
}

/// Decrypts a raw-mode body.
pub fn decrypt_raw(
    aead_key: &[u8],
    base_nonce: &[u8],
    body: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    MessageKeys::from_raw(aead_key, base_nonce)?.decrypt_chunks(body)
}

/// A fresh random 24-byte salt.
pub fn random_salt() -> [u8; SALT_LEN] {
    *crate::random::bytes::<SALT_LEN>()
}

fn check_len(what: &'static str, actual: usize, expected: usize) -> Result<(), CryptoError> {
    if actual != expected {
        return Err(CryptoError::InvalidLength {
            what,
            expected,
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const KEY: [u8; KEY_LEN] = [0x21; KEY_LEN];
    const CONTEXT: &[u8] = b"test context";

    fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn round_trips_around_chunk_boundaries() {
        for len in [0, 1, 16383, 16384, 16385, 32768, 40000] {
            let plaintext = pseudo_random(len, 1);
            let message = encrypt(&KEY, CONTEXT, &plaintext).expect("valid inputs");
            let chunk_count = len as u64 / CHUNK_SIZE + 1;
            assert_eq!(
                message.len() as u64,
                HEADER_LEN + len as u64 + TAG_LEN * chunk_count
            );
            assert_eq!(
                decrypt(&KEY, CONTEXT, &message),
                Ok(plaintext),
                "length {len}"
            );
        }
    }

    #[test]
    fn fresh_salts_differ() {
        let a = encrypt(&KEY, CONTEXT, b"same").expect("valid inputs");
        let b = encrypt(&KEY, CONTEXT, b"same").expect("valid inputs");
        assert_ne!(a[..SALT_LEN], b[..SALT_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_key_or_context_fails_the_commitment() {
        let message = encrypt(&KEY, CONTEXT, b"secret").expect("valid inputs");
        assert_eq!(
            decrypt(&[0x22; 32], CONTEXT, &message),
            Err(CryptoError::CommitmentMismatch)
        );
        assert_eq!(
            decrypt(&KEY, b"other", &message),
            Err(CryptoError::CommitmentMismatch)
        );
    }

    #[test]
    fn truncated_message_is_error_not_panic() {
        let message = encrypt(&KEY, CONTEXT, &pseudo_random(16384 + 10, 2)).expect("valid inputs");
        for len in 0..HEADER_USIZE {
            assert!(
                matches!(
                    decrypt(&KEY, CONTEXT, &message[..len]),
                    Err(CryptoError::Truncated { .. })
                ),
                "prefix of {len} bytes"
            );
        }
        for len in HEADER_USIZE..message.len() {
            assert!(
                decrypt(&KEY, CONTEXT, &message[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
    }

    #[test]
    fn full_final_chunk_is_error_not_panic() {
        let message = encrypt(&KEY, CONTEXT, &pseudo_random(16384, 3)).expect("valid inputs");
        let without_empty_chunk = &message[..message.len() - TAG_LEN as usize];
        assert_eq!(
            decrypt(&KEY, CONTEXT, without_empty_chunk),
            Err(CryptoError::InvalidCiphertextLength {
                what: "chunked-encryption",
                len: without_empty_chunk.len() as u64
            })
        );
    }

    #[test]
    fn trailing_data_is_error_not_panic() {
        let mut message = encrypt(&KEY, CONTEXT, b"short").expect("valid inputs");
        message.extend_from_slice(&[0u8; 20]);
        assert_eq!(
            decrypt(&KEY, CONTEXT, &message),
            Err(CryptoError::ChunkAuthenticationFailed { index: 0 })
        );
    }

    #[test]
    fn garbage_message_is_error_not_panic() {
        let header = encrypt(&KEY, CONTEXT, b"").expect("valid inputs")[..HEADER_USIZE].to_vec();
        for (seed, len) in [0, 1, 55, 56, 57, 71, 72, 73, 200, 16455, 16456, 40000]
            .into_iter()
            .enumerate()
        {
            let garbage = pseudo_random(len, seed as u32 + 10);
            assert!(
                decrypt(&KEY, CONTEXT, &garbage).is_err(),
                "garbage of {len} bytes"
            );
            let mut behind_header = header.clone();
            behind_header.extend_from_slice(&garbage);
            assert!(
                decrypt(&KEY, CONTEXT, &behind_header).is_err(),
                "header and {len} garbage bytes"
            );
        }
    }

    #[test]
    fn swapped_chunks_fail_authentication() {
        let message =
            encrypt(&KEY, CONTEXT, &pseudo_random(3 * 16384 + 1, 4)).expect("valid inputs");
        let mut swapped = message.clone();
        let (first, second) = (HEADER_USIZE, HEADER_USIZE + ENCRYPTED_CHUNK_USIZE);
        swapped[first..second].copy_from_slice(&message[second..second + ENCRYPTED_CHUNK_USIZE]);
        swapped[second..second + ENCRYPTED_CHUNK_USIZE].copy_from_slice(&message[first..second]);
        assert_eq!(
            decrypt(&KEY, CONTEXT, &swapped),
            Err(CryptoError::ChunkAuthenticationFailed { index: 0 })
        );
    }

    #[test]
    fn malformed_keys_and_chunks_are_error_not_panic() {
        assert!(matches!(
            decrypt(&[0u8; 16], CONTEXT, &[0u8; 100]),
            Err(CryptoError::InvalidLength { actual: 16, .. })
        ));
        assert!(MessageKeys::derive(&KEY, &[0u8; 23], CONTEXT).is_err());
        assert!(MessageKeys::from_raw(&KEY, &[0u8; 11]).is_err());
        let keys = MessageKeys::from_raw(&KEY, &[0u8; NONCE_LEN]).expect("valid lengths");
        for len in [0, 15] {
            assert!(matches!(
                keys.decrypt_chunk(0, &vec![0u8; len], &mut Vec::new()),
                Err(CryptoError::Truncated { .. })
            ));
        }
        assert!(matches!(
            keys.decrypt_chunk(0, &vec![0u8; ENCRYPTED_CHUNK_USIZE + 1], &mut Vec::new()),
            Err(CryptoError::InvalidLength { .. })
        ));
        assert!(matches!(
            keys.encrypt_chunk(0, &vec![0u8; CHUNK_SIZE_USIZE + 1], &mut Vec::new()),
            Err(CryptoError::InvalidLength { .. })
        ));
    }

    #[test]
    fn chunk_index_past_the_limit_is_error_not_panic() {
        let keys = MessageKeys::from_raw(&KEY, &[0xff; NONCE_LEN]).expect("valid lengths");
        let mut out = Vec::new();
        assert!(
            keys.encrypt_chunk(MAX_CHUNKS - 1, b"last", &mut out)
                .is_ok()
        );
        assert!(matches!(
            keys.encrypt_chunk(MAX_CHUNKS, b"", &mut Vec::new()),
            Err(CryptoError::MessageTooLong { .. })
        ));
        assert!(keys.decrypt_chunk(u64::MAX, &out, &mut Vec::new()).is_err());
        let mut plain = Vec::new();
        keys.decrypt_chunk(MAX_CHUNKS - 1, &out, &mut plain)
            .expect("authentic chunk");
        assert_eq!(plain, b"last");
        assert!(matches!(
            body_chunk_count(u64::MAX - 100),
            Err(CryptoError::MessageTooLong { .. } | CryptoError::InvalidCiphertextLength { .. })
        ));
    }

    #[test]
    fn failed_chunk_leaves_output_unchanged() {
        let keys = MessageKeys::from_raw(&KEY, &[1u8; NONCE_LEN]).expect("valid lengths");
        let mut chunk = Vec::new();
        keys.encrypt_chunk(0, b"abc", &mut chunk)
            .expect("short chunk");
        let mut out = b"kept".to_vec();
        assert!(keys.decrypt_chunk(1, &chunk, &mut out).is_err());
        assert_eq!(out, b"kept");
    }
}

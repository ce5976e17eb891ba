//! The file key sealed to one account with HPKE Auth mode, bound to the file id.
//!
//! Suite: DHKEM(P-256, HKDF-SHA256) 0x0010, HKDF-SHA256 0x0001, AES-256-GCM 0x0002, mode
//! auth 0x02. The sender's identity key authenticates, so the recipient can verify which
//! account sealed the key. `info` carries the file id, so a record cannot be moved to
//! another file.

use crate::CryptoError;
use crate::file::{FILE_KEY_LEN, FileKey};
use crate::hpke::{self, Aes256Gcm, ENC_LEN, TAG_LEN};
use crate::identity::{IdentitySecret, PublicKey};

/// File ids are 16 random bytes chosen by the server.
pub const FILE_ID_LEN: usize = 16;
/// The sealed file key: 32 bytes of AES-256-GCM ciphertext and a 16-byte tag.
pub const SEALED_KEY_LEN: usize = FILE_KEY_LEN + TAG_LEN;
/// HPKE `info` prefix, followed by 0x00 and the 16-byte file id.
const FILE_KEY_INFO: &[u8] = b"data-transfer-cloud/v1/file-key";

/// One key exchange record as stored by the server: HPKE `enc` and the sealed file key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedFileKey {
    pub enc: [u8; 65],
    pub ciphertext: [u8; 48],
}

impl SealedFileKey {
    /// Checks the lengths (65 and 48 bytes) and that `enc` is a valid P-256 point, so a
    /// malformed record is rejected when it arrives and not only when it is opened.
    pub fn from_parts(enc: &[u8], ciphertext: &[u8]) -> Result<Self, CryptoError> {
        PublicKey::from_sec1(enc).map_err(|error| match error {
            CryptoError::InvalidLength {
                expected, actual, ..
            } => CryptoError::InvalidLength {
                what: "HPKE enc",
                expected,
                actual,
            },
            other => other,
        })?;
        let ciphertext: [u8; SEALED_KEY_LEN] =
            ciphertext
                .try_into()
                .map_err(|_| CryptoError::InvalidLength {
                    what: "sealed file key",
                    expected: SEALED_KEY_LEN,
                    actual: ciphertext.len(),
                })?;
        let mut enc_bytes = [0u8; ENC_LEN];
        enc_bytes.copy_from_slice(enc);
        Ok(SealedFileKey {
            enc: enc_bytes,
            ciphertext,
        })
    }
}

/// `"data-transfer-cloud/v1/file-key" || 0x00 || file id`.
fn file_key_info(file_id: &[u8; FILE_ID_LEN]) -> Vec<u8> {
    let mut info = Vec::with_capacity(FILE_KEY_INFO.len() + 1 + FILE_ID_LEN);
    info.extend_from_slice(FILE_KEY_INFO);
    info.push(0x00);
    info.extend_from_slice(file_id);
    info
}

/// SealAuth(pkR = recipient, info, aad = empty, pt = file key, skS = sender) with a fresh
/// ephemeral key. Seal to the sender's own public key too, so the sender can open it later.
///
/// # Panics
/// If the system random number generator fails.
pub fn seal_file_key(
    sender: &IdentitySecret,
    recipient: &PublicKey,
    file_id: &[u8; FILE_ID_LEN],
    key: &FileKey,
) -> Result<SealedFileKey, CryptoError> {
    let ephemeral = IdentitySecret::generate();
    seal_file_key_with_ephemeral(sender, &ephemeral, recipient, file_id, key)
}

/// [`seal_file_key`] with a caller-chosen ephemeral key, so test vectors can be
/// reproduced byte for byte. An ephemeral key must never be used twice.
pub fn seal_file_key_with_ephemeral(
    sender: &IdentitySecret,
    ephemeral: &IdentitySecret,
    recipient: &PublicKey,
    file_id: &[u8; FILE_ID_LEN],
    key: &FileKey,
) -> Result<SealedFileKey, CryptoError> {
    let info = file_key_info(file_id);
    let (enc, mut context) = hpke::setup_sender_p256::<Aes256Gcm>(
        ephemeral.as_p256(),
        recipient,
        &info,
        None,
        Some(sender.as_p256()),
    )?;
    let sealed = context.seal(b"", key.expose_secret_bytes())?;
    SealedFileKey::from_parts(&enc, &sealed)
}

/// OpenAuth with the recipient's identity key and the sender's public key. Fails with
/// [`CryptoError::HpkeOpenFailed`] for a wrong key, wrong sender, wrong file id or a
/// modified record.
pub fn open_file_key(
    recipient: &IdentitySecret,
    sender: &PublicKey,
    file_id: &[u8; FILE_ID_LEN],
    sealed: &SealedFileKey,
) -> Result<FileKey, CryptoError> {
    let info = file_key_info(file_id);
    let mut context = hpke::setup_recipient_p256::<Aes256Gcm>(
        &sealed.enc,
        recipient.as_p256(),
        &info,
        None,
        Some(sender),
    )?;
    let plaintext = context.open(b"", &sealed.ciphertext)?;
    FileKey::from_bytes(&plaintext)
}

/// Writes a file id as 32 lowercase hex digits.
pub fn format_file_id(file_id: &[u8; FILE_ID_LEN]) -> String {
    file_id.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Parses 32 lowercase hex digits; rejects other lengths, upper case and non-hex characters.
pub fn parse_file_id(text: &str) -> Result<[u8; FILE_ID_LEN], CryptoError> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * FILE_ID_LEN {
        return Err(CryptoError::InvalidFileId {
            reason: format!(
                "{} characters; expected 32 lowercase hex digits",
                bytes.len()
            ),
        });
    }
    let mut out = [0u8; FILE_ID_LEN];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (hex_digit(pair[0], 2 * i)? << 4) | hex_digit(pair[1], 2 * i + 1)?;
    }
    Ok(out)
}

fn hex_digit(byte: u8, position: usize) -> Result<u8, CryptoError> {
    match byte {
        b'0'..=b'9' => Ok(byte - b'0'),
        b'a'..=b'f' => Ok(byte - b'a' + 10),
        _ => Err(CryptoError::InvalidFileId {
            reason: format!("byte {byte:#04x} at position {position} is not a lowercase hex digit"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const FILE_ID: [u8; FILE_ID_LEN] = [0x11; FILE_ID_LEN];

    #[test]
    fn recipient_opens_what_sender_sealed() {
        let alice = IdentitySecret::generate();
        let bob = IdentitySecret::generate();
        let key = FileKey::generate();
        let sealed = seal_file_key(&alice, &bob.public_key(), &FILE_ID, &key).expect("valid keys");
        let opened =
            open_file_key(&bob, &alice.public_key(), &FILE_ID, &sealed).expect("authentic record");
        assert_eq!(opened.expose_secret_bytes(), key.expose_secret_bytes());
    }

    #[test]
    fn sender_opens_what_it_sealed_to_itself() {
        let alice = IdentitySecret::generate();
        let key = FileKey::generate();
        let sealed =
            seal_file_key(&alice, &alice.public_key(), &FILE_ID, &key).expect("valid keys");
        let opened = open_file_key(&alice, &alice.public_key(), &FILE_ID, &sealed)
            .expect("authentic record");
        assert_eq!(opened.expose_secret_bytes(), key.expose_secret_bytes());
    }

    #[test]
    fn record_matches_rfc9180_open_auth() {
        let alice = IdentitySecret::generate();
        let bob = IdentitySecret::generate();
        let key = FileKey::generate();
        let sealed = seal_file_key(&alice, &bob.public_key(), &FILE_ID, &key).expect("valid keys");
        let bob_hpke =
            hpke::PrivateKey::from_bytes(bob.expose_secret_bytes().as_slice()).expect("valid");
        let mut info = b"data-transfer-cloud/v1/file-key\x00".to_vec();
        info.extend_from_slice(&FILE_ID);
        let mut context = hpke::setup_recipient::<Aes256Gcm>(
            &sealed.enc,
            &bob_hpke,
            &info,
            None,
            Some(&alice.public_key()),
        )
        .expect("valid enc");
        assert_eq!(context.key_schedule_context()[0], 0x02);
        let opened = context.open(b"", &sealed.ciphertext).expect("authentic");
        assert_eq!(opened.as_slice(), key.expose_secret_bytes());
    }

    #[test]
    fn wrong_recipient_sender_or_file_id_fails() {
        let alice = IdentitySecret::generate();
        let bob = IdentitySecret::generate();
        let mallory = IdentitySecret::generate();
        let sealed = seal_file_key(&alice, &bob.public_key(), &FILE_ID, &FileKey::generate())
            .expect("valid");
        let fail = Some(CryptoError::HpkeOpenFailed);
        assert_eq!(
            open_file_key(&mallory, &alice.public_key(), &FILE_ID, &sealed).err(),
            fail
        );
        assert_eq!(
            open_file_key(&bob, &mallory.public_key(), &FILE_ID, &sealed).err(),
            fail
        );
        assert_eq!(
            open_file_key(&bob, &alice.public_key(), &[0x12; 16], &sealed).err(),
            fail
        );
    }

    #[test]
    fn modified_record_fails() {
        let alice = IdentitySecret::generate();
        let bob = IdentitySecret::generate();
        let sealed = seal_file_key(&alice, &bob.public_key(), &FILE_ID, &FileKey::generate())
            .expect("valid");
        for i in 0..SEALED_KEY_LEN {
            let mut modified = sealed.clone();
            modified.ciphertext[i] ^= 0x01;
            assert_eq!(
                open_file_key(&bob, &alice.public_key(), &FILE_ID, &modified).err(),
                Some(CryptoError::HpkeOpenFailed),
                "flipped ciphertext byte {i}"
            );
        }
        let mut other_enc = sealed.clone();
        other_enc.enc = IdentitySecret::generate().public_key().to_sec1();
        assert_eq!(
            open_file_key(&bob, &alice.public_key(), &FILE_ID, &other_enc).err(),
            Some(CryptoError::HpkeOpenFailed)
        );
        let mut off_curve = sealed;
        off_curve.enc[64] ^= 0x01;
        assert_eq!(
            open_file_key(&bob, &alice.public_key(), &FILE_ID, &off_curve).err(),
            Some(CryptoError::InvalidPublicKey)
        );
    }

    #[test]
    fn malformed_parts_are_error_not_panic() {
        let enc = IdentitySecret::generate().public_key().to_sec1();
        assert!(SealedFileKey::from_parts(&enc, &[0u8; 48]).is_ok());
        assert!(matches!(
            SealedFileKey::from_parts(&enc[..64], &[0u8; 48]),
            Err(CryptoError::InvalidLength {
                what: "HPKE enc",
                actual: 64,
                ..
            })
        ));
        assert!(matches!(
            SealedFileKey::from_parts(&enc, &[0u8; 47]),
            Err(CryptoError::InvalidLength {
                what: "sealed file key",
                actual: 47,
                ..
            })
        ));
        assert!(SealedFileKey::from_parts(&[], &[]).is_err());
        let mut bad = enc;
        bad[1] ^= 0x40;
        assert!(SealedFileKey::from_parts(&bad, &[0u8; 48]).is_err());
        assert!(SealedFileKey::from_parts(&[0u8; 65], &[0u8; 48]).is_err());
    }

    #[test]
    fn file_id_hex_round_trips() {
        let id: [u8; 16] = core::array::from_fn(|i| (i * 17) as u8);
        let text = format_file_id(&id);
        assert_eq!(text, "00112233445566778899aabbccddeeff");
        assert_eq!(parse_file_id(&text), Ok(id));
    }

    #[test]
    fn malformed_file_id_is_error_not_panic() {
        for text in [
            "",
            "00",
            "00112233445566778899aabbccddeefF",
            "00112233445566778899aabbccddeeffa",
            "00112233445566778899aabbccddeeg0",
            "0011223344556677889\u{e9}aabbccddeef",
        ] {
            assert!(
                matches!(parse_file_id(text), Err(CryptoError::InvalidFileId { .. })),
                "{text:?}"
            );
        }
    }
}

//! DHKEM(P-256, HKDF-SHA256) (RFC 9180 section 4.1), with Auth mode and DeriveKeyPair.

use zeroize::Zeroizing;

use super::labeled::{NH, labeled_expand, labeled_extract};
use super::{PrivateKey, SharedSecret};
use crate::CryptoError;
use crate::identity::PublicKey;

/// KEM id of DHKEM(P-256, HKDF-SHA256) (RFC 9180 section 7.1).
pub const KEM_ID: u16 = 0x0010;
/// Nenc and Npk: a SEC1 uncompressed P-256 point (RFC 9180 section 7.1).
pub const ENC_LEN: usize = 65;
/// Nsk: a P-256 scalar (RFC 9180 section 7.1).
const NSK: usize = 32;
/// RFC 9180 section 7.1.3: DeriveKeyPair masks the first candidate byte with 0xff for P-256,
/// so no bits are cleared.
const CANDIDATE_BITMASK: u8 = 0xff;
/// RFC 9180 section 7.1.3: DeriveKeyPair gives up after candidates 0 to 255.
const MAX_CANDIDATE: u8 = 255;

/// `"KEM" || I2OSP(kem_id, 2)` (RFC 9180 section 4.1).
fn suite_id() -> [u8; 5] {
    let [high, low] = KEM_ID.to_be_bytes();
    [b'K', b'E', b'M', high, low]
}

/// DeriveKeyPair (RFC 9180 section 7.1.3): candidates from LabeledExpand with a one-byte
/// counter until one is a scalar in [1, n).
pub fn derive_key_pair(ikm: &[u8]) -> Result<PrivateKey, CryptoError> {
    let suite = suite_id();
    let dkp_prk = labeled_extract(&suite, b"", b"dkp_prk", ikm);
    for counter in 0..=MAX_CANDIDATE {
        let mut candidate = Zeroizing::new([0u8; NSK]);
        labeled_expand(
            &suite,
            &dkp_prk,
            b"candidate",
            &[counter],
            candidate.as_mut_slice(),
        )?;
        candidate[0] &= CANDIDATE_BITMASK;
        // from_bytes rejects zero and values not below the group order.
        if let Ok(secret) = p256::SecretKey::from_bytes(&(*candidate).into()) {
            return Ok(PrivateKey(secret));
        }
    }
    Err(CryptoError::DeriveKeyPairFailed)
}

/// Computes the x-coordinate of sk × pk (RFC 9180 section 7.1.1, DH for the NIST curves).
pub(crate) fn dh(secret: &p256::SecretKey, public: &p256::PublicKey) -> Zeroizing<[u8; 32]> {
    let shared = secret.diffie_hellman(public);
    Zeroizing::new((*shared.raw_secret_bytes()).into())
}

/// ExtractAndExpand (RFC 9180 section 4.1).
fn extract_and_expand(dh: &[u8], kem_context: &[u8]) -> Result<SharedSecret, CryptoError> {
    let suite = suite_id();
    let eae_prk = labeled_extract(&suite, b"", b"eae_prk", dh);
    let mut shared = Zeroizing::new([0u8; NH]);
    labeled_expand(
        &suite,
        &eae_prk,
        b"shared_secret",
        kem_context,
        shared.as_mut_slice(),
    )?;
    Ok(SharedSecret(shared))
}

/// Encap or AuthEncap with a given ephemeral key: returns the shared secret and `enc`.
pub(crate) fn encap(
    ephemeral: &p256::SecretKey,
    recipient: &p256::PublicKey,
    sender: Option<&p256::SecretKey>,
) -> Result<(SharedSecret, [u8; ENC_LEN]), CryptoError> {
    let enc = PublicKey::from_p256(ephemeral.public_key()).to_sec1();
    let pk_rm = PublicKey::from_p256(*recipient).to_sec1();
    let mut dh_bytes = Zeroizing::new(Vec::with_capacity(64));
    dh_bytes.extend_from_slice(dh(ephemeral, recipient).as_slice());
    let mut kem_context = Vec::with_capacity(3 * ENC_LEN);
    kem_context.extend_from_slice(&enc);
    kem_context.extend_from_slice(&pk_rm);
    if let Some(sender) = sender {
        dh_bytes.extend_from_slice(dh(sender, recipient).as_slice());
        kem_context.extend_from_slice(&PublicKey::from_p256(sender.public_key()).to_sec1());
    }
    Ok((extract_and_expand(&dh_bytes, &kem_context)?, enc))
}

/// Decap or AuthDecap; `enc` is validated as a P-256 point first.
pub(crate) fn decap(
    enc: &[u8],
    recipient: &p256::SecretKey,
    sender: Option<&p256::PublicKey>,
) -> Result<SharedSecret, CryptoError> {
    let ephemeral = PublicKey::from_sec1(enc)?;
    let pk_rm = PublicKey::from_p256(recipient.public_key()).to_sec1();
    let mut dh_bytes = Zeroizing::new(Vec::with_capacity(64));
    dh_bytes.extend_from_slice(dh(recipient, ephemeral.as_p256()).as_slice());
    let mut kem_context = Vec::with_capacity(3 * ENC_LEN);
    kem_context.extend_from_slice(enc);
    kem_context.extend_from_slice(&pk_rm);
    if let Some(sender) = sender {
        dh_bytes.extend_from_slice(dh(recipient, sender).as_slice());
        kem_context.extend_from_slice(&PublicKey::from_p256(*sender).to_sec1());
    }
    extract_and_expand(&dh_bytes, &kem_context)
}

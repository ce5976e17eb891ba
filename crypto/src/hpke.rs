//! RFC 9180 HPKE: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM and AES-256-GCM,
//! in all four modes (base, psk, auth, auth_psk), with the secret export interface.
//!
//! The mode follows from the optional inputs: a [`Psk`] adds PSK authentication, a sender
//! key adds Auth mode. The AEAD is a type parameter, so the RFC 9180 test vectors (which
//! use AES-128-GCM) exercise the same code as the AES-256-GCM suite this product uses.

mod kem;
mod labeled;

use std::marker::PhantomData;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead as _, AeadCore, AeadInOut, KeyInit, Payload};
use zeroize::Zeroizing;

pub use kem::{ENC_LEN, KEM_ID, derive_key_pair};

use crate::CryptoError;
use crate::identity::PublicKey;
use crate::secret::{masked_debug, wiped_on_drop};
use labeled::{MAX_EXPAND_LEN, NH, labeled_expand, labeled_extract};

/// KDF id of HKDF-SHA256 (RFC 9180 section 7.2).
pub const KDF_ID: u16 = 0x0001;
/// Nn of both AES-GCM suites (RFC 9180 section 7.3).
pub const NONCE_LEN: usize = 12;
/// Nt of both AES-GCM suites (RFC 9180 section 7.3).
pub const TAG_LEN: usize = 16;

/// An HPKE mode (RFC 9180 section 5, table 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Base = 0x00,
    Psk = 0x01,
    Auth = 0x02,
    AuthPsk = 0x03,
}

impl Mode {
    fn of(psk: Option<&Psk<'_>>, authenticated: bool) -> Mode {
        match (psk.is_some(), authenticated) {
            (false, false) => Mode::Base,
            (true, false) => Mode::Psk,
            (false, true) => Mode::Auth,
            (true, true) => Mode::AuthPsk,
        }
    }
}

/// A pre-shared key and its id, both non-empty (RFC 9180 section 5.1, VerifyPSKInputs).
#[derive(Clone, Copy)]
pub struct Psk<'a> {
    pub psk: &'a [u8],
    pub psk_id: &'a [u8],
}

impl std::fmt::Debug for Psk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Psk([redacted])")
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An HPKE AEAD: AES-128-GCM or AES-256-GCM.
pub trait Aead: sealed::Sealed {
    /// The AEAD id (RFC 9180 section 7.3).
    const ID: u16;
    /// Nk, the key length.
    const KEY_LEN: usize;
    #[doc(hidden)]
    type Cipher: AeadInOut + AeadCore<NonceSize = U12> + KeyInit + zeroize::ZeroizeOnDrop;
}

/// AES-128-GCM, AEAD id 0x0001; the suite of the RFC 9180 test vectors used here.
pub struct Aes128Gcm;
/// AES-256-GCM, AEAD id 0x0002; the suite of the key exchange records.
pub struct Aes256Gcm;

impl sealed::Sealed for Aes128Gcm {}
impl sealed::Sealed for Aes256Gcm {}

impl Aead for Aes128Gcm {
    const ID: u16 = 0x0001;
    const KEY_LEN: usize = 16;
    type Cipher = aes_gcm::Aes128Gcm;
}

impl Aead for Aes256Gcm {
    const ID: u16 = 0x0002;
    const KEY_LEN: usize = 32;
    type Cipher = aes_gcm::Aes256Gcm;
}

/// A DHKEM(P-256) private key. Wiped on drop; `Debug` prints no key bytes.
pub struct PrivateKey(pub(crate) p256::SecretKey);
masked_debug!(PrivateKey);
wiped_on_drop!(PrivateKey: p256::SecretKey);

impl PrivateKey {
    /// # Panics
    /// If the system random number generator fails.
    pub fn generate() -> Self {
        PrivateKey(crate::identity::IdentitySecret::generate().into_p256())
    }

    /// Parses a 32-byte big-endian scalar in [1, n).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(PrivateKey(
            crate::identity::IdentitySecret::from_bytes(bytes)?.into_p256(),
        ))
    }

    pub fn expose_secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes().into())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_p256(self.0.public_key())
    }

    /// DH(sk, pk) of DHKEM(P-256) (RFC 9180 section 7.1.1): the x-coordinate of sk × pk.
    pub fn diffie_hellman(&self, public: &PublicKey) -> Zeroizing<[u8; 32]> {
        kem::dh(&self.0, public.as_p256())
    }
}

/// The KEM shared secret (Nsecret = 32 bytes). Wiped on drop; `Debug` prints no bytes.
pub struct SharedSecret(Zeroizing<[u8; NH]>);
masked_debug!(SharedSecret);
wiped_on_drop!(SharedSecret: Zeroizing<[u8; NH]>);

impl SharedSecret {
    pub fn expose_secret_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// `"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)` (RFC 9180 section 5.1).
fn suite_id<A: Aead>() -> [u8; 10] {
    let mut id = [0u8; 10];
    id[..4].copy_from_slice(b"HPKE");
    id[4..6].copy_from_slice(&KEM_ID.to_be_bytes());
    id[6..8].copy_from_slice(&KDF_ID.to_be_bytes());
    id[8..].copy_from_slice(&A::ID.to_be_bytes());
    id
}

/// The state of one HPKE context: AEAD key, base nonce, exporter secret and sequence number
/// (RFC 9180 section 5.2). Wiped on drop.
pub struct Context<A: Aead> {
    cipher: A::Cipher,
    key: Zeroizing<Vec<u8>>,
    base_nonce: Zeroizing<[u8; NONCE_LEN]>,
    exporter_secret: Zeroizing<[u8; NH]>,
    secret: Zeroizing<[u8; NH]>,
    key_schedule_context: Vec<u8>,
    sequence: u64,
    aead: PhantomData<A>,
}

// `A::Cipher` is bound by `ZeroizeOnDrop` in the `Aead` trait, and the key schedule
// context and the sequence number are public.
impl<A: Aead> zeroize::ZeroizeOnDrop for Context<A> {}
const _: fn() = || {
    fn wiped<T: zeroize::ZeroizeOnDrop>() {}
    wiped::<Zeroizing<Vec<u8>>>();
    wiped::<Zeroizing<[u8; NONCE_LEN]>>();
    wiped::<Zeroizing<[u8; NH]>>();
};

impl<A: Aead> std::fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("aead_id", &A::ID)
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl<A: Aead> Context<A> {
    /// KeySchedule (RFC 9180 section 5.1) from a KEM shared secret.
    pub fn key_schedule(
        mode: Mode,
        shared_secret: &SharedSecret,
        info: &[u8],
        psk: Option<Psk<'_>>,
    ) -> Result<Self, CryptoError> {
        let (psk_bytes, psk_id) = verify_psk_inputs(mode, psk)?;
        let suite = suite_id::<A>();
        let psk_id_hash = labeled_extract(&suite, b"", b"psk_id_hash", psk_id);
        let info_hash = labeled_extract(&suite, b"", b"info_hash", info);
        let mut key_schedule_context = Vec::with_capacity(1 + 2 * NH);
        key_schedule_context.push(mode as u8);
        key_schedule_context.extend_from_slice(psk_id_hash.as_slice());
        key_schedule_context.extend_from_slice(info_hash.as_slice());

        let secret = labeled_extract(
            &suite,
            shared_secret.expose_secret_bytes(),
            b"secret",
            psk_bytes,
        );
        let mut key = Zeroizing::new(vec![0u8; A::KEY_LEN]);
        let mut base_nonce = Zeroizing::new([0u8; NONCE_LEN]);
        let mut exporter_secret = Zeroizing::new([0u8; NH]);
        labeled_expand(&suite, &secret, b"key", &key_schedule_context, &mut key)?;
        labeled_expand(
            &suite,
            &secret,
            b"base_nonce",
            &key_schedule_context,
            base_nonce.as_mut_slice(),
        )?;
        labeled_expand(
            &suite,
            &secret,
            b"exp",
            &key_schedule_context,
            exporter_secret.as_mut_slice(),
        )?;

        let cipher = A::Cipher::new_from_slice(&key).map_err(|_| CryptoError::InvalidLength {
            what: "HPKE AEAD key",
            expected: A::KEY_LEN,
            actual: key.len(),
        })?;
        Ok(Context {
            cipher,
            key,
            base_nonce,
            exporter_secret,
            secret,
            key_schedule_context,
            sequence: 0,
            aead: PhantomData,
        })
    }

    /// `mode || psk_id_hash || info_hash`: public, the input of every key schedule expansion.
    pub fn key_schedule_context(&self) -> &[u8] {
        &self.key_schedule_context
    }

    /// Returns the key schedule's `secret`, for checking test vectors only.
    pub fn expose_secret_schedule_bytes(&self) -> &[u8; 32] {
        &self.secret
    }

    /// Returns the AEAD key, for checking test vectors only.
    pub fn expose_secret_key_bytes(&self) -> &[u8] {
        &self.key
    }

    /// Returns the exporter secret, for checking test vectors only.
    pub fn expose_secret_exporter_bytes(&self) -> &[u8; 32] {
        &self.exporter_secret
    }

    pub fn base_nonce(&self) -> &[u8; NONCE_LEN] {
        &self.base_nonce
    }

    /// Returns the sequence number of the next seal or open.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// `base_nonce XOR I2OSP(seq, Nn)`; the 64-bit counter fits the 96-bit nonce.
    fn nonce(&self) -> aes_gcm::Nonce<U12> {
        let mut nonce = *self.base_nonce;
        for (byte, counter) in nonce[NONCE_LEN - 8..]
            .iter_mut()
            .zip(self.sequence.to_be_bytes())
        {
            *byte ^= counter;
        }
        aes_gcm::Nonce::from(nonce)
    }

    /// Advances the sequence number. RFC 9180 requires an error before it wraps, and this
    /// u64 counter stops at 2^64 - 1, far below the 2^96 - 1 the nonce would allow.
    fn increment(&mut self) -> Result<(), CryptoError> {
        self.sequence = self
            .sequence
            .checked_add(1)
            .ok_or(CryptoError::HpkeMessageLimit)?;
        Ok(())
    }

    fn check_limit(&self) -> Result<(), CryptoError> {
        if self.sequence == u64::MAX {
            return Err(CryptoError::HpkeMessageLimit);
        }
        Ok(())
    }

    /// Context.Seal: AEAD-encrypts `plaintext` with the next nonce.
    pub fn seal(&mut self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.check_limit()?;
        let sealed = self
            .cipher
            .encrypt(
                &self.nonce(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::MessageTooLong {
                len: plaintext.len() as u64,
                max: 1 << 36,
            })?;
        self.increment()?;
        Ok(sealed)
    }

    /// Context.Open: the sequence number advances only when the tag verifies.
    pub fn open(
        &mut self,
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.check_limit()?;
        let opened = self
            .cipher
            .decrypt(
                &self.nonce(),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::HpkeOpenFailed)?;
        self.increment()?;
        Ok(Zeroizing::new(opened))
    }

    /// Context.Export (RFC 9180 section 5.3): `LabeledExpand(exporter_secret, "sec",
    /// exporter_context, L)`, with L at most 255 × 32 bytes.
    pub fn export(
        &self,
        exporter_context: &[u8],
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if len > MAX_EXPAND_LEN {
            return Err(CryptoError::HkdfOutputTooLong { len });
        }
        let mut out = Zeroizing::new(vec![0u8; len]);
        labeled_expand(
            &suite_id::<A>(),
            &self.exporter_secret,
            b"sec",
            exporter_context,
            &mut out,
        )?;
        Ok(out)
    }
}

/// VerifyPSKInputs (RFC 9180 section 5.1): PSK modes need a non-empty PSK and PSK id,
/// the other modes take none. Returns (psk, psk_id), empty for the default.
fn verify_psk_inputs<'a>(
    mode: Mode,
    psk: Option<Psk<'a>>,
) -> Result<(&'a [u8], &'a [u8]), CryptoError> {
    let inconsistent = CryptoError::InconsistentPsk { mode: mode as u8 };
    match (mode, psk) {
        (Mode::Base | Mode::Auth, None) => Ok((b"", b"")),
        (Mode::Psk | Mode::AuthPsk, Some(psk)) if !psk.psk.is_empty() && !psk.psk_id.is_empty() => {
            Ok((psk.psk, psk.psk_id))
        }
        _ => Err(inconsistent),
    }
}

/// SetupBaseS, SetupPSKS, SetupAuthS or SetupAuthPSKS with a fresh ephemeral key.
/// Returns `enc` and the sender's context.
///
/// # Panics
/// If the system random number generator fails.
pub fn setup_sender<A: Aead>(
    recipient: &PublicKey,
    info: &[u8],
    psk: Option<Psk<'_>>,
    sender: Option<&PrivateKey>,
) -> Result<([u8; ENC_LEN], Context<A>), CryptoError> {
    let ephemeral = PrivateKey::generate();
    setup_sender_with_ephemeral(&ephemeral, recipient, info, psk, sender)
}

/// Sets up the sender with a caller-chosen ephemeral key, so the RFC 9180 vectors are
/// reproducible. An ephemeral key must never be used twice.
pub fn setup_sender_with_ephemeral<A: Aead>(
    ephemeral: &PrivateKey,
    recipient: &PublicKey,
    info: &[u8],
    psk: Option<Psk<'_>>,
    sender: Option<&PrivateKey>,
) -> Result<([u8; ENC_LEN], Context<A>), CryptoError> {
    setup_sender_p256(&ephemeral.0, recipient, info, psk, sender.map(|key| &key.0))
}

pub(crate) fn setup_sender_p256<A: Aead>(
    ephemeral: &p256::SecretKey,
    recipient: &PublicKey,
    info: &[u8],
    psk: Option<Psk<'_>>,
    sender: Option<&p256::SecretKey>,
) -> Result<([u8; ENC_LEN], Context<A>), CryptoError> {
    let mode = Mode::of(psk.as_ref(), sender.is_some());
    verify_psk_inputs(mode, psk)?;
    let (shared, enc) = kem::encap(ephemeral, recipient.as_p256(), sender)?;
    Ok((enc, Context::key_schedule(mode, &shared, info, psk)?))
}

/// SetupBaseR, SetupPSKR, SetupAuthR or SetupAuthPSKR. `enc` is parsed and validated
/// as a P-256 point; `sender` is the sender's public key in the Auth modes.
pub fn setup_recipient<A: Aead>(
    enc: &[u8],
    recipient: &PrivateKey,
    info: &[u8],
    psk: Option<Psk<'_>>,
    sender: Option<&PublicKey>,
) -> Result<Context<A>, CryptoError> {
    setup_recipient_p256(enc, &recipient.0, info, psk, sender)
}

pub(crate) fn setup_recipient_p256<A: Aead>(
    enc: &[u8],
    recipient: &p256::SecretKey,
    info: &[u8],
    psk: Option<Psk<'_>>,
    sender: Option<&PublicKey>,
) -> Result<Context<A>, CryptoError> {
    let mode = Mode::of(psk.as_ref(), sender.is_some());
    verify_psk_inputs(mode, psk)?;
    let shared = kem::decap(enc, recipient, sender.map(PublicKey::as_p256))?;
    Context::key_schedule(mode, &shared, info, psk)
}

/// Encap or AuthEncap alone, for checking the KEM against test vectors.
pub fn encap_with_ephemeral(
    ephemeral: &PrivateKey,
    recipient: &PublicKey,
    sender: Option<&PrivateKey>,
) -> Result<(SharedSecret, [u8; ENC_LEN]), CryptoError> {
    kem::encap(&ephemeral.0, recipient.as_p256(), sender.map(|key| &key.0))
}

/// Decap or AuthDecap alone, for checking the KEM against test vectors.
pub fn decap(
    enc: &[u8],
    recipient: &PrivateKey,
    sender: Option<&PublicKey>,
) -> Result<SharedSecret, CryptoError> {
    kem::decap(enc, &recipient.0, sender.map(PublicKey::as_p256))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const PSK: Psk<'static> = Psk {
        psk: b"0123456789abcdef0123456789abcdef",
        psk_id: b"id",
    };

    #[test]
    fn all_modes_round_trip_with_aes_256_gcm() {
        let recipient = PrivateKey::generate();
        let sender = PrivateKey::generate();
        let cases = [
            (None, None),
            (Some(PSK), None),
            (None, Some(&sender)),
            (Some(PSK), Some(&sender)),
        ];
        for (mode, (psk, sender_key)) in cases.into_iter().enumerate() {
            let (enc, mut sealing) =
                setup_sender::<Aes256Gcm>(&recipient.public_key(), b"info", psk, sender_key)
                    .expect("sender setup");
            assert_eq!(sealing.key_schedule_context()[0], mode as u8);
            let sender_public = sender_key.map(PrivateKey::public_key);
            let mut opening = setup_recipient::<Aes256Gcm>(
                &enc,
                &recipient,
                b"info",
                psk,
                sender_public.as_ref(),
            )
            .expect("recipient setup");
            for message in [&b"first"[..], b"", b"third"] {
                let sealed = sealing.seal(b"aad", message).expect("seal");
                assert_eq!(
                    opening.open(b"aad", &sealed).expect("open").as_slice(),
                    message
                );
            }
            assert_eq!(
                sealing.export(b"ctx", 42).expect("export").as_slice(),
                opening.export(b"ctx", 42).expect("export").as_slice()
            );
        }
    }

    #[test]
    fn failed_open_does_not_advance_the_sequence() {
        let recipient = PrivateKey::generate();
        let (enc, mut sealing) =
            setup_sender::<Aes256Gcm>(&recipient.public_key(), b"", None, None).expect("setup");
        let mut opening =
            setup_recipient::<Aes256Gcm>(&enc, &recipient, b"", None, None).expect("setup");
        let sealed = sealing.seal(b"aad", b"message").expect("seal");
        assert_eq!(
            opening.open(b"other aad", &sealed).err(),
            Some(CryptoError::HpkeOpenFailed)
        );
        assert_eq!(opening.sequence(), 0);
        assert!(opening.open(b"aad", &sealed).is_ok());
        assert_eq!(opening.sequence(), 1);
    }

    #[test]
    fn inconsistent_psk_inputs_are_rejected() {
        let recipient = PrivateKey::generate();
        let empty = Psk {
            psk: b"",
            psk_id: b"id",
        };
        let no_id = Psk {
            psk: b"key",
            psk_id: b"",
        };
        for psk in [empty, no_id] {
            assert_eq!(
                setup_sender::<Aes256Gcm>(&recipient.public_key(), b"", Some(psk), None).err(),
                Some(CryptoError::InconsistentPsk { mode: 0x01 })
            );
        }
        let shared = SharedSecret(Zeroizing::new([0u8; NH]));
        assert!(Context::<Aes256Gcm>::key_schedule(Mode::Base, &shared, b"", Some(PSK)).is_err());
        assert!(Context::<Aes256Gcm>::key_schedule(Mode::Psk, &shared, b"", None).is_err());
    }

    #[test]
    fn garbage_enc_is_error_not_panic() {
        let recipient = PrivateKey::generate();
        let valid = PrivateKey::generate().public_key().to_sec1();
        let mut off_curve = valid;
        off_curve[64] ^= 1;
        let inputs: [&[u8]; 5] = [&[], &[0x04], &valid[..64], &off_curve, &[0x04; 65]];
        for enc in inputs {
            assert!(
                setup_recipient::<Aes256Gcm>(enc, &recipient, b"", None, None).is_err(),
                "enc {enc:?}"
            );
            assert!(decap(enc, &recipient, None).is_err());
        }
    }

    #[test]
    fn oversized_export_is_error_not_panic() {
        let recipient = PrivateKey::generate();
        let (_, context) =
            setup_sender::<Aes128Gcm>(&recipient.public_key(), b"", None, None).expect("setup");
        assert_eq!(context.export(b"", 255 * 32).map(|v| v.len()), Ok(8160));
        assert_eq!(
            context.export(b"", 255 * 32 + 1).err(),
            Some(CryptoError::HkdfOutputTooLong { len: 8161 })
        );
    }

    #[test]
    fn derive_key_pair_accepts_any_ikm() {
        for ikm in [&b""[..], b"x", &[0xffu8; 200]] {
            let a = derive_key_pair(ikm).expect("a candidate below n");
            let b = derive_key_pair(ikm).expect("a candidate below n");
            assert_eq!(a.public_key(), b.public_key());
        }
    }

    #[test]
    fn secrets_debug_prints_a_mask() {
        let key = PrivateKey::generate();
        assert_eq!(format!("{key:?}"), "PrivateKey([redacted])");
        let shared = SharedSecret(Zeroizing::new([7u8; NH]));
        assert_eq!(format!("{shared:?}"), "SharedSecret([redacted])");
        let (_, context) =
            setup_sender::<Aes256Gcm>(&key.public_key(), b"", None, None).expect("setup");
        let printed = format!("{context:?}");
        assert!(printed.starts_with("Context {"), "{printed}");
        assert!(!printed.contains("key"), "{printed}");
        assert_eq!(format!("{PSK:?}"), "Psk([redacted])");
    }
}

//! Password keys: Argon2id gives a master key, HKDF-SHA256 splits it into a login
//! key (sent to the server) and a wrapping key (never leaves the browser).
//!
//! The wrapping key encrypts the identity private key with AES-256-GCM, so the server
//! can store it and any browser that knows the password can recover it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::identity::{IdentitySecret, SECRET_KEY_LEN};
use crate::secret::{SecretBytes, masked_debug, wiped_on_drop};

/// Per-account Argon2id salt length: 16 random bytes (RFC 9106 section 3.1 recommends 128 bits).
pub const SALT_LEN: usize = 16;
/// Argon2id output and every key derived from it: 32 bytes.
pub const KEY_LEN: usize = 32;
/// Wrapped identity key: version (1) || nonce (12) || ciphertext (32) || tag (16).
pub const WRAPPED_IDENTITY_LEN: usize = 1 + NONCE_LEN + SECRET_KEY_LEN + TAG_LEN;
/// The wrapped identity key format version this crate writes and reads.
pub const WRAPPED_IDENTITY_VERSION: u8 = 0x01;

/// HKDF-SHA256 info of the login key, version 1 of this product's key schedule.
const LOGIN_KEY_INFO: &[u8] = b"data-transfer-cloud/v1/login-key";
/// HKDF-SHA256 info of the wrapping key.
const WRAPPING_KEY_INFO: &[u8] = b"data-transfer-cloud/v1/wrapping-key";
/// AAD prefix of the wrapped identity key, followed by 0x00 and the username bytes.
const IDENTITY_KEY_AAD: &[u8] = b"data-transfer-cloud/v1/identity-key";
/// HMAC-SHA256 label of the decoy salt given for unknown usernames.
const DECOY_SALT_LABEL: &[u8] = b"data-transfer-cloud/v1/decoy-salt";
/// AES-GCM nonce length (NIST SP 800-38D, 96 bits).
const NONCE_LEN: usize = 12;
/// AES-GCM tag length (NIST SP 800-38D, 128 bits).
const TAG_LEN: usize = 16;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// The parameters new accounts get: 64 MiB, 3 passes, one lane.
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 65536,
        iterations: 3,
        parallelism: 1,
    };
    /// Memory range in KiB: the floor is the OWASP minimum for Argon2id (19 MiB); 1 GiB is
    /// the most a browser tab can be expected to allocate.
    pub const MEMORY_KIB: std::ops::RangeInclusive<u32> = 19456..=1_048_576;
    /// Passes over memory.
    pub const ITERATIONS: std::ops::RangeInclusive<u32> = 2..=16;
    /// Lanes.
    pub const PARALLELISM: std::ops::RangeInclusive<u32> = 1..=4;

    /// Rejects parameters below the floor or above what a browser can run.
    pub fn validate(&self) -> Result<(), CryptoError> {
        check_range("memory_kib", self.memory_kib, Self::MEMORY_KIB)?;
        check_range("iterations", self.iterations, Self::ITERATIONS)?;
        check_range("parallelism", self.parallelism, Self::PARALLELISM)
    }
}

fn check_range(
    name: &'static str,
    value: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<(), CryptoError> {
    if !range.contains(&value) {
        return Err(CryptoError::KdfParamOutOfRange {
            name,
            value,
            min: *range.start(),
            max: *range.end(),
        });
    }
    Ok(())
}

/// The key the server checks at login; it stores only its SHA-256.
pub struct LoginKey(SecretBytes<KEY_LEN>);
masked_debug!(LoginKey);
wiped_on_drop!(LoginKey: SecretBytes<KEY_LEN>);

impl LoginKey {
    /// Parses the 32 bytes a client sent at login or registration.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        SecretBytes::from_slice("login key", bytes).map(LoginKey)
    }

    pub fn expose_secret_bytes(&self) -> &[u8; 32] {
        self.0.bytes()
    }

    /// SHA-256 of the login key: the value the server stores.
    pub fn verifier(&self) -> [u8; 32] {
        Sha256::digest(self.0.bytes()).into()
    }

    /// Compares SHA-256 of this key with a stored verifier in constant time.
    pub fn matches_verifier(&self, stored: &[u8]) -> bool {
        bool::from(self.verifier().as_slice().ct_eq(stored))
    }
}

/// The AES-256-GCM key that wraps the identity key. It never leaves the browser.
pub struct WrappingKey(SecretBytes<KEY_LEN>);
masked_debug!(WrappingKey);
wiped_on_drop!(WrappingKey: SecretBytes<KEY_LEN>);

impl WrappingKey {
    pub fn expose_secret_bytes(&self) -> &[u8; 32] {
        self.0.bytes()
    }
}

/// Both keys derived from one password.
#[derive(Debug)]
pub struct PasswordKeys {
    pub login: LoginKey,
    pub wrapping: WrappingKey,
}
wiped_on_drop!(PasswordKeys: LoginKey, WrappingKey);

impl PasswordKeys {
    /// Argon2id (version 0x13, 32-byte output) over the password and the 16-byte salt,
    /// then HKDF-SHA256 with an empty salt and the login-key and wrapping-key infos.
    pub fn derive(password: &str, salt: &[u8], params: KdfParams) -> Result<Self, CryptoError> {
        params.validate()?;
        if salt.len() != SALT_LEN {
            return Err(CryptoError::InvalidLength {
                what: "Argon2id salt",
                expected: SALT_LEN,
                actual: salt.len(),
            });
        }
        let master = argon2id(password.as_bytes(), salt, params)?;

        // An absent HKDF salt is HashLen zero bytes, which HMAC treats like an empty key.
        let hkdf = Hkdf::<Sha256>::new(None, master.as_slice());
        let mut login = SecretBytes::zeroed();
        let mut wrapping = SecretBytes::zeroed();
        expand(&hkdf, LOGIN_KEY_INFO, login.bytes_mut())?;
        expand(&hkdf, WRAPPING_KEY_INFO, wrapping.bytes_mut())?;
        Ok(PasswordKeys {
            login: LoginKey(login),
            wrapping: WrappingKey(wrapping),
        })
    }
}

/// Argon2id version 0x13 with a 32-byte output; shared with the share-link password.
pub(crate) fn argon2id(
    password: &[u8],
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let failed = |error: argon2::Error| CryptoError::Argon2Failed {
        reason: error.to_string(),
    };
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(KEY_LEN),
    )
    .map_err(failed)?;
    let mut master = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, master.as_mut_slice())
        .map_err(failed)?;
    Ok(master)
}

fn expand(hkdf: &Hkdf<Sha256>, info: &[u8], out: &mut [u8]) -> Result<(), CryptoError> {
    hkdf.expand(info, out)
        .map_err(|_| CryptoError::HkdfOutputTooLong { len: out.len() })
}

/// A fresh random Argon2id salt for a new account.
pub fn random_salt() -> [u8; SALT_LEN] {
    *crate::random::bytes::<SALT_LEN>()
}

/// The salt the server returns for a username that has no account, so the response looks
/// like one for a real account: HMAC-SHA256(server secret, label || 0x00 || username),
/// cut to 16 bytes. The same name always gets the same salt.
pub fn decoy_salt(server_secret: &[u8], username: &str) -> [u8; SALT_LEN] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(server_secret)
        .expect("HMAC accepts keys of any length");
    mac.update(DECOY_SALT_LABEL);
    mac.update(&[0x00]);
    mac.update(username.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&tag[..SALT_LEN]);
    salt
}

fn identity_aad(username: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(IDENTITY_KEY_AAD.len() + 1 + username.len());
    aad.extend_from_slice(IDENTITY_KEY_AAD);
    aad.push(0x00);
    aad.extend_from_slice(username.as_bytes());
    aad
}

fn wrapping_cipher(key: &WrappingKey) -> Aes256Gcm {
    Aes256Gcm::new(&(*key.0.bytes()).into())
}

/// Encrypts the identity key under the wrapping key, bound to the username:
/// `0x01 || nonce (12) || AES-256-GCM(private scalar) (48)`, 61 bytes.
///
/// # Panics
/// If the system random number generator fails.
pub fn wrap_identity(key: &WrappingKey, identity: &IdentitySecret, username: &str) -> Vec<u8> {
    let nonce = crate::random::bytes::<NONCE_LEN>();
    wrap_identity_with_nonce(key, identity, username, &nonce)
}

/// [`wrap_identity`] with a caller-chosen nonce, so test vectors can be reproduced byte
/// for byte. A nonce must never be used twice under one wrapping key: AES-GCM then
/// reveals the XOR of the two scalars and lets the tag be forged.
pub fn wrap_identity_with_nonce(
    key: &WrappingKey,
    identity: &IdentitySecret,
    username: &str,
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let scalar = identity.expose_secret_bytes();
    let aad = identity_aad(username);
    let payload = Payload {
        msg: scalar.as_slice(),
        aad: &aad,
    };
    // AES-GCM encryption fails only for inputs over 2^36 bytes; this one is 32 bytes.
    let sealed = wrapping_cipher(key)
        .encrypt(&Nonce::from(*nonce), payload)
        .expect("AES-256-GCM encryption of 32 bytes");
    let mut out = Vec::with_capacity(WRAPPED_IDENTITY_LEN);
    out.push(WRAPPED_IDENTITY_VERSION);
    out.extend_from_slice(nonce.as_slice());
    out.extend_from_slice(&sealed);
    out
}

/// Reverses [`wrap_identity`]. An unknown version byte, a length other than 61 and a
/// failed tag (wrong password, wrong username or modified bytes) are distinct errors.
pub fn unwrap_identity(
    key: &WrappingKey,
    wrapped: &[u8],
    username: &str,
) -> Result<IdentitySecret, CryptoError> {
    let Some(&version) = wrapped.first() else {
        return Err(CryptoError::InvalidLength {
            what: "wrapped identity key",
            expected: WRAPPED_IDENTITY_LEN,
            actual: 0,
        });
    };
    if version != WRAPPED_IDENTITY_VERSION {
        return Err(CryptoError::UnknownVersion {
            what: "wrapped identity key",
            version,
        });
    }
    if wrapped.len() != WRAPPED_IDENTITY_LEN {
        return Err(CryptoError::InvalidLength {
            what: "wrapped identity key",
            expected: WRAPPED_IDENTITY_LEN,
            actual: wrapped.len(),
        });
    }
    let (nonce, sealed) = wrapped[1..].split_at(NONCE_LEN);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    let aad = identity_aad(username);
    let payload = Payload {
        msg: sealed,
        aad: &aad,
    };
    let scalar = wrapping_cipher(key)
        .decrypt(&Nonce::from(nonce_bytes), payload)
        .map_err(|_| CryptoError::UnwrapFailed)?;
    let scalar = Zeroizing::new(scalar);
    IdentitySecret::from_bytes(&scalar)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The floor parameters keep the Argon2id tests fast in debug builds.
    const FAST: KdfParams = KdfParams {
        memory_kib: 19456,
        iterations: 2,
        parallelism: 1,
    };

    fn test_wrapping_key(byte: u8) -> WrappingKey {
        WrappingKey(SecretBytes::new(Zeroizing::new([byte; 32])))
    }

    #[test]
    fn params_outside_the_ranges_are_rejected() {
        assert_eq!(KdfParams::DEFAULT.validate(), Ok(()));
        let cases = [
            (
                KdfParams {
                    memory_kib: 19455,
                    ..KdfParams::DEFAULT
                },
                "memory_kib",
                19455,
            ),
            (
                KdfParams {
                    memory_kib: 1_048_577,
                    ..KdfParams::DEFAULT
                },
                "memory_kib",
                1_048_577,
            ),
            (
                KdfParams {
                    iterations: 1,
                    ..KdfParams::DEFAULT
                },
                "iterations",
                1,
            ),
            (
                KdfParams {
                    iterations: 17,
                    ..KdfParams::DEFAULT
                },
                "iterations",
                17,
            ),
            (
                KdfParams {
                    parallelism: 0,
                    ..KdfParams::DEFAULT
                },
                "parallelism",
                0,
            ),
            (
                KdfParams {
                    parallelism: 5,
                    ..KdfParams::DEFAULT
                },
                "parallelism",
                5,
            ),
        ];
        for (params, name, value) in cases {
            match params.validate() {
                Err(CryptoError::KdfParamOutOfRange {
                    name: n, value: v, ..
                }) => {
                    assert_eq!((n, v), (name, value));
                }
                other => panic!("{params:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn derive_is_deterministic_and_separates_keys() {
        let salt = [7u8; SALT_LEN];
        let a = PasswordKeys::derive("correct horse", &salt, FAST).expect("valid inputs");
        let b = PasswordKeys::derive("correct horse", &salt, FAST).expect("valid inputs");
        let other_salt =
            PasswordKeys::derive("correct horse", &[8u8; SALT_LEN], FAST).expect("valid inputs");
        assert_eq!(a.login.expose_secret_bytes(), b.login.expose_secret_bytes());
        assert_eq!(
            a.wrapping.expose_secret_bytes(),
            b.wrapping.expose_secret_bytes()
        );
        assert_ne!(
            a.login.expose_secret_bytes(),
            a.wrapping.expose_secret_bytes()
        );
        assert_ne!(
            a.login.expose_secret_bytes(),
            other_salt.login.expose_secret_bytes()
        );
    }

    #[test]
    fn derive_matches_argon2id_and_hkdf_by_hand() {
        let salt = *b"0123456789abcdef";
        let keys = PasswordKeys::derive("pw", &salt, FAST).expect("valid inputs");
        let master = argon2id(b"pw", &salt, FAST).expect("valid inputs");
        let mut login = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&[]), master.as_slice())
            .expand(b"data-transfer-cloud/v1/login-key", &mut login)
            .expect("32 bytes");
        assert_eq!(keys.login.expose_secret_bytes(), &login);
    }

    #[test]
    fn derive_rejects_bad_salt_and_params() {
        assert!(matches!(
            PasswordKeys::derive("pw", &[0u8; 15], FAST),
            Err(CryptoError::InvalidLength { actual: 15, .. })
        ));
        let params = KdfParams {
            iterations: 1,
            ..FAST
        };
        assert!(matches!(
            PasswordKeys::derive("pw", &[0u8; 16], params),
            Err(CryptoError::KdfParamOutOfRange {
                name: "iterations",
                ..
            })
        ));
    }

    #[test]
    fn login_key_verifier_is_sha256() {
        let key = LoginKey::from_bytes(&[3u8; 32]).expect("32 bytes");
        let expected: [u8; 32] = Sha256::digest([3u8; 32]).into();
        assert_eq!(key.verifier(), expected);
        assert!(key.matches_verifier(&expected));
        assert!(!key.matches_verifier(&[0u8; 32]));
        assert!(!key.matches_verifier(&expected[..31]));
        assert!(LoginKey::from_bytes(&[3u8; 31]).is_err());
    }

    #[test]
    fn decoy_salt_is_stable_per_name() {
        assert_eq!(
            decoy_salt(b"secret", "alice"),
            decoy_salt(b"secret", "alice")
        );
        assert_ne!(decoy_salt(b"secret", "alice"), decoy_salt(b"secret", "bob"));
        assert_ne!(
            decoy_salt(b"secret", "alice"),
            decoy_salt(b"other", "alice")
        );
    }

    #[test]
    fn wrapped_identity_round_trips() {
        let key = test_wrapping_key(1);
        let identity = IdentitySecret::generate();
        let wrapped = wrap_identity(&key, &identity, "alice");
        assert_eq!(wrapped.len(), 61);
        assert_eq!(wrapped[0], 0x01);
        let unwrapped = unwrap_identity(&key, &wrapped, "alice").expect("same key and name");
        assert_eq!(unwrapped.public_key(), identity.public_key());
    }

    #[test]
    fn wrapped_identity_layout_is_nonce_then_gcm() {
        let key = test_wrapping_key(2);
        let identity = IdentitySecret::from_bytes(&[5u8; 32]).expect("valid scalar");
        let wrapped = wrap_identity(&key, &identity, "bob");
        let cipher = Aes256Gcm::new(&[2u8; 32].into());
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&wrapped[1..13]);
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &wrapped[13..],
                    aad: b"data-transfer-cloud/v1/identity-key\x00bob",
                },
            )
            .expect("tag verifies");
        assert_eq!(plain, vec![5u8; 32]);
    }

    #[test]
    fn unwrap_with_wrong_key_or_name_fails_its_tag() {
        let identity = IdentitySecret::generate();
        let wrapped = wrap_identity(&test_wrapping_key(1), &identity, "alice");
        assert_eq!(
            unwrap_identity(&test_wrapping_key(2), &wrapped, "alice").err(),
            Some(CryptoError::UnwrapFailed)
        );
        assert_eq!(
            unwrap_identity(&test_wrapping_key(1), &wrapped, "alicf").err(),
            Some(CryptoError::UnwrapFailed)
        );
        for position in 1..wrapped.len() {
            let mut flipped = wrapped.clone();
            flipped[position] ^= 0x01;
            assert_eq!(
                unwrap_identity(&test_wrapping_key(1), &flipped, "alice").err(),
                Some(CryptoError::UnwrapFailed),
                "flipped byte {position}"
            );
        }
    }

    #[test]
    fn malformed_wrapped_identity_is_error_not_panic() {
        let key = test_wrapping_key(1);
        let wrapped = wrap_identity(&key, &IdentitySecret::generate(), "alice");
        assert!(matches!(
            unwrap_identity(&key, &[], "alice"),
            Err(CryptoError::InvalidLength { actual: 0, .. })
        ));
        for len in [1, 13, 60] {
            assert!(matches!(
                unwrap_identity(&key, &wrapped[..len], "alice"),
                Err(CryptoError::InvalidLength { actual, .. }) if actual == len
            ));
        }
        let mut long = wrapped.clone();
        long.push(0);
        assert!(matches!(
            unwrap_identity(&key, &long, "alice"),
            Err(CryptoError::InvalidLength { actual: 62, .. })
        ));
        let mut version = wrapped;
        version[0] = 0x02;
        assert_eq!(
            unwrap_identity(&key, &version, "alice").err(),
            Some(CryptoError::UnknownVersion {
                what: "wrapped identity key",
                version: 2
            })
        );
    }

    #[test]
    fn secret_debug_prints_a_mask() {
        let key = test_wrapping_key(9);
        assert_eq!(format!("{key:?}"), "WrappingKey([redacted])");
        let login = LoginKey::from_bytes(&[9u8; 32]).expect("32 bytes");
        assert_eq!(format!("{login:?}"), "LoginKey([redacted])");
    }
}

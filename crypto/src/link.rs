//! Share-link keys: a random link secret carried in the URL fragment, an optional
//! password, and what the server stores for a link (a verifier and the wrapped file key).
//!
//! ```text
//! pw       = Argon2id(password, salt, params)            (absent without a password)
//! prk      = HKDF-Extract(salt = link secret, ikm = pw or the empty string)
//! gate     = HKDF-Expand(HKDF-Extract(salt = link secret, ikm = the empty string),
//!              "data-transfer-cloud/v1/link-gate" || 0x00 || link id, 32)
//! access   = HKDF-Expand(prk, "data-transfer-cloud/v1/link-access"   || 0x00 || link id, 32)
//! wrapping = HKDF-Expand(prk, "data-transfer-cloud/v1/link-wrapping" || 0x00 || link id, 32)
//! verifiers = SHA-256(gate), SHA-256(access)             (what the server stores)
//! wrapped  = 0x01 || nonce || AES-256-GCM(wrapping, file key,
//!              aad = "data-transfer-cloud/v1/link-file-key" || 0x00 || link id || file id)
//! ```
//!
//! The browser proves it has the link secret by sending the gate key, and the
//! password as well by sending the access key. The server compares their SHA-256 with
//! the verifiers. The gate key depends on the secret alone, so the server can turn away
//! a request without the secret before it counts a password failure: only someone who
//! has the whole link can make the password throttle wait. Because the link secret is
//! an HKDF input, the verifiers do not allow an offline password search.
//!
//! The owner keeps a copy of the link secret sealed under the file key, so the link can
//! be shown again later from the sent list:
//!
//! ```text
//! owner key = HKDF-SHA256(salt = empty, ikm = file key,
//!               info = "data-transfer-cloud/v1/link-secret" || 0x00 || link id, 32)
//! sealed    = 0x01 || nonce || AES-256-GCM(owner key, link secret, aad = link id)
//! ```

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::CryptoError;
use crate::exchange::FILE_ID_LEN;
use crate::file::{FILE_KEY_LEN, FileKey};
use crate::password::{self, KdfParams};
use crate::secret::{SecretBytes, masked_debug, wiped_on_drop};

/// A link id: 16 random bytes chosen by the browser, written as 32 lowercase hex digits.
pub const LINK_ID_LEN: usize = 16;
/// The link secret in the URL fragment: 32 random bytes.
pub const LINK_SECRET_LEN: usize = 32;
/// The access key the browser sends to unlock a link: 32 bytes.
pub const ACCESS_KEY_LEN: usize = 32;
/// A wrapped file key or a sealed link secret: version (1) || nonce (12) || 32 || tag (16).
pub const SEALED_LEN: usize = 1 + NONCE_LEN + 32 + TAG_LEN;
/// The version byte of the wrapped file key and the sealed link secret.
pub const SEALED_VERSION: u8 = 0x01;

const GATE_INFO: &[u8] = b"data-transfer-cloud/v1/link-gate";
const ACCESS_INFO: &[u8] = b"data-transfer-cloud/v1/link-access";
const WRAPPING_INFO: &[u8] = b"data-transfer-cloud/v1/link-wrapping";
const FILE_KEY_AAD: &[u8] = b"data-transfer-cloud/v1/link-file-key";
const OWNER_INFO: &[u8] = b"data-transfer-cloud/v1/link-secret";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The secret in a share link's URL fragment. Wiped on drop; `Debug` prints no bytes.
pub struct LinkSecret(SecretBytes<LINK_SECRET_LEN>);
masked_debug!(LinkSecret);
wiped_on_drop!(LinkSecret: SecretBytes<LINK_SECRET_LEN>);

impl LinkSecret {
    /// # Panics
    /// If the system random number generator fails.
    pub fn generate() -> Self {
        LinkSecret(SecretBytes::new(crate::random::bytes::<LINK_SECRET_LEN>()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        SecretBytes::from_slice("link secret", bytes).map(LinkSecret)
    }

    /// Returns the raw secret, for writing it into the URL fragment.
    pub fn expose_secret_bytes(&self) -> &[u8; LINK_SECRET_LEN] {
        self.0.bytes()
    }
}

/// The password of a password-protected link with its Argon2id salt and cost.
#[derive(Clone, Copy)]
pub struct LinkPassword<'a> {
    pub password: &'a str,
    /// 16 random bytes chosen when the link is made.
    pub salt: &'a [u8],
    pub params: KdfParams,
}

impl std::fmt::Debug for LinkPassword<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkPassword")
            .field("password", &"[redacted]")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// A key a browser sends to the server to unlock a link: the gate key or the access key.
pub struct AccessKey(SecretBytes<ACCESS_KEY_LEN>);
masked_debug!(AccessKey);
wiped_on_drop!(AccessKey: SecretBytes<ACCESS_KEY_LEN>);

impl AccessKey {
    /// Parses the 32 bytes a client sent to make or unlock a link.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        SecretBytes::from_slice("link access key", bytes).map(AccessKey)
    }

    pub fn expose_secret_bytes(&self) -> &[u8; ACCESS_KEY_LEN] {
        self.0.bytes()
    }

    /// SHA-256 of the access key: the value the server stores.
    pub fn verifier(&self) -> [u8; 32] {
        Sha256::digest(self.0.bytes()).into()
    }

    /// Compares SHA-256 of this key with a stored verifier in constant time.
    pub fn matches_verifier(&self, stored: &[u8]) -> bool {
        bool::from(self.verifier().as_slice().ct_eq(stored))
    }
}

/// The AES-256-GCM key that wraps the file key for one link. It never leaves the browser.
pub struct LinkWrappingKey(SecretBytes<32>);
masked_debug!(LinkWrappingKey);
wiped_on_drop!(LinkWrappingKey: SecretBytes<32>);

/// The keys derived from a link secret, its link id and the optional password.
#[derive(Debug)]
pub struct LinkKeys {
    /// Proves the link secret alone; the same with and without the password.
    pub gate: AccessKey,
    /// Proves the link secret and the password.
    pub access: AccessKey,
    pub wrapping: LinkWrappingKey,
}
wiped_on_drop!(LinkKeys: AccessKey, LinkWrappingKey);

impl LinkKeys {
    /// Derives the gate, access and wrapping keys (see the module documentation). With
    /// a password this runs Argon2id, which takes about a second in a browser.
    pub fn derive(
        secret: &LinkSecret,
        link_id: &[u8; LINK_ID_LEN],
        password: Option<LinkPassword<'_>>,
    ) -> Result<Self, CryptoError> {
        let stretched = match password {
            Some(password) => {
                password.params.validate()?;
                if password.salt.len() != password::SALT_LEN {
                    return Err(CryptoError::InvalidLength {
                        what: "link password salt",
                        expected: password::SALT_LEN,
                        actual: password.salt.len(),
                    });
                }
                Some(password::argon2id(
                    password.password.as_bytes(),
                    password.salt,
                    password.params,
                )?)
            }
            None => None,
        };
        let ikm: &[u8] = match &stretched {
            Some(key) => key.as_slice(),
            None => &[],
        };
        let mut gate = SecretBytes::zeroed();
        let secret_only = Hkdf::<Sha256>::new(Some(secret.0.bytes()), &[]);
        expand(&secret_only, GATE_INFO, link_id, gate.bytes_mut())?;

        let hkdf = Hkdf::<Sha256>::new(Some(secret.0.bytes()), ikm);
        let mut access = SecretBytes::zeroed();
        let mut wrapping = SecretBytes::zeroed();
        expand(&hkdf, ACCESS_INFO, link_id, access.bytes_mut())?;
        expand(&hkdf, WRAPPING_INFO, link_id, wrapping.bytes_mut())?;
        Ok(LinkKeys {
            gate: AccessKey(gate),
            access: AccessKey(access),
            wrapping: LinkWrappingKey(wrapping),
        })
    }
}

fn expand(
    hkdf: &Hkdf<Sha256>,
    label: &[u8],
    link_id: &[u8; LINK_ID_LEN],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    hkdf.expand_multi_info(&[label, &[0x00], link_id], out)
        .map_err(|_| CryptoError::HkdfOutputTooLong { len: out.len() })
}

fn file_key_aad(link_id: &[u8; LINK_ID_LEN], file_id: &[u8; FILE_ID_LEN]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(FILE_KEY_AAD.len() + 1 + LINK_ID_LEN + FILE_ID_LEN);
    aad.extend_from_slice(FILE_KEY_AAD);
    aad.push(0x00);
    aad.extend_from_slice(link_id);
    aad.extend_from_slice(file_id);
    aad
}

fn seal(key: &[u8; 32], nonce: &[u8; NONCE_LEN], secret: &[u8; 32], aad: &[u8]) -> Vec<u8> {
    let payload = Payload { msg: secret, aad };
    // AES-GCM encryption fails only for inputs over 2^36 bytes; this one is 32 bytes.
    let sealed = Aes256Gcm::new(&(*key).into())
        .encrypt(&Nonce::from(*nonce), payload)
        .expect("AES-256-GCM encryption of 32 bytes");
    let mut out = Vec::with_capacity(SEALED_LEN);
    out.push(SEALED_VERSION);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open(
    what: &'static str,
    key: &[u8; 32],
    sealed: &[u8],
    aad: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
    let Some(&version) = sealed.first() else {
        return Err(CryptoError::InvalidLength {
            what,
            expected: SEALED_LEN,
            actual: 0,
        });
    };
    if version != SEALED_VERSION {
        return Err(CryptoError::UnknownVersion { what, version });
    }
    if sealed.len() != SEALED_LEN {
        return Err(CryptoError::InvalidLength {
            what,
            expected: SEALED_LEN,
            actual: sealed.len(),
        });
    }
    let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    let payload = Payload { msg: body, aad };
    Aes256Gcm::new(&(*key).into())
        .decrypt(&Nonce::from(nonce_bytes), payload)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| CryptoError::LinkUnsealFailed { what })
}

/// Wraps the file key for one link, bound to the link id and the file id (61 bytes).
///
/// # Panics
/// If the system random number generator fails.
pub fn wrap_file_key(
    keys: &LinkKeys,
    link_id: &[u8; LINK_ID_LEN],
    file_id: &[u8; FILE_ID_LEN],
    file_key: &FileKey,
) -> Vec<u8> {
    let nonce = crate::random::bytes::<NONCE_LEN>();
    wrap_file_key_with_nonce(keys, link_id, file_id, file_key, &nonce)
}

/// [`wrap_file_key`] with a caller-chosen nonce, for reproducible test vectors.
pub fn wrap_file_key_with_nonce(
    keys: &LinkKeys,
    link_id: &[u8; LINK_ID_LEN],
    file_id: &[u8; FILE_ID_LEN],
    file_key: &FileKey,
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    seal(
        keys.wrapping.0.bytes(),
        nonce,
        file_key.expose_secret_bytes(),
        &file_key_aad(link_id, file_id),
    )
}

/// Reverses [`wrap_file_key`]. A wrong link secret or password, another link or file
/// id, or modified bytes fail the tag check.
pub fn unwrap_file_key(
    keys: &LinkKeys,
    link_id: &[u8; LINK_ID_LEN],
    file_id: &[u8; FILE_ID_LEN],
    wrapped: &[u8],
) -> Result<FileKey, CryptoError> {
    let key = open(
        "wrapped link file key",
        keys.wrapping.0.bytes(),
        wrapped,
        &file_key_aad(link_id, file_id),
    )?;
    debug_assert_eq!(key.len(), FILE_KEY_LEN);
    FileKey::from_bytes(&key)
}

fn owner_key(file_key: &FileKey, link_id: &[u8; LINK_ID_LEN]) -> SecretBytes<32> {
    let hkdf = Hkdf::<Sha256>::new(None, file_key.expose_secret_bytes());
    let mut key = SecretBytes::zeroed();
    // 32 bytes is within HKDF-SHA256's 8160-byte output limit.
    hkdf.expand_multi_info(&[OWNER_INFO, &[0x00], link_id], key.bytes_mut())
        .expect("HKDF-SHA256 expands to 32 bytes");
    key
}

/// Seals the link secret under the file key so the owner can show the link again (61 bytes).
///
/// # Panics
/// If the system random number generator fails.
pub fn seal_link_secret(
    file_key: &FileKey,
    link_id: &[u8; LINK_ID_LEN],
    secret: &LinkSecret,
) -> Vec<u8> {
    let nonce = crate::random::bytes::<NONCE_LEN>();
    seal_link_secret_with_nonce(file_key, link_id, secret, &nonce)
}

/// [`seal_link_secret`] with a caller-chosen nonce, for reproducible test vectors.
pub fn seal_link_secret_with_nonce(
    file_key: &FileKey,
    link_id: &[u8; LINK_ID_LEN],
    secret: &LinkSecret,
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    seal(
        owner_key(file_key, link_id).bytes(),
        nonce,
        secret.0.bytes(),
        link_id,
    )
}

/// Reverses [`seal_link_secret`].
pub fn open_link_secret(
    file_key: &FileKey,
    link_id: &[u8; LINK_ID_LEN],
    sealed: &[u8],
) -> Result<LinkSecret, CryptoError> {
    let secret = open(
        "sealed link secret",
        owner_key(file_key, link_id).bytes(),
        sealed,
        link_id,
    )?;
    LinkSecret::from_bytes(&secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK_ID: [u8; LINK_ID_LEN] = [0x11; LINK_ID_LEN];
    const FILE_ID: [u8; FILE_ID_LEN] = [0x22; FILE_ID_LEN];

    fn cheap_password(password: &str) -> LinkPassword<'_> {
        LinkPassword {
            password,
            salt: &[0x33; password::SALT_LEN],
            params: KdfParams {
                memory_kib: *KdfParams::MEMORY_KIB.start(),
                iterations: 2,
                parallelism: 1,
            },
        }
    }

    #[test]
    fn file_key_round_trips_without_password() {
        let secret = LinkSecret::generate();
        let keys = LinkKeys::derive(&secret, &LINK_ID, None).expect("valid link inputs");
        let file_key = FileKey::generate();
        let wrapped = wrap_file_key(&keys, &LINK_ID, &FILE_ID, &file_key);
        assert_eq!(wrapped.len(), SEALED_LEN);
        let opened =
            unwrap_file_key(&keys, &LINK_ID, &FILE_ID, &wrapped).expect("the wrapped key opens");
        assert_eq!(opened.expose_secret_bytes(), file_key.expose_secret_bytes());
    }

    #[test]
    fn password_changes_both_keys() {
        let secret = LinkSecret::generate();
        let plain = LinkKeys::derive(&secret, &LINK_ID, None).expect("valid link inputs");
        let right = LinkKeys::derive(&secret, &LINK_ID, Some(cheap_password("right one")))
            .expect("valid link inputs");
        let wrong = LinkKeys::derive(&secret, &LINK_ID, Some(cheap_password("wrong one")))
            .expect("valid link inputs");
        assert!(!right.access.matches_verifier(&plain.access.verifier()));
        assert!(!wrong.access.matches_verifier(&right.access.verifier()));
        assert!(right.access.matches_verifier(&right.access.verifier()));

        let file_key = FileKey::generate();
        let wrapped = wrap_file_key(&right, &LINK_ID, &FILE_ID, &file_key);
        assert_eq!(
            unwrap_file_key(&wrong, &LINK_ID, &FILE_ID, &wrapped).expect_err("the tag check fails"),
            CryptoError::LinkUnsealFailed {
                what: "wrapped link file key"
            }
        );
    }

    #[test]
    fn wrapped_key_is_bound_to_link_and_file() {
        let secret = LinkSecret::generate();
        let keys = LinkKeys::derive(&secret, &LINK_ID, None).expect("valid link inputs");
        let wrapped = wrap_file_key(&keys, &LINK_ID, &FILE_ID, &FileKey::generate());
        assert!(unwrap_file_key(&keys, &[0x12; LINK_ID_LEN], &FILE_ID, &wrapped).is_err());
        assert!(unwrap_file_key(&keys, &LINK_ID, &[0x23; FILE_ID_LEN], &wrapped).is_err());
        let mut flipped = wrapped.clone();
        flipped[20] ^= 1;
        assert!(unwrap_file_key(&keys, &LINK_ID, &FILE_ID, &flipped).is_err());
        let mut versioned = wrapped;
        versioned[0] = 0x02;
        assert_eq!(
            unwrap_file_key(&keys, &LINK_ID, &FILE_ID, &versioned)
                .expect_err("version 2 is rejected"),
            CryptoError::UnknownVersion {
                what: "wrapped link file key",
                version: 0x02
            }
        );
    }

    #[test]
    fn link_secret_round_trips_through_owner_copy() {
        let file_key = FileKey::generate();
        let secret = LinkSecret::generate();
        let sealed = seal_link_secret(&file_key, &LINK_ID, &secret);
        let opened =
            open_link_secret(&file_key, &LINK_ID, &sealed).expect("the sealed secret opens");
        assert_eq!(opened.expose_secret_bytes(), secret.expose_secret_bytes());
        assert!(open_link_secret(&FileKey::generate(), &LINK_ID, &sealed).is_err());
        assert!(open_link_secret(&file_key, &[0; LINK_ID_LEN], &sealed).is_err());
    }

    #[test]
    fn gate_key_ignores_the_password() {
        let secret = LinkSecret::generate();
        let plain = LinkKeys::derive(&secret, &LINK_ID, None).expect("derive without password");
        let right = LinkKeys::derive(&secret, &LINK_ID, Some(cheap_password("right one")))
            .expect("derive with the right password");
        let wrong = LinkKeys::derive(&secret, &LINK_ID, Some(cheap_password("wrong one")))
            .expect("derive with a wrong password");
        assert!(right.gate.matches_verifier(&plain.gate.verifier()));
        assert!(wrong.gate.matches_verifier(&right.gate.verifier()));
        assert!(!plain.gate.matches_verifier(&plain.access.verifier()));

        let other = LinkKeys::derive(&LinkSecret::generate(), &LINK_ID, None)
            .expect("derive with another secret");
        assert!(!other.gate.matches_verifier(&plain.gate.verifier()));
    }

    #[test]
    fn different_link_ids_give_different_keys() {
        let secret = LinkSecret::generate();
        let one = LinkKeys::derive(&secret, &LINK_ID, None).expect("valid link inputs");
        let two = LinkKeys::derive(&secret, &[0x12; LINK_ID_LEN], None).expect("valid link inputs");
        assert!(!one.access.matches_verifier(&two.access.verifier()));
    }
}

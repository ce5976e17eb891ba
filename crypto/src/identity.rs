//! Account identity keys: P-256 key pairs made in the browser.

use std::fmt;

use p256::elliptic_curve::sec1::ToSec1Point;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::secret::wiped_on_drop;

/// Length of a P-256 private scalar (SEC1 section 2.3.6, 32 bytes for a 256-bit order).
pub const SECRET_KEY_LEN: usize = 32;

/// Length of a SEC1 uncompressed P-256 point: 0x04 || X (32) || Y (32) (SEC1 section 2.3.3).
pub const PUBLIC_KEY_LEN: usize = 65;

/// SEC1 section 2.3.3 tag byte of an uncompressed point.
const SEC1_UNCOMPRESSED_TAG: u8 = 0x04;

/// An account's P-256 private key. Wiped on drop; `Debug` prints no key bytes.
pub struct IdentitySecret(p256::SecretKey);
wiped_on_drop!(IdentitySecret: p256::SecretKey);

impl IdentitySecret {
    /// Draws a fresh key from the operating system (the browser's `crypto.getRandomValues`
    /// on wasm32) by rejection sampling, so the scalar is uniform in [1, n).
    ///
    /// # Panics
    /// If the system random number generator fails, which leaves no safe way to go on.
    pub fn generate() -> Self {
        loop {
            let bytes = crate::random::bytes::<SECRET_KEY_LEN>();
            if let Ok(secret) = Self::from_bytes(bytes.as_slice()) {
                return secret;
            }
        }
    }

    /// Parses a 32-byte big-endian scalar; rejects zero and values not below the group order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != SECRET_KEY_LEN {
            return Err(CryptoError::InvalidLength {
                what: "P-256 private key",
                expected: SECRET_KEY_LEN,
                actual: bytes.len(),
            });
        }
        let field_bytes =
            p256::FieldBytes::try_from(bytes).map_err(|_| CryptoError::InvalidSecretKey)?;
        let secret =
            p256::SecretKey::from_bytes(&field_bytes).map_err(|_| CryptoError::InvalidSecretKey)?;
        Ok(IdentitySecret(secret))
    }

    /// The 32-byte private scalar. Only for wrapping the key; never log or send it.
    pub fn expose_secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes().into())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }

    pub(crate) fn as_p256(&self) -> &p256::SecretKey {
        &self.0
    }

    pub(crate) fn into_p256(self) -> p256::SecretKey {
        self.0
    }
}

impl fmt::Debug for IdentitySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentitySecret([redacted])")
    }
}

/// A P-256 public key, held as a valid curve point other than the point at infinity.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(p256::PublicKey);

impl PublicKey {
    /// Parses the 65-byte SEC1 uncompressed form. Rejects every other length, which
    /// excludes the compressed form and the one-byte point at infinity. Also rejects other
    /// tag bytes, coordinates not below the field prime and points not on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != PUBLIC_KEY_LEN {
            return Err(CryptoError::InvalidLength {
                what: "P-256 public key",
                expected: PUBLIC_KEY_LEN,
                actual: bytes.len(),
            });
        }
        if bytes[0] != SEC1_UNCOMPRESSED_TAG {
            return Err(CryptoError::UnsupportedPointEncoding { tag: bytes[0] });
        }
        let key =
            p256::PublicKey::from_sec1_bytes(bytes).map_err(|_| CryptoError::InvalidPublicKey)?;
        Ok(PublicKey(key))
    }

    /// Returns the 65-byte SEC1 uncompressed form.
    pub fn to_sec1(&self) -> [u8; 65] {
        let point = self.0.as_affine().to_sec1_point(false);
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// SHA-256 over the 65-byte SEC1 uncompressed form.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(Sha256::digest(self.to_sec1()).into())
    }

    pub(crate) fn as_p256(&self) -> &p256::PublicKey {
        &self.0
    }

    pub(crate) fn from_p256(key: p256::PublicKey) -> Self {
        PublicKey(key)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        for byte in self.to_sec1() {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// SHA-256 over the SEC1 uncompressed public key; `Display` prints the form people read aloud.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Fingerprint(pub [u8; 32]);

/// Groups in the display form: 8 groups of 5 decimal digits, one per 4 hash bytes.
const FINGERPRINT_GROUPS: usize = 8;

/// Each group is a big-endian u32 reduced modulo 10^5, so it prints as 5 digits.
const FINGERPRINT_GROUP_MODULUS: u32 = 100_000;

impl fmt::Display for Fingerprint {
    /// Prints 8 space-separated groups; group i is the big-endian u32 of hash bytes
    /// [4i, 4i + 4) modulo 100000, zero-padded to 5 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, word) in self.0.chunks_exact(4).take(FINGERPRINT_GROUPS).enumerate() {
            let value = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{:05}", value % FINGERPRINT_GROUP_MODULUS)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The P-256 generator G in SEC1 uncompressed form (SEC 2 section 2.4.2).
    const GENERATOR: &str = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("valid hex"))
            .collect()
    }

    #[test]
    fn sec1_round_trips() {
        let bytes = hex(GENERATOR);
        let key = PublicKey::from_sec1(&bytes).expect("the generator is on the curve");
        assert_eq!(key.to_sec1().as_slice(), bytes.as_slice());
    }

    #[test]
    fn scalar_one_gives_the_generator() {
        let mut one = [0u8; 32];
        one[31] = 1;
        let secret = IdentitySecret::from_bytes(&one).expect("1 is a valid scalar");
        assert_eq!(
            secret.public_key().to_sec1().as_slice(),
            hex(GENERATOR).as_slice()
        );
        assert_eq!(*secret.expose_secret_bytes(), one);
    }

    #[test]
    fn generated_keys_differ_and_round_trip() {
        let a = IdentitySecret::generate();
        let b = IdentitySecret::generate();
        assert_ne!(a.public_key(), b.public_key());
        let again = IdentitySecret::from_bytes(a.expose_secret_bytes().as_slice()).expect("valid");
        assert_eq!(again.public_key(), a.public_key());
    }

    #[test]
    fn fingerprint_is_sha256_of_sec1() {
        let key = PublicKey::from_sec1(&hex(GENERATOR)).expect("valid");
        let expected: [u8; 32] = Sha256::digest(hex(GENERATOR)).into();
        assert_eq!(key.fingerprint().0, expected);
    }

    #[test]
    fn fingerprint_display_groups_words_modulo_100000() {
        let mut hash = [0u8; 32];
        hash[0..4].copy_from_slice(&0u32.to_be_bytes());
        hash[4..8].copy_from_slice(&7u32.to_be_bytes());
        hash[8..12].copy_from_slice(&99_999u32.to_be_bytes());
        hash[12..16].copy_from_slice(&100_000u32.to_be_bytes());
        hash[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        hash[20..24].copy_from_slice(&123_456u32.to_be_bytes());
        hash[24..28].copy_from_slice(&1_000_001u32.to_be_bytes());
        hash[28..32].copy_from_slice(&54_321u32.to_be_bytes());
        let text = Fingerprint(hash).to_string();
        // u32::MAX = 4294967295, so its group is 67295.
        assert_eq!(text, "00000 00007 99999 00000 67295 23456 00001 54321");
    }

    #[test]
    fn public_key_of_wrong_length_is_error_not_panic() {
        let g = hex(GENERATOR);
        for len in [0, 1, 33, 64, 66, 200] {
            let mut bytes = g.clone();
            bytes.resize(len, 0);
            assert_eq!(
                PublicKey::from_sec1(&bytes),
                Err(CryptoError::InvalidLength {
                    what: "P-256 public key",
                    expected: 65,
                    actual: len
                })
            );
        }
    }

    #[test]
    fn compressed_and_infinity_points_are_rejected() {
        let g = hex(GENERATOR);
        let mut compressed = vec![0x03];
        compressed.extend_from_slice(&g[1..33]);
        assert!(PublicKey::from_sec1(&compressed).is_err());
        assert!(PublicKey::from_sec1(&[0x00]).is_err());
        let mut tagged = g.clone();
        tagged[0] = 0x06;
        assert_eq!(
            PublicKey::from_sec1(&tagged),
            Err(CryptoError::UnsupportedPointEncoding { tag: 0x06 })
        );
    }

    #[test]
    fn point_off_the_curve_is_error_not_panic() {
        let mut bytes = hex(GENERATOR);
        bytes[64] ^= 1;
        assert_eq!(
            PublicKey::from_sec1(&bytes),
            Err(CryptoError::InvalidPublicKey)
        );
        let mut zeros = [0u8; 65];
        zeros[0] = 0x04;
        assert_eq!(
            PublicKey::from_sec1(&zeros),
            Err(CryptoError::InvalidPublicKey)
        );
        let mut big = [0xffu8; 65];
        big[0] = 0x04;
        assert_eq!(
            PublicKey::from_sec1(&big),
            Err(CryptoError::InvalidPublicKey)
        );
    }

    #[test]
    fn garbage_public_key_is_error_not_panic() {
        let mut state = 0x9e37_79b9_u32;
        for _ in 0..200 {
            let mut bytes = [0u8; 65];
            for byte in bytes.iter_mut() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *byte = (state >> 24) as u8;
            }
            bytes[0] = 0x04;
            // A random X and Y are on the curve with negligible probability.
            assert_eq!(
                PublicKey::from_sec1(&bytes),
                Err(CryptoError::InvalidPublicKey)
            );
        }
    }

    #[test]
    fn private_key_out_of_range_is_error_not_panic() {
        assert_eq!(
            IdentitySecret::from_bytes(&[0u8; 32]).err(),
            Some(CryptoError::InvalidSecretKey)
        );
        assert_eq!(
            IdentitySecret::from_bytes(&[0xffu8; 32]).err(),
            Some(CryptoError::InvalidSecretKey)
        );
        assert!(matches!(
            IdentitySecret::from_bytes(&[1u8; 31]),
            Err(CryptoError::InvalidLength { actual: 31, .. })
        ));
    }

    #[test]
    fn secret_debug_prints_a_mask() {
        let secret = IdentitySecret::generate();
        assert_eq!(format!("{secret:?}"), "IdentitySecret([redacted])");
    }
}

//! Known-answer tests that pin the version 1 wire format. The expected bytes were computed
//! independently with Python's `hmac`, `hashlib` and the `cryptography` package (Argon2id,
//! AES-GCM) from the definitions in docs/format.md, not by this crate.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::hex;
use dtc_crypto::CryptoError;
use dtc_crypto::file::{ContentsDecryptor, ContentsEncryptor, FileKey, decrypt_metadata};
use dtc_crypto::identity::PublicKey;
use dtc_crypto::layout::PartLayout;
use dtc_crypto::metadata::FileMetadata;
use dtc_crypto::password::{KdfParams, PasswordKeys, unwrap_identity};

const FILE_KEY: [u8; 32] = [0x01; 32];
const SALT: [u8; 24] = [0x5a; 24];

/// The P-256 generator G, SEC1 uncompressed.
const GENERATOR: &str = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

/// The lowest accepted Argon2id cost, so the test stays fast in debug builds.
const FLOOR: KdfParams = KdfParams {
    memory_kib: 19456,
    iterations: 2,
    parallelism: 1,
};

const LOGIN_KEY: &str = "cb75e7e7f543ba0f74ba5b82484049457399b81b393c799ce45439d560ad5d0c";
const LOGIN_VERIFIER: &str = "0fcd6079a6502829a995d1bd9f5e24d75091823ccb11a47c8da3c66258720a01";
const WRAPPING_KEY: &str = "903cad62beac215f274c5a0a117a0bf4bca415c4f94e961e331381056176fc40";
/// Scalar 0x05 × 32 wrapped for "alice" with nonce 0x07 × 12 under WRAPPING_KEY.
const WRAPPED_IDENTITY: &str = "0107070707070707070707070774bff67ee2a5d1e4b5b95c41cc6cf4a5af17fc87f0f037dbea738e087fe6a287c235209eac99dfc703e1256169a309bf";
const CONTENTS_EMPTY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a93a90cbef1f2196d457f492dc3c0caa67bb3891f700093475dc1f75e720dcd5c4a9d2ca1eccb9dcd0e0fc68061a471fa";
const CONTENTS_HELLO: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a93a90cbef1f2196d457f492dc3c0caa67bb3891f700093475dc1f75e720dcd5c8b4f652025ea9e456cc4e55295b967def75db037bf";
const METADATA_PLAINTEXT: &str =
    "010005612e74787400000000000001020a746578742f706c61696e0000018bcfe5687b";
const METADATA_MESSAGE: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5ace08d354de04957d0798f6a5fe654e210ce5e65929bde3c6504ac21260e3e6102213b4e0bfc1633cd8a85fd9886026c3cff51dab0ed12f65983771949f9e3484821ebd77dc5ac8ed677d05fa7fb3c99049a2c5";

fn file_key() -> FileKey {
    FileKey::from_bytes(&FILE_KEY).expect("32 bytes")
}

fn sample_metadata() -> FileMetadata {
    FileMetadata {
        name: "a.txt".to_owned(),
        size: 258,
        media_type: "text/plain".to_owned(),
        modified_ms: 1_700_000_000_123,
    }
}

#[test]
fn fingerprint_of_generator_is_pinned() {
    let key = PublicKey::from_sec1(&hex(GENERATOR)).expect("G is on the curve");
    let fingerprint = key.fingerprint();
    assert_eq!(
        fingerprint.0.to_vec(),
        hex("698bea63dc44a344663ff1429aea10842df27b6b991ef25866b2c6c02cdcc5be")
    );
    assert_eq!(
        fingerprint.to_string(),
        "77187 85764 66562 30916 66027 42168 92320 66046"
    );
}

#[test]
fn password_keys_and_wrapped_identity_are_pinned() {
    let keys = PasswordKeys::derive("correct horse battery staple", b"0123456789abcdef", FLOOR)
        .expect("valid inputs");
    assert_eq!(keys.login.expose_secret_bytes().to_vec(), hex(LOGIN_KEY));
    assert_eq!(keys.login.verifier().to_vec(), hex(LOGIN_VERIFIER));
    assert_eq!(
        keys.wrapping.expose_secret_bytes().to_vec(),
        hex(WRAPPING_KEY)
    );

    let identity = unwrap_identity(&keys.wrapping, &hex(WRAPPED_IDENTITY), "alice")
        .expect("pinned record opens");
    assert_eq!(*identity.expose_secret_bytes(), [0x05; 32]);
    assert_eq!(
        unwrap_identity(&keys.wrapping, &hex(WRAPPED_IDENTITY), "bob").err(),
        Some(CryptoError::UnwrapFailed)
    );
}

#[test]
fn contents_messages_are_pinned() {
    for (plaintext, expected) in [(&b""[..], CONTENTS_EMPTY), (&b"hello"[..], CONTENTS_HELLO)] {
        let layout = PartLayout::for_plaintext_len(plaintext.len() as u64).expect("short length");
        let encryptor =
            ContentsEncryptor::new(&file_key(), &SALT, layout).expect("valid key and salt");
        let part = encryptor
            .encrypt_part(0, plaintext)
            .expect("whole plaintext");
        assert_eq!(part, hex(expected), "plaintext {plaintext:?}");

        let pinned = hex(expected);
        assert_eq!(
            PartLayout::from_ciphertext_len(pinned.len() as u64),
            Ok(layout)
        );
        let decryptor =
            ContentsDecryptor::new(&file_key(), &pinned[..56], layout).expect("commitment matches");
        assert_eq!(
            decryptor.decrypt_part(0, &pinned).expect("authentic"),
            plaintext
        );
    }
}

#[test]
fn metadata_encoding_and_message_are_pinned() {
    assert_eq!(sample_metadata().encode(), Ok(hex(METADATA_PLAINTEXT)));
    assert_eq!(
        decrypt_metadata(&file_key(), &hex(METADATA_MESSAGE)),
        Ok(sample_metadata())
    );
}

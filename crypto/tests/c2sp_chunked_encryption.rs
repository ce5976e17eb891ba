//! The C2SP chunked-encryption vectors for Cobblestone-256 (c2sp_chunked_encryption_schema),
//! applied to whole-message decryption, salt-injected encryption, raw mode, final-chunk
//! length authentication and the valid prefix of partially valid messages.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{Expected, WycheproofFile, hex};
use dtc_crypto::CryptoError;
use dtc_crypto::chunked::{self, ENCRYPTED_CHUNK_LEN, HEADER_LEN, MessageKeys};
use serde::Deserialize;
use sha2::{Digest, Sha512};

const VECTORS: &str =
    include_str!("vectors/published/c2sp_chunked_encryption_aes_256_gcm_test.json");

#[derive(Deserialize)]
struct Group {
    aead: String,
    sha: String,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u32,
    key: String,
    ctx: String,
    ct: String,
    aead_key: Option<String>,
    base_nonce: Option<String>,
    msg_length: Option<usize>,
    msg_sha512: Option<String>,
    result: Expected,
    flags: Vec<String>,
}

impl Case {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn ciphertext(&self) -> Vec<u8> {
        miniz_oxide::inflate::decompress_to_vec_zlib(&hex(&self.ct))
            .expect("valid zlib stream in a vector file")
    }

    fn check_message(&self, message: &[u8], what: &str) {
        let length = self.msg_length.expect("msgLength on this vector");
        assert_eq!(message.len(), length, "tcId {} {what} length", self.tc_id);
        let digest = Sha512::digest(message);
        assert_eq!(
            digest.as_slice(),
            hex(self.msg_sha512.as_deref().expect("msgSha512")),
            "tcId {} {what} SHA-512",
            self.tc_id
        );
    }

    fn raw_keys(&self) -> Option<MessageKeys> {
        let (key, nonce) = (self.aead_key.as_deref()?, self.base_nonce.as_deref()?);
        Some(
            MessageKeys::from_raw(&hex(key), &hex(nonce))
                .expect("raw key and nonce of valid lengths"),
        )
    }
}

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    invalid: usize,
    invalid_key_size: usize,
    raw_mode: usize,
    final_chunk_checked: usize,
    prefix_checked: usize,
}

fn run_valid(case: &Case, counts: &mut Counts) {
    let (key, context, ciphertext) = (hex(&case.key), hex(&case.ctx), case.ciphertext());
    let message = chunked::decrypt(&key, &context, &ciphertext)
        .unwrap_or_else(|error| panic!("tcId {} must decrypt: {error}", case.tc_id));
    case.check_message(&message, "decrypted");

    let salt = &ciphertext[..24];
    let again = chunked::encrypt_with_salt(&key, salt, &context, &message).expect("valid inputs");
    assert!(
        again == ciphertext,
        "tcId {}: encryption with the vector's salt differs",
        case.tc_id
    );

    let keys = case
        .raw_keys()
        .expect("aeadKey and baseNonce on valid vectors");
    let body = &ciphertext[HEADER_LEN as usize..];
    assert!(
        keys.decrypt_chunks(body).expect("raw body decrypts") == message,
        "tcId {} raw decrypt",
        case.tc_id
    );
    let aead_key = hex(case.aead_key.as_deref().expect("aeadKey"));
    let base_nonce = hex(case.base_nonce.as_deref().expect("baseNonce"));
    let raw = chunked::encrypt_raw(&aead_key, &base_nonce, &message).expect("valid raw inputs");
    assert!(raw == body, "tcId {} raw encrypt", case.tc_id);
    let raw_plain = chunked::decrypt_raw(&aead_key, &base_nonce, body).expect("raw body decrypts");
    assert!(raw_plain == message, "tcId {} decrypt_raw", case.tc_id);
    counts.raw_mode += 1;
    check_final_chunk(case, body, counts);
    counts.valid += 1;
}

fn run_invalid(case: &Case, counts: &mut Counts) {
    let (key, context, ciphertext) = (hex(&case.key), hex(&case.ctx), case.ciphertext());
    let result = chunked::decrypt(&key, &context, &ciphertext);
    assert!(result.is_err(), "tcId {} must fail to decrypt", case.tc_id);

    if case.has("InvalidKeySize") {
        let error = chunked::MessageKeys::derive(&key, &[0u8; 24], &context).err();
        assert!(
            matches!(error, Some(CryptoError::InvalidLength { expected: 32, .. })),
            "tcId {}: a {}-byte key must be rejected, got {error:?}",
            case.tc_id,
            key.len()
        );
        assert!(matches!(
            result,
            Err(CryptoError::InvalidLength { expected: 32, .. })
        ));
        counts.invalid_key_size += 1;
    }
    if case.has("HeaderFailure") {
        assert!(
            chunked::open_header(&key, &context, &ciphertext).is_err(),
            "tcId {} must fail in the header",
            case.tc_id
        );
    } else {
        assert!(
            chunked::open_header(&key, &context, &ciphertext).is_ok(),
            "tcId {} header is valid",
            case.tc_id
        );
        let keys = case
            .raw_keys()
            .expect("aeadKey and baseNonce without HeaderFailure");
        let body = &ciphertext[HEADER_LEN as usize..];
        assert!(
            keys.decrypt_chunks(body).is_err(),
            "tcId {} raw decrypt must fail",
            case.tc_id
        );
        counts.raw_mode += 1;
        check_final_chunk(case, body, counts);
        check_valid_prefix(case, &keys, body, counts);
    }
    counts.invalid += 1;
}

/// Length authentication by decrypting only the final chunk at its computed offset: must
/// succeed for valid vectors and for invalid ones flagged ValidFinalChunk, fail otherwise.
fn check_final_chunk(case: &Case, body: &[u8], counts: &mut Counts) {
    let keys = case.raw_keys().expect("raw keys");
    let expect_ok = case.result == Expected::Valid || case.has("ValidFinalChunk");
    let outcome = match chunked::body_chunk_count(body.len() as u64) {
        Err(_) => false,
        Ok(count) => {
            let offset = ((count - 1) * ENCRYPTED_CHUNK_LEN) as usize;
            keys.decrypt_chunk(count - 1, &body[offset..], &mut Vec::new())
                .is_ok()
        }
    };
    assert_eq!(
        outcome, expect_ok,
        "tcId {} final-chunk authentication",
        case.tc_id
    );
    counts.final_chunk_checked += 1;
}

/// For PartialPlaintext vectors, the leading full chunks that msgLength covers decrypt
/// to exactly the stated prefix.
fn check_valid_prefix(case: &Case, keys: &MessageKeys, body: &[u8], counts: &mut Counts) {
    if !case.has("PartialPlaintext") {
        return;
    }
    let length = case.msg_length.expect("msgLength on PartialPlaintext");
    assert_eq!(
        length % 16384,
        0,
        "tcId {}: prefix of whole chunks",
        case.tc_id
    );
    let mut prefix = Vec::new();
    for (index, chunk) in body
        .chunks(ENCRYPTED_CHUNK_LEN as usize)
        .take(length / 16384)
        .enumerate()
    {
        keys.decrypt_chunk(index as u64, chunk, &mut prefix)
            .unwrap_or_else(|error| panic!("tcId {} prefix chunk {index}: {error}", case.tc_id));
    }
    case.check_message(&prefix, "valid prefix");
    counts.prefix_checked += 1;
}

#[test]
fn cobblestone_256_matches_c2sp_vectors() {
    let file: WycheproofFile<Group> = serde_json::from_str(VECTORS).expect("valid vector file");
    assert_eq!(file.algorithm, "Cobblestone-256");
    let mut counts = Counts::default();
    for group in &file.test_groups {
        assert_eq!(
            (group.aead.as_str(), group.sha.as_str()),
            ("AEAD_AES_256_GCM", "SHA-512")
        );
        for case in &group.tests {
            match case.result {
                Expected::Valid => run_valid(case, &mut counts),
                Expected::Invalid => run_invalid(case, &mut counts),
                Expected::Acceptable => panic!("tcId {}: no acceptable cases expected", case.tc_id),
            }
        }
    }
    assert_eq!(counts.valid + counts.invalid, file.number_of_tests);
    assert_eq!((counts.valid, counts.invalid), (10, 25), "{counts:?}");
    assert_eq!(counts.invalid_key_size, 2, "{counts:?}");
    assert_eq!(counts.raw_mode, counts.final_chunk_checked, "{counts:?}");
    assert!(counts.prefix_checked > 0, "{counts:?}");
    report!("c2sp chunked aes-256-gcm: {counts:?}");
}

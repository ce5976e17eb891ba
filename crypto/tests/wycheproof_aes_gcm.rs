//! Wycheproof AES-GCM vectors (aead_test_schema_v1), groups with 256-bit keys and 96-bit
//! IVs: the AES-256-GCM that chunked encryption, the wrapped identity key and HPKE use.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use common::{Expected, WycheproofFile, hex};
use dtc_crypto::CryptoError;
use dtc_crypto::chunked::MessageKeys;
use serde::Deserialize;

const VECTORS: &str = include_str!("vectors/published/aes_gcm_test.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    iv_size: usize,
    key_size: usize,
    tag_size: usize,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u32,
    key: String,
    iv: String,
    aad: String,
    msg: String,
    ct: String,
    tag: String,
    result: Expected,
}

#[test]
fn aes_256_gcm_matches_wycheproof() {
    let file: WycheproofFile<Group> = serde_json::from_str(VECTORS).expect("valid vector file");
    assert_eq!(file.algorithm, "AES-GCM");
    assert_eq!(file.number_of_tests, 316);
    let (mut valid, mut invalid, mut through_chunks) = (0, 0, 0);

    for group in file
        .test_groups
        .iter()
        .filter(|g| g.key_size == 256 && g.iv_size == 96)
    {
        assert_eq!(group.tag_size, 128);
        for case in &group.tests {
            let (key, iv, aad, msg) = (
                hex(&case.key),
                hex(&case.iv),
                hex(&case.aad),
                hex(&case.msg),
            );
            let mut sealed = hex(&case.ct);
            sealed.extend_from_slice(&hex(&case.tag));
            let cipher = Aes256Gcm::new_from_slice(&key).expect("32-byte key");
            let nonce = Nonce::from(<[u8; 12]>::try_from(iv.as_slice()).expect("96-bit IV"));
            let opened = cipher.decrypt(
                &nonce,
                Payload {
                    msg: &sealed,
                    aad: &aad,
                },
            );

            // Chunk 0 of a raw-mode chunked message is plain AES-256-GCM under the base
            // nonce with empty AAD, so those cases also run through this crate's own path.
            let chunk_keys = MessageKeys::from_raw(&key, &iv).expect("valid lengths");
            let runs_as_chunk = aad.is_empty() && msg.len() <= 16384;
            let mut chunk_out = Vec::new();
            let chunk_result = chunk_keys.decrypt_chunk(0, &sealed, &mut chunk_out);

            match case.result {
                Expected::Valid => {
                    valid += 1;
                    assert_eq!(
                        opened.as_ref().ok(),
                        Some(&msg),
                        "tcId {} decrypt",
                        case.tc_id
                    );
                    let encrypted = cipher.encrypt(
                        &nonce,
                        Payload {
                            msg: &msg,
                            aad: &aad,
                        },
                    );
                    assert_eq!(
                        encrypted.ok(),
                        Some(sealed.clone()),
                        "tcId {} encrypt",
                        case.tc_id
                    );
                    if runs_as_chunk {
                        through_chunks += 1;
                        assert_eq!(chunk_result, Ok(()), "tcId {} chunk decrypt", case.tc_id);
                        assert_eq!(chunk_out, msg, "tcId {} chunk plaintext", case.tc_id);
                        let mut encrypted = Vec::new();
                        chunk_keys
                            .encrypt_chunk(0, &msg, &mut encrypted)
                            .expect("short chunk");
                        assert_eq!(encrypted, sealed, "tcId {} chunk encrypt", case.tc_id);
                    }
                }
                Expected::Invalid => {
                    invalid += 1;
                    assert!(opened.is_err(), "tcId {} must fail", case.tc_id);
                    if runs_as_chunk {
                        through_chunks += 1;
                        assert_eq!(
                            chunk_result,
                            Err(CryptoError::ChunkAuthenticationFailed { index: 0 }),
                            "tcId {} chunk must fail",
                            case.tc_id
                        );
                        assert!(chunk_out.is_empty());
                    }
                }
                Expected::Acceptable => {
                    panic!("tcId {}: no acceptable AES-GCM cases expected", case.tc_id)
                }
            }
        }
    }
    assert_eq!(
        (valid, invalid),
        (39, 27),
        "AES-256-GCM cases run (valid, invalid)"
    );
    assert!(through_chunks > 0, "no case ran through the chunk path");
    report!(
        "wycheproof aes-256-gcm: {valid} valid, {invalid} invalid, {through_chunks} also as chunk 0"
    );
}

//! Wycheproof ECDH secp256r1 vectors with SEC1 public points (ecdh_ecpoint_test_schema_v1):
//! public-key parsing and the DH function of DHKEM(P-256).

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{Expected, WycheproofFile, hex};
use dtc_crypto::hpke::PrivateKey;
use dtc_crypto::identity::PublicKey;
use serde::Deserialize;

const VECTORS: &str = include_str!("vectors/published/ecdh_secp256r1_ecpoint_test.json");

#[derive(Deserialize)]
struct Group {
    curve: String,
    encoding: String,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u32,
    public: String,
    private: String,
    shared: String,
    result: Expected,
}

/// Converts a Wycheproof private key to the fixed 32-byte form. Wycheproof writes it as a
/// big-endian integer that may carry a leading zero byte or be shorter than 32 bytes.
fn private_scalar(text: &str) -> Vec<u8> {
    let bytes = hex(text);
    let digits: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    assert!(
        digits.len() <= 32,
        "private key wider than 256 bits: {text}"
    );
    let mut out = vec![0u8; 32 - digits.len()];
    out.extend_from_slice(&digits);
    out
}

/// Parses the public point with this crate's rules and runs DH; None if either step fails.
fn shared_secret(case: &Case) -> Option<Vec<u8>> {
    let private =
        PrivateKey::from_bytes(&private_scalar(&case.private)).expect("valid private scalar");
    let public = PublicKey::from_sec1(&hex(&case.public)).ok()?;
    Some(private.diffie_hellman(&public).to_vec())
}

#[test]
fn ecdh_p256_matches_wycheproof() {
    let file: WycheproofFile<Group> = serde_json::from_str(VECTORS).expect("valid vector file");
    assert_eq!(file.algorithm, "ECDH");
    let (mut valid, mut invalid, mut acceptable_rejected, mut acceptable_accepted) = (0, 0, 0, 0);

    for group in &file.test_groups {
        assert_eq!(
            (group.curve.as_str(), group.encoding.as_str()),
            ("secp256r1", "ecpoint")
        );
        for case in &group.tests {
            let result = shared_secret(case);
            match case.result {
                Expected::Valid => {
                    valid += 1;
                    assert_eq!(result, Some(hex(&case.shared)), "tcId {}", case.tc_id);
                }
                Expected::Invalid => {
                    invalid += 1;
                    assert_eq!(result, None, "tcId {} must be rejected", case.tc_id);
                }
                // Acceptable cases (here a compressed point) may be rejected, as this crate
                // reads only the uncompressed form; if accepted, the secret must be right.
                Expected::Acceptable => match result {
                    None => acceptable_rejected += 1,
                    Some(shared) => {
                        acceptable_accepted += 1;
                        assert_eq!(shared, hex(&case.shared), "tcId {}", case.tc_id);
                    }
                },
            }
        }
    }
    let total = valid + invalid + acceptable_rejected + acceptable_accepted;
    assert_eq!(total, file.number_of_tests);
    assert_eq!(
        (valid, invalid, acceptable_rejected + acceptable_accepted),
        (330, 24, 1)
    );
    assert_eq!(
        acceptable_rejected, 1,
        "the compressed point must be rejected"
    );
    report!(
        "wycheproof ecdh secp256r1: {valid} valid, {invalid} invalid, {acceptable_rejected} acceptable rejected"
    );
}

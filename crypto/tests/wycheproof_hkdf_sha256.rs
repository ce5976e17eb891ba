//! Wycheproof HKDF-SHA256 vectors (hkdf_test_schema_v1): the `hkdf` crate used by the
//! password keys and HPKE, and this crate's own HKDF-Expand used by chunked encryption.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::{Expected, WycheproofFile, hex};
use dtc_crypto::kdf::hkdf_expand;
use hkdf::Hkdf;
use serde::Deserialize;
use sha2::Sha256;

const VECTORS: &str = include_str!("vectors/published/hkdf_sha256_test.json");

#[derive(Deserialize)]
struct Group {
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u32,
    ikm: String,
    salt: String,
    info: String,
    size: usize,
    okm: String,
    result: Expected,
}

#[test]
fn hkdf_sha256_matches_wycheproof() {
    let file: WycheproofFile<Group> = serde_json::from_str(VECTORS).expect("valid vector file");
    assert_eq!(file.algorithm, "HKDF-SHA-256");
    let (mut valid, mut invalid) = (0, 0);

    for case in file.test_groups.iter().flat_map(|g| &g.tests) {
        let (ikm, salt, info) = (hex(&case.ikm), hex(&case.salt), hex(&case.info));
        let (prk, hkdf) = Hkdf::<Sha256>::extract(Some(&salt), &ikm);
        let mut from_crate = vec![0u8; case.size];
        let crate_result = hkdf.expand(&info, &mut from_crate);
        let mut from_own = vec![0u8; case.size];
        let own_result = hkdf_expand::<Sha256>(&prk, &[&info], &mut from_own);

        match case.result {
            Expected::Valid => {
                valid += 1;
                assert!(crate_result.is_ok(), "tcId {} hkdf crate", case.tc_id);
                assert_eq!(from_crate, hex(&case.okm), "tcId {} hkdf crate", case.tc_id);
                assert!(own_result.is_ok(), "tcId {} own expand", case.tc_id);
                assert_eq!(from_own, hex(&case.okm), "tcId {} own expand", case.tc_id);
            }
            Expected::Invalid => {
                invalid += 1;
                assert!(
                    crate_result.is_err(),
                    "tcId {} hkdf crate must fail",
                    case.tc_id
                );
                assert!(
                    own_result.is_err(),
                    "tcId {} own expand must fail",
                    case.tc_id
                );
            }
            Expected::Acceptable => {
                panic!("tcId {}: no acceptable HKDF cases expected", case.tc_id)
            }
        }
    }
    assert_eq!(valid + invalid, file.number_of_tests);
    assert_eq!((valid, invalid), (83, 3));
    report!("wycheproof hkdf-sha256: {valid} valid, {invalid} invalid");
}

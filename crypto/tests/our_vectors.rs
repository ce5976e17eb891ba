//! Known-answer vectors of this product's own formats (`tests/vectors/ours/*.json`).
//!
//! The crate recomputes each case from the inputs in its file, and the result must match
//! the committed outputs byte for byte. Then the decoder must accept the committed bytes. The
//! files are never rewritten by a test: `tests/vectors/ours/README.md` says how they were
//! made.

mod common;
mod ours;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use ours::links::LinkCase;
use ours::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses a vector file, recomputes every case and compares, then runs `decode` on each.
/// Returns the number of cases.
fn check_file<C: Serialize + DeserializeOwned>(
    file: &str,
    text: &str,
    recompute: impl Fn(&C) -> C,
    decode: impl Fn(&C),
) -> usize {
    let vectors: VectorFile<C> = serde_json::from_str(text).expect("valid vector file");
    assert_eq!(
        format!("{}.json", vectors.form),
        file,
        "form name of {file}"
    );
    assert!(!vectors.cases.is_empty(), "{file} has no cases");
    for (index, case) in vectors.cases.iter().enumerate() {
        let pinned = serde_json::to_value(case).expect("serializable case");
        let computed = serde_json::to_value(recompute(case)).expect("serializable case");
        if let Some(path) = first_difference(&pinned, &computed, String::new()) {
            panic!("{file} case {index}: the crate's output differs at {path}");
        }
        decode(case);
    }
    report!("{file}: {} cases passed", vectors.cases.len());
    vectors.cases.len()
}

/// Returns the JSON path of the first value that differs, or `None` if both are equal.
fn first_difference(pinned: &Value, computed: &Value, path: String) -> Option<String> {
    match (pinned, computed) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter()
                .find_map(|key| match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => first_difference(x, y, format!("{path}.{key}")),
                    (Some(_), None) => Some(format!("{path}.{key}: not computed")),
                    (None, _) => Some(format!("{path}.{key}: not in the file")),
                })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, format!("{path}[{i}]"))),
        _ if pinned == computed => None,
        _ => Some(format!("{path}: pinned {pinned}, computed {computed}")),
    }
}

#[test]
fn public_keys_match() {
    let cases = check_file(
        "public_keys.json",
        include_str!("vectors/ours/public_keys.json"),
        PublicKeyCase::recompute,
        PublicKeyCase::check_decode,
    );
    assert_eq!(cases, 5);
}

#[test]
fn password_keys_match() {
    let cases = check_file(
        "password_keys.json",
        include_str!("vectors/ours/password_keys.json"),
        PasswordKeysCase::recompute,
        |_| {},
    );
    assert_eq!(cases, 3);
}

#[test]
fn decoy_salts_match() {
    let cases = check_file(
        "decoy_salt.json",
        include_str!("vectors/ours/decoy_salt.json"),
        DecoySaltCase::recompute,
        |_| {},
    );
    assert_eq!(cases, 2);
}

#[test]
fn wrapped_identities_match() {
    let cases = check_file(
        "wrapped_identity.json",
        include_str!("vectors/ours/wrapped_identity.json"),
        WrappedIdentityCase::recompute,
        WrappedIdentityCase::check_decode,
    );
    assert_eq!(cases, 2);
}

#[test]
fn contents_messages_match() {
    let cases = check_file(
        "contents.json",
        include_str!("vectors/ours/contents.json"),
        ContentsCase::recompute,
        ContentsCase::check_decode,
    );
    assert_eq!(cases, 8);
}

#[test]
fn contents_parts_match() {
    let cases = check_file(
        "contents_parts.json",
        include_str!("vectors/ours/contents_parts.json"),
        ContentsPartsCase::recompute,
        |case: &ContentsPartsCase| {
            let parts = case.pinned_parts();
            let layout = dtc_crypto::layout::PartLayout::from_ciphertext_len(case.ciphertext_len)
                .expect("valid length");
            let decryptor = dtc_crypto::file::ContentsDecryptor::new(
                &case.key(),
                &from_hex(&case.header),
                layout,
            )
            .expect("commitment matches");
            let mut plaintext = Vec::new();
            for (index, part) in parts.iter().enumerate() {
                plaintext.extend(
                    decryptor
                        .decrypt_part(index as u32, part)
                        .expect("authentic"),
                );
            }
            assert!(plaintext == pattern(case.plaintext_len), "{}", case.name);
        },
    );
    assert_eq!(cases, 4);
}

#[test]
fn layouts_match() {
    let cases = check_file(
        "layout.json",
        include_str!("vectors/ours/layout.json"),
        LayoutCase::recompute,
        LayoutCase::check_decode,
    );
    assert_eq!(cases, 11);
}

#[test]
fn metadata_plaintexts_match() {
    let cases = check_file(
        "metadata_plaintext.json",
        include_str!("vectors/ours/metadata_plaintext.json"),
        MetadataPlaintextCase::recompute,
        MetadataPlaintextCase::check_decode,
    );
    assert_eq!(cases, 4);
}

#[test]
fn metadata_messages_match() {
    let cases = check_file(
        "metadata_message.json",
        include_str!("vectors/ours/metadata_message.json"),
        MetadataMessageCase::recompute,
        MetadataMessageCase::check_decode,
    );
    assert_eq!(cases, 2);
}

#[test]
fn key_exchange_records_match() {
    let cases = check_file(
        "key_exchange.json",
        include_str!("vectors/ours/key_exchange.json"),
        KeyExchangeCase::recompute,
        KeyExchangeCase::check_decode,
    );
    assert_eq!(cases, 2);
}

#[test]
fn file_ids_match() {
    let cases = check_file(
        "file_ids.json",
        include_str!("vectors/ours/file_ids.json"),
        FileIdCase::recompute,
        FileIdCase::check_decode,
    );
    assert_eq!(cases, 3);
}

#[test]
fn share_links_match() {
    let cases = check_file(
        "links.json",
        include_str!("vectors/ours/links.json"),
        LinkCase::recompute,
        LinkCase::check_decode,
    );
    assert_eq!(cases, 4);
}

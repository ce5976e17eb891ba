//! Negative vectors (`tests/vectors/ours/negative/*.json`), one file per defect. Every
//! decoder of each input must return the `CryptoError` variant the file names, with the
//! fields it lists.

mod common;
mod ours;

use std::collections::BTreeMap;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use dtc_crypto::CryptoError;
use dtc_crypto::file::FileKey;
use ours::negative::NegativeVector;
use ours::{ContentsPartsCase, VectorFile};
use serde_json::{Value, json};

macro_rules! vectors {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("vectors/ours/negative/", $name, ".json")))),*]
    };
}

/// Every file of `vectors/ours/negative/`; `all_files_are_listed` checks the list.
const NEGATIVE: [(&str, &str); 79] = vectors![
    "ciphertext_len_above_maximum",
    "ciphertext_len_below_minimum",
    "ciphertext_len_full_final_chunk",
    "contents_chunk_tag_bit_flipped",
    "contents_chunks_swapped",
    "contents_commitment_bit_flipped",
    "contents_context_used_for_metadata",
    "contents_cut_at_part_boundary",
    "contents_cut_inside_final_chunk",
    "contents_empty_final_chunk_missing",
    "contents_final_chunk_missing",
    "contents_header_truncated",
    "contents_part_duplicated",
    "contents_parts_swapped",
    "contents_salt_bit_flipped",
    "contents_trailing_bytes",
    "contents_wrong_file_key",
    "file_id_not_hex",
    "file_id_too_short",
    "file_id_upper_case",
    "kdf_iterations_above_maximum",
    "kdf_memory_below_floor",
    "kdf_parallelism_zero",
    "link_access_key_too_short",
    "link_gate_key_too_long",
    "link_password_memory_below_floor",
    "link_password_parallelism_above_maximum",
    "link_password_salt_too_short",
    "link_sealed_secret_is_wrapped_key",
    "link_sealed_secret_other_file_key",
    "link_sealed_secret_other_link_id",
    "link_sealed_secret_tag_bit_flipped",
    "link_sealed_secret_truncated",
    "link_sealed_secret_unknown_version",
    "link_secret_too_long",
    "link_secret_too_short",
    "link_wrapped_key_empty",
    "link_wrapped_key_is_sealed_secret",
    "link_wrapped_key_nonce_bit_flipped",
    "link_wrapped_key_other_file_id",
    "link_wrapped_key_other_link_id",
    "link_wrapped_key_other_link_secret",
    "link_wrapped_key_password_missing",
    "link_wrapped_key_tag_bit_flipped",
    "link_wrapped_key_trailing_byte",
    "link_wrapped_key_truncated",
    "link_wrapped_key_unknown_version",
    "link_wrapped_key_version_zero",
    "link_wrapped_key_wrong_password",
    "metadata_context_used_for_contents",
    "metadata_media_type_not_printable",
    "metadata_media_type_too_long",
    "metadata_name_empty",
    "metadata_name_invalid_utf8",
    "metadata_name_too_long",
    "metadata_trailing_bytes",
    "metadata_truncated",
    "metadata_unknown_version",
    "private_key_group_order",
    "private_key_zero",
    "public_key_compressed",
    "public_key_hybrid_form",
    "public_key_off_curve",
    "public_key_point_at_infinity",
    "public_key_x_not_below_p",
    "record_claiming_another_sender",
    "record_enc_compressed",
    "record_enc_off_curve",
    "record_for_another_account",
    "record_for_another_file_id",
    "record_sealed_key_bit_flipped",
    "record_sealed_key_truncated",
    "wrapped_identity_other_password",
    "wrapped_identity_other_username",
    "wrapped_identity_tag_bit_flipped",
    "wrapped_identity_trailing_byte",
    "wrapped_identity_truncated",
    "wrapped_identity_unknown_version",
    "wrapped_identity_zero_scalar",
];

const CONTENTS_PARTS: &str = include_str!("vectors/ours/contents_parts.json");

/// Returns the variant name and the fields of an error, as the vector files spell them.
/// The match has no wildcard, so a new variant fails to compile here until it is named.
fn describe(error: &CryptoError) -> (&'static str, Value) {
    use CryptoError::*;
    match error {
        InvalidLength {
            what,
            expected,
            actual,
        } => (
            "InvalidLength",
            json!({"what": what, "expected": expected, "actual": actual}),
        ),
        InvalidPublicKey => ("InvalidPublicKey", json!({})),
        UnsupportedPointEncoding { tag } => ("UnsupportedPointEncoding", json!({"tag": tag})),
        InvalidSecretKey => ("InvalidSecretKey", json!({})),
        Truncated {
            what,
            needed,
            actual,
        } => (
            "Truncated",
            json!({"what": what, "needed": needed, "actual": actual}),
        ),
        TrailingData { what, extra } => ("TrailingData", json!({"what": what, "extra": extra})),
        UnknownVersion { what, version } => {
            ("UnknownVersion", json!({"what": what, "version": version}))
        }
        CommitmentMismatch => ("CommitmentMismatch", json!({})),
        ChunkAuthenticationFailed { index } => {
            ("ChunkAuthenticationFailed", json!({"index": index}))
        }
        InvalidCiphertextLength { what, len } => {
            ("InvalidCiphertextLength", json!({"what": what, "len": len}))
        }
        MessageTooLong { len, max } => ("MessageTooLong", json!({"len": len, "max": max})),
        PartIndexOutOfRange { index, part_count } => (
            "PartIndexOutOfRange",
            json!({"index": index, "part_count": part_count}),
        ),
        InvalidPartLength {
            index,
            expected,
            actual,
        } => (
            "InvalidPartLength",
            json!({"index": index, "expected": expected, "actual": actual}),
        ),
        UnwrapFailed => ("UnwrapFailed", json!({})),
        LinkUnsealFailed { what } => ("LinkUnsealFailed", json!({"what": what})),
        HpkeOpenFailed => ("HpkeOpenFailed", json!({})),
        HpkeMessageLimit => ("HpkeMessageLimit", json!({})),
        DeriveKeyPairFailed => ("DeriveKeyPairFailed", json!({})),
        InconsistentPsk { mode } => ("InconsistentPsk", json!({"mode": mode})),
        HkdfOutputTooLong { len } => ("HkdfOutputTooLong", json!({"len": len})),
        KdfParamOutOfRange {
            name,
            value,
            min,
            max,
        } => (
            "KdfParamOutOfRange",
            json!({"name": name, "value": value, "min": min, "max": max}),
        ),
        Argon2Failed { reason } => ("Argon2Failed", json!({"reason": reason})),
        InvalidMetadata { field, reason } => {
            ("InvalidMetadata", json!({"field": field, "reason": reason}))
        }
        InvalidFileId { reason } => ("InvalidFileId", json!({"reason": reason})),
        HeaderMismatch => ("HeaderMismatch", json!({})),
        WebCrypto { operation, detail } => (
            "WebCrypto",
            json!({"operation": operation, "detail": detail}),
        ),
    }
}

/// Returns the file key and pinned parts of a message of `contents_parts.json`.
fn base_parts(name: &str) -> (FileKey, Vec<Vec<u8>>) {
    let file: VectorFile<ContentsPartsCase> =
        serde_json::from_str(CONTENTS_PARTS).expect("valid vector file");
    let case = file
        .cases
        .iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no message {name:?} in contents_parts.json"));
    (case.key(), case.pinned_parts())
}

#[test]
fn every_negative_vector_yields_its_error() {
    let mut decoder_runs = 0;
    let mut by_variant: BTreeMap<String, usize> = BTreeMap::new();
    for (name, text) in NEGATIVE {
        let vector: NegativeVector =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}.json: {e}"));
        let outcomes = vector.input.run(&base_parts);
        assert!(!outcomes.is_empty(), "{name}: no decoder ran");
        for (decoder, outcome) in outcomes {
            let error = match outcome {
                Ok(()) => panic!("{name}: {decoder} accepted the input"),
                Err(error) => error,
            };
            let (variant, fields) = describe(&error);
            assert_eq!(
                variant, vector.expected_error,
                "{name}: {decoder} returned {error:?}"
            );
            for (field, expected) in &vector.expected_fields {
                assert_eq!(
                    fields.get(field),
                    Some(expected),
                    "{name}: {decoder} returned {error:?}, field {field}"
                );
            }
            decoder_runs += 1;
        }
        *by_variant.entry(vector.expected_error).or_default() += 1;
    }
    report!(
        "negative vectors: {} files, {decoder_runs} decoder runs, by variant {by_variant:?}",
        NEGATIVE.len()
    );
    assert_eq!(decoder_runs, 91);
}

/// A file added to the folder but not to `NEGATIVE` would never run.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn all_files_are_listed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ours/negative");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("negative vector folder")
        .map(|entry| entry.expect("directory entry").file_name())
        .map(|name| name.to_string_lossy().trim_end_matches(".json").to_owned())
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = NEGATIVE.iter().map(|(name, _)| *name).collect();
    assert_eq!(on_disk, listed);
}

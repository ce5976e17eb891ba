//! Writes the known-answer and negative vectors of this product's own formats.
//!
//! ```text
//! cargo run -p dtc-crypto --example generate_vectors -- DIR [--overwrite]
//! ```
//!
//! The committed files under `crypto/tests/vectors/ours/` were written by this program
//! once. The tests never call it: they recompute every expected value from the inputs in
//! the files and fail on any difference, so a change to the wire format shows up as a
//! failing test, not as silently rewritten vectors. Without `--overwrite` it rejects a
//! folder that already contains vector files. Its output is deterministic, so a rerun with
//! `--overwrite` to add a vector must leave every existing file unchanged.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/ours/mod.rs"]
mod ours;

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use dtc_crypto::chunked::{self, HEADER_LEN, MAX_PLAINTEXT_LEN};
use dtc_crypto::exchange::{self, seal_file_key_with_ephemeral};
use dtc_crypto::file::{CONTENTS_CONTEXT, FileKey, METADATA_CONTEXT};
use dtc_crypto::identity::IdentitySecret;
use dtc_crypto::layout::{PART_PLAINTEXT_LEN, PartLayout};
use dtc_crypto::metadata::FileMetadata;
use dtc_crypto::password::wrap_identity_with_nonce;
use ours::links::{LinkCase, LinkInputs, LinkPasswordInput};
use ours::negative::{NegativeInput, NegativeVector};
use ours::*;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The lowest accepted Argon2id cost, so the vectors stay fast in debug builds.
const FLOOR: Params = Params {
    memory_kib: 19456,
    iterations: 2,
    parallelism: 1,
};
/// The parameters new accounts get.
const DEFAULT: Params = Params {
    memory_kib: 65536,
    iterations: 3,
    parallelism: 1,
};

const PASSWORD: &str = "correct horse battery staple";
/// `0123456789abcdef` in ASCII.
const PASSWORD_SALT: &str = "30313233343536373839616263646566";

const ALICE: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const BOB: &str = "4242424242424242424242424242424242424242424242424242424242424242";
const CAROL: &str = "4343434343434343434343434343434343434343434343434343434343434343";
const EPHEMERAL: &str = "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1";
const FILE_ID: &str = "00112233445566778899aabbccddeeff";
const OTHER_FILE_ID: &str = "00112233445566778899aabbccddeefe";
const FILE_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// The file key of the multi-part messages.
const PARTS_FILE_KEY: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
/// The P-256 field prime p, big-endian.
const FIELD_PRIME: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
/// The P-256 group order n, big-endian.
const GROUP_ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

fn repeat(byte: u8, len: usize) -> String {
    to_hex(&vec![byte; len])
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let overwrite = args.iter().any(|arg| arg == "--overwrite");
    let Some(dir) = args.iter().find(|arg| !arg.starts_with("--")) else {
        return Err("usage: generate_vectors DIR [--overwrite]".to_owned());
    };
    let dir = PathBuf::from(dir);
    if !overwrite && dir.join("contents.json").exists() {
        return Err(format!(
            "{} already holds vectors and they are not rewritten by default; pass \
             --overwrite to add vectors, and check that no existing file changed",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir.join("negative")).map_err(|e| e.to_string())?;

    write(
        &dir,
        "public_keys",
        "P-256 public keys (SEC1 uncompressed) and fingerprints of fixed scalars",
        public_keys(),
    )?;
    write(
        &dir,
        "password_keys",
        "Argon2id master key split by HKDF-SHA256 into the login key (and its SHA-256 verifier) and the wrapping key",
        password_key_cases(),
    )?;
    write(
        &dir,
        "decoy_salt",
        "the salt the server returns for a username without an account",
        decoy_salts(),
    )?;
    write(
        &dir,
        "wrapped_identity",
        "the identity private scalar wrapped under the password wrapping key, bound to the username",
        wrapped_identities(),
    )?;
    write(
        &dir,
        "contents",
        "whole contents messages (Cobblestone-256, context data-transfer-cloud/v1/contents), encrypted part by part",
        contents(),
    )?;
    write(
        &dir,
        "contents_parts",
        "multi-part contents messages of the pattern plaintext, pinned by header and per-part SHA-256",
        contents_parts(),
    )?;
    write(
        &dir,
        "layout",
        "upload part layout from the plaintext length",
        layouts(),
    )?;
    write(
        &dir,
        "metadata_plaintext",
        "the version 1 metadata encoding",
        metadata_plaintexts(),
    )?;
    write(
        &dir,
        "metadata_message",
        "the metadata encoding as a Cobblestone-256 message, context data-transfer-cloud/v1/metadata",
        metadata_messages(),
    )?;
    write(
        &dir,
        "key_exchange",
        "the file key sealed with HPKE mode_auth, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM",
        key_exchanges(),
    )?;
    write(
        &dir,
        "file_ids",
        "file ids as 16 bytes and as 32 lowercase hex digits",
        file_ids(),
    )?;
    write(
        &dir,
        "links",
        "share links: fragment, gate key and its verifier from the link secret and link id, access key and verifier from them and the optional password; the wrapped file key and the owner's sealed link secret with fixed nonces",
        links(),
    )?;

    for (name, vector) in negative_vectors() {
        write_json(&dir.join("negative").join(format!("{name}.json")), &vector)?;
    }
    Ok(())
}

fn write<C: Serialize>(
    dir: &Path,
    form: &str,
    description: &str,
    cases: Vec<C>,
) -> Result<(), String> {
    let file = VectorFile {
        form: form.to_owned(),
        description: description.to_owned(),
        cases,
    };
    write_json(&dir.join(format!("{form}.json")), &file)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn public_keys() -> Vec<PublicKeyCase> {
    let mut one = repeat(0, 31);
    one.push_str("01");
    let mut n_minus_one = GROUP_ORDER[..62].to_owned();
    n_minus_one.push_str("50");
    vec![
        PublicKeyCase::compute("scalar 1: the generator G", &one),
        PublicKeyCase::compute("scalar n - 1: -G", &n_minus_one),
        PublicKeyCase::compute("alice", ALICE),
        PublicKeyCase::compute("bob", BOB),
        PublicKeyCase::compute("carol", CAROL),
    ]
}

fn password_key_cases() -> Vec<PasswordKeysCase> {
    vec![
        PasswordKeysCase::compute("floor parameters", PASSWORD, PASSWORD_SALT, FLOOR),
        PasswordKeysCase::compute(
            "default parameters, non-ASCII password",
            "pässwörd mit Umlauten \u{1f511}",
            &repeat(0x11, 16),
            DEFAULT,
        ),
        PasswordKeysCase::compute(
            "two lanes",
            PASSWORD,
            &repeat(0x22, 16),
            Params {
                parallelism: 2,
                iterations: 3,
                ..FLOOR
            },
        ),
    ]
}

fn decoy_salts() -> Vec<DecoySaltCase> {
    let secret = repeat(0x73, 32);
    vec![
        DecoySaltCase::compute(&secret, "alice"),
        DecoySaltCase::compute(&secret, "nobody.here"),
    ]
}

fn wrapped_identities() -> Vec<WrappedIdentityCase> {
    let wrap = |name: &str, username: &str, scalar: &str, nonce: &str| {
        let keys = password_keys(PASSWORD, PASSWORD_SALT, FLOOR);
        let identity = IdentitySecret::from_bytes(&from_hex(scalar)).expect("valid scalar");
        let nonce_bytes: [u8; 12] = from_hex(nonce).try_into().expect("12 bytes");
        let wrapped = wrap_identity_with_nonce(&keys.wrapping, &identity, username, &nonce_bytes);
        WrappedIdentityCase {
            name: name.to_owned(),
            password: PASSWORD.to_owned(),
            salt: PASSWORD_SALT.to_owned(),
            params: FLOOR,
            username: username.to_owned(),
            secret_scalar: scalar.to_owned(),
            nonce: nonce.to_owned(),
            wrapped: to_hex(&wrapped),
        }
    };
    vec![
        wrap(
            "alice, scalar 05 x 32",
            "alice",
            &repeat(5, 32),
            &repeat(7, 12),
        ),
        wrap("bob", "bob", BOB, "000102030405060708090a0b"),
    ]
}

fn contents() -> Vec<ContentsCase> {
    let key = repeat(1, 32);
    let salt = repeat(0x5a, 24);
    let mut cases = vec![
        ContentsCase::compute("empty", &key, &salt, Some(&b""[..]), 0),
        ContentsCase::compute("hello", &key, &salt, Some(&b"hello"[..]), 5),
    ];
    for (i, len) in [1u64, 16383, 16384, 16385, 32768, 100_000]
        .into_iter()
        .enumerate()
    {
        let salt = repeat(0x60 + i as u8, 24);
        cases.push(ContentsCase::compute(
            &format!("pattern of {len} bytes"),
            &key,
            &salt,
            None,
            len,
        ));
    }
    cases
}

fn contents_parts() -> Vec<ContentsPartsCase> {
    [
        ("one_part_short", PART_PLAINTEXT_LEN - 1),
        ("exactly_one_part", PART_PLAINTEXT_LEN),
        ("two_parts", PART_PLAINTEXT_LEN + 1000),
        ("four_parts", 3 * PART_PLAINTEXT_LEN),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, len))| {
        ContentsPartsCase::compute(name, PARTS_FILE_KEY, &repeat(0x70 + i as u8, 24), len)
    })
    .collect()
}

fn layouts() -> Vec<LayoutCase> {
    [
        0,
        1,
        16383,
        16384,
        16385,
        PART_PLAINTEXT_LEN - 1,
        PART_PLAINTEXT_LEN,
        PART_PLAINTEXT_LEN + 1,
        3 * PART_PLAINTEXT_LEN,
        1_000_000_000,
        MAX_PLAINTEXT_LEN,
    ]
    .into_iter()
    .map(LayoutCase::compute)
    .collect()
}

fn sample_metadata() -> Metadata {
    Metadata {
        name: "a.txt".to_owned(),
        size: 258,
        media_type: "text/plain".to_owned(),
        modified_ms: 1_700_000_000_123,
    }
}

fn metadata_plaintexts() -> Vec<MetadataPlaintextCase> {
    [
        sample_metadata(),
        Metadata {
            name: "Bericht März 2024 (final).pdf".to_owned(),
            size: 123_456_789,
            media_type: "application/pdf".to_owned(),
            modified_ms: -1_234,
        },
        Metadata {
            name: "x".repeat(1024),
            size: u64::MAX,
            media_type: "~".repeat(127),
            modified_ms: i64::MIN,
        },
        Metadata {
            name: "é".to_owned(),
            size: 0,
            media_type: String::new(),
            modified_ms: i64::MAX,
        },
    ]
    .iter()
    .map(MetadataPlaintextCase::compute)
    .collect()
}

fn metadata_messages() -> Vec<MetadataMessageCase> {
    vec![
        MetadataMessageCase::compute(&repeat(1, 32), &repeat(0x5a, 24), &sample_metadata()),
        MetadataMessageCase::compute(
            FILE_KEY,
            &repeat(0x33, 24),
            &Metadata {
                name: "ü".repeat(512),
                size: 4_194_305,
                media_type: "application/octet-stream".to_owned(),
                modified_ms: 0,
            },
        ),
    ]
}

fn key_exchanges() -> Vec<KeyExchangeCase> {
    vec![
        KeyExchangeCase::compute("alice to bob", ALICE, BOB, EPHEMERAL, FILE_ID, FILE_KEY),
        KeyExchangeCase::compute(
            "alice to herself",
            ALICE,
            ALICE,
            &repeat(0xe2, 32),
            FILE_ID,
            FILE_KEY,
        ),
    ]
}

fn file_ids() -> Vec<FileIdCase> {
    [repeat(0, 16), FILE_ID.to_owned(), repeat(0xff, 16)]
        .iter()
        .map(|bytes| FileIdCase::compute(bytes))
        .collect()
}

// --- negative vectors -----------------------------------------------------------------

fn negative(defect: &str, error: &str, fields: Value, input: NegativeInput) -> NegativeVector {
    let expected_fields = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    NegativeVector {
        defect: defect.to_owned(),
        expected_error: error.to_owned(),
        expected_fields,
        input,
    }
}

fn contents_message(len: u64, salt_byte: u8) -> Vec<u8> {
    chunked::encrypt_with_salt(
        &from_hex(FILE_KEY),
        &from_hex(&repeat(salt_byte, 24)),
        CONTENTS_CONTEXT,
        &pattern(len),
    )
    .expect("valid inputs")
}

fn contents_input(ciphertext: &[u8]) -> NegativeInput {
    NegativeInput::Contents {
        file_key: FILE_KEY.to_owned(),
        ciphertext: to_hex(ciphertext),
    }
}

fn metadata_message(encoded: &[u8]) -> NegativeInput {
    let message = chunked::encrypt_with_salt(
        &from_hex(FILE_KEY),
        &from_hex(&repeat(0x44, 24)),
        METADATA_CONTEXT,
        encoded,
    )
    .expect("valid inputs");
    NegativeInput::MetadataMessage {
        file_key: FILE_KEY.to_owned(),
        message: to_hex(&message),
    }
}

fn sample_encoding() -> Vec<u8> {
    FileMetadata::from(&sample_metadata())
        .encode()
        .expect("valid metadata")
}

fn wrapped_input(username: &str, wrapped: &[u8]) -> NegativeInput {
    NegativeInput::WrappedIdentity {
        password: PASSWORD.to_owned(),
        salt: PASSWORD_SALT.to_owned(),
        params: FLOOR,
        username: username.to_owned(),
        wrapped: to_hex(wrapped),
    }
}

fn wrapped_alice() -> Vec<u8> {
    let keys = password_keys(PASSWORD, PASSWORD_SALT, FLOOR);
    let identity = IdentitySecret::from_bytes(&from_hex(ALICE)).expect("valid scalar");
    wrap_identity_with_nonce(&keys.wrapping, &identity, "alice", &[9; 12])
}

/// Seals the test file key from alice to `recipient` for `file_id`.
fn record(recipient: &str, file_id: &str) -> exchange::SealedFileKey {
    let id = exchange::parse_file_id(file_id).expect("valid id");
    let secret = |hex: &str| IdentitySecret::from_bytes(&from_hex(hex)).expect("valid scalar");
    seal_file_key_with_ephemeral(
        &secret(ALICE),
        &secret(EPHEMERAL),
        &secret(recipient).public_key(),
        &id,
        &FileKey::from_bytes(&from_hex(FILE_KEY)).expect("32 bytes"),
    )
    .expect("valid keys")
}

fn public_key(scalar: &str) -> String {
    let secret = IdentitySecret::from_bytes(&from_hex(scalar)).expect("valid scalar");
    to_hex(&secret.public_key().to_sec1())
}

fn record_input(
    opener: &str,
    claimed_sender: &str,
    file_id: &str,
    enc: &[u8],
    sealed: &[u8],
) -> NegativeInput {
    NegativeInput::KeyRecord {
        recipient_scalar: opener.to_owned(),
        sender_public_key: public_key(claimed_sender),
        file_id: file_id.to_owned(),
        enc: to_hex(enc),
        sealed_key: to_hex(sealed),
    }
}

fn negative_vectors() -> Vec<(&'static str, NegativeVector)> {
    let mut out = Vec::new();
    out.extend(negative_contents());
    out.extend(negative_metadata());
    out.extend(negative_wrapped_identity());
    out.extend(negative_records());
    out.extend(negative_parsers());
    out.extend(negative_links());
    out
}

fn negative_contents() -> Vec<(&'static str, NegativeVector)> {
    let two_chunks = contents_message(20_000, 0x61);
    let final_chunk_start = two_chunks.len() - (20_000 - 16384 + 16);
    let mut flipped_commitment = two_chunks.clone();
    flipped_commitment[HEADER_LEN as usize - 32] ^= 0x01;
    let mut flipped_salt = two_chunks.clone();
    flipped_salt[0] ^= 0x80;
    let mut flipped_tag = two_chunks.clone();
    *flipped_tag.last_mut().expect("non-empty") ^= 0x01;
    let mut trailing = two_chunks.clone();
    trailing.extend_from_slice(&[0u8; 7]);
    let three_chunks = contents_message(2 * 16384 + 100, 0x62);
    let mut swapped_chunks = three_chunks.clone();
    let (a, b) = (HEADER_LEN as usize, HEADER_LEN as usize + 16400);
    swapped_chunks[a..b].copy_from_slice(&three_chunks[b..b + 16400]);
    swapped_chunks[b..b + 16400].copy_from_slice(&three_chunks[a..b]);
    let one_full_chunk = contents_message(16384, 0x63);
    let metadata_as_contents = chunked::encrypt_with_salt(
        &from_hex(FILE_KEY),
        &from_hex(&repeat(0x45, 24)),
        METADATA_CONTEXT,
        &sample_encoding(),
    )
    .expect("valid inputs");
    let contents_as_metadata = chunked::encrypt_with_salt(
        &from_hex(FILE_KEY),
        &from_hex(&repeat(0x46, 24)),
        CONTENTS_CONTEXT,
        &sample_encoding(),
    )
    .expect("valid inputs");
    let parts = |base: &str, served: &[u32]| NegativeInput::ContentsParts {
        base: base.to_owned(),
        served_parts: served.to_vec(),
    };
    vec![
        (
            "contents_final_chunk_missing",
            negative(
                "the final chunk (3616 bytes of plaintext) is removed, so the message ends with a full chunk",
                "InvalidCiphertextLength",
                json!({}),
                contents_input(&two_chunks[..final_chunk_start]),
            ),
        ),
        (
            "contents_empty_final_chunk_missing",
            negative(
                "a 16384-byte file without its empty final chunk (the 16-byte tag)",
                "InvalidCiphertextLength",
                json!({}),
                contents_input(&one_full_chunk[..one_full_chunk.len() - 16]),
            ),
        ),
        (
            "contents_cut_inside_final_chunk",
            negative(
                "the last byte of the final chunk is cut off",
                "ChunkAuthenticationFailed",
                json!({"index": 1}),
                contents_input(&two_chunks[..two_chunks.len() - 1]),
            ),
        ),
        (
            "contents_cut_at_part_boundary",
            negative(
                "a two-part file served as part 0 alone, with the length of part 0",
                "InvalidCiphertextLength",
                json!({}),
                parts("two_parts", &[0]),
            ),
        ),
        (
            "contents_parts_swapped",
            negative(
                "parts 1 and 2 of a four-part file are served in each other's place",
                "ChunkAuthenticationFailed",
                json!({"index": 256}),
                parts("four_parts", &[0, 2, 1, 3]),
            ),
        ),
        (
            "contents_part_duplicated",
            negative(
                "part 1 of a four-part file is served twice, as parts 1 and 2, and the length grows by one part",
                "ChunkAuthenticationFailed",
                json!({"index": 512}),
                parts("four_parts", &[0, 1, 1, 2, 3]),
            ),
        ),
        (
            "contents_trailing_bytes",
            negative(
                "7 zero bytes follow the final chunk",
                "ChunkAuthenticationFailed",
                json!({"index": 1}),
                contents_input(&trailing),
            ),
        ),
        (
            "contents_commitment_bit_flipped",
            negative(
                "bit 0 of the first commitment byte (offset 24) is flipped",
                "CommitmentMismatch",
                json!({}),
                contents_input(&flipped_commitment),
            ),
        ),
        (
            "contents_salt_bit_flipped",
            negative(
                "bit 7 of the first salt byte is flipped, so the derived commitment differs",
                "CommitmentMismatch",
                json!({}),
                contents_input(&flipped_salt),
            ),
        ),
        (
            "contents_chunk_tag_bit_flipped",
            negative(
                "bit 0 of the final chunk's last tag byte is flipped",
                "ChunkAuthenticationFailed",
                json!({"index": 1}),
                contents_input(&flipped_tag),
            ),
        ),
        (
            "contents_chunks_swapped",
            negative(
                "chunks 0 and 1 of a three-chunk message are swapped",
                "ChunkAuthenticationFailed",
                json!({"index": 0}),
                contents_input(&swapped_chunks),
            ),
        ),
        (
            "contents_header_truncated",
            negative(
                "a message of 40 bytes, shorter than the 56-byte header",
                "Truncated",
                json!({"what": "chunked-encryption header", "needed": 56, "actual": 40}),
                NegativeInput::ChunkedMessage {
                    file_key: FILE_KEY.to_owned(),
                    context: "data-transfer-cloud/v1/contents".to_owned(),
                    ciphertext: to_hex(&two_chunks[..40]),
                },
            ),
        ),
        (
            "contents_context_used_for_metadata",
            negative(
                "a metadata message decrypted as contents (contents context on a metadata message)",
                "CommitmentMismatch",
                json!({}),
                contents_input(&metadata_as_contents),
            ),
        ),
        (
            "metadata_context_used_for_contents",
            negative(
                "a contents message, whose plaintext is a valid metadata encoding, decrypted as metadata (metadata context on a contents message)",
                "CommitmentMismatch",
                json!({}),
                NegativeInput::MetadataMessage {
                    file_key: FILE_KEY.to_owned(),
                    message: to_hex(&contents_as_metadata),
                },
            ),
        ),
        (
            "contents_wrong_file_key",
            negative(
                "a contents message decrypted with another file key",
                "CommitmentMismatch",
                json!({}),
                NegativeInput::ChunkedMessage {
                    file_key: repeat(0x02, 32),
                    context: "data-transfer-cloud/v1/contents".to_owned(),
                    ciphertext: to_hex(&two_chunks),
                },
            ),
        ),
    ]
}

fn negative_metadata() -> Vec<(&'static str, NegativeVector)> {
    let valid = sample_encoding();
    let mut version = valid.clone();
    version[0] = 0x02;
    let mut trailing = valid.clone();
    trailing.push(0x00);
    let mut empty_name = vec![0x01, 0x00, 0x00];
    empty_name.extend_from_slice(&valid[8..]);
    let mut long_name = vec![0x01, 0x04, 0x01];
    long_name.extend(vec![b'x'; 1025]);
    long_name.extend_from_slice(&valid[8..]);
    let mut bad_utf8 = valid.clone();
    bad_utf8[3] = 0xff;
    let media_offset = 3 + 5 + 8 + 1;
    let mut control = valid.clone();
    control[media_offset + 4] = 0x0a;
    let mut long_type = valid[..media_offset - 1].to_vec();
    long_type.push(128);
    long_type.extend(vec![b'a'; 128]);
    long_type.extend_from_slice(&valid[valid.len() - 8..]);
    let plaintext = |encoded: &[u8]| NegativeInput::MetadataPlaintext {
        encoded: to_hex(encoded),
    };
    vec![
        (
            "metadata_unknown_version",
            negative(
                "a metadata encoding with version byte 0x02, correctly encrypted",
                "UnknownVersion",
                json!({"what": "metadata", "version": 2}),
                metadata_message(&version),
            ),
        ),
        (
            "metadata_trailing_bytes",
            negative(
                "one zero byte after the modification time, correctly encrypted",
                "TrailingData",
                json!({"what": "metadata", "extra": 1}),
                metadata_message(&trailing),
            ),
        ),
        (
            "metadata_truncated",
            negative(
                "the encoding ends inside the modification time",
                "Truncated",
                json!({"what": "metadata"}),
                plaintext(&valid[..valid.len() - 3]),
            ),
        ),
        (
            "metadata_name_empty",
            negative(
                "a name length of 0",
                "InvalidMetadata",
                json!({"field": "name"}),
                plaintext(&empty_name),
            ),
        ),
        (
            "metadata_name_too_long",
            negative(
                "a name of 1025 bytes",
                "InvalidMetadata",
                json!({"field": "name"}),
                plaintext(&long_name),
            ),
        ),
        (
            "metadata_name_invalid_utf8",
            negative(
                "the first name byte is 0xff, which is not UTF-8",
                "InvalidMetadata",
                json!({"field": "name"}),
                plaintext(&bad_utf8),
            ),
        ),
        (
            "metadata_media_type_not_printable",
            negative(
                "a line feed (0x0a) inside the media type",
                "InvalidMetadata",
                json!({"field": "media type"}),
                plaintext(&control),
            ),
        ),
        (
            "metadata_media_type_too_long",
            negative(
                "a media type of 128 bytes",
                "InvalidMetadata",
                json!({"field": "media type"}),
                plaintext(&long_type),
            ),
        ),
    ]
}

fn negative_wrapped_identity() -> Vec<(&'static str, NegativeVector)> {
    let wrapped = wrapped_alice();
    let mut version = wrapped.clone();
    version[0] = 0x02;
    let mut trailing = wrapped.clone();
    trailing.push(0x00);
    let mut flipped = wrapped.clone();
    flipped[60] ^= 0x01;
    let zero_scalar = {
        let keys = password_keys(PASSWORD, PASSWORD_SALT, FLOOR);
        let cipher = aes_gcm::Aes256Gcm::new(&(*keys.wrapping.expose_secret_bytes()).into());
        let nonce = [0x0c; 12];
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &[0u8; 32],
                    aad: b"data-transfer-cloud/v1/identity-key\x00alice",
                },
            )
            .expect("32 bytes");
        let mut out = vec![0x01];
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    };
    let other_password = {
        let keys = password_keys("correct horse battery stapler", PASSWORD_SALT, FLOOR);
        let identity = IdentitySecret::from_bytes(&from_hex(ALICE)).expect("valid scalar");
        wrap_identity_with_nonce(&keys.wrapping, &identity, "alice", &[9; 12])
    };
    vec![
        (
            "wrapped_identity_unknown_version",
            negative(
                "version byte 0x02 in front of an otherwise valid wrapped key",
                "UnknownVersion",
                json!({"what": "wrapped identity key", "version": 2}),
                wrapped_input("alice", &version),
            ),
        ),
        (
            "wrapped_identity_trailing_byte",
            negative(
                "one byte after the tag (62 bytes)",
                "InvalidLength",
                json!({"what": "wrapped identity key", "expected": 61, "actual": 62}),
                wrapped_input("alice", &trailing),
            ),
        ),
        (
            "wrapped_identity_truncated",
            negative(
                "the last tag byte is missing (60 bytes)",
                "InvalidLength",
                json!({"what": "wrapped identity key", "expected": 61, "actual": 60}),
                wrapped_input("alice", &wrapped[..60]),
            ),
        ),
        (
            "wrapped_identity_tag_bit_flipped",
            negative(
                "bit 0 of the last tag byte is flipped",
                "UnwrapFailed",
                json!({}),
                wrapped_input("alice", &flipped),
            ),
        ),
        (
            "wrapped_identity_other_username",
            negative(
                "alice's wrapped key opened as the account bob",
                "UnwrapFailed",
                json!({}),
                wrapped_input("bob", &wrapped),
            ),
        ),
        (
            "wrapped_identity_other_password",
            negative(
                "a key wrapped under another password's wrapping key",
                "UnwrapFailed",
                json!({}),
                wrapped_input("alice", &other_password),
            ),
        ),
        (
            "wrapped_identity_zero_scalar",
            negative(
                "an authentic wrapping of the scalar 0, which is no private key",
                "InvalidSecretKey",
                json!({}),
                wrapped_input("alice", &zero_scalar),
            ),
        ),
    ]
}

fn negative_records() -> Vec<(&'static str, NegativeVector)> {
    let to_bob = record(BOB, FILE_ID);
    let to_carol = record(CAROL, FILE_ID);
    let mut flipped = to_bob.ciphertext;
    flipped[0] ^= 0x01;
    let mut off_curve = to_bob.enc;
    off_curve[64] ^= 0x01;
    let mut compressed = vec![0x02 | (to_bob.enc[64] & 1)];
    compressed.extend_from_slice(&to_bob.enc[1..33]);
    vec![
        (
            "record_for_another_account",
            negative(
                "a record alice sealed to carol, opened by bob",
                "HpkeOpenFailed",
                json!({}),
                record_input(BOB, ALICE, FILE_ID, &to_carol.enc, &to_carol.ciphertext),
            ),
        ),
        (
            "record_claiming_another_sender",
            negative(
                "a record alice sealed to bob, which the server lists as sent by carol",
                "HpkeOpenFailed",
                json!({}),
                record_input(BOB, CAROL, FILE_ID, &to_bob.enc, &to_bob.ciphertext),
            ),
        ),
        (
            "record_for_another_file_id",
            negative(
                "a record alice sealed to bob for one file id, listed under another file id",
                "HpkeOpenFailed",
                json!({}),
                record_input(BOB, ALICE, OTHER_FILE_ID, &to_bob.enc, &to_bob.ciphertext),
            ),
        ),
        (
            "record_sealed_key_bit_flipped",
            negative(
                "bit 0 of the first sealed-key byte is flipped",
                "HpkeOpenFailed",
                json!({}),
                record_input(BOB, ALICE, FILE_ID, &to_bob.enc, &flipped),
            ),
        ),
        (
            "record_enc_off_curve",
            negative(
                "the last byte of enc is changed, so enc is not a point on P-256",
                "InvalidPublicKey",
                json!({}),
                record_input(BOB, ALICE, FILE_ID, &off_curve, &to_bob.ciphertext),
            ),
        ),
        (
            "record_enc_compressed",
            negative(
                "enc in the 33-byte SEC1 compressed form",
                "InvalidLength",
                json!({"what": "HPKE enc", "expected": 65, "actual": 33}),
                record_input(BOB, ALICE, FILE_ID, &compressed, &to_bob.ciphertext),
            ),
        ),
        (
            "record_sealed_key_truncated",
            negative(
                "a sealed key of 47 bytes",
                "InvalidLength",
                json!({"what": "sealed file key", "expected": 48, "actual": 47}),
                record_input(BOB, ALICE, FILE_ID, &to_bob.enc, &to_bob.ciphertext[..47]),
            ),
        ),
    ]
}

fn negative_parsers() -> Vec<(&'static str, NegativeVector)> {
    let g = from_hex(&public_key(&{
        let mut one = repeat(0, 31);
        one.push_str("01");
        one
    }));
    let mut compressed = vec![0x02 | (g[64] & 1)];
    compressed.extend_from_slice(&g[1..33]);
    let mut hybrid = g.clone();
    hybrid[0] = 0x06 | (g[64] & 1);
    let mut off_curve = g.clone();
    off_curve[64] ^= 0x01;
    let mut x_is_p = vec![0x04];
    x_is_p.extend(from_hex(FIELD_PRIME));
    x_is_p.extend_from_slice(&g[33..]);
    let key = |bytes: &[u8]| NegativeInput::PublicKey {
        bytes: to_hex(bytes),
    };
    let max_len = PartLayout::for_plaintext_len(MAX_PLAINTEXT_LEN)
        .expect("maximum")
        .ciphertext_len();
    let len = |ciphertext_len: u64| NegativeInput::CiphertextLen { ciphertext_len };
    let id = |text: &str| NegativeInput::FileId {
        text: text.to_owned(),
    };
    let kdf = |params: Params| NegativeInput::KdfParams { params };
    vec![
        (
            "public_key_compressed",
            negative(
                "the generator G in the 33-byte SEC1 compressed form",
                "InvalidLength",
                json!({"what": "P-256 public key", "expected": 65, "actual": 33}),
                key(&compressed),
            ),
        ),
        (
            "public_key_point_at_infinity",
            negative(
                "the one-byte SEC1 encoding 0x00 of the point at infinity",
                "InvalidLength",
                json!({"what": "P-256 public key", "expected": 65, "actual": 1}),
                key(&[0x00]),
            ),
        ),
        (
            "public_key_hybrid_form",
            negative(
                "the generator G in the SEC1 hybrid form (tag 0x06 or 0x07)",
                "UnsupportedPointEncoding",
                json!({"tag": hybrid[0]}),
                key(&hybrid),
            ),
        ),
        (
            "public_key_off_curve",
            negative(
                "the generator G with the last bit of Y flipped",
                "InvalidPublicKey",
                json!({}),
                key(&off_curve),
            ),
        ),
        (
            "public_key_x_not_below_p",
            negative(
                "X equal to the field prime p",
                "InvalidPublicKey",
                json!({}),
                key(&x_is_p),
            ),
        ),
        (
            "private_key_zero",
            negative(
                "the scalar 0",
                "InvalidSecretKey",
                json!({}),
                NegativeInput::PrivateKey {
                    bytes: repeat(0, 32),
                },
            ),
        ),
        (
            "private_key_group_order",
            negative(
                "the scalar n, the group order",
                "InvalidSecretKey",
                json!({}),
                NegativeInput::PrivateKey {
                    bytes: GROUP_ORDER.to_owned(),
                },
            ),
        ),
        (
            "ciphertext_len_below_minimum",
            negative(
                "71 bytes, one less than the header and an empty final chunk",
                "InvalidCiphertextLength",
                json!({"what": "contents", "len": 71}),
                len(71),
            ),
        ),
        (
            "ciphertext_len_full_final_chunk",
            negative(
                "the header and exactly one full encrypted chunk, with no final chunk",
                "InvalidCiphertextLength",
                json!({"what": "contents", "len": 56 + 16400}),
                len(56 + 16400),
            ),
        ),
        (
            "ciphertext_len_above_maximum",
            negative(
                "a length whose plaintext is 2^52 bytes, one more than chunked encryption allows",
                "MessageTooLong",
                json!({"len": MAX_PLAINTEXT_LEN + 1}),
                len(max_len + 17),
            ),
        ),
        (
            "file_id_upper_case",
            negative(
                "a file id with upper-case hex digits",
                "InvalidFileId",
                json!({}),
                id("00112233445566778899AABBCCDDEEFF"),
            ),
        ),
        (
            "file_id_too_short",
            negative(
                "31 hex digits",
                "InvalidFileId",
                json!({}),
                id(&FILE_ID[..31]),
            ),
        ),
        (
            "file_id_not_hex",
            negative(
                "a g in place of the last digit",
                "InvalidFileId",
                json!({}),
                id("00112233445566778899aabbccddeefg"),
            ),
        ),
        (
            "kdf_memory_below_floor",
            negative(
                "Argon2id memory of 19455 KiB",
                "KdfParamOutOfRange",
                json!({"name": "memory_kib", "value": 19455}),
                kdf(Params {
                    memory_kib: 19455,
                    ..FLOOR
                }),
            ),
        ),
        (
            "kdf_iterations_above_maximum",
            negative(
                "17 Argon2id passes",
                "KdfParamOutOfRange",
                json!({"name": "iterations", "value": 17}),
                kdf(Params {
                    iterations: 17,
                    ..FLOOR
                }),
            ),
        ),
        (
            "kdf_parallelism_zero",
            negative(
                "Argon2id parallelism 0",
                "KdfParamOutOfRange",
                json!({"name": "parallelism", "value": 0}),
                kdf(Params {
                    parallelism: 0,
                    ..FLOOR
                }),
            ),
        ),
    ]
}

// --- share links ----------------------------------------------------------------------

const LINK_ID: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
const OTHER_LINK_ID: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeae";
/// Bytes 0x20 to 0x3f.
const LINK_SECRET: &str = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
const LINK_WRAP_NONCE: &str = "0a0a0a0a0a0a0a0a0a0a0a0a";
const LINK_SEAL_NONCE: &str = "0b0b0b0b0b0b0b0b0b0b0b0b";

fn link_password(password: &str, salt: &str, params: Params) -> LinkPasswordInput {
    LinkPasswordInput {
        password: password.to_owned(),
        salt: salt.to_owned(),
        params,
    }
}

/// The link of `links.json` case 0 (no password) or case 1 (the floor-cost password).
fn link_case(password: Option<LinkPasswordInput>) -> LinkCase {
    LinkCase::compute(LinkInputs {
        name: "",
        link_id: LINK_ID,
        link_secret: LINK_SECRET,
        password,
        file_id: FILE_ID,
        file_key: FILE_KEY,
        wrap_nonce: LINK_WRAP_NONCE,
        seal_nonce: LINK_SEAL_NONCE,
    })
}

fn links() -> Vec<LinkCase> {
    let named = |name: &str, mut case: LinkCase| {
        case.name = name.to_owned();
        case
    };
    vec![
        named("no password", link_case(None)),
        named(
            "password, lowest cost",
            link_case(Some(link_password(PASSWORD, PASSWORD_SALT, FLOOR))),
        ),
        LinkCase::compute(LinkInputs {
            name: "empty password, lowest cost: other keys than no password",
            link_id: LINK_ID,
            link_secret: LINK_SECRET,
            password: Some(link_password("", &repeat(0x33, 16), FLOOR)),
            file_id: FILE_ID,
            file_key: FILE_KEY,
            wrap_nonce: LINK_WRAP_NONCE,
            seal_nonce: LINK_SEAL_NONCE,
        }),
        LinkCase::compute(LinkInputs {
            name: "default cost, non-ASCII password, secret ff x 32",
            link_id: "0123456789abcdef0123456789abcdef",
            link_secret: &repeat(0xff, 32),
            password: Some(link_password(
                "pässwörd mit Umlauten \u{1f511}",
                &repeat(0x44, 16),
                DEFAULT,
            )),
            file_id: OTHER_FILE_ID,
            file_key: PARTS_FILE_KEY,
            wrap_nonce: "000102030405060708090a0b",
            seal_nonce: "0c0d0e0f1011121314151617",
        }),
    ]
}

fn negative_links() -> Vec<(&'static str, NegativeVector)> {
    let plain = link_case(None);
    let protected = link_case(Some(link_password(PASSWORD, PASSWORD_SALT, FLOOR)));
    let wrapped = from_hex(&plain.wrapped_key);
    let sealed = from_hex(&plain.sealed_secret);
    let changed = |bytes: &[u8], index: usize, value: u8| {
        let mut out = bytes.to_vec();
        out[index] = value;
        out
    };
    let flipped = |bytes: &[u8], index: usize| changed(bytes, index, bytes[index] ^ 0x01);
    let mut other_secret = from_hex(LINK_SECRET);
    other_secret[31] ^= 0x01;
    let wrapped_input = |link_secret: &str,
                         link_id: &str,
                         password: Option<LinkPasswordInput>,
                         file_id: &str,
                         bytes: &[u8]| NegativeInput::LinkWrappedKey {
        link_secret: link_secret.to_owned(),
        link_id: link_id.to_owned(),
        password,
        file_id: file_id.to_owned(),
        wrapped_key: to_hex(bytes),
    };
    let plain_wrapped = |bytes: &[u8]| wrapped_input(LINK_SECRET, LINK_ID, None, FILE_ID, bytes);
    let sealed_input =
        |file_key: &str, link_id: &str, bytes: &[u8]| NegativeInput::LinkSealedSecret {
            file_key: file_key.to_owned(),
            link_id: link_id.to_owned(),
            sealed_secret: to_hex(bytes),
        };
    let derive = |password: LinkPasswordInput| NegativeInput::LinkPassword {
        link_secret: LINK_SECRET.to_owned(),
        link_id: LINK_ID.to_owned(),
        password,
    };
    let unsealed = |what: &str| json!({ "what": what });
    let wrapped_what = "wrapped link file key";
    let sealed_what = "sealed link secret";
    let length = |what: &str, expected: usize, actual: usize| json!({"what": what, "expected": expected, "actual": actual});
    vec![
        (
            "link_wrapped_key_wrong_password",
            negative(
                "a password link opened with the password one letter longer",
                "LinkUnsealFailed",
                unsealed(wrapped_what),
                wrapped_input(
                    LINK_SECRET,
                    LINK_ID,
                    Some(link_password(
                        "correct horse battery stapler",
                        PASSWORD_SALT,
                        FLOOR,
                    )),
                    FILE_ID,
                    &from_hex(&protected.wrapped_key),
                ),
            ),
        ),
        (
            "link_wrapped_key_password_missing",
            negative(
                "a password link opened as a link without a password",
                "LinkUnsealFailed",
                unsealed(wrapped_what),
                plain_wrapped(&from_hex(&protected.wrapped_key)),
            ),
        ),
        (
            "link_wrapped_key_other_link_secret",
            negative(
                "opened with a link secret whose last bit differs",
                "LinkUnsealFailed",
                unsealed(wrapped_what),
                wrapped_input(&to_hex(&other_secret), LINK_ID, None, FILE_ID, &wrapped),
            ),
        ),
        (
            "link_wrapped_key_other_link_id",
            negative(
                "the link secret and wrapped key of one link opened under another link id",
                "LinkUnsealFailed",
                unsealed(wrapped_what),
                wrapped_input(LINK_SECRET, OTHER_LINK_ID, None, FILE_ID, &wrapped),
            ),
        ),
        (
            "link_wrapped_key_other_file_id",
            negative(
                "the right keys, opened for another file id",
                "LinkUnsealFailed",
                unsealed(wrapped_what),
                wrapped_input(LINK_SECRET, LINK_ID, None, OTHER_FILE_ID, &wrapped),
            ),
        ),
        (
            "link_wrapped_key_nonce_bit_flipped",
            negative(
                "bit 0 of the first nonce byte is flipped",
                "LinkUnsealFailed",
                unsealed(wrapped_what),
                plain_wrapped(&flipped(&wrapped, 1)),
            ),
        ),
        (
            "link_wrapped_key_tag_bit_flipped",
            negative(
                "bit 0 of the last tag byte is flipped",
                "LinkUnsealFailed",
                unsealed(wrapped_what),
                plain_wrapped(&flipped(&wrapped, 60)),
            ),
        ),
        (
            "link_wrapped_key_is_sealed_secret",
            negative(
                "the owner's sealed link secret given as the wrapped file key",
                "LinkUnsealFailed",
                unsealed(wrapped_what),
                plain_wrapped(&sealed),
            ),
        ),
        (
            "link_wrapped_key_version_zero",
            negative(
                "version byte 0x00 in front of an otherwise valid wrapped key",
                "UnknownVersion",
                json!({"what": wrapped_what, "version": 0}),
                plain_wrapped(&changed(&wrapped, 0, 0x00)),
            ),
        ),
        (
            "link_wrapped_key_unknown_version",
            negative(
                "version byte 0x02 in front of an otherwise valid wrapped key",
                "UnknownVersion",
                json!({"what": wrapped_what, "version": 2}),
                plain_wrapped(&changed(&wrapped, 0, 0x02)),
            ),
        ),
        (
            "link_wrapped_key_empty",
            negative(
                "no bytes at all",
                "InvalidLength",
                length(wrapped_what, 61, 0),
                plain_wrapped(&[]),
            ),
        ),
        (
            "link_wrapped_key_truncated",
            negative(
                "the last tag byte is missing (60 bytes)",
                "InvalidLength",
                length(wrapped_what, 61, 60),
                plain_wrapped(&wrapped[..60]),
            ),
        ),
        (
            "link_wrapped_key_trailing_byte",
            negative(
                "one byte after the tag (62 bytes)",
                "InvalidLength",
                length(wrapped_what, 61, 62),
                plain_wrapped(&[wrapped.as_slice(), &[0x00]].concat()),
            ),
        ),
        (
            "link_sealed_secret_other_file_key",
            negative(
                "the sealed link secret opened with another file's key",
                "LinkUnsealFailed",
                unsealed(sealed_what),
                sealed_input(PARTS_FILE_KEY, LINK_ID, &sealed),
            ),
        ),
        (
            "link_sealed_secret_other_link_id",
            negative(
                "the sealed link secret opened under another link id",
                "LinkUnsealFailed",
                unsealed(sealed_what),
                sealed_input(FILE_KEY, OTHER_LINK_ID, &sealed),
            ),
        ),
        (
            "link_sealed_secret_tag_bit_flipped",
            negative(
                "bit 0 of the last tag byte is flipped",
                "LinkUnsealFailed",
                unsealed(sealed_what),
                sealed_input(FILE_KEY, LINK_ID, &flipped(&sealed, 60)),
            ),
        ),
        (
            "link_sealed_secret_is_wrapped_key",
            negative(
                "the link's wrapped file key given as the owner's sealed secret",
                "LinkUnsealFailed",
                unsealed(sealed_what),
                sealed_input(FILE_KEY, LINK_ID, &wrapped),
            ),
        ),
        (
            "link_sealed_secret_unknown_version",
            negative(
                "version byte 0x02 in front of an otherwise valid sealed secret",
                "UnknownVersion",
                json!({"what": sealed_what, "version": 2}),
                sealed_input(FILE_KEY, LINK_ID, &changed(&sealed, 0, 0x02)),
            ),
        ),
        (
            "link_sealed_secret_truncated",
            negative(
                "the last tag byte is missing (60 bytes)",
                "InvalidLength",
                length(sealed_what, 61, 60),
                sealed_input(FILE_KEY, LINK_ID, &sealed[..60]),
            ),
        ),
        (
            "link_secret_too_short",
            negative(
                "a 31-byte link secret (a 42-character fragment)",
                "InvalidLength",
                length("link secret", 32, 31),
                NegativeInput::LinkSecret {
                    bytes: LINK_SECRET[..62].to_owned(),
                },
            ),
        ),
        (
            "link_secret_too_long",
            negative(
                "a 33-byte link secret (a 44-character fragment)",
                "InvalidLength",
                length("link secret", 32, 33),
                NegativeInput::LinkSecret {
                    bytes: format!("{LINK_SECRET}40"),
                },
            ),
        ),
        (
            "link_access_key_too_short",
            negative(
                "a 31-byte access key",
                "InvalidLength",
                length("link access key", 32, 31),
                NegativeInput::AccessKey {
                    bytes: plain.access_key[..62].to_owned(),
                },
            ),
        ),
        (
            "link_gate_key_too_long",
            negative(
                "a 33-byte gate key: the gate key of links.json case 0 and one zero byte",
                "InvalidLength",
                length("link access key", 32, 33),
                NegativeInput::AccessKey {
                    bytes: format!("{}00", plain.gate_key),
                },
            ),
        ),
        (
            "link_password_salt_too_short",
            negative(
                "a 15-byte link password salt",
                "InvalidLength",
                length("link password salt", 16, 15),
                derive(link_password(PASSWORD, &PASSWORD_SALT[..30], FLOOR)),
            ),
        ),
        (
            "link_password_memory_below_floor",
            negative(
                "19455 KiB of Argon2id memory for a link password, one below the floor",
                "KdfParamOutOfRange",
                json!({"name": "memory_kib", "value": 19455}),
                derive(link_password(
                    PASSWORD,
                    PASSWORD_SALT,
                    Params {
                        memory_kib: 19455,
                        ..FLOOR
                    },
                )),
            ),
        ),
        (
            "link_password_parallelism_above_maximum",
            negative(
                "Argon2id parallelism 5 for a link password",
                "KdfParamOutOfRange",
                json!({"name": "parallelism", "value": 5}),
                derive(link_password(
                    PASSWORD,
                    PASSWORD_SALT,
                    Params {
                        parallelism: 5,
                        ..FLOOR
                    },
                )),
            ),
        ),
    ]
}

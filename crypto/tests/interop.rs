//! Files encrypted by one build decrypt in the other. `vectors/interop/native.json` was
//! produced by the native build and `vectors/interop/wasm.json` by the WebAssembly build in
//! headless Chromium, each with the random salts, nonces and ephemeral keys of the product's
//! own functions. Both test runs decrypt both files, so the native run checks what the
//! browser wrote and the WebAssembly run checks what the native build wrote.
//!
//! `vectors/interop/produce.sh` writes new fixtures with the ignored `produce_fixture`
//! test, in both builds.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::hex;
use dtc_crypto::exchange::{self, SealedFileKey};
use dtc_crypto::file::{ContentsDecryptor, ContentsEncryptor, FileKey, decrypt_metadata};
use dtc_crypto::identity::{IdentitySecret, PublicKey};
use dtc_crypto::layout::PartLayout;
use dtc_crypto::metadata::FileMetadata;
use dtc_crypto::password::{self, KdfParams, PasswordKeys};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One file as the recipient's browser finds it: the account's password inputs and
/// wrapped key, the sender's public key, the key exchange record, the metadata message and
/// the contents ciphertext, with what decryption must give.
#[derive(Serialize, Deserialize)]
struct Fixture {
    /// `native` or `wasm32`: the build that ran `produce_fixture`.
    producer: String,
    username: String,
    password: String,
    salt: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    wrapped_identity: String,
    public_key: String,
    sender_public_key: String,
    file_id: String,
    enc: String,
    sealed_key: String,
    metadata: String,
    contents: String,
    expected_name: String,
    expected_size: u64,
    expected_media_type: String,
    expected_modified_ms: i64,
    expected_contents_sha256: String,
}

const PRODUCER: &str = if cfg!(target_arch = "wasm32") {
    "wasm32"
} else {
    "native"
};

/// Argon2id at the lowest accepted cost keeps the debug builds fast.
const PARAMS: KdfParams = KdfParams {
    memory_kib: 19456,
    iterations: 2,
    parallelism: 1,
};

/// Three chunks, the last one short: enough to cross chunk boundaries and stay small.
const CONTENTS_LEN: usize = 2 * 16384 + 1234;

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Decrypts a fixture as the download page does, checking every step against the file.
fn decrypt_fixture(fixture: &Fixture) {
    let params = KdfParams {
        memory_kib: fixture.memory_kib,
        iterations: fixture.iterations,
        parallelism: fixture.parallelism,
    };
    let keys = PasswordKeys::derive(&fixture.password, &hex(&fixture.salt), params)
        .expect("valid password inputs");
    let identity = password::unwrap_identity(
        &keys.wrapping,
        &hex(&fixture.wrapped_identity),
        &fixture.username,
    )
    .expect("the wrapped identity key opens");
    assert_eq!(
        to_hex(&identity.public_key().to_sec1()),
        fixture.public_key,
        "unwrapped key belongs to the account"
    );

    let sender = PublicKey::from_sec1(&hex(&fixture.sender_public_key)).expect("valid key");
    let file_id = exchange::parse_file_id(&fixture.file_id).expect("valid file id");
    let record = SealedFileKey::from_parts(&hex(&fixture.enc), &hex(&fixture.sealed_key))
        .expect("valid record");
    let file_key =
        exchange::open_file_key(&identity, &sender, &file_id, &record).expect("record opens");

    let metadata = decrypt_metadata(&file_key, &hex(&fixture.metadata)).expect("metadata opens");
    let expected = FileMetadata {
        name: fixture.expected_name.clone(),
        size: fixture.expected_size,
        media_type: fixture.expected_media_type.clone(),
        modified_ms: fixture.expected_modified_ms,
    };
    assert_eq!(metadata, expected);

    let contents = hex(&fixture.contents);
    let layout = PartLayout::from_ciphertext_len(contents.len() as u64).expect("valid length");
    assert_eq!(layout.plaintext_len(), metadata.size);
    let decryptor =
        ContentsDecryptor::new(&file_key, &contents[..56], layout).expect("commitment matches");
    let mut plaintext = Vec::new();
    for index in 0..layout.part_count() {
        let start = layout.part_ciphertext_offset(index).expect("in range") as usize;
        let len = layout.part_ciphertext_len(index).expect("in range") as usize;
        let part = &contents[start..start + len];
        plaintext.extend(decryptor.decrypt_part(index, part).expect("authentic part"));
    }
    assert_eq!(
        to_hex(&Sha256::digest(&plaintext)),
        fixture.expected_contents_sha256
    );
}

fn load(text: &str) -> Fixture {
    serde_json::from_str(text).expect("valid fixture file")
}

#[test]
fn native_fixture_decrypts() {
    let fixture = load(include_str!("vectors/interop/native.json"));
    assert_eq!(fixture.producer, "native");
    decrypt_fixture(&fixture);
    report!("{PRODUCER} build decrypted the file of the native build");
}

#[test]
fn wasm_fixture_decrypts() {
    let fixture = load(include_str!("vectors/interop/wasm.json"));
    assert_eq!(fixture.producer, "wasm32");
    decrypt_fixture(&fixture);
    report!("{PRODUCER} build decrypted the file of the wasm32 build");
}

/// Encrypts a fresh file with the product's random functions, checks that this build
/// decrypts it, and prints it between marker lines for `produce.sh`.
#[test]
#[ignore = "writes a fixture; run by crypto/tests/vectors/interop/produce.sh"]
fn produce_fixture() {
    let username = "interop.recipient";
    let password_text = "interop password \u{e9}\u{1f512}";
    let salt = password::random_salt();
    let keys = PasswordKeys::derive(password_text, &salt, PARAMS).expect("valid inputs");
    let recipient = IdentitySecret::generate();
    let wrapped = password::wrap_identity(&keys.wrapping, &recipient, username);
    let sender = IdentitySecret::generate();

    let file_id: [u8; 16] = Sha256::digest(password::random_salt())[..16]
        .try_into()
        .expect("16 bytes");
    let file_key = FileKey::generate();
    let record = exchange::seal_file_key(&sender, &recipient.public_key(), &file_id, &file_key)
        .expect("valid keys");

    let plaintext: Vec<u8> = Sha256::digest(file_id)
        .iter()
        .cycle()
        .take(CONTENTS_LEN)
        .copied()
        .collect();
    let metadata = FileMetadata {
        name: format!("Übergabe {PRODUCER}.bin"),
        size: plaintext.len() as u64,
        media_type: "application/octet-stream".to_owned(),
        modified_ms: 1_767_225_600_000,
    };
    let layout = PartLayout::for_plaintext_len(plaintext.len() as u64).expect("short length");
    let encryptor = ContentsEncryptor::new(&file_key, &ContentsEncryptor::random_salt(), layout)
        .expect("valid inputs");
    let contents: Vec<u8> = (0..layout.part_count())
        .flat_map(|index| {
            let range = layout.part_plaintext_range(index).expect("in range");
            let part = &plaintext[range.start as usize..range.end as usize];
            encryptor.encrypt_part(index, part).expect("right length")
        })
        .collect();

    let fixture = Fixture {
        producer: PRODUCER.to_owned(),
        username: username.to_owned(),
        password: password_text.to_owned(),
        salt: to_hex(&salt),
        memory_kib: PARAMS.memory_kib,
        iterations: PARAMS.iterations,
        parallelism: PARAMS.parallelism,
        wrapped_identity: to_hex(&wrapped),
        public_key: to_hex(&recipient.public_key().to_sec1()),
        sender_public_key: to_hex(&sender.public_key().to_sec1()),
        file_id: exchange::format_file_id(&file_id),
        enc: to_hex(&record.enc),
        sealed_key: to_hex(&record.ciphertext),
        metadata: to_hex(&dtc_crypto::file::encrypt_metadata(&file_key, &metadata).expect("valid")),
        contents: to_hex(&contents),
        expected_name: metadata.name.clone(),
        expected_size: metadata.size,
        expected_media_type: metadata.media_type.clone(),
        expected_modified_ms: metadata.modified_ms,
        expected_contents_sha256: to_hex(&Sha256::digest(&plaintext)),
    };
    decrypt_fixture(&fixture);
    let json = serde_json::to_string_pretty(&fixture).expect("serializable");
    report!("INTEROP-FIXTURE-BEGIN\n{json}\nINTEROP-FIXTURE-END");
}

//! Metadata message decryption and decoding of arbitrary bytes under the file key
//! `01` x 32 of `metadata_message.json`.
#![no_main]

use std::sync::OnceLock;

use dtc_crypto::file::{FileKey, decrypt_metadata};
use libfuzzer_sys::fuzz_target;

fn file_key() -> &'static FileKey {
    static KEY: OnceLock<FileKey> = OnceLock::new();
    KEY.get_or_init(|| FileKey::from_bytes(&[0x01; 32]).expect("32 bytes"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(metadata) = decrypt_metadata(file_key(), data) {
        assert!(metadata.encode().is_ok());
    }
});

//! Key exchange record parsing: the first 65 bytes as `enc`, the rest as the sealed key.
#![no_main]

use dtc_crypto::exchange::SealedFileKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (enc, sealed) = data.split_at(data.len().min(65));
    if let Ok(record) = SealedFileKey::from_parts(enc, sealed) {
        assert_eq!(record.enc.as_slice(), enc);
        assert_eq!(record.ciphertext.as_slice(), sealed);
    }
});

//! Metadata plaintext decoding: any input is rejected or re-encodes byte for byte.
#![no_main]

use dtc_crypto::metadata::FileMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(metadata) = FileMetadata::decode(data) {
        assert_eq!(metadata.encode().as_deref(), Ok(data));
    }
});

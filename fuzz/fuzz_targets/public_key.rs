//! SEC1 public key parsing: any input is rejected or round-trips byte for byte.
#![no_main]

use dtc_crypto::identity::PublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::from_sec1(data) {
        assert_eq!(key.to_sec1().as_slice(), data);
        assert_eq!(key.fingerprint().to_string().len(), 8 * 5 + 7);
    }
});

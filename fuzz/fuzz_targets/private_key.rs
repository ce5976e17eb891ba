//! P-256 private scalar parsing: any input is rejected or round-trips byte for byte.
#![no_main]

use dtc_crypto::identity::IdentitySecret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(secret) = IdentitySecret::from_bytes(data) {
        assert_eq!(secret.expose_secret_bytes().as_slice(), data);
    }
});

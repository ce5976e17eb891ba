//! Wrapped identity key decoding under a fixed wrapping key. The seeds from
//! `wrapped_identity.json` are authentic for the usernames `alice` and `bob`.
#![no_main]

use std::sync::OnceLock;

use dtc_crypto::password::{KdfParams, PasswordKeys, unwrap_identity};
use libfuzzer_sys::fuzz_target;

/// The password keys of the vector files: Argon2id at the lowest accepted cost, run once.
fn keys() -> &'static PasswordKeys {
    static KEYS: OnceLock<PasswordKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let params = KdfParams {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        };
        PasswordKeys::derive("correct horse battery staple", b"0123456789abcdef", params)
            .expect("valid password inputs")
    })
}

fuzz_target!(|data: &[u8]| {
    for username in ["alice", "bob"] {
        if let Ok(identity) = unwrap_identity(&keys().wrapping, data, username) {
            assert_eq!(data.len(), 61);
            assert_eq!(identity.expose_secret_bytes().len(), 32);
        }
    }
});

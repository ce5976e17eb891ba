//! Wrapped identity key decoding under a fixed wrapping key. The seeds from
//! `wrapped_identity.json` are authentic for the usernames `alice` and `bob`.
#![no_main]

use std::sync::OnceLock;

use dtc_crypto::password::{KdfParams, PasswordKeys, unwrap_identity};
use libfuzzer_sys::fuzz_target;

/// Derives the password keys of the vector files once, with Argon2id at the lowest cost.
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

/// The scalars wrapped in `wrapped_identity.json` (`05` x 32 and bob's) and in the
/// negative vectors (alice's).
const SCALARS: [[u8; 32]; 3] = [
    [0x05; 32],
    [0x42; 32],
    [
        0xc9, 0xaf, 0xa9, 0xd8, 0x45, 0xba, 0x75, 0x16, 0x6b, 0x5c, 0x21, 0x57, 0x67, 0xb1, 0xd6,
        0x93, 0x4e, 0x50, 0xc3, 0xdb, 0x36, 0xe8, 0x9b, 0x12, 0x7b, 0x8a, 0x62, 0x2b, 0x12, 0x0f,
        0x67, 0x21,
    ],
];

fuzz_target!(|data: &[u8]| {
    for username in ["alice", "bob"] {
        // Only the authentic keys of the vector files open, so any other scalar would be
        // a forgery.
        if let Ok(identity) = unwrap_identity(&keys().wrapping, data, username) {
            assert_eq!(data.len(), 61);
            let scalar = *identity.expose_secret_bytes();
            assert!(SCALARS.contains(&scalar), "{username}");
        }
    }
});

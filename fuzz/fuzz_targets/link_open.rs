//! Share-link decoding: `link::unwrap_file_key` and `link::open_link_secret` on arbitrary
//! bytes, under the keys of `links.json` case 0 (no password) and case 1 (the floor-cost
//! password). The seeds from `links.json` are authentic for both.
#![no_main]

use std::sync::OnceLock;

use dtc_crypto::file::FileKey;
use dtc_crypto::link::{self, LINK_SECRET_LEN, LinkKeys, LinkPassword, LinkSecret, SEALED_LEN};
use dtc_crypto::password::KdfParams;
use libfuzzer_sys::fuzz_target;

const LINK_ID: [u8; 16] = [
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
];
const FILE_ID: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

/// Returns bytes 0x00 to 0x1f, the file key of `links.json` cases 0 to 2.
fn file_key_bytes() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Returns bytes 0x20 to 0x3f, the link secret of `links.json` cases 0 to 2.
fn link_secret_bytes() -> [u8; LINK_SECRET_LEN] {
    std::array::from_fn(|i| 0x20 + i as u8)
}

/// Derives the keys of the link without a password and of the password link, once.
fn keys() -> &'static [LinkKeys; 2] {
    static KEYS: OnceLock<[LinkKeys; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let secret = LinkSecret::from_bytes(&link_secret_bytes()).expect("32 bytes");
        let password = LinkPassword {
            password: "correct horse battery staple",
            salt: b"0123456789abcdef",
            params: KdfParams {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1,
            },
        };
        [
            LinkKeys::derive(&secret, &LINK_ID, None).expect("valid link inputs"),
            LinkKeys::derive(&secret, &LINK_ID, Some(password)).expect("valid link inputs"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let file_key = FileKey::from_bytes(&file_key_bytes()).expect("32 bytes");
    // Only the authentic values of the vector files open, so anything else is a forgery.
    for keys in keys() {
        if let Ok(opened) = link::unwrap_file_key(keys, &LINK_ID, &FILE_ID, data) {
            assert_eq!(data.len(), SEALED_LEN);
            assert_eq!(opened.expose_secret_bytes(), file_key.expose_secret_bytes());
        }
    }
    if let Ok(secret) = link::open_link_secret(&file_key, &LINK_ID, data) {
        assert_eq!(data.len(), SEALED_LEN);
        assert_eq!(secret.expose_secret_bytes(), &link_secret_bytes());
    }
    assert_eq!(
        LinkSecret::from_bytes(data).is_ok(),
        data.len() == LINK_SECRET_LEN
    );
    assert_eq!(
        link::AccessKey::from_bytes(data).is_ok(),
        data.len() == link::ACCESS_KEY_LEN
    );
});

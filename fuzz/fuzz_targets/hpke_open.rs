//! Opening a key exchange record: the first 65 bytes as `enc`, the rest as the sealed
//! key, opened by bob as sent by alice for the file id of `key_exchange.json`. Inputs of
//! other lengths go through the general HPKE recipient setup and open as well.
#![no_main]

use std::sync::OnceLock;

use dtc_crypto::exchange::{SealedFileKey, open_file_key, parse_file_id};
use dtc_crypto::hpke::{self, Aes256Gcm, PrivateKey};
use dtc_crypto::identity::{IdentitySecret, PublicKey};
use libfuzzer_sys::fuzz_target;

const ALICE: [u8; 32] = [
    0xc9, 0xaf, 0xa9, 0xd8, 0x45, 0xba, 0x75, 0x16, 0x6b, 0x5c, 0x21, 0x57, 0x67, 0xb1, 0xd6, 0x93,
    0x4e, 0x50, 0xc3, 0xdb, 0x36, 0xe8, 0x9b, 0x12, 0x7b, 0x8a, 0x62, 0x2b, 0x12, 0x0f, 0x67, 0x21,
];
const BOB: [u8; 32] = [0x42; 32];

struct Keys {
    bob: IdentitySecret,
    bob_hpke: PrivateKey,
    alice: PublicKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        bob: IdentitySecret::from_bytes(&BOB).expect("valid scalar"),
        bob_hpke: PrivateKey::from_bytes(&BOB).expect("valid scalar"),
        alice: IdentitySecret::from_bytes(&ALICE)
            .expect("valid scalar")
            .public_key(),
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let file_id = parse_file_id("00112233445566778899aabbccddeeff").expect("valid id");
    let (enc, sealed) = data.split_at(data.len().min(65));
    // Only the authentic record of key_exchange.json opens, so an opened key that is not
    // its file key (00 01 02 ... 1f) would be a forgery.
    if let Ok(record) = SealedFileKey::from_parts(enc, sealed)
        && let Ok(key) = open_file_key(&keys.bob, &keys.alice, &file_id, &record)
    {
        let expected: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(key.expose_secret_bytes(), &expected);
    }
    if let Ok(mut context) =
        hpke::setup_recipient::<Aes256Gcm>(enc, &keys.bob_hpke, b"", None, Some(&keys.alice))
    {
        let _ = context.open(b"", sealed);
    }
});

//! Whole-message chunked decryption of arbitrary bytes under the contents context and the
//! file key `01` x 32 of `contents.json`. A random commitment almost never matches, so the
//! input is also tried with its commitment replaced by the one its salt gives, which lets
//! the fuzzer reach the body-length and chunk checks.
#![no_main]

use dtc_crypto::chunked::{self, MessageKeys, SALT_LEN};
use dtc_crypto::file::CONTENTS_CONTEXT;
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [0x01; 32];

fuzz_target!(|data: &[u8]| {
    let _ = chunked::decrypt(&KEY, CONTENTS_CONTEXT, data);
    if data.len() < SALT_LEN + 32 {
        return;
    }
    let keys = MessageKeys::derive(&KEY, &data[..SALT_LEN], CONTENTS_CONTEXT).expect("valid salt");
    let mut message = data.to_vec();
    message[SALT_LEN..SALT_LEN + 32].copy_from_slice(keys.commitment());
    if let Ok(plaintext) = chunked::decrypt(&KEY, CONTENTS_CONTEXT, &message) {
        let again =
            chunked::encrypt_with_salt(&KEY, &data[..SALT_LEN], CONTENTS_CONTEXT, &plaintext)
                .expect("valid inputs");
        assert_eq!(again, message);
    }
});

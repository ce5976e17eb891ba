//! Part decryption as the download does it. Input: a 4-byte part index, an 8-byte claimed
//! ciphertext length (both big-endian), then the part bytes. Part 0 gets the authentic
//! header in front, so the fuzzer works on the chunks and the lengths.
#![no_main]

use std::sync::OnceLock;

use dtc_crypto::file::{ContentsDecryptor, ContentsEncryptor, FileKey};
use dtc_crypto::layout::PartLayout;
use libfuzzer_sys::fuzz_target;

fn file_key() -> &'static FileKey {
    static KEY: OnceLock<FileKey> = OnceLock::new();
    KEY.get_or_init(|| FileKey::from_bytes(&[0x01; 32]).expect("32 bytes"))
}

fn header() -> &'static [u8; 56] {
    static HEADER: OnceLock<[u8; 56]> = OnceLock::new();
    HEADER.get_or_init(|| {
        let layout = PartLayout::for_plaintext_len(0).expect("empty file");
        ContentsEncryptor::new(file_key(), &[0x5a; 24], layout)
            .expect("valid inputs")
            .header()
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let index = u32::from_be_bytes(data[..4].try_into().expect("4 bytes"));
    let claimed = u64::from_be_bytes(data[4..12].try_into().expect("8 bytes"));
    let Ok(layout) = PartLayout::from_ciphertext_len(claimed) else {
        return;
    };
    let decryptor = ContentsDecryptor::new(file_key(), header(), layout).expect("commitment");
    let mut part = Vec::with_capacity(56 + data.len() - 12);
    if index == 0 {
        part.extend_from_slice(header());
    }
    part.extend_from_slice(&data[12..]);
    if let Ok(plaintext) = decryptor.decrypt_part(index, &part) {
        let range = layout.part_plaintext_range(index).expect("index in range");
        assert_eq!(plaintext.len() as u64, range.end - range.start);
    }
});

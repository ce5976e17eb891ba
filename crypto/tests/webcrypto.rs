//! The WebCrypto path of file parts against the Rust path and the pinned vectors, in
//! the browser: both must give the same bytes, and tampering must fail the same way.
#![cfg(target_arch = "wasm32")]

mod common;
mod ours;

use dtc_crypto::CryptoError;
use dtc_crypto::chunked::HEADER_LEN;
use dtc_crypto::file::{ContentsDecryptor, ContentsEncryptor, FileKey};
use dtc_crypto::layout::{PART_PLAINTEXT_LEN, PartLayout};
use dtc_crypto::webcrypto;
use js_sys::Uint8Array;
use ours::*;
use wasm_bindgen_test::wasm_bindgen_test as test;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Lengths around the chunk and part boundaries.
const LENGTHS: [u64; 9] = [
    0,
    1,
    16383,
    16384,
    16385,
    PART_PLAINTEXT_LEN - 1,
    PART_PLAINTEXT_LEN,
    PART_PLAINTEXT_LEN + 1,
    2 * PART_PLAINTEXT_LEN + 20000,
];

fn part_plaintext(plaintext: &[u8], layout: PartLayout, index: u32) -> &[u8] {
    let range = layout.part_plaintext_range(index).expect("index in range");
    &plaintext[range.start as usize..range.end as usize]
}

/// Returns a file of one full part and a second of 40000 bytes, with its layout and
/// the codecs of a new key and salt.
fn two_part_file() -> (Vec<u8>, PartLayout, ContentsEncryptor, ContentsDecryptor) {
    let key = FileKey::generate();
    let len = PART_PLAINTEXT_LEN + 40000;
    let layout = PartLayout::for_plaintext_len(len).expect("length within the maximum");
    let encryptor =
        ContentsEncryptor::new(&key, &ContentsEncryptor::random_salt(), layout).expect("salt");
    let decryptor = ContentsDecryptor::new(&key, &encryptor.header(), layout).expect("header");
    (pattern(len), layout, encryptor, decryptor)
}

#[test]
async fn webcrypto_parts_equal_rust_parts_at_every_boundary() {
    assert!(webcrypto::available(), "the test page has no crypto.subtle");
    let key = FileKey::generate();
    let salt = ContentsEncryptor::random_salt();
    for len in LENGTHS {
        let plaintext = pattern(len);
        let layout = PartLayout::for_plaintext_len(len).expect("length within the maximum");
        let encryptor = ContentsEncryptor::new(&key, &salt, layout).expect("valid salt");
        let decryptor =
            ContentsDecryptor::new(&key, &encryptor.header(), layout).expect("own header");
        for index in 0..layout.part_count() {
            let input = part_plaintext(&plaintext, layout, index);
            let rust = encryptor.encrypt_part(index, input).expect("right length");
            let browser = webcrypto::encrypt_part(&encryptor, index, &Uint8Array::from(input))
                .await
                .expect("WebCrypto encrypts");
            assert!(
                browser.to_vec() == rust,
                "length {len}, part {index}: WebCrypto ciphertext differs from the Rust one"
            );
            let opened = webcrypto::decrypt_part(&decryptor, index, &Uint8Array::from(&rust[..]))
                .await
                .expect("authentic part");
            assert!(
                opened.to_vec() == input,
                "length {len}, part {index}: WebCrypto plaintext differs"
            );
        }
    }
}

#[test]
async fn webcrypto_reproduces_the_pinned_part_vectors() {
    let file: VectorFile<ContentsPartsCase> =
        serde_json::from_str(include_str!("vectors/ours/contents_parts.json")).expect("json");
    for case in &file.cases {
        let layout = PartLayout::for_plaintext_len(case.plaintext_len).expect("valid length");
        let salt = from_hex(&case.salt);
        let encryptor = ContentsEncryptor::new(&case.key(), &salt, layout).expect("valid salt");
        let header = from_hex(&case.header);
        let decryptor = ContentsDecryptor::new(&case.key(), &header, layout).expect("commitment");
        let plaintext = pattern(case.plaintext_len);
        for pinned in &case.parts {
            let input = part_plaintext(&plaintext, layout, pinned.index);
            let part = webcrypto::encrypt_part(&encryptor, pinned.index, &Uint8Array::from(input))
                .await
                .expect("WebCrypto encrypts")
                .to_vec();
            assert_eq!(
                sha256_hex(&part),
                pinned.sha256,
                "{} part {}",
                case.name,
                pinned.index
            );
            let opened =
                webcrypto::decrypt_part(&decryptor, pinned.index, &Uint8Array::from(&part[..]))
                    .await
                    .expect("authentic part");
            assert!(
                opened.to_vec() == input,
                "{} part {}",
                case.name,
                pinned.index
            );
        }
    }
}

#[test]
async fn webcrypto_rejects_what_the_rust_path_rejects() {
    let (plaintext, layout, encryptor, decryptor) = two_part_file();
    let part = encryptor
        .encrypt_part(1, part_plaintext(&plaintext, layout, 1))
        .expect("right length");

    // A flipped byte in chunk 258 (the third chunk of part 1).
    let mut tampered = part.clone();
    tampered[2 * 16400 + 7] ^= 1;
    let error = webcrypto::decrypt_part(&decryptor, 1, &Uint8Array::from(&tampered[..]))
        .await
        .expect_err("tampered chunk");
    assert!(
        matches!(error, CryptoError::ChunkAuthenticationFailed { index: 258 }),
        "{error}"
    );

    let truncated = &part[..part.len() - 1];
    let error = webcrypto::decrypt_part(&decryptor, 1, &Uint8Array::from(truncated))
        .await
        .expect_err("truncated part");
    assert!(
        matches!(error, CryptoError::InvalidPartLength { index: 1, .. }),
        "{error}"
    );

    // Part 1 offered as part 2 fails on its length; offered as part 0 on the header.
    let part0 = encryptor
        .encrypt_part(0, part_plaintext(&plaintext, layout, 0))
        .expect("right length");
    let mut other_header = part0.clone();
    other_header[..HEADER_LEN as usize].copy_from_slice(&[7; HEADER_LEN as usize]);
    let error = webcrypto::decrypt_part(&decryptor, 0, &Uint8Array::from(&other_header[..]))
        .await
        .expect_err("foreign header");
    assert!(matches!(error, CryptoError::HeaderMismatch), "{error}");

    let error = webcrypto::encrypt_part(&encryptor, 1, &Uint8Array::new_with_length(5))
        .await
        .expect_err("plaintext of the wrong length");
    assert!(
        matches!(error, CryptoError::InvalidPartLength { index: 1, .. }),
        "{error}"
    );
}

#[test]
async fn in_place_decryption_reuses_the_buffer() {
    let (plaintext, layout, encryptor, decryptor) = two_part_file();
    for index in 0..layout.part_count() {
        let input = part_plaintext(&plaintext, layout, index);
        let part = encryptor.encrypt_part(index, input).expect("right length");
        let ciphertext = Uint8Array::from(&part[..]);
        let opened = webcrypto::decrypt_part_in_place(&decryptor, index, &ciphertext)
            .await
            .expect("authentic part");
        assert!(opened.to_vec() == input, "part {index}: wrong plaintext");
        assert_eq!(opened.byte_offset(), 0, "part {index}");
        assert!(
            opened.buffer() == ciphertext.buffer(),
            "part {index}: the plaintext is not in the ciphertext's buffer"
        );
    }
}

#[test]
async fn failed_in_place_decryption_zeroes_the_buffer() {
    let (plaintext, layout, encryptor, decryptor) = two_part_file();
    let mut part = encryptor
        .encrypt_part(0, part_plaintext(&plaintext, layout, 0))
        .expect("right length");
    // A flipped byte in the last chunk, after every other chunk decrypted.
    let last = part.len() - 3;
    part[last] ^= 1;

    let ciphertext = Uint8Array::from(&part[..]);
    let error = webcrypto::decrypt_part_in_place(&decryptor, 0, &ciphertext)
        .await
        .expect_err("tampered chunk");
    assert!(
        matches!(error, CryptoError::ChunkAuthenticationFailed { index: 255 }),
        "{error}"
    );
    assert!(
        ciphertext.to_vec().iter().all(|&byte| byte == 0),
        "plaintext of a failed part is left in the buffer"
    );
}

//! Part layout from an untrusted ciphertext length (the first 8 input bytes, big-endian):
//! any length is rejected or gives a layout whose parts add up to it.
#![no_main]

use dtc_crypto::layout::PartLayout;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = [0u8; 8];
    let n = data.len().min(8);
    bytes[..n].copy_from_slice(&data[..n]);
    let len = u64::from_be_bytes(bytes);
    let Ok(layout) = PartLayout::from_ciphertext_len(len) else {
        return;
    };
    assert_eq!(layout.ciphertext_len(), len);
    let last = layout.part_count() - 1;
    let offset = layout
        .part_ciphertext_offset(last)
        .expect("last part in range");
    let final_len = layout
        .part_ciphertext_len(last)
        .expect("last part in range");
    assert_eq!(offset + final_len, len);
    let plaintext = layout
        .part_plaintext_range(last)
        .expect("last part in range");
    assert_eq!(plaintext.end, layout.plaintext_len());
    let chunks = layout.part_chunk_range(last).expect("last part in range");
    assert_eq!(chunks.end, layout.chunk_count());
    assert!(layout.part_ciphertext_len(layout.part_count()).is_err());
});

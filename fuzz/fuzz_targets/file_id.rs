//! File id parsing: any text is rejected or formats back to itself.
#![no_main]

use dtc_crypto::exchange::{format_file_id, parse_file_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(id) = parse_file_id(&text) {
        assert_eq!(format_file_id(&id), text);
    }
});

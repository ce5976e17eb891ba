//! Helpers shared by the published-vector tests.

#![allow(dead_code)]

use serde::Deserialize;

/// Decodes a hex string from a vector file; panics on malformed test data.
pub fn hex(text: &str) -> Vec<u8> {
    assert!(
        text.len().is_multiple_of(2),
        "odd-length hex in a vector file: {text}"
    );
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit in a vector file"))
        .collect()
}

/// The outer shape of every Wycheproof file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WycheproofFile<G> {
    pub algorithm: String,
    pub number_of_tests: usize,
    pub test_groups: Vec<G>,
}

/// The Wycheproof `result` field (common.json).
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    Valid,
    Invalid,
    Acceptable,
}

/// Prints a line of test output: to stdout natively, to the browser console in wasm.
#[macro_export]
macro_rules! report {
    ($($arg:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!($($arg)*);
        #[cfg(not(target_arch = "wasm32"))]
        println!($($arg)*);
    }};
}

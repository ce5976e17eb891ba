//! The WebAssembly entry point of data-transfer-cloud.
//!
//! The page and the encryption worker load this same module. On the page the start
//! function mounts the Leptos app; in the worker there is no `window`, so it mounts
//! nothing and `worker.js` calls the functions exported from [`worker`].

use wasm_bindgen::prelude::*;

pub mod link;
pub mod worker;

/// Reads and encrypts `file` with the page's own send pipeline (part workers and
/// WebCrypto) and drops the ciphertext; returns the ciphertext bytes produced. The
/// encryption benchmark in `bench/` calls it to measure the pipeline on its own.
#[wasm_bindgen]
pub async fn encrypt_without_sending(file: web_sys::Blob) -> Result<f64, JsError> {
    dtc_app::ui::encrypt_without_sending(&file)
        .await
        .map(|bytes| bytes as f64)
        .map_err(|error| JsError::new(&error.to_string()))
}

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    if web_sys::window().is_some() {
        leptos::mount::mount_to_body(dtc_app::ui::App);
    }
}

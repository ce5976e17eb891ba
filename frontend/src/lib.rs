//! The WebAssembly entry point of data-transfer-cloud.
//!
//! The page and the encryption worker load this same module. On the page the start
//! function mounts the Leptos app; in the worker there is no `window`, so it mounts
//! nothing and `worker.js` calls the functions exported from [`worker`].

use wasm_bindgen::prelude::*;

pub mod link;
pub mod worker;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    if web_sys::window().is_some() {
        leptos::mount::mount_to_body(dtc_app::ui::App);
    }
}

//! The data-transfer-cloud web app: the JSON API shared by page and server, and,
//! with the `csr` feature, the Leptos pages that run in the browser.

pub mod api;
mod client;
mod error;
pub mod quota;
mod wire;

#[cfg(feature = "csr")]
pub mod ui;

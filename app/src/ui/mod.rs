//! The pages that run in the browser: the app shell and router, one module per
//! page, the transfer pipeline and the bridge to the encryption worker.
//!
//! Every key operation runs here or in the worker, never on the server: the server
//! receives usernames, public keys, wrapped keys, login keys and ciphertext only.

mod account;
mod components;
mod download;
mod error;
mod file_name;
mod file_picker;
mod files;
mod format;
mod link_keys;
mod link_view;
mod links;
mod pages;
mod resume;
mod save;
mod save_all;
mod session;
mod shell;
mod stream_save;
mod transport;
mod upload;
mod worker;
mod zip;

pub use shell::App;
pub use upload::encrypt_without_sending;

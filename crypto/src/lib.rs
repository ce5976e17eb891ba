//! The data-transfer-cloud crypto core: pure functions and types over byte buffers,
//! with no I/O, built for the native target and for `wasm32-unknown-unknown`.
//!
//! The byte-level format of everything this crate reads and writes (keys, the wrapped
//! identity key, contents and metadata messages, upload parts, key exchange records) is
//! specified, with what a decoder must reject, in `docs/format.md` at the repository root.
//!
//! - [`identity`]: P-256 identity keys, SEC1 public keys and their fingerprints.
//! - [`password`]: Argon2id + HKDF-SHA256 password keys and the wrapped identity key.
//! - [`chunked`]: C2SP chunked encryption, instantiation Cobblestone-256.
//! - [`layout`]: how a contents ciphertext is cut into upload parts.
//! - [`file`](mod@file): file keys, part-wise contents encryption and metadata encryption.
//! - [`metadata`]: the metadata plaintext encoding.
//! - [`hpke`]: RFC 9180 HPKE with DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and AES-GCM.
//! - [`exchange`]: the file key sealed to an account with HPKE Auth mode.
//! - [`link`]: share-link secrets, the optional link password and the wrapped file key.
//! - [`kdf`]: HKDF-Expand for a PRK shorter than the hash output, as chunked encryption needs.
//! - `webcrypto` (WebAssembly only): file parts with the AES-GCM step run by the
//!   browser's WebCrypto, byte for byte the same as the Rust path.

pub mod chunked;
pub mod error;
pub mod exchange;
pub mod file;
pub mod hpke;
pub mod identity;
pub mod kdf;
pub mod layout;
pub mod link;
pub mod metadata;
pub mod password;
mod random;
mod secret;
#[cfg(target_arch = "wasm32")]
pub mod webcrypto;

pub use error::CryptoError;

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

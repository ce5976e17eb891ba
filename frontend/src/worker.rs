//! The functions the encryption worker runs: thin wrappers over `dtc-crypto` that
//! take and return byte arrays and turn every crypto error into a `JsError` with
//! that error's message.
//!
//! Argon2id needs the password keys twice during a login, first for the login key
//! and again for the wrapping key once the server has sent the wrapped identity key.
//! The worker keeps each derived wrapping key under a slot number the page chooses,
//! until the page calls [`forget_password_keys`], so Argon2id runs once per login.

use std::cell::RefCell;
use std::collections::HashMap;

use dtc_crypto::CryptoError;
use dtc_crypto::file::{ContentsDecryptor, ContentsEncryptor, FileKey};
use dtc_crypto::identity::IdentitySecret;
use dtc_crypto::layout::PartLayout;
use dtc_crypto::password::{self, KdfParams, PasswordKeys, WrappingKey};
#[cfg(target_arch = "wasm32")]
use dtc_crypto::webcrypto;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

/// The largest integer a JavaScript number represents exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

thread_local! {
    static WRAPPING_KEYS: RefCell<HashMap<u32, WrappingKey>> = RefCell::new(HashMap::new());
}

pub(crate) fn crypto_error(error: CryptoError) -> JsError {
    JsError::new(&error.to_string())
}

/// Converts a byte length sent as a JavaScript number, rejecting fractions,
/// negative values and values past 2^53 - 1.
fn length_from_js(value: f64, name: &str) -> Result<u64, JsError> {
    if !(0.0..=MAX_SAFE_INTEGER).contains(&value) || value.fract() != 0.0 {
        return Err(JsError::new(&format!(
            "invalid {name} {value}; expected a whole number of bytes"
        )));
    }
    // The range check above makes this conversion exact.
    Ok(value as u64)
}

fn missing_slot(slot: u32) -> JsError {
    JsError::new(&format!(
        "password keys in slot {slot} not found in the worker; derive them again"
    ))
}

/// Runs Argon2id and HKDF over the password, keeps the wrapping key in `slot` and
/// returns the 32-byte login key.
#[wasm_bindgen]
pub fn derive_password_keys(
    slot: u32,
    password: &str,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<Vec<u8>, JsError> {
    let params = KdfParams {
        memory_kib,
        iterations,
        parallelism,
    };
    let keys = PasswordKeys::derive(password, salt, params).map_err(crypto_error)?;
    let login_key = keys.login.expose_secret_bytes().to_vec();
    WRAPPING_KEYS.with(|slots| slots.borrow_mut().insert(slot, keys.wrapping));
    Ok(login_key)
}

/// Encrypts a 32-byte identity private key under the wrapping key in `slot`.
#[wasm_bindgen]
pub fn wrap_identity(slot: u32, secret: &[u8], username: &str) -> Result<Vec<u8>, JsError> {
    let identity = IdentitySecret::from_bytes(secret).map_err(crypto_error)?;
    WRAPPING_KEYS.with(|slots| {
        let slots = slots.borrow();
        let key = slots.get(&slot).ok_or_else(|| missing_slot(slot))?;
        Ok(password::wrap_identity(key, &identity, username))
    })
}

/// Decrypts a wrapped identity key with the wrapping key in `slot` and returns the
/// 32-byte private scalar.
#[wasm_bindgen]
pub fn unwrap_identity(slot: u32, wrapped: &[u8], username: &str) -> Result<Vec<u8>, JsError> {
    WRAPPING_KEYS.with(|slots| {
        let slots = slots.borrow();
        let key = slots.get(&slot).ok_or_else(|| missing_slot(slot))?;
        let identity = password::unwrap_identity(key, wrapped, username).map_err(crypto_error)?;
        Ok(identity.expose_secret_bytes().to_vec())
    })
}

/// Drops the wrapping key in `slot`; a slot that is already empty is not an error.
#[wasm_bindgen]
pub fn forget_password_keys(slot: u32) {
    WRAPPING_KEYS.with(|slots| slots.borrow_mut().remove(&slot));
}

/// Encrypts part `index` of a file of `plaintext_len` bytes. `plaintext` is exactly
/// that part's plaintext range, and part 0 comes back with the 56-byte header in front.
/// The AES-GCM step runs in the browser's WebCrypto where this context has it, and in
/// Rust otherwise. Both give the same bytes. The part comes back as an array of its
/// pieces in order, which the page wraps in a `Blob` without joining them first.
#[wasm_bindgen]
pub async fn encrypt_part(
    file_key: Vec<u8>,
    salt: Vec<u8>,
    plaintext_len: f64,
    index: u32,
    plaintext: Uint8Array,
) -> Result<Array, JsError> {
    let encryptor = contents_encryptor(&file_key, &salt, plaintext_len)?;
    #[cfg(target_arch = "wasm32")]
    if webcrypto::available() {
        return webcrypto::encrypt_part_pieces(&encryptor, index, &plaintext)
            .await
            .map_err(crypto_error);
    }
    let part = encryptor
        .encrypt_part(index, &plaintext.to_vec())
        .map_err(crypto_error)?;
    Ok(Array::of1(&Uint8Array::from(&part[..])))
}

/// Decrypts and verifies part `index` of a contents ciphertext of `ciphertext_len`
/// bytes; `header` is the first 56 bytes of part 0. Like [`encrypt_part`], through
/// WebCrypto where this context has it, which writes the plaintext over the start of
/// `ciphertext` and returns a view of those bytes.
#[wasm_bindgen]
pub async fn decrypt_part(
    file_key: Vec<u8>,
    header: Vec<u8>,
    ciphertext_len: f64,
    index: u32,
    ciphertext: Uint8Array,
) -> Result<Uint8Array, JsError> {
    let decryptor = contents_decryptor(&file_key, &header, ciphertext_len)?;
    #[cfg(target_arch = "wasm32")]
    if webcrypto::available() {
        return webcrypto::decrypt_part_in_place(&decryptor, index, &ciphertext)
            .await
            .map_err(crypto_error);
    }
    let plaintext = Zeroizing::new(
        decryptor
            .decrypt_part(index, &ciphertext.to_vec())
            .map_err(crypto_error)?,
    );
    Ok(Uint8Array::from(&plaintext[..]))
}

fn contents_encryptor(
    file_key: &[u8],
    salt: &[u8],
    plaintext_len: f64,
) -> Result<ContentsEncryptor, JsError> {
    let layout = PartLayout::for_plaintext_len(length_from_js(plaintext_len, "file size")?)
        .map_err(crypto_error)?;
    let key = FileKey::from_bytes(file_key).map_err(crypto_error)?;
    ContentsEncryptor::new(&key, salt, layout).map_err(crypto_error)
}

fn contents_decryptor(
    file_key: &[u8],
    header: &[u8],
    ciphertext_len: f64,
) -> Result<ContentsDecryptor, JsError> {
    let layout =
        PartLayout::from_ciphertext_len(length_from_js(ciphertext_len, "ciphertext length")?)
            .map_err(crypto_error)?;
    let key = FileKey::from_bytes(file_key).map_err(crypto_error)?;
    ContentsDecryptor::new(&key, header, layout).map_err(crypto_error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The cheapest parameters the crypto crate accepts, to keep the test fast.
    const CHEAP: KdfParams = KdfParams {
        memory_kib: 19456,
        iterations: 2,
        parallelism: 1,
    };

    #[test]
    fn parts_round_trip_through_the_worker_helpers() {
        let plaintext: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        let length = plaintext.len() as f64;
        let key = FileKey::generate();
        let salt = ContentsEncryptor::random_salt();
        let layout = PartLayout::for_plaintext_len(plaintext.len() as u64).unwrap();

        let mut parts = Vec::new();
        for index in 0..layout.part_count() {
            let range = layout.part_plaintext_range(index).unwrap();
            let slice = &plaintext[range.start as usize..range.end as usize];
            let part = contents_encryptor(key.expose_secret_bytes(), &salt, length)
                .unwrap()
                .encrypt_part(index, slice)
                .unwrap();
            parts.push(part);
        }
        assert_eq!(parts.len(), 2);

        let ciphertext_len = layout.ciphertext_len() as f64;
        let header = parts[0][..56].to_vec();
        let mut decrypted = Vec::new();
        for (index, part) in parts.iter().enumerate() {
            let index = u32::try_from(index).unwrap();
            let bytes = contents_decryptor(key.expose_secret_bytes(), &header, ciphertext_len)
                .unwrap()
                .decrypt_part(index, part)
                .unwrap();
            decrypted.extend_from_slice(&bytes);
        }
        assert!(
            decrypted == plaintext,
            "decrypted parts differ from the plaintext"
        );
    }

    #[test]
    fn password_slot_wraps_and_unwraps_identity() {
        let identity = IdentitySecret::generate();
        let salt = password::random_salt();
        let login_key = derive_password_keys(
            7,
            "long enough password",
            &salt,
            CHEAP.memory_kib,
            CHEAP.iterations,
            CHEAP.parallelism,
        )
        .unwrap();
        assert_eq!(login_key.len(), 32);

        let wrapped = wrap_identity(7, identity.expose_secret_bytes().as_slice(), "alice").unwrap();
        let secret = unwrap_identity(7, &wrapped, "alice").unwrap();
        assert_eq!(secret.as_slice(), identity.expose_secret_bytes().as_slice());

        forget_password_keys(7);
        let emptied = WRAPPING_KEYS.with(|slots| slots.borrow().contains_key(&7));
        assert!(
            !emptied,
            "slot 7 still holds a wrapping key after forget_password_keys"
        );
    }
}

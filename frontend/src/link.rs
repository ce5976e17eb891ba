//! The share-link functions the encryption worker runs.
//!
//! Making a link returns everything the page sends to the server plus the link id
//! and secret it shows in the URL. Opening a link takes two steps with a server
//! request between them. First [`derive_link_keys`] returns the gate and access keys
//! and keeps the derived keys under a slot number the page chooses. Then
//! [`unwrap_link_file_key`] opens the wrapped file key that the server returned.

use std::cell::RefCell;
use std::collections::HashMap;

use dtc_crypto::exchange::FILE_ID_LEN;
use dtc_crypto::file::FileKey;
use dtc_crypto::link::{
    self, LINK_ID_LEN, LINK_SECRET_LEN, LinkKeys, LinkPassword, LinkSecret, SEALED_LEN,
};
use dtc_crypto::password::KdfParams;
use wasm_bindgen::prelude::*;

use crate::worker::crypto_error;

/// Length of [`create_link_keys`]'s result: link id, secret, gate key, access key,
/// wrapped file key and sealed secret, in that order.
pub const CREATED_LINK_LEN: usize =
    LINK_ID_LEN + LINK_SECRET_LEN + 2 * link::ACCESS_KEY_LEN + 2 * SEALED_LEN;

/// Length of [`derive_link_keys`]'s result: gate key, then access key.
pub const DERIVED_LINK_LEN: usize = 2 * link::ACCESS_KEY_LEN;

thread_local! {
    static LINK_KEYS: RefCell<HashMap<u32, LinkKeys>> = RefCell::new(HashMap::new());
}

fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], JsError> {
    bytes.try_into().map_err(|_| {
        JsError::new(&format!(
            "invalid {what}: {} bytes where {N} were expected",
            bytes.len()
        ))
    })
}

/// Runs [`LinkKeys::derive`] with the password, salt and cost as the page sends them.
fn derive_keys(
    secret: &LinkSecret,
    link_id: &[u8; LINK_ID_LEN],
    password: Option<&str>,
    salt: &[u8],
    params: KdfParams,
) -> Result<LinkKeys, JsError> {
    let password = password.map(|password| LinkPassword {
        password,
        salt,
        params,
    });
    LinkKeys::derive(secret, link_id, password).map_err(crypto_error)
}

/// Makes a new share link for a file: picks the link id and secret, derives the keys
/// (Argon2id when `password` is given) and returns link id || secret || gate key ||
/// access key || wrapped file key || sealed secret (`CREATED_LINK_LEN` bytes).
#[wasm_bindgen]
pub fn create_link_keys(
    file_key: &[u8],
    file_id: &[u8],
    password: Option<String>,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<Vec<u8>, JsError> {
    let file_key = FileKey::from_bytes(file_key).map_err(crypto_error)?;
    let file_id: [u8; FILE_ID_LEN] = fixed(file_id, "file id")?;
    let mut link_id = [0u8; LINK_ID_LEN];
    getrandom::fill(&mut link_id)
        .map_err(|err| JsError::new(&format!("the random number generator failed: {err}")))?;
    let secret = LinkSecret::generate();
    let params = KdfParams {
        memory_kib,
        iterations,
        parallelism,
    };
    let keys = derive_keys(&secret, &link_id, password.as_deref(), salt, params)?;

    let mut out = Vec::with_capacity(CREATED_LINK_LEN);
    out.extend_from_slice(&link_id);
    out.extend_from_slice(secret.expose_secret_bytes());
    out.extend_from_slice(keys.gate.expose_secret_bytes());
    out.extend_from_slice(keys.access.expose_secret_bytes());
    out.extend_from_slice(&link::wrap_file_key(&keys, &link_id, &file_id, &file_key));
    out.extend_from_slice(&link::seal_link_secret(&file_key, &link_id, &secret));
    Ok(out)
}

/// Derives the keys of a link from its secret and optional password, keeps them in
/// `slot` and returns the gate key followed by the access key (`DERIVED_LINK_LEN`
/// bytes).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn derive_link_keys(
    slot: u32,
    secret: &[u8],
    link_id: &[u8],
    password: Option<String>,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<Vec<u8>, JsError> {
    let secret = LinkSecret::from_bytes(secret).map_err(crypto_error)?;
    let link_id: [u8; LINK_ID_LEN] = fixed(link_id, "link id")?;
    let params = KdfParams {
        memory_kib,
        iterations,
        parallelism,
    };
    let keys = derive_keys(&secret, &link_id, password.as_deref(), salt, params)?;
    let mut out = Vec::with_capacity(DERIVED_LINK_LEN);
    out.extend_from_slice(keys.gate.expose_secret_bytes());
    out.extend_from_slice(keys.access.expose_secret_bytes());
    LINK_KEYS.with(|slots| slots.borrow_mut().insert(slot, keys));
    Ok(out)
}

/// Opens the wrapped file key with the link keys in `slot`; returns the 32-byte file key.
#[wasm_bindgen]
pub fn unwrap_link_file_key(
    slot: u32,
    link_id: &[u8],
    file_id: &[u8],
    wrapped: &[u8],
) -> Result<Vec<u8>, JsError> {
    let link_id: [u8; LINK_ID_LEN] = fixed(link_id, "link id")?;
    let file_id: [u8; FILE_ID_LEN] = fixed(file_id, "file id")?;
    LINK_KEYS.with(|slots| {
        let slots = slots.borrow();
        let keys = slots.get(&slot).ok_or_else(|| {
            JsError::new(&format!(
                "link keys in slot {slot} not found in the worker; unlock the link again"
            ))
        })?;
        let file_key =
            link::unwrap_file_key(keys, &link_id, &file_id, wrapped).map_err(crypto_error)?;
        Ok(file_key.expose_secret_bytes().to_vec())
    })
}

/// Drops the link keys in `slot`; a slot that is already empty is not an error.
#[wasm_bindgen]
pub fn forget_link_keys(slot: u32) {
    LINK_KEYS.with(|slots| slots.borrow_mut().remove(&slot));
}

/// Opens the owner's sealed copy of a link secret with the file key; returns the
/// 32-byte secret.
#[wasm_bindgen]
pub fn open_link_secret(
    file_key: &[u8],
    link_id: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, JsError> {
    let file_key = FileKey::from_bytes(file_key).map_err(crypto_error)?;
    let link_id: [u8; LINK_ID_LEN] = fixed(link_id, "link id")?;
    let secret = link::open_link_secret(&file_key, &link_id, sealed).map_err(crypto_error)?;
    Ok(secret.expose_secret_bytes().to_vec())
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

    fn create(file_key: &FileKey, file_id: &[u8], password: Option<&str>) -> Vec<u8> {
        create_link_keys(
            file_key.expose_secret_bytes(),
            file_id,
            password.map(str::to_owned),
            &[0x44; 16],
            CHEAP.memory_kib,
            CHEAP.iterations,
            CHEAP.parallelism,
        )
        .unwrap()
    }

    fn derive(slot: u32, created: &[u8], password: Option<&str>) -> Vec<u8> {
        derive_link_keys(
            slot,
            &created[SECRET],
            &created[ID],
            password.map(str::to_owned),
            &[0x44; 16],
            CHEAP.memory_kib,
            CHEAP.iterations,
            CHEAP.parallelism,
        )
        .unwrap()
    }

    /// Byte ranges of the parts of [`create_link_keys`]'s result.
    const ID: std::ops::Range<usize> = 0..16;
    const SECRET: std::ops::Range<usize> = 16..48;
    const GATE: std::ops::Range<usize> = 48..80;
    const ACCESS: std::ops::Range<usize> = 80..112;
    const WRAPPED: std::ops::Range<usize> = 112..173;
    const SEALED: std::ops::Range<usize> = 173..234;

    #[test]
    fn link_opens_with_right_password_only() {
        let file_key = FileKey::generate();
        let file_id = [0x22; FILE_ID_LEN];
        let created = create(&file_key, &file_id, Some("link password"));
        assert_eq!(created.len(), CREATED_LINK_LEN);
        let (link_id, wrapped) = (&created[ID], &created[WRAPPED]);

        let derived = derive(3, &created, Some("link password"));
        assert_eq!(derived.len(), DERIVED_LINK_LEN);
        assert_eq!(&derived[..32], &created[GATE]);
        assert_eq!(&derived[32..], &created[ACCESS]);
        let opened = unwrap_link_file_key(3, link_id, &file_id, wrapped).unwrap();
        assert_eq!(opened.as_slice(), file_key.expose_secret_bytes().as_slice());

        // Error paths build a `JsError`, which works only on wasm32, so the native test
        // checks the wrong password through the access key alone.
        let wrong = derive(4, &created, Some("wrong password"));
        assert_ne!(&wrong[32..], &created[ACCESS]);
        forget_link_keys(3);
        let kept = LINK_KEYS.with(|slots| slots.borrow().contains_key(&3));
        assert!(!kept, "slot 3 still holds link keys after forget_link_keys");
    }

    #[test]
    fn gate_key_ignores_the_password() {
        let file_key = FileKey::generate();
        let created = create(&file_key, &[0x22; FILE_ID_LEN], Some("link password"));
        let wrong = derive(5, &created, Some("wrong password"));
        let none = derive(6, &created, None);
        assert_eq!(&wrong[..32], &created[GATE]);
        assert_eq!(&none[..32], &created[GATE]);
        assert_ne!(&created[GATE], &created[ACCESS]);
        forget_link_keys(5);
        forget_link_keys(6);
    }

    #[test]
    fn owner_copy_gives_back_the_secret() {
        let file_key = FileKey::generate();
        let created = create(&file_key, &[0x22; FILE_ID_LEN], None);
        let secret = open_link_secret(
            file_key.expose_secret_bytes(),
            &created[ID],
            &created[SEALED],
        )
        .unwrap();
        assert_eq!(secret.as_slice(), &created[SECRET]);
    }
}

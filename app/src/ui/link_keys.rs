//! The share-link operations of the encryption worker, seen from the page.

use std::rc::Rc;

use dtc_crypto::link::{ACCESS_KEY_LEN, LINK_ID_LEN, LINK_SECRET_LEN, SEALED_LEN};
use dtc_crypto::password::KdfParams;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsValue;

use super::error::UiError;
use super::worker::{CryptoWorker, KeySlot};

/// The worker's result for a new link. The secret goes into the URL fragment only.
pub struct CreatedLink {
    pub link_id: [u8; LINK_ID_LEN],
    pub secret: Vec<u8>,
    pub gate_key: Vec<u8>,
    pub access_key: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub sealed_secret: Vec<u8>,
}

/// The optional password of a link with its Argon2id salt and cost.
#[derive(Clone, Copy)]
pub struct PasswordInput<'a> {
    pub password: &'a str,
    pub salt: &'a [u8],
    pub params: KdfParams,
}

/// Appends the password, salt and cost arguments; `undefined` stands for no password.
fn push_password(args: &Array, password: Option<PasswordInput<'_>>) {
    let params = password.map_or(KdfParams::DEFAULT, |password| password.params);
    match password {
        Some(password) => {
            args.push(&JsValue::from_str(password.password));
            args.push(&Uint8Array::from(password.salt));
        }
        None => {
            args.push(&JsValue::UNDEFINED);
            args.push(&Uint8Array::new_with_length(0));
        }
    }
    args.push(&JsValue::from(params.memory_kib));
    args.push(&JsValue::from(params.iterations));
    args.push(&JsValue::from(params.parallelism));
}

/// Rejects a worker result whose length is not `expected` bytes.
fn check_len(bytes: &[u8], expected: usize, operation: &'static str) -> Result<(), UiError> {
    if bytes.len() == expected {
        return Ok(());
    }
    Err(UiError::WorkerOperation {
        operation,
        message: format!(
            "{} bytes returned where {expected} were expected",
            bytes.len()
        ),
    })
}

fn split_created(bytes: &[u8]) -> Result<CreatedLink, UiError> {
    let expected = LINK_ID_LEN + LINK_SECRET_LEN + 2 * ACCESS_KEY_LEN + 2 * SEALED_LEN;
    check_len(bytes, expected, "making the link keys")?;
    let (link_id, rest) = bytes.split_at(LINK_ID_LEN);
    let (secret, rest) = rest.split_at(LINK_SECRET_LEN);
    let (gate_key, rest) = rest.split_at(ACCESS_KEY_LEN);
    let (access_key, rest) = rest.split_at(ACCESS_KEY_LEN);
    let (wrapped_key, sealed_secret) = rest.split_at(SEALED_LEN);
    let mut id = [0u8; LINK_ID_LEN];
    id.copy_from_slice(link_id);
    Ok(CreatedLink {
        link_id: id,
        secret: secret.to_vec(),
        gate_key: gate_key.to_vec(),
        access_key: access_key.to_vec(),
        wrapped_key: wrapped_key.to_vec(),
        sealed_secret: sealed_secret.to_vec(),
    })
}

/// The keys a browser sends to unlock a link: the gate key proves the secret, the
/// access key proves the secret and the password.
pub struct DerivedLinkKeys {
    pub gate_key: Vec<u8>,
    pub access_key: Vec<u8>,
}

fn split_derived(bytes: &[u8]) -> Result<DerivedLinkKeys, UiError> {
    check_len(bytes, 2 * ACCESS_KEY_LEN, "deriving the link keys")?;
    let (gate_key, access_key) = bytes.split_at(ACCESS_KEY_LEN);
    Ok(DerivedLinkKeys {
        gate_key: gate_key.to_vec(),
        access_key: access_key.to_vec(),
    })
}

impl CryptoWorker {
    /// Picks a link id and secret for a file and derives everything the server stores
    /// for the link. With a password this runs Argon2id.
    pub async fn create_link_keys(
        &self,
        file_key: &[u8],
        file_id: &[u8],
        password: Option<PasswordInput<'_>>,
    ) -> Result<CreatedLink, UiError> {
        let args = Array::of2(&Uint8Array::from(file_key), &Uint8Array::from(file_id));
        push_password(&args, password);
        let bytes = self
            .call_for_bytes("create_link_keys", args, Array::new())
            .await?;
        split_created(&bytes.to_vec())
    }

    /// Derives a link's keys from its secret and optional password. Returns the gate
    /// and access keys and the slot under which the worker keeps the keys until the slot
    /// is dropped.
    pub async fn derive_link_keys(
        self: &Rc<Self>,
        secret: &[u8],
        link_id: &[u8],
        password: Option<PasswordInput<'_>>,
    ) -> Result<(KeySlot, DerivedLinkKeys), UiError> {
        let slot = KeySlot {
            id: self.allocate_id(),
            forget: "forget_link_keys",
            worker: Rc::clone(self),
        };
        let args = Array::of3(
            &slot.id.into(),
            &Uint8Array::from(secret),
            &Uint8Array::from(link_id),
        );
        push_password(&args, password);
        let bytes = self
            .call_for_bytes("derive_link_keys", args, Array::new())
            .await?;
        Ok((slot, split_derived(&bytes.to_vec())?))
    }

    /// Opens a link's wrapped file key with the keys in `slot`; returns the file key.
    pub async fn unwrap_link_file_key(
        &self,
        slot: &KeySlot,
        link_id: &[u8],
        file_id: &[u8],
        wrapped: &[u8],
    ) -> Result<Vec<u8>, UiError> {
        let args = Array::of4(
            &slot.id.into(),
            &Uint8Array::from(link_id),
            &Uint8Array::from(file_id),
            &Uint8Array::from(wrapped),
        );
        Ok(self
            .call_for_bytes("unwrap_link_file_key", args, Array::new())
            .await?
            .to_vec())
    }

    /// Opens the owner's sealed copy of a link secret; returns the secret.
    pub async fn open_link_secret(
        &self,
        file_key: &[u8],
        link_id: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, UiError> {
        let args = Array::of3(
            &Uint8Array::from(file_key),
            &Uint8Array::from(link_id),
            &Uint8Array::from(sealed),
        );
        Ok(self
            .call_for_bytes("open_link_secret", args, Array::new())
            .await?
            .to_vec())
    }
}

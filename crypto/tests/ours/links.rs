//! The share-link vector form (`links.json`). A link secret, link id and optional password
//! give the fragment, the gate key, the access key and their verifiers. With a file id, a
//! file key and fixed nonces they also give the wrapped file key and the owner's sealed
//! link secret.

use dtc_crypto::file::FileKey;
use dtc_crypto::link::{self, LINK_ID_LEN, LinkKeys, LinkPassword, LinkSecret};
use dtc_crypto::{CryptoError, exchange::FILE_ID_LEN};
use serde::{Deserialize, Serialize};

use super::{Params, array, from_hex, to_hex};

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes bytes as unpadded base64url (RFC 4648 section 5, no `=`), as the page writes
/// the link secret into the URL fragment.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let mut word = [0u8; 3];
        word[..group.len()].copy_from_slice(group);
        let bits = u32::from_be_bytes([0, word[0], word[1], word[2]]);
        for i in 0..=group.len() {
            out.push(BASE64URL[(bits >> (18 - 6 * i) & 0x3f) as usize] as char);
        }
    }
    out
}

/// The password of a password-protected link as the vector files spell it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct LinkPasswordInput {
    pub password: String,
    pub salt: String,
    pub params: Params,
}

impl LinkPasswordInput {
    /// Returns the input as the crate's type, borrowing `salt`, the decoded salt bytes.
    pub fn as_link_password<'a>(&'a self, salt: &'a [u8]) -> LinkPassword<'a> {
        LinkPassword {
            password: &self.password,
            salt,
            params: self.params.into(),
        }
    }
}

/// Derives the link keys of a vector, returning the crate's error for a bad input.
pub fn try_link_keys(
    link_secret: &str,
    link_id: &str,
    password: Option<&LinkPasswordInput>,
) -> Result<LinkKeys, CryptoError> {
    let secret = LinkSecret::from_bytes(&from_hex(link_secret))?;
    let salt = password.map(|p| from_hex(&p.salt));
    let password = password
        .zip(salt.as_deref())
        .map(|(p, salt)| p.as_link_password(salt));
    LinkKeys::derive(&secret, &array::<LINK_ID_LEN>(link_id), password)
}

/// Derives the link keys of a vector and panics on inputs a known-answer file must not contain.
pub fn link_keys(
    link_secret: &str,
    link_id: &str,
    password: Option<&LinkPasswordInput>,
) -> LinkKeys {
    try_link_keys(link_secret, link_id, password).expect("valid link inputs in a vector file")
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct LinkCase {
    pub name: String,
    pub link_id: String,
    pub link_secret: String,
    /// The link secret as the URL fragment: unpadded base64url, 43 characters.
    pub fragment: String,
    /// Absent for a link without a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<LinkPasswordInput>,
    /// Proves the link secret alone, so it is the same with and without a password.
    pub gate_key: String,
    /// SHA-256 of the gate key, which the server checks before the access key.
    pub gate_verifier: String,
    pub access_key: String,
    pub verifier: String,
    pub file_id: String,
    pub file_key: String,
    pub wrap_nonce: String,
    pub wrapped_key: String,
    pub seal_nonce: String,
    pub sealed_secret: String,
}

/// The inputs of one link vector.
pub struct LinkInputs<'a> {
    pub name: &'a str,
    pub link_id: &'a str,
    pub link_secret: &'a str,
    pub password: Option<LinkPasswordInput>,
    pub file_id: &'a str,
    pub file_key: &'a str,
    pub wrap_nonce: &'a str,
    pub seal_nonce: &'a str,
}

fn file_key(text: &str) -> FileKey {
    FileKey::from_bytes(&from_hex(text)).expect("32-byte file key in a vector file")
}

impl LinkCase {
    pub fn compute(inputs: LinkInputs<'_>) -> Self {
        let keys = link_keys(inputs.link_secret, inputs.link_id, inputs.password.as_ref());
        let link_id = array::<LINK_ID_LEN>(inputs.link_id);
        let file_id = array::<FILE_ID_LEN>(inputs.file_id);
        let key = file_key(inputs.file_key);
        let wrapped = link::wrap_file_key_with_nonce(
            &keys,
            &link_id,
            &file_id,
            &key,
            &array(inputs.wrap_nonce),
        );
        let secret = LinkSecret::from_bytes(&from_hex(inputs.link_secret))
            .expect("32-byte link secret in a vector file");
        let sealed =
            link::seal_link_secret_with_nonce(&key, &link_id, &secret, &array(inputs.seal_nonce));
        LinkCase {
            name: inputs.name.to_owned(),
            link_id: inputs.link_id.to_owned(),
            link_secret: inputs.link_secret.to_owned(),
            fragment: base64url(secret.expose_secret_bytes()),
            password: inputs.password,
            gate_key: to_hex(keys.gate.expose_secret_bytes()),
            gate_verifier: to_hex(&keys.gate.verifier()),
            access_key: to_hex(keys.access.expose_secret_bytes()),
            verifier: to_hex(&keys.access.verifier()),
            file_id: inputs.file_id.to_owned(),
            file_key: inputs.file_key.to_owned(),
            wrap_nonce: inputs.wrap_nonce.to_owned(),
            wrapped_key: to_hex(&wrapped),
            seal_nonce: inputs.seal_nonce.to_owned(),
            sealed_secret: to_hex(&sealed),
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(LinkInputs {
            name: &self.name,
            link_id: &self.link_id,
            link_secret: &self.link_secret,
            password: self.password.clone(),
            file_id: &self.file_id,
            file_key: &self.file_key,
            wrap_nonce: &self.wrap_nonce,
            seal_nonce: &self.seal_nonce,
        })
    }

    /// Checks the pinned keys against their verifiers and the pinned ciphertexts against
    /// the inputs. The gate key must be the one derived without the password.
    pub fn check_decode(&self) {
        let gate = link::AccessKey::from_bytes(&from_hex(&self.gate_key)).expect("32 bytes");
        let access = link::AccessKey::from_bytes(&from_hex(&self.access_key)).expect("32 bytes");

        assert!(
            gate.matches_verifier(&from_hex(&self.gate_verifier)),
            "{}: gate verifier",
            self.name
        );
        assert!(
            access.matches_verifier(&from_hex(&self.verifier)),
            "{}: verifier",
            self.name
        );
        assert!(
            !gate.matches_verifier(&from_hex(&self.verifier)),
            "{}: the gate key matches the access verifier",
            self.name
        );
        assert!(
            !access.matches_verifier(&from_hex(&self.gate_verifier)),
            "{}: the access key matches the gate verifier",
            self.name
        );

        let without_password = link_keys(&self.link_secret, &self.link_id, None);
        assert_eq!(
            to_hex(without_password.gate.expose_secret_bytes()),
            self.gate_key,
            "{}: the gate key depends on the password",
            self.name
        );

        let keys = link_keys(&self.link_secret, &self.link_id, self.password.as_ref());
        let link_id = array::<LINK_ID_LEN>(&self.link_id);
        let opened = link::unwrap_file_key(
            &keys,
            &link_id,
            &array(&self.file_id),
            &from_hex(&self.wrapped_key),
        )
        .expect("pinned wrapped key opens");
        assert_eq!(
            to_hex(opened.expose_secret_bytes()),
            self.file_key,
            "{}",
            self.name
        );

        let secret = link::open_link_secret(
            &file_key(&self.file_key),
            &link_id,
            &from_hex(&self.sealed_secret),
        )
        .expect("pinned sealed secret opens");
        assert_eq!(
            to_hex(secret.expose_secret_bytes()),
            self.link_secret,
            "{}",
            self.name
        );
    }
}

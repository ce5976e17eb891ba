//! Negative vectors: one file per defect, each naming the `CryptoError` variant (and, where
//! it matters, the fields) that every decoder of that input must return.

use dtc_crypto::CryptoError;
use dtc_crypto::chunked;
use dtc_crypto::exchange::{self, SealedFileKey};
use dtc_crypto::file::{CONTENTS_CONTEXT, ContentsDecryptor, FileKey, decrypt_metadata};
use dtc_crypto::identity::{IdentitySecret, PublicKey};
use dtc_crypto::layout::PartLayout;
use dtc_crypto::link;
use dtc_crypto::metadata::FileMetadata;
use dtc_crypto::password::{self, KdfParams};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::links::{LinkPasswordInput, link_keys, try_link_keys};
use super::{Params, array, from_hex, password_keys};

#[derive(Serialize, Deserialize)]
pub struct NegativeVector {
    /// What is wrong with the input, in one sentence.
    pub defect: String,
    /// The `CryptoError` variant every decoder of this input returns.
    pub expected_error: String,
    /// Fields of that variant that must match too; the others are not checked.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub expected_fields: Map<String, Value>,
    #[serde(flatten)]
    pub input: NegativeInput,
}

/// The input of a negative vector and the decoders it goes through.
#[derive(Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum NegativeInput {
    /// A whole contents ciphertext, as stored: decoded as one message and as the
    /// download decodes it, part by part with the layout from its length.
    Contents {
        file_key: String,
        ciphertext: String,
    },
    /// Parts of a pinned message from `contents_parts.json`, served in the order given:
    /// index i of the download gets part `served_parts[i]`. The claimed ciphertext length
    /// is the sum of the served parts.
    ContentsParts {
        base: String,
        served_parts: Vec<u32>,
    },
    /// One chunked-encryption message decoded whole under a context string.
    ChunkedMessage {
        file_key: String,
        context: String,
        ciphertext: String,
    },
    MetadataMessage {
        file_key: String,
        message: String,
    },
    MetadataPlaintext {
        encoded: String,
    },
    WrappedIdentity {
        password: String,
        salt: String,
        params: Params,
        username: String,
        wrapped: String,
    },
    /// A key exchange record opened by the holder of `recipient_scalar`, who believes
    /// that the account with `sender_public_key` sent it for `file_id`.
    KeyRecord {
        recipient_scalar: String,
        sender_public_key: String,
        file_id: String,
        enc: String,
        sealed_key: String,
    },
    PublicKey {
        bytes: String,
    },
    PrivateKey {
        bytes: String,
    },
    CiphertextLen {
        ciphertext_len: u64,
    },
    FileId {
        text: String,
    },
    KdfParams {
        params: Params,
    },
    /// A wrapped file key of a share link, opened with the keys derived from the link
    /// secret, link id and password given, for the file id given.
    LinkWrappedKey {
        link_secret: String,
        link_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<LinkPasswordInput>,
        file_id: String,
        wrapped_key: String,
    },
    /// The owner's sealed link secret, opened with the file key for the link id given.
    LinkSealedSecret {
        file_key: String,
        link_id: String,
        sealed_secret: String,
    },
    /// The inputs of `LinkKeys::derive` for a password-protected link.
    LinkPassword {
        link_secret: String,
        link_id: String,
        password: LinkPasswordInput,
    },
    LinkSecret {
        bytes: String,
    },
    AccessKey {
        bytes: String,
    },
}

/// What one decoder returned for a negative input.
pub type Outcome = (&'static str, Result<(), CryptoError>);

/// The file key and the pinned parts of a `contents_parts.json` message, by name.
pub type BaseParts<'a> = &'a dyn Fn(&str) -> (FileKey, Vec<Vec<u8>>);

impl NegativeInput {
    /// Runs every decoder of this form. `base_parts` returns the file key and the pinned
    /// parts of a message of `contents_parts.json` by name.
    pub fn run(&self, base_parts: BaseParts<'_>) -> Vec<Outcome> {
        match self {
            NegativeInput::Contents {
                file_key,
                ciphertext,
            } => {
                let key = key(file_key);
                let bytes = from_hex(ciphertext);
                vec![
                    ("whole message", whole_contents(&key, &bytes)),
                    ("download by parts", download_whole(&key, &bytes)),
                ]
            }
            NegativeInput::ContentsParts { base, served_parts } => {
                let (key, parts) = base_parts(base);
                let served: Vec<Vec<u8>> = served_parts
                    .iter()
                    .map(|&i| parts[i as usize].clone())
                    .collect();
                vec![
                    ("whole message", whole_contents(&key, &served.concat())),
                    ("download by parts", download_parts(&key, &served)),
                ]
            }
            NegativeInput::ChunkedMessage {
                file_key,
                context,
                ciphertext,
            } => {
                let result = chunked::decrypt(
                    &from_hex(file_key),
                    context.as_bytes(),
                    &from_hex(ciphertext),
                );
                vec![("whole message", result.map(drop))]
            }
            NegativeInput::MetadataMessage { file_key, message } => {
                let result = decrypt_metadata(&key(file_key), &from_hex(message));
                vec![("decrypt_metadata", result.map(drop))]
            }
            NegativeInput::MetadataPlaintext { encoded } => {
                let result = FileMetadata::decode(&from_hex(encoded));
                vec![("FileMetadata::decode", result.map(drop))]
            }
            NegativeInput::WrappedIdentity {
                password,
                salt,
                params,
                username,
                wrapped,
            } => {
                let keys = password_keys(password, salt, *params);
                let result =
                    password::unwrap_identity(&keys.wrapping, &from_hex(wrapped), username);
                vec![("unwrap_identity", result.map(drop))]
            }
            NegativeInput::KeyRecord {
                recipient_scalar,
                sender_public_key,
                file_id,
                enc,
                sealed_key,
            } => vec![(
                "parse and open_file_key",
                open_record(
                    recipient_scalar,
                    sender_public_key,
                    file_id,
                    enc,
                    sealed_key,
                ),
            )],
            NegativeInput::PublicKey { bytes } => {
                let result = PublicKey::from_sec1(&from_hex(bytes));
                vec![("PublicKey::from_sec1", result.map(drop))]
            }
            NegativeInput::PrivateKey { bytes } => {
                let result = IdentitySecret::from_bytes(&from_hex(bytes));
                vec![("IdentitySecret::from_bytes", result.map(drop))]
            }
            NegativeInput::CiphertextLen { ciphertext_len } => {
                let result = PartLayout::from_ciphertext_len(*ciphertext_len);
                vec![("PartLayout::from_ciphertext_len", result.map(drop))]
            }
            NegativeInput::FileId { text } => {
                vec![("parse_file_id", exchange::parse_file_id(text).map(drop))]
            }
            NegativeInput::KdfParams { params } => {
                vec![("KdfParams::validate", KdfParams::from(*params).validate())]
            }
            NegativeInput::LinkWrappedKey {
                link_secret,
                link_id,
                password,
                file_id,
                wrapped_key,
            } => {
                let keys = link_keys(link_secret, link_id, password.as_ref());
                let result = link::unwrap_file_key(
                    &keys,
                    &array(link_id),
                    &array(file_id),
                    &from_hex(wrapped_key),
                );
                vec![("unwrap_file_key", result.map(drop))]
            }
            NegativeInput::LinkSealedSecret {
                file_key,
                link_id,
                sealed_secret,
            } => {
                let result = link::open_link_secret(
                    &key(file_key),
                    &array(link_id),
                    &from_hex(sealed_secret),
                );
                vec![("open_link_secret", result.map(drop))]
            }
            NegativeInput::LinkPassword {
                link_secret,
                link_id,
                password,
            } => {
                let result = try_link_keys(link_secret, link_id, Some(password));
                vec![("LinkKeys::derive", result.map(drop))]
            }
            NegativeInput::LinkSecret { bytes } => {
                let result = link::LinkSecret::from_bytes(&from_hex(bytes));
                vec![("LinkSecret::from_bytes", result.map(drop))]
            }
            NegativeInput::AccessKey { bytes } => {
                let result = link::AccessKey::from_bytes(&from_hex(bytes));
                vec![("AccessKey::from_bytes", result.map(drop))]
            }
        }
    }
}

pub fn key(text: &str) -> FileKey {
    FileKey::from_bytes(&from_hex(text)).expect("32-byte file key in a vector file")
}

fn whole_contents(key: &FileKey, ciphertext: &[u8]) -> Result<(), CryptoError> {
    chunked::decrypt(key.expose_secret_bytes(), CONTENTS_CONTEXT, ciphertext).map(drop)
}

/// Splits a stored ciphertext into the parts its length gives, then downloads them.
fn download_whole(key: &FileKey, ciphertext: &[u8]) -> Result<(), CryptoError> {
    let layout = PartLayout::from_ciphertext_len(ciphertext.len() as u64)?;
    let parts: Vec<Vec<u8>> = (0..layout.part_count())
        .map(|index| {
            let start = layout
                .part_ciphertext_offset(index)
                .expect("index in range") as usize;
            let len = layout.part_ciphertext_len(index).expect("index in range") as usize;
            ciphertext[start..start + len].to_vec()
        })
        .collect();
    download_parts(key, &parts)
}

/// Decrypts served parts with the download's steps: the layout from the claimed length
/// (the sum of the served parts), the header from part 0, then every part in order.
pub fn download_parts(key: &FileKey, served: &[Vec<u8>]) -> Result<(), CryptoError> {
    let claimed_len: u64 = served.iter().map(|part| part.len() as u64).sum();
    let layout = PartLayout::from_ciphertext_len(claimed_len)?;
    assert_eq!(
        layout.part_count() as usize,
        served.len(),
        "a vector must serve as many parts as its claimed length gives"
    );
    let header = served[0].get(..56).ok_or(CryptoError::Truncated {
        what: "contents header",
        needed: 56,
        actual: served[0].len() as u64,
    })?;
    let decryptor = ContentsDecryptor::new(key, header, layout)?;
    for (index, part) in served.iter().enumerate() {
        decryptor.decrypt_part(index as u32, part)?;
    }
    Ok(())
}

fn open_record(
    recipient_scalar: &str,
    sender_public_key: &str,
    file_id: &str,
    enc: &str,
    sealed_key: &str,
) -> Result<(), CryptoError> {
    let sealed = SealedFileKey::from_parts(&from_hex(enc), &from_hex(sealed_key))?;
    let sender = PublicKey::from_sec1(&from_hex(sender_public_key))?;
    let id = exchange::parse_file_id(file_id)?;
    let recipient =
        IdentitySecret::from_bytes(&from_hex(recipient_scalar)).expect("valid scalar in a vector");
    exchange::open_file_key(&recipient, &sender, &id, &sealed).map(drop)
}

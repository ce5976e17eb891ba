//! The records stored as JSON values, with byte strings as unpadded base64url text.

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::ids::{AccountId, FileId, LinkId, TransferId};

/// Argon2id cost parameters of one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// One registered account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: AccountId,
    /// Normalized username.
    pub username: String,
    #[serde(with = "base64url")]
    pub salt: Vec<u8>,
    pub kdf: KdfParams,
    /// SHA-256 of the login key.
    #[serde(with = "base64url")]
    pub login_key_hash: Vec<u8>,
    /// SEC1 uncompressed P-256 public key.
    #[serde(with = "base64url")]
    pub public_key: Vec<u8>,
    /// The identity private key encrypted under the password wrapping key.
    #[serde(with = "base64url")]
    pub wrapped_identity: Vec<u8>,
    pub created_at_ms: i64,
}

/// Whether a file's parts may still change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Parts are being uploaded; the file is in no list.
    Pending,
    /// The key records are stored and the file is in the inbox and sent lists.
    Complete,
}

/// One file, pending or complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub id: FileId,
    /// The sending account, which created the upload.
    pub owner: AccountId,
    pub recipient: AccountId,
    /// Length of the contents ciphertext, header included.
    pub ciphertext_len: u64,
    pub part_count: u32,
    /// The encrypted metadata message.
    #[serde(with = "base64url")]
    pub metadata: Vec<u8>,
    pub state: FileState,
    pub created_at_ms: i64,
    /// Set when the upload is finished; the lists are ordered by it.
    pub completed_at_ms: Option<i64>,
    /// The owner's resume key of a pending upload, once the page stored one; finishing
    /// the upload removes it. Left out of the JSON when absent, so that records without
    /// it keep the encoding they had before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_key: Option<ResumeKey>,
    /// The id of the transfer the file was sent in, shared by the files of one send.
    /// Left out of the JSON when absent, like `resume_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferId>,
}

/// The file key of a pending upload sealed with HPKE to the public key of its owner,
/// exactly like the owner's key record of a finished file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeKey {
    /// HPKE encapsulated key.
    #[serde(with = "base64url")]
    pub enc: Vec<u8>,
    /// HPKE ciphertext of the file key.
    #[serde(with = "base64url")]
    pub sealed_key: Vec<u8>,
}

/// The file key of one file sealed to one account with HPKE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub sender: AccountId,
    /// HPKE encapsulated key.
    #[serde(with = "base64url")]
    pub enc: Vec<u8>,
    /// HPKE ciphertext of the file key.
    #[serde(with = "base64url")]
    pub sealed_key: Vec<u8>,
}

/// The Argon2id salt and cost of a share link's password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPassword {
    #[serde(with = "base64url")]
    pub salt: Vec<u8>,
    pub kdf: KdfParams,
}

/// One share link. Reservations and tickets live in their own tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    pub id: LinkId,
    pub file: FileId,
    /// The file's sender, who alone may list and revoke the link.
    pub owner: AccountId,
    pub created_at_ms: i64,
    /// The link is dead from this time on.
    pub expires_at_ms: i64,
    pub download_limit: u32,
    /// Complete downloads counted against the limit.
    pub downloads_used: u32,
    /// When `downloads_used` reached the limit.
    pub used_up_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// SHA-256 of the gate key, which proves the link secret alone.
    #[serde(with = "base64url")]
    pub gate_verifier: Vec<u8>,
    /// SHA-256 of the access key, which proves the link secret and the password.
    #[serde(with = "base64url")]
    pub verifier: Vec<u8>,
    pub password: Option<LinkPassword>,
    /// The file key wrapped under the link's wrapping key.
    #[serde(with = "base64url")]
    pub wrapped_key: Vec<u8>,
    /// The link secret sealed under the file key, for the owner.
    #[serde(with = "base64url")]
    pub sealed_secret: Vec<u8>,
    /// Wrong access keys since the last right one.
    pub failed_attempts: u32,
    pub last_failure_ms: Option<i64>,
}

/// Encodes a record as a JSON value.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|err| StoreError::Encode(err.to_string()))
}

/// Decodes a stored record; `what` names the table in the error.
pub fn decode<'a, T: Deserialize<'a>>(
    what: &'static str,
    bytes: &'a [u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|err| StoreError::Corrupt {
        what,
        detail: err.to_string(),
    })
}

mod base64url {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ids::ID_LEN;

    /// Stored files must keep opening, so the field names and encodings are fixed.
    #[test]
    fn file_record_encoding_is_stable() {
        let record = FileRecord {
            id: FileId([1; ID_LEN]),
            owner: AccountId([2; ID_LEN]),
            recipient: AccountId([3; ID_LEN]),
            ciphertext_len: 88,
            part_count: 1,
            metadata: vec![0xff, 0x00],
            state: FileState::Pending,
            created_at_ms: 5,
            completed_at_ms: None,
            resume_key: None,
            transfer: None,
        };
        let json = String::from_utf8(encode(&record).unwrap()).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"id":"01010101010101010101010101010101","#,
                r#""owner":"02020202020202020202020202020202","#,
                r#""recipient":"03030303030303030303030303030303","#,
                r#""ciphertext_len":88,"part_count":1,"metadata":"_wA","#,
                r#""state":"pending","created_at_ms":5,"completed_at_ms":null}"#
            )
        );
        assert_eq!(
            decode::<FileRecord>("files", json.as_bytes()).unwrap(),
            record
        );
    }

    #[test]
    fn file_record_with_resume_key_round_trips() {
        let record = FileRecord {
            id: FileId([1; ID_LEN]),
            owner: AccountId([2; ID_LEN]),
            recipient: AccountId([3; ID_LEN]),
            ciphertext_len: 88,
            part_count: 1,
            metadata: vec![0xff],
            state: FileState::Pending,
            created_at_ms: 5,
            completed_at_ms: None,
            resume_key: Some(ResumeKey {
                enc: vec![4],
                sealed_key: vec![5],
            }),
            transfer: None,
        };
        let json = String::from_utf8(encode(&record).unwrap()).unwrap();
        assert!(
            json.ends_with(r#""resume_key":{"enc":"BA","sealed_key":"BQ"}}"#),
            "{json}"
        );
        assert_eq!(
            decode::<FileRecord>("files", json.as_bytes()).unwrap(),
            record
        );
    }

    /// A complete file record as encoded before files had a transfer id.
    const RECORD_WITHOUT_TRANSFER: &str = concat!(
        r#"{"id":"01010101010101010101010101010101","#,
        r#""owner":"02020202020202020202020202020202","#,
        r#""recipient":"03030303030303030303030303030303","#,
        r#""ciphertext_len":88,"part_count":1,"metadata":"_wA","#,
        r#""state":"complete","created_at_ms":5,"completed_at_ms":6}"#
    );

    /// Returns [`RECORD_WITHOUT_TRANSFER`] with a `transfer` field of `value`.
    fn record_with_transfer(value: &str) -> String {
        let fields = RECORD_WITHOUT_TRANSFER.strip_suffix('}').unwrap();
        format!(r#"{fields},"transfer":"{value}"}}"#)
    }

    #[test]
    fn file_record_without_transfer_decodes() {
        let record = decode::<FileRecord>("files", RECORD_WITHOUT_TRANSFER.as_bytes()).unwrap();
        assert_eq!(record.transfer, None);
        assert_eq!(record.completed_at_ms, Some(6));
        let json = String::from_utf8(encode(&record).unwrap()).unwrap();
        assert_eq!(json, RECORD_WITHOUT_TRANSFER);
    }

    #[test]
    fn file_record_with_transfer_round_trips() {
        let mut record = decode::<FileRecord>("files", RECORD_WITHOUT_TRANSFER.as_bytes()).unwrap();
        record.transfer = Some(TransferId([0xab; ID_LEN]));
        let json = String::from_utf8(encode(&record).unwrap()).unwrap();
        assert_eq!(json, record_with_transfer(&"ab".repeat(16)));
        assert_eq!(
            decode::<FileRecord>("files", json.as_bytes()).unwrap(),
            record
        );
    }

    #[test]
    fn file_record_rejects_malformed_transfer() {
        let json = record_with_transfer(&"AB".repeat(16));
        let err = decode::<FileRecord>("files", json.as_bytes()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { what: "files", .. }));
    }

    #[test]
    fn account_record_encoding_is_stable() {
        let record = AccountRecord {
            id: AccountId([0xaa; ID_LEN]),
            username: "alice".into(),
            salt: vec![1],
            kdf: KdfParams {
                memory_kib: 65536,
                iterations: 3,
                parallelism: 1,
            },
            login_key_hash: vec![2],
            public_key: vec![3],
            wrapped_identity: vec![4],
            created_at_ms: 7,
        };
        let json = String::from_utf8(encode(&record).unwrap()).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","username":"alice","salt":"AQ","#,
                r#""kdf":{"memory_kib":65536,"iterations":3,"parallelism":1},"#,
                r#""login_key_hash":"Ag","public_key":"Aw","wrapped_identity":"BA","#,
                r#""created_at_ms":7}"#
            )
        );
        assert_eq!(
            decode::<AccountRecord>("accounts", json.as_bytes()).unwrap(),
            record
        );
    }

    #[test]
    fn link_record_encoding_is_stable() {
        let record = LinkRecord {
            id: LinkId([4; ID_LEN]),
            file: FileId([1; ID_LEN]),
            owner: AccountId([2; ID_LEN]),
            created_at_ms: 10,
            expires_at_ms: 20,
            download_limit: 3,
            downloads_used: 1,
            used_up_at_ms: None,
            revoked_at_ms: Some(15),
            gate_verifier: vec![9],
            verifier: vec![5],
            password: Some(LinkPassword {
                salt: vec![6],
                kdf: KdfParams {
                    memory_kib: 19456,
                    iterations: 2,
                    parallelism: 1,
                },
            }),
            wrapped_key: vec![7],
            sealed_secret: vec![8],
            failed_attempts: 2,
            last_failure_ms: Some(12),
        };
        let json = String::from_utf8(encode(&record).unwrap()).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"id":"04040404040404040404040404040404","#,
                r#""file":"01010101010101010101010101010101","#,
                r#""owner":"02020202020202020202020202020202","#,
                r#""created_at_ms":10,"expires_at_ms":20,"download_limit":3,"#,
                r#""downloads_used":1,"used_up_at_ms":null,"revoked_at_ms":15,"#,
                r#""gate_verifier":"CQ","verifier":"BQ","password":{"salt":"Bg","#,
                r#""kdf":{"memory_kib":19456,"iterations":2,"parallelism":1}},"#,
                r#""wrapped_key":"Bw","sealed_secret":"CA","failed_attempts":2,"#,
                r#""last_failure_ms":12}"#
            )
        );
        assert_eq!(
            decode::<LinkRecord>("links", json.as_bytes()).unwrap(),
            record
        );
    }

    #[test]
    fn corrupt_record_is_error_not_panic() {
        let err = decode::<KeyRecord>("key_records", b"{\"sender\":1}").unwrap_err();
        assert!(matches!(
            err,
            StoreError::Corrupt {
                what: "key_records",
                ..
            }
        ));
    }
}

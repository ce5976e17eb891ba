//! Account, file, link and transfer ids: 16 random bytes, written as 32 lowercase hex
//! digits.

use std::fmt;
use std::str::FromStr;

use dtc_crypto::exchange::{FILE_ID_LEN, format_file_id, parse_file_id};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::StoreError;

/// Length of every id in bytes. Account ids have the form of file ids, so both use
/// the file-id text form of the crypto crate.
pub const ID_LEN: usize = FILE_ID_LEN;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; ID_LEN]);

        impl $name {
            /// Makes a fresh id from the operating system's random generator.
            pub fn random() -> Result<Self, StoreError> {
                let mut bytes = [0u8; ID_LEN];
                getrandom::fill(&mut bytes).map_err(|err| StoreError::Random(err.to_string()))?;
                Ok($name(bytes))
            }

            pub fn as_bytes(&self) -> &[u8; ID_LEN] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&format_file_id(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(text: &str) -> Result<Self, InvalidId> {
                parse_file_id(text).map($name).map_err(|_| InvalidId {
                    what: $what,
                    text: text.chars().take(64).collect(),
                })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// The id of an account, fixed at registration.
    AccountId,
    "account id"
);

id_type!(
    /// The id of a file, chosen by the server when the upload is created.
    FileId,
    "file id"
);

id_type!(
    /// The id of a share link, chosen by the sender's browser.
    LinkId,
    "link id"
);

id_type!(
    /// The id that groups the files of one send, chosen by the sender's browser.
    TransferId,
    "transfer id"
);

/// A string that is not 32 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {text:?}; expected 32 lowercase hex digits")]
pub struct InvalidId {
    pub what: &'static str,
    /// The rejected input, cut to 64 characters.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_id_round_trips_through_hex() {
        let id = FileId([0xab; ID_LEN]);
        let text = id.to_string();
        assert_eq!(text, "ab".repeat(16));
        assert_eq!(text.parse::<FileId>().unwrap(), id);
    }

    #[test]
    fn file_id_rejects_bad_forms() {
        let upper = "AB".repeat(16);
        let short = "ab".repeat(15);
        let non_hex = "zz".repeat(16);
        for bad in ["", short.as_str(), upper.as_str(), non_hex.as_str(), "é"] {
            assert!(bad.parse::<FileId>().is_err(), "input {bad:?}");
        }
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(FileId::random().unwrap(), FileId::random().unwrap());
    }
}

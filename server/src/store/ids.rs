//! Account and file ids: 16 random bytes, written as 32 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::StoreError;

/// Length of every id in bytes.
pub const ID_LEN: usize = 16;

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
                for byte in self.0 {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
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
                parse_hex_id(text).map($name).ok_or_else(|| InvalidId {
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

/// A string that is not 32 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {text:?}; expected 32 lowercase hex digits")]
pub struct InvalidId {
    pub what: &'static str,
    /// The rejected input, cut to 64 characters.
    pub text: String,
}

fn parse_hex_id(text: &str) -> Option<[u8; ID_LEN]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * ID_LEN {
        return None;
    }
    let mut bytes = [0u8; ID_LEN];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(bytes)
}

/// Accepts lowercase digits only, so that each id has exactly one text form.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
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

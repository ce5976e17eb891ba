//! The metadata plaintext: name, size, media type and modification time.
//!
//! Version 1 encoding, all integers big-endian:
//! `0x01 || u16 name length || name || u64 size || u8 media-type length || media type ||
//! i64 modified_ms`.

use crate::CryptoError;

/// The only encoding version this crate writes and reads.
pub const METADATA_VERSION: u8 = 0x01;
/// Longest file name in UTF-8 bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// Longest media type in bytes.
pub const MAX_MEDIA_TYPE_LEN: usize = 127;

/// Version byte, two length fields, size and modification time around the two strings.
const FIXED_LEN: usize = 1 + 2 + 8 + 1 + 8;

/// What the server must not see about a file: encrypted as the metadata message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMetadata {
    /// File name, 1 to 1024 bytes of UTF-8.
    pub name: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Media type such as `text/plain`, 0 to 127 printable ASCII bytes (0x20 to 0x7e).
    pub media_type: String,
    /// Milliseconds since the Unix epoch, UTC.
    pub modified_ms: i64,
}

impl FileMetadata {
    /// Encodes version 1; rejects a name or media type outside its range.
    pub fn encode(&self) -> Result<Vec<u8>, CryptoError> {
        check_name(self.name.as_bytes())?;
        check_media_type(self.media_type.as_bytes())?;
        let name_len =
            u16::try_from(self.name.len()).map_err(|_| name_length_error(self.name.len()))?;
        let media_type_len = u8::try_from(self.media_type.len())
            .map_err(|_| media_type_length_error(self.media_type.len()))?;

        let mut out = Vec::with_capacity(FIXED_LEN + self.name.len() + self.media_type.len());
        out.push(METADATA_VERSION);
        out.extend_from_slice(&name_len.to_be_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.push(media_type_len);
        out.extend_from_slice(self.media_type.as_bytes());
        out.extend_from_slice(&self.modified_ms.to_be_bytes());
        Ok(out)
    }

    /// Decodes version 1; rejects short input, trailing bytes, an unknown version,
    /// invalid UTF-8 and lengths or bytes outside the ranges `encode` accepts.
    pub fn decode(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut reader = Reader { bytes, offset: 0 };
        let version = reader.u8()?;
        if version != METADATA_VERSION {
            return Err(CryptoError::UnknownVersion {
                what: "metadata",
                version,
            });
        }
        let name_len = usize::from(u16::from_be_bytes(reader.array()?));
        if name_len == 0 || name_len > MAX_NAME_LEN {
            return Err(name_length_error(name_len));
        }
        let name = reader.take(name_len)?;
        let name = std::str::from_utf8(name).map_err(|error| CryptoError::InvalidMetadata {
            field: "name",
            reason: format!("invalid UTF-8 at byte {}", error.valid_up_to()),
        })?;
        let size = u64::from_be_bytes(reader.array()?);
        let media_type_len = usize::from(reader.u8()?);
        let media_type = reader.take(media_type_len)?;
        check_media_type(media_type)?;
        let modified_ms = i64::from_be_bytes(reader.array()?);
        reader.finish()?;

        Ok(FileMetadata {
            name: name.to_owned(),
            size,
            // check_media_type admitted only ASCII, which is valid UTF-8.
            media_type: String::from_utf8_lossy(media_type).into_owned(),
            modified_ms,
        })
    }
}

fn check_name(name: &[u8]) -> Result<(), CryptoError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(name_length_error(name.len()));
    }
    Ok(())
}

fn name_length_error(len: usize) -> CryptoError {
    CryptoError::InvalidMetadata {
        field: "name",
        reason: format!("length {len} bytes; must be 1 to {MAX_NAME_LEN}"),
    }
}

fn media_type_length_error(len: usize) -> CryptoError {
    CryptoError::InvalidMetadata {
        field: "media type",
        reason: format!("length {len} bytes; must be at most {MAX_MEDIA_TYPE_LEN}"),
    }
}

fn check_media_type(media_type: &[u8]) -> Result<(), CryptoError> {
    if media_type.len() > MAX_MEDIA_TYPE_LEN {
        return Err(media_type_length_error(media_type.len()));
    }
    if let Some(position) = media_type.iter().position(|b| !(0x20..=0x7e).contains(b)) {
        return Err(CryptoError::InvalidMetadata {
            field: "media type",
            reason: format!(
                "byte {:#04x} at offset {position} is not printable ASCII (0x20 to 0x7e)",
                media_type[position]
            ),
        });
    }
    Ok(())
}

/// A cursor over untrusted bytes whose reads fail instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], CryptoError> {
        let end = self
            .offset
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(CryptoError::Truncated {
                what: "metadata",
                needed: (self.offset as u64).saturating_add(len as u64),
                actual: self.bytes.len() as u64,
            });
        };
        let out = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CryptoError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, CryptoError> {
        Ok(self.array::<1>()?[0])
    }

    fn finish(self) -> Result<(), CryptoError> {
        let extra = self.bytes.len() - self.offset;
        if extra > 0 {
            return Err(CryptoError::TrailingData {
                what: "metadata",
                extra: extra as u64,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sample() -> FileMetadata {
        FileMetadata {
            name: "Bericht März.pdf".to_owned(),
            size: 123_456_789,
            media_type: "application/pdf".to_owned(),
            modified_ms: -1_234,
        }
    }

    #[test]
    fn encoding_is_byte_exact() {
        let metadata = FileMetadata {
            name: "a.txt".to_owned(),
            size: 258,
            media_type: "text/plain".to_owned(),
            modified_ms: 1_700_000_000_123,
        };
        let mut expected = vec![0x01, 0x00, 0x05];
        expected.extend_from_slice(b"a.txt");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x01, 0x02]);
        expected.push(10);
        expected.extend_from_slice(b"text/plain");
        expected.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
        assert_eq!(metadata.encode(), Ok(expected));
    }

    #[test]
    fn round_trips_including_limits() {
        let cases = [
            sample(),
            FileMetadata {
                name: "x".repeat(MAX_NAME_LEN),
                size: u64::MAX,
                media_type: "~".repeat(MAX_MEDIA_TYPE_LEN),
                modified_ms: i64::MIN,
            },
            FileMetadata {
                name: "é".to_owned(),
                size: 0,
                media_type: String::new(),
                modified_ms: i64::MAX,
            },
        ];
        for metadata in cases {
            let bytes = metadata.encode().expect("valid metadata");
            assert_eq!(FileMetadata::decode(&bytes), Ok(metadata));
        }
    }

    #[test]
    fn encode_rejects_out_of_range_fields() {
        let mut empty_name = sample();
        empty_name.name.clear();
        assert!(matches!(
            empty_name.encode(),
            Err(CryptoError::InvalidMetadata { field: "name", .. })
        ));
        let mut long_name = sample();
        long_name.name = "x".repeat(MAX_NAME_LEN + 1);
        assert!(long_name.encode().is_err());
        let mut long_type = sample();
        long_type.media_type = "a".repeat(MAX_MEDIA_TYPE_LEN + 1);
        assert!(matches!(
            long_type.encode(),
            Err(CryptoError::InvalidMetadata {
                field: "media type",
                ..
            })
        ));
        let mut control = sample();
        control.media_type = "text/plain\n".to_owned();
        assert!(control.encode().is_err());
        let mut non_ascii = sample();
        non_ascii.media_type = "text/plaïn".to_owned();
        assert!(non_ascii.encode().is_err());
    }

    #[test]
    fn truncated_metadata_is_error_not_panic() {
        let bytes = sample().encode().expect("valid metadata");
        for len in 0..bytes.len() {
            assert!(
                matches!(
                    FileMetadata::decode(&bytes[..len]),
                    Err(CryptoError::Truncated { .. })
                ),
                "prefix of {len} bytes"
            );
        }
    }

    #[test]
    fn trailing_byte_is_error_not_panic() {
        let mut bytes = sample().encode().expect("valid metadata");
        bytes.push(0);
        assert_eq!(
            FileMetadata::decode(&bytes),
            Err(CryptoError::TrailingData {
                what: "metadata",
                extra: 1
            })
        );
    }

    #[test]
    fn unknown_version_is_error_not_panic() {
        let mut bytes = sample().encode().expect("valid metadata");
        bytes[0] = 0x02;
        assert_eq!(
            FileMetadata::decode(&bytes),
            Err(CryptoError::UnknownVersion {
                what: "metadata",
                version: 2
            })
        );
    }

    #[test]
    fn invalid_fields_are_error_not_panic() {
        let valid = sample().encode().expect("valid metadata");
        let mut zero_name = valid.clone();
        zero_name[1..3].copy_from_slice(&0u16.to_be_bytes());
        assert!(matches!(
            FileMetadata::decode(&zero_name),
            Err(CryptoError::InvalidMetadata { field: "name", .. })
        ));
        let mut huge_name = valid.clone();
        huge_name[1..3].copy_from_slice(&u16::MAX.to_be_bytes());
        assert!(matches!(
            FileMetadata::decode(&huge_name),
            Err(CryptoError::InvalidMetadata { field: "name", .. })
        ));
        let mut bad_utf8 = valid.clone();
        bad_utf8[3] = 0xff;
        assert!(matches!(
            FileMetadata::decode(&bad_utf8),
            Err(CryptoError::InvalidMetadata { field: "name", .. })
        ));
        let media_offset = 3 + sample().name.len() + 8 + 1;
        let mut bad_type = valid.clone();
        bad_type[media_offset] = 0x7f;
        assert!(matches!(
            FileMetadata::decode(&bad_type),
            Err(CryptoError::InvalidMetadata {
                field: "media type",
                ..
            })
        ));
        let mut long_type = valid;
        long_type[media_offset - 1] = 200;
        assert!(FileMetadata::decode(&long_type).is_err());
    }

    #[test]
    fn garbage_is_error_not_panic() {
        let mut state = 0x1234_5678_u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect();
            let _ = FileMetadata::decode(&bytes);
        }
    }
}

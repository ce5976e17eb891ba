//! An account's storage quota: the usage the server counts, the check both the page
//! and the server run before an upload, and the sizes as people read them.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorCode};

/// The advice that ends every quota message.
const QUOTA_ADVICE: &str =
    "delete files you no longer need, or ask the operator for a larger quota";

/// The ciphertext bytes and the number of files an account has stored, finished files
/// and pending uploads together, with the quotas that cap them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageUsage {
    pub bytes_used: u64,
    pub bytes_allowed: u64,
    pub files_used: u64,
    pub files_allowed: u64,
}

impl StorageUsage {
    /// Checks that one more file of `upload_bytes` ciphertext bytes fits both quotas,
    /// and returns [`ErrorCode::QuotaExceeded`] with the sizes otherwise.
    pub fn check_upload(&self, upload_bytes: u64) -> Result<(), ApiError> {
        let bytes_after = self.bytes_used.saturating_add(upload_bytes);
        if bytes_after > self.bytes_allowed {
            return Err(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "this upload of {} would bring your storage to {} of {}; {QUOTA_ADVICE}",
                    human_size(upload_bytes),
                    human_size(bytes_after),
                    human_size(self.bytes_allowed),
                ),
            ));
        }
        if self.files_used >= self.files_allowed {
            return Err(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "you have {} of {} files stored, the most this account may keep; \
                     {QUOTA_ADVICE}",
                    group_digits(self.files_used),
                    group_digits(self.files_allowed),
                ),
            ));
        }
        Ok(())
    }

    /// Checks that `file_count` more files of `upload_bytes` ciphertext bytes in all
    /// fit both quotas, as a send of several files needs.
    pub fn check_uploads(&self, upload_bytes: u64, file_count: u64) -> Result<(), ApiError> {
        self.check_upload(upload_bytes)?;
        let files_after = self.files_used.saturating_add(file_count);
        if files_after > self.files_allowed {
            return Err(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "these {} files would bring your stored files to {} of {}; send fewer \
                     files at once, {QUOTA_ADVICE}",
                    group_digits(file_count),
                    group_digits(files_after),
                    group_digits(self.files_allowed),
                ),
            ));
        }
        Ok(())
    }

    /// Describes the usage as "Storage: 1.2 GiB of 100.0 GiB used, 3 of 10 000 files".
    pub fn summary(&self) -> String {
        format!(
            "Storage: {} of {} used, {} of {} files",
            human_size(self.bytes_used),
            human_size(self.bytes_allowed),
            group_digits(self.files_used),
            group_digits(self.files_allowed),
        )
    }
}

/// Formats a byte count in binary units with one decimal, such as "1.5 MiB".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // Precision loss above 2^53 bytes does not show at one decimal.
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Writes a count with its digits in groups of three, "10 000", as SI style does.
pub fn group_digits(count: u64) -> String {
    let digits = count.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024 * 1024;

    fn usage(bytes_used: u64, files_used: u64) -> StorageUsage {
        StorageUsage {
            bytes_used,
            bytes_allowed: 100 * GIB,
            files_used,
            files_allowed: 10_000,
        }
    }

    #[test]
    fn upload_within_quota_passes() {
        assert!(usage(99 * GIB, 9_999).check_upload(GIB).is_ok());
    }

    #[test]
    fn upload_past_byte_quota_names_sizes() {
        let err = usage(98 * GIB + GIB / 5, 3)
            .check_upload(3 * GIB)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::QuotaExceeded);
        assert_eq!(
            err.message,
            "this upload of 3.0 GiB would bring your storage to 101.2 GiB of 100.0 GiB; \
             delete files you no longer need, or ask the operator for a larger quota"
        );
    }

    #[test]
    fn several_uploads_check_the_file_count() {
        assert!(usage(0, 9_990).check_uploads(GIB, 10).is_ok());
        let err = usage(0, 9_990).check_uploads(GIB, 11).unwrap_err();
        assert_eq!(err.code, ErrorCode::QuotaExceeded);
        assert_eq!(
            err.message,
            "these 11 files would bring your stored files to 10 001 of 10 000; send fewer \
             files at once, delete files you no longer need, or ask the operator for a larger quota"
        );
        let err = usage(100 * GIB, 0).check_uploads(1, 1).unwrap_err();
        assert!(
            err.message.starts_with("this upload of 1 B"),
            "{}",
            err.message
        );
    }

    #[test]
    fn upload_past_file_quota_names_counts() {
        let err = usage(0, 10_000).check_upload(1).unwrap_err();
        assert_eq!(err.code, ErrorCode::QuotaExceeded);
        assert!(
            err.message
                .starts_with("you have 10 000 of 10 000 files stored"),
            "{}",
            err.message
        );
        assert!(err.message.ends_with("ask the operator for a larger quota"));
    }

    #[test]
    fn summary_reads_as_a_sentence() {
        assert_eq!(
            usage(GIB + GIB / 5, 3).summary(),
            "Storage: 1.2 GiB of 100.0 GiB used, 3 of 10 000 files"
        );
    }

    #[test]
    fn digits_group_by_three() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1 000");
        assert_eq!(group_digits(1_234_567), "1 234 567");
    }
}

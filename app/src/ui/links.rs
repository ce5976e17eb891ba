//! Share links on the sender's side: checking the options, making a link for a file
//! whose key the page holds, and showing an existing link again from its sealed secret.
//!
//! A link is `ORIGIN/s/LINK_ID#SECRET`. The secret travels only in the fragment, which
//! browsers never send to a server.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dtc_crypto::file::FileKey;
use dtc_crypto::link::LINK_SECRET_LEN;
use dtc_crypto::password::{self, KdfParams};

use super::error::UiError;
use super::format::{hex, parse_file_id, parse_link_id};
use super::link_keys::PasswordInput;
use super::worker::crypto_worker;
use crate::api::{self, CreateLinkRequest, Limits, LinkEntry, LinkOptions, PasswordParams};

/// Shortest link password, in characters. The password never leaves the browser.
pub const MIN_LINK_PASSWORD_LEN: usize = 8;

/// Lifetimes the page offers, in seconds, before the server's own bounds are applied.
const EXPIRY_CHOICES: [u64; 6] = [300, 3600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400];

/// The link options a sender chose and the page checked, with the password's salt
/// already picked so the options sent before the upload match the link made after it.
#[derive(Clone)]
pub struct LinkChoice {
    pub expires_in_secs: u64,
    pub download_limit: u32,
    password: Option<(String, [u8; password::SALT_LEN])>,
}

impl LinkChoice {
    /// Checks the form's values against the server's limits.
    pub fn check(
        limits: &Limits,
        expires_in_secs: u64,
        download_limit: &str,
        password: &str,
        confirm: &str,
    ) -> Result<Self, UiError> {
        if !(limits.min_link_expiry_secs..=limits.max_link_expiry_secs).contains(&expires_in_secs) {
            return Err(UiError::invalid(format!(
                "link lifetime {} is outside this server's range of {} to {}; choose another",
                duration_text(expires_in_secs),
                duration_text(limits.min_link_expiry_secs),
                duration_text(limits.max_link_expiry_secs)
            )));
        }
        let max = limits.max_link_downloads;
        let download_limit = download_limit
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=max).contains(limit))
            .ok_or_else(|| {
                UiError::invalid(format!(
                    "invalid download limit {:?}; enter a whole number from 1 to {max}",
                    crate::error::excerpt(download_limit.trim())
                ))
            })?;
        let password = if password.is_empty() && confirm.is_empty() {
            None
        } else {
            let length = password.chars().count();
            if length < MIN_LINK_PASSWORD_LEN {
                return Err(UiError::invalid(format!(
                    "the link password is too short ({length} characters); use at least \
                     {MIN_LINK_PASSWORD_LEN}, or leave both password fields empty"
                )));
            }
            if password != confirm {
                return Err(UiError::invalid(
                    "the link passwords do not match; type the same password in both fields",
                ));
            }
            Some((password.to_owned(), password::random_salt()))
        };
        Ok(LinkChoice {
            expires_in_secs,
            download_limit,
            password,
        })
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Builds the options the server receives: the salt and cost, never the password.
    pub fn options(&self) -> LinkOptions {
        LinkOptions {
            expires_in_secs: self.expires_in_secs,
            download_limit: self.download_limit,
            password: self.password.as_ref().map(|(_, salt)| PasswordParams {
                salt: salt.to_vec().into(),
                kdf: api_kdf(KdfParams::DEFAULT),
            }),
        }
    }

    fn password_input(&self) -> Option<PasswordInput<'_>> {
        self.password
            .as_ref()
            .map(|(password, salt)| PasswordInput {
                password,
                salt,
                params: KdfParams::DEFAULT,
            })
    }
}

fn api_kdf(params: KdfParams) -> api::KdfParams {
    api::KdfParams {
        memory_kib: params.memory_kib,
        iterations: params.iterations,
        parallelism: params.parallelism,
    }
}

/// Returns the lifetimes to offer within the server's bounds, shortest first, and the
/// one to preselect: the server's default, clamped to its bounds.
///
/// `file_left_secs` is the time until the file itself is deleted, when known. The
/// server ends a link with its file at the latest, so no longer lifetime is offered:
/// the preselected one is then the longest that fits. The shortest lifetime stays
/// even for a file deleted sooner, so that a link can still be made.
pub fn expiry_choices(limits: &Limits, file_left_secs: Option<u64>) -> (Vec<u64>, u64) {
    let (min, max) = (limits.min_link_expiry_secs, limits.max_link_expiry_secs);
    let max = max.max(min);
    let default = limits.default_link_expiry_secs.clamp(min, max);
    let cap = file_left_secs.map_or(max, |left| left.clamp(min, max));
    let mut choices: Vec<u64> = EXPIRY_CHOICES
        .into_iter()
        .chain([min, default, max])
        .filter(|secs| (min..=cap).contains(secs))
        .collect();
    choices.push(min);
    choices.sort_unstable();
    choices.dedup();
    let preselected = if default <= cap {
        default
    } else {
        choices.last().copied().unwrap_or(min)
    };
    (choices, preselected)
}

/// Writes a lifetime in the largest whole unit that fits, such as "7 days" or "90 minutes".
pub fn duration_text(secs: u64) -> String {
    let (count, unit) = if secs.is_multiple_of(86_400) {
        (secs / 86_400, "day")
    } else if secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

/// Writes the link secret as the URL fragment: unpadded base64url, 43 characters.
pub fn encode_fragment(secret: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(secret)
}

/// Reads the link secret from a URL fragment, with or without its leading `#`.
pub fn parse_fragment(fragment: &str) -> Result<Vec<u8>, UiError> {
    let text = fragment.strip_prefix('#').unwrap_or(fragment);
    let damaged = || {
        UiError::invalid(
            "this link is incomplete or damaged: the part after # is missing or changed. \
             Copy the whole link from the message you received and open it again",
        )
    };
    let secret = URL_SAFE_NO_PAD.decode(text).map_err(|_| damaged())?;
    if secret.len() != LINK_SECRET_LEN {
        return Err(damaged());
    }
    Ok(secret)
}

/// Returns the full share link for a link id and its secret, on this page's origin.
pub fn link_url(link_id: &str, secret: &[u8]) -> Result<String, UiError> {
    let origin = web_sys::window()
        .ok_or_else(|| UiError::invalid("no browser window to read the address from"))?
        .location()
        .origin()
        .map_err(UiError::browser("reading the page's address"))?;
    Ok(format!(
        "{origin}{}#{}",
        api::link_path(link_id),
        encode_fragment(secret)
    ))
}

/// A link just made, with the URL to hand to the recipient.
pub struct MadeLink {
    pub link_id: String,
    pub url: String,
}

/// Makes a share link for a sent file whose key the page holds.
pub async fn make_link(
    file_id: &str,
    file_key: &FileKey,
    choice: &LinkChoice,
) -> Result<MadeLink, UiError> {
    let file_id_bytes = parse_file_id(file_id)?;
    let created = crypto_worker()?
        .create_link_keys(
            file_key.expose_secret_bytes(),
            &file_id_bytes,
            choice.password_input(),
        )
        .await?;
    let link_id = hex(&created.link_id);
    api::create_link(CreateLinkRequest {
        file_id: file_id.to_owned(),
        link_id: link_id.clone(),
        options: choice.options(),
        gate_key: created.gate_key.into(),
        access_key: created.access_key.into(),
        wrapped_key: created.wrapped_key.into(),
        sealed_secret: created.sealed_secret.into(),
    })
    .await?;
    let url = link_url(&link_id, &created.secret)?;
    Ok(MadeLink { link_id, url })
}

/// Rebuilds the URL of an existing link from the owner's sealed copy of its secret.
pub async fn recover_link_url(file_key: &FileKey, entry: &LinkEntry) -> Result<String, UiError> {
    let link_id = parse_link_id(&entry.link_id)?;
    let secret = crypto_worker()?
        .open_link_secret(
            file_key.expose_secret_bytes(),
            &link_id,
            entry.sealed_secret.as_slice(),
        )
        .await?;
    link_url(&entry.link_id, &secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limits(min: u64, max: u64, default: u64) -> Limits {
        Limits {
            max_file_size: 1 << 30,
            max_metadata_size: 4096,
            min_link_expiry_secs: min,
            max_link_expiry_secs: max,
            default_link_expiry_secs: default,
            max_link_downloads: 100,
            file_lifetime_secs: 30 * 86_400,
        }
    }

    #[test]
    fn expiry_choices_stay_within_server_bounds() {
        let (choices, preselected) = expiry_choices(&limits(300, 2 * 86_400, 7 * 86_400), None);
        assert_eq!(choices, vec![300, 3600, 86_400, 2 * 86_400]);
        assert_eq!(preselected, 2 * 86_400);
    }

    #[test]
    fn expiry_choices_preselect_seven_days() {
        let (choices, preselected) = expiry_choices(&limits(300, 30 * 86_400, 7 * 86_400), None);
        assert_eq!(preselected, 7 * 86_400);
        assert_eq!(choices.first(), Some(&300));
        assert_eq!(choices.last(), Some(&(30 * 86_400)));
    }

    #[test]
    fn expiry_choices_end_before_the_file_is_deleted() {
        let limits = limits(300, 30 * 86_400, 7 * 86_400);
        // A file deleted in 2 days and 5 hours: nothing past 2 days is offered.
        let (choices, preselected) = expiry_choices(&limits, Some(2 * 86_400 + 5 * 3600));
        assert_eq!(choices, vec![300, 3600, 86_400]);
        assert_eq!(preselected, 86_400);

        // A file kept for the whole 30 days, as on the send page: everything fits.
        let (choices, preselected) = expiry_choices(&limits, Some(30 * 86_400));
        assert_eq!(choices.last(), Some(&(30 * 86_400)));
        assert_eq!(preselected, 7 * 86_400);

        // Just under 30 days left, as on the sent list a moment after the upload.
        let (choices, preselected) = expiry_choices(&limits, Some(30 * 86_400 - 60));
        assert_eq!(choices, vec![300, 3600, 86_400, 3 * 86_400, 7 * 86_400]);
        assert_eq!(preselected, 7 * 86_400);
    }

    #[test]
    fn expiry_choices_keep_the_shortest_for_a_file_deleted_sooner() {
        let limits = limits(300, 30 * 86_400, 7 * 86_400);
        let (choices, preselected) = expiry_choices(&limits, Some(60));
        assert_eq!(choices, vec![300]);
        assert_eq!(preselected, 300);
        let (choices, _) = expiry_choices(&limits, Some(0));
        assert_eq!(choices, vec![300]);
    }

    #[test]
    fn link_choice_rejects_bad_options() {
        let limits = limits(300, 86_400, 3600);
        let cases = [
            (60, "1", "", ""),
            (2 * 86_400, "1", "", ""),
            (3600, "0", "", ""),
            (3600, "101", "", ""),
            (3600, "1.5", "", ""),
            (3600, "1", "short", "short"),
            (3600, "1", "long enough 1", "long enough 2"),
        ];
        for (expiry, limit, password, confirm) in cases {
            let result = LinkChoice::check(&limits, expiry, limit, password, confirm);
            assert!(
                result.is_err(),
                "options {expiry} {limit:?} {password:?} {confirm:?}"
            );
        }
    }

    #[test]
    fn link_options_carry_salt_not_password() {
        let limits = limits(300, 86_400, 3600);
        let plain = LinkChoice::check(&limits, 3600, " 3 ", "", "").unwrap();
        assert_eq!(plain.options().download_limit, 3);
        assert_eq!(plain.options().password, None);

        let guarded =
            LinkChoice::check(&limits, 300, "1", "long enough 1", "long enough 1").unwrap();
        let options = guarded.options();
        let params = options.password.unwrap();
        assert_eq!(params.salt.len(), password::SALT_LEN);
        assert_eq!(params.kdf, api_kdf(KdfParams::DEFAULT));
        assert_eq!(options.expires_in_secs, 300);
        let json = serde_json::to_string(&guarded.options()).unwrap();
        assert!(!json.contains("long enough"), "options JSON {json}");
    }

    #[test]
    fn fragment_round_trips() {
        let secret = [0xfbu8; LINK_SECRET_LEN];
        let fragment = encode_fragment(&secret);
        assert_eq!(fragment.len(), 43);
        assert_eq!(parse_fragment(&format!("#{fragment}")).unwrap(), secret);
    }

    #[test]
    fn damaged_fragment_is_rejected() {
        let fragment = encode_fragment(&[7u8; LINK_SECRET_LEN]);
        for bad in [
            "",
            "#",
            &fragment[..42],
            &format!("{fragment}A"),
            "#not*base64",
        ] {
            assert!(parse_fragment(bad).is_err(), "fragment {bad:?}");
        }
    }

    #[test]
    fn duration_text_picks_whole_units() {
        assert_eq!(duration_text(300), "5 minutes");
        assert_eq!(duration_text(86_400), "1 day");
        assert_eq!(duration_text(5400), "90 minutes");
    }
}

//! Formatting for people (sizes, dates) and parsing of the API's text ids.

use dtc_crypto::exchange::FILE_ID_LEN;
use dtc_crypto::link::LINK_ID_LEN;

use super::error::UiError;

pub use crate::quota::human_size;

/// Formats a size with the exact byte count after it, for messages about limits.
pub fn size_with_bytes(bytes: u64) -> String {
    format!("{} ({bytes} bytes)", human_size(bytes))
}

/// Formats milliseconds since the Unix epoch as local time with its offset from UTC,
/// "YYYY-MM-DD HH:MM UTC+1", because link pages are read in other time zones.
pub fn local_date_time(epoch_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms as f64));
    // `getTimezoneOffset` is UTC minus local time, in minutes.
    let minutes_east = -(date.get_timezone_offset() as i32);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} {}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        utc_offset_text(minutes_east)
    )
}

/// Writes an offset from UTC in minutes east as "UTC", "UTC+1" or "UTC-9:30".
pub fn utc_offset_text(minutes_east: i32) -> String {
    if minutes_east == 0 {
        return "UTC".to_owned();
    }
    let sign = if minutes_east > 0 { '+' } else { '-' };
    let (hours, minutes) = (minutes_east.abs() / 60, minutes_east.abs() % 60);
    if minutes == 0 {
        format!("UTC{sign}{hours}")
    } else {
        format!("UTC{sign}{hours}:{minutes:02}")
    }
}

/// Writes a message as a sentence: first letter capital, ending with a full stop
/// unless it already ends with one, a question mark or an exclamation mark.
pub fn sentence(message: &str) -> String {
    let message = message.trim();
    let mut chars = message.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut text: String = first.to_uppercase().chain(chars).collect();
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

/// Formats milliseconds since the Unix epoch in ISO 8601 UTC form, for `<time datetime>`.
pub fn iso_date_time(epoch_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms as f64));
    String::from(date.to_iso_string())
}

/// Parses a file id written as 32 lowercase hex digits into its 16 bytes.
pub fn parse_file_id(text: &str) -> Result<[u8; FILE_ID_LEN], UiError> {
    parse_hex_id(text).ok_or_else(|| {
        UiError::invalid(format!(
            "invalid file id {text:?} from the server; expected {} lowercase hex digits",
            FILE_ID_LEN * 2
        ))
    })
}

/// Parses a link id written as 32 lowercase hex digits into its 16 bytes.
pub fn parse_link_id(text: &str) -> Result<[u8; LINK_ID_LEN], UiError> {
    parse_hex_id(text).ok_or_else(|| {
        UiError::invalid(format!(
            "invalid link id {:?}; expected {} lowercase hex digits, so copy the whole link again",
            crate::error::excerpt(text),
            LINK_ID_LEN * 2
        ))
    })
}

/// Formats a duration in whole seconds for a progress line: "45 s", "3 min 5 s",
/// "2 h 10 min".
pub fn duration_text(seconds: u64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours} h {minutes} min")
    } else if minutes > 0 {
        format!("{minutes} min {seconds} s")
    } else {
        format!("{seconds} s")
    }
}

/// Writes bytes as lowercase hex digits, the form of file and link ids.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn parse_hex_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 {
        return None;
    }
    let mut id = [0u8; N];
    for (byte, pair) in id.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *byte = hex_digit(pair[0])? << 4 | hex_digit(pair[1])?;
    }
    Some(id)
}

fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn human_size_picks_binary_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
        assert_eq!(human_size(64 * 1024 * 1024 * 1024), "64.0 GiB");
    }

    #[test]
    fn duration_text_picks_units() {
        assert_eq!(duration_text(0), "0 s");
        assert_eq!(duration_text(59), "59 s");
        assert_eq!(duration_text(60), "1 min 0 s");
        assert_eq!(duration_text(185), "3 min 5 s");
        assert_eq!(duration_text(3600), "1 h 0 min");
        assert_eq!(duration_text(7_830), "2 h 10 min");
    }

    #[test]
    fn utc_offset_text_shows_hours_and_minutes() {
        assert_eq!(utc_offset_text(0), "UTC");
        assert_eq!(utc_offset_text(60), "UTC+1");
        assert_eq!(utc_offset_text(-300), "UTC-5");
        assert_eq!(utc_offset_text(345), "UTC+5:45");
        assert_eq!(utc_offset_text(-570), "UTC-9:30");
    }

    #[test]
    fn sentence_capitalizes_and_ends_with_full_stop() {
        assert_eq!(sentence("wrong password"), "Wrong password.");
        assert_eq!(sentence("Saved."), "Saved.");
        assert_eq!(sentence("is it there?"), "Is it there?");
        assert_eq!(sentence("ünlaut first"), "Ünlaut first.");
        assert_eq!(sentence("\"a.txt\" failed "), "\"a.txt\" failed.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn file_id_parses_lowercase_hex() {
        let id = parse_file_id("000102030405060708090a0b0c0d0eff").unwrap();
        assert_eq!(id[..3], [0, 1, 2]);
        assert_eq!(id[15], 0xff);
    }

    #[test]
    fn link_id_round_trips_through_hex() {
        let id = [0xa5u8; LINK_ID_LEN];
        assert_eq!(parse_link_id(&hex(&id)).unwrap(), id);
    }

    #[test]
    fn file_id_rejects_bad_forms() {
        for bad in [
            "",
            "00",
            "000102030405060708090A0B0C0D0E0F",
            "zz0102030405060708090a0b0c0d0e0f",
        ] {
            assert!(parse_file_id(bad).is_err(), "input {bad:?}");
        }
    }
}

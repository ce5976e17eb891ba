//! File names from decrypted metadata, made safe to show and to save. The sender
//! chooses every character of a name, so a bidi override such as U+202E could make
//! "invoice\u{202e}fdp.exe" read as "invoiceexe.pdf", and invisible characters
//! could make two names look the same.

/// Shown in place of a name that is empty or only whitespace once hidden
/// characters are escaped.
pub const UNNAMED_FILE: &str = "(unnamed file)";

/// Returns `name` as the page shows it: every control character, bidi control
/// and invisible format character written as a visible `\u{…}` escape, or
/// `UNNAMED_FILE` when nothing visible is left.
pub fn display_name(name: &str) -> String {
    let mut shown = String::with_capacity(name.len());
    for character in name.chars() {
        if is_hidden(character) {
            shown.push_str(&character.escape_unicode().to_string());
        } else {
            shown.push(character);
        }
    }
    if shown.trim().is_empty() {
        UNNAMED_FILE.to_owned()
    } else {
        shown
    }
}

/// Returns the name the browser saves the file under: hidden characters become
/// U+FFFD, path separators become `_`, and leading dots and whitespace go, so no
/// name can leave the download folder, be `.` or `..`, or make a hidden file. A name
/// with nothing left becomes `UNNAMED_FILE`.
pub fn save_name(name: &str) -> String {
    let saved = replace_unsafe_characters(name);
    let saved =
        saved.trim_start_matches(|character: char| character == '.' || character.is_whitespace());
    if saved.is_empty() {
        UNNAMED_FILE.to_owned()
    } else {
        saved.to_owned()
    }
}

/// Returns `name` with hidden characters replaced by U+FFFD and path separators by `_`.
fn replace_unsafe_characters(name: &str) -> String {
    name.chars()
        .map(|character| match character {
            '/' | '\\' => '_',
            character if is_hidden(character) => char::REPLACEMENT_CHARACTER,
            character => character,
        })
        .collect()
}

/// Returns one folder or file name of a path inside a saved folder or archive:
/// hidden characters become U+FFFD and path separators `_`. Leading dots stay, so
/// `.env` and `env` remain two names. The caller drops `.` and `..` components; a
/// name of only whitespace becomes `UNNAMED_FILE`.
pub fn path_component(name: &str) -> String {
    let saved = replace_unsafe_characters(name);
    if saved.trim().is_empty() {
        UNNAMED_FILE.to_owned()
    } else {
        saved
    }
}

/// Returns whether `character` reorders or hides text: a control character
/// (category Cc), a line or paragraph separator, a bidi control, or a format
/// character (category Cf) that renders as nothing.
///
/// NOTE: U+200C and U+200D (zero width non-joiner and joiner) stay, because
/// Persian and Indic names and emoji sequences need them.
fn is_hidden(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'
                | '\u{200e}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_plain_names() {
        assert_eq!(display_name("report 2024.pdf"), "report 2024.pdf");
        assert_eq!(display_name("résumé – 履歴書.txt"), "résumé – 履歴書.txt");
        assert_eq!(display_name("  padded.txt "), "  padded.txt ");
    }

    #[test]
    fn display_escapes_right_to_left_override() {
        assert_eq!(
            display_name("invoice\u{202e}fdp.exe"),
            "invoice\\u{202e}fdp.exe"
        );
    }

    #[test]
    fn display_escapes_every_bidi_control() {
        let bidi = [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}',
        ];
        for control in bidi {
            let shown = display_name(&format!("a{control}b"));
            assert_eq!(shown, format!("a\\u{{{:x}}}b", u32::from(control)));
        }
    }

    #[test]
    fn display_escapes_control_characters() {
        assert_eq!(display_name("a\nb"), "a\\u{a}b");
        assert_eq!(display_name("a\u{0}b"), "a\\u{0}b");
        assert_eq!(display_name("a\u{7f}b"), "a\\u{7f}b");
        assert_eq!(display_name("a\u{85}b"), "a\\u{85}b");
    }

    #[test]
    fn display_escapes_invisible_format_characters() {
        assert_eq!(display_name("a\u{200b}b"), "a\\u{200b}b");
        assert_eq!(display_name("a\u{feff}b"), "a\\u{feff}b");
        assert_eq!(display_name("a\u{ad}b"), "a\\u{ad}b");
        assert_eq!(display_name("a\u{2028}b"), "a\\u{2028}b");
        assert_eq!(display_name("a\u{e0041}b"), "a\\u{e0041}b");
    }

    #[test]
    fn display_keeps_joiners() {
        assert_eq!(display_name("می\u{200c}خواهم"), "می\u{200c}خواهم");
        assert_eq!(display_name("👩\u{200d}💻.png"), "👩\u{200d}💻.png");
    }

    #[test]
    fn display_names_blank_as_unnamed() {
        for blank in ["", " ", "\u{3000}\u{a0}"] {
            assert_eq!(display_name(blank), UNNAMED_FILE, "name {blank:?}");
        }
    }

    #[test]
    fn display_shows_escaped_blank_controls() {
        assert_eq!(display_name("\t"), "\\u{9}");
    }

    #[test]
    fn save_name_replaces_hidden_characters() {
        assert_eq!(
            save_name("invoice\u{202e}fdp.exe"),
            "invoice\u{fffd}fdp.exe"
        );
        assert_eq!(save_name("a\nb"), "a\u{fffd}b");
    }

    #[test]
    fn save_name_replaces_separators() {
        assert_eq!(save_name("../etc/passwd"), "_etc_passwd");
        assert_eq!(save_name("a\\b.txt"), "a_b.txt");
        assert_eq!(save_name("a/../b.txt"), "a_.._b.txt");
    }

    #[test]
    fn save_name_drops_leading_dots() {
        assert_eq!(save_name(".bashrc"), "bashrc");
        assert_eq!(save_name("..\\..\\Windows\\win.ini"), "_.._Windows_win.ini");
        assert_eq!(save_name(" . .hidden"), "hidden");
        assert_eq!(save_name("archive..tar.gz"), "archive..tar.gz");
    }

    #[test]
    fn save_name_never_leaves_the_folder() {
        let names = [
            "..",
            "../",
            "../../x",
            "..\\x",
            "/..",
            ". ./..",
            "..\u{202e}",
            "\u{2028}..",
            "..\u{0}/x",
            "/etc/passwd",
            "C:\\x",
        ];
        for name in names {
            let saved = save_name(name);
            assert!(!saved.contains(['/', '\\']), "{name:?} gave {saved:?}");
            assert!(!saved.starts_with('.'), "{name:?} gave {saved:?}");
            assert!(
                !saved.chars().any(char::is_control),
                "{name:?} gave {saved:?}"
            );
        }
    }

    #[test]
    fn save_name_keeps_non_ascii() {
        assert_eq!(
            save_name("../Ünïcödé résumé ✓.txt"),
            "_Ünïcödé résumé ✓.txt"
        );
    }

    #[test]
    fn save_name_names_dots_and_blanks_as_unnamed() {
        for bad in ["", ".", "..", " . ", "   "] {
            assert_eq!(save_name(bad), UNNAMED_FILE, "name {bad:?}");
        }
    }
}

//! A file name from a container, shown as one honest line. Names are the
//! untrusted side's words: newlines would break a row in two, bidi
//! overrides make `gpj.exe` read `exe.jpg`, zero-width characters hide
//! what a name says, and a 255-byte name would push the row's other
//! columns away. Each becomes visible or short.

/// The most characters of a name a row shows (the rest is `…`).
pub const MAX_CHARS: usize = 120;

/// What stands for a character that would break the line or hide the
/// name's real order.
pub const REPLACEMENT: char = '\u{FFFD}';

/// `name` as one line: control characters, line and paragraph separators,
/// bidi controls and invisible format characters replaced by
/// [`REPLACEMENT`], at most [`MAX_CHARS`] characters.
pub fn one_line(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(MAX_CHARS * 4));
    for (n, c) in name.chars().enumerate() {
        if n == MAX_CHARS {
            out.push('…');
            break;
        }
        out.push(if hides_or_breaks(c) { REPLACEMENT } else { c });
    }
    out
}

/// Characters that break a line or change how the rest of a name reads.
fn hides_or_breaks(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{061C}' | '\u{200E}' | '\u{200F}' // bidi marks
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{200B}' | '\u{200C}' | '\u{2060}' | '\u{FEFF}' // zero-width
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_or_a_tab_cannot_break_the_row() {
        assert_eq!(one_line("a\nb\r\tc"), "a\u{FFFD}b\u{FFFD}\u{FFFD}c");
        assert_eq!(one_line("a\u{2028}b\u{85}c"), "a\u{FFFD}b\u{FFFD}c");
    }

    #[test]
    fn a_right_to_left_override_cannot_hide_an_exe() {
        // Shown raw, this reads "invoice_exe.pdf".
        let shown = one_line("invoice_\u{202E}fdp.exe");
        assert_eq!(shown, "invoice_\u{FFFD}fdp.exe");
        assert!(shown.ends_with(".exe"));
    }

    #[test]
    fn a_long_name_is_cut_and_ordinary_names_are_untouched() {
        let long = "x".repeat(255);
        let shown = one_line(&long);
        assert_eq!(shown.chars().count(), MAX_CHARS + 1);
        assert!(shown.ends_with('…'));
        for name in [
            "report.pdf",
            "n10.txt",
            "Übersicht – 2026.ods",
            "👩‍💻.png",
            "תמונה.jpg",
        ] {
            assert_eq!(one_line(name), name);
        }
    }
}

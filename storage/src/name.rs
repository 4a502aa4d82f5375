//! File names from the web made safe to put on disk, and their collision variants.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// Longest file name Linux filesystems accept, in bytes.
pub const NAME_MAX: usize = 255;

/// The name used when nothing usable is left of the original.
const FALLBACK: &str = "download";

/// Longest extension (dot included) kept when a name must be shortened.
const MAX_KEPT_EXT: usize = 32;

/// A file name safe to create in a directory: one path segment, no control or
/// bidi characters, not hidden, not an option, at most 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafeName(String);

impl SafeName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts `name` only if sanitizing would leave it unchanged.
    pub fn parse(name: &str) -> Option<SafeName> {
        let safe = sanitize_name(OsStr::new(name));
        (safe.0 == name).then_some(safe)
    }

    /// The collision variant `stem (n).ext` (n ≥ 1), shortened to fit 255 bytes.
    pub fn numbered(&self, n: u32) -> SafeName {
        let (stem, ext) = split_ext(&self.0);
        let suffix = format!(" ({n})");
        let room = NAME_MAX.saturating_sub(suffix.len() + ext.len());
        let stem = cut_at_char_boundary(stem, room);
        SafeName(format!("{stem}{suffix}{ext}"))
    }

    /// Which collision variant `candidate` is: `Some(0)` for this very name,
    /// `Some(n)` for `self.numbered(n)`, `None` for any other name.
    pub fn variant_number(&self, candidate: &str) -> Option<u32> {
        if candidate == self.0 {
            return Some(0);
        }
        let (_, ext) = split_ext(&self.0);
        let rest = candidate.strip_suffix(ext)?.strip_suffix(')')?;
        let open = rest.rfind(" (")?;
        let digits = &rest[open + 2..];
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let n: u32 = digits.parse().ok()?;
        (self.numbered(n).0 == candidate).then_some(n)
    }
}

impl AsRef<str> for SafeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for SafeName {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl fmt::Display for SafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns a hostile name (from a web server, an archive, another profile) into
/// a [`SafeName`]. Pure: the same input always gives the same output.
pub fn sanitize_name(raw: &OsStr) -> SafeName {
    let text = String::from_utf8_lossy(raw.as_bytes());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '/' | '\\' => out.push('_'),
            c if is_invisible_override(c) => {}
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => out.push('_'),
            c => out.push(c),
        }
    }
    // A leading dot hides the file (or makes it `.`/`..`), a leading dash
    // turns it into an option of whatever command is run on it.
    let trimmed = out
        .trim_start_matches(|c: char| c == '.' || c == '-' || c.is_whitespace())
        .trim_end_matches(char::is_whitespace);
    if trimmed.is_empty() {
        return SafeName(FALLBACK.to_owned());
    }
    SafeName(shorten(trimmed))
}

/// Bidi controls (which make `exe.txt` display as `txt.exe`) and zero-width
/// characters that hide what a name really says. ZWJ (U+200D) is kept: emoji
/// sequences need it.
fn is_invisible_override(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{200B}'
            | '\u{2060}'
            | '\u{FEFF}'
    )
}

/// Caps a name at [`NAME_MAX`] bytes on a character boundary, keeping a short
/// extension.
fn shorten(name: &str) -> String {
    if name.len() <= NAME_MAX {
        return name.to_owned();
    }
    let (stem, ext) = split_ext(name);
    if !ext.is_empty() && ext.len() <= MAX_KEPT_EXT && !stem.is_empty() {
        let stem = cut_at_char_boundary(stem, NAME_MAX - ext.len());
        let stem = stem.trim_end_matches(char::is_whitespace);
        if !stem.is_empty() {
            return format!("{stem}{ext}");
        }
    }
    cut_at_char_boundary(name, NAME_MAX)
        .trim_end_matches(char::is_whitespace)
        .to_owned()
}

/// Splits `report.pdf` into `("report", ".pdf")`; a name without a dot after
/// its first character has an empty extension.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn cut_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn s(raw: &str) -> String {
        sanitize_name(OsStr::new(raw)).0
    }

    fn assert_safe(name: &SafeName) {
        let n = name.as_str();
        assert!(!n.is_empty() && n.len() <= NAME_MAX, "length of {n:?}");
        assert!(n != "." && n != "..", "{n:?}");
        assert!(!n.starts_with('.') && !n.starts_with('-'), "{n:?}");
        assert!(!n.contains('/') && !n.contains('\\'), "{n:?}");
        assert!(
            !n.chars()
                .any(|c| c.is_control() || is_invisible_override(c)),
            "{n:?}"
        );
    }

    #[test]
    fn ordinary_names_are_kept_as_they_are() {
        for name in [
            "report.pdf",
            "file with spaces.txt",
            "日本語のファイル.txt",
            "emoji-😀-file.bin",
            "family-👨\u{200D}👩\u{200D}👧.png",
            "quote\"double.txt",
            "star*.txt",
            "dollar$(echo pwned).txt",
            "trailing.dot.",
            "COM1",
        ] {
            assert_eq!(s(name), name);
        }
    }

    #[test]
    fn nfd_names_keep_their_decomposed_bytes() {
        let nfd = "u\u{0308}nic\u{0308}o\u{0308}de-nfd.txt";
        assert_eq!(s(nfd).as_bytes(), nfd.as_bytes());
    }

    #[test]
    fn path_separators_cannot_leave_the_directory() {
        assert_eq!(s("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(s("/etc/passwd"), "_etc_passwd");
        assert_eq!(s("back\\slash.txt"), "back_slash.txt");
        assert_eq!(s("a/b"), "a_b");
    }

    #[test]
    fn control_characters_become_underscores() {
        assert_eq!(s("new\nline.com"), "new_line.com");
        assert_eq!(s("tab\there.txt"), "tab_here.txt");
        assert_eq!(s("carriage\rreturn.txt"), "carriage_return.txt");
        assert_eq!(s("nul\0byte"), "nul_byte");
        assert_eq!(s("esc\u{1b}[31mred"), "esc_[31mred");
        assert_eq!(s("del\u{7f}c1\u{85}x"), "del_c1_x");
        assert_eq!(s("line\u{2028}sep"), "line_sep");
    }

    #[test]
    fn bidi_overrides_cannot_disguise_the_extension() {
        assert_eq!(s("invoice\u{202E}txt.exe"), "invoicetxt.exe");
        assert_eq!(s("a\u{2066}b\u{2067}c\u{2068}d\u{2069}e"), "abcde");
        assert_eq!(
            s("\u{200E}x\u{200F}y\u{061C}z\u{202A}\u{202B}\u{202C}\u{202D}"),
            "xyz"
        );
        assert_eq!(s("zero\u{200B}width.txt"), "zerowidth.txt");
        assert_eq!(s("\u{FEFF}bom.txt"), "bom.txt");
    }

    #[test]
    fn leading_dots_and_dashes_are_made_harmless() {
        assert_eq!(s(".bashrc"), "bashrc");
        assert_eq!(s("--help"), "help");
        assert_eq!(s("-rf"), "rf");
        assert_eq!(s("-e eicar.com"), "e eicar.com");
        assert_eq!(
            s("  leading and trailing spaces  "),
            "leading and trailing spaces"
        );
        assert_eq!(s("\u{202E}-rf"), "rf");
    }

    #[test]
    fn nothing_left_becomes_download() {
        for name in [
            "",
            ".",
            "..",
            "...",
            "-",
            " ",
            "\u{202E}",
            "\u{200B}\u{FEFF}",
            ". .-",
        ] {
            assert_eq!(s(name), "download", "{name:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let raw = OsStr::from_bytes(b"latin1-\xe9t\xe9-invalid-utf8.com");
        let name = sanitize_name(raw);
        assert_eq!(name.as_str(), "latin1-\u{FFFD}t\u{FFFD}-invalid-utf8.com");
        let bom_bytes = OsStr::from_bytes(b"\xff\xfe-bom-bytes.txt");
        assert_eq!(
            sanitize_name(bom_bytes).as_str(),
            "\u{FFFD}\u{FFFD}-bom-bytes.txt"
        );
    }

    #[test]
    fn long_names_are_cut_to_255_bytes_keeping_the_extension() {
        let long = format!("{}.pdf", "a".repeat(300));
        let name = s(&long);
        assert_eq!(name.len(), 255);
        assert!(name.ends_with(".pdf"));

        // Three-byte characters: 300 of them are 900 bytes.
        let cjk = format!("{}.txt", "日".repeat(300));
        let name = s(&cjk);
        assert!(name.len() <= 255 && name.len() > 250, "{}", name.len());
        assert!(name.ends_with(".txt"));
        assert!(name.trim_end_matches(".txt").chars().all(|c| c == '日'));

        // Four-byte emoji, no extension.
        let emoji = "😀".repeat(80);
        let name = s(&emoji);
        assert_eq!(name.len(), 252);

        // An "extension" too long to be one is not kept whole.
        let odd = format!("x.{}", "e".repeat(300));
        assert_eq!(s(&odd).len(), 255);
    }

    #[test]
    fn exactly_255_bytes_is_untouched() {
        let name = format!("{}.txt", "b".repeat(251));
        assert_eq!(s(&name), name);
    }

    #[test]
    fn every_corpus_style_name_is_safe() {
        let mut raws: Vec<Vec<u8>> = [
            "",
            ".",
            "..",
            "../x",
            "a\0b",
            "\n",
            "-",
            "--",
            "\u{202E}gpj.exe",
            "😀",
            "x\u{0301}",
        ]
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect();
        raws.push(vec![0xff; 300]);
        raws.push([b'-'; 300].to_vec());
        raws.push("\u{202E}".repeat(200).into_bytes());
        raws.push(format!("{}.{}", "é".repeat(200), "ü".repeat(20)).into_bytes());
        for raw in raws {
            let name = sanitize_name(OsStr::from_bytes(&raw));
            assert_safe(&name);
            assert_eq!(sanitize_name(OsStr::new(name.as_str())), name, "idempotent");
        }
    }

    #[test]
    fn collision_variants_number_before_the_extension() {
        let name = sanitize_name(OsStr::new("report.pdf"));
        assert_eq!(name.numbered(1).as_str(), "report (1).pdf");
        assert_eq!(name.numbered(12).as_str(), "report (12).pdf");
        let bare = sanitize_name(OsStr::new("README"));
        assert_eq!(bare.numbered(2).as_str(), "README (2)");
        let tgz = sanitize_name(OsStr::new("a.tar.gz"));
        assert_eq!(tgz.numbered(1).as_str(), "a.tar (1).gz");
    }

    #[test]
    fn collision_variants_of_long_names_still_fit() {
        let name = sanitize_name(OsStr::new(&format!("{}.pdf", "日".repeat(100))));
        let v = name.numbered(123);
        assert!(v.as_str().len() <= 255);
        assert!(v.as_str().ends_with(" (123).pdf"));
        assert_safe(&v);
    }

    #[test]
    fn variant_numbers_are_recognised_only_for_the_same_name() {
        let name = sanitize_name(OsStr::new("report.pdf"));
        assert_eq!(name.variant_number("report.pdf"), Some(0));
        assert_eq!(name.variant_number("report (7).pdf"), Some(7));
        assert_eq!(name.variant_number("report (07).pdf"), None);
        assert_eq!(name.variant_number("report (x).pdf"), None);
        assert_eq!(name.variant_number("report (1).txt"), None);
        assert_eq!(name.variant_number("other (1).pdf"), None);
        let long = sanitize_name(OsStr::new(&format!("{}.pdf", "z".repeat(260))));
        assert_eq!(long.variant_number(long.numbered(40).as_str()), Some(40));
    }

    #[test]
    fn parse_accepts_only_already_safe_names() {
        assert!(SafeName::parse("report.pdf").is_some());
        assert!(SafeName::parse("../x").is_none());
        assert!(SafeName::parse(".hidden").is_none());
    }
}

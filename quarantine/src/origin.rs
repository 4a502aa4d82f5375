//! Where an item came from beyond its inbox: the URL and referrer of a
//! download, and who says so (issue 17).
//!
//! Chromium writes `user.xdg.origin.url` and `user.xdg.referrer.url` on the
//! files it downloads. The file is hostile — a profile can write any bytes
//! into its own file's attributes — so they are read with a bounded buffer,
//! parsed once here into a URL that is shown only if it is `http`, `https`,
//! `ftp` or `data` (cut short), holds no control or direction-changing
//! characters and carries no `user:password@`, and recorded as *claimed by
//! the file*, never as what the host saw. An archive's origin is every
//! member's: members have no origin of their own.

use std::fmt;

use rustix::fd::AsFd;
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

// The attribute names, shared with the release that writes them back.
pub use zion_storage::label::{ORIGIN_XATTR, PROVENANCE_XATTR, REFERRER_XATTR, SOURCE_XATTR};

/// The longest attribute value read; a longer one is refused, not cut.
pub const MAX_URL_BYTES: usize = 4096;
/// How much of a `data:` URL is kept (it may hold the whole file).
pub const DATA_URL_SHOWN: usize = 64;

/// Who says where the file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// The host saw it (the sandbox's own download events).
    Host,
    /// The file's extended attributes say so: written by whoever wrote the file.
    File,
}

impl Provenance {
    /// The word the journal and the bus use: `host` or `file`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Host => "host",
            Provenance::File => "file",
        }
    }

    /// The word for `s`, if it is one.
    pub fn parse(s: &str) -> Option<Provenance> {
        match s {
            "host" => Some(Provenance::Host),
            "file" => Some(Provenance::File),
            _ => None,
        }
    }

    /// As people read it.
    pub fn describe(self) -> &'static str {
        match self {
            Provenance::Host => "observed by the host",
            Provenance::File => "claimed by the file",
        }
    }
}

/// Where an item came from, as recorded at ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The URL it was downloaded from, sanitised.
    pub url: Option<String>,
    /// The page the download started from, sanitised.
    pub referrer: Option<String>,
    /// Who says so.
    pub provenance: Provenance,
    /// What was not recorded and why, in Zion's words (never the file's).
    pub note: Option<String>,
}

impl Origin {
    /// Whether it says anything at all.
    pub fn is_empty(&self) -> bool {
        self.url.is_none() && self.referrer.is_none() && self.note.is_none()
    }
}

/// Why an attribute's value is not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Longer than [`MAX_URL_BYTES`].
    TooLong,
    /// Not UTF-8.
    NotUtf8,
    /// A control character (terminal escapes among them) or one that
    /// changes the direction of text.
    Control,
    /// Not a URL.
    Unparsable,
    /// A scheme that is not shown (`javascript:`, `file:`, …).
    Scheme,
}

impl fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlRefusal::TooLong => "longer than 4 KiB",
            UrlRefusal::NotUtf8 => "not UTF-8 text",
            UrlRefusal::Control => "contains control characters",
            UrlRefusal::Unparsable => "not a URL",
            UrlRefusal::Scheme => "not an http, https, ftp or data URL",
        })
    }
}

/// Characters that reorder what is shown around them (Trojan Source).
fn changes_direction(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Parses an attribute's bytes into a URL fit to show and store: bounded,
/// UTF-8, no control characters, `http`/`https`/`ftp`/`data` only, no
/// credentials; a `data:` URL is cut to [`DATA_URL_SHOWN`] characters.
pub fn parse_url(raw: &[u8]) -> Result<String, UrlRefusal> {
    if raw.len() > MAX_URL_BYTES {
        return Err(UrlRefusal::TooLong);
    }
    // Chromium writes no terminating NUL, some tools do.
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    let text = std::str::from_utf8(raw).map_err(|_| UrlRefusal::NotUtf8)?;
    if text.chars().any(|c| c.is_control() || changes_direction(c)) {
        return Err(UrlRefusal::Control);
    }
    let mut url = url::Url::parse(text).map_err(|_| UrlRefusal::Unparsable)?;
    match url.scheme() {
        "http" | "https" | "ftp" => {
            // Only fails for URLs that cannot have credentials.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            Ok(url.to_string())
        }
        "data" => {
            let text = url.as_str();
            match text.char_indices().nth(DATA_URL_SHOWN) {
                Some((cut, _)) => Ok(format!("{}…", &text[..cut])),
                None => Ok(text.to_owned()),
            }
        }
        _ => Err(UrlRefusal::Scheme),
    }
}

/// One attribute of an open file: `Ok(None)` when it has none (or the
/// filesystem keeps none), `Err` when what it holds is refused.
fn read_attr(fd: impl AsFd, name: &str) -> Result<Option<String>, UrlRefusal> {
    // One byte more than allowed: a value that fills it is too long.
    let mut buf = vec![0u8; MAX_URL_BYTES + 1];
    match rustix::fs::fgetxattr(fd, name, &mut buf[..]) {
        Ok(n) => parse_url(&buf[..n]).map(Some),
        Err(Errno::RANGE) | Err(Errno::TOOBIG) => Err(UrlRefusal::TooLong),
        Err(Errno::NODATA) | Err(Errno::NOTSUP) => Ok(None),
        Err(e) => {
            tracing::debug!("could not read {name}: {e}");
            Ok(None)
        }
    }
}

/// What the file's own attributes claim about where it came from, if
/// anything; refused values are left out and said so in the note.
pub fn claimed_by_file(fd: impl AsFd) -> Option<Origin> {
    let fd = fd.as_fd();
    let mut notes = Vec::new();
    let mut take = |name: &str, what: &str| match read_attr(fd, name) {
        Ok(url) => url,
        Err(why) => {
            notes.push(format!("{what} not recorded: {why}"));
            None
        }
    };
    let url = take(ORIGIN_XATTR, "origin URL");
    let referrer = take(REFERRER_XATTR, "referrer");
    let origin = Origin {
        url,
        referrer,
        provenance: Provenance::File,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    };
    (!origin.is_empty()).then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_download_url_is_kept() {
        assert_eq!(
            parse_url(b"https://example.org/files/report.pdf?x=1#p2").as_deref(),
            Ok("https://example.org/files/report.pdf?x=1#p2")
        );
        assert_eq!(
            parse_url(b"ftp://ftp.example.org/pub/a.tar\0").as_deref(),
            Ok("ftp://ftp.example.org/pub/a.tar")
        );
    }

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            parse_url(b"https://alice:hunter2@example.org/a.zip").as_deref(),
            Ok("https://example.org/a.zip")
        );
        assert_eq!(
            parse_url(b"http://token@example.org:8080/").as_deref(),
            Ok("http://example.org:8080/")
        );
    }

    #[test]
    fn schemes_that_are_not_downloads_are_refused() {
        for bad in [
            &b"javascript:alert(document.cookie)"[..],
            b"JavaScript:alert(1)",
            b"file:///etc/shadow",
            b"chrome://settings",
            b"blob:https://example.org/5d1c",
            b"vbscript:msgbox",
        ] {
            assert_eq!(
                parse_url(bad),
                Err(UrlRefusal::Scheme),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(parse_url(b"not a url"), Err(UrlRefusal::Unparsable));
        assert_eq!(parse_url(b""), Err(UrlRefusal::Unparsable));
    }

    #[test]
    fn over_long_values_are_refused_not_cut() {
        let mut long = b"https://example.org/".to_vec();
        long.resize(MAX_URL_BYTES + 1, b'a');
        assert_eq!(parse_url(&long), Err(UrlRefusal::TooLong));
        long.truncate(MAX_URL_BYTES);
        assert!(parse_url(&long).is_ok());
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        assert_eq!(
            parse_url(b"https://example.org/\xff\xfe"),
            Err(UrlRefusal::NotUtf8)
        );
    }

    #[test]
    fn control_and_direction_characters_are_refused() {
        for bad in [
            "https://example.org/\x1b]0;owned\x07",
            "https://example.org/\x1b[2J",
            "https://example.org/a\nb",
            "https://example.org/a\tb",
            "https://example.org/\u{9b}31m",
            "https://example.org/\u{202e}fdp.exe",
        ] {
            assert_eq!(
                parse_url(bad.as_bytes()),
                Err(UrlRefusal::Control),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn data_urls_are_cut_short() {
        let mut data = b"data:text/html;base64,".to_vec();
        data.extend(std::iter::repeat_n(b'A', 2000));
        let shown = parse_url(&data).expect("a data URL is shown");
        assert!(shown.starts_with("data:text/html;base64,AAAA"), "{shown}");
        assert_eq!(shown.chars().count(), DATA_URL_SHOWN + 1, "{shown}");
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn unicode_hosts_are_shown_as_punycode() {
        // A look-alike host cannot pass for another in the shown text.
        assert_eq!(
            parse_url("https://exаmple.org/".as_bytes()).as_deref(),
            Ok("https://xn--exmple-4nf.org/")
        );
    }
}

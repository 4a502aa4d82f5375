//! Where downloads came from, as the host saw them (issue 17): the daemon
//! records each download a sandbox's browser completed (its URL, the name it
//! saved under, its size) and the ingest of the file that arrives under that
//! name, of that size, from that source takes it, once, as the item's origin
//! with provenance `host` — preferred over whatever the file's attributes
//! claim.
//!
//! What is recorded is untrusted too (the browser runs what the page sends):
//! URLs go through the same parser as a file's claim, names must be plain
//! file names, and the number kept per source and their age are bounded. A
//! record matches only its own source and its own name and size: a file a
//! sandbox writes into its inbox by itself, or a file of another source under
//! the same name, never inherits a URL it did not come from.

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::origin::{parse_url, Origin, Provenance, UrlRefusal};
use crate::store::lock;

/// The most downloads kept per source awaiting their file; the oldest go first.
pub const MAX_PER_SOURCE: usize = 64;
/// How long a download waits for its file before it is forgotten.
pub const KEEP_FOR: Duration = Duration::from_secs(600);
/// The most sources with downloads awaiting their file.
pub const MAX_SOURCES: usize = 256;

/// Why a download is not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    /// The URL is refused by [`parse_url`].
    #[error("its URL is refused: {0}")]
    Url(UrlRefusal),
    /// Not a plain file name (empty, `.`, `..`, a `/`, a NUL, too long).
    #[error("not a plain file name")]
    Name,
    /// Too many sources have downloads waiting.
    #[error("too many sources with downloads waiting")]
    Full,
}

/// A completed download, waiting for its file.
#[derive(Debug, Clone)]
struct Seen {
    name: OsString,
    size: u64,
    url: String,
    referrer: Option<String>,
    note: Option<String>,
    at: Instant,
}

/// Downloads seen by the host, per quarantine source (its inbox folder
/// name, [`crate::Source::name`]).
#[derive(Debug, Default)]
pub struct HostOrigins {
    seen: Mutex<HashMap<String, VecDeque<Seen>>>,
}

fn plain_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b != b"."
        && b != b".."
        && !b.contains(&b'/')
        && !b.contains(&0)
}

impl HostOrigins {
    /// Records that `source`'s browser completed a download of `size` bytes
    /// from `url` (started from `referrer`) saved as `name`.
    pub fn record(
        &self,
        source: &str,
        name: &OsStr,
        size: u64,
        url: &[u8],
        referrer: Option<&[u8]>,
    ) -> Result<(), WitnessRefusal> {
        if !plain_name(name) {
            return Err(WitnessRefusal::Name);
        }
        let url = parse_url(url).map_err(WitnessRefusal::Url)?;
        let (referrer, note) = match referrer.map(parse_url) {
            None => (None, None),
            Some(Ok(r)) => (Some(r), None),
            Some(Err(why)) => (None, Some(format!("referrer not recorded: {why}"))),
        };
        let now = Instant::now();
        let mut seen = lock(&self.seen);
        seen.retain(|_, q| {
            q.retain(|s| now.duration_since(s.at) < KEEP_FOR);
            !q.is_empty()
        });
        if !seen.contains_key(source) && seen.len() >= MAX_SOURCES {
            return Err(WitnessRefusal::Full);
        }
        let queue = seen.entry(source.to_owned()).or_default();
        if queue.len() >= MAX_PER_SOURCE {
            queue.pop_front();
        }
        queue.push_back(Seen {
            name: name.to_owned(),
            size,
            url,
            referrer,
            note,
            at: now,
        });
        Ok(())
    }

    /// Forgets every download of `source` (its sandbox is gone).
    pub fn forget(&self, source: &str) {
        lock(&self.seen).remove(source);
    }

    /// The download of the file `name` of `size` bytes from `source`, if
    /// the host saw it; taken, so that it serves one file only.
    pub fn take(&self, source: &str, name: &OsStr, size: u64) -> Option<Taken> {
        let mut seen = lock(&self.seen);
        let queue = seen.get_mut(source)?;
        let now = Instant::now();
        let at = queue.iter().position(|s| {
            s.name == name && s.size == size && now.duration_since(s.at) < KEEP_FOR
        })?;
        let s = queue.remove(at)?;
        if queue.is_empty() {
            seen.remove(source);
        }
        Some(Taken {
            source: source.to_owned(),
            seen: s,
        })
    }

    /// Gives back downloads taken for files that were not stored after all
    /// (their ingest was rolled back: the file changed, or the journal
    /// failed), so that the same file, taken again, still gets what the
    /// host saw rather than what it claims.
    pub fn put_back(&self, taken: impl IntoIterator<Item = Taken>) {
        let mut seen = lock(&self.seen);
        for t in taken {
            seen.entry(t.source).or_default().push_front(t.seen);
        }
    }
}

/// A download the host saw, taken for the file it saved.
#[derive(Debug)]
pub struct Taken {
    source: String,
    seen: Seen,
}

impl Taken {
    /// Where the download came from, as the host saw it.
    pub fn origin(&self) -> Origin {
        Origin {
            url: Some(self.seen.url.clone()),
            referrer: self.seen.referrer.clone(),
            provenance: Provenance::Host,
            note: self.seen.note.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &[u8] = b"https://example.org/q3.pdf";

    #[test]
    fn a_download_serves_its_own_file_once() {
        let w = HostOrigins::default();
        w.record("sandbox:work/1", OsStr::new("q3.pdf"), 10, URL, None)
            .expect("recorded");
        assert!(w.take("sandbox:work/2", OsStr::new("q3.pdf"), 10).is_none());
        assert!(w.take("sandbox:work/1", OsStr::new("q3.pdf"), 11).is_none());
        assert!(w.take("sandbox:work/1", OsStr::new("q4.pdf"), 10).is_none());
        let o = w
            .take("sandbox:work/1", OsStr::new("q3.pdf"), 10)
            .expect("the download's own file")
            .origin();
        assert_eq!(o.url.as_deref(), Some("https://example.org/q3.pdf"));
        assert_eq!(o.provenance, Provenance::Host);
        assert!(w.take("sandbox:work/1", OsStr::new("q3.pdf"), 10).is_none());
    }

    #[test]
    fn a_download_put_back_serves_its_file_when_it_is_taken_again() {
        let w = HostOrigins::default();
        w.record("sandbox:work/1", OsStr::new("q3.pdf"), 10, URL, None)
            .expect("recorded");
        let taken = w
            .take("sandbox:work/1", OsStr::new("q3.pdf"), 10)
            .expect("taken");
        assert!(w.take("sandbox:work/1", OsStr::new("q3.pdf"), 10).is_none());

        w.put_back([taken]);

        let again = w
            .take("sandbox:work/1", OsStr::new("q3.pdf"), 10)
            .expect("taken again after it was put back")
            .origin();
        assert_eq!(again.url.as_deref(), Some("https://example.org/q3.pdf"));
        assert_eq!(again.provenance, Provenance::Host);
        assert!(w.take("sandbox:work/1", OsStr::new("q3.pdf"), 10).is_none());
    }

    #[test]
    fn hostile_urls_and_names_are_refused() {
        let w = HostOrigins::default();
        for name in ["", ".", "..", "a/b", "a\0b"] {
            assert_eq!(
                w.record("s", OsStr::new(name), 1, URL, None),
                Err(WitnessRefusal::Name),
                "{name:?}"
            );
        }
        assert_eq!(
            w.record("s", OsStr::new("a"), 1, b"javascript:alert(1)", None),
            Err(WitnessRefusal::Url(UrlRefusal::Scheme))
        );
        assert_eq!(
            w.record("s", OsStr::new("a"), 1, b"https://e.org/\x1b[2J", None),
            Err(WitnessRefusal::Url(UrlRefusal::Control))
        );
        w.record(
            "s",
            OsStr::new("a"),
            1,
            b"https://u:p@e.org/a",
            Some(b"file:///etc/passwd"),
        )
        .expect("recorded");
        let o = w.take("s", OsStr::new("a"), 1).expect("taken").origin();
        assert_eq!(o.url.as_deref(), Some("https://e.org/a"));
        assert_eq!(o.referrer, None);
        assert!(o.note.expect("a note").contains("referrer not recorded"));
    }

    #[test]
    fn a_flood_keeps_the_newest_and_is_bounded() {
        let w = HostOrigins::default();
        for n in 0..(MAX_PER_SOURCE + 10) {
            w.record("s", OsStr::new(&format!("f{n}")), 1, URL, None)
                .expect("recorded");
        }
        assert!(w.take("s", OsStr::new("f0"), 1).is_none());
        assert!(w
            .take("s", OsStr::new(&format!("f{}", MAX_PER_SOURCE + 9)), 1)
            .is_some());
        for n in 0..MAX_SOURCES {
            let _ = w.record(&format!("src{n}"), OsStr::new("a"), 1, URL, None);
        }
        assert_eq!(
            w.record("one-too-many", OsStr::new("a"), 1, URL, None),
            Err(WitnessRefusal::Full)
        );
    }
}

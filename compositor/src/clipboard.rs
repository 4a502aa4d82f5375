//! Per-profile clipboards and the transfer slot, as plain values: which
//! offered formats the compositor keeps a copy of, how large a copy may
//! grow, and what each profile (and the host) last copied. The Wayland side
//! (reading a client's data, offering a copy) is in
//! `handlers/selection.rs`.
//!
//! The transfer slot works as in Qubes: Super+Shift+C copies the shown
//! profile's clipboard into the slot; Super+Shift+V moves the slot into the
//! focused window's profile's clipboard and empties it. "Once" means one
//! paste-transfer per copy-to-transfer: the data then belongs to the
//! receiving profile (pasted there as often as its own copies), and a
//! second Super+Shift+V does nothing until the next Super+Shift+C.

use std::collections::HashMap;
use std::sync::Arc;

use zion_config::ProfileName;

use crate::identity::{InstanceName, Origin};

/// The most bytes kept of one selection (all its formats together); a
/// larger selection is not kept and is lost once another profile's
/// selection replaces it.
pub const MAX_BYTES: usize = 16 << 20;

/// The most formats kept of one selection.
pub const MAX_FORMATS: usize = 16;

/// How long a client may take to hand over all the formats of a selection.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Which of the two selections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The clipboard (wl_data_device).
    Clipboard,
    /// The primary selection (middle-click paste).
    Primary,
}

/// Whose clipboard: the host's, a profile's, or one disposable sandbox's.
/// A sandbox is a domain of its own, not its profile's: a page that owns
/// the browser's renderer must neither read what the user copied in the
/// profile nor replace it. Only the transfer hotkeys cross between them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Trusted host clients.
    Host,
    /// A profile.
    Profile(ProfileName),
    /// One disposable browser sandbox of a profile.
    Sandbox {
        /// The profile it belongs to (for its desktop and colour only).
        profile: ProfileName,
        /// The sandbox instance.
        instance: InstanceName,
    },
}

impl Domain {
    /// The domain of a client of `origin`.
    pub fn of(origin: &Origin) -> Domain {
        match origin {
            Origin::Host => Domain::Host,
            Origin::Profile(p) => Domain::Profile(p.clone()),
            Origin::Sandbox { profile, instance } => Domain::Sandbox {
                profile: profile.clone(),
                instance: instance.clone(),
            },
        }
    }

    /// The origin standing for this domain (a profile's main socket, a
    /// sandbox's socket).
    pub fn origin(&self) -> Origin {
        match self {
            Domain::Host => Origin::Host,
            Domain::Profile(p) => Origin::Profile(p.clone()),
            Domain::Sandbox { profile, instance } => Origin::Sandbox {
                profile: profile.clone(),
                instance: instance.clone(),
            },
        }
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Domain::Host => f.write_str("host"),
            Domain::Profile(p) => f.write_str(p.as_ref()),
            Domain::Sandbox { profile, instance } => {
                write!(f, "{profile} · disposable {instance}")
            }
        }
    }
}

/// Whether the compositor keeps a copy of a selection's `mime` format:
/// text, URIs and common images, and the X11-style text names. Other
/// formats (application-private ones, often costly to produce) are offered
/// only while their client's own selection is current.
pub fn keeps_format(mime: &str) -> bool {
    const IMAGES: [&str; 6] = [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/svg+xml",
    ];
    const X11_TEXT: [&str; 4] = ["UTF8_STRING", "STRING", "TEXT", "COMPOUND_TEXT"];
    mime.starts_with("text/") || IMAGES.contains(&mime) || X11_TEXT.contains(&mime)
}

/// The formats of `offered` that are kept, at most [`MAX_FORMATS`], in the
/// order offered, without repeats.
pub fn kept_formats(offered: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for mime in offered {
        if kept.len() == MAX_FORMATS {
            break;
        }
        if keeps_format(mime) && !kept.contains(mime) {
            kept.push(mime.clone());
        }
    }
    kept
}

/// A selection's data held by the compositor: each kept format's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Who copied it.
    pub from: Domain,
    formats: Vec<(String, Arc<[u8]>)>,
}

impl Snapshot {
    /// A snapshot of `formats` copied by `from`.
    pub fn new(from: Domain, formats: Vec<(String, Arc<[u8]>)>) -> Snapshot {
        Snapshot { from, formats }
    }

    /// The formats held, in the order the client offered them.
    pub fn mime_types(&self) -> Vec<String> {
        self.formats.iter().map(|(m, _)| m.clone()).collect()
    }

    /// The bytes of `mime`.
    pub fn get(&self, mime: &str) -> Option<Arc<[u8]>> {
        self.formats
            .iter()
            .find(|(m, _)| m == mime)
            .map(|(_, d)| d.clone())
    }

    /// All bytes held.
    pub fn size(&self) -> usize {
        self.formats.iter().map(|(_, d)| d.len()).sum()
    }

    /// Whether it holds no format at all.
    pub fn is_empty(&self) -> bool {
        self.formats.is_empty()
    }

    /// "text/plain, 5 bytes": for notices.
    pub fn describe(&self) -> String {
        let main = self.formats.first().map_or("nothing", |(m, _)| m.as_str());
        let more = match self.formats.len() {
            0 | 1 => String::new(),
            n => format!(" and {} more formats", n - 1),
        };
        format!("{main}{more}, {} bytes", self.size())
    }
}

/// Why a selection could not be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeepError {
    /// Its formats together pass [`MAX_BYTES`].
    #[error("{from}'s selection is larger than {} MiB, so the compositor keeps no copy of it; it is lost when another profile's selection is offered", MAX_BYTES >> 20)]
    TooLarge {
        /// Who copied it.
        from: Domain,
    },
}

/// A selection being read from its client, format by format.
#[derive(Debug)]
pub struct Reading {
    /// Who copied it.
    pub from: Domain,
    /// Numbers the selections set, so that a late read of a replaced one is
    /// recognised.
    pub generation: u64,
    formats: Vec<(String, Vec<u8>)>,
    done: Vec<bool>,
    bytes: usize,
}

impl Reading {
    /// Starts reading `formats` of a selection copied by `from`.
    pub fn new(from: Domain, generation: u64, formats: &[String]) -> Reading {
        Reading {
            from,
            generation,
            formats: formats.iter().map(|m| (m.clone(), Vec::new())).collect(),
            done: vec![false; formats.len()],
            bytes: 0,
        }
    }

    /// Adds bytes of format `index`; fails once all formats together pass
    /// [`MAX_BYTES`].
    pub fn add(&mut self, index: usize, chunk: &[u8]) -> Result<(), KeepError> {
        self.bytes += chunk.len();
        if self.bytes > MAX_BYTES {
            return Err(KeepError::TooLarge {
                from: self.from.clone(),
            });
        }
        if let Some((_, data)) = self.formats.get_mut(index) {
            data.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// Format `index` is complete; when it was the last one, the snapshot.
    pub fn finish(&mut self, index: usize) -> Option<Snapshot> {
        if let Some(done) = self.done.get_mut(index) {
            *done = true;
        }
        self.is_done().then(|| self.snapshot())
    }

    /// Whether every format is complete.
    pub fn is_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    fn snapshot(&mut self) -> Snapshot {
        let formats = std::mem::take(&mut self.formats)
            .into_iter()
            .map(|(m, d)| (m, Arc::<[u8]>::from(d)))
            .collect();
        Snapshot::new(self.from.clone(), formats)
    }
}

/// What every domain last copied, and the transfer slot.
#[derive(Debug, Default)]
pub struct Clipboards {
    held: HashMap<(Domain, Kind), Arc<Snapshot>>,
    /// The data Super+Shift+C put in the slot, until Super+Shift+V takes it.
    pub transfer: Option<Arc<Snapshot>>,
}

impl Clipboards {
    /// `domain`'s kept `kind` selection.
    pub fn get(&self, domain: &Domain, kind: Kind) -> Option<&Arc<Snapshot>> {
        self.held.get(&(domain.clone(), kind))
    }

    /// Keeps `snapshot` as its domain's `kind` selection.
    pub fn keep(&mut self, kind: Kind, snapshot: Arc<Snapshot>) {
        self.held.insert((snapshot.from.clone(), kind), snapshot);
    }

    /// Forgets `domain`'s `kind` selection (it copied something new, or
    /// cleared it).
    pub fn forget(&mut self, domain: &Domain, kind: Kind) {
        self.held.remove(&(domain.clone(), kind));
    }

    /// Forgets every selection of `domain` (a sandbox that closed: a later
    /// sandbox of the same name must not paste what this one copied).
    pub fn forget_domain(&mut self, domain: &Domain) {
        self.held.retain(|(d, _), _| d != domain);
    }

    /// Super+Shift+C: puts `domain`'s clipboard in the slot, returning it;
    /// `None` (the slot unchanged) when it has none.
    pub fn copy_to_transfer(&mut self, domain: &Domain) -> Option<Arc<Snapshot>> {
        let snapshot = self.get(domain, Kind::Clipboard)?.clone();
        self.transfer = Some(snapshot.clone());
        Some(snapshot)
    }

    /// Super+Shift+V: empties the slot into `domain`'s clipboard, returning
    /// what it held (with its original domain); `None` when it was empty.
    pub fn paste_transfer(&mut self, domain: &Domain) -> Option<Arc<Snapshot>> {
        let taken = self.transfer.take()?;
        let pasted = Snapshot {
            from: domain.clone(),
            formats: taken.formats.clone(),
        };
        self.keep(Kind::Clipboard, Arc::new(pasted));
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Domain {
        Domain::Profile(name.parse().expect("valid profile name"))
    }

    fn text(from: Domain, s: &str) -> Arc<Snapshot> {
        Arc::new(Snapshot::new(
            from,
            vec![("text/plain".to_owned(), Arc::from(s.as_bytes()))],
        ))
    }

    #[test]
    fn text_and_images_are_kept_and_private_formats_are_not() {
        let offered: Vec<String> = [
            "text/plain;charset=utf-8",
            "UTF8_STRING",
            "application/x-office-private",
            "image/png",
            "text/plain;charset=utf-8",
            "x-special/gnome-copied-files",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            kept_formats(&offered),
            ["text/plain;charset=utf-8", "UTF8_STRING", "image/png"]
        );
        let many: Vec<String> = (0..40).map(|i| format!("text/x-{i}")).collect();
        assert_eq!(kept_formats(&many).len(), MAX_FORMATS);
    }

    #[test]
    fn a_selection_over_the_limit_is_not_kept() {
        let mut reading = Reading::new(profile("work"), 1, &["text/plain".to_owned()]);
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..16 {
            reading.add(0, &chunk).expect("within the limit");
        }
        assert_eq!(
            reading.add(0, b"!"),
            Err(KeepError::TooLarge {
                from: profile("work")
            })
        );
    }

    #[test]
    fn a_reading_completes_when_every_format_has_ended() {
        let formats = ["text/plain".to_owned(), "UTF8_STRING".to_owned()];
        let mut reading = Reading::new(profile("work"), 7, &formats);
        reading.add(1, b"A").expect("small");
        reading.add(0, b"A").expect("small");
        assert_eq!(reading.finish(0), None);
        let snapshot = reading.finish(1).expect("complete");
        assert_eq!(snapshot.mime_types(), formats);
        assert_eq!(snapshot.get("UTF8_STRING").as_deref(), Some(&b"A"[..]));
        assert_eq!(snapshot.size(), 2);
    }

    #[test]
    fn each_profile_keeps_its_own_clipboard() {
        let mut c = Clipboards::default();
        c.keep(Kind::Clipboard, text(profile("work"), "A"));
        c.keep(Kind::Clipboard, text(profile("personal"), "B"));
        c.keep(Kind::Primary, text(profile("personal"), "P"));
        let get = |c: &Clipboards, d: &Domain, k| c.get(d, k).and_then(|s| s.get("text/plain"));
        assert_eq!(
            get(&c, &profile("work"), Kind::Clipboard).as_deref(),
            Some(&b"A"[..])
        );
        assert_eq!(
            get(&c, &profile("personal"), Kind::Clipboard).as_deref(),
            Some(&b"B"[..])
        );
        assert_eq!(get(&c, &profile("work"), Kind::Primary), None);
        assert_eq!(get(&c, &Domain::Host, Kind::Clipboard), None);
        c.forget(&profile("work"), Kind::Clipboard);
        assert_eq!(get(&c, &profile("work"), Kind::Clipboard), None);
    }

    #[test]
    fn a_sandbox_has_its_own_clipboard_not_its_profiles() {
        let work: ProfileName = "work".parse().expect("valid");
        let tab = Origin::Sandbox {
            profile: work.clone(),
            instance: "tab-1".parse().expect("valid"),
        };
        let page = Domain::of(&tab);
        assert_ne!(page, Domain::of(&Origin::Profile(work)));
        assert_eq!(page.origin(), tab);
        assert_eq!(page.to_string(), "work · disposable tab-1");
        let mut c = Clipboards::default();
        c.keep(Kind::Clipboard, text(profile("work"), "secret"));
        assert_eq!(c.get(&page, Kind::Clipboard), None);
        c.keep(Kind::Clipboard, text(page.clone(), "page"));
        c.keep(Kind::Primary, text(page.clone(), "page"));
        let work_copy = c.get(&profile("work"), Kind::Clipboard).cloned();
        assert_eq!(
            work_copy.and_then(|s| s.get("text/plain")).as_deref(),
            Some(&b"secret"[..])
        );
        // Only the transfer slot crosses, and a closed sandbox is forgotten.
        c.copy_to_transfer(&page).expect("the page copied");
        c.paste_transfer(&profile("work")).expect("slot full");
        c.forget_domain(&page);
        assert_eq!(c.get(&page, Kind::Clipboard), None);
        assert_eq!(c.get(&page, Kind::Primary), None);
        let pasted = c.get(&profile("work"), Kind::Clipboard).cloned();
        assert_eq!(
            pasted.and_then(|s| s.get("text/plain")).as_deref(),
            Some(&b"page"[..])
        );
    }

    #[test]
    fn the_transfer_slot_is_pasted_once() {
        let mut c = Clipboards::default();
        assert_eq!(c.copy_to_transfer(&profile("work")), None, "nothing copied");
        c.keep(Kind::Clipboard, text(profile("work"), "A"));
        c.keep(Kind::Clipboard, text(profile("personal"), "B"));
        let slot = c.copy_to_transfer(&profile("work")).expect("work copied");
        assert_eq!(slot.from, profile("work"));
        let pasted = c.paste_transfer(&profile("personal")).expect("slot full");
        assert_eq!(pasted.from, profile("work"));
        let now = c
            .get(&profile("personal"), Kind::Clipboard)
            .expect("personal's clipboard");
        assert_eq!(now.from, profile("personal"));
        assert_eq!(now.get("text/plain").as_deref(), Some(&b"A"[..]));
        assert_eq!(c.paste_transfer(&profile("gaming")), None, "used up");
        assert_eq!(c.get(&profile("gaming"), Kind::Clipboard), None);
        assert!(c.transfer.is_none());
    }
}

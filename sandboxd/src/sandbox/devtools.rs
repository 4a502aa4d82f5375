//! What the host sees of a sandbox's downloads (issue 17): the browser is
//! started with `--remote-debugging-pipe`, its DevTools fds 3 and 4 opened
//! on two FIFOs in a folder of the host's runtime directory bound into the
//! sandbox (and nothing else: no port, no socket a page could reach). The
//! daemon asks for download events and records each completed download's
//! URL, name and size with the quarantine, which gives it (provenance
//! `host`) to the file that arrives under that name and size.
//!
//! Everything that comes through the pipe is untrusted (the browser runs
//! what pages send): messages are bounded, parsed with serde_json into the
//! few fields used, names checked and URLs parsed by the quarantine's own
//! parser; the downloads followed at once are bounded too.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::{FileType, Mode, OFlags};
use serde::Deserialize;
use tokio::sync::watch;
use zion_quarantine::Store;

use super::warm::Pages;

/// Where the FIFOs are inside the sandbox.
pub const CONTAINER_DEVTOOLS: &str = "/run/zion-devtools";
/// The browser reads commands from this one (its fd 3).
pub const COMMANDS: &str = "commands";
/// The browser writes replies and events into this one (its fd 4).
pub const EVENTS: &str = "events";
/// The longest message read; a longer one is skipped whole.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The most downloads followed at once (begun, not finished).
pub const MAX_PENDING: usize = 256;
/// The longest name and URL kept from an event.
const MAX_FIELD: usize = 8 * 1024;

/// The id of the command that turns the download events on.
pub const ENABLE_ID: u64 = 1;
/// The command that turns the download events on, and lets the browser
/// save into the sandbox's Downloads without asking: a Chromium with a
/// window otherwise holds an http:// download as `Unconfirmed NNN.crdownload`
/// until the user keeps it (found by the soak on the compositor, for a
/// disposable made when the pool was empty). The quarantine scans every
/// download anyway.
fn enable() -> Vec<u8> {
    let mut command = serde_json::json!({
        "id": ENABLE_ID,
        "method": "Browser.setDownloadBehavior",
        "params": {
            "behavior": "allow",
            "downloadPath": super::spec::container_downloads(),
            "eventsEnabled": true,
        },
    })
    .to_string()
    .into_bytes();
    command.push(0);
    command
}

/// Makes the sandbox's FIFO folder `dir` (mode 0755, FIFOs 0666: the folder
/// is bound into that one sandbox only, under the user's runtime directory).
pub fn make_pipes(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    for name in [COMMANDS, EVENTS] {
        let path = dir.join(name);
        match rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            FileType::Fifo,
            Mode::from_raw_mode(0o666),
            0,
        ) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        // Past the umask.
        rustix::fs::chmod(&path, Mode::from_raw_mode(0o666))?;
    }
    Ok(())
}

/// The shell words, run before `exec "$@"` in the browser's start script,
/// that open fds 3 and 4 on the FIFOs.
pub fn open_fds_script() -> String {
    format!("exec 3<>{CONTAINER_DEVTOOLS}/{COMMANDS} 4<>{CONTAINER_DEVTOOLS}/{EVENTS} && ")
}

/// Follows one sandbox's downloads until stopped; dropping every clone
/// does not stop it, [`Observer::stop`] does.
#[derive(Debug, Clone)]
pub struct Observer {
    stop: Arc<AtomicBool>,
    dir: PathBuf,
    /// The last reply the browser gave to one of the daemon's commands.
    replies: watch::Receiver<Option<Reply>>,
    /// How many pages the browser has open, once it reported any (only
    /// after `Target.setDiscoverTargets`: see [`super::warm`]).
    pages: watch::Receiver<Option<usize>>,
}

impl Observer {
    /// Opens the FIFOs in `dir` and follows the downloads of the sandbox
    /// whose inbox folder is `source`, recording them with `store`.
    pub fn start(dir: &Path, source: String, store: Arc<Store>) -> io::Result<Observer> {
        // Read-write: neither open waits for the browser, and the events
        // FIFO never reads as ended while the daemon holds it.
        let open = |name: &str| -> io::Result<OwnedFd> {
            Ok(rustix::fs::open(
                dir.join(name),
                OFlags::RDWR | OFlags::CLOEXEC | OFlags::NONBLOCK,
                Mode::empty(),
            )?)
        };
        let commands = open(COMMANDS)?;
        let events = open(EVENTS)?;
        // Buffered in the FIFO until the browser reads it.
        rustix::io::write(&commands, &enable())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (replied, replies) = watch::channel(None);
        let (counted, pages) = watch::channel(None);
        std::thread::Builder::new()
            .name(format!("devtools {source}"))
            .spawn(move || {
                let _commands = commands;
                let mut downloads = Downloads::default();
                let mut open = Pages::default();
                follow(&events, &flag, |raw| {
                    if let Some(r) = reply(raw) {
                        replied.send_replace(Some(r));
                        return;
                    }
                    if let Some(n) = open.message(raw) {
                        counted.send_replace(Some(n));
                        return;
                    }
                    let Some(d) = downloads.message(raw) else {
                        return;
                    };
                    if let Err(why) = store.host_origins().record(
                        &source,
                        OsStr::new(&d.name),
                        d.size,
                        d.url.as_bytes(),
                        None,
                    ) {
                        tracing::info!("{source}: a download is not recorded as seen: {why}");
                    } else {
                        tracing::debug!(
                            "{source}: the browser downloaded {:?} ({} bytes)",
                            d.name,
                            d.size
                        );
                    }
                });
            })?;
        Ok(Observer {
            stop,
            dir: dir.to_owned(),
            replies,
            pages,
        })
    }

    /// The FIFOs' folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Follows the browser's replies to the daemon's commands.
    pub fn replies(&self) -> watch::Receiver<Option<Reply>> {
        self.replies.clone()
    }

    /// Follows how many pages the browser has open.
    pub fn pages(&self) -> watch::Receiver<Option<usize>> {
        self.pages.clone()
    }

    /// Stops following and removes the FIFOs' folder.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A completed download, as the browser reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The file's name in the downloads folder.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Where it came from (raw: the quarantine parses it).
    pub url: String,
}

/// The browser's answer to a command: its id, and whether it succeeded.
/// The browser may forge one; only its own sandbox is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The command's id.
    pub id: u64,
    /// No `error` in it.
    pub ok: bool,
}

/// The reply `raw` (one message, without its NUL) is, if it is one.
pub fn reply(raw: &[u8]) -> Option<Reply> {
    #[derive(Deserialize)]
    struct Answer {
        id: u64,
        error: Option<serde::de::IgnoredAny>,
    }
    if raw.len() > MAX_MESSAGE {
        return None;
    }
    let answer: Answer = serde_json::from_slice(raw).ok()?;
    Some(Reply {
        id: answer.id,
        ok: answer.error.is_none(),
    })
}

#[derive(Deserialize)]
struct Message {
    method: Option<String>,
    params: Option<Params>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    guid: Option<String>,
    url: Option<String>,
    suggested_filename: Option<String>,
    state: Option<String>,
    received_bytes: Option<f64>,
    file_path: Option<String>,
}

/// The downloads begun and not yet finished, by guid.
#[derive(Debug, Default)]
pub struct Downloads {
    pending: HashMap<String, (String, String)>,
}

impl Downloads {
    /// Takes one message (without its NUL); returns the download it
    /// completes, if it does.
    pub fn message(&mut self, raw: &[u8]) -> Option<Completed> {
        if raw.len() > MAX_MESSAGE {
            return None;
        }
        let msg: Message = serde_json::from_slice(raw).ok()?;
        let p = msg.params?;
        let guid = p.guid.filter(|g| g.len() <= 64)?;
        match msg.method.as_deref()? {
            "Browser.downloadWillBegin" => {
                let url = p.url.filter(|u| u.len() <= MAX_FIELD)?;
                let name = p.suggested_filename.filter(|n| n.len() <= MAX_FIELD)?;
                if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&guid) {
                    tracing::info!(
                        "more than {MAX_PENDING} downloads at once: one is not followed"
                    );
                    return None;
                }
                self.pending.insert(guid, (url, name));
                None
            }
            "Browser.downloadProgress" => match p.state.as_deref()? {
                "completed" => {
                    let (url, suggested) = self.pending.remove(&guid)?;
                    // The name it was saved under when given (it may have
                    // been made unique), else the one suggested.
                    let name = p
                        .file_path
                        .as_deref()
                        .and_then(|f| Path::new(f).file_name())
                        .and_then(OsStr::to_str)
                        .map(str::to_owned)
                        .unwrap_or(suggested);
                    let size = p.received_bytes.filter(|b| b.is_finite() && *b >= 0.0)?;
                    Some(Completed {
                        name,
                        size: size as u64,
                        url,
                    })
                }
                "canceled" => {
                    self.pending.remove(&guid);
                    None
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// Reads NUL-separated messages from `events` until `stop`, handing each
/// (without its NUL, at most [`MAX_MESSAGE`] long) to `message`.
fn follow(events: &OwnedFd, stop: &AtomicBool, mut message: impl FnMut(&[u8])) {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut buf = Vec::with_capacity(4096);
    // Skipping a message over the bound, up to its NUL.
    let mut skipping = false;
    let mut chunk = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(events, PollFlags::IN)];
        let timeout = rustix::event::Timespec::try_from(Duration::from_millis(500)).ok();
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("DevTools pipe: {e}");
                return;
            }
        }
        let n = match rustix::io::read(events, &mut chunk[..]) {
            // Every writer gone (never while the daemon holds it open).
            Ok(0) => return,
            Ok(n) => n,
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                tracing::warn!("DevTools pipe: {e}");
                return;
            }
        };
        for part in chunk[..n].split_inclusive(|b| *b == 0) {
            let ends = part.last() == Some(&0);
            let body = part.strip_suffix(&[0]).unwrap_or(part);
            if !skipping {
                buf.extend_from_slice(body);
                if buf.len() > MAX_MESSAGE {
                    buf.clear();
                    skipping = true;
                }
            }
            if ends {
                if !skipping {
                    message(&buf);
                }
                buf.clear();
                skipping = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(guid: &str, url: &str, name: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "method": "Browser.downloadWillBegin",
            "params": {"frameId": "F", "guid": guid, "url": url, "suggestedFilename": name}
        }))
        .unwrap()
    }

    fn progress(guid: &str, state: &str, bytes: u64, path: Option<&str>) -> Vec<u8> {
        let mut p = serde_json::json!({
            "guid": guid, "totalBytes": bytes, "receivedBytes": bytes, "state": state
        });
        if let Some(path) = path {
            p["filePath"] = path.into();
        }
        serde_json::to_vec(&serde_json::json!({"method": "Browser.downloadProgress", "params": p}))
            .unwrap()
    }

    #[test]
    fn replies_are_told_apart_from_events_and_malformed_ones_are_none() {
        assert_eq!(
            reply(b"{\"id\":2,\"result\":{}}"),
            Some(Reply { id: 2, ok: true })
        );
        assert_eq!(
            reply(b"{\"id\":4,\"error\":{\"code\":-32000,\"message\":\"no\"}}"),
            Some(Reply { id: 4, ok: false })
        );
        assert_eq!(reply(&begin("g", "http://h/x", "x")), None);
        assert_eq!(reply(b"{\"id\":-1,\"result\":{}}"), None);
        assert_eq!(reply(b"{\"id\":"), None);
        let mut long = b"{\"id\":1,\"result\":\"".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_MESSAGE));
        long.extend(b"\"}");
        assert_eq!(reply(&long), None);
    }

    #[test]
    fn a_completed_download_is_reported_once_under_the_name_it_was_saved_as() {
        let mut d = Downloads::default();
        assert_eq!(d.message(&begin("g1", "http://h/a.bin", "a.bin")), None);
        assert_eq!(d.message(&progress("g1", "inProgress", 5, None)), None);
        assert_eq!(
            d.message(&progress(
                "g1",
                "completed",
                10,
                Some("/home/u/Downloads/a (1).bin")
            )),
            Some(Completed {
                name: "a (1).bin".into(),
                size: 10,
                url: "http://h/a.bin".into()
            })
        );
        assert_eq!(d.message(&progress("g1", "completed", 10, None)), None);
    }

    #[test]
    fn unknown_cancelled_malformed_and_oversized_messages_give_nothing() {
        let mut d = Downloads::default();
        assert_eq!(d.message(&progress("nope", "completed", 1, None)), None);
        d.message(&begin("g", "http://h/x", "x"));
        assert_eq!(d.message(&progress("g", "canceled", 0, None)), None);
        assert_eq!(d.message(&progress("g", "completed", 1, None)), None);
        assert_eq!(d.message(b"{not json"), None);
        assert_eq!(d.message(b"{\"method\":7}"), None);
        let long = "a".repeat(MAX_MESSAGE);
        assert_eq!(d.message(&begin("g2", &long, "x")), None);
        assert_eq!(d.message(&progress("g2", "completed", 1, None)), None);
        // A flood of begun downloads is bounded.
        for n in 0..(MAX_PENDING + 10) {
            d.message(&begin(&format!("f{n}"), "http://h/x", "x"));
        }
        assert!(d.pending.len() <= MAX_PENDING);
    }

    #[test]
    fn the_pipe_reader_splits_messages_and_skips_oversized_ones() {
        let (r, mut w) = std::os::unix::net::UnixStream::pair().unwrap();
        let r = OwnedFd::from(r);
        let mut all = Vec::new();
        all.extend(begin("g", "http://h/x", "x"));
        all.push(0);
        all.extend(std::iter::repeat_n(b'x', MAX_MESSAGE + 10));
        all.push(0);
        all.extend(progress("g", "completed", 3, None));
        all.push(0);
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            w.write_all(&all).unwrap();
        });
        let stop = AtomicBool::new(false);
        let mut got = Vec::new();
        let mut downloads = Downloads::default();
        follow(&r, &stop, |raw| {
            if let Some(d) = downloads.message(raw) {
                got.push(d);
                stop.store(true, Ordering::Relaxed);
            }
        });
        writer.join().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "x");
    }
}

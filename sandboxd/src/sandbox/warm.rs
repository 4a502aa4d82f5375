//! The warm browser (issue 15): a pooled sandbox's Chromium is started
//! ahead of time with no window (`--no-startup-window`), its DevTools on the
//! sandbox's own FIFOs (see [`super::devtools`]), and frozen with its
//! container once it answered. Opening it is a thaw and one DevTools
//! request, `Target.createTarget {url, newWindow: true}`. A pooled browser
//! serves one disposable and is removed with it: it is never handed out
//! twice, so nothing of one disposable's pages reaches the next.
//!
//! The daemon writes commands here and reads the replies through the
//! [`super::devtools::Observer`] that follows the sandbox's downloads:
//! replies are bounded and parsed there like every other message.

use std::collections::HashSet;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use serde::Deserialize;
use tokio::sync::watch;

use super::devtools::{Reply, COMMANDS, MAX_MESSAGE};
use super::spec::{browser_command_observed, container_downloads};

/// The id of the command that lets the pooled browser save downloads
/// without asking (after [`super::devtools::ENABLE_ID`]).
pub const DOWNLOADS_ID: u64 = 2;
/// The id of the command that has the browser report its pages.
pub const DISCOVER_ID: u64 = 3;
/// The id of the command that reaches the pooled browser's network
/// service (before the window's: replies are awaited by order of id).
pub const NETWORK_ID: u64 = 4;
/// The id of the command that opens the pooled browser's window.
pub const WINDOW_ID: u64 = 5;
/// The most pages followed: a browser claiming more is taken at its word
/// that it has some open.
pub const MAX_PAGES: usize = 1024;
/// The CPU weight (cgroup scale, 100 the default) of a pooled sandbox
/// while its browser starts: the pool refills in the background.
pub const STARTING_WEIGHT: u32 = 10;
/// How long a pooled browser has to answer after it was started.
pub const START_LIMIT: Duration = Duration::from_secs(60);
/// How long a thawed browser has to answer the window request.
pub const WINDOW_LIMIT: Duration = Duration::from_secs(10);
/// How long a command may wait for room in the FIFO.
const WRITE_LIMIT: Duration = Duration::from_secs(2);
/// What the window shows when no URL is given.
const START_PAGE: &str = "chrome://newtab/";

/// What can go wrong with a warm browser.
#[derive(Debug, thiserror::Error)]
pub enum WarmError {
    /// The FIFO could not be opened or written.
    #[error("writing to its DevTools pipe {path}: {source}")]
    Pipe {
        /// The FIFO.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// No answer in time.
    #[error("its browser did not answer DevTools command {id} within {limit:?}")]
    NoAnswer {
        /// The command.
        id: u64,
        /// How long it was waited for.
        limit: Duration,
    },
    /// The browser refused.
    #[error("its browser refused DevTools command {id}")]
    Refused {
        /// The command.
        id: u64,
    },
}

/// The command that starts a pooled sandbox's browser: the one a
/// disposable gets (on its Wayland socket, DevTools on fds 3 and 4), with
/// no window and no URL.
pub fn warm_browser_command() -> Vec<String> {
    let mut argv = browser_command_observed("", true, true);
    // `-- <url>` ends it: neither is wanted, the window comes on request.
    argv.truncate(argv.len().saturating_sub(2));
    argv.push("--no-startup-window".into());
    argv
}

/// The command that lets the browser save downloads into the sandbox's
/// Downloads without asking and keeps the download events coming. Headful
/// Chromium otherwise holds an http:// download as `Unconfirmed
/// NNN.crdownload` until the user keeps it; the quarantine scans every
/// download anyway.
pub fn allow_downloads() -> Vec<u8> {
    command(
        DOWNLOADS_ID,
        "Browser.setDownloadBehavior",
        serde_json::json!({
            "behavior": "allow",
            "downloadPath": container_downloads(),
            "eventsEnabled": true,
        }),
    )
}

/// The command that has the browser report its pages as they open and
/// close (`Target.targetCreated` / `targetDestroyed`): a warm browser is
/// kept alive by its DevTools pipe when its last window closes, so the
/// daemon ends its disposable then (see [`Pages`]).
pub fn discover_targets() -> Vec<u8> {
    command(
        DISCOVER_ID,
        "Target.setDiscoverTargets",
        serde_json::json!({ "discover": true }),
    )
}

/// A command only the browser's network service can answer (its cookie
/// store): answered, the service is up. A pooled browser is frozen only
/// after that (see [`super::settle`]).
pub fn probe_network() -> Vec<u8> {
    command(NETWORK_ID, "Storage.getCookies", serde_json::json!({}))
}

/// The command that opens a new window on `url` (checked by
/// [`super::spec::check_url`]; empty: the start page).
pub fn open_window(url: &str) -> Vec<u8> {
    let url = if url.is_empty() { START_PAGE } else { url };
    command(
        WINDOW_ID,
        "Target.createTarget",
        serde_json::json!({ "url": url, "newWindow": true }),
    )
}

fn command(id: u64, method: &str, params: serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::json!({ "id": id, "method": method, "params": params })
        .to_string()
        .into_bytes();
    out.push(0);
    out
}

/// The pages a browser has open, from its target events (untrusted: only
/// its own disposable's fate depends on them).
#[derive(Debug, Default)]
pub struct Pages {
    open: HashSet<String>,
    /// More than [`MAX_PAGES`] were reported: the count no longer drops.
    overflowed: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetMessage {
    method: String,
    params: TargetParams,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetParams {
    target_id: Option<String>,
    target_info: Option<TargetInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetInfo {
    target_id: String,
    #[serde(rename = "type")]
    kind: String,
}

impl Pages {
    /// Takes one message; returns how many pages are open when it changed
    /// that.
    pub fn message(&mut self, raw: &[u8]) -> Option<usize> {
        if raw.len() > MAX_MESSAGE {
            return None;
        }
        let msg: TargetMessage = serde_json::from_slice(raw).ok()?;
        let changed = match msg.method.as_str() {
            "Target.targetCreated" => {
                let info = msg.params.target_info?;
                if info.kind != "page" || info.target_id.len() > 64 {
                    return None;
                }
                if self.open.len() >= MAX_PAGES {
                    self.overflowed = true;
                    return None;
                }
                self.open.insert(info.target_id)
            }
            "Target.targetDestroyed" => {
                let id = msg.params.target_id?;
                self.open.remove(&id) && !self.overflowed
            }
            _ => false,
        };
        changed.then_some(self.open.len())
    }
}

/// Writes `message` (NUL-ended) into the commands FIFO of the DevTools
/// folder `dir`, waiting at most [`WRITE_LIMIT`] for room.
pub fn send(dir: &Path, message: &[u8]) -> Result<(), WarmError> {
    let path = dir.join(COMMANDS);
    let failed = |source: io::Error| WarmError::Pipe {
        path: path.display().to_string(),
        source,
    };
    // Write-only and non-blocking: the daemon's own observer holds the
    // FIFO open for reading, so this never waits for the browser.
    let fifo: OwnedFd = rustix::fs::open(
        &path,
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| failed(e.into()))?;
    write_all(&fifo, message, WRITE_LIMIT).map_err(failed)
}

fn write_all(fd: &OwnedFd, mut message: &[u8], limit: Duration) -> io::Result<()> {
    use rustix::event::{poll, PollFd, PollFlags};
    let start = Instant::now();
    while !message.is_empty() {
        match rustix::io::write(fd, message) {
            Ok(n) => message = &message[n..],
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {
                let left = limit.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the browser reads none of it",
                    ));
                }
                let mut fds = [PollFd::new(fd, PollFlags::OUT)];
                let timeout = rustix::event::Timespec::try_from(left).ok();
                match poll(&mut fds, timeout.as_ref()) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Waits until the browser answered command `id` (or a later one: replies
/// come in order), at most `limit`.
pub async fn answered(
    replies: &mut watch::Receiver<Option<Reply>>,
    id: u64,
    limit: Duration,
) -> Result<(), WarmError> {
    let got = tokio::time::timeout(limit, replies.wait_for(|r| r.is_some_and(|r| r.id >= id)))
        .await
        .map_err(|_| WarmError::NoAnswer { id, limit })?
        .map_err(|_| WarmError::NoAnswer { id, limit })?;
    match *got {
        Some(Reply { id: got, ok: false }) if got == id => Err(WarmError::Refused { id }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pooled_browser_starts_with_no_window_no_url_and_its_devtools_pipe() {
        let argv = warm_browser_command();
        assert_eq!(argv.last().map(String::as_str), Some("--no-startup-window"));
        assert!(!argv.contains(&"--".to_owned()), "{argv:?}");
        assert!(argv.contains(&"--remote-debugging-pipe".to_owned()));
        assert!(argv.contains(&"--ozone-platform=wayland".to_owned()));
        assert!(!argv.iter().any(|a| a.contains("headless")));
        assert!(argv[4].contains("exec 3<>"), "{}", argv[4]);
    }

    #[test]
    fn commands_are_one_nul_ended_json_message_with_the_url_as_data() {
        let raw = open_window("http://h/a\"b?c=--flag");
        assert_eq!(raw.last(), Some(&0));
        assert_eq!(raw.iter().filter(|b| **b == 0).count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&raw[..raw.len() - 1]).expect("json");
        assert_eq!(v["id"], WINDOW_ID);
        assert_eq!(v["method"], "Target.createTarget");
        assert_eq!(v["params"]["url"], "http://h/a\"b?c=--flag");
        assert_eq!(v["params"]["newWindow"], true);
        let start: serde_json::Value =
            serde_json::from_slice(open_window("").split_last().expect("nul").1).expect("json");
        assert_eq!(start["params"]["url"], START_PAGE);
        let allow: serde_json::Value =
            serde_json::from_slice(allow_downloads().split_last().expect("nul").1).expect("json");
        assert_eq!(allow["params"]["downloadPath"], "/home/zion/Downloads");
        assert_eq!(allow["params"]["eventsEnabled"], true);
    }

    fn target(method: &str, id: &str, kind: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "method": method,
            "params": {
                "targetId": id,
                "targetInfo": {"targetId": id, "type": kind, "title": "", "url": "", "attached": false}
            }
        }))
        .expect("json")
    }

    #[test]
    fn pages_are_counted_from_target_events_and_forgeries_are_bounded() {
        let mut p = Pages::default();
        assert_eq!(
            p.message(&target("Target.targetCreated", "A", "page")),
            Some(1)
        );
        assert_eq!(
            p.message(&target("Target.targetCreated", "A", "page")),
            None
        );
        assert_eq!(
            p.message(&target("Target.targetCreated", "W", "service_worker")),
            None
        );
        assert_eq!(
            p.message(&target("Target.targetCreated", "B", "page")),
            Some(2)
        );
        assert_eq!(p.message(&target("Target.targetDestroyed", "W", "")), None);
        assert_eq!(
            p.message(&target("Target.targetDestroyed", "A", "")),
            Some(1)
        );
        assert_eq!(
            p.message(&target("Target.targetDestroyed", "B", "")),
            Some(0)
        );
        assert_eq!(p.message(&target("Target.targetDestroyed", "B", "")), None);
        assert_eq!(p.message(b"{\"method\":\"Target.targetCreated\"}"), None);
        assert_eq!(p.message(b"garbage"), None);
        // A flood of pages is bounded, and then never counts down to none.
        for n in 0..(MAX_PAGES + 5) {
            p.message(&target("Target.targetCreated", &format!("p{n}"), "page"));
        }
        assert_eq!(p.open.len(), MAX_PAGES);
        for n in 0..(MAX_PAGES + 5) {
            assert_eq!(
                p.message(&target("Target.targetDestroyed", &format!("p{n}"), "")),
                None
            );
        }
    }

    #[tokio::test]
    async fn an_answer_is_waited_for_and_a_refusal_or_silence_is_an_error() {
        let (tx, mut rx) = watch::channel(None);
        tx.send_replace(Some(Reply { id: 1, ok: true }));
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.send_replace(Some(Reply { id: 2, ok: true }));
            tx
        });
        answered(&mut rx, 2, Duration::from_secs(5))
            .await
            .expect("answered");
        let tx = late.await.expect("join");
        tx.send_replace(Some(Reply { id: 3, ok: false }));
        assert!(matches!(
            answered(&mut rx, 3, Duration::from_secs(1)).await,
            Err(WarmError::Refused { id: 3 })
        ));
        assert!(matches!(
            answered(&mut rx, 4, Duration::from_millis(20)).await,
            Err(WarmError::NoAnswer { id: 4, .. })
        ));
    }

    #[test]
    fn a_command_reaches_the_fifo_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        super::super::devtools::make_pipes(dir.path()).expect("fifos");
        let reader = rustix::fs::open(
            dir.path().join(COMMANDS),
            OFlags::RDONLY | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .expect("reader");
        let msg = open_window("http://h/x");
        send(dir.path(), &msg).expect("sent");
        let mut buf = vec![0u8; 4096];
        let n = rustix::io::read(&reader, &mut buf[..]).expect("read");
        assert_eq!(&buf[..n], &msg[..]);
    }
}

//! Shared by the daemon tests: zion-sandboxd started with its profiles in a
//! test environment, its log lines collected, and the profile containers as
//! Podman sees them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zion_tests::TestEnv;

pub const DAEMON: &str = env!("CARGO_BIN_EXE_zion-sandboxd");

/// A `[[profile]]` table on `image` with no network and 256 MiB.
pub fn profile(name: &str, colour: &str, image: &str, key: u8) -> String {
    format!(
        "[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\nnetwork = \"none\"\nmemory = \"256MiB\"\nhotkey = \"Super+{key}\"\n\n"
    )
}

/// The daemon, with its log lines arriving on a channel.
pub struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Daemon {
    /// Starts zion-sandboxd in `env` (profiles and quarantine).
    pub fn start(env: &TestEnv) -> Daemon {
        let mut child = env
            .command(DAEMON)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zion-sandboxd starts");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Daemon {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle`; returns the lines seen
    /// while waiting.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Vec<String> {
        let start = Instant::now();
        let mut now_seen = Vec::new();
        while start.elapsed() < timeout {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let found = line.contains(needle);
                self.seen.push(line.clone());
                now_seen.push(line);
                if found {
                    return now_seen;
                }
            }
        }
        panic!(
            "no `{needle}` from zion-sandboxd within {timeout:?}; it said:\n{}",
            self.log()
        );
    }

    /// Everything it said so far.
    pub fn log(&mut self) -> String {
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }

    /// Sends it `sig`.
    pub fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, sig).expect("signal");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name status` of every profile container, sorted.
pub fn podman_states(env: &TestEnv) -> Vec<String> {
    let out = env
        .podman()
        .cli()
        .args([
            "ps",
            "--all",
            "--quiet",
            "--filter",
            "label=org.zionos.profile",
        ])
        .output()
        .expect("podman ps");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let out = env
        .podman()
        .cli()
        .args(["inspect", "--format", "{{.Name}} {{.State.Status}}"])
        .args(&ids)
        .output()
        .expect("podman inspect");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

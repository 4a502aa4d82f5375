//! Helpers shared by the benchmarks that run a compositor beside weston.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The middle of `samples` (the upper one of two); `samples` must not be
/// empty.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// `d` in milliseconds, two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// A release binary beside the running benchmark.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the benchmark's own binary")?;
    let bin = exe.with_file_name(name);
    if !bin.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p zion-bench -p zion-compositor --bins`",
            bin.display()
        );
    }
    Ok(bin)
}

/// Processes stopped (TERM, then KILL) when dropped.
pub struct Children(pub Vec<Child>);

impl Children {
    /// Stops them all, the last started first.
    pub fn stop(&mut self) {
        for mut child in self.0.drain(..).rev() {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_child(&child),
                rustix::process::Signal::TERM,
            );
            let end = Instant::now() + Duration::from_secs(5);
            while Instant::now() < end && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Fails if one of them has exited.
    pub fn check(&mut self, what: &str) -> anyhow::Result<()> {
        for child in &mut self.0 {
            if let Some(status) = child.try_wait().context("checking a child")? {
                bail!("{what} (pid {}) exited early: {status}", child.id());
            }
        }
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits up to `wait` for the compositor run as `server` to answer on its
/// Wayland socket `path`; its log `log` is named if it does not.
pub fn wait_socket(
    path: &Path,
    server: &mut Children,
    log: &Path,
    wait: Duration,
) -> anyhow::Result<()> {
    let end = Instant::now() + wait;
    while UnixStream::connect(path).is_err() {
        if server.check("the compositor").is_err() || Instant::now() > end {
            bail!(
                "no Wayland socket at {} within {wait:?}; see {}",
                path.display(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

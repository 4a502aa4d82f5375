//! Helpers shared by the benchmarks that run a compositor beside weston.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

/// The socket name weston is given in the benchmarks.
pub const WESTON_SOCKET: &str = "wayland-bench";

/// Starts weston (`program`) headless with Pixman, `width`×`height`, on
/// socket [`WESTON_SOCKET`] in `runtime` (made, mode 0700), logging to
/// `log`, with `extra` arguments (e.g. `--xwayland`); does not wait for it.
pub fn spawn_weston(
    program: &Path,
    runtime: &Path,
    log: &Path,
    (width, height): (&str, &str),
    extra: &[&str],
) -> anyhow::Result<Child> {
    std::fs::create_dir_all(runtime).context("creating a runtime folder")?;
    std::fs::set_permissions(runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .context("setting the runtime folder's mode")?;
    Command::new(program)
        .args([
            "--backend=headless-backend.so",
            "--use-pixman",
            &format!("--width={width}"),
            &format!("--height={height}"),
            &format!("--socket={WESTON_SOCKET}"),
            "--idle-time=0",
            "--no-config",
        ])
        .args(extra)
        .env("XDG_RUNTIME_DIR", runtime)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).context("creating the weston log")?)
        .spawn()
        .context("starting weston")
}

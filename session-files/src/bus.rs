//! Making sure the session has a D-Bus session bus.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use rustix::process::{kill_process, Pid, Signal};

/// `$XDG_RUNTIME_DIR/bus` when it is a socket (the per-user bus).
pub fn user_bus_socket(runtime_dir: Option<&Path>) -> Option<PathBuf> {
    let socket = runtime_dir?.join("bus");
    std::fs::metadata(&socket)
        .is_ok_and(|m| m.file_type().is_socket())
        .then_some(socket)
}

/// A bus started with `dbus-daemon --fork`; stopped by [`ForkedBus::stop`].
#[derive(Debug)]
pub struct ForkedBus {
    /// Its address.
    pub address: String,
    pid: Option<Pid>,
}

impl ForkedBus {
    /// Starts `dbus-daemon --session --fork --print-address`.
    pub fn start(dbus_daemon: &Path) -> anyhow::Result<ForkedBus> {
        let out = Command::new(dbus_daemon)
            .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("error starting {}", dbus_daemon.display()))?;
        if !out.status.success() {
            bail!(
                "{} --session --fork failed ({}): see the messages above",
                dbus_daemon.display(),
                out.status
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let (address, pid) = parse_print_output(&text).with_context(|| {
            format!(
                "{} printed no bus address (it printed `{}`)",
                dbus_daemon.display(),
                text.trim()
            )
        })?;
        Ok(ForkedBus { address, pid })
    }

    /// Stops the bus.
    pub fn stop(&self) {
        if let Some(pid) = self.pid {
            let _ = kill_process(pid, Signal::TERM);
        }
    }
}

/// The address (first line) and the pid (second line) that `dbus-daemon
/// --print-address=1 --print-pid=1` prints.
fn parse_print_output(text: &str) -> Option<(String, Option<Pid>)> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let address = lines.next()?.to_owned();
    if !address.contains(':') {
        return None;
    }
    let pid = lines
        .next()
        .and_then(|l| l.parse::<i32>().ok())
        .and_then(Pid::from_raw);
    Some((address, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forked_daemons_address_and_pid_are_read() {
        let (address, pid) =
            parse_print_output("unix:path=/tmp/dbus-x,guid=ab\n4242\n").expect("parsed");
        assert_eq!(address, "unix:path=/tmp/dbus-x,guid=ab");
        assert_eq!(pid.map(Pid::as_raw_nonzero).map(i32::from), Some(4242));
    }

    #[test]
    fn output_without_an_address_is_refused() {
        assert!(parse_print_output("").is_none());
        assert!(parse_print_output("4242\n").is_none());
    }
}

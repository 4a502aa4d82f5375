//! Running helper programs and waiting for the services the harness starts.

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

use crate::HarnessError;

/// Runs `cmd` to completion and fails with its stderr when it fails.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, HarnessError> {
    let command = format!("{cmd:?}");
    let out = cmd.output().map_err(|err| HarnessError::Command {
        command: command.clone(),
        status: "could not start".into(),
        stderr: err.to_string(),
    })?;
    if !out.status.success() {
        return Err(HarnessError::Command {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out)
}

/// Checks that `program` is on PATH.
pub(crate) fn require_program(program: &'static str) -> Result<(), HarnessError> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    if found {
        Ok(())
    } else {
        Err(HarnessError::Missing { program })
    }
}

/// Waits until `path` exists (a socket a service creates when ready), or the
/// child exits, or `timeout` passes.
pub(crate) fn wait_for_path(
    what: &'static str,
    path: &Path,
    child: &mut Child,
    log: &Path,
    timeout: Duration,
) -> Result<(), HarnessError> {
    let start = Instant::now();
    loop {
        if path.exists() {
            return Ok(());
        }
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        if exited || start.elapsed() > timeout {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            return Err(HarnessError::Timeout {
                what,
                seconds: timeout.as_secs(),
                log: if exited {
                    format!("it exited: {log}")
                } else {
                    log
                },
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a child that leads its own process group: SIGTERM to the group, a
/// grace period, then SIGKILL, and reaps it.
pub(crate) fn stop_group(child: &mut Child, grace: Duration) {
    let Some(pid) = Pid::from_raw(child.id() as i32) else {
        return;
    };
    if matches!(child.try_wait(), Ok(Some(_))) {
        // The leader is gone; members may remain.
        let _ = kill_process_group(pid, Signal::KILL);
        return;
    }
    let _ = kill_process_group(pid, Signal::TERM);
    let start = Instant::now();
    while start.elapsed() < grace {
        if matches!(child.try_wait(), Ok(Some(_))) {
            let _ = kill_process_group(pid, Signal::KILL);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill_process_group(pid, Signal::KILL);
    let _ = child.wait();
}

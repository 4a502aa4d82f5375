//! Running helper programs and waiting for the services the harness starts.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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

/// Starts a service in its own process group with its output in
/// `<dir>/<name>.log`, waits until it creates `socket`, and records its pid in
/// `<dir>/<name>.pid` (for the reaper). `what` names it in errors.
pub(crate) fn start_service(
    what: &'static str,
    mut cmd: Command,
    dir: &Path,
    name: &str,
    socket: &Path,
    timeout: Duration,
) -> Result<Child, HarnessError> {
    let log_path = dir.join(format!("{name}.log"));
    let log = fs::File::create(&log_path)
        .map_err(HarnessError::io("creating a service log", &log_path))?;
    let log_err = log
        .try_clone()
        .map_err(HarnessError::io("creating a service log", &log_path))?;
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0);
    let mut child = cmd.spawn().map_err(HarnessError::io(what, dir))?;
    if let Err(err) = wait_for_path(what, socket, &mut child, &log_path, timeout) {
        stop_group(&mut child, Duration::from_secs(1));
        return Err(err);
    }
    let pid_path = dir.join(format!("{name}.pid"));
    fs::write(&pid_path, child.id().to_string())
        .map_err(HarnessError::io("writing a pid file", &pid_path))?;
    Ok(child)
}

/// Waits until the socket at `path` accepts a connection (a service binds
/// it before it listens: the file alone is not readiness, and connecting in
/// between is refused), or the child exits, or `timeout` passes.
fn wait_for_path(
    what: &'static str,
    path: &Path,
    child: &mut Child,
    log: &Path,
    timeout: Duration,
) -> Result<(), HarnessError> {
    let start = Instant::now();
    loop {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
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

//! Making sure the session's Podman API answers before the daemon starts
//! (direct mode; under systemd, `zion-sandboxd.service` wants the user's
//! `podman.socket`): the daemon tries `CONTAINER_HOST`, then
//! `$XDG_RUNTIME_DIR/podman/podman.sock`, then `/run/podman/podman.sock`. When
//! nothing is set and no socket answers, the launcher runs `podman system
//! service` on the user's socket as its own child, for the session's life.

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// What to do about Podman.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodmanPlan {
    /// `CONTAINER_HOST` names it: an explicit choice, left alone.
    Given,
    /// A socket answers already.
    Answers(PathBuf),
    /// Nothing answers: serve the API on this socket.
    Serve(PathBuf),
}

/// The user's socket under `runtime_dir`.
pub fn user_socket(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("podman/podman.sock")
}

/// The plan, given `CONTAINER_HOST`, the runtime folder and which sockets
/// accept a connection (pure).
pub fn plan(
    container_host: Option<&str>,
    runtime_dir: &Path,
    answers: impl Fn(&Path) -> bool,
) -> PodmanPlan {
    if container_host.is_some_and(|h| !h.is_empty()) {
        return PodmanPlan::Given;
    }
    let user = user_socket(runtime_dir);
    for socket in [user.clone(), PathBuf::from("/run/podman/podman.sock")] {
        if answers(&socket) {
            return PodmanPlan::Answers(socket);
        }
    }
    PodmanPlan::Serve(user)
}

/// Whether a Unix socket accepts a connection.
pub fn answers(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

/// `podman system service` run by the launcher; stopped when dropped.
pub struct PodmanService {
    child: Child,
    /// The socket it serves.
    pub socket: PathBuf,
}

impl PodmanService {
    /// Starts `podman` serving `socket` with no idle timeout, and waits
    /// until the socket answers.
    pub fn start(podman: &Path, socket: &Path) -> anyhow::Result<PodmanService> {
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut cmd = Command::new(podman);
        cmd.args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null());
        // It ends with the launcher, even a killed one.
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no
        // memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::TERM,
                ))
                .map_err(std::io::Error::from)
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} system service", podman.display()))?;
        let mut service = PodmanService {
            child,
            socket: socket.to_owned(),
        };
        let start = Instant::now();
        while !answers(socket) {
            if let Ok(Some(status)) = service.child.try_wait() {
                anyhow::bail!("podman system service exited at once ({status})");
            }
            if start.elapsed() > Duration::from_secs(20) {
                anyhow::bail!(
                    "podman system service did not answer on {} within 20 s",
                    socket.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(service)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_container_host_is_left_alone() {
        assert_eq!(
            plan(Some("unix:///x.sock"), Path::new("/run/user/1"), |_| false),
            PodmanPlan::Given
        );
    }

    #[test]
    fn a_socket_that_answers_is_used_user_first() {
        let user = PathBuf::from("/run/user/1/podman/podman.sock");
        assert_eq!(
            plan(None, Path::new("/run/user/1"), |_| true),
            PodmanPlan::Answers(user.clone())
        );
        assert_eq!(
            plan(Some(""), Path::new("/run/user/1"), |s| s
                == Path::new("/run/podman/podman.sock")),
            PodmanPlan::Answers("/run/podman/podman.sock".into())
        );
        assert_eq!(
            plan(None, Path::new("/run/user/1"), |_| false),
            PodmanPlan::Serve(user)
        );
    }
}

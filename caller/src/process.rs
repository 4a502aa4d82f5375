//! Reading a process's identity from `/proc` while a pidfd holds it, so
//! that what was read is known to be that process's and not a later one's
//! that was given the same pid.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{pidfd_open, Pid, PidfdFlags};

use crate::identity::{Host, Namespaces, NsId, Process, Seen};

/// The service itself, read from `/proc/self`.
pub fn host() -> Result<Host, String> {
    let dir = Path::new("/proc/self");
    Ok(Host {
        uid: rustix::process::geteuid().as_raw(),
        namespaces: namespaces(dir)?,
        cgroup: read(&dir.join("cgroup"))?,
    })
}

/// The process the bus says made a connection: `pid` as the bus saw it, or
/// `pidfd`, the bus's own handle on that process (its `ProcessFD`, which
/// dbus-broker and newer dbus-daemons give), which no pid reuse can
/// confuse.
pub fn inspect(pid: Option<u32>, pidfd: Option<BorrowedFd<'_>>) -> Seen {
    if let Some(fd) = pidfd {
        return match pid_of_pidfd(fd) {
            Ok(pid) => read_process(pid, fd),
            Err(why) => Seen::Unreadable {
                pid: pid.unwrap_or(0),
                why,
            },
        };
    }
    let Some(pid) = pid else {
        return Seen::NoPid;
    };
    match open(pid) {
        Ok(fd) => read_process(pid, fd.as_fd()),
        Err(why) => Seen::Unreadable { pid, why },
    }
}

/// A pidfd for `pid`, taken before anything is read under `/proc/<pid>`.
fn open(pid: u32) -> Result<OwnedFd, String> {
    let raw = i32::try_from(pid).map_err(|_| format!("{pid} is not a pid"))?;
    let pid = Pid::from_raw(raw).ok_or_else(|| format!("{raw} is not a pid"))?;
    pidfd_open(pid, PidfdFlags::empty()).map_err(|e| {
        format!(
            "no process {pid} in this service's pid namespace ({e}): it exited, or it lives in a \
             pid namespace this service cannot see"
        )
    })
}

/// The pid, in this service's pid namespace, of the process `pidfd` holds
/// (the `Pid:` line of its fdinfo: -1 once it exited, 0 when it is out of
/// this pid namespace's sight).
fn pid_of_pidfd(pidfd: BorrowedFd<'_>) -> Result<u32, String> {
    let info = read(&PathBuf::from(format!(
        "/proc/self/fdinfo/{}",
        pidfd.as_raw_fd()
    )))?;
    let field = info
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .ok_or("the bus's process handle is not a pidfd")?;
    match field.trim().parse::<i64>() {
        Ok(pid) if pid > 0 => u32::try_from(pid).map_err(|_| format!("{pid} is not a pid")),
        Ok(-1) => Err("the process has exited".to_owned()),
        Ok(_) => Err("the process lives in a pid namespace this service cannot see".to_owned()),
        Err(e) => Err(format!("unreadable pidfd info `{}`: {e}", field.trim())),
    }
}

fn read_process(pid: u32, pidfd: BorrowedFd<'_>) -> Seen {
    match read_pinned(pid, pidfd) {
        Ok(process) => Seen::Process(process),
        Err(why) => Seen::Unreadable { pid, why },
    }
}

fn read_pinned(pid: u32, pidfd: BorrowedFd<'_>) -> Result<Process, String> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let (uid, euid) = uids(&read(&dir.join("status"))?)?;
    let namespaces = namespaces(&dir)?;
    let cgroup = read(&dir.join("cgroup"))?;
    // Everything above was read from `/proc/<pid>`; if the pidfd's process
    // still runs now, that pid was still its own while it was read.
    let alive = running(pidfd)?;
    Ok(Process {
        pid,
        uid,
        euid,
        namespaces,
        cgroup,
        alive,
    })
}

/// Whether the process behind `pidfd` still runs: a pidfd polls readable
/// once its process has exited.
fn running(pidfd: BorrowedFd<'_>) -> Result<bool, String> {
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let ready = poll(&mut fds, Some(&now)).map_err(|e| format!("polling its pidfd: {e}"))?;
    Ok(ready == 0)
}

/// The real and effective uid from a `/proc/<pid>/status`.
fn uids(status: &str) -> Result<(u32, u32), String> {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .ok_or("no Uid line in its status")?;
    let mut ids = line.split_whitespace().map(str::parse::<u32>);
    match (ids.next(), ids.next()) {
        (Some(Ok(real)), Some(Ok(effective))) => Ok((real, effective)),
        _ => Err(format!("unreadable Uid line `{}`", line.trim())),
    }
}

fn namespaces(dir: &Path) -> Result<Namespaces, String> {
    let ns = |kind: &str| -> Result<NsId, String> {
        let path = dir.join("ns").join(kind);
        // Following the link gives the namespace's own inode; reading it
        // needs the right to ptrace-read the process, which a process of
        // another user's (or of a foreign user namespace) denies.
        let meta = fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(NsId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    };
    Ok(Namespaces {
        user: ns("user")?,
        pid: ns("pid")?,
        mnt: ns("mnt")?,
        net: ns("net")?,
    })
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_come_from_the_status_uid_line() {
        let status = "Name:\tsh\nUid:\t1000\t0\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(uids(status), Ok((1000, 0)));
        assert!(uids("Name:\tsh\n").is_err());
        assert!(uids("Uid:\tx\ty\n").is_err());
    }

    #[test]
    fn this_process_inspected_by_pid_is_the_host() {
        let host = host().expect("own identity");
        match inspect(Some(std::process::id()), None) {
            Seen::Process(p) => {
                assert_eq!(p.namespaces, host.namespaces);
                assert_eq!(p.euid, host.uid);
                assert!(p.alive);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pid_that_names_no_process_is_unreadable() {
        // Above the largest pid_max the kernel allows (2^22).
        match inspect(Some(5_000_000), None) {
            Seen::Unreadable {
                pid: 5_000_000,
                why,
            } => {
                assert!(why.contains("no process"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(inspect(None, None), Seen::NoPid);
    }

    #[test]
    fn a_pidfd_from_the_bus_gives_its_processs_pid() {
        let pid = Pid::from_raw(std::process::id() as i32).expect("pid");
        let fd = pidfd_open(pid, PidfdFlags::empty()).expect("pidfd");
        match inspect(Some(1), Some(fd.as_fd())) {
            Seen::Process(p) => assert_eq!(p.pid, std::process::id()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_process_that_exited_is_not_running_by_its_pidfd() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = Pid::from_raw(child.id() as i32).expect("pid");
        let fd = pidfd_open(pid, PidfdFlags::empty()).expect("pidfd");
        child.wait().expect("true ends");
        assert_eq!(running(fd.as_fd()), Ok(false));
        assert!(matches!(
            inspect(None, Some(fd.as_fd())),
            Seen::Unreadable { .. }
        ));
    }
}

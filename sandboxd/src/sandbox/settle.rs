//! Waiting for a pooled sandbox's browser to settle before it is frozen
//! (issue 15). A Chromium answers on its DevTools pipe long before its
//! start-up is over: its network service, its GPU process and its D-Bus
//! probes are still starting. Frozen in the middle of that, a browser came
//! back stalled for a minute or with its network service dead (seen in the
//! soak under load). So the pool freezes a browser only once its
//! container's CPU use has fallen quiet.
//!
//! The CPU time is the container's cgroup's, found from its first
//! process's `/proc/<pid>/cgroup`: `cpuacct.usage` on cgroup v1,
//! `cpu.stat`'s `usage_usec` on v2 (rootless too: the user's own cgroups).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the CPU time is read.
pub const WINDOW: Duration = Duration::from_millis(250);
/// A window using at most this much CPU is quiet (4 % of one core).
pub const QUIET_CPU: Duration = Duration::from_millis(10);
/// Quiet windows in a row that make the browser settled.
pub const QUIET_WINDOWS: u32 = 2;
/// How long a browser is waited for; one still busy then is frozen anyway.
pub const LIMIT: Duration = Duration::from_secs(15);

/// Where a cgroup's CPU time is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuClock {
    /// cgroup v1: `cpuacct.usage`, nanoseconds.
    V1(PathBuf),
    /// cgroup v2: `cpu.stat`'s `usage_usec`.
    V2(PathBuf),
}

impl CpuClock {
    /// The clock of the cgroup that `proc_cgroup` (the text of a
    /// `/proc/<pid>/cgroup`) names, under the cgroup mount `root`.
    pub fn from_proc(proc_cgroup: &str, root: &Path) -> Option<CpuClock> {
        let mut unified = None;
        for line in proc_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let path = path.trim_start_matches('/');
            if path.split('/').any(|c| c == "..") {
                return None;
            }
            if controllers.split(',').any(|c| c == "cpuacct") {
                let dir = [controllers, "cpu,cpuacct", "cpuacct"]
                    .into_iter()
                    .map(|d| root.join(d))
                    .find(|d| d.is_dir())?;
                return Some(CpuClock::V1(dir.join(path).join("cpuacct.usage")));
            }
            if controllers.is_empty() {
                unified = Some(CpuClock::V2(root.join(path).join("cpu.stat")));
            }
        }
        unified
    }

    /// The clock of process `pid`'s cgroup.
    pub fn of_process(pid: u32) -> Option<CpuClock> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        CpuClock::from_proc(&text, Path::new("/sys/fs/cgroup"))
    }

    /// The CPU time the cgroup used so far.
    pub fn read(&self) -> Option<Duration> {
        match self {
            CpuClock::V1(path) => {
                let ns = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
                Some(Duration::from_nanos(ns))
            }
            CpuClock::V2(path) => parse_cpu_stat(&std::fs::read_to_string(path).ok()?),
        }
    }
}

/// `usage_usec` of a cgroup v2 `cpu.stat`.
pub fn parse_cpu_stat(text: &str) -> Option<Duration> {
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_micros)
}

/// Counts quiet windows: settled once [`QUIET_WINDOWS`] in a row used at
/// most [`QUIET_CPU`] each.
#[derive(Debug, Default)]
pub struct Quiet {
    last: Option<Duration>,
    quiet: u32,
}

impl Quiet {
    /// Takes the next reading; true once settled.
    pub fn reading(&mut self, used: Duration) -> bool {
        match self.last.replace(used) {
            Some(before) if used.saturating_sub(before) <= QUIET_CPU => self.quiet += 1,
            _ => self.quiet = 0,
        }
        self.quiet >= QUIET_WINDOWS
    }
}

/// Waits until the cgroup behind `clock` is quiet, at most [`LIMIT`];
/// returns how long it took, or `None` when it never fell quiet or its
/// clock could not be read.
pub async fn until_quiet(clock: &CpuClock) -> Option<Duration> {
    let start = Instant::now();
    let mut quiet = Quiet::default();
    loop {
        if quiet.reading(clock.read()?) {
            return Some(start.elapsed());
        }
        if start.elapsed() > LIMIT {
            return None;
        }
        tokio::time::sleep(WINDOW).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_clock_is_found_on_cgroup_v1_and_v2() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("cpu,cpuacct")).unwrap();
        let v1 = "12:pids:/libpod_parent/libpod-ab\n\
                  4:cpu,cpuacct:/libpod_parent/libpod-ab\n\
                  0::/libpod_parent/libpod-ab\n";
        assert_eq!(
            CpuClock::from_proc(v1, root.path()),
            Some(CpuClock::V1(
                root.path()
                    .join("cpu,cpuacct/libpod_parent/libpod-ab/cpuacct.usage")
            ))
        );
        let v2 = "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-ab.scope\n";
        assert_eq!(
            CpuClock::from_proc(v2, root.path()),
            Some(CpuClock::V2(root.path().join(
                "user.slice/user-1000.slice/user@1000.service/user.slice/libpod-ab.scope/cpu.stat"
            )))
        );
        // A path that climbs out of the mount is no clock.
        assert_eq!(CpuClock::from_proc("0::/../../etc\n", root.path()), None);
        assert_eq!(CpuClock::from_proc("garbage", root.path()), None);
    }

    #[test]
    fn cpu_stat_gives_its_usage() {
        let text = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n";
        assert_eq!(parse_cpu_stat(text), Some(Duration::from_micros(1500)));
        assert_eq!(parse_cpu_stat("user_usec 3\n"), None);
    }

    #[test]
    fn settled_only_after_quiet_windows_in_a_row() {
        let mut q = Quiet::default();
        let ms = Duration::from_millis;
        assert!(!q.reading(ms(0)));
        assert!(!q.reading(ms(200)), "busy");
        assert!(!q.reading(ms(205)), "one quiet window");
        assert!(!q.reading(ms(400)), "busy again: counting restarts");
        assert!(!q.reading(ms(401)));
        assert!(q.reading(ms(402)), "two quiet windows in a row");
    }

    #[tokio::test]
    async fn a_real_cgroup_clock_reads_and_a_vanished_one_is_none() {
        // This test's own cgroup: readable on either version.
        let clock = CpuClock::of_process(std::process::id()).expect("own cgroup clock");
        assert!(clock.read().is_some(), "{clock:?}");
        let gone = CpuClock::V2(PathBuf::from("/nonexistent/cpu.stat"));
        assert_eq!(until_quiet(&gone).await, None);
    }
}

//! Leaving nothing behind: unmounting what lies under a test folder, killing
//! the processes a test started, and reaping folders of test processes that
//! were killed before they could clean up.

use std::fs;
use std::path::{Path, PathBuf};

use rustix::mount::{unmount, UnmountFlags};
use rustix::process::{kill_process_group, test_kill_process, Pid, Signal};

/// Where test folders go. Always `/tmp`, whatever `TMPDIR` says: Podman
/// refuses a run root longer than 50 characters, and a unix socket path must
/// fit in 108 bytes.
pub const BASE: &str = "/tmp";

/// The prefix of every test folder.
pub const PREFIX: &str = "zion-test-";

/// Mount points at or under `dir`, deepest first (from /proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut mounts: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mount_path)
        .filter(|p| p.starts_with(dir))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    mounts.dedup();
    mounts
}

/// Unmounts everything under `dir` (lazily, so that a busy mount still goes).
pub fn unmount_all(dir: &Path) {
    for mount in mounts_under(dir) {
        if let Err(err) = unmount(&mount, UnmountFlags::DETACH) {
            tracing::warn!("unmounting {}: {err}", mount.display());
        }
    }
}

/// Processes whose command line names something under `dir` (conmon, exit
/// commands, a service), or whose root is a mount made from something under
/// it (a container of the test's Podman, which names nothing of it): what a
/// test environment may leave running. A container Podman started while the
/// test's `rm --all` ran (a warm pool refilling as the daemon went) outlives
/// its conmon otherwise.
pub fn processes_under(dir: &Path) -> Vec<Pid> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let own = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid as u32 != own)
        .filter(|pid| {
            let read = |file: &str| fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default();
            contains(&read("cmdline"), needle) || contains(root_mount(&read("mountinfo")), needle)
        })
        .filter_map(Pid::from_raw)
        .collect()
}

/// The line of a mount table (`/proc/<pid>/mountinfo`) that mounts `/`:
/// only it says where a process's files come from (every process sees the
/// test's own mounts elsewhere in its table).
fn root_mount(mountinfo: &[u8]) -> &[u8] {
    mountinfo
        .split(|b| *b == b'\n')
        .find(|line| line.split(|b| *b == b' ').nth(4) == Some(b"/"))
        .unwrap_or(&[])
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Kills every process that names something under `dir`.
pub fn kill_processes_under(dir: &Path) {
    for pid in processes_under(dir) {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
    }
}

/// Kills the process groups recorded in `*.pid` files under `dir` and
/// unmounts everything under it.
pub fn reap_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "pid")
                && path.file_name() != Some("owner.pid".as_ref())
            {
                if let Some(pid) = read_pid(&path) {
                    let _ = kill_process_group(pid, Signal::KILL);
                }
            }
        }
    }
    kill_processes_under(dir);
    unmount_all(dir);
}

/// Removes the folders of earlier test processes that died without cleaning
/// up (a test binary killed by a timeout, say): their services are killed,
/// their mounts unmounted, their files removed.
pub fn reap_stale() {
    let Ok(entries) = fs::read_dir(BASE) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = entry.path();
        let owner_alive =
            read_pid(&dir.join("owner.pid")).is_some_and(|pid| test_kill_process(pid).is_ok());
        if owner_alive {
            continue;
        }
        // A young folder may be being set up right now (its owner file not
        // yet written): leave it.
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().map(|e| e.as_secs() < 60).unwrap_or(true));
        if young {
            continue;
        }
        tracing::info!("reaping stale test folder {}", dir.display());
        for sub in ["podman", "dbus"] {
            reap_dir(&dir.join(sub));
        }
        unmount_all(&dir);
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Kills rootless Podman's pause process (`catatonit -P`, which holds the
/// user namespace in a session of its own and outlives the service on
/// purpose), whose pid Podman records as `pause.pid` in its `tmp_dir`.
pub fn kill_pause_process(tmp_dir: &Path) {
    if let Some(pid) = read_pid(&tmp_dir.join("pause.pid")) {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
    }
}

fn read_pid(path: &Path) -> Option<Pid> {
    let text = fs::read_to_string(path).ok()?;
    Pid::from_raw(text.trim().parse().ok()?)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(field: &str) -> PathBuf {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let octal = std::str::from_utf8(&bytes[i + 1..i + 4]).ok();
            if let Some(v) = octal.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_root_line_of_a_mount_table_counts() {
        let container = b"234 160 0:48 / / rw - overlay overlay rw,upperdir=/tmp/zion-test-x/podman/root/overlay/1/diff\n\
            241 234 0:40 /zion-test-x/hosts /etc/hosts rw - tmpfs tmpfs rw\n";
        let host = b"25 1 254:0 / / rw - ext4 /dev/vda rw\n\
            300 25 0:40 / /tmp/zion-test-x/mnt rw - tmpfs tmpfs rw\n";
        let names = |mountinfo: &[u8]| contains(root_mount(mountinfo), b"/tmp/zion-test-x");
        assert!(names(container), "a container rooted in the test folder");
        assert!(!names(host), "a host process that merely sees a test mount");
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(
            unescape_mount_path(r"/tmp/a\040b"),
            PathBuf::from("/tmp/a b")
        );
        assert_eq!(unescape_mount_path("/plain"), PathBuf::from("/plain"));
    }
}

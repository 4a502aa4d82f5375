//! A real unprivileged account for the tests of Zion as a person runs it
//! (issue 19): `zion-tester`, with a subordinate uid/gid range for rootless
//! Podman, created on first use (and kept: making it again would only
//! repeat the same `useradd`).
//!
//! What a desktop distribution gives every user and this machine does not
//! (no udev here) is given to this account only: read-write access to
//! `/dev/net/tun` through an ACL, which rootless Podman's `slirp4netns`
//! needs. Nothing else about the machine changes.
//!
//! Commands run as the account through `setpriv` with a clean environment
//! (its own `HOME`, `USER`, `PATH`): nothing of the test's root environment
//! leaks into what the user runs.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use rustix::fs::{flock, FlockOperation};

use crate::process::{require_program, run};
use crate::HarnessError;

/// The account's name.
pub const NAME: &str = "zion-tester";

/// The `PATH` commands run with as the account.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// The unprivileged test account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

impl TestUser {
    /// The account, created (with a subordinate id range) when missing.
    /// Needs root; several tests may call it at once.
    pub fn ensure() -> Result<TestUser, HarnessError> {
        if !rustix::process::geteuid().is_root() {
            return Err(HarnessError::NotRoot {
                what: "creating the unprivileged test account",
            });
        }
        for program in ["useradd", "setpriv", "newuidmap", "setfacl"] {
            require_program(program)?;
        }
        let lock_path = Path::new(crate::cleanup::BASE).join("zion-tester.lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(HarnessError::io(
                "opening the test account's lock",
                &lock_path,
            ))?;
        flock(&lock, FlockOperation::LockExclusive).map_err(|e| HarnessError::Io {
            what: "locking the test account",
            path: lock_path.clone(),
            source: e.into(),
        })?;
        let user = match lookup(NAME)? {
            Some(user) => user,
            None => {
                // A regular account (useradd gives it a subordinate range
                // from login.defs), no home of its own: every test gives
                // it a HOME in its own folder.
                run(Command::new("useradd").args([
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    NAME,
                ]))?;
                lookup(NAME)?.ok_or(HarnessError::NoAccount { name: NAME })?
            }
        };
        user.ensure_subordinate_ids()?;
        user.open_tun()?;
        Ok(user)
    }

    /// Gives the account a subordinate uid and gid range when it has none
    /// (useradd adds one only when `/etc/subuid` already existed).
    fn ensure_subordinate_ids(&self) -> Result<(), HarnessError> {
        let has = |file: &str| {
            fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .any(|l| l.split(':').next() == Some(self.name.as_str()))
        };
        if has("/etc/subuid") && has("/etc/subgid") {
            return Ok(());
        }
        let start = free_range_start(&[
            fs::read_to_string("/etc/subuid").unwrap_or_default(),
            fs::read_to_string("/etc/subgid").unwrap_or_default(),
        ]);
        let range = format!("{start}-{}", start + 65535);
        run(Command::new("usermod")
            .arg("--add-subuids")
            .arg(&range)
            .arg("--add-subgids")
            .arg(&range)
            .arg(&self.name))?;
        Ok(())
    }

    /// Lets the account open `/dev/net/tun` (rootless Podman's network),
    /// as udev does for everyone on a desktop.
    fn open_tun(&self) -> Result<(), HarnessError> {
        let tun = Path::new("/dev/net/tun");
        if !tun.exists() {
            return Ok(());
        }
        let mode = fs::metadata(tun)
            .map_err(HarnessError::io("reading /dev/net/tun", tun))?
            .permissions()
            .mode();
        if mode & 0o006 == 0o006 {
            return Ok(());
        }
        run(Command::new("setfacl")
            .arg("-m")
            .arg(format!("u:{}:rw", self.name))
            .arg(tun))?;
        Ok(())
    }

    /// A command that runs `program` as the account, with `HOME` at `home`
    /// and nothing else of the caller's environment (add what it needs with
    /// `env`). Arguments added to it go to `program`.
    pub fn command(&self, home: &Path, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .env_clear()
            .env("HOME", home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("PATH", PATH)
            .env("LANG", "C.UTF-8");
        cmd
    }

    /// Runs `cmd` (built by the caller, e.g. with environment and
    /// arguments) as the account instead: the same program, arguments,
    /// environment additions and folder, with `HOME` at `home`.
    pub fn wrap(&self, home: &Path, cmd: &Command) -> Command {
        let mut wrapped = self.command(home, cmd.get_program());
        wrapped.args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => wrapped.env(key, v),
                None => wrapped.env_remove(key),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            wrapped.current_dir(dir);
        }
        wrapped
    }

    /// A stream connected to the Unix socket at `socket` by the account:
    /// its peer (a bus, a compositor) sees the account's credentials, so
    /// the test, root, can speak as the account where only the session's
    /// user is let in. The socket is made here and connected in a child
    /// that has become the account; the connection is the same socket. The
    /// child lives on (`sleep`) as the connection's process, which services
    /// that check their callers inspect: kill it when done.
    pub fn connect(
        &self,
        socket: &Path,
    ) -> std::io::Result<(std::os::unix::net::UnixStream, std::process::Child)> {
        use std::os::fd::{AsRawFd, BorrowedFd};
        use std::os::unix::process::CommandExt;

        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        use rustix::process::{Gid, Uid};

        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )?;
        let addr = SocketAddrUnix::new(socket)?;
        let raw = fd.as_raw_fd();
        let uid = Uid::from_raw(self.uid);
        let gid = Gid::from_raw(self.gid);
        let mut child = Command::new("sleep");
        child
            .arg("infinity")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        // SAFETY: between fork and exec the closure only makes system calls
        // (no allocation: the address was made above).
        unsafe {
            child.pre_exec(move || {
                rustix::thread::set_thread_groups(&[])?;
                rustix::thread::set_thread_res_gid(gid, gid, gid)?;
                rustix::thread::set_thread_res_uid(uid, uid, uid)?;
                rustix::net::connect(BorrowedFd::borrow_raw(raw), &addr)?;
                Ok(())
            });
        }
        // A failed connect is spawn's error.
        let holder = child.spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("connecting to {} as {}: {e}", socket.display(), self.name),
            )
        })?;
        Ok((std::os::unix::net::UnixStream::from(fd), holder))
    }

    /// Makes `path` (and, with `recursive`, everything under it) the
    /// account's.
    pub fn give(&self, path: &Path, recursive: bool) -> Result<(), HarnessError> {
        let mut chown = Command::new("chown");
        if recursive {
            chown.arg("-R");
        }
        chown.arg(format!("{}:{}", self.uid, self.gid)).arg(path);
        run(&mut chown).map(|_| ())
    }
}

/// Every file and folder under `dir` whose owner is not `uid`, with its
/// owner: what a session as the account must never leave in its folders.
pub fn not_owned_by(dir: &Path, uid: u32) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.uid() != uid {
            found.push((path.clone(), meta.uid()));
        }
        if meta.is_dir() {
            if let Ok(entries) = fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    found
}

/// The account `name` from the password database.
fn lookup(name: &str) -> Result<Option<TestUser>, HarnessError> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .map_err(HarnessError::io("running getent", "getent"))?;
    if !out.status.success() {
        return Ok(None);
    }
    Ok(parse_passwd(&String::from_utf8_lossy(&out.stdout)))
}

/// A passwd line's name, uid and gid.
fn parse_passwd(line: &str) -> Option<TestUser> {
    let mut fields = line.trim().split(':');
    let name = fields.next()?.to_owned();
    let _password = fields.next()?;
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some(TestUser { name, uid, gid })
}

/// Where the ranges useradd hands out end (login.defs' `SUB_UID_MAX`);
/// ranges above it (Podman's `containers:2147483647:…` for
/// `--userns=auto`) are another pool.
const SUB_ID_MAX: u64 = 600_100_000;

/// The first id past every range below [`SUB_ID_MAX`] in the given
/// subuid/subgid files, and at least 100000 (login.defs' `SUB_UID_MIN`).
fn free_range_start(files: &[String]) -> u64 {
    files
        .iter()
        .flat_map(|text| text.lines())
        .filter_map(|line| {
            let mut f = line.split(':').skip(1);
            let start: u64 = f.next()?.parse().ok()?;
            let count: u64 = f.next()?.parse().ok()?;
            (start < SUB_ID_MAX).then_some(start + count)
        })
        .fold(100_000, u64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passwd_line_gives_name_uid_and_gid() {
        assert_eq!(
            parse_passwd("zion-tester:x:1001:1002::/nonexistent:/usr/sbin/nologin\n"),
            Some(TestUser {
                name: "zion-tester".into(),
                uid: 1001,
                gid: 1002
            })
        );
        assert_eq!(parse_passwd("broken"), None);
    }

    #[test]
    fn a_new_range_starts_past_every_existing_one() {
        assert_eq!(free_range_start(&[String::new()]), 100_000);
        assert_eq!(
            free_range_start(&[
                "a:100000:65536\nb:165536:65536\n".into(),
                "containers:2147483647:2147483648\n".into()
            ]),
            231_072
        );
    }
}

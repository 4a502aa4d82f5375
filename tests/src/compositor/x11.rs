//! What the compositor's Xwayland tests share: whether this machine can run
//! them, a private `/tmp` for the test, a fixture with profiles' X11 sockets
//! open, and running an X11 program as a profile's container would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::{profile_name, Fixture, Setup};

/// X display numbers each test thread may use (a test runs two Xwaylands at
/// most); Smithay tries displays 0 to 32.
const DISPLAYS_PER_TEST: u32 = 4;

/// The next test thread's block of display numbers.
static NEXT_BLOCK: AtomicU32 = AtomicU32::new(0);

/// Readies this test thread for an Xwayland test needing `tools` (path,
/// Debian package): false (the skip reported) when it cannot run here.
///
/// The thread gets a private, empty `/tmp` ([`crate::private_tmp`]):
/// Smithay binds its X11 sockets in `/tmp/.X11-unix` (the compositor creates
/// it when missing) with lock files `/tmp/.X<n>-lock`, none of which may stay
/// on the machine, and the test must not lean on an X server that ran here
/// before. Create the test's temporary folders after this call.
pub fn x11_ready(tools: &[(&str, &str)]) -> bool {
    if !zion_compositor::xwayland::installed() {
        crate::skip::not_installed("Xwayland is not installed (Debian package xwayland)");
        return false;
    }
    for (tool, package) in tools {
        if let Some(why) = crate::skip::program_missing(tool, package) {
            crate::skip::not_installed(&why);
            return false;
        }
    }
    if let Some(why) = crate::skip::program_missing("unshare", "util-linux") {
        crate::skip::not_installed(&why);
        return false;
    }
    let unshare = Command::new("unshare")
        .args(["--mount", "--net", "--map-root-user", "true"])
        .stderr(Stdio::null())
        .status();
    if !unshare.is_ok_and(|s| s.success()) {
        crate::skip::lacking(
            "cannot create mount and network namespaces (unshare --mount --net --map-root-user)",
        );
        return false;
    }
    match crate::private_tmp::enter() {
        Ok(()) => reserve_displays(),
        // Without root there is no private /tmp; a machine where an X server
        // made /tmp/.X11-unix already loses nothing (Smithay removes its own
        // socket and lock), one where none did would keep the folder.
        Err(err) if !Path::new("/tmp/.X11-unix").is_dir() => {
            crate::skip::lacking(&format!(
                "no private /tmp for the compositor's /tmp/.X11-unix ({err}; needs root)"
            ));
            return false;
        }
        Err(_) => {}
    }
    true
}

/// Gives this test thread display numbers no other test of this process
/// uses. Each thread's private `/tmp` would offer display 0 to all of them,
/// but the compositor tells its own Xwayland among its process's children by
/// display number (one compositor per process outside tests), so the
/// numbers below this thread's block are taken with lock files Smithay
/// cannot claim (empty: no pid to find dead).
fn reserve_displays() {
    let base = NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) * DISPLAYS_PER_TEST;
    assert!(
        base + DISPLAYS_PER_TEST <= 33,
        "too many Xwayland tests in one test binary for Smithay's 33 displays"
    );
    for n in 0..base {
        let lock = format!("/tmp/.X{n}-lock");
        std::fs::write(&lock, b"").unwrap_or_else(|e| panic!("reserving {lock}: {e}"));
    }
}

/// `program` with `args`, run as in a profile's container: in mount and
/// network namespaces of its own (no abstract X sockets of the host), where
/// `/tmp` is empty but for the folder of the profile's X socket `socket`
/// (`X0`) as `/tmp/.X11-unix`, with `DISPLAY=:0`.
///
/// `/tmp/.X11-unix` need not exist on the machine: a fresh tmpfs goes on
/// `/tmp` first (the shell has entered the socket folder, which that tmpfs
/// hides, and binds it from its working folder, unresolved).
pub fn x11_command(socket: &Path, program: &str, args: &[&str]) -> Command {
    let folder = socket.parent().expect("the X socket has a folder");
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--net",
            "--map-root-user",
            "--propagation",
            "private",
            "sh",
            "-c",
        ])
        .arg(
            "cd \"$0\" && mount -t tmpfs -o mode=1777 tmpfs /tmp && mkdir /tmp/.X11-unix \
             && mount --no-canonicalize --bind . /tmp/.X11-unix && cd / && exec \"$@\"",
        )
        .arg(folder)
        .arg(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("DISPLAY", ":0");
    command
}

impl Fixture {
    /// A fixture for an Xwayland test (after [`x11_ready`]): its runtime
    /// folder in this thread's `/tmp`, the X11 sockets of `profiles` open
    /// (their servers start on their first client), and the compositor's
    /// logs in the test's output.
    pub fn x11(size: (i32, i32), profiles: &[&str]) -> Fixture {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let mut fixture = Fixture::start(Setup {
            size,
            temp_parent: Some(PathBuf::from("/tmp")),
            ..Setup::default()
        });
        for p in profiles {
            fixture
                .state
                .open_x11_socket(&profile_name(p))
                .expect("X11 socket opens");
        }
        fixture
    }

    /// The X socket of `profile` (`X0` in its folder).
    pub fn x11_socket(&self, profile: &str) -> PathBuf {
        self.state
            .xwayland
            .of(profile)
            .expect("X11 socket open")
            .socket
            .clone()
    }

    /// `program args`, run as in `profile`'s container ([`x11_command`]).
    pub fn x11_command(&self, profile: &str, program: &str, args: &[&str]) -> Command {
        x11_command(&self.x11_socket(profile), program, args)
    }

    /// Waits until `profile`'s Xwayland runs and its window manager is
    /// ready (it starts on the first X11 client).
    pub fn wait_x11_ready(&mut self, profile: &str) {
        self.wait(&format!("{profile}'s Xwayland ready"), |s| {
            s.xwayland.of(profile).is_some_and(|i| i.ready())
        });
    }
}

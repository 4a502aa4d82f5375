//! Real client programs on the fixture's sockets: a command connected to a
//! socket, a program run to its end while the compositor dispatches, and
//! the clipboard tools (`wl-copy`, `wl-paste`) with the waits they need.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zion_compositor::clipboard::{Domain, Kind};
use zion_compositor::Compositor;

use super::WAIT;

/// Debian's `wl-copy` (wl-clipboard).
pub const WL_COPY: &str = "/usr/bin/wl-copy";
/// Debian's `wl-paste` (wl-clipboard).
pub const WL_PASTE: &str = "/usr/bin/wl-paste";
/// How long `wl-paste` may wait for a selection before it counts as offered
/// nothing: a client that may see no selection is sent no selection event
/// at all, so `wl-paste` keeps waiting for one.
pub const NOTHING: Duration = Duration::from_secs(2);

/// A client process, killed when dropped.
#[derive(Debug)]
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `program` connected to the Wayland socket at `socket` and nothing else:
/// an empty environment but `XDG_RUNTIME_DIR` and `WAYLAND_DISPLAY`, no
/// standard input, output or error.
pub fn command(socket: &Path, program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("XDG_RUNTIME_DIR", socket.parent().expect("socket folder"))
        .env("WAYLAND_DISPLAY", socket.file_name().expect("socket name"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Debian's `foot` terminal.
pub const FOOT: &str = "/usr/bin/foot";

/// `foot` on `socket` running `sleep 30`, its home `home`, preferring `csd`
/// decorations (`server` or `client`), with `-o` `options` and `args`
/// (`--fullscreen`, `--title=…`).
pub fn foot(home: &Path, socket: &Path, csd: &str, options: &[String], args: &[&str]) -> Command {
    let mut cmd = command(socket, FOOT);
    cmd.env("LANG", "C.UTF-8")
        .env("HOME", home)
        .arg("-o")
        .arg(format!("csd.preferred={csd}"));
    for o in options {
        cmd.arg("-o").arg(o);
    }
    cmd.args(args).args(["sleep", "30"]);
    cmd
}

/// Runs `command` to its end while `c` dispatches; its exit success, its
/// standard output and its standard error, or `None` when it has not
/// finished within `limit` (it is then killed).
pub fn run_for(
    c: &mut Compositor,
    mut command: Command,
    stdin: Option<&str>,
    limit: Duration,
) -> Option<(bool, String, String)> {
    let out = tempfile::NamedTempFile::new().expect("output file");
    let err = tempfile::NamedTempFile::new().expect("error file");
    command
        .stdout(out.reopen().expect("output file reopens"))
        .stderr(err.reopen().expect("error file reopens"));
    let input = stdin.map(|text| {
        let f = tempfile::NamedTempFile::new().expect("input file");
        std::fs::write(f.path(), text).expect("input written");
        command.stdin(f.reopen().expect("input reopens"));
        f
    });
    let mut child = Running(
        command
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?} starts: {e}")),
    );
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("client status") {
            break status;
        }
        if Instant::now() > end {
            return None;
        }
        c.dispatch(Duration::from_millis(10))
            .expect("event loop runs");
    };
    drop(input);
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    let errors = std::fs::read_to_string(err.path()).unwrap_or_default();
    Some((status.success(), text, errors))
}

/// Runs `program args` on `socket` to its end while `c` dispatches (fails
/// the test after [`WAIT`]); its exit success and standard output.
pub fn run(c: &mut Compositor, socket: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let mut cmd = command(socket, program);
    cmd.args(args);
    let (ok, out, _) =
        run_for(c, cmd, None, WAIT).unwrap_or_else(|| panic!("{program} {args:?} did not finish"));
    (ok, out)
}

/// `wl-copy --foreground text` on `socket`, once the compositor has kept a
/// copy of it as the `kind` selection of `domain`.
pub fn copy(c: &mut Compositor, socket: &Path, domain: &Domain, text: &str, kind: Kind) -> Running {
    let mut cmd = command(socket, WL_COPY);
    cmd.arg("--foreground");
    if kind == Kind::Primary {
        cmd.arg("--primary");
    }
    let copier = Running(cmd.arg("--").arg(text).spawn().expect("wl-copy starts"));
    let kept = c
        .dispatch_until(WAIT, |s| {
            s.selection_owners
                .clipboards
                .get(domain, kind)
                .is_some_and(|copy| {
                    copy.mime_types()
                        .iter()
                        .any(|m| copy.get(m).as_deref() == Some(text.as_bytes()))
                })
        })
        .expect("event loop runs");
    assert!(
        kept,
        "wl-copy {text:?} on {}: no {kind:?} selection kept for {domain}",
        socket.display()
    );
    copier
}

/// What `wl-paste` on `socket` prints, `None` when it is offered nothing
/// (it has not finished within [`NOTHING`], or failed).
pub fn paste(c: &mut Compositor, socket: &Path, kind: Kind) -> Option<String> {
    let mut cmd = command(socket, WL_PASTE);
    cmd.arg("--no-newline");
    if kind == Kind::Primary {
        cmd.arg("--primary");
    }
    match run_for(c, cmd, None, NOTHING) {
        Some((true, text, _)) => Some(text),
        _ => None,
    }
}

/// Whether `wl-copy` and `wl-paste` are missing (the skip reported).
pub fn clipboard_tools_missing() -> bool {
    !crate::skip::installed(WL_COPY, "wl-clipboard")
        || !crate::skip::installed(WL_PASTE, "wl-clipboard")
}

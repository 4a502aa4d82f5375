//! What the compositor's Xwayland tests share: whether this machine can run
//! them, and running an X11 program as a profile's container would.

use std::path::Path;
use std::process::{Command, Stdio};

/// Why this machine cannot run an Xwayland test needing `tools` (path,
/// Debian package), if it cannot.
pub fn x11_missing(tools: &[(&str, &str)]) -> Option<String> {
    if !zion_compositor::xwayland::installed() {
        return Some("Xwayland is not installed (Debian package xwayland)".into());
    }
    for (tool, package) in tools {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} is not installed (Debian package {package})"
            ));
        }
    }
    let unshare = Command::new("unshare")
        .args(["--mount", "--net", "--map-root-user", "true"])
        .stderr(Stdio::null())
        .status();
    if !unshare.is_ok_and(|s| s.success()) {
        return Some(
            "cannot create mount and network namespaces (unshare --mount --net --map-root-user)"
                .into(),
        );
    }
    None
}

/// `program` with `args`, run as in a profile's container: in mount and
/// network namespaces of its own (no abstract X sockets of the host), where
/// the folder of the profile's X socket `socket` (`X0`) is `/tmp/.X11-unix`,
/// with `DISPLAY=:0`.
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
        .arg("mount --bind \"$0\" /tmp/.X11-unix && exec \"$@\"")
        .arg(folder)
        .arg(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("DISPLAY", ":0");
    command
}

//! The protocol policy and clipboard isolation, seen by real clients:
//! `wayland-info` lists the globals a socket offers; `wl-copy`/`wl-paste`
//! copy and paste through the data device.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zion_compositor::{BackendKind, Compositor, Options};
use zion_profiles::config::Config;

const WAYLAND_INFO: &str = "/usr/bin/wayland-info";
const WAIT: Duration = Duration::from_secs(10);

/// The globals only host clients may see.
const HOST_ONLY: [&str; 7] = [
    "zwlr_layer_shell_v1",
    "zwlr_screencopy_manager_v1",
    "zwp_virtual_keyboard_manager_v1",
    "zwp_input_method_manager_v2",
    "ext_foreign_toplevel_list_v1",
    "zwlr_data_control_manager_v1",
    "ext_data_control_manager_v1",
];

/// The globals every client sees.
const EVERYONE: [&str; 14] = [
    "wp_tearing_control_manager_v1",
    "wl_compositor",
    "wl_shm",
    "wl_seat",
    "wl_output",
    "xdg_wm_base",
    "zxdg_decoration_manager_v1",
    "wl_data_device_manager",
    "wp_viewporter",
    "wp_fractional_scale_manager_v1",
    "wp_presentation",
    "wp_single_pixel_buffer_manager_v1",
    "zwp_relative_pointer_manager_v1",
    "zwp_pointer_constraints_v1",
];

fn missing(program: &str, package: &str) -> bool {
    if Path::new(program).exists() {
        return false;
    }
    eprintln!("skipped: {program} is not installed (Debian package {package})");
    true
}

fn compositor(runtime: &Path) -> Compositor {
    let options = Options {
        backend: BackendKind::Headless,
        size: (640, 480),
        runtime_dir: runtime.to_owned(),
    };
    Compositor::new(Config::defaults(), &options).expect("compositor starts")
}

fn host_socket(runtime: &Path) -> PathBuf {
    runtime.join("wayland-zion")
}

fn profile_socket(runtime: &Path, profile: &str) -> PathBuf {
    runtime.join("zion").join(profile).join("wayland-0")
}

/// `program args` connected to `socket`, run to completion while the
/// compositor dispatches; returns its exit success and standard output.
fn run_client(
    c: &mut Compositor,
    socket: &Path,
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String) {
    run_client_for(c, socket, program, args, stdin, WAIT)
        .unwrap_or_else(|| panic!("{program} {args:?} did not finish"))
}

/// As `run_client`, but `None` when the client has not finished within
/// `limit` (it is then killed).
fn run_client_for(
    c: &mut Compositor,
    socket: &Path,
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
    limit: Duration,
) -> Option<(bool, String)> {
    let dir = socket.parent().expect("socket has a folder");
    let name = socket.file_name().expect("socket has a name");
    let out = tempfile::NamedTempFile::new().expect("output file");
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("XDG_RUNTIME_DIR", dir)
        .env("WAYLAND_DISPLAY", name)
        .stdout(out.reopen().expect("output file reopens"))
        .stderr(Stdio::null());
    let input = match stdin {
        Some(text) => {
            let f = tempfile::NamedTempFile::new().expect("input file");
            std::fs::write(f.path(), text).expect("input written");
            cmd.stdin(f.reopen().expect("input reopens"));
            Some(f)
        }
        None => {
            cmd.stdin(Stdio::null());
            None
        }
    };
    let mut child = cmd.spawn().expect("client starts");
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("client status") {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        c.dispatch(Duration::from_millis(10))
            .expect("event loop runs");
    };
    drop(input);
    let text = std::fs::read_to_string(out.path()).expect("output readable");
    Some((status.success(), text))
}

/// The interface names `wayland-info` lists on `socket`.
fn globals(c: &mut Compositor, socket: &Path) -> Vec<String> {
    let (ok, text) = run_client(c, socket, WAYLAND_INFO, &[], None);
    assert!(ok, "wayland-info failed on {}", socket.display());
    text.lines()
        .filter_map(|l| l.split("interface: '").nth(1))
        .filter_map(|rest| rest.split('\'').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn privileged_globals_are_listed_on_the_host_socket_only() {
    if missing(WAYLAND_INFO, "wayland-utils") {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let host = globals(&mut c, &host_socket(runtime.path()));
    for profile in ["work", "personal"] {
        let listed = globals(&mut c, &profile_socket(runtime.path(), profile));
        for name in HOST_ONLY {
            assert!(host.iter().any(|g| g == name), "host lacks {name}");
            assert!(
                !listed.iter().any(|g| g == name),
                "{profile} socket lists host-only {name}"
            );
        }
        for name in EVERYONE {
            assert!(listed.iter().any(|g| g == name), "{profile} lacks {name}");
            assert!(host.iter().any(|g| g == name), "host lacks {name}");
        }
        let mut extra: Vec<&String> = host.iter().filter(|g| !listed.contains(g)).collect();
        extra.sort();
        extra.dedup();
        let mut expected: Vec<&str> = HOST_ONLY.to_vec();
        expected.sort();
        assert_eq!(extra, expected, "host minus {profile}");
    }
}

const WL_COPY: &str = "/usr/bin/wl-copy";
const WL_PASTE: &str = "/usr/bin/wl-paste";

/// A `wl-copy --foreground` serving `text` on `socket` until dropped, once
/// the compositor has taken its selection.
struct Copier(std::process::Child);

impl Drop for Copier {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn copy(c: &mut Compositor, socket: &Path, text: &str, primary: bool) -> Copier {
    let dir = socket.parent().expect("socket has a folder");
    let name = socket.file_name().expect("socket has a name");
    let mut cmd = Command::new(WL_COPY);
    cmd.arg("--foreground");
    if primary {
        cmd.arg("--primary");
    }
    let child = cmd
        .arg("--")
        .arg(text)
        .env_clear()
        .env("XDG_RUNTIME_DIR", dir)
        .env("WAYLAND_DISPLAY", name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wl-copy starts");
    let copier = Copier(child);
    let held = c
        .dispatch_until(WAIT, |s| {
            let owners = &s.selection_owners;
            if primary {
                owners.primary.is_some()
            } else {
                owners.clipboard.is_some()
            }
        })
        .expect("event loop runs");
    assert!(held, "wl-copy on {} set no selection", socket.display());
    copier
}

/// What `wl-paste` on `socket` prints, or `None` when it gets nothing: a
/// client that may not see the selection is sent no selection event at
/// all, so `wl-paste` keeps waiting for one and is killed after 2 s.
fn paste(c: &mut Compositor, socket: &Path, primary: bool) -> Option<String> {
    let mut args = vec!["--no-newline"];
    if primary {
        args.push("--primary");
    }
    let limit = Duration::from_secs(2);
    match run_client_for(c, socket, WL_PASTE, &args, None, limit) {
        Some((true, text)) => Some(text),
        _ => None,
    }
}

fn clipboard_tools_missing() -> bool {
    missing(WL_COPY, "wl-clipboard") || missing(WL_PASTE, "wl-clipboard")
}

#[test]
fn clipboard_pastes_within_a_profile_and_nothing_across_profiles() {
    if clipboard_tools_missing() {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let work = profile_socket(runtime.path(), "work");
    let personal = profile_socket(runtime.path(), "personal");
    let host = host_socket(runtime.path());

    let _copier = copy(&mut c, &work, "quarterly figures", false);
    assert_eq!(
        paste(&mut c, &work, false).as_deref(),
        Some("quarterly figures"),
        "a work client pastes what a work client copied"
    );
    // The host's wl-paste reads through data-control, which the design
    // grants trusted host tools (clipboard managers) only: it sees the
    // work clipboard without keyboard focus.
    assert_eq!(
        paste(&mut c, &host, false).as_deref(),
        Some("quarterly figures"),
        "a host tool reads the clipboard through data-control"
    );
    let personal_desktop = c
        .state
        .layout
        .index_of("personal")
        .expect("personal desktop");
    c.state
        .do_action(zion_compositor::Action::SwitchTo(personal_desktop));
    assert_eq!(
        paste(&mut c, &personal, false),
        None,
        "a personal client is offered nothing from work"
    );
    assert_eq!(
        c.state.selection_owners.clipboard,
        Some(zion_compositor::Origin::Profile(
            "work".parse().expect("profile name")
        )),
        "the work selection is still held"
    );
}

#[test]
fn primary_selection_stays_within_its_profile() {
    if clipboard_tools_missing() {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let work = profile_socket(runtime.path(), "work");
    let personal = profile_socket(runtime.path(), "personal");
    let _copier = copy(&mut c, &work, "selected words", true);
    assert_eq!(
        paste(&mut c, &work, true).as_deref(),
        Some("selected words")
    );
    let personal_desktop = c
        .state
        .layout
        .index_of("personal")
        .expect("personal desktop");
    c.state
        .do_action(zion_compositor::Action::SwitchTo(personal_desktop));
    assert_eq!(paste(&mut c, &personal, true), None);
}

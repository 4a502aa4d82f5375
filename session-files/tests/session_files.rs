//! The session files as a display manager, systemd and D-Bus see them, with
//! the real tools: desktop-file-validate, systemd-analyze verify, make
//! install, and zion-session running the real compositor and daemon on a
//! private bus.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};
use zion_tests::user::TestUser;
use zion_tests::{require_installed, DbusBus};

const SESSION: &str = env!("CARGO_BIN_EXE_zion-session");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("session-files has a parent")
        .to_path_buf()
}

fn session_files() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The folder of the built binaries (zion-session's own).
fn bin_dir() -> PathBuf {
    Path::new(SESSION)
        .parent()
        .expect("the binary has a folder")
        .to_path_buf()
}

/// The other crates' binaries must be built first (as `make test` does).
fn require_built(names: &[&str]) {
    for name in names {
        let path = bin_dir().join(name);
        assert!(
            path.is_file(),
            "{} is not built: run `cargo build --workspace --bins` first",
            path.display()
        );
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A temporary folder the harness's reaper recognises.
fn temp_dir(what: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("zion-test-{what}-"))
        .tempdir_in("/tmp")
        .expect("creating a folder in /tmp");
    fs::write(dir.path().join("owner.pid"), std::process::id().to_string())
        .expect("writing owner.pid");
    dir
}

/// `make install` into `dest` (DESTDIR) with `prefix`.
fn make_install(prefix: &Path, destdir: Option<&Path>) -> Output {
    require_built(&[
        "zion-compositor",
        "zion-sandboxd",
        "zion-scan-worker",
        "zionctl",
        "zion-session",
    ]);
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(repo())
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("BIN_SRC={}", bin_dir().display()));
    if let Some(dest) = destdir {
        cmd.arg(format!("DESTDIR={}", dest.display()));
    }
    run(&mut cmd)
}

/// The files a display manager, systemd and D-Bus need, relative to the
/// prefix.
const INSTALLED: &[&str] = &[
    "bin/zion-compositor",
    "bin/zion-sandboxd",
    "bin/zion-scan-worker",
    "bin/zionctl",
    "bin/zion-session",
    "share/wayland-sessions/zion.desktop",
    "lib/systemd/user/zion-session.target",
    "lib/systemd/user/zion-compositor.service",
    "lib/systemd/user/zion-sandboxd.service",
    "share/dbus-1/services/org.zionos.Profiles1.service",
    "share/dbus-1/services/org.zionos.Quarantine1.service",
    "share/dbus-1/services/org.zionos.Sandbox1.service",
    "share/zion/zion.toml",
    "share/zion/rules/eicar.yar",
    "share/zion/images/profile.packages",
    "share/zion/images/base.packages",
    "share/zion/images/wayland.packages",
];

/// Every `Exec=`/`TryExec=`/`ExecStart=` program in the installed files.
fn exec_programs(prefix: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for rel in INSTALLED.iter().filter(|r| !r.starts_with("bin/")) {
        let path = prefix.join(rel);
        let text =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if matches!(key, "Exec" | "TryExec" | "ExecStart") {
                let program = value.split_whitespace().next().unwrap_or("").to_owned();
                found.push((path.clone(), program));
            }
        }
    }
    found
}

/// `desktop-file-validate` on a session entry. It implements the Desktop
/// Entry Specification, which lacks `DesktopNames` (display managers' key
/// for XDG_CURRENT_DESKTOP, which GNOME's and sway's session entries carry
/// too), and calls that key an error. So: that must be its only complaint,
/// and the entry without that line must pass with nothing to say (hints and
/// warnings included).
fn validate_session_entry(entry: &Path, scratch: &Path) {
    let out = Command::new("desktop-file-validate")
        .arg(entry)
        .output()
        .expect("running desktop-file-validate");
    let said = String::from_utf8_lossy(&out.stdout);
    let other: Vec<&str> = said
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !(l.contains("key \"DesktopNames\"") && l.contains("should start with \"X-\"")))
        .collect();
    assert!(
        other.is_empty(),
        "desktop-file-validate {}: {said}",
        entry.display()
    );

    let text = fs::read_to_string(entry).expect("reading the session entry");
    assert!(
        text.lines().any(|l| l.starts_with("DesktopNames=")),
        "{} has no DesktopNames",
        entry.display()
    );
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("DesktopNames="))
        .map(|l| format!("{l}\n"))
        .collect();
    let copy = scratch.join("zion.desktop");
    fs::write(&copy, without).expect("writing a copy of the entry");
    let out = run(Command::new("desktop-file-validate").arg(&copy));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.trim().is_empty(),
        "desktop-file-validate {}: {said}",
        entry.display()
    );
}

#[test]
fn the_desktop_entry_passes_desktop_file_validate() {
    require_installed!(
        on_path("desktop-file-validate"),
        "desktop-file-validate is missing: run session-files/dev/install-deps.sh (desktop-file-utils)"
    );
    let desktop = session_files().join("zion.desktop");
    let tmp = temp_dir("desktop");
    validate_session_entry(&desktop, tmp.path());
    let text = fs::read_to_string(&desktop).expect("reading zion.desktop");
    for line in [
        "Name=Zion",
        "Exec=zion-session",
        "Type=Application",
        "DesktopNames=Zion",
    ] {
        assert!(text.lines().any(|l| l == line), "zion.desktop lacks {line}");
    }
}

#[test]
fn make_install_puts_every_file_where_display_managers_systemd_and_dbus_look() {
    require_installed!(on_path("make"), "make is not installed");
    let tmp = temp_dir("install");
    let prefix = tmp.path().join("prefix");
    make_install(&prefix, None);
    for rel in INSTALLED {
        let path = prefix.join(rel);
        assert!(
            path.is_file(),
            "make install did not install {}",
            path.display()
        );
    }
    let programs = exec_programs(&prefix);
    // zion.desktop: Exec and TryExec; 2 units; 3 D-Bus services.
    assert_eq!(programs.len(), 7, "{programs:?}");
    for (file, program) in programs {
        let program = Path::new(&program);
        assert!(
            program.starts_with(prefix.join("bin")),
            "{} runs {}, outside the prefix",
            file.display(),
            program.display()
        );
        assert!(
            program.is_file(),
            "{} runs {}, which is not installed",
            file.display(),
            program.display()
        );
    }
    if on_path("desktop-file-validate") {
        validate_session_entry(
            &prefix.join("share/wayland-sessions/zion.desktop"),
            tmp.path(),
        );
    }
    let service =
        fs::read_to_string(prefix.join("share/dbus-1/services/org.zionos.Quarantine1.service"))
            .expect("reading the installed Quarantine1 service");
    assert!(
        service.contains("SystemdService=zion-sandboxd.service"),
        "{service}"
    );
}

#[test]
fn make_install_with_destdir_stages_files_that_name_the_final_prefix() {
    require_installed!(on_path("make"), "make is not installed");
    let tmp = temp_dir("destdir");
    let dest = tmp.path().join("stage");
    make_install(Path::new("/usr"), Some(&dest));
    for rel in INSTALLED {
        let path = dest.join("usr").join(rel);
        assert!(
            path.is_file(),
            "make install did not stage {}",
            path.display()
        );
    }
    let desktop = fs::read_to_string(dest.join("usr/share/wayland-sessions/zion.desktop"))
        .expect("reading the staged zion.desktop");
    assert!(
        desktop.lines().any(|l| l == "Exec=/usr/bin/zion-session"),
        "{desktop}"
    );
    for (file, program) in exec_programs(&dest.join("usr")) {
        assert!(
            program.starts_with("/usr/bin/zion-"),
            "{} runs {program}: DESTDIR leaked into it, or it is not under /usr/bin",
            file.display()
        );
    }
}

/// `systemd-analyze verify --user` on the units of `unit_dir`, offline: the
/// manager it simulates needs only a runtime folder, and finds the units by
/// SYSTEMD_UNIT_PATH (the trailing `:` keeps the system's own user units,
/// graphical-session.target among them).
fn systemd_verify(unit_dir: &Path, units: &[PathBuf], runtime: &Path) -> Output {
    Command::new("systemd-analyze")
        .args(["verify", "--user", "--man=no"])
        .args(units)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("SYSTEMD_UNIT_PATH", format!("{}:", unit_dir.display()))
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("running systemd-analyze")
}

/// The session's user units under `unit_dir`.
fn session_units(unit_dir: &Path) -> Vec<PathBuf> {
    [
        "zion-session.target",
        "zion-compositor.service",
        "zion-sandboxd.service",
    ]
    .iter()
    .map(|u| unit_dir.join(u))
    .collect()
}

#[test]
fn installed_units_pass_systemd_analyze_verify() {
    require_installed!(
        on_path("systemd-analyze"),
        "systemd-analyze is not installed (systemd)"
    );
    require_installed!(on_path("make"), "make is not installed");
    let tmp = temp_dir("units");
    let prefix = tmp.path().join("prefix");
    make_install(&prefix, None);
    let runtime = tmp.path().join("runtime");
    fs::create_dir_all(&runtime).expect("creating a runtime folder");
    let unit_dir = prefix.join("lib/systemd/user");
    let units = session_units(&unit_dir);

    let out = systemd_verify(&unit_dir, &units, &runtime);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed ({}): {stderr}",
        out.status
    );
    // Unknown keys and bad values are only warned about: there must be none.
    assert!(
        stderr.trim().is_empty(),
        "systemd-analyze verify warned: {stderr}"
    );

    // The check really runs here: a unit that breaks a rule is caught.
    let broken_dir = tmp.path().join("broken");
    fs::create_dir_all(&broken_dir).expect("creating a folder");
    for unit in &units {
        let text = fs::read_to_string(unit).expect("reading an installed unit");
        let text = text.replace("BusName=org.zionos.Profiles1", "BusName=not a bus name");
        fs::write(
            broken_dir.join(unit.file_name().expect("a unit name")),
            text,
        )
        .expect("writing a unit");
    }
    let broken = broken_dir.join("zion-sandboxd.service");
    let out = systemd_verify(&broken_dir, &[broken], &runtime);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("bus name"),
        "systemd-analyze accepted an invalid BusName ({}): {stderr}",
        out.status
    );
}

/// zion-session and what it started; killed if the test fails.
struct Session {
    child: Child,
}

impl Drop for Session {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // The children die with it (parent-death signal).
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The processes whose parent is `parent`, with their names.
fn children_of(parent: u32) -> Vec<(u32, String)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the `(comm)` field: state, ppid.
            let rest = stat.rsplit_once(')')?.1;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (ppid == parent).then(|| (pid, comm.trim().to_owned()))
        })
        .collect()
}

/// Whether `pid` still runs (a zombie does not).
fn running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z")
        })
        .unwrap_or(false)
}

/// Whether `name` has an owner on the bus at `address`; an error when the
/// bus does not answer.
fn name_has_owner(address: &str, rt: &tokio::runtime::Runtime, name: &str) -> zbus::Result<bool> {
    rt.block_on(async {
        let conn = zbus::connection::Builder::address(address)?.build().await?;
        let proxy = zbus::fdo::DBusProxy::new(&conn).await?;
        let name = zbus::names::BusName::try_from(name).expect("a valid bus name");
        Ok(proxy.name_has_owner(name).await?)
    })
}

/// A variable of a running process's environment.
fn environ_var(pid: u32, name: &str) -> Option<String> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ
        .split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

/// zion-session in direct mode on the bus at `bus` (none: no
/// DBUS_SESSION_BUS_ADDRESS) with temporary XDG folders; `path` holds the
/// built compositor and daemon.
fn start_direct_session(
    tmp: &Path,
    bus: Option<&str>,
    path: &std::ffi::OsStr,
    extra: &[&str],
) -> Session {
    start_direct_session_of(Path::new(SESSION), tmp, bus, path, extra, None)
}

/// The same with another zion-session (an installed one), run as `user`
/// (with `HOME` at `tmp/home`) when one is given, else as the test.
fn start_direct_session_of(
    program: &Path,
    tmp: &Path,
    bus: Option<&str>,
    path: &std::ffi::OsStr,
    extra: &[&str],
    user: Option<&TestUser>,
) -> Session {
    let xdg = |name: &str| {
        let dir = tmp.join(name);
        fs::create_dir_all(&dir).expect("creating an XDG folder");
        if let Some(user) = user {
            user.give(&dir, true)
                .expect("giving the folder to the account");
        }
        dir
    };
    let runtime = xdg("runtime");
    fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("making the runtime folder private");
    let log = fs::File::create(tmp.join("session.log")).expect("creating the session log");
    if let Some(user) = user {
        user.give(&tmp.join("session.log"), false)
            .expect("giving the log to the account");
    }
    let mut cmd = match user {
        Some(user) => user.command(&xdg("home"), program),
        None => Command::new(program),
    };
    cmd.args([
        "--mode",
        "direct",
        "--backend",
        "headless",
        "--daemon-arg=--no-profiles",
    ])
    .args(extra)
    .env("PATH", path)
    .env_remove("DBUS_SESSION_BUS_ADDRESS")
    .env("XDG_RUNTIME_DIR", &runtime)
    .env("XDG_CONFIG_HOME", xdg("config"))
    .env("XDG_DATA_HOME", xdg("data"))
    .env("XDG_CACHE_HOME", xdg("cache"))
    .env("XDG_STATE_HOME", xdg("state"))
    .env("RUST_LOG", "info")
    .env_remove("WAYLAND_DISPLAY")
    .env_remove("DISPLAY")
    .env_remove("ZION_SANDBOXD_ARGS")
    .env_remove("ZION_COMPOSITOR_ARGS")
    .env_remove("CONTAINER_HOST")
    .stdin(Stdio::null())
    .stdout(log.try_clone().expect("the log"))
    .stderr(log)
    .process_group(0);
    if let Some(address) = bus {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", address);
    }
    Session {
        child: cmd.spawn().expect("starting zion-session"),
    }
}

/// The built binaries' folder, then this PATH.
fn default_path() -> std::ffi::OsString {
    std::env::join_paths(std::iter::once(bin_dir()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("a PATH")
}

fn log_of(tmp: &Path) -> String {
    fs::read_to_string(tmp.join("session.log")).unwrap_or_default()
}

/// Waits until the compositor's socket answers and the daemon owns
/// Quarantine1 on the session's bus (`bus`, or the one the daemon was given);
/// returns the compositor and the daemon, and the bus address.
fn wait_for_session(
    tmp: &Path,
    bus: Option<&str>,
    rt: &tokio::runtime::Runtime,
    session: &mut Session,
) -> (Vec<(u32, String)>, String) {
    let socket = tmp.join("runtime/wayland-zion");
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = session.child.try_wait() {
            panic!("zion-session exited early ({status}):\n{}", log_of(tmp));
        }
        let mut children = children_of(session.child.id());
        children.sort_by(|a, b| a.1.cmp(&b.1));
        let daemon = children.iter().find(|(_, n)| n == "zion-sandboxd");
        let address = match bus {
            Some(address) => Some(address.to_owned()),
            None => daemon.and_then(|(pid, _)| environ_var(*pid, "DBUS_SESSION_BUS_ADDRESS")),
        };
        if let Some(address) = address {
            if UnixStream::connect(&socket).is_ok()
                && name_has_owner(&address, rt, "org.zionos.Quarantine1").unwrap_or(false)
            {
                // The Podman API the session serves when none answers is
                // its child too (see without_a_podman_api_…).
                let names: Vec<&str> = children
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .filter(|n| *n != "podman")
                    .collect();
                assert_eq!(
                    names,
                    ["zion-compositor", "zion-sandboxd"],
                    "zion-session's children"
                );
                return (children, address);
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no compositor socket at {} or no owner of org.zionos.Quarantine1 after 60 s:\n{}",
            socket.display(),
            log_of(tmp)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_exit(session: &mut Session, tmp: &Path, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = session.child.try_wait().expect("waiting for zion-session") {
            return status;
        }
        assert!(
            start.elapsed() < timeout,
            "zion-session still runs after {timeout:?}:\n{}",
            log_of(tmp)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

#[test]
fn direct_session_starts_compositor_and_daemon_and_sigterm_stops_both() {
    require_installed!(on_path("dbus-daemon"), "dbus-daemon is not installed");
    require_built(&[
        "zion-compositor",
        "zion-sandboxd",
        "zion-scan-worker",
        "zion-bar",
    ]);
    let tmp = temp_dir("session");
    let bus = DbusBus::start(&tmp.path().join("dbus")).expect("starting a private bus");
    let rt = runtime();
    let mut session = start_direct_session(tmp.path(), Some(bus.address()), &default_path(), &[]);
    let (children, _) = wait_for_session(tmp.path(), Some(bus.address()), &rt, &mut session);
    // `[session] bar` is on by default: the compositor starts the bar.
    let compositor = children
        .iter()
        .find(|(_, n)| n == "zion-compositor")
        .map(|(pid, _)| *pid)
        .expect("the compositor");
    let start = Instant::now();
    let bar = loop {
        if let Some((pid, _)) = children_of(compositor)
            .into_iter()
            .find(|(_, n)| n == "zion-bar")
        {
            break pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the compositor started no zion-bar:\n{}",
            log_of(tmp.path())
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    let pid = Pid::from_raw(session.child.id() as i32).expect("a pid");
    kill_process(pid, Signal::TERM).expect("sending SIGTERM to zion-session");
    // Well before the 10 s grace: the compositor and the daemon stop when
    // told, nothing waits to be killed.
    let status = wait_exit(&mut session, tmp.path(), Duration::from_secs(5));
    for (child, name) in &children {
        assert!(
            !running(*child),
            "{name} (pid {child}) still runs after zion-session exited ({status})"
        );
    }
    let start = Instant::now();
    while running(bar) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "zion-bar (pid {bar}) still runs after the session ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        UnixStream::connect(tmp.path().join("runtime/wayland-zion")).is_err(),
        "the compositor still answers after the session ended"
    );
    assert!(
        !name_has_owner(bus.address(), &rt, "org.zionos.Quarantine1").expect("asking the bus"),
        "org.zionos.Quarantine1 is still owned after the session ended"
    );
    let log = log_of(tmp.path());
    assert!(log.contains("stopping zion-sandboxd"), "{log}");
}

#[test]
fn the_session_ends_with_the_compositor_and_takes_the_daemon_with_it() {
    require_installed!(on_path("dbus-daemon"), "dbus-daemon is not installed");
    require_built(&["zion-compositor", "zion-sandboxd", "zion-scan-worker"]);
    let tmp = temp_dir("session-end");
    let bus = DbusBus::start(&tmp.path().join("dbus")).expect("starting a private bus");
    let rt = runtime();
    let mut session = start_direct_session(
        tmp.path(),
        Some(bus.address()),
        &default_path(),
        &["--compositor-arg=--exit-after", "--compositor-arg=4"],
    );
    let (children, _) = wait_for_session(tmp.path(), Some(bus.address()), &rt, &mut session);

    let status = wait_exit(&mut session, tmp.path(), Duration::from_secs(30));
    assert_eq!(
        status.code(),
        Some(0),
        "zion-session's status is the compositor's:\n{}",
        log_of(tmp.path())
    );
    for (child, name) in &children {
        assert!(
            !running(*child),
            "{name} (pid {child}) still runs after the session ended"
        );
    }
    assert!(
        !name_has_owner(bus.address(), &rt, "org.zionos.Quarantine1").expect("asking the bus"),
        "org.zionos.Quarantine1 is still owned after the compositor exited"
    );
}

#[test]
fn without_a_session_bus_the_session_brings_its_own_and_stops_it() {
    require_installed!(on_path("dbus-daemon"), "dbus-daemon is not installed");
    require_built(&["zion-compositor", "zion-sandboxd", "zion-scan-worker"]);
    let tmp = temp_dir("session-nobus");
    let rt = runtime();
    // No DBUS_SESSION_BUS_ADDRESS and no $XDG_RUNTIME_DIR/bus.
    let mut session = start_direct_session(
        tmp.path(),
        None,
        &default_path(),
        &["--compositor-arg=--exit-after", "--compositor-arg=4"],
    );
    let (children, address) = wait_for_session(tmp.path(), None, &rt, &mut session);
    let compositor = children[0].0;
    assert_eq!(
        environ_var(compositor, "DBUS_SESSION_BUS_ADDRESS").as_deref(),
        Some(address.as_str()),
        "the compositor and the daemon share the session's bus"
    );
    assert_eq!(
        environ_var(compositor, "XDG_CURRENT_DESKTOP").as_deref(),
        Some("Zion")
    );
    assert_eq!(
        environ_var(compositor, "XDG_SESSION_TYPE").as_deref(),
        Some("wayland")
    );
    assert_eq!(
        environ_var(compositor, "XDG_SESSION_DESKTOP").as_deref(),
        Some("zion")
    );

    let status = wait_exit(&mut session, tmp.path(), Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", log_of(tmp.path()));
    for (child, name) in &children {
        assert!(
            !running(*child),
            "{name} (pid {child}) still runs after the session ended"
        );
    }
    let start = Instant::now();
    while name_has_owner(&address, &rt, "org.freedesktop.DBus").is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the bus zion-session started at {address} still answers after the session ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_missing_compositor_is_named_with_the_path_searched() {
    let tmp = temp_dir("missing");
    // zion-session alone in a folder, with an empty folder as PATH.
    let own = tmp.path().join("bin");
    let empty = tmp.path().join("empty");
    for dir in [&own, &empty] {
        fs::create_dir_all(dir).expect("creating a folder");
    }
    let launcher = own.join("zion-session");
    fs::copy(SESSION, &launcher).expect("copying zion-session");
    let runtime = tmp.path().join("runtime");
    fs::create_dir_all(&runtime).expect("creating a folder");
    let out = output_of_fresh_copy(
        Command::new(&launcher)
            .args(["--mode", "direct", "--backend", "headless"])
            .env("PATH", &empty)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "zion-session succeeded without a compositor: {stderr}"
    );
    assert!(stderr.contains("zion-compositor not found"), "{stderr}");
    assert!(
        stderr.contains(&format!("PATH ({})", empty.display())),
        "{stderr}"
    );
    assert!(stderr.contains(&own.display().to_string()), "{stderr}");
}

/// Runs `command`, whose program was just copied: another test of this
/// process forking at that moment holds the copy's write descriptor until
/// its child execs, and the kernel refuses to run a file open for writing
/// ("Text file busy"), so that error is retried for a while.
fn output_of_fresh_copy(command: &mut Command) -> std::process::Output {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        match command.output() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy && Instant::now() < end =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result.expect("running the copied program"),
        }
    }
}

/// `GET /_ping` on a Podman API socket: its answer's body.
fn podman_ping(socket: &Path) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// First login as a display manager runs it: no Podman API is set up and
/// none answers, so the direct session serves the user's own on
/// `$XDG_RUNTIME_DIR/podman/podman.sock` for the daemon, and stops it with
/// the session.
#[test]
fn without_a_podman_api_the_direct_session_serves_one_and_stops_it() {
    require_installed!(on_path("dbus-daemon"), "dbus-daemon is not installed");
    zion_tests::require_program!("podman", "podman");
    require_built(&["zion-compositor", "zion-sandboxd", "zion-scan-worker"]);
    let tmp = temp_dir("session-podman");
    let bus = DbusBus::start(&tmp.path().join("dbus")).expect("starting a private bus");
    let rt = runtime();
    let socket = tmp.path().join("runtime/podman/podman.sock");
    assert!(!socket.exists());
    let mut session = start_direct_session(tmp.path(), Some(bus.address()), &default_path(), &[]);
    let (children, _) = wait_for_session(tmp.path(), Some(bus.address()), &rt, &mut session);
    let log = log_of(tmp.path());
    let podman = children
        .iter()
        .find(|(_, n)| n == "podman")
        .unwrap_or_else(|| panic!("no podman child of zion-session: {children:?}\n{log}"));
    assert!(log.contains("serving one on"), "{log}");
    let ping = podman_ping(&socket).expect("the session's Podman API answers");
    assert!(
        ping.starts_with("HTTP/1.") && ping.ends_with("OK"),
        "{ping}"
    );

    let pid = Pid::from_raw(session.child.id() as i32).expect("a pid");
    kill_process(pid, Signal::TERM).expect("sending SIGTERM to zion-session");
    wait_exit(&mut session, tmp.path(), Duration::from_secs(15));
    let start = Instant::now();
    while running(podman.0) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the session's podman service (pid {}) outlived it",
            podman.0
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        UnixStream::connect(&socket).is_err(),
        "the Podman API still answers after the session ended"
    );
}

/// Whether dpkg has `package` installed.
fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Purges the package when the test ends, passed or failed: nothing of it
/// outlives the test on this machine.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        if dpkg_installed("zion") {
            let _ = Command::new("apt-get")
                .args(["purge", "-y", "-qq", "zion"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .output();
        }
    }
}

/// The whole life of `make deb`'s package on this machine, as a person lives
/// it: built from the workspace's binaries, installed with apt-get, its
/// session entry and units valid where apt put them, the installed
/// zion-session running the installed compositor and daemon, then purged
/// leaving none of its files behind.
#[test]
fn the_package_installs_validates_runs_and_purges_cleanly() {
    zion_tests::require!(
        rustix::process::geteuid().is_root(),
        "installing a package needs root"
    );
    for (program, package) in [
        ("dpkg-deb", "dpkg"),
        ("dpkg-shlibdeps", "dpkg-dev"),
        ("apt-get", "apt"),
        ("strip", "binutils"),
        ("desktop-file-validate", "desktop-file-utils"),
        ("systemd-analyze", "systemd"),
        ("dbus-daemon", "dbus"),
        ("make", "make"),
    ] {
        zion_tests::require_program!(program, package);
    }
    zion_tests::require!(
        !dpkg_installed("zion"),
        "a zion package is already installed here; this test would replace it"
    );
    require_built(&[
        "zion-compositor",
        "zion-sandboxd",
        "zion-scan-worker",
        "zionctl",
        "zion-session",
    ]);
    let tmp = temp_dir("deb");
    let out = run(Command::new("bash")
        .arg(repo().join("session-files/dev/make-deb.sh"))
        .arg(bin_dir())
        .arg(tmp.path().join("out"))
        .arg("none"));
    let deb = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        deb.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("zion_") && n.ends_with(".deb")),
        "{}",
        deb.display()
    );

    // What apt will read: the libraries the binaries link, and the programs
    // Zion runs.
    let field = |name: &str| {
        let out = run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(field("Package"), "zion");
    let depends = field("Depends");
    for needed in [
        "libseat1",
        "libinput10",
        "podman",
        "uidmap",
        "xwayland",
        "dbus",
    ] {
        assert!(
            depends.contains(needed),
            "Depends lacks {needed}: {depends}"
        );
    }
    let contents = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let contents = String::from_utf8_lossy(&contents.stdout);
    for rel in INSTALLED {
        assert!(
            contents.contains(&format!("./usr/{rel}")),
            "the package lacks /usr/{rel}"
        );
    }

    let _purge = Purge;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .arg(&deb)
        .env("DEBIAN_FRONTEND", "noninteractive"));
    assert!(dpkg_installed("zion"), "apt-get did not install zion");
    let listed = run(Command::new("dpkg").args(["-L", "zion"]));
    let files: Vec<PathBuf> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    assert!(
        files.len() >= INSTALLED.len(),
        "dpkg -L zion lists {} files: {files:?}",
        files.len()
    );

    // Where display managers, systemd and D-Bus look, valid there.
    let usr = Path::new("/usr");
    validate_session_entry(&usr.join("share/wayland-sessions/zion.desktop"), tmp.path());
    for (file, program) in exec_programs(usr) {
        assert!(
            Path::new(&program).is_file() && program.starts_with("/usr/bin/zion-"),
            "{} runs {program}, which the package did not install",
            file.display()
        );
    }
    let runtime_dir = tmp.path().join("systemd-runtime");
    fs::create_dir_all(&runtime_dir).expect("creating a runtime folder");
    let unit_dir = usr.join("lib/systemd/user");
    let units = session_units(&unit_dir);
    let out = systemd_verify(&unit_dir, &units, &runtime_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify of the installed units ({}): {stderr}",
        out.status
    );

    // The installed programs run: zionctl reads its defaults, and the
    // installed zion-session starts the installed compositor and daemon
    // (found on PATH in /usr/bin, not in the build folder).
    let out = run(Command::new("/usr/bin/zionctl").args(["config", "defaults"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("[[profile]]"),
        "zionctl config defaults printed no profile"
    );
    // As a display manager starts it: as an ordinary user, with nothing
    // of theirs running before (no Podman API: the session serves the
    // user's own rootless one).
    let user = TestUser::ensure().expect("the unprivileged test account");
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o711))
        .expect("letting the account through the test folder");
    let home = tmp.path().join("as-user");
    fs::create_dir_all(&home).expect("the account's session folder");
    user.give(&home, false)
        .expect("giving the folder to the account");
    let bus =
        DbusBus::start_open_to_all_users(&tmp.path().join("dbus")).expect("starting a private bus");
    let rt = runtime();
    let system_path = std::ffi::OsString::from("/usr/local/bin:/usr/bin:/bin");
    let mut session = start_direct_session_of(
        Path::new("/usr/bin/zion-session"),
        &home,
        Some(bus.address()),
        &system_path,
        &[],
        Some(&user),
    );
    let (children, _) = wait_for_session(&home, Some(bus.address()), &rt, &mut session);
    for (pid, name) in &children {
        let exe = fs::read_link(format!("/proc/{pid}/exe")).expect("the child's program");
        assert_eq!(
            exe,
            Path::new("/usr/bin").join(name),
            "zion-session ran {name} from {}",
            exe.display()
        );
        let owner = fs::metadata(format!("/proc/{pid}"))
            .expect("the child")
            .uid();
        assert_eq!(owner, user.uid, "{name} does not run as the account");
    }
    let podman = home.join("runtime/podman/podman.sock");
    let answer = podman_ping(&podman).unwrap_or_else(|e| {
        panic!(
            "the account's Podman API at {}: {e}\n{}",
            podman.display(),
            log_of(&home)
        )
    });
    assert!(answer.contains("200 OK"), "{answer}");
    assert_eq!(
        fs::metadata(&podman).expect("the socket").uid(),
        user.uid,
        "the Podman API the session serves is not the account's"
    );
    let pid = Pid::from_raw(session.child.id() as i32).expect("a pid");
    kill_process(pid, Signal::TERM).expect("sending SIGTERM to zion-session");
    wait_exit(&mut session, &home, Duration::from_secs(10));
    drop(session);
    // The pause process of the account's Podman (its default tmp_dir)
    // goes with the test.
    zion_tests::cleanup::kill_pause_process(&home.join("runtime/libpod/tmp"));
    let foreign = zion_tests::user::not_owned_by(&home, user.uid);
    assert!(
        foreign.is_empty(),
        "files in the account's folders that are not its own: {foreign:?}"
    );

    // Purged: not one of its files is left.
    run(Command::new("apt-get")
        .args(["purge", "-y", "-qq", "zion"])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    assert!(
        !dpkg_installed("zion"),
        "zion is still installed after purge"
    );
    let left: Vec<&PathBuf> = files.iter().filter(|f| f.exists()).collect();
    assert!(left.is_empty(), "purge left {left:?}");
}

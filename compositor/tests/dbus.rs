//! `org.zionos.Compositor1` on a real (private) session bus: the real
//! `zion-compositor --backend headless` binary, real `weston-simple-shm`
//! clients on its profile and sandbox sockets, and assertions on the
//! pixels of the screenshots it writes over D-Bus.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};
use zion_bus::Compositor1Proxy;

use futures_util::StreamExt;
use zbus::fdo::PropertiesProxy;
use zbus::names::InterfaceName;
use zion_compositor::frame::{contrast, disposable_dashes, BORDER, DASH, TITLE_HEIGHT};
use zion_compositor::input::keys;
use zion_compositor::layout::Rect;
use zion_compositor::{BackendKind, Compositor, Options, Screenshot};
use zion_config::Config;
use zion_tests::compositor::{colour, programs, read_png, rgb};
use zion_tests::DbusBus;

const BIN: &str = env!("CARGO_BIN_EXE_zion-compositor");
const SIMPLE_SHM: &str = "/usr/bin/weston-simple-shm";
const WAYLAND_INFO: &str = "/usr/bin/wayland-info";
const NAME: &str = "org.zionos.Compositor1";
const PATH: &str = "/org/zionos/Compositor1";
const WAIT: Duration = Duration::from_secs(10);

/// A proxy that asks the compositor every time (no property cache).
async fn uncached(conn: &zbus::Connection) -> Compositor1Proxy<'static> {
    zion_tests::desk::compositor_proxy(conn).await
}

fn missing(program: &str) -> bool {
    let package = match program {
        SIMPLE_SHM => "weston",
        WAYLAND_INFO => "wayland-utils",
        _ => "dbus",
    };
    !zion_tests::skip::installed(program, package)
}

/// The D-Bus error name and message of a failed call.
fn error_of<T: std::fmt::Debug>(result: zbus::Result<T>) -> (String, String) {
    match result {
        Err(zbus::Error::MethodError(name, detail, _)) => {
            (name.to_string(), detail.unwrap_or_default())
        }
        other => panic!("expected a D-Bus error, got {other:?}"),
    }
}

/// A private bus, the compositor binary on it, and its clients.
struct Session {
    dir: tempfile::TempDir,
    bus: DbusBus,
    conn: zbus::Connection,
    proxy: Compositor1Proxy<'static>,
    compositor: Child,
    clients: Vec<Child>,
    shots: usize,
}

impl Drop for Session {
    fn drop(&mut self) {
        for c in self
            .clients
            .iter_mut()
            .chain(std::iter::once(&mut self.compositor))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Session {
    async fn start() -> Session {
        let dir = tempfile::Builder::new()
            .prefix("zion-test-compositor-")
            .tempdir()
            .expect("temporary folder");
        let bus_dir = dir.path().join("dbus");
        std::fs::create_dir(&bus_dir).expect("bus folder");
        let bus = DbusBus::start(&bus_dir).expect("private dbus-daemon starts");
        let runtime = dir.path().join("run");
        std::fs::create_dir(&runtime).expect("runtime folder");
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
            .expect("runtime folder mode");
        // Connected before the compositor starts: a failure here leaves no
        // compositor behind (the session's drop stops it only once made).
        let conn = bus.connect().await.expect("connected to the private bus");
        let proxy = uncached(&conn).await;
        let compositor = zion_tests::desk::compositor_command(
            Path::new(BIN),
            &runtime,
            "800x600",
            &dir.path().join("compositor.log"),
        )
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .spawn()
        .expect("zion-compositor starts");
        let mut s = Session {
            dir,
            bus,
            conn,
            proxy,
            compositor,
            clients: Vec::new(),
            shots: 0,
        };
        if let Err(e) = zion_tests::desk::wait_for_name(&s.conn, NAME, true, WAIT).await {
            match s.compositor.try_wait() {
                Ok(Some(status)) => panic!("zion-compositor exited ({status}):\n{}", s.log()),
                _ => panic!("{e}:\n{}", s.log()),
            }
        }
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("compositor.log")).unwrap_or_default()
    }

    fn runtime(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// Starts `weston-simple-shm` on the socket at `socket`.
    fn spawn_simple_shm(&mut self, socket: &Path) -> usize {
        let child = programs::command(socket, SIMPLE_SHM)
            .spawn()
            .expect("weston-simple-shm starts");
        self.clients.push(child);
        self.clients.len() - 1
    }

    /// A screenshot over D-Bus, read back from its PNG.
    async fn shot(&mut self) -> Screenshot {
        self.shots += 1;
        let path = self.dir.path().join(format!("shot-{}.png", self.shots));
        let text = path.to_str().expect("UTF-8 temporary path");
        self.proxy.screenshot(text).await.expect("Screenshot");
        read_png(&path)
    }

    /// Screenshots until `check` holds; returns that screenshot.
    async fn shot_until(&mut self, what: &str, check: impl Fn(&Screenshot) -> bool) -> Screenshot {
        let end = Instant::now() + WAIT;
        loop {
            let shot = self.shot().await;
            if check(&shot) {
                return shot;
            }
            assert!(Instant::now() < end, "{what} never showed:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The content of the one window framed in `colour`: the bounding box of
/// that colour, less the frame. `None` when no window of that colour is
/// drawn (or only a sliver of one).
fn framed_window(shot: &Screenshot, colour: (u8, u8, u8)) -> Option<Rect> {
    let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
    for y in 0..shot.height as i32 {
        for x in 0..shot.width as i32 {
            if shot.pixel(x, y) == Some(colour) {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    if x0 > x1 {
        return None;
    }
    let content = Rect::new(
        x0 + BORDER,
        y0 + TITLE_HEIGHT + BORDER,
        x1 - x0 + 1 - 2 * BORDER,
        y1 - y0 + 1 - TITLE_HEIGHT - 2 * BORDER,
    );
    (content.w > 2 * DASH && content.h > 2 * DASH).then_some(content)
}

/// How many pixels of the disposable band around `content` are in the
/// dash colour, and how many it has.
fn dash_pixels(shot: &Screenshot, content: Rect, dash: (u8, u8, u8)) -> (usize, usize) {
    let mut hits = 0;
    let mut all = 0;
    for r in disposable_dashes(content) {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                all += 1;
                hits += usize::from(shot.pixel(x, y) == Some(dash));
            }
        }
    }
    (hits, all)
}

#[tokio::test]
async fn list_desktops_gives_the_profiles_in_config_order_with_their_colours() {
    if missing("/usr/bin/dbus-daemon") {
        return;
    }
    let s = Session::start().await;
    let desktops = s.proxy.list_desktops().await.expect("ListDesktops");
    let expected: Vec<(String, String)> = Config::defaults()
        .profiles
        .iter()
        .map(|p| (p.name.to_string(), p.colour.to_string()))
        .collect();
    assert_eq!(desktops, expected);
    assert_eq!(desktops[0], ("work".to_owned(), "#3465a4".to_owned()));
    assert_eq!(
        s.proxy.active_desktop().await.expect("ActiveDesktop"),
        "work"
    );
}

#[tokio::test]
async fn switch_to_changes_the_active_desktop_and_signals_it() {
    if missing("/usr/bin/dbus-daemon") {
        return;
    }
    let s = Session::start().await;
    let props = PropertiesProxy::builder(&s.conn)
        .destination(NAME)
        .expect("name")
        .path(PATH)
        .expect("path")
        .build()
        .await
        .expect("properties proxy");
    let mut changes = props
        .receive_properties_changed()
        .await
        .expect("subscribed to PropertiesChanged");

    for name in ["personal", "gaming", "work"] {
        s.proxy.switch_to(name).await.expect("SwitchTo");
        let signal = tokio::time::timeout(WAIT, changes.next())
            .await
            .unwrap_or_else(|_| panic!("no PropertiesChanged after SwitchTo({name})"))
            .expect("a signal");
        let args = signal.args().expect("signal arguments");
        assert_eq!(args.interface_name().as_str(), NAME);
        let value = args
            .changed_properties()
            .get("ActiveDesktop")
            .expect("ActiveDesktop changed");
        assert_eq!(value, &zbus::zvariant::Value::from(name));
        let props_now: HashMap<String, zbus::zvariant::OwnedValue> = props
            .get_all(InterfaceName::try_from(NAME).expect("interface"))
            .await
            .expect("GetAll");
        let active = props_now
            .get("ActiveDesktop")
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| String::try_from(v).ok());
        assert_eq!(active.as_deref(), Some(name));
    }
    // Switching to the desktop shown changes nothing and signals nothing.
    s.proxy.switch_to("work").await.expect("SwitchTo");
    let quiet = tokio::time::timeout(Duration::from_millis(300), changes.next()).await;
    assert!(quiet.is_err(), "a signal without a change: {quiet:?}");
}

#[tokio::test]
async fn an_unknown_desktop_is_refused_naming_the_desktops() {
    if missing("/usr/bin/dbus-daemon") {
        return;
    }
    let s = Session::start().await;
    let (name, message) = error_of(s.proxy.switch_to("banking").await);
    assert_eq!(name, "org.zionos.Compositor1.Error.UnknownDesktop");
    assert!(message.contains("banking"), "{message}");
    assert!(message.contains("work, gaming, personal"), "{message}");
    assert_eq!(
        s.proxy.active_desktop().await.expect("ActiveDesktop"),
        "work"
    );
}

#[tokio::test]
async fn screenshots_differ_between_a_desktop_with_a_window_and_one_without() {
    if missing("/usr/bin/dbus-daemon") || missing(SIMPLE_SHM) {
        return;
    }
    let mut s = Session::start().await;
    let (name, _) = error_of(s.proxy.screenshot("relative.png").await);
    assert_eq!(name, "org.zionos.Compositor1.Error.InvalidArgument");
    let (name, message) = error_of(s.proxy.screenshot("/nonexistent-zion/shot.png").await);
    assert_eq!(name, "org.zionos.Compositor1.Error.Failed");
    assert!(message.contains("/nonexistent-zion/shot.png"), "{message}");

    let work = rgb(colour("work"));
    let socket = s.runtime().join("zion/work/wayland-0");
    s.spawn_simple_shm(&socket);
    let on_work = s
        .shot_until("a work window", |shot| framed_window(shot, work).is_some())
        .await;
    let content = framed_window(&on_work, work).expect("a work window");
    // A profile's own window has a plain frame: no disposable dashes.
    let dash = rgb(contrast(colour("work")));
    assert_eq!(dash_pixels(&on_work, content, dash).0, 0);
    let (_, band) = dash_pixels(&on_work, content, work);
    assert_eq!(dash_pixels(&on_work, content, work).0, band);

    s.proxy.switch_to("personal").await.expect("SwitchTo");
    let on_personal = s
        .shot_until("the empty personal desktop", |shot| {
            framed_window(shot, work).is_none()
        })
        .await;
    assert_eq!(on_personal.count(work), 0);
    assert_ne!(on_work.rgba, on_personal.rgba);
    let bg = on_personal.pixel(0, 0).expect("a pixel");
    assert_eq!(on_personal.count(bg), 800 * 600, "personal is empty");
}

#[tokio::test]
async fn a_sandbox_window_opens_on_its_profiles_desktop_in_a_disposable_frame() {
    if missing("/usr/bin/dbus-daemon") || missing(SIMPLE_SHM) {
        return;
    }
    let mut s = Session::start().await;
    s.proxy.switch_to("personal").await.expect("SwitchTo");
    let path = s
        .proxy
        .open_socket("work", "tab-1")
        .await
        .expect("OpenSocket");
    let expected = s.runtime().join("zion/sandboxes/work/tab-1/wayland-0");
    assert_eq!(Path::new(&path), expected);
    assert!(expected.exists(), "{path} exists");
    let folder = expected.parent().expect("socket folder");
    let mode = std::fs::metadata(folder)
        .expect("folder")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "{}", folder.display());

    s.spawn_simple_shm(Path::new(&path));
    let work = rgb(colour("work"));
    // It opens on work, not on the desktop shown.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let personal = s.shot().await;
    assert_eq!(
        personal.count(work),
        0,
        "the sandbox window is not on personal"
    );
    s.proxy.switch_to("work").await.expect("SwitchTo");
    let shot = s
        .shot_until("the sandbox window on work", |shot| {
            framed_window(shot, work).is_some()
        })
        .await;
    let content = framed_window(&shot, work).expect("a framed window");
    let dash = rgb(contrast(colour("work")));
    let (hits, band) = dash_pixels(&shot, content, dash);
    assert!(band > 0);
    assert_eq!(hits, band, "every dash of the disposable band is drawn");
    // Between the dashes, and on the frame's outer edge, the work colour.
    assert_eq!(shot.pixel(content.x - 1, content.y + DASH + 1), Some(work));
    assert_eq!(shot.pixel(content.x - BORDER, content.y + 1), Some(work));
    // The title bar's right end (the text is left-aligned and cut short of it).
    assert_eq!(
        shot.pixel(
            content.x + content.w + BORDER - 3,
            content.y - TITLE_HEIGHT / 2
        ),
        Some(work)
    );
    // Drawn and mapped now, it still is not on personal.
    s.proxy.switch_to("personal").await.expect("SwitchTo");
    let personal = s
        .shot_until("personal without the sandbox window", |shot| {
            shot.count(work) == 0
        })
        .await;
    assert_eq!(personal.count(dash), 0);
}

#[tokio::test]
async fn sandbox_sockets_refuse_bad_names_unknown_profiles_and_doubles() {
    if missing("/usr/bin/dbus-daemon") {
        return;
    }
    let s = Session::start().await;
    for bad in ["", "../escape", "a/b", "tab 1", "tab.1", &"x".repeat(65)] {
        let (name, message) = error_of(s.proxy.open_socket("work", bad).await);
        assert_eq!(
            name, "org.zionos.Compositor1.Error.InvalidArgument",
            "{bad:?}"
        );
        assert!(message.contains("instance name"), "{message}");
    }
    assert!(!s.runtime().join("zion/escape").exists());
    let (name, message) = error_of(s.proxy.open_socket("banking", "tab-1").await);
    assert_eq!(name, "org.zionos.Compositor1.Error.UnknownDesktop");
    assert!(message.contains("work, gaming, personal"), "{message}");

    s.proxy
        .open_socket("work", "tab-1")
        .await
        .expect("OpenSocket");
    let (name, _) = error_of(s.proxy.open_socket("work", "tab-1").await);
    assert_eq!(name, "org.zionos.Compositor1.Error.AlreadyOpen");
    // The same instance name in another profile is another sandbox.
    s.proxy
        .open_socket("personal", "tab-1")
        .await
        .expect("OpenSocket");
    let (name, message) = error_of(s.proxy.close_socket("work", "tab-2").await);
    assert_eq!(name, "org.zionos.Compositor1.Error.NoSuchSocket");
    assert!(message.contains("work/tab-1"), "{message}");
}

#[tokio::test]
async fn close_socket_disconnects_its_clients_and_removes_the_socket() {
    if missing("/usr/bin/dbus-daemon") || missing(SIMPLE_SHM) {
        return;
    }
    let mut s = Session::start().await;
    let path = s
        .proxy
        .open_socket("work", "tab-1")
        .await
        .expect("OpenSocket");
    let client = s.spawn_simple_shm(Path::new(&path));
    let work = rgb(colour("work"));
    s.shot_until("the sandbox window", |shot| {
        framed_window(shot, work).is_some()
    })
    .await;

    s.proxy
        .close_socket("work", "tab-1")
        .await
        .expect("CloseSocket");
    let end = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = s.clients[client].try_wait().expect("client status") {
            break status;
        }
        assert!(
            Instant::now() < end,
            "the sandbox client is still connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("weston-simple-shm ended: {status}");
    assert!(!Path::new(&path).exists(), "the socket is gone");
    assert!(!s.runtime().join("zion/sandboxes/work/tab-1").exists());
    s.shot_until("the desktop without the sandbox window", |shot| {
        shot.count(work) == 0
    })
    .await;
    let (name, _) = error_of(s.proxy.close_socket("work", "tab-1").await);
    assert_eq!(name, "org.zionos.Compositor1.Error.NoSuchSocket");
    // The profile's own socket is untouched.
    assert!(s.runtime().join("zion/work/wayland-0").exists());
}

/// The compositor in this process, so a hotkey can be pressed: the switch
/// it makes is signalled on the bus exactly as a `SwitchTo` is.
#[test]
fn a_hotkey_switch_is_signalled_like_a_call() {
    if missing("/usr/bin/dbus-daemon") {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("zion-test-compositor-")
        .tempdir()
        .expect("temporary folder");
    let bus = DbusBus::start(dir.path()).expect("private dbus-daemon starts");
    let runtime = tempfile::tempdir().expect("runtime folder");
    let options = Options {
        backend: BackendKind::Headless,
        size: (320, 200),
        runtime_dir: runtime.path().to_owned(),
    };
    let mut compositor = Compositor::new(Config::defaults(), &options).expect("compositor");
    compositor
        .serve_bus(bus.address())
        .expect("Compositor1 served");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // zbus's streams and timers need the runtime when made and dropped.
    let _context = rt.enter();
    let (proxy, mut changes) = rt.block_on(async {
        let conn = bus.connect().await.expect("connected");
        let proxy = uncached(&conn).await;
        let props = PropertiesProxy::builder(&conn)
            .destination(NAME)
            .expect("name")
            .path(PATH)
            .expect("path")
            .build()
            .await
            .expect("properties proxy");
        let changes = props
            .receive_properties_changed()
            .await
            .expect("subscribed");
        (proxy, changes)
    });

    // Super+3 shows the third desktop (personal), Super+Tab the next (work).
    for (key, expected) in [(keys::DIGIT_1 + 2, "personal"), (keys::TAB, "work")] {
        let state = &mut compositor.state;
        state.key(keys::LEFT_META, true);
        state.key(key, true);
        state.key(key, false);
        state.key(keys::LEFT_META, false);
        compositor
            .dispatch(Duration::from_millis(10))
            .expect("event loop runs");
        let signal = rt
            .block_on(async { tokio::time::timeout(WAIT, changes.next()).await })
            .unwrap_or_else(|_| panic!("no PropertiesChanged for {expected}"))
            .expect("a signal");
        let args = signal.args().expect("arguments");
        assert_eq!(
            args.changed_properties().get("ActiveDesktop"),
            Some(&zbus::zvariant::Value::from(expected))
        );
        let active = rt.block_on(proxy.active_desktop()).expect("ActiveDesktop");
        assert_eq!(active, expected);
    }
}

/// The interface names `wayland-info` lists on the socket at `socket`.
async fn globals(socket: &Path) -> Vec<String> {
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(WAYLAND_INFO)
            .env_clear()
            .env("XDG_RUNTIME_DIR", socket.parent().expect("socket folder"))
            .env("WAYLAND_DISPLAY", socket)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("wayland-info finishes")
    .expect("wayland-info runs");
    assert!(
        out.status.success(),
        "wayland-info failed on {}",
        socket.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("interface: '").nth(1))
        .filter_map(|rest| rest.split('\'').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_sandbox_socket_lists_what_its_profile_socket_lists_and_no_host_only_global() {
    if missing("/usr/bin/dbus-daemon") || missing(WAYLAND_INFO) {
        return;
    }
    let s = Session::start().await;
    let path = s
        .proxy
        .open_socket("work", "tab-1")
        .await
        .expect("OpenSocket");
    let mut sandbox = globals(Path::new(&path)).await;
    let mut profile = globals(&s.runtime().join("zion/work/wayland-0")).await;
    let host = globals(&s.runtime().join("wayland-zion")).await;
    for name in ["zwlr_layer_shell_v1", "zwp_virtual_keyboard_manager_v1"] {
        assert!(host.iter().any(|g| g == name), "the host lists {name}");
        assert!(!sandbox.iter().any(|g| g == name), "a sandbox lists {name}");
    }
    assert!(sandbox.iter().any(|g| g == "xdg_wm_base"));
    sandbox.sort();
    profile.sort();
    assert_eq!(sandbox, profile);
}

#[tokio::test]
async fn a_second_compositor_on_the_bus_runs_without_the_name_and_says_so() {
    if missing("/usr/bin/dbus-daemon") {
        return;
    }
    let s = Session::start().await;
    let runtime = s.dir.path().join("run2");
    std::fs::create_dir(&runtime).expect("runtime folder");
    let out = tokio::process::Command::new(BIN)
        .args(["--backend", "headless", "--exit-after", "0.3"])
        .arg("--runtime-dir")
        .arg(&runtime)
        .env("DBUS_SESSION_BUS_ADDRESS", s.bus.address())
        .env("XDG_CONFIG_HOME", s.dir.path().join("config"))
        .output()
        .await
        .expect("the second compositor runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("going on without org.zionos.Compositor1"),
        "{err}"
    );
    // The first keeps the name and answers.
    s.proxy.switch_to("gaming").await.expect("SwitchTo");
    assert_eq!(
        s.proxy.active_desktop().await.expect("ActiveDesktop"),
        "gaming"
    );
}

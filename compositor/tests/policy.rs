//! The protocol policy seen by real clients: `wayland-info` lists which
//! globals each socket offers, and a small layer-shell panel (a real
//! wayland-client program, run in a thread of this test) is configured,
//! drawn, and pushes a maximized `foot` window down by its exclusive zone.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{
    wl_buffer, wl_compositor, wl_registry, wl_shm, wl_shm_pool, wl_surface,
};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols_wlr::layer_shell::v1::client::{zwlr_layer_shell_v1, zwlr_layer_surface_v1};
use zion_compositor::frame::{maximized_content, Decoration};
use zion_compositor::layout::Mode;
use zion_compositor::render::content_rect;
use zion_compositor::{BackendKind, Compositor, Options};
use zion_config::Config;

const WAYLAND_INFO: &str = "/usr/bin/wayland-info";
const FOOT: &str = "/usr/bin/foot";
const WAIT: Duration = Duration::from_secs(10);

/// Globals every client sees, host or profile.
const EVERYONE: [&str; 5] = [
    "wp_presentation",
    "wp_tearing_control_manager_v1",
    "wp_single_pixel_buffer_manager_v1",
    "zwp_relative_pointer_manager_v1",
    "zwp_pointer_constraints_v1",
];

/// Globals only host clients see.
const HOST_ONLY: [&str; 4] = [
    "zwlr_data_control_manager_v1",
    "ext_data_control_manager_v1",
    "zwlr_layer_shell_v1",
    "zwlr_screencopy_manager_v1",
];

/// The panel's height and exclusive zone.
const PANEL_HEIGHT: u32 = 40;
/// The panel's colour, as drawn (XRGB8888 0x00c85020).
const PANEL_RGB: (u8, u8, u8) = (0xc8, 0x50, 0x20);

fn missing(program: &str, package: &str) -> bool {
    !zion_tests::skip::installed(program, package)
}

fn compositor(runtime: &Path) -> Compositor {
    let options = Options {
        backend: BackendKind::Headless,
        size: (800, 600),
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

/// Starts `program args` connected to `socket`.
fn spawn(socket: &Path, program: &str, args: &[&str], stdout: Stdio) -> Child {
    let dir = socket.parent().expect("socket has a folder");
    let name = socket.file_name().expect("socket has a name");
    Command::new(program)
        .args(args)
        .env_clear()
        .env("XDG_RUNTIME_DIR", dir)
        .env("WAYLAND_DISPLAY", name)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} starts: {e}"))
}

/// The interface names `wayland-info` lists on `socket`.
fn globals_on(c: &mut Compositor, socket: &Path) -> String {
    let out = tempfile::NamedTempFile::new().expect("output file");
    let mut child = spawn(
        socket,
        WAYLAND_INFO,
        &[],
        Stdio::from(out.reopen().expect("output file reopens")),
    );
    let end = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("wayland-info status") {
            assert!(status.success(), "wayland-info failed on {socket:?}");
            break;
        }
        assert!(Instant::now() < end, "wayland-info did not finish");
        c.dispatch(Duration::from_millis(10))
            .expect("event loop runs");
    }
    std::fs::read_to_string(out.path()).expect("wayland-info output")
}

fn lists(info: &str, interface: &str) -> bool {
    info.lines()
        .any(|l| l.contains(&format!("'{interface}'")) || l.contains(&format!(": {interface},")))
}

#[test]
fn presentation_pointer_and_single_pixel_globals_are_for_everyone_data_control_for_the_host() {
    if missing(WAYLAND_INFO, "wayland-utils") {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let host = globals_on(&mut c, &host_socket(runtime.path()));
    let work = globals_on(&mut c, &profile_socket(runtime.path(), "work"));
    assert!(lists(&host, "wl_compositor"), "wayland-info output: {host}");
    for global in EVERYONE {
        assert!(lists(&host, global), "the host does not see {global}");
        assert!(lists(&work, global), "a profile does not see {global}");
    }
    for global in HOST_ONLY {
        assert!(lists(&host, global), "the host does not see {global}");
        assert!(!lists(&work, global), "a profile sees {global}");
    }
}

/// What the panel client has seen.
#[derive(Default)]
struct Panel {
    configured: Option<(u32, u32, u32)>,
    closed: bool,
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Panel {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zwlr_layer_surface_v1::ZwlrLayerSurfaceV1, ()> for Panel {
    fn event(
        state: &mut Self,
        _: &zwlr_layer_surface_v1::ZwlrLayerSurfaceV1,
        event: zwlr_layer_surface_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_layer_surface_v1::Event::Configure {
                serial,
                width,
                height,
            } => state.configured = Some((serial, width, height)),
            zwlr_layer_surface_v1::Event::Closed => state.closed = true,
            _ => {}
        }
    }
}

wayland_client::delegate_noop!(Panel: ignore wl_compositor::WlCompositor);
wayland_client::delegate_noop!(Panel: ignore wl_surface::WlSurface);
wayland_client::delegate_noop!(Panel: ignore wl_shm::WlShm);
wayland_client::delegate_noop!(Panel: ignore wl_shm_pool::WlShmPool);
wayland_client::delegate_noop!(Panel: ignore wl_buffer::WlBuffer);
wayland_client::delegate_noop!(Panel: ignore zwlr_layer_shell_v1::ZwlrLayerShellV1);

/// A panel along the top edge, `PANEL_HEIGHT` high with as much exclusive
/// zone, taking the keyboard; runs until `stop`. Returns the size it was
/// configured with.
fn run_panel(socket: PathBuf, stop: Arc<AtomicBool>) -> Result<(u32, u32), String> {
    let stream = UnixStream::connect(&socket).map_err(|e| format!("connect: {e}"))?;
    let conn = Connection::from_socket(stream).map_err(|e| format!("connection: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<Panel>(&conn).map_err(|e| format!("registry: {e}"))?;
    let qh = queue.handle();
    let compositor: wl_compositor::WlCompositor = globals
        .bind(&qh, 4..=4, ())
        .map_err(|e| format!("wl_compositor: {e}"))?;
    let shm: wl_shm::WlShm = globals
        .bind(&qh, 1..=1, ())
        .map_err(|e| format!("wl_shm: {e}"))?;
    let shell: zwlr_layer_shell_v1::ZwlrLayerShellV1 = globals
        .bind(&qh, 1..=4, ())
        .map_err(|e| format!("zwlr_layer_shell_v1: {e}"))?;
    let surface = compositor.create_surface(&qh, ());
    let layer = shell.get_layer_surface(
        &surface,
        None,
        zwlr_layer_shell_v1::Layer::Top,
        "panel".into(),
        &qh,
        (),
    );
    use zwlr_layer_surface_v1::Anchor;
    layer.set_anchor(Anchor::Top | Anchor::Left | Anchor::Right);
    layer.set_size(0, PANEL_HEIGHT);
    layer.set_exclusive_zone(PANEL_HEIGHT as i32);
    layer.set_keyboard_interactivity(zwlr_layer_surface_v1::KeyboardInteractivity::Exclusive);
    surface.commit();
    let mut panel = Panel::default();
    let end = Instant::now() + WAIT;
    let (serial, width, height) = loop {
        queue
            .roundtrip(&mut panel)
            .map_err(|e| format!("roundtrip: {e}"))?;
        if panel.closed {
            return Err("the panel was closed".into());
        }
        if let Some(c) = panel.configured {
            break c;
        }
        if Instant::now() > end {
            return Err("no configure".into());
        }
    };
    layer.ack_configure(serial);
    let (w, h) = (width as i32, height as i32);
    let mut file: File = tempfile::tempfile().map_err(|e| format!("shm file: {e}"))?;
    let pixel = 0x00c8_5020u32.to_le_bytes();
    let bytes: Vec<u8> = (0..w * h).flat_map(|_| pixel).collect();
    file.write_all(&bytes)
        .map_err(|e| format!("shm write: {e}"))?;
    let pool = shm.create_pool(file.as_fd(), w * h * 4, &qh, ());
    let buffer = pool.create_buffer(0, w, h, w * 4, wl_shm::Format::Xrgb8888, &qh, ());
    surface.attach(Some(&buffer), 0, 0);
    surface.damage_buffer(0, 0, w, h);
    surface.commit();
    while !stop.load(Ordering::Relaxed) {
        queue
            .roundtrip(&mut panel)
            .map_err(|e| format!("roundtrip: {e}"))?;
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((width, height))
}

struct PanelThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(u32, u32), String>>>,
}

impl PanelThread {
    fn start(socket: PathBuf) -> PanelThread {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || run_panel(socket, flag));
        PanelThread {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the panel (the compositor must keep dispatching meanwhile).
    fn finish(&mut self, c: &mut Compositor) -> Result<(u32, u32), String> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("panel runs");
        while !thread.is_finished() {
            c.dispatch(Duration::from_millis(10))
                .expect("event loop runs");
        }
        thread.join().expect("panel thread does not panic")
    }
}

impl Drop for PanelThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn a_host_panel_is_drawn_on_top_and_its_exclusive_zone_pushes_maximized_windows_down() {
    if missing(FOOT, "foot") {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let mut foot = spawn(
        &profile_socket(runtime.path(), "work"),
        FOOT,
        &["--config=/dev/null", "--maximized", "sleep", "30"],
        Stdio::null(),
    );
    let out = c.state.output_rect();
    let full = maximized_content(out, Decoration::Full);
    let opened = c
        .dispatch_until(WAIT, |s| {
            s.layout
                .visible()
                .iter()
                .any(|p| p.mode == Mode::Maximized && p.window.geometry().size.h == full.h)
        })
        .expect("event loop runs");
    assert!(opened, "foot did not open maximized");

    let mut panel = PanelThread::start(host_socket(runtime.path()));
    let shrunk = Decoration::Full;
    let pushed = c
        .dispatch_until(WAIT, |s| {
            let area = maximized_content(s.usable_rect(), shrunk);
            s.layout.visible().iter().any(|p| {
                let content = content_rect(&p.window, p.pos);
                area.y == full.y + PANEL_HEIGHT as i32 && content == area
            })
        })
        .expect("event loop runs");
    let usable = c.state.usable_rect();
    assert!(
        pushed,
        "the maximized window was not fitted below the panel (usable area {usable:?})"
    );
    assert_eq!(usable.y, PANEL_HEIGHT as i32, "the panel's exclusive zone");
    assert_eq!(usable.h, out.h - PANEL_HEIGHT as i32);

    // The panel holds the keyboard: it asked for exclusive interactivity.
    let panel_has_keyboard = c
        .dispatch_until(WAIT, |s| {
            let focus = s.seat.get_keyboard().and_then(|k| k.current_focus());
            focus.is_some() && focus == s.layer_keyboard_focus()
        })
        .expect("event loop runs");
    assert!(
        panel_has_keyboard,
        "the exclusive panel did not get the keyboard"
    );

    for _ in 0..5 {
        c.dispatch(Duration::from_millis(20))
            .expect("event loop runs");
    }
    let shot = c.screenshot().expect("screenshot");
    for (x, y) in [
        (0, 0),
        (out.w / 2, PANEL_HEIGHT as i32 / 2),
        (out.w - 1, 39),
    ] {
        assert_eq!(shot.pixel(x, y), Some(PANEL_RGB), "panel pixel at {x},{y}");
    }
    assert_ne!(
        shot.pixel(out.w / 2, PANEL_HEIGHT as i32 + 2),
        Some(PANEL_RGB),
        "the panel is taller than it asked"
    );

    let configured = panel.finish(&mut c);
    let _ = foot.kill();
    let _ = foot.wait();
    assert_eq!(configured, Ok((out.w as u32, PANEL_HEIGHT)));
}

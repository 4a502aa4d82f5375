//! wlr-screencopy and tearing-control seen by real clients: `grim` on the
//! host socket writes a PNG of what the compositor shows (a work window in
//! its frame), `grim` on a profile socket finds no screencopy; a
//! wayland-client program gets `ready` for a good buffer and the protocol
//! error for a bad one; a game-like client sets the tearing hint, which
//! applies on commit, reverts when its object goes, and cannot be doubled.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{
    wl_buffer, wl_compositor, wl_output, wl_registry, wl_shm, wl_shm_pool, wl_surface,
};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, WEnum};
use wayland_protocols::wp::tearing_control::v1::client::{
    wp_tearing_control_manager_v1, wp_tearing_control_v1,
};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1, zwlr_screencopy_manager_v1,
};
use zion_compositor::layout::Rect;
use zion_compositor::render::content_rect;
use zion_compositor::tearing::wants_tearing;
use zion_compositor::{BackendKind, Compositor, Options, Screenshot};
use zion_config::Config;

const GRIM: &str = "/usr/bin/grim";
const SIMPLE_SHM: &str = "/usr/bin/weston-simple-shm";
const WAIT: Duration = Duration::from_secs(10);
const SIZE: (i32, i32) = (800, 600);

fn missing(program: &str, package: &str) -> bool {
    !zion_tests::skip::installed(program, package)
}

/// A headless compositor in a temporary runtime folder, and the clients
/// started on it (killed at the end).
struct Harness {
    c: Compositor,
    runtime: tempfile::TempDir,
    clients: Vec<Child>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for child in &mut self.clients {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Harness {
    fn new() -> Harness {
        let runtime = tempfile::tempdir().expect("runtime folder");
        let options = Options {
            backend: BackendKind::Headless,
            size: SIZE,
            runtime_dir: runtime.path().to_owned(),
        };
        let c = Compositor::new(Config::defaults(), &options).expect("compositor starts");
        Harness {
            c,
            runtime,
            clients: Vec::new(),
        }
    }

    fn host_socket(&self) -> PathBuf {
        self.runtime.path().join("wayland-zion")
    }

    fn profile_socket(&self, profile: &str) -> PathBuf {
        self.runtime
            .path()
            .join("zion")
            .join(profile)
            .join("wayland-0")
    }

    fn command(socket: &Path, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env(
                "XDG_RUNTIME_DIR",
                socket.parent().expect("socket has a folder"),
            )
            .env(
                "WAYLAND_DISPLAY",
                socket.file_name().expect("socket has a name"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }

    /// A `weston-simple-shm` window on `profile`'s desktop (the first,
    /// shown one for work), drawn and settled; returns its content rect.
    fn work_window(&mut self) -> Rect {
        let child = Self::command(&self.profile_socket("work"), SIMPLE_SHM)
            .stderr(Stdio::null())
            .spawn()
            .expect("weston-simple-shm starts");
        self.clients.push(child);
        let drawn = self
            .c
            .dispatch_until(WAIT, |s| {
                s.layout
                    .visible()
                    .iter()
                    .any(|p| p.window.geometry().size.w > 0)
            })
            .expect("event loop runs");
        assert!(drawn, "weston-simple-shm did not open on the work desktop");
        self.settle();
        let placed = &self.c.state.layout.visible()[0];
        content_rect(&placed.window, placed.pos)
    }

    fn settle(&mut self) {
        for _ in 0..5 {
            self.c
                .dispatch(Duration::from_millis(20))
                .expect("event loop runs");
        }
    }

    /// Runs grim with `args` on `socket` while the compositor dispatches;
    /// returns whether it succeeded and its standard error.
    fn grim(&mut self, socket: &Path, args: &[&str]) -> (bool, String) {
        let err = tempfile::NamedTempFile::new().expect("stderr file");
        let mut child = Self::command(socket, GRIM)
            .args(args)
            .stderr(err.reopen().expect("stderr file reopens"))
            .spawn()
            .expect("grim starts");
        let end = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("grim status") {
                break status;
            }
            if Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("grim {args:?} did not finish within {WAIT:?}");
            }
            self.c
                .dispatch(Duration::from_millis(10))
                .expect("event loop runs");
        };
        let stderr = std::fs::read_to_string(err.path()).unwrap_or_default();
        (status.success(), stderr)
    }
}

/// A PNG file as RGB pixels: (width, height, rgb bytes).
fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = File::open(path).unwrap_or_else(|e| panic!("grim wrote no {path:?}: {e}"));
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("grim's PNG header reads");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("grim's PNG pixels read");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("grim wrote a {other:?} PNG"),
    };
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

fn png_pixel(img: &(u32, u32, Vec<u8>), x: i32, y: i32) -> (u8, u8, u8) {
    let i = (y as usize * img.0 as usize + x as usize) * 3;
    (img.2[i], img.2[i + 1], img.2[i + 2])
}

fn inside(r: Rect, x: i32, y: i32) -> bool {
    x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h
}

/// Asserts grim's image equals the compositor's own screenshot at `origin`,
/// except inside `animated` (weston-simple-shm draws a new frame each
/// time); returns how many pixels were compared.
fn assert_same(
    img: &(u32, u32, Vec<u8>),
    shot: &Screenshot,
    origin: (i32, i32),
    animated: Rect,
) -> usize {
    let mut compared = 0;
    for y in 0..img.1 as i32 {
        for x in 0..img.0 as i32 {
            let (sx, sy) = (origin.0 + x, origin.1 + y);
            if inside(animated, sx, sy) {
                continue;
            }
            assert_eq!(
                Some(png_pixel(img, x, y)),
                shot.pixel(sx, sy),
                "grim's pixel {x},{y} (output {sx},{sy}) differs from the compositor's"
            );
            compared += 1;
        }
    }
    compared
}

#[test]
fn grim_on_the_host_socket_captures_the_output_as_shown() {
    if missing(GRIM, "grim") || missing(SIMPLE_SHM, "weston") {
        return;
    }
    let mut h = Harness::new();
    let content = h.work_window();
    let out = tempfile::tempdir().expect("output folder");
    let png_path = out.path().join("shot.png");
    let host = h.host_socket();
    let (ok, stderr) = h.grim(&host, &[png_path.to_str().expect("utf-8 path")]);
    assert!(ok, "grim failed on the host socket: {stderr}");
    let img = read_png(&png_path);
    assert_eq!(
        (img.0, img.1),
        (SIZE.0 as u32, SIZE.1 as u32),
        "grim's image size"
    );

    let shot = h.c.screenshot().expect("screenshot");
    let compared = assert_same(&img, &shot, (0, 0), content);
    assert!(compared > 400_000, "only {compared} pixels compared");
    // What a user sees: the work window's frame in the work colour, left
    // of the content and under it.
    let work = Config::defaults().profiles[0].colour;
    let work = (work.r, work.g, work.b);
    let mid_y = content.y + content.h / 2;
    assert_eq!(png_pixel(&img, content.x - 2, mid_y), work, "left border");
    assert_eq!(
        png_pixel(&img, content.x + content.w / 2, content.y + content.h + 2),
        work,
        "bottom border"
    );
    // The window's own pixels are there too, not background.
    let background = png_pixel(&img, SIZE.0 - 1, SIZE.1 - 1);
    let centre = png_pixel(&img, content.x + content.w / 2, mid_y);
    assert_ne!(centre, background, "the window's content is missing");

    // A region: grim -g asks for capture_output_region.
    let region = Rect::new(content.x - 20, content.y - 40, 60, 50);
    let geometry = format!("{},{} {}x{}", region.x, region.y, region.w, region.h);
    let part = out.path().join("part.png");
    let (ok, stderr) = h.grim(
        &host,
        &["-g", &geometry, part.to_str().expect("utf-8 path")],
    );
    assert!(ok, "grim -g {geometry} failed: {stderr}");
    let img = read_png(&part);
    assert_eq!((img.0, img.1), (60, 50), "grim's region size");
    let shot = h.c.screenshot().expect("screenshot");
    let compared = assert_same(&img, &shot, (region.x, region.y), content);
    assert!(compared > 1000, "only {compared} region pixels compared");
    assert_eq!(png_pixel(&img, 18, 45), work, "left border in the region");
}

#[test]
fn grim_on_a_profile_socket_fails_for_want_of_screencopy() {
    if missing(GRIM, "grim") {
        return;
    }
    let mut h = Harness::new();
    let out = tempfile::tempdir().expect("output folder");
    let png_path = out.path().join("shot.png");
    let work = h.profile_socket("work");
    let (ok, stderr) = h.grim(&work, &[png_path.to_str().expect("utf-8 path")]);
    assert!(!ok, "grim succeeded on a profile socket");
    assert!(
        stderr.contains("screencopy"),
        "grim failed for another reason: {stderr}"
    );
    assert!(
        !png_path.exists(),
        "grim wrote an image on a profile socket"
    );
}

/// What the screencopy client has seen.
#[derive(Default)]
struct Copier {
    buffer: Option<(WEnum<wl_shm::Format>, u32, u32, u32)>,
    buffer_done: bool,
    flags: bool,
    ready: Option<(u64, u32)>,
    failed: bool,
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Copier {
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

impl Dispatch<zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1, ()> for Copier {
    fn event(
        state: &mut Self,
        _: &zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_screencopy_frame_v1::Event;
        match event {
            Event::Buffer {
                format,
                width,
                height,
                stride,
            } => state.buffer = Some((format, width, height, stride)),
            Event::BufferDone => state.buffer_done = true,
            Event::Flags { .. } => state.flags = true,
            Event::Ready {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
            } => state.ready = Some(((u64::from(tv_sec_hi) << 32) | u64::from(tv_sec_lo), tv_nsec)),
            Event::Failed => state.failed = true,
            _ => {}
        }
    }
}

wayland_client::delegate_noop!(Copier: ignore wl_output::WlOutput);
wayland_client::delegate_noop!(Copier: ignore wl_shm::WlShm);
wayland_client::delegate_noop!(Copier: ignore wl_shm_pool::WlShmPool);
wayland_client::delegate_noop!(Copier: ignore wl_buffer::WlBuffer);
wayland_client::delegate_noop!(Copier: ignore zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1);

fn roundtrip_until<S>(
    queue: &mut EventQueue<S>,
    state: &mut S,
    done: impl Fn(&S) -> bool,
) -> Result<(), String> {
    let end = Instant::now() + WAIT;
    while !done(state) {
        queue
            .roundtrip(state)
            .map_err(|e| format!("roundtrip: {e}"))?;
        if Instant::now() > end {
            return Err("timed out".into());
        }
    }
    Ok(())
}

/// How a copy ended.
#[derive(Debug)]
enum Copied {
    /// `ready`: the buffer's first pixel (XRGB8888) and the timestamp.
    Ready { first: u32, secs: u64 },
    /// `failed`.
    Failed,
    /// A protocol error: (interface, code).
    Error(String, u32),
}

/// Captures the output over `socket` into a buffer `extra_width` pixels
/// wider than the compositor asks for.
fn copy_output(socket: PathBuf, extra_width: i32) -> Result<Copied, String> {
    let stream = UnixStream::connect(&socket).map_err(|e| format!("connect: {e}"))?;
    let conn = Connection::from_socket(stream).map_err(|e| format!("connection: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<Copier>(&conn).map_err(|e| format!("registry: {e}"))?;
    let qh = queue.handle();
    let output: wl_output::WlOutput = globals
        .bind(&qh, 1..=4, ())
        .map_err(|e| format!("wl_output: {e}"))?;
    let shm: wl_shm::WlShm = globals
        .bind(&qh, 1..=1, ())
        .map_err(|e| format!("wl_shm: {e}"))?;
    let manager: zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1 = globals
        .bind(&qh, 3..=3, ())
        .map_err(|e| format!("zwlr_screencopy_manager_v1: {e}"))?;
    let frame = manager.capture_output(0, &output, &qh, ());
    let mut copier = Copier::default();
    roundtrip_until(&mut queue, &mut copier, |c| c.buffer_done || c.failed)?;
    let Some((format, w, h, stride)) = copier.buffer else {
        return Err("no buffer event".into());
    };
    if format != WEnum::Value(wl_shm::Format::Xrgb8888) || stride != w * 4 {
        return Err(format!("unexpected buffer {format:?} stride {stride}"));
    }
    let (w, h) = (w as i32 + extra_width, h as i32);
    let stride = w * 4;
    let mut file: File = tempfile::tempfile().map_err(|e| format!("shm file: {e}"))?;
    file.write_all(&vec![0u8; (stride * h) as usize])
        .map_err(|e| format!("shm write: {e}"))?;
    let pool = shm.create_pool(file.as_fd(), stride * h, &qh, ());
    let buffer = pool.create_buffer(0, w, h, stride, wl_shm::Format::Xrgb8888, &qh, ());
    frame.copy(&buffer);
    let outcome = roundtrip_until(&mut queue, &mut copier, |c| c.ready.is_some() || c.failed);
    if let Some(err) = conn.protocol_error() {
        return Ok(Copied::Error(err.object_interface, err.code));
    }
    outcome?;
    if copier.failed {
        return Ok(Copied::Failed);
    }
    if !copier.flags {
        return Err("ready without flags".into());
    }
    let (secs, _) = copier.ready.ok_or("no ready")?;
    let mut first = [0u8; 4];
    std::io::Read::read_exact(
        &mut std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))
            .map(|_| &file)
            .map_err(|e| format!("shm seek: {e}"))?,
        &mut first,
    )
    .map_err(|e| format!("shm read: {e}"))?;
    Ok(Copied::Ready {
        first: u32::from_le_bytes(first),
        secs,
    })
}

/// Runs `client` in a thread while the compositor dispatches.
fn in_thread<T: Send + 'static>(h: &mut Harness, client: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = std::thread::spawn(client);
    let end = Instant::now() + WAIT * 2;
    while !thread.is_finished() {
        assert!(Instant::now() < end, "the client thread did not finish");
        h.c.dispatch(Duration::from_millis(10))
            .expect("event loop runs");
    }
    thread.join().expect("client thread does not panic")
}

#[test]
fn a_good_buffer_gets_ready_with_the_pixels_a_wrong_one_the_protocol_error() {
    let mut h = Harness::new();
    let shot = h.c.screenshot().expect("screenshot");
    let (r, g, b) = shot.pixel(0, 0).expect("a pixel");
    let socket = h.host_socket();
    let copied = in_thread(&mut h, move || copy_output(socket, 0));
    match copied {
        Ok(Copied::Ready { first, secs }) => {
            let want = (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b);
            assert_eq!(first & 0x00ff_ffff, want, "the first pixel (XRGB)");
            assert!(secs > 0, "ready carries no timestamp");
        }
        other => panic!("a good buffer was not copied: {other:?}"),
    }
    let socket = h.host_socket();
    let copied = in_thread(&mut h, move || copy_output(socket, 1));
    match copied {
        Ok(Copied::Error(interface, code)) => {
            assert_eq!(interface, "zwlr_screencopy_frame_v1");
            assert_eq!(
                code,
                zwlr_screencopy_frame_v1::Error::InvalidBuffer as u32,
                "the error code"
            );
        }
        other => panic!("a buffer one pixel too wide was not refused: {other:?}"),
    }
    // The compositor goes on serving others.
    let socket = h.host_socket();
    let copied = in_thread(&mut h, move || copy_output(socket, 0));
    assert!(
        matches!(copied, Ok(Copied::Ready { .. })),
        "after a refused buffer: {copied:?}"
    );
}

/// What the game-like client has seen.
#[derive(Default)]
struct Game {
    configure: Option<u32>,
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Game {
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

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for Game {
    fn event(
        _: &mut Self,
        base: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            base.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for Game {
    fn event(
        state: &mut Self,
        _: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            state.configure = Some(serial);
        }
    }
}

wayland_client::delegate_noop!(Game: ignore wl_compositor::WlCompositor);
wayland_client::delegate_noop!(Game: ignore wl_surface::WlSurface);
wayland_client::delegate_noop!(Game: ignore wl_shm::WlShm);
wayland_client::delegate_noop!(Game: ignore wl_shm_pool::WlShmPool);
wayland_client::delegate_noop!(Game: ignore wl_buffer::WlBuffer);
wayland_client::delegate_noop!(Game: ignore xdg_toplevel::XdgToplevel);
wayland_client::delegate_noop!(Game: ignore wp_tearing_control_manager_v1::WpTearingControlManagerV1);
wayland_client::delegate_noop!(Game: ignore wp_tearing_control_v1::WpTearingControlV1);

/// The steps of the game client, each reported after a roundtrip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The window is drawn, no tearing control yet.
    Mapped,
    /// async set, not committed.
    HintSet,
    /// async committed.
    Committed,
    /// The tearing object destroyed, not committed.
    Destroyed,
    /// Committed after the destroy.
    Reverted,
}

const STEPS: [Step; 5] = [
    Step::Mapped,
    Step::HintSet,
    Step::Committed,
    Step::Destroyed,
    Step::Reverted,
];

/// A window on the work socket going through `STEPS`, reporting each on
/// `report` and waiting on `go`; at last asks for two tearing objects for
/// one surface and returns the protocol error it got (interface, code).
fn run_game(
    socket: PathBuf,
    report: mpsc::Sender<Step>,
    go: mpsc::Receiver<()>,
) -> Result<(String, u32), String> {
    let stream = UnixStream::connect(&socket).map_err(|e| format!("connect: {e}"))?;
    let conn = Connection::from_socket(stream).map_err(|e| format!("connection: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<Game>(&conn).map_err(|e| format!("registry: {e}"))?;
    let qh = queue.handle();
    let compositor: wl_compositor::WlCompositor = globals
        .bind(&qh, 4..=4, ())
        .map_err(|e| format!("wl_compositor: {e}"))?;
    let shm: wl_shm::WlShm = globals
        .bind(&qh, 1..=1, ())
        .map_err(|e| format!("wl_shm: {e}"))?;
    let base: xdg_wm_base::XdgWmBase = globals
        .bind(&qh, 1..=1, ())
        .map_err(|e| format!("xdg_wm_base: {e}"))?;
    let manager: wp_tearing_control_manager_v1::WpTearingControlManagerV1 = globals
        .bind(&qh, 1..=1, ())
        .map_err(|e| format!("wp_tearing_control_manager_v1: {e}"))?;
    let surface = compositor.create_surface(&qh, ());
    let xdg = base.get_xdg_surface(&surface, &qh, ());
    let toplevel = xdg.get_toplevel(&qh, ());
    toplevel.set_title("game".into());
    surface.commit();
    let mut game = Game::default();
    roundtrip_until(&mut queue, &mut game, |g| g.configure.is_some())?;
    xdg.ack_configure(game.configure.ok_or("no configure")?);
    let (w, h) = (64, 48);
    let mut file: File = tempfile::tempfile().map_err(|e| format!("shm file: {e}"))?;
    file.write_all(&vec![0x80u8; (w * h * 4) as usize])
        .map_err(|e| format!("shm write: {e}"))?;
    let pool = shm.create_pool(file.as_fd(), w * h * 4, &qh, ());
    let buffer = pool.create_buffer(0, w, h, w * 4, wl_shm::Format::Xrgb8888, &qh, ());
    surface.attach(Some(&buffer), 0, 0);
    surface.damage_buffer(0, 0, w, h);
    surface.commit();

    let mut control = None;
    for step in STEPS {
        match step {
            Step::Mapped => {}
            Step::HintSet => {
                let c = manager.get_tearing_control(&surface, &qh, ());
                c.set_presentation_hint(wp_tearing_control_v1::PresentationHint::Async);
                control = Some(c);
            }
            Step::Committed | Step::Reverted => surface.commit(),
            Step::Destroyed => {
                if let Some(c) = control.take() {
                    c.destroy();
                }
            }
        }
        queue
            .roundtrip(&mut game)
            .map_err(|e| format!("roundtrip after {step:?}: {e}"))?;
        report.send(step).map_err(|_| "the test went away")?;
        go.recv().map_err(|_| "the test went away")?;
    }

    // One object again is fine after the destroy; a second is an error.
    let _first = manager.get_tearing_control(&surface, &qh, ());
    let _second = manager.get_tearing_control(&surface, &qh, ());
    let _ = queue.roundtrip(&mut game);
    let err = conn
        .protocol_error()
        .ok_or("a second tearing control object for one surface was accepted")?;
    Ok((err.object_interface, err.code))
}

#[test]
fn the_tearing_hint_applies_on_commit_reverts_with_its_object_and_is_one_per_surface() {
    let mut h = Harness::new();
    let socket = h.profile_socket("work");
    let (report, steps) = mpsc::channel();
    let (go, wait) = mpsc::channel();
    let game = std::thread::spawn(move || run_game(socket, report, wait));
    let expect = [false, false, true, true, false];
    for (step, want) in STEPS.into_iter().zip(expect) {
        let mut got = None;
        let reached =
            h.c.dispatch_until(WAIT, |_| {
                got = steps.try_recv().ok();
                got.is_some() || game.is_finished()
            })
            .expect("event loop runs");
        assert!(
            reached && got == Some(step),
            "the game client stopped before {step:?}"
        );
        let surface = h.c.state.layout.desktops()[0]
            .windows()
            .iter()
            .find_map(|p| p.window.toplevel().map(|t| t.wl_surface().clone()))
            .expect("the game's window is on the work desktop");
        assert_eq!(
            wants_tearing(&surface),
            want,
            "wants_tearing after {step:?}"
        );
        go.send(()).expect("the game client waits");
    }
    while !game.is_finished() {
        h.c.dispatch(Duration::from_millis(10))
            .expect("event loop runs");
    }
    let (interface, code) = game
        .join()
        .expect("game thread does not panic")
        .unwrap_or_else(|e| panic!("game client: {e}"));
    assert_eq!(interface, "wp_tearing_control_manager_v1");
    assert_eq!(
        code,
        wp_tearing_control_manager_v1::Error::TearingControlExists as u32
    );
}

//! The protocol policy and clipboard isolation, seen by real clients:
//! `wayland-info` lists the globals a socket offers; `wl-copy`/`wl-paste`
//! copy and paste through the data device.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zion_compositor::{BackendKind, Compositor, Options};
use zion_config::Config;

const WAYLAND_INFO: &str = "/usr/bin/wayland-info";
const WAIT: Duration = Duration::from_secs(10);

/// The globals only host clients may see.
const HOST_ONLY: [&str; 8] = [
    "zwlr_layer_shell_v1",
    "zwlr_screencopy_manager_v1",
    "zwp_virtual_keyboard_manager_v1",
    "zwp_input_method_manager_v2",
    "ext_foreign_toplevel_list_v1",
    "zwlr_data_control_manager_v1",
    "ext_data_control_manager_v1",
    "ext_session_lock_manager_v1",
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
    !zion_tests::skip::installed(program, package)
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

/// A game-like client: one xdg toplevel that confines the pointer
/// (persistently) and records what its pointer sees; on request it opens
/// a second window, as a chat or launcher popping up would.
mod confining_client {
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use wayland_client::globals::{registry_queue_init, GlobalListContents};
    use wayland_client::protocol::{
        wl_buffer, wl_compositor, wl_pointer, wl_registry, wl_seat, wl_shm, wl_shm_pool, wl_surface,
    };
    use wayland_client::{Connection, Dispatch, QueueHandle};
    use wayland_protocols::wp::pointer_constraints::zv1::client::{
        zwp_confined_pointer_v1, zwp_pointer_constraints_v1,
    };
    use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

    /// What the client has seen, shared with the test.
    #[derive(Debug, Default, Clone)]
    pub struct Seen {
        pub confined: u32,
        pub unconfined: u32,
        /// The last place the pointer entered or moved to on the game's
        /// window.
        pub at: Option<(f64, f64)>,
    }

    struct Client {
        seen: Arc<Mutex<Seen>>,
        main: Option<wl_surface::WlSurface>,
        on_main: bool,
        configured: Vec<(xdg_surface::XdgSurface, u32)>,
    }

    impl Client {
        fn update(&self, f: impl FnOnce(&mut Seen)) {
            if let Ok(mut seen) = self.seen.lock() {
                f(&mut seen);
            }
        }
    }

    impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Client {
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

    impl Dispatch<xdg_wm_base::XdgWmBase, ()> for Client {
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

    impl Dispatch<xdg_surface::XdgSurface, ()> for Client {
        fn event(
            client: &mut Self,
            surface: &xdg_surface::XdgSurface,
            event: xdg_surface::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            if let xdg_surface::Event::Configure { serial } = event {
                client.configured.push((surface.clone(), serial));
            }
        }
    }

    impl Dispatch<wl_pointer::WlPointer, ()> for Client {
        fn event(
            client: &mut Self,
            _: &wl_pointer::WlPointer,
            event: wl_pointer::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            match event {
                wl_pointer::Event::Enter {
                    surface,
                    surface_x,
                    surface_y,
                    ..
                } => {
                    client.on_main = Some(&surface) == client.main.as_ref();
                    if client.on_main {
                        client.update(|s| s.at = Some((surface_x, surface_y)));
                    }
                }
                wl_pointer::Event::Leave { .. } => client.on_main = false,
                wl_pointer::Event::Motion {
                    surface_x,
                    surface_y,
                    ..
                } if client.on_main => client.update(|s| s.at = Some((surface_x, surface_y))),
                _ => {}
            }
        }
    }

    impl Dispatch<zwp_confined_pointer_v1::ZwpConfinedPointerV1, ()> for Client {
        fn event(
            client: &mut Self,
            _: &zwp_confined_pointer_v1::ZwpConfinedPointerV1,
            event: zwp_confined_pointer_v1::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            match event {
                zwp_confined_pointer_v1::Event::Confined => client.update(|s| s.confined += 1),
                zwp_confined_pointer_v1::Event::Unconfined => client.update(|s| s.unconfined += 1),
                _ => {}
            }
        }
    }

    wayland_client::delegate_noop!(Client: ignore wl_compositor::WlCompositor);
    wayland_client::delegate_noop!(Client: ignore wl_surface::WlSurface);
    wayland_client::delegate_noop!(Client: ignore wl_shm::WlShm);
    wayland_client::delegate_noop!(Client: ignore wl_shm_pool::WlShmPool);
    wayland_client::delegate_noop!(Client: ignore wl_buffer::WlBuffer);
    wayland_client::delegate_noop!(Client: ignore wl_seat::WlSeat);
    wayland_client::delegate_noop!(Client: ignore xdg_toplevel::XdgToplevel);
    wayland_client::delegate_noop!(Client: ignore zwp_pointer_constraints_v1::ZwpPointerConstraintsV1);

    /// The window's size.
    pub const SIZE: (i32, i32) = (200, 100);

    /// A mapped toplevel of `SIZE`, grey.
    fn window(
        qh: &QueueHandle<Client>,
        compositor: &wl_compositor::WlCompositor,
        shm: &wl_shm::WlShm,
        base: &xdg_wm_base::XdgWmBase,
        title: &str,
    ) -> Result<
        (
            wl_surface::WlSurface,
            xdg_surface::XdgSurface,
            xdg_toplevel::XdgToplevel,
            wl_buffer::WlBuffer,
        ),
        String,
    > {
        let surface = compositor.create_surface(qh, ());
        let xdg = base.get_xdg_surface(&surface, qh, ());
        let toplevel = xdg.get_toplevel(qh, ());
        toplevel.set_title(title.into());
        let (w, h) = SIZE;
        toplevel.set_min_size(w, h);
        toplevel.set_max_size(w, h);
        surface.commit();
        let mut file: File = tempfile::tempfile().map_err(|e| format!("shm file: {e}"))?;
        let bytes: Vec<u8> = (0..w * h)
            .flat_map(|_| 0x0080_8080u32.to_le_bytes())
            .collect();
        file.write_all(&bytes)
            .map_err(|e| format!("shm write: {e}"))?;
        let pool = shm.create_pool(file.as_fd(), w * h * 4, qh, ());
        let buffer = pool.create_buffer(0, w, h, w * 4, wl_shm::Format::Xrgb8888, qh, ());
        Ok((surface, xdg, toplevel, buffer))
    }

    /// Runs the client on `socket` until `stop`; opens the second window
    /// once `open_second` is set.
    pub fn run(
        socket: PathBuf,
        seen: Arc<Mutex<Seen>>,
        open_second: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
    ) -> Result<(), String> {
        let stream = UnixStream::connect(&socket).map_err(|e| format!("connect: {e}"))?;
        let conn = Connection::from_socket(stream).map_err(|e| format!("connection: {e}"))?;
        let (globals, mut queue) =
            registry_queue_init::<Client>(&conn).map_err(|e| format!("registry: {e}"))?;
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
        let seat: wl_seat::WlSeat = globals
            .bind(&qh, 1..=5, ())
            .map_err(|e| format!("wl_seat: {e}"))?;
        let constraints: zwp_pointer_constraints_v1::ZwpPointerConstraintsV1 = globals
            .bind(&qh, 1..=1, ())
            .map_err(|e| format!("zwp_pointer_constraints_v1: {e}"))?;
        let pointer = seat.get_pointer(&qh, ());
        let mut client = Client {
            seen,
            main: None,
            on_main: false,
            configured: Vec::new(),
        };
        let mut windows = vec![window(&qh, &compositor, &shm, &base, "game")?];
        client.main = Some(windows[0].0.clone());
        let _confined = constraints.confine_pointer(
            &windows[0].0,
            &pointer,
            None,
            zwp_pointer_constraints_v1::Lifetime::Persistent,
            &qh,
            (),
        );
        let mut second_opened = false;
        while !stop.load(Ordering::Relaxed) {
            queue
                .roundtrip(&mut client)
                .map_err(|e| format!("roundtrip: {e}"))?;
            for (xdg, serial) in std::mem::take(&mut client.configured) {
                xdg.ack_configure(serial);
                if let Some((surface, _, _, buffer)) = windows.iter().find(|w| w.1 == xdg) {
                    surface.attach(Some(buffer), 0, 0);
                    surface.damage_buffer(0, 0, SIZE.0, SIZE.1);
                    surface.commit();
                }
            }
            if !second_opened && open_second.load(Ordering::Relaxed) {
                windows.push(window(&qh, &compositor, &shm, &base, "chat")?);
                second_opened = true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

#[test]
fn a_confined_pointer_stops_at_the_window_edge_and_follows_the_focus() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use zion_compositor::render::content_rect;

    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let seen = Arc::new(Mutex::new(confining_client::Seen::default()));
    let open_second = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (socket, seen, open, stop) = (
            profile_socket(runtime.path(), "work"),
            seen.clone(),
            open_second.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || confining_client::run(socket, seen, open, stop))
    };
    let snapshot = |seen: &Arc<Mutex<confining_client::Seen>>| {
        seen.lock().map(|s| s.clone()).unwrap_or_default()
    };
    let mapped = c
        .dispatch_until(WAIT, |s| !s.layout.visible().is_empty())
        .expect("event loop runs");
    assert!(
        mapped,
        "the client's window did not open: {:?}",
        snapshot(&seen)
    );
    let (game, rect) = {
        let placed = &c.state.layout.visible()[0];
        (
            placed.window.clone(),
            content_rect(&placed.window, placed.pos),
        )
    };
    let (w, h) = confining_client::SIZE;
    assert_eq!((rect.w, rect.h), (w, h), "window size");

    // The pointer comes over the window: the confinement applies.
    let (cx, cy) = (f64::from(rect.x + w / 2), f64::from(rect.y + h / 2));
    c.state.pointer_motion_absolute(cx, cy);
    let confined = c
        .dispatch_until(WAIT, |_| snapshot(&seen).confined == 1)
        .expect("event loop runs");
    assert!(confined, "no confined event: {:?}", snapshot(&seen));

    // A mouse flick far past the bottom-right corner stops at it.
    c.state.pointer_motion(cx + 1000.0, cy + 1000.0);
    let corner = (f64::from(w - 1), f64::from(h - 1));
    let stopped = c
        .dispatch_until(WAIT, |_| snapshot(&seen).at == Some(corner))
        .expect("event loop runs");
    assert!(stopped, "pointer not at the corner: {:?}", snapshot(&seen));
    let at = c
        .state
        .seat
        .get_pointer()
        .map(|p| p.current_location())
        .expect("seat has a pointer");
    assert_eq!(
        (at.x, at.y),
        (f64::from(rect.x) + corner.0, f64::from(rect.y) + corner.1),
        "the compositor's pointer left the window"
    );

    // Another window takes the focus: the pointer is free again.
    open_second.store(true, Ordering::Relaxed);
    let freed = c
        .dispatch_until(WAIT, |_| snapshot(&seen).unconfined >= 1)
        .expect("event loop runs");
    assert!(freed, "no unconfined event: {:?}", snapshot(&seen));

    // Over the game again, but the chat has the focus: the pointer moves
    // freely; a click on the game focuses it and confines the pointer.
    let rect = c
        .state
        .layout
        .visible()
        .iter()
        .find(|p| p.window == game)
        .map(|p| content_rect(&p.window, p.pos))
        .expect("the game's window is shown");
    // The chat opens cascaded over the game; its top-left stays bare.
    let (x, y) = (f64::from(rect.x + 10), f64::from(rect.y + 10));
    c.state.pointer_motion_absolute(x, y);
    let over = c
        .dispatch_until(WAIT, |_| snapshot(&seen).at == Some((10.0, 10.0)))
        .expect("event loop runs");
    assert!(over, "pointer not over the game: {:?}", snapshot(&seen));
    assert_eq!(snapshot(&seen).confined, 1, "confined while unfocused");
    c.state
        .pointer_button(zion_compositor::input::BTN_LEFT, true);
    c.state
        .pointer_button(zion_compositor::input::BTN_LEFT, false);
    let again = c
        .dispatch_until(WAIT, |_| snapshot(&seen).confined == 2)
        .expect("event loop runs");
    assert!(again, "not confined after the click: {:?}", snapshot(&seen));

    stop.store(true, Ordering::Relaxed);
    while !thread.is_finished() {
        c.dispatch(std::time::Duration::from_millis(10))
            .expect("event loop runs");
    }
    let result = thread.join().expect("client thread does not panic");
    assert_eq!(result, Ok(()), "client");
}

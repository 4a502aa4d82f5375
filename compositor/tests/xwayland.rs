//! One Xwayland per profile: the compositor runs headless in this process,
//! real X11 programs from Debian (`xeyes`, `xwininfo`) connect to a
//! profile's X socket, and the test asserts what a user would notice: the
//! window on that profile's desktop in that profile's frame colour, and an
//! X11 client of another profile that cannot list it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use smithay::desktop::Window;
use zion_compositor::frame::BORDER;
use zion_compositor::render::content_rect;
use zion_compositor::Screenshot;
use zion_config::Config;
use zion_tests::compositor::x11::x11_ready;
use zion_tests::compositor::Fixture;

const XEYES: &str = "/usr/bin/xeyes";
const XWININFO: &str = "/usr/bin/xwininfo";
const WAIT: Duration = Duration::from_secs(15);

/// The fixture with X11 sockets, and what these tests do on it.
struct Harness {
    compositor: Fixture,
}

/// Readies the test thread (a private `/tmp`), or reports why this machine
/// cannot run the test.
fn ready() -> bool {
    x11_ready(&[(XEYES, "x11-apps"), (XWININFO, "x11-utils")])
}

impl Harness {
    /// A headless compositor with the X11 sockets of `profiles` open (their
    /// servers start on their first client).
    fn new(profiles: &[&str]) -> Harness {
        Harness {
            compositor: Fixture::x11((800, 600), profiles),
        }
    }

    /// The X socket of `profile`: in the profile's folder.
    fn socket(&self, profile: &str) -> PathBuf {
        self.compositor.x11_socket(profile)
    }

    /// Whether `profile`'s Xwayland runs.
    fn running(&self, profile: &str) -> bool {
        self.compositor
            .state
            .xwayland
            .of(profile)
            .is_some_and(|i| i.server.is_some())
    }

    fn spawn_x11(&mut self, program: &str, profile: &str) {
        let mut command = self.compositor.x11_command(profile, program, &[]);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        self.compositor.keep(command);
    }

    fn desktop(&self, profile: &str) -> usize {
        self.compositor.desktop(profile)
    }

    fn wait_for_windows(&mut self, desktop: usize, count: usize) -> Vec<Window> {
        let ok = self
            .compositor
            .dispatch_until(WAIT, |s| {
                let windows = s.layout.desktops()[desktop].windows();
                windows.len() == count
                    && windows
                        .iter()
                        .all(|p| p.window.geometry().size.w > 0 && has_surface(&p.window))
            })
            .expect("event loop runs");
        let seen: Vec<_> = self.compositor.state.layout.desktops()[desktop]
            .windows()
            .iter()
            .map(|p| (p.window.geometry(), has_surface(&p.window)))
            .collect();
        assert!(
            ok,
            "desktop {desktop} did not get {count} drawn X11 window(s): {seen:?}"
        );
        self.compositor.settle();
        self.compositor.settle();
        self.compositor.windows(desktop)
    }

    /// Runs `xwininfo -root -tree` on `profile`'s display, dispatching the
    /// compositor meanwhile (Xwayland needs it); returns its output.
    fn xwininfo_tree(&mut self, profile: &str) -> String {
        let child = self
            .compositor
            .x11_command(profile, XWININFO, &["-root", "-tree"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xwininfo starts");
        let pid = child.id();
        let handle = std::thread::spawn(move || child.wait_with_output());
        let end = Instant::now() + WAIT;
        while !handle.is_finished() {
            assert!(Instant::now() < end, "xwininfo (pid {pid}) did not finish");
            self.compositor
                .dispatch(Duration::from_millis(10))
                .expect("event loop runs");
        }
        let out = handle
            .join()
            .expect("xwininfo thread")
            .expect("xwininfo output");
        assert!(
            out.status.success(),
            "xwininfo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn shot(&mut self) -> Screenshot {
        self.compositor.screenshot().expect("screenshot")
    }
}

/// The X11 window has its Wayland surface (it can be drawn).
fn has_surface(window: &Window) -> bool {
    zion_compositor::xwayland::surface_of(window).is_some()
}

#[test]
fn x11_window_opens_on_its_profiles_desktop_in_its_frame_and_other_profiles_cannot_list_it() {
    if !ready() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut h = Harness::new(&["work", "personal"]);
    assert!(
        !h.running("work") && !h.running("personal"),
        "no Xwayland runs before an X11 client connects"
    );
    let work = h.socket("work");
    assert!(
        work.starts_with(h.compositor.runtime().join("zion").join("work").join("X11")),
        "work's X socket is in work's folder: {}",
        work.display()
    );
    assert_ne!(
        h.socket("personal"),
        work,
        "each profile has its own X server"
    );

    // xeyes on work's Xwayland appears on the work desktop, framed in work's colour.
    h.spawn_x11(XEYES, "work");
    let work_desktop = h.desktop("work");
    let windows = h.wait_for_windows(work_desktop, 1);
    let personal_desktop = h.desktop("personal");
    assert!(
        h.compositor.state.layout.desktops()[personal_desktop]
            .windows()
            .is_empty(),
        "nothing on the personal desktop"
    );
    // The work desktop is shown (it is the first).
    assert_eq!(h.compositor.state.layout.active(), work_desktop);
    let pos = h
        .compositor
        .state
        .layout
        .position(&windows[0])
        .expect("placed");
    let content = content_rect(&windows[0], pos);
    let shot = h.shot();
    let colour = Config::defaults()
        .profile("work")
        .expect("work profile")
        .colour;
    let work_rgb = (colour.r, colour.g, colour.b);
    let mid_y = content.y + content.h / 2;
    let mid_x = content.x + content.w / 2;
    for (what, x, y) in [
        ("left border", content.x - BORDER / 2 - 1, mid_y),
        ("right border", content.x + content.w + BORDER / 2, mid_y),
        ("bottom border", mid_x, content.y + content.h + BORDER / 2),
    ] {
        assert_eq!(shot.pixel(x, y), Some(work_rgb), "{what} at {x},{y}");
    }
    // xeyes draws its eyes (white and black) inside the frame.
    let inside: Vec<_> = (content.x..content.x + content.w)
        .step_by(2)
        .filter_map(|x| shot.pixel(x, mid_y))
        .collect();
    assert!(
        inside.contains(&(255, 255, 255)) && inside.contains(&(0, 0, 0)),
        "xeyes drew its eyes in the window: {:?}",
        &inside[..inside.len().min(20)]
    );

    // personal's X server lists only personal's windows: not work's xeyes.
    let work_tree = h.xwininfo_tree("work");
    assert!(
        work_tree.contains("\"XEyes\""),
        "work's X server lists xeyes:\n{work_tree}"
    );
    h.spawn_x11(XEYES, "personal");
    h.wait_for_windows(personal_desktop, 1);
    let personal_tree = h.xwininfo_tree("personal");
    assert_eq!(
        personal_tree.matches("\"XEyes\"").count(),
        1,
        "personal's X server lists its own xeyes and not work's:\n{personal_tree}"
    );
    assert_eq!(
        work_tree.matches("\"XEyes\"").count(),
        1,
        "work's X server listed one xeyes before personal's started:\n{work_tree}"
    );
    let work_tree = h.xwininfo_tree("work");
    assert_eq!(
        work_tree.matches("\"XEyes\"").count(),
        1,
        "work's X server does not list personal's xeyes:\n{work_tree}"
    );
    assert_eq!(
        h.compositor.state.layout.desktops()[work_desktop]
            .windows()
            .len(),
        1,
        "personal's X11 window did not land on work's desktop"
    );
}

#[test]
fn xwayland_starts_on_the_first_client_stops_when_idle_and_starts_again() {
    if !ready() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut h = Harness::new(&["work"]);
    h.compositor.state.xwayland.idle_after = Some(Duration::from_millis(500));
    let socket = h.socket("work");
    assert_eq!(
        socket,
        h.compositor.runtime().join("zion/work/X11/X0"),
        "the socket is X0 in the profile's X11 folder (DISPLAY=:0 in its container)"
    );
    assert!(!h.running("work"), "nothing runs before a client");

    // The first client starts the server and is served by it.
    h.spawn_x11(XEYES, "work");
    let desktop = h.desktop("work");
    h.wait_for_windows(desktop, 1);
    let (first, pid) = h
        .compositor
        .state
        .xwayland
        .of("work")
        .and_then(|i| i.server.as_ref())
        .map(|s| (s.generation, s.pid))
        .expect("Xwayland runs");
    let pid = pid.expect("the Xwayland process is known");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("Xwayland's process");
    assert!(exe.ends_with("Xwayland"), "{pid} is {}", exe.display());

    // A window keeps it running past the idle delay.
    let stopped = h
        .compositor
        .dispatch_until(Duration::from_millis(1500), |s| {
            s.xwayland.of("work").is_some_and(|i| i.server.is_none())
        })
        .expect("event loop runs");
    assert!(!stopped, "Xwayland stopped while it had a window");

    // Its last window gone, it stops; the socket stays.
    h.compositor.kill_all();
    let stopped = h
        .compositor
        .dispatch_until(WAIT, |s| {
            s.xwayland.of("work").is_some_and(|i| i.server.is_none())
        })
        .expect("event loop runs");
    assert!(
        stopped,
        "Xwayland did not stop after its last window closed"
    );
    assert!(
        h.compositor.state.layout.desktops()[desktop]
            .windows()
            .is_empty(),
        "no X11 window is left on the desktop"
    );
    assert!(socket.exists(), "the socket stays for the next client");
    let end = Instant::now() + WAIT;
    while std::fs::read_link(format!("/proc/{pid}/exe")).is_ok() {
        assert!(
            Instant::now() < end,
            "the stopped Xwayland ({pid}) still runs"
        );
        h.compositor
            .dispatch(Duration::from_millis(10))
            .expect("event loop runs");
    }

    // The next client starts a new server.
    h.spawn_x11(XEYES, "work");
    h.wait_for_windows(desktop, 1);
    let second = h
        .compositor
        .state
        .xwayland
        .of("work")
        .and_then(|i| i.server.as_ref())
        .map(|s| s.generation)
        .expect("Xwayland runs again");
    assert_ne!(first, second, "a new server serves the second client");
}

//! Input reaches X11 windows: the compositor runs headless in this process,
//! Debian's `xev` runs on a profile's Xwayland as in the profile's
//! container, and the test types and moves and clicks the pointer through
//! the functions the backends call, then reads what xev says its window got:
//! the key with its keysym, the motion at the place in the window the
//! pointer is over, the button.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smithay::desktop::Window;
use zion_compositor::input::BTN_LEFT;
use zion_compositor::Compositor;
use zion_tests::compositor::x11::x11_ready;
use zion_tests::compositor::{settle, Fixture};

const XEV: &str = "/usr/bin/xev";
const WAIT: Duration = Duration::from_secs(15);
/// evdev KEY_A.
const KEY_A: u32 = 30;
/// evdev KEY_B.
const KEY_B: u32 = 48;

/// Readies the test thread (a private `/tmp`), or reports why this machine
/// cannot run the test.
fn ready() -> bool {
    x11_ready(&[(XEV, "x11-utils")])
}

/// A program on a profile's X display, its stdout collected as it comes.
struct X11Client {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Drop for X11Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl X11Client {
    /// `program` run as in `profile`'s container: mount and network
    /// namespaces of its own, the profile's X11 folder as `/tmp/.X11-unix`,
    /// `DISPLAY=:0`.
    fn spawn(compositor: &Fixture, profile: &str, program: &str, args: &[&str]) -> X11Client {
        let mut child = compositor
            .x11_command(profile, program, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&out);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut out = collected.lock().expect("output lock");
                out.push_str(&line);
                out.push('\n');
            }
        });
        X11Client { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().expect("output lock").clone()
    }
}

/// xev's report of one event: the event line and the lines after it up to
/// the blank line ending it.
fn events<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.split("\n\n")
        .map(str::trim)
        .filter(|e| e.starts_with(name))
        .collect()
}

/// Dispatches until xev reported an event `name` for which `ok` holds;
/// returns it, or panics with all xev printed.
fn wait_for_event(
    compositor: &mut Compositor,
    xev: &X11Client,
    name: &str,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> String {
    let mut found = None;
    compositor
        .dispatch_until(WAIT, |_| {
            found = events(&xev.output(), name)
                .into_iter()
                .find(|e| ok(e))
                .map(str::to_owned);
            found.is_some()
        })
        .expect("event loop runs");
    found.unwrap_or_else(|| panic!("xev did not get {what}; it printed:\n{}", xev.output()))
}

/// Starts xev on `work`'s display and waits for its window, drawn, as the
/// `count`th on the work desktop; returns xev and its window.
fn open_xev(compositor: &mut Fixture, count: usize) -> (X11Client, Window) {
    let desktop = compositor.desktop("work");
    let xev = X11Client::spawn(
        compositor,
        "work",
        XEV,
        &["-event", "mouse", "-event", "keyboard"],
    );
    let drawn =
        |w: &Window| w.geometry().size.w > 0 && zion_compositor::xwayland::surface_of(w).is_some();
    let shown = compositor
        .dispatch_until(WAIT, |s| {
            let windows = s.layout.desktops()[desktop].windows();
            windows.len() == count && windows.iter().all(|p| drawn(&p.window))
        })
        .expect("event loop runs");
    assert!(shown, "xev's window did not appear on the work desktop");
    settle(compositor);
    settle(compositor);
    let window = compositor.state.layout.desktops()[desktop].windows()[count - 1]
        .window
        .clone();
    (xev, window)
}

/// Presses and releases `key` (evdev code).
fn type_key(compositor: &mut Compositor, key: u32) {
    compositor.state.key(key, true);
    compositor.state.key(key, false);
}

/// Where `window`'s content starts on the output.
fn origin(compositor: &Fixture, window: &Window) -> (i32, i32) {
    let content = compositor.content(window);
    (content.x, content.y)
}

#[test]
fn keys_pointer_motion_and_clicks_reach_an_x11_window() {
    if !ready() {
        return;
    }
    let mut compositor = Fixture::x11((800, 600), &["work"]);
    let (xev, window) = open_xev(&mut compositor, 1);
    assert_eq!(
        compositor.state.layout.focused(),
        Some(&window),
        "the new X11 window has the focus"
    );

    // Typing into the focused window: xev gets the key, as the letter a.
    type_key(&mut compositor, KEY_A);
    let press = wait_for_event(&mut compositor, &xev, "KeyPress", "the key a", |e| {
        e.contains("keysym 0x61, a)")
    });
    eprintln!("{press}");
    wait_for_event(
        &mut compositor,
        &xev,
        "KeyRelease",
        "the release of a",
        |e| e.contains("keysym 0x61, a)"),
    );

    // The pointer over the window: xev gets motion at that place in its
    // window, and at that place on the screen.
    let (left, top) = origin(&compositor, &window);
    let (dx, dy) = (37, 23);
    let (x, y) = (left + dx, top + dy);
    compositor
        .state
        .pointer_motion(f64::from(x - 5), f64::from(y - 3));
    compositor.state.pointer_motion(f64::from(x), f64::from(y));
    let motion = wait_for_event(
        &mut compositor,
        &xev,
        "MotionNotify",
        &format!("motion to ({dx},{dy}) in its window"),
        |e| e.contains(&format!("({dx},{dy}), root:({x},{y})")),
    );
    eprintln!("{motion}");

    // A click there: button 1 pressed and released at that place.
    compositor.state.pointer_button(BTN_LEFT, true);
    compositor.state.pointer_button(BTN_LEFT, false);
    for (name, what) in [
        ("ButtonPress", "the left button's press"),
        ("ButtonRelease", "the left button's release"),
    ] {
        wait_for_event(&mut compositor, &xev, name, what, |e| {
            e.contains(&format!("({dx},{dy}), root:({x},{y})")) && e.contains("button 1,")
        });
    }
    // Still focused, still typed into after the click.
    type_key(&mut compositor, KEY_A);
    let presses = compositor
        .dispatch_until(WAIT, |_| {
            events(&xev.output(), "KeyPress")
                .iter()
                .filter(|e| e.contains("keysym 0x61, a)"))
                .count()
                == 2
        })
        .expect("event loop runs");
    assert!(
        presses,
        "xev did not get the second a after the click:\n{}",
        xev.output()
    );
}

#[test]
fn clicking_another_x11_window_moves_the_keys_to_it() {
    if !ready() {
        return;
    }
    let mut compositor = Fixture::x11((800, 600), &["work"]);
    let (first, first_window) = open_xev(&mut compositor, 1);
    let (second, second_window) = open_xev(&mut compositor, 2);
    assert_eq!(
        compositor.state.layout.focused(),
        Some(&second_window),
        "the newest X11 window has the focus"
    );
    type_key(&mut compositor, KEY_A);
    wait_for_event(&mut compositor, &second, "KeyPress", "the key a", |e| {
        e.contains("keysym 0x61, a)")
    });

    // A click on the first window's corner, which the second (cascaded
    // below and right of it) does not cover, gives it the keys.
    let (left, top) = origin(&compositor, &first_window);
    let (x, y) = (left + 6, top + 4);
    assert!(
        origin(&compositor, &second_window) > (x, y),
        "the second window leaves the first one's corner uncovered"
    );
    compositor.state.pointer_motion(f64::from(x), f64::from(y));
    compositor.state.pointer_button(BTN_LEFT, true);
    compositor.state.pointer_button(BTN_LEFT, false);
    wait_for_event(
        &mut compositor,
        &first,
        "ButtonPress",
        "the click on its corner",
        |e| e.contains(&format!("(6,4), root:({x},{y})")),
    );
    assert_eq!(
        compositor.state.layout.focused(),
        Some(&first_window),
        "the clicked window has the focus"
    );
    type_key(&mut compositor, KEY_B);
    wait_for_event(&mut compositor, &first, "KeyPress", "the key b", |e| {
        e.contains("keysym 0x62, b)")
    });
    settle(&mut compositor);
    assert!(
        !second.output().contains("keysym 0x62, b)"),
        "the window that lost the focus got the key b too:\n{}",
        second.output()
    );
    assert!(
        !first.output().contains("keysym 0x61, a)"),
        "the first window got the a typed before it was clicked:\n{}",
        first.output()
    );
}

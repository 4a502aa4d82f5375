//! Attacks on the compositor's isolation, each tried from the untrusted
//! side with real Wayland clients on an in-process headless compositor,
//! and each asserted to fail for the reason it must:
//!
//! - a disposable browser sandbox reading, or replacing, the clipboard its
//!   profile copied (`wl-copy` / `wl-paste` on the sandbox's own socket);
//! - a fullscreen window of one profile painted in another profile's
//!   colour, to pass for that profile's window (`foot --fullscreen` with
//!   its background set to work's colour, from personal);
//! - a sandbox window that refuses server-side decorations, as Chromium
//!   does, to show no `[work · disposable]` label (`foot` preferring
//!   client-side decorations).
//!
//! Each test writes what it saw to `$CARGO_TARGET_TMPDIR/attacks/` as a PNG.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smithay::desktop::Window;
use zion_compositor::clipboard::{Domain, Kind};
use zion_compositor::frame::BORDER;
use zion_compositor::layout::Rect;
use zion_compositor::render::{content_rect, label_of};
use zion_compositor::{Action, BackendKind, Compositor, Origin, Screenshot};
use zion_config::{Colour, Config};

const WL_COPY: &str = "/usr/bin/wl-copy";
const WL_PASTE: &str = "/usr/bin/wl-paste";
const FOOT: &str = "/usr/bin/foot";
const WAIT: Duration = Duration::from_secs(10);
/// How long `wl-paste` may wait for a selection before it counts as
/// offered nothing (a client that may see no selection is sent none).
const NOTHING: Duration = Duration::from_secs(2);

/// Why a tool these attacks need is missing, printed, if it is.
fn missing(tools: &[(&str, &str)]) -> bool {
    !tools
        .iter()
        .all(|(program, package)| zion_tests::skip::installed(program, package))
}

fn compositor(runtime: &Path) -> Compositor {
    let options = zion_compositor::Options {
        backend: BackendKind::Headless,
        size: (800, 600),
        runtime_dir: runtime.to_owned(),
    };
    Compositor::new(Config::defaults(), &options).expect("compositor starts")
}

fn profile_socket(runtime: &Path, profile: &str) -> PathBuf {
    runtime.join("zion").join(profile).join("wayland-0")
}

fn sandbox(profile: &str, instance: &str) -> Origin {
    Origin::Sandbox {
        profile: profile.parse().expect("profile name"),
        instance: instance.parse().expect("instance name"),
    }
}

/// Opens a sandbox's socket the way `OpenSandboxSocket` over D-Bus does.
fn open_sandbox(c: &mut Compositor, origin: &Origin) -> PathBuf {
    c.state
        .open_sandbox_socket(origin.clone())
        .expect("sandbox socket opens")
}

fn colour(profile: &str) -> Colour {
    Config::defaults()
        .profile(profile)
        .expect("a default profile")
        .colour
}

fn rgb(c: Colour) -> (u8, u8, u8) {
    (c.r, c.g, c.b)
}

fn show(c: &mut Compositor, profile: &str) {
    let i = c.state.layout.index_of(profile).expect("desktop exists");
    c.state.do_action(Action::SwitchTo(i));
}

/// A client process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client(socket: &Path, program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("XDG_RUNTIME_DIR", socket.parent().expect("socket folder"))
        .env("WAYLAND_DISPLAY", socket.file_name().expect("socket name"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// `wl-copy --foreground text` on `socket`, once the compositor has kept a
/// copy of it as the selection of `domain`.
fn copy(c: &mut Compositor, socket: &Path, domain: &Domain, text: &str, kind: Kind) -> Running {
    let mut cmd = client(socket, WL_COPY);
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
        "wl-copy {text:?}: no {kind:?} selection kept for {domain}"
    );
    copier
}

/// What `wl-paste` on `socket` prints, `None` when it is offered nothing.
fn paste(c: &mut Compositor, socket: &Path, kind: Kind) -> Option<String> {
    let out = tempfile::NamedTempFile::new().expect("output file");
    let mut cmd = client(socket, WL_PASTE);
    cmd.arg("--no-newline");
    if kind == Kind::Primary {
        cmd.arg("--primary");
    }
    cmd.stdout(out.reopen().expect("output file reopens"));
    let mut child = Running(cmd.spawn().expect("wl-paste starts"));
    let end = Instant::now() + NOTHING;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wl-paste status") {
            break status;
        }
        if Instant::now() > end {
            return None;
        }
        c.dispatch(Duration::from_millis(10))
            .expect("event loop runs");
    };
    if !status.success() {
        return None;
    }
    Some(std::fs::read_to_string(out.path()).expect("output readable"))
}

fn settle(c: &mut Compositor) {
    for _ in 0..5 {
        c.dispatch(Duration::from_millis(20))
            .expect("event loop runs");
    }
}

/// Waits until desktop `desktop` holds a window that has drawn and `ready`
/// says it is as wanted; returns it.
fn wait_for_window(
    c: &mut Compositor,
    desktop: usize,
    ready: impl Fn(&zion_compositor::state::State, &Window) -> bool,
) -> Window {
    let found = c
        .dispatch_until(WAIT, |s| {
            s.layout.desktops()[desktop]
                .windows()
                .iter()
                .any(|p| p.window.geometry().size.w > 0 && ready(s, &p.window))
        })
        .expect("event loop runs");
    assert!(found, "desktop {desktop} got no window as expected");
    settle(c);
    c.state.layout.desktops()[desktop]
        .windows()
        .iter()
        .map(|p| p.window.clone())
        .find(|w| ready(&c.state, w))
        .expect("the window is still there")
}

fn content(c: &Compositor, window: &Window) -> Rect {
    let pos = c.state.layout.position(window).expect("window is placed");
    content_rect(window, pos)
}

/// Keeps `shot` as `$CARGO_TARGET_TMPDIR/attacks/NAME.png`, for the record;
/// with `ZION_UPDATE_SCREENSHOTS=1` also as `compositor/screenshots/NAME.png`
/// for the README.
fn keep(shot: &Screenshot, name: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("attacks");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let path = dir.join(format!("{name}.png"));
    shot.write_png(&path).expect("screenshot written");
    eprintln!("screenshot: {}", path.display());
    if std::env::var_os("ZION_UPDATE_SCREENSHOTS").is_some() {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
        shot.write_png(&readme.join(format!("{name}.png")))
            .expect("screenshot written");
    }
}

/// `foot` on `socket` running `sleep 30`, with `-o` `options`, preferring
/// `csd` decorations, with `args` (`--fullscreen`).
fn foot(runtime: &Path, socket: &Path, csd: &str, options: &[String], args: &[&str]) -> Running {
    let mut cmd = client(socket, FOOT);
    cmd.env("LANG", "C.UTF-8")
        .env("HOME", runtime)
        .arg("-o")
        .arg(format!("csd.preferred={csd}"));
    for o in options {
        cmd.arg("-o").arg(o);
    }
    Running(
        cmd.args(args)
            .args(["sleep", "30"])
            .spawn()
            .expect("foot starts"),
    )
}

#[test]
fn a_sandbox_cannot_read_what_its_profile_copied() {
    if missing(&[(WL_COPY, "wl-clipboard"), (WL_PASTE, "wl-clipboard")]) {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let rt = runtime.path();
    let mut c = compositor(rt);
    let work = profile_socket(rt, "work");
    let work_domain = Domain::Profile("work".parse().expect("profile name"));
    let page = sandbox("work", "tab-1");
    let page_socket = open_sandbox(&mut c, &page);
    show(&mut c, "work");

    // The user copies a password and selects a line in a work window.
    let _secret = copy(&mut c, &work, &work_domain, "hunter2", Kind::Clipboard);
    let _line = copy(&mut c, &work, &work_domain, "selected", Kind::Primary);

    // A page that owns the renderer pastes, from the sandbox's socket.
    let stolen = paste(&mut c, &page_socket, Kind::Clipboard);
    assert_eq!(
        stolen, None,
        "the sandbox read work's clipboard: a page sees what the user copied in work"
    );
    let stolen = paste(&mut c, &page_socket, Kind::Primary);
    assert_eq!(stolen, None, "the sandbox read work's primary selection");
    assert_ne!(
        Domain::of(&page),
        work_domain,
        "a sandbox's clipboard is its own, not its profile's"
    );

    // Work itself still pastes its own.
    assert_eq!(
        paste(&mut c, &work, Kind::Clipboard).as_deref(),
        Some("hunter2")
    );
}

#[test]
fn a_sandbox_cannot_replace_its_profiles_clipboard() {
    if missing(&[(WL_COPY, "wl-clipboard"), (WL_PASTE, "wl-clipboard")]) {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let rt = runtime.path();
    let mut c = compositor(rt);
    let work = profile_socket(rt, "work");
    let work_domain = Domain::Profile("work".parse().expect("profile name"));
    let page = sandbox("work", "tab-1");
    let page_socket = open_sandbox(&mut c, &page);
    show(&mut c, "work");

    let _account = copy(
        &mut c,
        &work,
        &work_domain,
        "IBAN DE00 1234",
        Kind::Clipboard,
    );
    // The page swaps in its own account number for the user's next paste.
    let _swap = copy(
        &mut c,
        &page_socket,
        &Domain::of(&page),
        "IBAN XX66 6666",
        Kind::Clipboard,
    );
    assert_eq!(
        paste(&mut c, &work, Kind::Clipboard).as_deref(),
        Some("IBAN DE00 1234"),
        "work pastes what the page copied, not what the user copied in work"
    );
    // The page's copy is the page's own.
    assert_eq!(
        paste(&mut c, &page_socket, Kind::Clipboard).as_deref(),
        Some("IBAN XX66 6666")
    );
}

#[test]
fn a_fullscreen_window_painted_in_works_colour_still_shows_it_is_personals() {
    if missing(&[(FOOT, "foot")]) {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let rt = runtime.path();
    let mut c = compositor(rt);
    let (work, personal) = (colour("work"), colour("personal"));
    let hex = format!("{:02x}{:02x}{:02x}", work.r, work.g, work.b);
    // A personal client posing as a work window: fullscreen (no frame of
    // its own) and every pixel in work's frame colour.
    let _fake = foot(
        rt,
        &profile_socket(rt, "personal"),
        "server",
        &[
            format!("colors.background={hex}"),
            format!("colors.foreground={hex}"),
            "cursor.blink=no".to_owned(),
        ],
        &["--fullscreen"],
    );
    show(&mut c, "personal");
    let desktop = c.state.layout.index_of("personal").expect("desktop");
    let out = c.state.output_rect();
    let window = wait_for_window(&mut c, desktop, |s, w| {
        s.layout.mode(w) == Some(zion_compositor::layout::Mode::Fullscreen)
            && w.geometry().size.w == out.w
    });
    settle(&mut c);
    let shot = c.screenshot().expect("screenshot");
    keep(&shot, "fullscreen-posing-as-work");
    let inside = content(&c, &window);
    assert_eq!(
        shot.pixel(inside.x + inside.w / 2, inside.y + inside.h / 2),
        Some(rgb(work)),
        "the attacker's window does paint work's colour"
    );

    // Along the top edge, across the whole width, personal's colour shows
    // whose window this is; the right end of the strip is clear of text.
    for y in [0, 2] {
        assert_eq!(
            shot.pixel(out.w - 3, y),
            Some(rgb(personal)),
            "no personal strip at the top right ({},{y}) over a fullscreen personal window",
            out.w - 3
        );
    }
    let strip_personal = (0..out.w)
        .filter(|x| shot.pixel(*x, 1) == Some(rgb(personal)))
        .count();
    assert!(
        strip_personal as i32 > out.w / 2,
        "only {strip_personal} of {} pixels of the top row are personal's",
        out.w
    );
    // No pixel of the strip is work's colour: the client cannot reach it.
    let top = inside.y - out.y;
    assert!(top > 0, "the fullscreen window covers the top edge");
    for y in 0..top {
        for x in 0..out.w {
            assert_ne!(
                shot.pixel(x, y),
                Some(rgb(work)),
                "work's colour in the strip at {x},{y}"
            );
        }
    }
}

#[test]
fn a_sandbox_window_drawing_its_own_decorations_still_carries_the_label() {
    if missing(&[(FOOT, "foot")]) {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let rt = runtime.path();
    let mut c = compositor(rt);
    let page = sandbox("work", "tab-1");
    let page_socket = open_sandbox(&mut c, &page);
    show(&mut c, "work");
    // Like Chromium: it insists on drawing its own title bar.
    let _browser = foot(rt, &page_socket, "client", &[], &["--title=Bank login"]);
    let window = wait_for_window(&mut c, 0, |_, _| true);
    assert!(
        label_of(&window).starts_with("[work · disposable]"),
        "{}",
        label_of(&window)
    );
    let shot = c.screenshot().expect("screenshot");
    keep(&shot, "client-decorated-sandbox");
    let inside = content(&c, &window);
    let work = rgb(colour("work"));
    // The band above the window's top border, in work's colour, its right
    // end clear of text.
    let band_y = inside.y - BORDER - 6;
    assert_eq!(
        shot.pixel(inside.x + inside.w, band_y),
        Some(work),
        "no compositor label band above a client-decorated sandbox window"
    );
    // And the label's letters in it, left-aligned.
    let lettered = (inside.x..inside.x + 160)
        .flat_map(|x| (band_y - 6..band_y + 4).map(move |y| (x, y)))
        .filter(|(x, y)| shot.pixel(*x, *y).is_some_and(|p| p != work))
        .count();
    assert!(
        lettered > 40,
        "the label band has only {lettered} lettered pixels"
    );
}

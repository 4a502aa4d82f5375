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

use std::path::Path;

use smithay::desktop::Window;
use zion_compositor::clipboard::{Domain, Kind};
use zion_compositor::frame::BORDER;
use zion_compositor::layout::Rect;
use zion_compositor::render::label_of;
use zion_compositor::Screenshot;
use zion_tests::compositor::programs::{self, copy, paste, Running, FOOT, WL_COPY, WL_PASTE};
use zion_tests::compositor::{colour, keep_png, profile_name, rgb, sandbox, settle, Fixture};

/// Why a tool these attacks need is missing, printed, if it is.
fn missing(tools: &[(&str, &str)]) -> bool {
    !tools
        .iter()
        .all(|(program, package)| zion_tests::skip::installed(program, package))
}

fn content(c: &Fixture, window: &Window) -> Rect {
    c.content(window)
}

fn wait_for_window(
    c: &mut Fixture,
    desktop: usize,
    ready: impl Fn(&zion_compositor::state::State, &Window) -> bool,
) -> Window {
    c.wait_for_window(desktop, ready)
}

/// Keeps `shot` as `$CARGO_TARGET_TMPDIR/attacks/NAME.png`, for the record;
/// with `ZION_UPDATE_SCREENSHOTS=1` also as `compositor/screenshots/NAME.png`
/// for the README.
fn keep(shot: &Screenshot, name: &str) {
    keep_png(shot, env!("CARGO_TARGET_TMPDIR"), "attacks", name);
    if std::env::var_os("ZION_UPDATE_SCREENSHOTS").is_some() {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
        shot.write_png(&readme.join(format!("{name}.png")))
            .expect("screenshot written");
    }
}

/// `foot` on `socket`, kept running until dropped.
fn foot(runtime: &Path, socket: &Path, csd: &str, options: &[String], args: &[&str]) -> Running {
    let mut cmd = programs::foot(runtime, socket, csd, options, args);
    Running(cmd.spawn().expect("foot starts"))
}

#[test]
fn a_sandbox_cannot_read_what_its_profile_copied() {
    if missing(&[(WL_COPY, "wl-clipboard"), (WL_PASTE, "wl-clipboard")]) {
        return;
    }
    let mut c = Fixture::new();
    let work = c.profile_socket("work");
    let work_domain = Domain::Profile(profile_name("work"));
    let page = sandbox("work", "tab-1");
    let page_socket = c.open_sandbox(&page);
    c.show("work");

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
    let mut c = Fixture::new();
    let work = c.profile_socket("work");
    let work_domain = Domain::Profile(profile_name("work"));
    let page = sandbox("work", "tab-1");
    let page_socket = c.open_sandbox(&page);
    c.show("work");

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
    let mut c = Fixture::new();
    let rt = &c.runtime().to_path_buf();
    let (work, personal) = (colour("work"), colour("personal"));
    let hex = format!("{:02x}{:02x}{:02x}", work.r, work.g, work.b);
    // A personal client posing as a work window: fullscreen (no frame of
    // its own) and every pixel in work's frame colour.
    let personal_socket = c.profile_socket("personal");
    let _fake = foot(
        rt,
        &personal_socket,
        "server",
        &[
            format!("colors.background={hex}"),
            format!("colors.foreground={hex}"),
            "cursor.blink=no".to_owned(),
        ],
        &["--fullscreen"],
    );
    c.show("personal");
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
    let mut c = Fixture::new();
    let rt = &c.runtime().to_path_buf();
    let page = sandbox("work", "tab-1");
    let page_socket = c.open_sandbox(&page);
    c.show("work");
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

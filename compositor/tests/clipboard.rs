//! Per-profile clipboards and the transfer hotkeys, seen by real clients:
//! `wl-copy` and `wl-paste` (Debian's wl-clipboard) on the profile and host
//! sockets of an in-process headless compositor, and `weston-simple-shm` as
//! a window to paste into. (Host clients are not checked here: host
//! clipboard tools read the seat's selection through data-control, which is
//! theirs by design.)

use std::path::{Path, PathBuf};
use std::time::Instant;

use zion_compositor::clipboard::{Domain, Kind};
use zion_compositor::render::origin_of_window;
use zion_compositor::sockets::socket_path;
use zion_compositor::{Compositor, Origin};
use zion_tests::compositor::programs::{self, clipboard_tools_missing as tools_missing};
use zion_tests::compositor::programs::{command as client, Running, WL_COPY};
use zion_tests::compositor::{press_super_shift, profile_name, Fixture, WAIT};

const SIMPLE_SHM: &str = "/usr/bin/weston-simple-shm";

/// evdev KEY_C and KEY_V.
const KEY_C: u32 = 46;
const KEY_V: u32 = 47;

fn missing(program: &str, package: &str) -> bool {
    !zion_tests::skip::installed(program, package)
}

fn compositor() -> Fixture {
    Fixture::with_size((640, 480))
}

fn socket(runtime: &Path, profile: &str) -> PathBuf {
    match profile {
        "host" => socket_path(runtime, &Origin::Host),
        _ => socket_path(runtime, &Origin::Profile(profile_name(profile))),
    }
}

fn domain(profile: &str) -> Domain {
    Domain::Profile(profile_name(profile))
}

fn show(c: &mut Fixture, profile: &str) {
    c.show(profile);
}

/// `wl-copy --foreground text` on `profile`'s socket, once the compositor
/// has kept a copy of it as that profile's selection.
fn copy(c: &mut Compositor, runtime: &Path, profile: &str, text: &str, kind: Kind) -> Running {
    programs::copy(c, &socket(runtime, profile), &domain(profile), text, kind)
}

/// What `wl-paste` on `profile`'s socket prints, `None` when it is offered
/// nothing.
fn paste(c: &mut Compositor, runtime: &Path, profile: &str, kind: Kind) -> Option<String> {
    programs::paste(c, &socket(runtime, profile), kind)
}

/// The notices added since there were `before`.
fn notices_since(c: &Compositor, before: usize) -> String {
    c.state.notices[before..].join("\n")
}

#[test]
fn each_profile_pastes_its_own_clipboard_after_another_profile_copies() {
    if tools_missing() {
        return;
    }
    let mut c = compositor();
    let rt = &c.runtime().to_path_buf();

    let _a = copy(&mut c, rt, "work", "A", Kind::Clipboard);
    show(&mut c, "personal");
    let _b = copy(&mut c, rt, "personal", "B", Kind::Clipboard);
    assert_eq!(
        paste(&mut c, rt, "personal", Kind::Clipboard).as_deref(),
        Some("B")
    );

    show(&mut c, "work");
    assert_eq!(
        paste(&mut c, rt, "work", Kind::Clipboard).as_deref(),
        Some("A"),
        "work's clipboard survives personal's copy"
    );
    show(&mut c, "personal");
    assert_eq!(
        paste(&mut c, rt, "personal", Kind::Clipboard).as_deref(),
        Some("B"),
        "personal never sees work's A"
    );
    show(&mut c, "gaming");
    assert_eq!(
        paste(&mut c, rt, "gaming", Kind::Clipboard),
        None,
        "gaming copied nothing and is offered nothing"
    );
    show(&mut c, "work");
    assert_eq!(
        paste(&mut c, rt, "work", Kind::Clipboard).as_deref(),
        Some("A"),
        "work's clipboard is still A after every other client's paste"
    );
}

#[test]
fn each_profile_keeps_its_own_primary_selection() {
    if tools_missing() {
        return;
    }
    let mut c = compositor();
    let rt = &c.runtime().to_path_buf();

    let _a = copy(&mut c, rt, "work", "selected in work", Kind::Primary);
    show(&mut c, "personal");
    assert_eq!(paste(&mut c, rt, "personal", Kind::Primary), None);
    let _b = copy(
        &mut c,
        rt,
        "personal",
        "selected in personal",
        Kind::Primary,
    );
    show(&mut c, "work");
    assert_eq!(
        paste(&mut c, rt, "work", Kind::Primary).as_deref(),
        Some("selected in work")
    );
    assert_eq!(
        paste(&mut c, rt, "work", Kind::Clipboard),
        None,
        "the primary selection is not the clipboard"
    );
    show(&mut c, "personal");
    assert_eq!(
        paste(&mut c, rt, "personal", Kind::Primary).as_deref(),
        Some("selected in personal")
    );
}

#[test]
fn super_shift_c_then_v_moves_works_clipboard_into_personal_once() {
    if tools_missing() || missing(SIMPLE_SHM, "weston") {
        return;
    }
    let mut c = compositor();
    let rt = &c.runtime().to_path_buf();

    // A personal window to paste into, and personal's own clipboard "B".
    let _window = Running(
        client(&socket(rt, "personal"), SIMPLE_SHM)
            .spawn()
            .expect("weston-simple-shm starts"),
    );
    let _a = copy(&mut c, rt, "work", "A", Kind::Clipboard);
    show(&mut c, "personal");
    let _b = copy(&mut c, rt, "personal", "B", Kind::Clipboard);
    assert_eq!(
        paste(&mut c, rt, "personal", Kind::Clipboard).as_deref(),
        Some("B"),
        "no transfer yet"
    );

    // Super+Shift+C on work's desktop.
    show(&mut c, "work");
    let before = c.state.notices.len();
    press_super_shift(&mut c, KEY_C);
    let said = notices_since(&c, before);
    assert!(
        said.contains("copied work's clipboard") && said.contains("transfer slot"),
        "{said}"
    );

    // Super+Shift+V with personal's window focused.
    show(&mut c, "personal");
    let focused = c
        .dispatch_until(WAIT, |s| s.layout.focused().is_some())
        .expect("event loop runs");
    assert!(focused, "weston-simple-shm never got focus on personal");
    let before = c.state.notices.len();
    press_super_shift(&mut c, KEY_V);
    let said = notices_since(&c, before);
    assert!(
        said.contains("pasted the transfer slot")
            && said.contains("copied from work")
            && said.contains("into personal's clipboard"),
        "{said}"
    );
    assert_eq!(
        paste(&mut c, rt, "personal", Kind::Clipboard).as_deref(),
        Some("A"),
        "personal pastes what work copied after the transfer"
    );

    // Once: the slot is empty now; a second Super+Shift+V changes nothing.
    let _b2 = copy(&mut c, rt, "personal", "B again", Kind::Clipboard);
    let before = c.state.notices.len();
    press_super_shift(&mut c, KEY_V);
    let said = notices_since(&c, before);
    assert!(said.contains("transfer slot is empty"), "{said}");
    assert_eq!(
        paste(&mut c, rt, "personal", Kind::Clipboard).as_deref(),
        Some("B again"),
        "the second Super+Shift+V pasted the slot again"
    );

    // Work still has its own A; gaming never got anything.
    show(&mut c, "work");
    assert_eq!(
        paste(&mut c, rt, "work", Kind::Clipboard).as_deref(),
        Some("A")
    );
    show(&mut c, "gaming");
    assert_eq!(paste(&mut c, rt, "gaming", Kind::Clipboard), None);
}

#[test]
fn a_clipboard_over_16_mib_is_pasted_live_but_not_kept() {
    if tools_missing() {
        return;
    }
    let mut c = compositor();
    let rt = &c.runtime().to_path_buf();

    let big = "x".repeat((16 << 20) + 1);
    let input = tempfile::NamedTempFile::new().expect("input file");
    std::fs::write(input.path(), &big).expect("input written");
    let _big = Running(
        client(&socket(rt, "work"), WL_COPY)
            .args(["--foreground", "--type", "text/plain"])
            .stdin(input.reopen().expect("input reopens"))
            .spawn()
            .expect("wl-copy starts"),
    );
    let work = Origin::Profile(profile_name("work"));
    let set = c
        .dispatch_until(WAIT, |s| {
            s.selection_owners.clipboard.as_ref() == Some(&work)
        })
        .expect("event loop runs");
    assert!(set, "the large copy never became work's selection");
    let start = Instant::now();
    let pasted = paste(&mut c, rt, "work", Kind::Clipboard).expect("work pastes its own copy");
    eprintln!(
        "pasted {} bytes live in {:?}",
        pasted.len(),
        start.elapsed()
    );
    assert!(pasted == big, "work's live paste is not what it copied");
    assert!(
        !c.state
            .selection_owners
            .is_kept(&domain("work"), Kind::Clipboard),
        "more than 16 MiB was kept"
    );

    // Once another profile's selection is offered, the uncopied one is gone.
    show(&mut c, "personal");
    let _b = copy(&mut c, rt, "personal", "B", Kind::Clipboard);
    show(&mut c, "work");
    assert_eq!(paste(&mut c, rt, "work", Kind::Clipboard), None);
}

/// Focuses the window of `origin` on the shown desktop.
fn focus_window_of(c: &mut Compositor, origin: &Origin) {
    let window = c
        .state
        .layout
        .visible()
        .iter()
        .map(|p| p.window.clone())
        .find(|w| origin_of_window(w) == Some(origin))
        .expect("a window of that origin is shown");
    c.state.layout.focus(&window);
    c.state.refresh_view();
    let focused = c
        .dispatch_until(WAIT, |s| s.layout.focused() == Some(&window))
        .expect("event loop runs");
    assert!(focused, "{origin:?}'s window did not get the focus");
}

#[test]
fn a_sandboxs_clipboard_crosses_to_its_profile_only_through_the_transfer_hotkeys() {
    if tools_missing() || missing(SIMPLE_SHM, "weston") {
        return;
    }
    let mut c = compositor();
    let rt = &c.runtime().to_path_buf();
    let page = Origin::Sandbox {
        profile: "work".parse().expect("profile name"),
        instance: "tab-1".parse().expect("instance name"),
    };
    let page_socket = c
        .state
        .open_sandbox_socket(page.clone())
        .expect("sandbox socket opens");
    let work = Origin::Profile("work".parse().expect("profile name"));
    let _page_window = Running(
        client(&page_socket, SIMPLE_SHM)
            .spawn()
            .expect("weston-simple-shm starts"),
    );
    let _work_window = Running(
        client(&socket(rt, "work"), SIMPLE_SHM)
            .spawn()
            .expect("weston-simple-shm starts"),
    );
    let both = c
        .dispatch_until(WAIT, |s| s.layout.desktops()[0].windows().len() == 2)
        .expect("event loop runs");
    assert!(both, "the two windows did not open on work");

    // Sandbox to work: the page's text, copied on purpose.
    let _p = programs::copy(
        &mut c,
        &page_socket,
        &Domain::of(&page),
        "from the page",
        Kind::Clipboard,
    );
    let _w = copy(&mut c, rt, "work", "work's own", Kind::Clipboard);
    focus_window_of(&mut c, &page);
    let before = c.state.notices.len();
    press_super_shift(&mut c, KEY_C);
    let said = notices_since(&c, before);
    assert!(
        said.contains("copied work · disposable tab-1's clipboard"),
        "{said}"
    );
    focus_window_of(&mut c, &work);
    let before = c.state.notices.len();
    press_super_shift(&mut c, KEY_V);
    let said = notices_since(&c, before);
    assert!(said.contains("into work's clipboard"), "{said}");
    assert_eq!(
        paste(&mut c, rt, "work", Kind::Clipboard).as_deref(),
        Some("from the page")
    );

    // Work to the sandbox: work's clipboard, pasted into the page.
    let _w2 = copy(&mut c, rt, "work", "for the page", Kind::Clipboard);
    focus_window_of(&mut c, &work);
    press_super_shift(&mut c, KEY_C);
    focus_window_of(&mut c, &page);
    let before = c.state.notices.len();
    press_super_shift(&mut c, KEY_V);
    let said = notices_since(&c, before);
    assert!(
        said.contains("into work · disposable tab-1's clipboard"),
        "{said}"
    );
    assert_eq!(
        programs::paste(&mut c, &page_socket, Kind::Clipboard).as_deref(),
        Some("for the page")
    );

    // Closing the sandbox forgets what it held: a new one of the same name
    // pastes nothing.
    c.state
        .close_sandbox_socket(&page)
        .expect("sandbox socket closes");
    assert!(!c
        .state
        .selection_owners
        .is_kept(&Domain::of(&page), Kind::Clipboard));
    let again = c
        .state
        .open_sandbox_socket(page.clone())
        .expect("sandbox socket opens again");
    assert_eq!(programs::paste(&mut c, &again, Kind::Clipboard), None);
}

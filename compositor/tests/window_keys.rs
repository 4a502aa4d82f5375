//! Window management with the keyboard, seen by real Wayland clients: keys
//! injected through the one input path (`process_input_event`, as the
//! backends feed it), and the outcome read where a client reads it — which
//! surface has the keyboard (wl_keyboard.enter/leave), the sizes and states
//! its toplevels are configured with, and the pixels on the output.

use wayland_protocols::xdg::shell::client::xdg_toplevel::State as XdgState;
use zion_compositor::backend::injected;
use zion_compositor::input::keys;
use zion_compositor::layout::{Mode, Side};
use zion_tests::compositor::Fixture;
use zion_tests::wayland::{Client, Seen, TestWindow};

/// Each window's size (fixed by the client) and colours (XRGB).
const SIZE: (i32, i32) = (200, 100);
const RED: u32 = 0x00c0_2020;
const GREEN: u32 = 0x0020_c020;
const BLUE: u32 = 0x0020_20c0;

fn down(c: &mut Fixture, code: u32) {
    c.state.process_input_event(injected::key(code, true));
}

fn up(c: &mut Fixture, code: u32) {
    c.state.process_input_event(injected::key(code, false));
}

/// Presses and releases `key` with `mods` held, through the input path.
fn chord(c: &mut Fixture, mods: &[u32], key: u32) {
    for m in mods {
        down(c, *m);
    }
    down(c, key);
    up(c, key);
    for m in mods.iter().rev() {
        up(c, *m);
    }
}

/// A client of `profile` with the seat bound.
fn client(c: &mut Fixture, profile: &str) -> Client {
    let socket = c.profile_socket(profile);
    let mut client = c.connect(&socket);
    client.seat().expect("the client binds the seat");
    client
}

/// Opens a window of `client` on `profile`'s desktop and waits until that
/// desktop holds `count` windows.
fn open(c: &mut Fixture, client: &mut Client, profile: &str, count: usize, rgb: u32) -> TestWindow {
    let window = client
        .window(&format!("{profile} {count}"), SIZE, rgb)
        .expect("the client opens a window");
    let desktop = c.desktop(profile);
    let opened = c
        .roundtrip_until(client, |_, s| {
            s.layout.desktops()[desktop].all().count() == count
        })
        .expect("the client runs");
    assert!(opened, "window {count} of {profile} did not open");
    window
}

/// Whether `client` has the keyboard on `window`.
fn has_keyboard(seen: &Seen, window: &TestWindow) -> bool {
    seen.keyboard_focus.as_ref() == Some(&window.surface)
}

#[test]
fn alt_tab_goes_through_windows_most_recently_used_first_and_focuses_on_alt_release() {
    let mut c = Fixture::new();
    let mut app = client(&mut c, "work");
    let a = open(&mut c, &mut app, "work", 1, RED);
    let b = open(&mut c, &mut app, "work", 2, GREEN);
    let w3 = open(&mut c, &mut app, "work", 3, BLUE);
    c.wait_seen(&mut app, "the newest window has the keyboard", |s| {
        has_keyboard(s, &w3)
    });

    // Alt held, Tab twice: B, then A is chosen; the keyboard stays put.
    down(&mut c, keys::LEFT_ALT);
    chord(&mut c, &[], keys::TAB);
    c.settle_client(&mut app);
    assert!(
        has_keyboard(&app.seen, &w3),
        "focus moved before Alt was released"
    );
    chord(&mut c, &[], keys::TAB);
    c.settle_client(&mut app);
    assert!(
        has_keyboard(&app.seen, &w3),
        "focus moved before Alt was released"
    );
    up(&mut c, keys::LEFT_ALT);
    c.wait_seen(
        &mut app,
        "Alt released: the chosen window (A) has the keyboard",
        |s| has_keyboard(s, &a),
    );
    // It is drawn on top: its colour where it overlaps the others.
    let shot = c.shot();
    let rect = c.content(&c.windows(0)[2]);
    assert_eq!(
        shot.pixel(rect.x + 40, rect.y + 40),
        Some((0xc0, 0x20, 0x20)),
        "the window chosen is not on top"
    );

    // Used now: A, the third, B. One Alt+Tab goes back to the third.
    chord(&mut c, &[keys::LEFT_ALT], keys::TAB);
    c.wait_seen(&mut app, "Alt+Tab: back to the window used before", |s| {
        has_keyboard(s, &w3)
    });
    // Alt+Shift+Tab goes the other way: to the least recently used, B.
    chord(&mut c, &[keys::LEFT_ALT, keys::LEFT_SHIFT], keys::TAB);
    c.wait_seen(&mut app, "Alt+Shift+Tab: the least recently used", |s| {
        has_keyboard(s, &b)
    });
    assert!(
        !app.seen.keys.contains(&keys::TAB),
        "the Tab of Alt+Tab reached the client: {:?}",
        app.seen.keys
    );
}

#[test]
fn escape_during_alt_tab_keeps_the_focus_and_the_stacking() {
    let mut c = Fixture::new();
    let mut app = client(&mut c, "work");
    let a = open(&mut c, &mut app, "work", 1, RED);
    let b = open(&mut c, &mut app, "work", 2, GREEN);
    c.wait_seen(&mut app, "B has the keyboard", |s| has_keyboard(s, &b));
    let rect_b = c.content(&c.windows(0)[1]);
    // Where B overlaps A.
    let (x, y) = (rect_b.x + 4, rect_b.y + 4);
    assert_eq!(c.shot().pixel(x, y), Some((0x20, 0xc0, 0x20)));

    down(&mut c, keys::LEFT_ALT);
    chord(&mut c, &[], keys::TAB);
    c.settle();
    assert_eq!(
        c.shot().pixel(x, y),
        Some((0xc0, 0x20, 0x20)),
        "A is not raised while chosen"
    );
    chord(&mut c, &[], keys::ESC);
    up(&mut c, keys::LEFT_ALT);
    c.settle_client(&mut app);
    assert!(has_keyboard(&app.seen, &b), "Escape did not keep the focus");
    assert!(!has_keyboard(&app.seen, &a));
    assert_eq!(
        c.shot().pixel(x, y),
        Some((0x20, 0xc0, 0x20)),
        "the stacking changed"
    );
    assert!(
        !app.seen.keys.contains(&keys::ESC),
        "the Escape of the switch reached the client"
    );
}

#[test]
fn alt_tab_and_closing_never_give_the_focus_to_another_desktops_window() {
    let mut c = Fixture::new();
    let mut work = client(&mut c, "work");
    let mut gaming = client(&mut c, "gaming");
    let w1 = open(&mut c, &mut work, "work", 1, RED);
    let _g1 = open(&mut c, &mut gaming, "gaming", 1, GREEN);
    let w2 = open(&mut c, &mut work, "work", 2, BLUE);
    c.wait_seen(&mut work, "work's newest window has the keyboard", |s| {
        has_keyboard(s, &w2)
    });

    // Round and round work's two windows: gaming's never comes up.
    down(&mut c, keys::LEFT_ALT);
    for _ in 0..5 {
        chord(&mut c, &[], keys::TAB);
    }
    up(&mut c, keys::LEFT_ALT);
    c.wait_seen(
        &mut work,
        "five steps over two windows end on the other",
        |s| has_keyboard(s, &w1),
    );
    c.settle_client(&mut gaming);
    assert_eq!(
        gaming.seen.keyboard_enters, 0,
        "a gaming window got the keyboard"
    );

    // Closing work's focused window focuses the one used before it on
    // work, never gaming's.
    w1.toplevel.destroy();
    w1.xdg.destroy();
    w1.surface.destroy();
    c.wait_seen(&mut work, "the window used last gets the keyboard", |s| {
        has_keyboard(s, &w2)
    });
    c.settle_client(&mut gaming);
    assert_eq!(
        gaming.seen.keyboard_enters, 0,
        "a gaming window got the keyboard"
    );
    assert_eq!(c.state.layout.active(), c.desktop("work"));
}

#[test]
fn closing_a_window_focuses_the_one_used_last_never_a_minimized_one() {
    let mut c = Fixture::new();
    let mut app = client(&mut c, "work");
    let a = open(&mut c, &mut app, "work", 1, RED);
    let b = open(&mut c, &mut app, "work", 2, GREEN);
    let w3 = open(&mut c, &mut app, "work", 3, BLUE);
    // Used: B (Alt+Tab), the third, A.
    chord(&mut c, &[keys::LEFT_ALT], keys::TAB);
    c.wait_seen(&mut app, "B has the keyboard", |s| has_keyboard(s, &b));
    b.toplevel.destroy();
    b.xdg.destroy();
    b.surface.destroy();
    c.wait_seen(&mut app, "closing B focuses the third", |s| {
        has_keyboard(s, &w3)
    });
    // The third minimized: A has the keyboard; closing A leaves nothing
    // focused rather than bringing the minimized window back.
    chord(&mut c, &[keys::LEFT_META], keys::M);
    c.wait_seen(&mut app, "A has the keyboard", |s| has_keyboard(s, &a));
    a.toplevel.destroy();
    a.xdg.destroy();
    a.surface.destroy();
    let closed = c
        .roundtrip_until(&mut app, |_, s| s.layout.desktops()[0].windows().is_empty())
        .expect("the client runs");
    assert!(closed, "A did not close");
    c.settle_client(&mut app);
    assert!(
        !has_keyboard(&app.seen, &w3),
        "the minimized window got the keyboard"
    );
    assert!(c.state.layout.focused().is_none());
    chord(&mut c, &[keys::LEFT_META, keys::LEFT_SHIFT], keys::M);
    c.wait_seen(&mut app, "Super+Shift+M brings the third back", |s| {
        has_keyboard(s, &w3)
    });
}

#[test]
fn super_arrows_snap_to_halves_and_maximize_and_the_client_is_told() {
    let mut c = Fixture::new();
    let mut app = client(&mut c, "work");
    let win = open(&mut c, &mut app, "work", 1, RED);
    let window = c.windows(0)[0].clone();
    let start = c.state.layout.position(&window).expect("placed");
    let usable = c.state.usable_rect();

    chord(&mut c, &[keys::LEFT_META], keys::LEFT);
    let left = c
        .state
        .placement_area(&window, Mode::Snapped(Side::Left))
        .expect("an area");
    c.wait_seen(&mut app, "configured to the left half", |s| {
        s.last_configure(&win.toplevel)
            .is_some_and(|k| k.size == (left.w, left.h))
    });
    assert!(
        left.x < usable.x + 10 && left.w < usable.w / 2 + 1,
        "{left:?}"
    );
    assert_eq!(c.state.layout.position(&window), Some((left.x, left.y)));

    chord(&mut c, &[keys::LEFT_META], keys::RIGHT);
    let right = c
        .state
        .placement_area(&window, Mode::Snapped(Side::Right))
        .expect("an area");
    c.wait_seen(&mut app, "configured to the right half", |s| {
        s.last_configure(&win.toplevel)
            .is_some_and(|k| k.size == (right.w, right.h))
    });
    assert!(right.x >= usable.x + usable.w / 2, "{right:?}");
    assert_eq!(c.state.layout.position(&window), Some((right.x, right.y)));

    // Again: back where it was, at its own size, tiled no more.
    chord(&mut c, &[keys::LEFT_META], keys::RIGHT);
    c.wait_seen(&mut app, "back to its own size", |s| {
        s.last_configure(&win.toplevel)
            .is_some_and(|k| k.size == SIZE)
    });
    assert_eq!(c.state.layout.position(&window), Some(start));

    chord(&mut c, &[keys::LEFT_META], keys::UP);
    let max = c
        .state
        .placement_area(&window, Mode::Maximized)
        .expect("an area");
    c.wait_seen(&mut app, "maximized", |s| {
        s.last_configure(&win.toplevel)
            .is_some_and(|k| k.size == (max.w, max.h) && k.states.contains(&XdgState::Maximized))
    });
    chord(&mut c, &[keys::LEFT_META], keys::UP);
    c.wait_seen(&mut app, "Super+Up again: back", |s| {
        s.last_configure(&win.toplevel)
            .is_some_and(|k| k.size == SIZE && !k.states.contains(&XdgState::Maximized))
    });
    assert_eq!(c.state.layout.position(&window), Some(start));
    assert_eq!(c.state.layout.mode(&window), Some(Mode::Normal));
}

#[test]
fn super_m_hides_the_focused_window_and_super_shift_m_brings_it_back() {
    let mut c = Fixture::new();
    let mut app = client(&mut c, "work");
    let a = open(&mut c, &mut app, "work", 1, RED);
    let b = open(&mut c, &mut app, "work", 2, GREEN);
    c.wait_seen(&mut app, "B has the keyboard", |s| has_keyboard(s, &b));
    let window_b = c.windows(0)[1].clone();
    let rect = c.content(&window_b);
    // B's bottom-right corner lies outside A (cascaded up and left of it).
    let (x, y) = (rect.x + rect.w - 4, rect.y + rect.h - 4);
    assert_eq!(
        c.shot().pixel(x, y),
        Some((0x20, 0xc0, 0x20)),
        "B is not drawn"
    );

    chord(&mut c, &[keys::LEFT_META], keys::M);
    c.wait_seen(&mut app, "Super+M: A has the keyboard", |s| {
        has_keyboard(s, &a)
    });
    assert!(
        app.seen
            .last_configure(&b.toplevel)
            .is_some_and(|k| !k.states.contains(&XdgState::Activated)),
        "B is still told it is active: {:?}",
        app.seen.last_configure(&b.toplevel)
    );
    assert_ne!(
        c.shot().pixel(x, y),
        Some((0x20, 0xc0, 0x20)),
        "B is still drawn"
    );

    chord(&mut c, &[keys::LEFT_META, keys::LEFT_SHIFT], keys::M);
    c.wait_seen(&mut app, "Super+Shift+M: B has the keyboard again", |s| {
        has_keyboard(s, &b)
    });
    c.settle();
    assert_eq!(
        c.shot().pixel(x, y),
        Some((0x20, 0xc0, 0x20)),
        "B is not drawn again"
    );
}

#[test]
fn super_shift_m_brings_back_only_the_shown_desktops_windows() {
    let mut c = Fixture::new();
    let mut work = client(&mut c, "work");
    let mut gaming = client(&mut c, "gaming");
    let w = open(&mut c, &mut work, "work", 1, RED);
    c.show("gaming");
    let g = open(&mut c, &mut gaming, "gaming", 1, GREEN);
    c.wait_seen(&mut gaming, "the gaming window has the keyboard", |s| {
        has_keyboard(s, &g)
    });
    chord(&mut c, &[keys::LEFT_META], keys::M);
    c.wait_seen(&mut gaming, "minimized: no keyboard", |s| {
        s.keyboard_focus.is_none()
    });
    c.show("work");
    c.wait_seen(&mut work, "work's window has the keyboard", |s| {
        has_keyboard(s, &w)
    });
    let enters = gaming.seen.keyboard_enters;
    chord(&mut c, &[keys::LEFT_META, keys::LEFT_SHIFT], keys::M);
    c.settle_client(&mut gaming);
    c.settle_client(&mut work);
    assert_eq!(
        gaming.seen.keyboard_enters, enters,
        "gaming's window came back on work"
    );
    assert!(has_keyboard(&work.seen, &w));
    assert_eq!(c.state.layout.active(), c.desktop("work"));
    // On gaming, it comes back.
    c.show("gaming");
    chord(&mut c, &[keys::LEFT_META, keys::LEFT_SHIFT], keys::M);
    c.wait_seen(&mut gaming, "back on its own desktop", |s| {
        has_keyboard(s, &g)
    });
}

//! keyboard-shortcuts-inhibit with a real client: a profile's window that
//! inhibits shortcuts gets the keys of Zion's ordinary hotkeys (a remote
//! desktop needs them), but never those of the chords that keep the user in
//! charge — switching desktops, locking, the transfer — which still act and
//! never reach it. Keys go through the one input path.

use zion_compositor::backend::injected;
use zion_compositor::input::keys;
use zion_config::Config;
use zion_tests::compositor::{Fixture, Setup};
use zion_tests::wayland::{Client, TestWindow};

/// C and L (evdev).
const KEY_C: u32 = 46;
const KEY_L: u32 = 38;

fn chord(c: &mut Fixture, mods: &[u32], key: u32) {
    for m in mods {
        c.state.process_input_event(injected::key(*m, true));
    }
    c.state.process_input_event(injected::key(key, true));
    c.state.process_input_event(injected::key(key, false));
    for m in mods.iter().rev() {
        c.state.process_input_event(injected::key(*m, false));
    }
}

/// A work client with two windows (the second has the keyboard), whose
/// second window inhibits shortcuts, granted.
fn inhibiting_work_client(c: &mut Fixture) -> (Client, TestWindow, TestWindow) {
    let socket = c.profile_socket("work");
    let mut app = c.connect(&socket);
    app.seat().expect("the client binds the seat");
    let first = app
        .window("first", (200, 100), 0x0080_8080)
        .expect("a window");
    let second = app
        .window("second", (200, 100), 0x0040_4040)
        .expect("a window");
    c.wait_seen(&mut app, "the second window has the keyboard", |s| {
        s.keyboard_focus.as_ref() == Some(&second.surface)
    });
    app.inhibit_shortcuts(&second.surface)
        .expect("the inhibit manager is offered to profiles");
    c.wait_seen(&mut app, "the inhibitor is granted", |s| {
        s.shortcuts_inhibited == Some(true)
    });
    (app, first, second)
}

#[test]
fn an_inhibiting_client_gets_ordinary_hotkeys_but_never_the_desktop_switch_or_transfer() {
    let mut c = Fixture::new();
    let (mut app, first, second) = inhibiting_work_client(&mut c);

    // Ordinary hotkeys are the client's: Super+W does not close it and
    // Alt+Tab does not switch windows; the keys arrive.
    chord(&mut c, &[keys::LEFT_META], keys::W);
    chord(&mut c, &[keys::LEFT_ALT], keys::TAB);
    c.wait_seen(&mut app, "W and Tab reach the client", |s| {
        s.keys.contains(&keys::W) && s.keys.contains(&keys::TAB)
    });
    assert_eq!(c.windows(0).len(), 2, "Super+W closed a window");
    assert_eq!(app.seen.keyboard_focus.as_ref(), Some(&second.surface));

    // The transfer chord is Zion's: its C never reaches the client.
    chord(&mut c, &[keys::LEFT_META, keys::LEFT_SHIFT], KEY_C);
    c.settle_client(&mut app);
    assert!(
        !app.seen.keys.contains(&KEY_C),
        "Super+Shift+C was swallowed"
    );

    // Super+2 shows gaming whatever the client wants: it loses the
    // keyboard, its inhibitor goes inactive, the 2 never reaches it.
    chord(&mut c, &[keys::LEFT_META], keys::DIGIT_1 + 1);
    c.wait_seen(&mut app, "the keyboard leaves the client", |s| {
        s.keyboard_focus.is_none() && s.shortcuts_inhibited == Some(false)
    });
    assert_eq!(c.state.layout.active(), c.desktop("gaming"));
    assert!(
        !app.seen.keys.contains(&(keys::DIGIT_1 + 1)),
        "Super+2 was swallowed"
    );

    // Back on work the inhibitor is active again; Super+Tab (next desktop)
    // still works.
    chord(&mut c, &[keys::LEFT_META], keys::DIGIT_1);
    c.wait_seen(&mut app, "back: the inhibitor is active again", |s| {
        s.keyboard_focus.as_ref() == Some(&second.surface) && s.shortcuts_inhibited == Some(true)
    });
    chord(&mut c, &[keys::LEFT_META, keys::LEFT_SHIFT], keys::TAB);
    c.wait_seen(&mut app, "Super+Shift+Tab leaves work", |s| {
        s.keyboard_focus.is_none()
    });
    assert_ne!(c.state.layout.active(), c.desktop("work"));
    let _ = first;
}

#[test]
fn an_inhibitor_on_a_window_without_the_keyboard_inhibits_nothing() {
    let mut c = Fixture::new();
    let (mut app, first, _second) = inhibiting_work_client(&mut c);
    // Alt+Tab is the client's while the inhibiting window has the keyboard:
    // with the other one focused, Alt+Tab is Zion's again.
    // Stacked bottom to top: the first window is at the bottom.
    let window = c.windows(0)[0].clone();
    c.state.layout.focus(&window);
    c.state.refresh_view();
    c.wait_seen(&mut app, "the first window has the keyboard", |s| {
        s.keyboard_focus.as_ref() == Some(&first.surface) && s.shortcuts_inhibited == Some(false)
    });
    chord(&mut c, &[keys::LEFT_ALT], keys::TAB);
    c.wait_seen(&mut app, "Alt+Tab switches to the second window", |s| {
        s.keyboard_focus.as_ref() != Some(&first.surface) && s.keyboard_focus.is_some()
    });
    assert!(
        !app.seen.keys.contains(&keys::TAB),
        "the Tab of a hotkey reached the client: {:?}",
        app.seen.keys
    );
}

#[test]
fn an_inhibiting_profile_client_cannot_swallow_the_lock_chord() {
    if !zion_tests::skip::installed("swaylock", "swaylock") {
        return;
    }
    let mut config = Config::defaults();
    config.session.locker = vec!["swaylock".into(), "-c".into(), "000000".into()];
    let mut c = Fixture::start(Setup {
        config,
        ..Setup::default()
    });
    let (mut app, _first, _second) = inhibiting_work_client(&mut c);
    chord(&mut c, &[keys::LEFT_META], KEY_L);
    let locked = c
        .dispatch_until(zion_tests::compositor::WAIT, |s| s.lock.is_locked())
        .expect("event loop runs");
    assert!(
        locked,
        "Super+L did not lock while a client inhibits shortcuts"
    );
    c.wait_seen(&mut app, "the keyboard leaves the client", |s| {
        s.keyboard_focus.is_none()
    });
    assert!(
        !app.seen.keys.contains(&KEY_L),
        "Super+L reached the client"
    );
}

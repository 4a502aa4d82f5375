//! The session lock, with real clients on the real compositor: a small
//! ext-session-lock client on the host socket (and real swaylock), and a
//! profile's window client that must get nothing while the session is
//! locked.

use std::time::Duration;

use zion_compositor::backend::injected;
use zion_compositor::input::keys;
use zion_compositor::{Origin, Screenshot};
use zion_config::Config;
use zion_tests::compositor::{Fixture, Setup};
use zion_tests::wayland::{Client, Seen};

const WAIT: Duration = Duration::from_secs(10);
/// The A key (evdev).
const KEY_A: u32 = 30;
/// L (evdev).
const KEY_L: u32 = 38;
/// The profile window's size.
const WINDOW: (i32, i32) = (200, 100);
/// The profile window's colour (XRGB).
const WINDOW_RGB: u32 = 0x0080_8080;
/// The lock client's colour (XRGB): pure blue.
const LOCK_RGB: u32 = 0x0000_00ff;

fn compositor() -> Fixture {
    Fixture::with_size((320, 240))
}

/// The interface names `seen` lists.
fn names(seen: &Seen) -> Vec<String> {
    seen.globals.iter().map(|(_, i, _)| i.clone()).collect()
}

/// Types `code` (press and release) through the one input path.
fn type_key(c: &mut Fixture, code: u32) {
    c.state.process_input_event(injected::key(code, true));
    c.state.process_input_event(injected::key(code, false));
}

/// Whether every pixel of `shot` is `rgb`.
fn all_pixels(shot: &Screenshot, rgb: [u8; 3]) -> Result<(), String> {
    match shot.rgba.chunks_exact(4).position(|px| px[..3] != rgb) {
        None => Ok(()),
        Some(i) => {
            let (x, y) = (i as u32 % shot.width, i as u32 / shot.width);
            let px = &shot.rgba[i * 4..i * 4 + 3];
            Err(format!("pixel ({x}, {y}) is {px:?}, not {rgb:?}"))
        }
    }
}

/// Waits until the output shows only `rgb` (a client draws in its own
/// time); the last difference if it never does.
fn shows_only(c: &mut Fixture, rgb: [u8; 3]) -> Result<(), String> {
    let end = std::time::Instant::now() + WAIT;
    loop {
        let shot = c.shot();
        match all_pixels(&shot, rgb) {
            Ok(()) => return Ok(()),
            Err(e) if std::time::Instant::now() >= end => return Err(e),
            Err(_) => c
                .dispatch(Duration::from_millis(20))
                .expect("event loop runs"),
        }
    }
}

/// The lock colour as drawn (f32 → u8).
fn lock_colour() -> [u8; 3] {
    let c = zion_compositor::lock::LOCK_COLOUR;
    [
        (c[0] * 255.0).round() as u8,
        (c[1] * 255.0).round() as u8,
        (c[2] * 255.0).round() as u8,
    ]
}

/// After the locker went: the session is still locked (else fails with
/// `unlocked`) and the output shows the plain lock colour (else fails with
/// `colour`).
fn stays_locked(c: &mut Fixture, unlocked: &str, colour: &str) {
    c.settle();
    assert!(c.state.lock.is_locked(), "{unlocked}");
    let shot = c.shot();
    if let Err(e) = all_pixels(&shot, lock_colour()) {
        panic!("{colour}: {e:?}");
    }
}

/// The shown desktop's profile and a client on its socket with a mapped,
/// focused window (its keyboard and pointer recorded).
fn profile_window(c: &mut Fixture) -> (String, Client) {
    let profile = c.state.layout.active_desktop().name.clone();
    let socket = c.profile_socket(&profile);
    let mut app = c.connect(&socket);
    app.seat().expect("the profile's client binds the seat");
    app.window("profile app", WINDOW, WINDOW_RGB)
        .expect("the profile's client opens a window");
    let mapped = c
        .roundtrip_until(&mut app, |_, s| !s.layout.visible().is_empty())
        .expect("the profile's client runs");
    assert!(mapped, "the profile's window did not open: {:?}", app.seen);
    c.wait_seen(&mut app, "the window gets the keyboard", |s| {
        s.keyboard_enters > 0
    });
    (profile, app)
}

#[test]
fn the_lock_manager_is_offered_to_host_clients_only() {
    let mut c = compositor();
    const GLOBAL: &str = "ext_session_lock_manager_v1";
    let host_socket = c.host_socket();
    let mut host = c.connect(&host_socket);
    c.wait_seen(&mut host, "host globals", |s| !s.globals.is_empty());
    assert!(names(&host.seen).iter().any(|g| g == GLOBAL));
    for profile in ["work", "personal", "gaming"] {
        let socket = c.profile_socket(profile);
        let mut client = c.connect(&socket);
        c.wait_seen(&mut client, "profile globals", |s| !s.globals.is_empty());
        let globals = names(&client.seen);
        assert!(globals.iter().any(|g| g == "wl_seat"), "{globals:?}");
        assert!(
            !globals.iter().any(|g| g == GLOBAL),
            "{profile} sees the lock manager: {globals:?}"
        );
    }
    // Attack: a profile client binding the manager by guessing its name
    // fails, as the global is absent from its registry (the lock client
    // stops with the bind error).
    let socket = c.profile_socket("work");
    let mut attacker = c.connect(&socket);
    let error = attacker
        .lock(LOCK_RGB)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("ext_session_lock_manager_v1"),
        "unexpected error: {error}"
    );
    assert!(!c.state.lock.is_locked());
}

#[test]
fn a_locked_session_gives_profiles_nothing_until_the_lock_unlocks() {
    let mut c = compositor();
    let (profile, mut app) = profile_window(&mut c);
    // Unlocked, the profile's window gets the keys typed, and the pointer
    // and a scroll over it.
    type_key(&mut c, KEY_A);
    c.wait_seen(&mut app, "a key before locking", |s| s.keys == [KEY_A]);
    let rect = {
        let placed = &c.state.layout.visible()[0];
        zion_compositor::render::content_rect(&placed.window, placed.pos)
    };
    let (x, y) = (
        f64::from(rect.x + rect.w / 2),
        f64::from(rect.y + rect.h / 2),
    );
    c.state.process_input_event(injected::place(x, y));
    c.state
        .process_input_event(injected::scroll(injected::Scroll::wheel(1.0)));
    c.wait_seen(&mut app, "pointer and scroll before locking", |s| {
        s.pointer_enters == 1 && s.axis.len() == 1
    });

    let host = c.host_socket();
    let mut locker = c.connect(&host);
    let lock = locker.lock(LOCK_RGB).expect("the lock client asks to lock");
    c.wait_seen(&mut locker, "locked", |s| s.locked);
    assert!(c.state.lock.is_locked());
    c.wait_seen(&mut locker, "the lock surface is drawn", |s| {
        s.lock_surfaces_drawn > 0
    });
    c.settle();

    // Attack: the profile's client keeps reading keys and sets the
    // clipboard while locked. It gets no key, and its selection is refused
    // (it has no keyboard focus).
    type_key(&mut c, KEY_A);
    type_key(&mut c, keys::ENTER);
    c.settle_client(&mut app);
    app.set_selection()
        .expect("the profile's client has a data device");
    c.state
        .process_input_event(injected::place(x + 1.0, y + 1.0));
    c.state
        .process_input_event(injected::scroll(injected::Scroll::wheel(1.0)));
    c.state
        .process_input_event(injected::button(zion_compositor::input::BTN_LEFT, true));
    c.state
        .process_input_event(injected::button(zion_compositor::input::BTN_LEFT, false));
    c.settle_client(&mut app);
    let seen = &app.seen;
    assert_eq!(seen.keys, [KEY_A], "keys reached the profile while locked");
    assert_eq!(
        seen.axis.len(),
        1,
        "a scroll reached the profile while locked"
    );
    assert_eq!(seen.pointer_leaves, 1, "the pointer stayed on the profile");
    assert!(
        seen.keyboard_leaves > 0,
        "the keyboard stayed with the profile"
    );
    assert_ne!(
        c.state.selection_owners.clipboard,
        Some(Origin::Profile(profile.parse().expect("profile name"))),
        "a profile set the clipboard while locked"
    );
    // Hotkeys do nothing either: Super+Tab does not switch desktops.
    let shown = c.state.layout.active();
    c.state
        .process_input_event(injected::key(keys::LEFT_META, true));
    type_key(&mut c, keys::TAB);
    c.state
        .process_input_event(injected::key(keys::LEFT_META, false));
    assert_eq!(
        c.state.layout.active(),
        shown,
        "a hotkey worked while locked"
    );

    // Only the lock surface is drawn: every pixel is its blue.
    shows_only(&mut c, [0, 0, 0xff]).expect("only the lock surface is shown");

    // A second locker is refused while the first lives.
    let mut second = c.connect(&host);
    let second_lock = second.lock(LOCK_RGB).expect("the second lock client asks");
    c.wait_seen(&mut second, "the second lock is refused", |s| s.finished);
    assert!(!second.seen.locked);
    // Attack: the refused lock asks to unlock. It is not the lock holding
    // the session: the compositor stops it with a protocol error and the
    // session stays locked.
    second_lock.unlock_and_destroy();
    let stopped = c.roundtrip(&mut second).err();
    assert!(
        stopped.is_some() && second.protocol_error().is_some(),
        "the refused lock's unlock is an error: {stopped:?}, {:?}",
        second.seen
    );
    c.settle();
    assert!(
        c.state.lock.is_locked(),
        "a lock that does not hold the session unlocked it"
    );
    drop(second);

    // The locker dies without unlocking: still locked, the plain lock
    // colour on the whole output, and still no keys for the profile.
    drop(lock);
    locker.hang_up();
    stays_locked(
        &mut c,
        "a dead locker unlocked the session",
        "the plain lock colour after the locker died",
    );
    type_key(&mut c, KEY_A);
    c.settle_client(&mut app);
    assert_eq!(
        app.seen.keys,
        [KEY_A],
        "keys reached the profile after the locker died"
    );

    // A new locker takes over, and unlocks: input goes back to the profile.
    let mut new = c.connect(&host);
    let new_lock = new.lock(LOCK_RGB).expect("the new lock client asks");
    c.wait_seen(&mut new, "the new lock takes over", |s| s.locked);
    new_lock.unlock_and_destroy();
    new.flush().expect("the unlock is sent");
    let unlocked = c
        .dispatch_until(WAIT, |s| !s.lock.is_locked())
        .expect("event loop runs");
    assert!(unlocked, "unlock_and_destroy did not unlock");
    c.wait_seen(&mut app, "the keyboard comes back", |s| {
        s.keyboard_enters >= 2
    });
    type_key(&mut c, KEY_A);
    c.wait_seen(&mut app, "a key after unlocking", |s| {
        s.keys == [KEY_A, KEY_A]
    });
    let shot = c.shot();
    assert!(
        all_pixels(&shot, lock_colour()).is_err(),
        "still the lock colour after unlocking"
    );
}

#[test]
fn super_l_locks_with_real_swaylock_and_killing_it_leaves_the_session_locked() {
    if !zion_tests::skip::installed("swaylock", "swaylock") {
        return;
    }
    let mut c = compositor();
    let (_profile, mut app) = profile_window(&mut c);

    // Super+L through the one input path starts the session's locker
    // (swaylock -f -c 000000) on the host socket.
    c.state
        .process_input_event(injected::key(keys::LEFT_META, true));
    type_key(&mut c, KEY_L);
    c.state
        .process_input_event(injected::key(keys::LEFT_META, false));
    let locked = c
        .dispatch_until(WAIT, |s| s.lock.is_locked())
        .expect("event loop runs");
    assert!(locked, "Super+L did not lock (is swaylock on PATH?)");
    c.wait_seen(&mut app, "the keyboard leaves the profile", |s| {
        s.keyboard_leaves > 0
    });
    // swaylock draws its black colour on the whole output.
    shows_only(&mut c, [0, 0, 0]).expect("only swaylock's black is shown");
    // (Super itself went to the profile before the lock: not a hotkey.)
    let before = app.seen.keys.clone();
    type_key(&mut c, KEY_A);
    c.settle_client(&mut app);
    assert_eq!(app.seen.keys, before, "a key reached the profile");
    drop(app);
    drop(c);

    // A swaylock the test started itself, killed: the session stays locked.
    let mut c = compositor();
    let host = c.host_socket();
    let swaylock = c.spawn(&host, "swaylock", &["-c", "000000"]);
    let locked = c
        .dispatch_until(WAIT, |s| s.lock.is_locked())
        .expect("event loop runs");
    assert!(locked, "swaylock did not lock");
    c.kill(swaylock);
    stays_locked(
        &mut c,
        "killing swaylock unlocked the session",
        "the plain lock colour after swaylock died",
    );
}

/// `Compositor1.Lock` on a real private bus starts the configured locker
/// (`[session] locker`, real swaylock here) on the host socket.
#[test]
fn compositor1_lock_starts_the_configured_locker() {
    if !zion_tests::skip::installed("/usr/bin/dbus-daemon", "dbus")
        || !zion_tests::skip::installed("swaylock", "swaylock")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let bus = zion_tests::DbusBus::start(dir.path()).expect("private dbus-daemon starts");
    let mut config = Config::defaults();
    config.session.locker = vec!["swaylock".into(), "-c".into(), "000000".into()];
    let mut c = Fixture::start(Setup {
        config,
        size: (320, 240),
        ..Setup::default()
    });
    c.serve_bus(bus.address()).expect("Compositor1 served");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let address = bus.address().to_owned();
    // The call is answered by the event loop this thread runs: make it on
    // the runtime's thread meanwhile.
    let call = rt.spawn(async move {
        let conn = zbus::connection::Builder::address(address.as_str())?
            .build()
            .await?;
        let proxy = zion_bus::Compositor1Proxy::new(&conn).await?;
        proxy.lock().await
    });
    let locked = c
        .dispatch_until(WAIT, |s| s.lock.is_locked())
        .expect("event loop runs");
    assert!(locked, "Compositor1.Lock did not lock");
    let answer = rt.block_on(call).expect("the call's task");
    assert!(answer.is_ok(), "Lock answered {answer:?}");
    shows_only(&mut c, [0, 0, 0]).expect("only swaylock's black is shown");
}

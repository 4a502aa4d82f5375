//! The session lock, with real clients on the real compositor: a small
//! ext-session-lock client on the host socket (and real swaylock), and a
//! profile's window client that must get nothing while the session is
//! locked.

mod lock_clients;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lock_clients::{Handle, Seen};
use zion_compositor::backend::injected;
use zion_compositor::input::keys;
use zion_compositor::{BackendKind, Compositor, Options, Origin, Screenshot};
use zion_profiles::config::Config;

const WAIT: Duration = Duration::from_secs(10);
/// The A key (evdev).
const KEY_A: u32 = 30;
/// L (evdev).
const KEY_L: u32 = 38;

fn compositor(runtime: &Path) -> Compositor {
    let options = Options {
        backend: BackendKind::Headless,
        size: (320, 240),
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

/// Dispatches until `client` has seen what `done` asks for.
fn wait_for(c: &mut Compositor, client: &Handle, what: &str, done: impl Fn(&Seen) -> bool) {
    let ok = c
        .dispatch_until(WAIT, |_| {
            let seen = client.seen();
            done(&seen) || seen.error.is_some()
        })
        .expect("event loop runs");
    let seen = client.seen();
    assert!(ok && done(&seen), "{what}: {seen:?}");
}

/// Types `code` (press and release) through the one input path.
fn type_key(c: &mut Compositor, code: u32) {
    c.state.process_input_event(injected::key(code, true));
    c.state.process_input_event(injected::key(code, false));
}

/// Lets a few rounds of events pass (for things that must NOT arrive).
fn settle(c: &mut Compositor) {
    let _ = c.dispatch_until(Duration::from_millis(300), |_| false);
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
fn shows_only(c: &mut Compositor, rgb: [u8; 3]) -> Result<(), String> {
    let end = std::time::Instant::now() + WAIT;
    loop {
        let shot = c.screenshot().expect("screenshot");
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

/// The shown desktop's profile and a mapped, focused window of it.
fn profile_window(c: &mut Compositor, runtime: &Path) -> (String, Handle) {
    let profile = c.state.layout.active_desktop().name.clone();
    let app = lock_clients::window(profile_socket(runtime, &profile));
    let mapped = c
        .dispatch_until(WAIT, |s| !s.layout.visible().is_empty())
        .expect("event loop runs");
    assert!(
        mapped,
        "the profile's window did not open: {:?}",
        app.seen()
    );
    wait_for(c, &app, "the window gets the keyboard", |s| {
        s.keyboard_enters > 0
    });
    (profile, app)
}

#[test]
fn the_lock_manager_is_offered_to_host_clients_only() {
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    const GLOBAL: &str = "ext_session_lock_manager_v1";
    let host = lock_clients::registry(host_socket(runtime.path()));
    wait_for(&mut c, &host, "host globals", |s| !s.globals.is_empty());
    assert!(host.seen().globals.iter().any(|g| g == GLOBAL));
    for profile in ["work", "personal", "gaming"] {
        let client = lock_clients::registry(profile_socket(runtime.path(), profile));
        wait_for(&mut c, &client, "profile globals", |s| {
            !s.globals.is_empty()
        });
        let globals = client.seen().globals;
        assert!(globals.iter().any(|g| g == "wl_seat"), "{globals:?}");
        assert!(
            !globals.iter().any(|g| g == GLOBAL),
            "{profile} sees the lock manager: {globals:?}"
        );
    }
    // Attack: a profile client binding the manager by guessing its name
    // fails, as the global is absent from its registry (the lock client
    // stops with the bind error).
    let attacker = lock_clients::lock(profile_socket(runtime.path(), "work"));
    wait_for(&mut c, &attacker, "the bind fails", |s| s.error.is_some());
    let error = attacker.seen().error.unwrap_or_default();
    assert!(
        error.contains("ext_session_lock_manager_v1"),
        "unexpected error: {error}"
    );
    assert!(!c.state.lock.is_locked());
}

#[test]
fn a_locked_session_gives_profiles_nothing_until_the_lock_unlocks() {
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let (profile, app) = profile_window(&mut c, runtime.path());
    // Unlocked, the profile's window gets the keys typed, and the pointer
    // and a scroll over it.
    type_key(&mut c, KEY_A);
    wait_for(&mut c, &app, "a key before locking", |s| s.keys == [KEY_A]);
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
    wait_for(&mut c, &app, "pointer and scroll before locking", |s| {
        s.pointer_enters == 1 && s.axis.len() == 1
    });

    let locker = lock_clients::lock(host_socket(runtime.path()));
    wait_for(&mut c, &locker, "locked", |s| s.locked);
    assert!(c.state.lock.is_locked());
    wait_for(&mut c, &locker, "the lock surface is drawn", |s| {
        s.lock_surfaces_drawn > 0
    });
    settle(&mut c);

    // Attack: the profile's client keeps reading keys and sets the
    // clipboard while locked. It gets no key, and its selection is refused
    // (it has no keyboard focus).
    type_key(&mut c, KEY_A);
    type_key(&mut c, keys::ENTER);
    app.set_selection();
    c.state
        .process_input_event(injected::place(x + 1.0, y + 1.0));
    c.state
        .process_input_event(injected::scroll(injected::Scroll::wheel(1.0)));
    c.state
        .process_input_event(injected::button(zion_compositor::input::BTN_LEFT, true));
    c.state
        .process_input_event(injected::button(zion_compositor::input::BTN_LEFT, false));
    settle(&mut c);
    let seen = app.seen();
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
    let second = lock_clients::lock(host_socket(runtime.path()));
    wait_for(&mut c, &second, "the second lock is refused", |s| {
        s.finished
    });
    assert!(!second.seen().locked);
    // Attack: the refused lock asks to unlock. It is not the lock holding
    // the session: the compositor stops it with a protocol error and the
    // session stays locked.
    second.unlock();
    wait_for(
        &mut c,
        &second,
        "the refused lock's unlock is an error",
        |s| s.error.is_some(),
    );
    settle(&mut c);
    assert!(
        c.state.lock.is_locked(),
        "a lock that does not hold the session unlocked it"
    );
    drop(second);

    // The locker dies without unlocking: still locked, the plain lock
    // colour on the whole output, and still no keys for the profile.
    locker.kill();
    settle(&mut c);
    assert!(
        c.state.lock.is_locked(),
        "a dead locker unlocked the session"
    );
    let shot = c.screenshot().expect("screenshot");
    all_pixels(&shot, lock_colour()).expect("the plain lock colour after the locker died");
    type_key(&mut c, KEY_A);
    settle(&mut c);
    assert_eq!(
        app.seen().keys,
        [KEY_A],
        "keys reached the profile after the locker died"
    );

    // A new locker takes over, and unlocks: input goes back to the profile.
    let new = lock_clients::lock(host_socket(runtime.path()));
    wait_for(&mut c, &new, "the new lock takes over", |s| s.locked);
    new.unlock();
    let unlocked = c
        .dispatch_until(WAIT, |s| !s.lock.is_locked())
        .expect("event loop runs");
    assert!(unlocked, "unlock_and_destroy did not unlock");
    wait_for(&mut c, &app, "the keyboard comes back", |s| {
        s.keyboard_enters >= 2
    });
    type_key(&mut c, KEY_A);
    wait_for(&mut c, &app, "a key after unlocking", |s| {
        s.keys == [KEY_A, KEY_A]
    });
    let shot = c.screenshot().expect("screenshot");
    assert!(
        all_pixels(&shot, lock_colour()).is_err(),
        "still the lock colour after unlocking"
    );
}

/// Runs `program` on the host socket of the compositor in `runtime`.
fn host_command(runtime: &Path, program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.env("WAYLAND_DISPLAY", "wayland-zion")
        .env("XDG_RUNTIME_DIR", runtime)
        .env_remove("DISPLAY");
    cmd
}

#[test]
fn super_l_locks_with_real_swaylock_and_killing_it_leaves_the_session_locked() {
    if !zion_tests::skip::installed("swaylock", "swaylock") {
        return;
    }
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let (_profile, app) = profile_window(&mut c, runtime.path());

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
    wait_for(&mut c, &app, "the keyboard leaves the profile", |s| {
        s.keyboard_leaves > 0
    });
    // swaylock draws its black colour on the whole output.
    shows_only(&mut c, [0, 0, 0]).expect("only swaylock's black is shown");
    // (Super itself went to the profile before the lock: not a hotkey.)
    let before = app.seen().keys;
    type_key(&mut c, KEY_A);
    settle(&mut c);
    assert_eq!(app.seen().keys, before, "a key reached the profile");
    drop(c);

    // A swaylock the test started itself, killed: the session stays locked.
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let mut swaylock = host_command(runtime.path(), "swaylock")
        .args(["-c", "000000"])
        .spawn()
        .expect("swaylock runs");
    let locked = c
        .dispatch_until(WAIT, |s| s.lock.is_locked())
        .expect("event loop runs");
    assert!(locked, "swaylock did not lock");
    swaylock.kill().expect("kill swaylock");
    let _ = swaylock.wait();
    settle(&mut c);
    assert!(
        c.state.lock.is_locked(),
        "killing swaylock unlocked the session"
    );
    let shot = c.screenshot().expect("screenshot");
    all_pixels(&shot, lock_colour()).expect("the plain lock colour after swaylock died");
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
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut config = Config::defaults();
    config.session.locker = vec!["swaylock".into(), "-c".into(), "000000".into()];
    let options = Options {
        backend: BackendKind::Headless,
        size: (320, 240),
        runtime_dir: runtime.path().to_owned(),
    };
    let mut c = Compositor::new(config, &options).expect("compositor starts");
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

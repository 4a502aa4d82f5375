//! The per-profile lock, with real clients on the real compositor: work's
//! desktop covered (its window's pixels never shown, its client given no
//! key, pointer, scroll, clipboard or activation) while gaming's client
//! draws and types; uncovering only through a released session lock
//! (real swaylock, killed: still covered; a lock client that unlocks, as a
//! locker does once the person authenticated: uncovered); and
//! `Compositor1.LockProfile`/`UnlockProfile`/`LockedProfiles` on a real bus.

use std::time::Duration;

use zion_compositor::backend::injected;
use zion_compositor::input::{keys, BTN_LEFT};
use zion_compositor::{Origin, Screenshot};
use zion_config::Config;
use zion_tests::compositor::{colour, Fixture, Setup};
use zion_tests::wayland::{Client, TestWindow};

const WAIT: Duration = Duration::from_secs(10);
/// The A key (evdev).
const KEY_A: u32 = 30;
/// L (evdev).
const KEY_L: u32 = 38;
/// The windows' size.
const WINDOW: (i32, i32) = (200, 100);
/// Work's window (XRGB): grey.
const WORK_RGB: u32 = 0x0080_8080;
/// Gaming's window (XRGB): green.
const GAMING_RGB: u32 = 0x0000_ff00;
/// A lock client's surface (XRGB): blue.
const LOCK_RGB: u32 = 0x0000_00ff;

fn compositor(locker: Vec<String>) -> Fixture {
    let mut config = Config::defaults();
    config.session.locker = locker;
    Fixture::start(Setup {
        config,
        size: (320, 240),
        ..Setup::default()
    })
}

/// A key pressed and released through the one input path.
fn type_key(c: &mut Fixture, code: u32) {
    c.state.process_input_event(injected::key(code, true));
    c.state.process_input_event(injected::key(code, false));
}

/// Super+Shift+L (`lock-profile`) through the one input path.
fn super_shift_l(c: &mut Fixture) {
    c.state
        .process_input_event(injected::key(keys::LEFT_META, true));
    c.state
        .process_input_event(injected::key(keys::LEFT_SHIFT, true));
    type_key(c, KEY_L);
    c.state
        .process_input_event(injected::key(keys::LEFT_SHIFT, false));
    c.state
        .process_input_event(injected::key(keys::LEFT_META, false));
}

/// `profile`'s cover as a screenshot gives it.
fn cover_of(profile: &str) -> [u8; 3] {
    let c = zion_compositor::profile_lock::cover_colour(colour(profile));
    [
        (c[0] * 255.0).round() as u8,
        (c[1] * 255.0).round() as u8,
        (c[2] * 255.0).round() as u8,
    ]
}

/// The first pixel of `shot` that is not `rgb`, described.
fn other_pixel(shot: &Screenshot, rgb: [u8; 3]) -> Option<String> {
    let i = shot.rgba.chunks_exact(4).position(|px| px[..3] != rgb)?;
    let (x, y) = (i as u32 % shot.width, i as u32 / shot.width);
    Some(format!(
        "pixel ({x}, {y}) is {:?}, not {rgb:?}",
        &shot.rgba[i * 4..i * 4 + 3]
    ))
}

/// How many pixels of `shot` are `xrgb`.
fn count(shot: &Screenshot, xrgb: u32) -> usize {
    let [b, g, r, _] = xrgb.to_le_bytes();
    shot.rgba
        .chunks_exact(4)
        .filter(|px| px[..3] == [r, g, b])
        .count()
}

/// Waits until the output shows only `rgb`; the last difference if not.
fn shows_only(c: &mut Fixture, rgb: [u8; 3]) -> Result<(), String> {
    let end = std::time::Instant::now() + WAIT;
    loop {
        let shot = c.shot();
        match other_pixel(&shot, rgb) {
            None => return Ok(()),
            Some(e) if std::time::Instant::now() >= end => return Err(e),
            Some(_) => c
                .dispatch(Duration::from_millis(20))
                .expect("event loop runs"),
        }
    }
}

/// Shows `profile`'s desktop and opens a window of `xrgb` there from a
/// client on its socket (keyboard and pointer recorded), focused.
fn window_on(c: &mut Fixture, profile: &str, xrgb: u32) -> (Client, TestWindow) {
    c.show(profile);
    let socket = c.profile_socket(profile);
    let mut app = c.connect(&socket);
    app.seat().expect("the client binds the seat");
    let window = app
        .window(profile, WINDOW, xrgb)
        .expect("the client opens a window");
    let desktop = c.desktop(profile);
    let mapped = c
        .roundtrip_until(&mut app, |_, s| {
            !s.layout.desktops()[desktop].windows().is_empty()
        })
        .expect("the client runs");
    assert!(mapped, "{profile}'s window did not open: {:?}", app.seen);
    c.wait_seen(&mut app, "the window gets the keyboard", |s| {
        s.keyboard_enters > 0
    });
    (app, window)
}

/// The middle of the shown desktop's first window.
fn middle_of_window(c: &Fixture) -> (f64, f64) {
    let placed = &c.state.layout.visible()[0];
    let rect = zion_compositor::render::content_rect(&placed.window, placed.pos);
    (
        f64::from(rect.x + rect.w / 2),
        f64::from(rect.y + rect.h / 2),
    )
}

/// Pointer motion, a scroll and a click at (x, y) through the input path.
fn point_and_click(c: &mut Fixture, (x, y): (f64, f64)) {
    c.state.process_input_event(injected::place(x, y));
    c.state
        .process_input_event(injected::scroll(injected::Scroll::wheel(1.0)));
    c.state
        .process_input_event(injected::button(BTN_LEFT, true));
    c.state
        .process_input_event(injected::button(BTN_LEFT, false));
}

/// What a client had heard at one moment.
struct Heard {
    keys: Vec<u32>,
    axis: Vec<f64>,
    pointer_enters: u32,
    keyboard_enters: u32,
}

impl Heard {
    fn of(client: &Client) -> Heard {
        let s = &client.seen;
        Heard {
            keys: s.keys.clone(),
            axis: s.axis.clone(),
            pointer_enters: s.pointer_enters,
            keyboard_enters: s.keyboard_enters,
        }
    }
}

#[test]
fn a_locked_profile_shows_only_its_cover_and_hears_nothing_while_gaming_draws_and_types() {
    let mut c = compositor(vec!["true".into()]);
    let (mut gaming, _g) = window_on(&mut c, "gaming", GAMING_RGB);
    let (mut work, w) = window_on(&mut c, "work", WORK_RGB);
    let middle = middle_of_window(&c);

    // Unlocked, work's client hears keys, the pointer and a scroll: the
    // attack below would see them if the lock did not hold.
    type_key(&mut c, KEY_A);
    point_and_click(&mut c, middle);
    c.wait_seen(&mut work, "input before locking", |s| {
        s.keys.contains(&KEY_A) && s.pointer_enters > 0 && !s.axis.is_empty()
    });
    c.settle();
    assert!(count(&c.shot(), WORK_RGB) > 0, "work's window is not shown");

    // Super+Shift+L on work's desktop locks it.
    super_shift_l(&mut c);
    c.wait("work is locked", |s| s.profile_locks.is_locked("work"));
    c.wait_seen(&mut work, "the keyboard leaves work", |s| {
        s.keyboard_leaves > 0
    });
    // Only the cover, in work's colour darkened: no pixel of its window
    // nor of its frame.
    shows_only(&mut c, cover_of("work")).expect("work's desktop shows only its cover");
    let shot = c.shot();
    zion_tests::compositor::keep_png(
        &shot,
        env!("CARGO_TARGET_TMPDIR"),
        "profile_lock",
        "work-covered",
    );

    // Attack: work's client goes on drawing, reading keys, the pointer
    // and scrolls, and sets the clipboard. Nothing reaches it.
    c.settle_client(&mut work);
    let before = Heard::of(&work);
    w.draw();
    type_key(&mut c, KEY_A);
    type_key(&mut c, keys::ENTER);
    point_and_click(&mut c, (middle.0 + 1.0, middle.1 + 1.0));
    c.settle_client(&mut work);
    work.set_selection()
        .expect("work's client has a data device");
    c.settle_client(&mut work);
    assert_eq!(work.seen.keys, before.keys, "keys reached locked work");
    assert_eq!(work.seen.axis, before.axis, "a scroll reached locked work");
    assert_eq!(
        work.seen.pointer_enters, before.pointer_enters,
        "the pointer entered locked work's window"
    );
    assert_eq!(
        work.seen.keyboard_enters, before.keyboard_enters,
        "the keyboard came back to locked work"
    );
    assert!(work.seen.pointer_leaves > 0, "the pointer stayed on work");
    assert_ne!(
        c.state.selection_owners.clipboard,
        Some(Origin::Profile("work".parse().expect("profile name"))),
        "locked work set the clipboard"
    );
    assert_eq!(
        other_pixel(&c.shot(), cover_of("work")),
        None,
        "work's redraw reached the output"
    );
    // Hotkeys acting on the covered desktop's windows do nothing: Super+W
    // does not close work's window.
    c.state
        .process_input_event(injected::key(keys::LEFT_META, true));
    type_key(&mut c, keys::W);
    c.state
        .process_input_event(injected::key(keys::LEFT_META, false));
    c.settle();
    assert_eq!(c.windows(c.desktop("work")).len(), 1);

    // Gaming, shown, draws and hears keys while work stays locked.
    c.show("gaming");
    c.settle();
    c.wait_seen(&mut gaming, "gaming gets the keyboard back", |s| {
        s.keyboard_enters >= 2
    });
    let shot = c.shot();
    assert!(
        count(&shot, GAMING_RGB) >= (WINDOW.0 * WINDOW.1) as usize,
        "gaming's window is not drawn while work is locked"
    );
    assert_eq!(
        count(&shot, WORK_RGB),
        0,
        "work's pixels on gaming's desktop"
    );
    let keys_before = gaming.seen.keys.len();
    type_key(&mut c, KEY_A);
    c.wait_seen(&mut gaming, "gaming hears a key", |s| {
        s.keys.len() > keys_before && s.keys.last() == Some(&KEY_A)
    });
    assert!(c.state.profile_locks.is_locked("work"));

    // Attack: a host's activation token handed to work's client, which
    // asks to be raised. A host token shows another desktop's window;
    // not a locked one's.
    let host_socket = c.host_socket();
    let mut host = c.connect(&host_socket);
    host.request_activation_token(None)
        .expect("the host asks for a token");
    c.wait_seen(&mut host, "a token", |s| !s.activation_tokens.is_empty());
    let token = host.seen.activation_tokens[0].clone();
    work.activate(&token, &w.surface).expect("activate sent");
    c.settle_client(&mut work);
    assert_eq!(
        c.state.layout.active(),
        c.desktop("gaming"),
        "an activation showed locked work"
    );
    assert_eq!(work.seen.keyboard_enters, before.keyboard_enters);

    // Back on work: still covered, still deaf.
    c.show("work");
    c.settle_client(&mut work);
    type_key(&mut c, KEY_A);
    c.settle_client(&mut work);
    assert_eq!(work.seen.keys, before.keys, "keys reached locked work");
    shows_only(&mut c, cover_of("work")).expect("work is still covered");
}

#[test]
fn unlocking_asks_the_locker_and_only_a_released_session_lock_uncovers() {
    if !zion_tests::skip::installed("swaylock", "swaylock") {
        return;
    }
    // The locker writes its pid, so that the test kills that swaylock and
    // no other.
    let dir = tempfile::tempdir().expect("temporary folder");
    let pidfile = dir.path().join("swaylock.pid");
    let script = format!("echo $$ > '{}'; exec swaylock -c 000000", pidfile.display());
    let mut c = compositor(vec!["sh".into(), "-c".into(), script]);
    let (mut work, _w) = window_on(&mut c, "work", WORK_RGB);
    c.state.lock_profile("work").expect("work locks");
    c.wait_seen(&mut work, "the keyboard leaves work", |s| {
        s.keyboard_leaves > 0
    });
    let host = c.host_socket();

    // A session lock taken and released without an unlock asked for
    // leaves work covered.
    let mut locker = c.connect(&host);
    let lock = locker.lock(LOCK_RGB).expect("the lock client locks");
    c.wait_seen(&mut locker, "locked", |s| s.locked);
    lock.unlock_and_destroy();
    locker.flush().expect("the unlock is sent");
    c.wait("the session unlocks", |s| !s.lock.is_locked());
    assert!(
        c.state.profile_locks.is_locked("work"),
        "a session unlock uncovered a profile nobody asked to unlock"
    );
    drop(locker);

    // Super+Shift+L on the covered desktop asks to unlock: the session's
    // locker (real swaylock) locks the whole session to authenticate.
    super_shift_l(&mut c);
    c.wait("swaylock locks the session", |s| s.lock.is_locked());
    assert!(c.state.profile_locks.is_pending("work"));
    assert!(
        c.state.profile_locks.is_locked("work"),
        "work was uncovered before the locker unlocked"
    );
    shows_only(&mut c, [0, 0, 0]).expect("only swaylock's black is shown");

    // swaylock dies without unlocking (nobody authenticated): the session
    // stays locked and work covered.
    let pid = std::fs::read_to_string(&pidfile).expect("the locker's pid");
    let killed = std::process::Command::new("kill")
        .arg(pid.trim())
        .status()
        .expect("kill runs");
    assert!(killed.success(), "swaylock {pid} was not killed");
    c.wait("swaylock's lock is gone", |s| {
        s.lock.keyboard_target().is_none()
    });
    c.settle();
    assert!(
        c.state.lock.is_locked(),
        "a dead locker unlocked the session"
    );
    assert!(
        c.state.profile_locks.is_locked("work"),
        "a dead locker uncovered work"
    );

    // A new locker takes over and unlocks, as swaylock does once the
    // person typed their password: the session and work are unlocked.
    let mut locker = c.connect(&host);
    let lock = locker.lock(LOCK_RGB).expect("the new lock client locks");
    c.wait_seen(&mut locker, "the new lock takes over", |s| s.locked);
    assert!(c.state.profile_locks.is_locked("work"));
    lock.unlock_and_destroy();
    locker.flush().expect("the unlock is sent");
    c.wait("work is unlocked", |s| {
        !s.lock.is_locked() && !s.profile_locks.is_locked("work")
    });
    c.wait_seen(&mut work, "the keyboard comes back to work", |s| {
        s.keyboard_enters >= 2
    });
    let keys_before = work.seen.keys.len();
    type_key(&mut c, KEY_A);
    c.wait_seen(&mut work, "work hears a key again", |s| {
        s.keys.len() > keys_before
    });
    c.settle();
    assert!(
        count(&c.shot(), WORK_RGB) > 0,
        "work's window is not shown after unlocking"
    );
}

#[test]
fn a_profile_client_cannot_take_the_session_lock_to_uncover_itself() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let ran = dir.path().join("locker-ran");
    let mut c = compositor(vec!["touch".into(), ran.display().to_string()]);
    let (_work, _w) = window_on(&mut c, "work", WORK_RGB);
    c.state.lock_profile("work").expect("work locks");
    c.state.unlock_profile("work").expect("an unlock is asked");
    c.wait("the locker ran", |_| ran.exists());

    // Attack: a second client of work takes the session lock and unlocks
    // it, as a locker would, to release the pending unlock. The lock
    // manager is not in its registry: the bind fails and nothing changes.
    let socket = c.profile_socket("work");
    let mut attacker = c.connect(&socket);
    let error = attacker
        .lock(LOCK_RGB)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("ext_session_lock_manager_v1"),
        "unexpected: {error:?}"
    );
    // Guessing the host's global name does not help either: the name is
    // not one this client was offered.
    let host_socket = c.host_socket();
    let names = c.connect(&host_socket).seen.globals.clone();
    if let Some((name, _, _)) = names
        .iter()
        .find(|(_, i, _)| i == "ext_session_lock_manager_v1")
    {
        use wayland_protocols::ext::session_lock::v1::client::ext_session_lock_manager_v1::ExtSessionLockManagerV1;
        let manager: ExtSessionLockManagerV1 = attacker.bind_name(*name, 1);
        let lock = manager.lock(&attacker.qh, ());
        lock.unlock_and_destroy();
        let _ = c.roundtrip(&mut attacker);
    }
    c.settle();
    assert!(!c.state.lock.is_locked());
    assert!(
        c.state.profile_locks.is_locked("work"),
        "a profile client uncovered its own desktop"
    );
    shows_only(&mut c, cover_of("work")).expect("work is still covered");
}

/// `Compositor1` on a real private bus: `LockProfile` covers,
/// `LockedProfiles` says so, `UnlockProfile` of an unlocked profile is an
/// error and of a locked one starts the configured locker and leaves the
/// profile covered until that lock is released.
#[test]
fn compositor1_locks_a_profile_lists_it_and_unlocks_through_the_locker() {
    if !zion_tests::skip::installed("/usr/bin/dbus-daemon", "dbus") {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let ran = dir.path().join("locker-ran");
    let bus = zion_tests::DbusBus::start(dir.path()).expect("private dbus-daemon starts");
    let mut c = compositor(vec!["touch".into(), ran.display().to_string()]);
    c.serve_bus(bus.address()).expect("Compositor1 served");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let address = bus.address().to_owned();
    let proxy = rt
        .block_on(async move {
            let conn = zbus::connection::Builder::address(address.as_str())?
                .build()
                .await?;
            zion_bus::Compositor1Proxy::builder(&conn)
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .await
        })
        .expect("Compositor1 proxy");
    let p = proxy.clone();
    let none = call(&mut c, &rt, async move { p.locked_profiles().await });
    assert_eq!(none.expect("LockedProfiles"), Vec::<String>::new());
    let p = proxy.clone();
    call(&mut c, &rt, async move { p.lock_profile("work").await }).expect("LockProfile work");
    assert!(c.state.profile_locks.is_locked("work"));
    let p = proxy.clone();
    let locked = call(&mut c, &rt, async move { p.locked_profiles().await });
    assert_eq!(locked.expect("LockedProfiles"), ["work"]);
    let p = proxy.clone();
    let unknown = call(&mut c, &rt, async move { p.lock_profile("nobody").await })
        .expect_err("an unknown profile");
    assert!(unknown.to_string().contains("UnknownDesktop"), "{unknown}");
    let p = proxy.clone();
    let not_locked = call(&mut c, &rt, async move { p.unlock_profile("gaming").await })
        .expect_err("gaming is not locked");
    assert!(
        not_locked.to_string().contains("not locked"),
        "{not_locked}"
    );
    let p = proxy.clone();
    call(&mut c, &rt, async move { p.unlock_profile("work").await }).expect("UnlockProfile work");
    c.wait("the configured locker ran", |_| ran.exists());
    // `touch` takes no lock: nobody authenticated, work stays covered.
    assert!(c.state.profile_locks.is_locked("work"));
    let p = proxy.clone();
    let locked = call(&mut c, &rt, async move { p.locked_profiles().await });
    assert_eq!(locked.expect("LockedProfiles"), ["work"]);
}

/// Runs `call` on `rt` while this thread dispatches the compositor that
/// answers it.
fn call<T: Send + 'static>(
    c: &mut Fixture,
    rt: &tokio::runtime::Runtime,
    call: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let task = rt.spawn(call);
    let end = std::time::Instant::now() + WAIT;
    while !task.is_finished() && std::time::Instant::now() < end {
        c.dispatch(Duration::from_millis(5))
            .expect("event loop runs");
    }
    rt.block_on(task).expect("the call's task")
}

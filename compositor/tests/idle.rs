//! Idle, with real clients on the real compositor: a host client's
//! ext-idle-notify, a profile that tries to watch when the person is away,
//! and a profile window's idle inhibitor that keeps the idle lock away only
//! while the window is shown. Timeouts are the configuration's, short.

use std::path::Path;
use std::time::{Duration, Instant};

use wayland_client::protocol::wl_seat;
use wayland_protocols::ext::idle_notify::v1::client::ext_idle_notifier_v1::ExtIdleNotifierV1;
use zion_compositor::backend::injected;
use zion_config::{Config, Idle};
use zion_tests::compositor::{Fixture, Setup};

/// ext-idle-notify's global.
const NOTIFIER: &str = "ext_idle_notifier_v1";
/// idle-inhibit's global.
const INHIBIT: &str = "zwp_idle_inhibit_manager_v1";
/// The A key (evdev).
const KEY_A: u32 = 30;

/// A compositor whose idle settings are `idle` and whose locker touches
/// `locked` (the real lock path runs it; the file says it ran).
fn compositor(idle: Idle, locked: &Path) -> Fixture {
    let mut config = Config::defaults();
    config.session.idle = idle;
    config.session.locker = vec!["touch".into(), locked.display().to_string()];
    Fixture::start(Setup {
        config,
        size: (320, 240),
        ..Setup::default()
    })
}

fn never() -> Idle {
    Idle {
        lock_after: None,
        screen_off_after: None,
    }
}

/// Types A (press and release) through the one input path.
fn type_key(c: &mut Fixture) {
    c.state.process_input_event(injected::key(KEY_A, true));
    c.state.process_input_event(injected::key(KEY_A, false));
}

/// Runs the compositor for `long` (for things that must not happen).
fn run_for(c: &mut Fixture, long: Duration) {
    let end = Instant::now() + long;
    while Instant::now() < end {
        c.dispatch(Duration::from_millis(20))
            .expect("event loop runs");
    }
}

#[test]
fn a_host_client_hears_idled_after_its_timeout_and_resumed_after_input() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut c = compositor(never(), &dir.path().join("locked"));
    let socket = c.host_socket();
    let mut host = c.connect(&socket);
    assert!(host.offers(NOTIFIER), "{:?}", host.seen.globals);
    host.idle_notification(300)
        .expect("the host client binds ext-idle-notify");
    c.roundtrip(&mut host).expect("the host client runs");
    assert_eq!(host.seen.idled, 0, "idled at once");
    let idled = c
        .roundtrip_until(&mut host, |seen, _| seen.idled == 1)
        .expect("the host client runs");
    assert!(idled, "no idled: {:?}", host.seen);
    type_key(&mut c);
    let resumed = c
        .roundtrip_until(&mut host, |seen, _| seen.resumed == 1)
        .expect("the host client runs");
    assert!(resumed, "no resumed after input: {:?}", host.seen);
    // Idle again after the input, and again resumed.
    let again = c
        .roundtrip_until(&mut host, |seen, _| seen.idled == 2)
        .expect("the host client runs");
    assert!(again, "no second idled: {:?}", host.seen);
    c.state.process_input_event(injected::motion(5.0, 5.0));
    let resumed = c
        .roundtrip_until(&mut host, |seen, _| seen.resumed == 2)
        .expect("the host client runs");
    assert!(resumed, "no resumed after motion: {:?}", host.seen);
}

#[test]
fn a_profile_client_cannot_see_or_bind_idle_notify() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut c = compositor(never(), &dir.path().join("locked"));
    let socket = c.host_socket();
    let host = c.connect(&socket);
    let (name, _, _) = host
        .seen
        .globals
        .iter()
        .find(|(_, i, _)| i == NOTIFIER)
        .cloned()
        .expect("the host sees ext-idle-notify");
    assert!(host.offers(INHIBIT));
    for profile in ["work", "personal", "gaming"] {
        let socket = c.profile_socket(profile);
        let client = c.connect(&socket);
        assert!(!client.offers(NOTIFIER), "{profile} sees {NOTIFIER}");
        assert!(client.offers(INHIBIT), "{profile} lacks {INHIBIT}");
    }
    // Attack: a profile client binds the notifier by the host's global
    // name and asks to hear when the seat idles for 50 ms. The bind is
    // refused (its connection ends) and no idled ever comes.
    let socket = c.profile_socket("work");
    let mut spy = c.connect(&socket);
    let seat: wl_seat::WlSeat = spy.bind(1..=9).expect("the profile binds the seat");
    let notifier: ExtIdleNotifierV1 = spy.bind_name(name, 1);
    let qh = spy.qh.clone();
    notifier.get_idle_notification(50, &seat, &qh, ());
    let answer = c.roundtrip(&mut spy);
    assert!(answer.is_err(), "the bind was accepted");
    run_for(&mut c, Duration::from_millis(200));
    let _ = spy.dispatch(Duration::ZERO);
    assert_eq!(spy.seen.idled, 0, "the profile heard the seat idle");
}

#[test]
fn an_idle_inhibitor_keeps_the_lock_away_only_while_its_window_is_shown() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let locked = dir.path().join("locked");
    let lock_after = Duration::from_secs(1);
    let mut c = compositor(
        Idle {
            lock_after: Some(lock_after),
            screen_off_after: None,
        },
        &locked,
    );
    c.show("work");
    let socket = c.profile_socket("work");
    let mut video = c.connect(&socket);
    let window = video
        .window("video", (100, 80), 0x0020_4060)
        .expect("the profile's client opens a window");
    let mapped = c
        .roundtrip_until(&mut video, |_, s| s.layout.visible().len() == 1)
        .expect("the profile's client runs");
    assert!(mapped, "the video window is not shown");
    video
        .inhibit_idle(&window.surface)
        .expect("the profile binds idle-inhibit");
    let inhibited = c
        .roundtrip_until(&mut video, |_, s| s.idle.inhibited())
        .expect("the profile's client runs");
    assert!(inhibited, "the shown window's inhibitor does not count");
    // Twice the idle time passes without input: no idle lock.
    run_for(&mut c, lock_after * 2 + Duration::from_millis(500));
    assert_eq!(c.state.idle.idle_locks(), 0, "idle locked while inhibited");
    assert!(!locked.exists(), "the locker ran while inhibited");
    // Gaming is shown: the work video is hidden and keeps nothing awake;
    // the idle lock fires (the locker runs).
    c.show("gaming");
    assert!(
        !c.state.idle.inhibited(),
        "a hidden window inhibits idleness"
    );
    c.wait("the idle lock with the inhibitor hidden", |s| {
        s.idle.idle_locks() == 1
    });
    c.wait("the locker runs", |_| locked.exists());
}

#[test]
fn a_minimized_window_keeps_nothing_awake_and_the_screens_go_off() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut c = compositor(
        Idle {
            lock_after: None,
            screen_off_after: Some(Duration::from_secs(1)),
        },
        &dir.path().join("locked"),
    );
    c.show("work");
    let socket = c.profile_socket("work");
    let mut video = c.connect(&socket);
    let window = video
        .window("video", (100, 80), 0x0020_4060)
        .expect("the profile's client opens a window");
    let mapped = c
        .roundtrip_until(&mut video, |_, s| s.layout.visible().len() == 1)
        .expect("the profile's client runs");
    assert!(mapped, "the video window is not shown");
    video
        .inhibit_idle(&window.surface)
        .expect("the profile binds idle-inhibit");
    let inhibited = c
        .roundtrip_until(&mut video, |_, s| s.idle.inhibited())
        .expect("the profile's client runs");
    assert!(inhibited, "the shown window's inhibitor does not count");
    c.state.do_action(zion_compositor::Action::MinimizeWindow);
    assert!(
        !c.state.idle.inhibited(),
        "a minimized window inhibits idleness"
    );
    c.wait("the screens off", |s| s.idle.screen_off());
    type_key(&mut c);
    assert!(!c.state.idle.screen_off(), "input leaves the screens off");
    drop(video);
}

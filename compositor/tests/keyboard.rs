//! `[input]` seen by a real client: the keymap its wl_keyboard is sent
//! (parsed back with xkbcommon), key repeat, a live reload to another
//! layout, a layout xkb does not know refused with the old keymap kept,
//! and natural scrolling turning the axis round in the one input path.

use std::time::Duration;

use smithay::input::keyboard::xkb;
use zion_compositor::backend::injected;
use zion_compositor::reload::ReloadError;
use zion_compositor::render::content_rect;
use zion_config::{Config, Input, Keyboard};
use zion_tests::compositor::{Fixture, Setup};
use zion_tests::wayland::Client;

/// The name xkb gives the first layout of a keymap sent as text.
fn layout_name(keymap: &str) -> String {
    let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
    let keymap = xkb::Keymap::new_from_string(
        &context,
        keymap.to_owned(),
        xkb::KEYMAP_FORMAT_TEXT_V1,
        xkb::KEYMAP_COMPILE_NO_FLAGS,
    )
    .expect("the keymap sent is one xkbcommon reads");
    keymap.layout_get_name(0).to_owned()
}

fn input(layout: &str, rate: u32, delay_ms: u64) -> Input {
    Input {
        keyboard: Keyboard {
            layout: layout.into(),
            options: "caps:escape".into(),
            ..Keyboard::default()
        },
        repeat_rate: rate,
        repeat_delay: Duration::from_millis(delay_ms),
        ..Input::default()
    }
}

fn compositor(input: Input) -> Fixture {
    let mut config = Config::defaults();
    config.input = input;
    Fixture::start(Setup {
        config,
        size: (320, 240),
        ..Setup::default()
    })
}

/// A profile client with the seat bound (its keyboard gets the keymap).
fn profile_client(c: &mut Fixture) -> Client {
    let socket = c.profile_socket("work");
    let mut app = c.connect(&socket);
    app.seat().expect("the client binds the seat");
    c.wait_seen(&mut app, "a keymap and repeat info", |seen| {
        !seen.keymaps.is_empty() && seen.repeat_info.is_some()
    });
    app
}

fn reloaded(c: &Fixture, input: Input) -> Config {
    let mut config = c.state.config.clone();
    config.input = input;
    config
}

#[test]
fn a_client_gets_the_configured_layout_and_repeat_and_a_reload_sends_the_new_ones() {
    let mut c = compositor(input("de", 40, 250));
    let mut app = profile_client(&mut c);
    assert_eq!(
        layout_name(app.seen.keymaps.last().expect("a keymap")),
        "German"
    );
    assert_eq!(app.seen.repeat_info, Some((40, 250)), "rate and delay");

    let config = reloaded(&c, input("us", 10, 1000));
    c.state.reload_config(&config).expect("the reload applies");
    c.wait_seen(&mut app, "the new keymap and repeat", |seen| {
        seen.keymaps.len() >= 2 && seen.repeat_info == Some((10, 1000))
    });
    assert_eq!(
        layout_name(app.seen.keymaps.last().expect("a keymap")),
        "English (US)"
    );
}

#[test]
fn a_layout_xkb_does_not_know_is_refused_on_reload_and_the_old_keymap_stays() {
    let mut c = compositor(input("de", 25, 600));
    let mut app = profile_client(&mut c);
    let before = app.seen.keymaps.len();

    let config = reloaded(&c, input("zz-no-such-layout", 50, 100));
    let err = c
        .state
        .reload_config(&config)
        .expect_err("xkb has no such layout");
    assert!(matches!(err, ReloadError::Keymap(_)), "{err}");
    assert!(err.to_string().contains("zz-no-such-layout"), "{err}");
    c.settle_client(&mut app);
    assert_eq!(app.seen.keymaps.len(), before, "no keymap was sent");
    assert_eq!(app.seen.repeat_info, Some((25, 600)), "repeat unchanged");
    assert_eq!(c.state.config.input.keyboard.layout, "de");
    let keyboard = c.state.seat.get_keyboard().expect("a keyboard");
    let layout = keyboard.with_xkb_state(&mut c.state, |ctx| {
        let xkb = ctx.xkb().lock().expect("the xkb state");
        xkb.layout_name(xkb.active_layout()).to_owned()
    });
    assert_eq!(layout, "German", "the seat keeps de");

    // A new client gets de too.
    let mut late = profile_client(&mut c);
    c.settle_client(&mut late);
    assert_eq!(
        layout_name(late.seen.keymaps.last().expect("a keymap")),
        "German"
    );
}

#[test]
fn an_edit_of_zion_toml_reaches_the_clients_keyboard() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = dir.path().join("zion.toml");
    let text = |layout: &str| {
        format!("[[profile]]\nname = \"work\"\n\n[input]\nkeyboard = {{ layout = \"{layout}\" }}\nrepeat_rate = 33\n")
    };
    std::fs::write(&file, text("de")).expect("zion.toml written");
    let config = Config::load(&file).expect("zion.toml loads");
    let mut c = Fixture::start(Setup {
        config,
        size: (320, 240),
        ..Setup::default()
    });
    let _watch = c.reload_on_change(&file).expect("the file is watched");
    let mut app = profile_client(&mut c);
    assert_eq!(
        layout_name(app.seen.keymaps.last().expect("a keymap")),
        "German"
    );

    // An editor's save: a new file renamed over the old one.
    let new = dir.path().join(".zion.toml.new");
    std::fs::write(&new, text("fr")).expect("new zion.toml written");
    std::fs::rename(&new, &file).expect("zion.toml replaced");
    c.wait_seen(&mut app, "the keymap of the edited file", |seen| {
        seen.keymaps
            .last()
            .is_some_and(|k| layout_name(k) == "French")
    });

    // A layout xkb does not know: refused, told as a notice; fr stays.
    std::fs::write(&file, text("zz-no-such-layout")).expect("zion.toml written");
    c.wait("the bad layout is refused with a notice", |s| {
        s.notices.iter().any(|n| n.contains("zz-no-such-layout"))
    });
    assert_eq!(c.state.config.input.keyboard.layout, "fr");
}

#[test]
fn a_session_started_with_a_layout_xkb_does_not_know_still_has_a_keyboard_and_says_why() {
    let mut c = compositor(input("zz-no-such-layout", 25, 600));
    assert!(
        c.state
            .notices
            .iter()
            .any(|n| n.contains("zz-no-such-layout")),
        "no notice: {:?}",
        c.state.notices
    );
    // xkb's default keymap (XKB_DEFAULT_LAYOUT, else us): one that reads.
    let app = profile_client(&mut c);
    let layout = layout_name(app.seen.keymaps.last().expect("a keymap"));
    assert!(!layout.is_empty(), "a keymap without a layout");
}

#[test]
fn hotkeys_stay_on_latin_letters_while_a_non_latin_layout_is_active() {
    const KEY_N: u32 = 49;
    let text = "[[profile]]\nname = \"work\"\n[[profile]]\nname = \"gaming\"\n\
                [hotkeys]\n\"Super+N\" = \"next-profile\"\n\
                [input]\nkeyboard = { layout = \"us,ru\" }\n";
    let config = Config::parse(text, std::path::Path::new("zion.toml")).expect("parses");
    let mut c = Fixture::start(Setup {
        config,
        size: (320, 240),
        ..Setup::default()
    });
    let keyboard = c.state.seat.get_keyboard().expect("a keyboard");
    let active = keyboard.with_xkb_state(&mut c.state, |mut ctx| {
        ctx.set_layout(smithay::input::keyboard::Layout(1));
        let xkb = ctx.xkb().lock().expect("the xkb state");
        xkb.layout_name(xkb.active_layout()).to_owned()
    });
    assert_eq!(active, "Russian", "the second layout is active");
    assert_eq!(c.state.layout.active(), 0);
    c.press(&[zion_compositor::input::keys::LEFT_META], KEY_N);
    assert_eq!(
        c.state.layout.active(),
        1,
        "Super+N (Super+Cyrillic_te on the Russian layout) did not switch"
    );
}

/// Scrolls two wheel clicks down over `app`'s window; the axis values the
/// client gets.
fn scroll_over_window(c: &mut Fixture, app: &mut Client) -> (Vec<f64>, Vec<i32>) {
    app.seen.axis.clear();
    app.seen.axis_v120.clear();
    c.state
        .process_input_event(injected::scroll(injected::Scroll::wheel(2.0)));
    c.wait_seen(app, "wl_pointer.axis", |seen| !seen.axis.is_empty());
    (app.seen.axis.clone(), app.seen.axis_v120.clone())
}

#[test]
fn natural_scrolling_turns_the_axis_a_client_gets_round_and_a_reload_turns_it_back() {
    let mut c = compositor(Input {
        natural_scroll: true,
        ..Input::default()
    });
    let socket = c.profile_socket("work");
    c.show("work");
    let mut app = c.connect(&socket);
    app.seat().expect("the client binds the seat");
    app.window("scrolled", (200, 100), 0x0080_8080)
        .expect("the client opens a window");
    let mapped = c
        .roundtrip_until(&mut app, |_, s| !s.layout.visible().is_empty())
        .expect("the client runs");
    assert!(mapped, "the window did not open: {:?}", app.seen);
    let rect = {
        let placed = &c.state.layout.visible()[0];
        content_rect(&placed.window, placed.pos)
    };
    let (x, y) = (
        f64::from(rect.x + rect.w / 2),
        f64::from(rect.y + rect.h / 2),
    );
    c.state.process_input_event(injected::place(x, y));
    c.wait_seen(&mut app, "the pointer enters", |seen| {
        seen.pointer_enters > 0
    });

    assert_eq!(
        scroll_over_window(&mut c, &mut app),
        (vec![-30.0], vec![-240]),
        "natural: the wheel down scrolls up"
    );
    let config = reloaded(&c, Input::default());
    c.state.reload_config(&config).expect("the reload applies");
    assert_eq!(
        scroll_over_window(&mut c, &mut app),
        (vec![30.0], vec![240]),
        "after the reload: as the wheel goes"
    );
}

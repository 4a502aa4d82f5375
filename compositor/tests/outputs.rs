//! Screens, with real clients: Debian's `wlr-randr` (a host client of
//! wlr-output-management) lists the headless output and changes its mode,
//! position, scale and transform; the compositor's own state and a
//! client's wl_output follow. A profile cannot see or bind the global, and
//! a configuration the screen cannot take fails and changes nothing.
//! `[[output]]` tables apply at start and on reload.

use std::path::Path;

use smithay::output::Output;
use smithay::utils::Transform;
use wayland_client::protocol::wl_output;
use wayland_client::WEnum;
use zion_config::{Config, OutputMode, OutputSettings};
use zion_tests::compositor::programs;
use zion_tests::compositor::{Fixture, Setup};

const WLR_RANDR: &str = "/usr/bin/wlr-randr";
const KANSHI: &str = "/usr/bin/kanshi";
/// The headless output's name.
const HEADLESS: &str = "headless-1";
/// wlr-output-management's global.
const GLOBAL: &str = "zwlr_output_manager_v1";

fn missing() -> bool {
    !zion_tests::skip::installed(WLR_RANDR, "wlr-randr")
}

fn compositor(outputs: Vec<OutputSettings>) -> Fixture {
    let mut config = Config::defaults();
    config.outputs = outputs;
    Fixture::start(Setup {
        config,
        size: (800, 600),
        ..Setup::default()
    })
}

/// Runs `wlr-randr args` on `socket`: whether it succeeded, and what it
/// printed (standard output and error).
fn randr(c: &mut Fixture, socket: &Path, args: &[&str]) -> (bool, String) {
    let mut cmd = programs::command(socket, WLR_RANDR);
    cmd.args(args);
    let (ok, out, err) = programs::run_for(c, cmd, None, zion_tests::compositor::WAIT)
        .unwrap_or_else(|| panic!("wlr-randr {args:?} did not finish"));
    (ok, format!("{out}{err}"))
}

fn output(c: &Fixture) -> Output {
    c.state.backend.output().clone()
}

/// Mode size, position, scale and transform of the headless output.
fn now(c: &Fixture) -> ((i32, i32), (i32, i32), f64, Transform) {
    let o = output(c);
    let mode = o.current_mode().expect("a mode").size;
    let at = o.current_location();
    (
        (mode.w, mode.h),
        (at.x, at.y),
        o.current_scale().fractional_scale(),
        o.current_transform(),
    )
}

#[test]
fn wlr_randr_lists_the_headless_output_its_modes_and_position() {
    if missing() {
        return;
    }
    let mut c = compositor(Vec::new());
    let host = c.host_socket();
    let (ok, listed) = randr(&mut c, &host, &[]);
    assert!(ok, "wlr-randr failed: {listed}");
    assert!(listed.starts_with(HEADLESS), "{listed}");
    for line in [
        "800x600 px, 60.000000 Hz (preferred, current)",
        "1920x1080 px, 60.000000 Hz",
        "640x480 px, 60.000000 Hz",
        "Position: 0,0",
        "Transform: normal",
        "Scale: 1.000000",
        "Enabled: yes",
    ] {
        assert!(listed.contains(line), "no `{line}` in:\n{listed}");
    }
}

#[test]
fn wlr_randr_moves_scales_turns_and_resizes_the_output_and_clients_are_told() {
    if missing() {
        return;
    }
    let mut c = compositor(Vec::new());
    let serial = c.state.output_management.serial();
    // A profile's client watching its wl_output.
    let work = c.profile_socket("work");
    let mut app = c.connect(&work);
    let _output: wl_output::WlOutput = app.bind(2..=4).expect("wl_output");
    c.wait_seen(&mut app, "the output's first state", |seen| {
        seen.output.done > 0
    });
    assert_eq!(app.seen.output.mode, Some((800, 600)));

    let host = c.host_socket();
    let (ok, said) = randr(
        &mut c,
        &host,
        &[
            "--output",
            HEADLESS,
            "--pos",
            "100,0",
            "--scale",
            "1.5",
            "--transform",
            "90",
        ],
    );
    assert!(ok, "wlr-randr refused the change: {said}");
    assert_eq!(
        now(&c),
        ((800, 600), (100, 0), 1.5, Transform::_90),
        "the compositor's output"
    );
    assert!(
        c.state.output_management.serial() > serial,
        "no new done serial after the change"
    );
    c.wait_seen(&mut app, "the new position, transform and scale", |seen| {
        seen.output.geometry == Some((100, 0, WEnum::Value(wl_output::Transform::_90)))
            && seen.output.scale == Some(2)
    });

    let (ok, listed) = randr(&mut c, &host, &[]);
    assert!(ok, "wlr-randr failed: {listed}");
    for line in ["Position: 100,0", "Transform: 90", "Scale: 1.500000"] {
        assert!(listed.contains(line), "no `{line}` in:\n{listed}");
    }

    // A mode of its list: the headless image takes its size.
    let (ok, said) = randr(&mut c, &host, &["--output", HEADLESS, "--mode", "1280x720"]);
    assert!(ok, "wlr-randr refused the mode: {said}");
    assert_eq!(now(&c).0, (1280, 720));
    c.wait_seen(&mut app, "the new mode", |seen| {
        seen.output.mode == Some((1280, 720))
    });
    let shot = c.shot();
    assert_eq!((shot.width, shot.height), (1280, 720), "the image follows");
    let (_, listed) = randr(&mut c, &host, &[]);
    assert!(
        listed.contains("1280x720 px, 60.000000 Hz (current)"),
        "{listed}"
    );
}

#[test]
fn a_configuration_the_output_cannot_take_fails_and_changes_nothing() {
    if missing() {
        return;
    }
    let mut c = compositor(Vec::new());
    let host = c.host_socket();
    let before = now(&c);
    let serial = c.state.output_management.serial();
    // A good position with a mode the output does not have (sent as a
    // custom mode: `--mode` would be refused by wlr-randr itself): the
    // compositor refuses the whole.
    let (ok, said) = randr(
        &mut c,
        &host,
        &[
            "--output",
            HEADLESS,
            "--pos",
            "50,50",
            "--custom-mode",
            "1234x567",
        ],
    );
    assert!(
        !ok && said.contains("failed to apply configuration"),
        "the compositor took a mode it does not have: {said}"
    );
    assert_eq!(now(&c), before, "nothing changed");
    assert_eq!(c.state.output_management.serial(), serial, "no new serial");
    // Turning the only screen off is refused too.
    let (ok, said) = randr(&mut c, &host, &["--output", HEADLESS, "--off"]);
    assert!(
        !ok && said.contains("failed to apply configuration"),
        "wlr-randr turned the only screen off: {said}"
    );
    assert_eq!(now(&c), before, "nothing changed");
}

#[test]
fn a_profile_client_neither_sees_nor_binds_output_management() {
    if missing() {
        return;
    }
    let mut c = compositor(Vec::new());
    let before = now(&c);
    let work = c.profile_socket("work");
    // wlr-randr in a profile finds no output management: it can neither
    // list nor change the screens.
    let (ok, said) = randr(&mut c, &work, &["--output", HEADLESS, "--pos", "300,300"]);
    assert!(
        !ok && said.contains("doesn't support wlr-output-management"),
        "wlr-randr worked from a profile: {said}"
    );
    assert_eq!(now(&c), before, "a profile moved the screen");

    // Binding the global by the name the host sees is a protocol error.
    let host = c.host_socket();
    let trusted = c.connect(&host);
    let (name, _, _) = trusted
        .seen
        .globals
        .iter()
        .find(|(_, interface, _)| interface == GLOBAL)
        .cloned()
        .expect("the host sees the global");
    let mut app = c.connect(&work);
    assert!(!app.offers(GLOBAL), "a profile is offered {GLOBAL}");
    let _manager: wayland_protocols_wlr::output_management::v1::client::zwlr_output_manager_v1::ZwlrOutputManagerV1 =
        app.bind_name(name, 4);
    let answer = c.roundtrip(&mut app);
    assert!(answer.is_err(), "binding a hidden global was accepted");
    assert_eq!(
        c.state.output_management.managers(),
        0,
        "a manager was made"
    );
}

#[test]
fn a_fractional_scale_reaches_a_window_that_asks_for_it() {
    if missing() {
        return;
    }
    let mut c = compositor(Vec::new());
    c.show("work");
    let work = c.profile_socket("work");
    let mut app = c.connect(&work);
    let window = app
        .window("scaled", (200, 100), 0x0080_8080)
        .expect("the client opens a window");
    app.fractional_scale(&window.surface)
        .expect("the client asks for its fractional scale");
    c.wait_seen(&mut app, "the first preferred scale", |seen| {
        seen.preferred_scale == Some(120)
    });
    let host = c.host_socket();
    let (ok, said) = randr(&mut c, &host, &["--output", HEADLESS, "--scale", "1.25"]);
    assert!(ok, "wlr-randr refused the scale: {said}");
    c.wait_seen(&mut app, "a preferred scale of 1.25 (150/120)", |seen| {
        seen.preferred_scale == Some(150)
    });
}

/// The lines wlr-randr lists for output `name`.
fn block(listed: &str, name: &str) -> String {
    let mut lines = listed
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{name} ")));
    let head = lines.next().unwrap_or_default();
    let rest: Vec<&str> = lines.take_while(|l| l.starts_with(' ')).collect();
    format!("{head}\n{}", rest.join("\n"))
}

/// The place of output `name` in the desktop, `None` when it is off.
fn placed(c: &Fixture, name: &str) -> Option<(i32, i32)> {
    let s = &c.state;
    s.space
        .outputs()
        .find(|o| o.name() == name)
        .and_then(|o| s.space.output_geometry(o))
        .map(|g| (g.loc.x, g.loc.y))
}

#[test]
fn a_second_screen_is_listed_turned_off_and_on_but_the_one_with_the_desktops_stays_on() {
    if missing() {
        return;
    }
    let mut c = compositor(Vec::new());
    c.state
        .add_headless_output(1024, 768)
        .expect("the headless backend adds an output");
    let host = c.host_socket();
    let (ok, listed) = randr(&mut c, &host, &[]);
    assert!(ok, "wlr-randr failed: {listed}");
    assert!(
        block(&listed, "headless-1").contains("Position: 0,0"),
        "{listed}"
    );
    let second = block(&listed, "headless-2");
    for line in [
        "1024x768 px, 60.000000 Hz (preferred, current)",
        "Position: 800,0",
        "Enabled: yes",
    ] {
        assert!(second.contains(line), "no `{line}` in:\n{listed}");
    }
    // A host client sees two wl_outputs; a profile's too.
    let work = c.profile_socket("work");
    let app = c.connect(&work);
    let outputs = |app: &zion_tests::wayland::Client| {
        app.seen
            .globals
            .iter()
            .filter(|(_, i, _)| i == "wl_output")
            .count()
    };
    assert_eq!(outputs(&app), 2);

    let (ok, said) = randr(&mut c, &host, &["--output", "headless-2", "--off"]);
    assert!(ok, "wlr-randr could not turn the second screen off: {said}");
    assert_eq!(placed(&c, "headless-2"), None, "still in the desktop");
    let (_, listed) = randr(&mut c, &host, &[]);
    assert!(
        block(&listed, "headless-1").contains("Enabled: yes"),
        "{listed}"
    );
    assert!(
        block(&listed, "headless-2").contains("Enabled: no"),
        "{listed}"
    );
    let app = c.connect(&work);
    assert_eq!(
        outputs(&app),
        1,
        "the wl_output of a screen that is off stays"
    );

    let (ok, said) = randr(&mut c, &host, &["--output", "headless-1", "--off"]);
    assert!(
        !ok && said.contains("failed to apply configuration"),
        "the screen holding the desktops went off: {said}"
    );
    assert_eq!(placed(&c, "headless-1"), Some((0, 0)));

    let (ok, said) = randr(
        &mut c,
        &host,
        &["--output", "headless-2", "--on", "--pos", "0,600"],
    );
    assert!(ok, "wlr-randr could not turn the second screen on: {said}");
    assert_eq!(placed(&c, "headless-2"), Some((0, 600)));
    let app = c.connect(&work);
    assert_eq!(outputs(&app), 2, "no wl_output for the screen on again");
}

#[test]
fn kanshi_applies_its_profile_to_the_headless_output() {
    if !zion_tests::skip::installed(KANSHI, "kanshi") {
        return;
    }
    let mut c = compositor(Vec::new());
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = dir.path().join("kanshi.conf");
    std::fs::write(
        &config,
        format!(
            "profile desk {{\n  output {HEADLESS} mode 1280x720@60Hz position 200,100 scale 1.5 transform 180\n}}\n"
        ),
    )
    .expect("kanshi's configuration written");
    let host = c.host_socket();
    let mut cmd = programs::command(&host, KANSHI);
    cmd.arg("-c").arg(&config).env("HOME", dir.path());
    c.keep(cmd);
    c.wait("kanshi applies its profile", |s| {
        let o = s.backend.output();
        let at = o.current_location();
        o.current_mode().map(|m| (m.size.w, m.size.h)) == Some((1280, 720))
            && (at.x, at.y) == (200, 100)
            && o.current_scale().fractional_scale() == 1.5
            && o.current_transform() == Transform::_180
    });
}

fn settings() -> OutputSettings {
    OutputSettings {
        name: HEADLESS.into(),
        mode: Some(OutputMode {
            width: 1280,
            height: 720,
            refresh_mhz: Some(60_000),
        }),
        position: Some((10, 20)),
        scale: Some(2.0),
        transform: Some(zion_config::Transform::Rotate180),
        enabled: true,
    }
}

#[test]
fn output_tables_apply_at_start_and_on_reload() {
    let mut c = compositor(vec![settings()]);
    assert_eq!(now(&c), ((1280, 720), (10, 20), 2.0, Transform::_180));
    let serial = c.state.output_management.serial();

    let mut config = c.state.config.clone();
    config.outputs = vec![OutputSettings {
        mode: None,
        position: Some((0, 0)),
        scale: Some(1.25),
        transform: Some(zion_config::Transform::Normal),
        ..settings()
    }];
    let errors = c.state.reload_config(&config).expect("the reload applies");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(now(&c), ((1280, 720), (0, 0), 1.25, Transform::Normal));
    assert!(c.state.output_management.serial() > serial, "no new serial");

    // A table the screen cannot take is reported; the screen stays.
    config.outputs = vec![OutputSettings {
        mode: Some(OutputMode {
            width: 1234,
            height: 567,
            refresh_mhz: None,
        }),
        ..settings()
    }];
    let errors = c.state.reload_config(&config).expect("the reload runs");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("1234x567"), "{errors:?}");
    assert_eq!(now(&c), ((1280, 720), (0, 0), 1.25, Transform::Normal));
}

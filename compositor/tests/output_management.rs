//! wlr-output-management's rules, seen by a client of its own on the host
//! socket (in a thread, with blocking round trips, while the test thread
//! runs the compositor): a configuration made against an old serial is
//! `cancelled`; `test` says `succeeded` and changes nothing; a mode the
//! head lacks is `failed`; an `apply` that holds is `succeeded`, followed
//! by the changed head and a new `done` serial; a head configured twice is
//! a protocol error.

use std::os::unix::net::UnixStream;
use std::time::Duration;

use smithay::utils::Transform;
use wayland_client::backend::ObjectId;
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_output, wl_registry};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum};
use wayland_protocols_wlr::output_management::v1::client::{
    zwlr_output_configuration_head_v1::ZwlrOutputConfigurationHeadV1,
    zwlr_output_configuration_v1::{self, ZwlrOutputConfigurationV1},
    zwlr_output_head_v1::{self, ZwlrOutputHeadV1},
    zwlr_output_manager_v1::{self, ZwlrOutputManagerV1},
    zwlr_output_mode_v1::{self, ZwlrOutputModeV1},
};
use zion_tests::compositor::{Fixture, WAIT};

#[derive(Debug, Default)]
struct Head {
    proxy: Option<ZwlrOutputHeadV1>,
    name: String,
    /// (mode, size, refresh)
    modes: Vec<(ZwlrOutputModeV1, (i32, i32), i32)>,
    current: Option<ObjectId>,
    position: (i32, i32),
    transform: Option<WEnum<wl_output::Transform>>,
    scale: f64,
}

impl Head {
    fn current_size(&self) -> Option<(i32, i32)> {
        let id = self.current.as_ref()?;
        self.modes
            .iter()
            .find(|(m, _, _)| m.id() == *id)
            .map(|(_, size, _)| *size)
    }
}

#[derive(Debug, Default)]
struct Seen {
    heads: Vec<Head>,
    serial: Option<u32>,
    outcome: Option<&'static str>,
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Seen {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrOutputManagerV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &ZwlrOutputManagerV1,
        event: zwlr_output_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_output_manager_v1::Event::Head { head } => seen.heads.push(Head {
                proxy: Some(head),
                ..Head::default()
            }),
            zwlr_output_manager_v1::Event::Done { serial } => seen.serial = Some(serial),
            _ => {}
        }
    }

    wayland_client::event_created_child!(Seen, ZwlrOutputManagerV1, [
        zwlr_output_manager_v1::EVT_HEAD_OPCODE => (ZwlrOutputHeadV1, ()),
    ]);
}

impl Dispatch<ZwlrOutputHeadV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        proxy: &ZwlrOutputHeadV1,
        event: zwlr_output_head_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(head) = seen
            .heads
            .iter_mut()
            .find(|h| h.proxy.as_ref() == Some(proxy))
        else {
            return;
        };
        match event {
            zwlr_output_head_v1::Event::Name { name } => head.name = name,
            zwlr_output_head_v1::Event::Mode { mode } => head.modes.push((mode, (0, 0), 0)),
            zwlr_output_head_v1::Event::CurrentMode { mode } => head.current = Some(mode.id()),
            zwlr_output_head_v1::Event::Position { x, y } => head.position = (x, y),
            zwlr_output_head_v1::Event::Transform { transform } => head.transform = Some(transform),
            zwlr_output_head_v1::Event::Scale { scale } => head.scale = scale,
            _ => {}
        }
    }

    wayland_client::event_created_child!(Seen, ZwlrOutputHeadV1, [
        zwlr_output_head_v1::EVT_MODE_OPCODE => (ZwlrOutputModeV1, ()),
    ]);
}

impl Dispatch<ZwlrOutputModeV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        proxy: &ZwlrOutputModeV1,
        event: zwlr_output_mode_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mode = seen
            .heads
            .iter_mut()
            .flat_map(|h| h.modes.iter_mut())
            .find(|(m, _, _)| m == proxy);
        let Some((_, size, refresh)) = mode else {
            return;
        };
        match event {
            zwlr_output_mode_v1::Event::Size { width, height } => *size = (width, height),
            zwlr_output_mode_v1::Event::Refresh { refresh: r } => *refresh = r,
            _ => {}
        }
    }
}

impl Dispatch<ZwlrOutputConfigurationV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &ZwlrOutputConfigurationV1,
        event: zwlr_output_configuration_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        seen.outcome = Some(match event {
            zwlr_output_configuration_v1::Event::Succeeded => "succeeded",
            zwlr_output_configuration_v1::Event::Failed => "failed",
            zwlr_output_configuration_v1::Event::Cancelled => "cancelled",
            _ => "other",
        });
    }
}

wayland_client::delegate_noop!(Seen: ignore ZwlrOutputConfigurationHeadV1);

/// After the apply: serial, current mode size, transform, position.
type AfterApply = (
    u32,
    Option<(i32, i32)>,
    Option<WEnum<wl_output::Transform>>,
    (i32, i32),
);

/// What the client saw at each step.
#[derive(Debug)]
struct Story {
    first: (u32, String, (i32, i32), (i32, i32)),
    stale: Option<&'static str>,
    tested: Option<&'static str>,
    after_test: (u32, (i32, i32)),
    unknown_mode: Option<&'static str>,
    applied: Option<&'static str>,
    after_apply: AfterApply,
    twice_refused: bool,
}

/// Sends `config` as `apply` (or `test`) and waits for its outcome.
fn outcome(
    queue: &mut EventQueue<Seen>,
    seen: &mut Seen,
    config: &ZwlrOutputConfigurationV1,
    test: bool,
) -> Option<&'static str> {
    seen.outcome = None;
    if test {
        config.test();
    } else {
        config.apply();
    }
    for _ in 0..50 {
        if seen.outcome.is_some() {
            break;
        }
        queue.roundtrip(seen).ok()?;
    }
    config.destroy();
    seen.outcome
}

fn story(stream: UnixStream) -> Story {
    let conn = Connection::from_socket(stream).expect("connection");
    let (globals, mut queue) = registry_queue_init::<Seen>(&conn).expect("registry");
    let qh = queue.handle();
    let manager: ZwlrOutputManagerV1 = globals.bind(&qh, 4..=4, ()).expect("the host binds it");
    let mut seen = Seen::default();
    queue.roundtrip(&mut seen).expect("roundtrip");
    queue.roundtrip(&mut seen).expect("roundtrip");
    let serial = seen.serial.expect("a done serial");
    let head = seen.heads[0].proxy.clone().expect("a head");
    let first = (
        serial,
        seen.heads[0].name.clone(),
        seen.heads[0].current_size().expect("a current mode"),
        seen.heads[0].position,
    );

    let stale = manager.create_configuration(serial.wrapping_sub(1), &qh, ());
    stale.enable_head(&head, &qh, ());
    let stale = outcome(&mut queue, &mut seen, &stale, false);

    let test = manager.create_configuration(serial, &qh, ());
    let h = test.enable_head(&head, &qh, ());
    h.set_position(40, 30);
    h.set_scale(2.0);
    let tested = outcome(&mut queue, &mut seen, &test, true);
    queue.roundtrip(&mut seen).expect("roundtrip");
    let after_test = (seen.serial.unwrap_or(0), seen.heads[0].position);

    let bad = manager.create_configuration(serial, &qh, ());
    let h = bad.enable_head(&head, &qh, ());
    h.set_custom_mode(1234, 567, 0);
    let unknown_mode = outcome(&mut queue, &mut seen, &bad, false);

    let mode = seen.heads[0]
        .modes
        .iter()
        .find(|(_, size, _)| *size == (1280, 720))
        .map(|(m, _, _)| m.clone())
        .expect("a 1280x720 mode");
    let good = manager.create_configuration(serial, &qh, ());
    let h = good.enable_head(&head, &qh, ());
    h.set_mode(&mode);
    h.set_transform(wl_output::Transform::_270);
    h.set_position(-10, 5);
    let applied = outcome(&mut queue, &mut seen, &good, false);
    queue.roundtrip(&mut seen).expect("roundtrip");
    let after_apply = (
        seen.serial.unwrap_or(0),
        seen.heads[0].current_size(),
        seen.heads[0].transform,
        seen.heads[0].position,
    );

    let twice = manager.create_configuration(after_apply.0, &qh, ());
    twice.enable_head(&head, &qh, ());
    twice.enable_head(&head, &qh, ());
    let twice_refused = queue.roundtrip(&mut seen).is_err();

    Story {
        first,
        stale,
        tested,
        after_test,
        unknown_mode,
        applied,
        after_apply,
        twice_refused,
    }
}

#[test]
fn configurations_are_cancelled_tested_failed_and_applied_as_the_protocol_says() {
    let mut c = Fixture::with_size((800, 600));
    let stream = UnixStream::connect(c.host_socket()).expect("the host socket");
    let client = std::thread::spawn(move || story(stream));
    let finished = c
        .dispatch_until(WAIT * 3, |_| client.is_finished())
        .expect("event loop runs");
    assert!(finished, "the client did not finish");
    // Let the compositor see the client go.
    let _ = c.dispatch(Duration::from_millis(10));
    let story = client.join().expect("the client thread");

    let (serial, name, size, position) = story.first.clone();
    assert_eq!(
        (name.as_str(), size, position),
        ("headless-1", (800, 600), (0, 0))
    );
    assert_eq!(story.stale, Some("cancelled"), "{story:?}");
    assert_eq!(story.tested, Some("succeeded"), "{story:?}");
    assert_eq!(story.after_test, (serial, (0, 0)), "test changed something");
    assert_eq!(story.unknown_mode, Some("failed"), "{story:?}");
    assert_eq!(story.applied, Some("succeeded"), "{story:?}");
    let (new_serial, size, transform, position) = story.after_apply;
    assert!(new_serial > serial, "no new done serial: {story:?}");
    assert_eq!(size, Some((1280, 720)));
    assert_eq!(transform, Some(WEnum::Value(wl_output::Transform::_270)));
    assert_eq!(position, (-10, 5));
    assert!(story.twice_refused, "a head configured twice was taken");

    let output = c.state.backend.output().clone();
    assert_eq!(output.current_transform(), Transform::_270);
    assert_eq!(
        output.current_mode().map(|m| (m.size.w, m.size.h)),
        Some((1280, 720))
    );
    assert_eq!(
        output.current_scale().fractional_scale(),
        1.0,
        "the test's scale stayed a test"
    );
}

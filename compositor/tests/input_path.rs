//! The one input path (`State::process_input_event`), seen by a real
//! client: scroll injected the way the headless backend injects input
//! reaches the window under the pointer as wl_pointer.axis.

mod lock_clients;

use std::path::Path;
use std::time::Duration;

use zion_compositor::backend::injected;
use zion_compositor::render::content_rect;
use zion_compositor::{BackendKind, Compositor, Options};
use zion_profiles::config::Config;

const WAIT: Duration = Duration::from_secs(10);

fn compositor(runtime: &Path) -> Compositor {
    let options = Options {
        backend: BackendKind::Headless,
        size: (320, 240),
        runtime_dir: runtime.to_owned(),
    };
    Compositor::new(Config::defaults(), &options).expect("compositor starts")
}

#[test]
fn a_wheel_scroll_reaches_the_window_under_the_pointer_as_axis_events() {
    let runtime = tempfile::tempdir().expect("runtime folder");
    let mut c = compositor(runtime.path());
    let profile = c.state.layout.active_desktop().name.clone();
    let socket = runtime.path().join("zion").join(&profile).join("wayland-0");
    let app = lock_clients::window(socket);
    let mapped = c
        .dispatch_until(WAIT, |s| !s.layout.visible().is_empty())
        .expect("event loop runs");
    assert!(mapped, "the window did not open: {:?}", app.seen());
    let rect = {
        let placed = &c.state.layout.visible()[0];
        content_rect(&placed.window, placed.pos)
    };
    let (x, y) = (
        f64::from(rect.x + rect.w / 2),
        f64::from(rect.y + rect.h / 2),
    );
    c.state.process_input_event(injected::place(x, y));
    let entered = c
        .dispatch_until(WAIT, |_| app.seen().pointer_enters > 0)
        .expect("event loop runs");
    assert!(entered, "the pointer did not enter: {:?}", app.seen());

    // Two clicks down of a wheel: 2 × 120 steps, 2 × 15 pixels.
    c.state
        .process_input_event(injected::scroll(injected::Scroll::wheel(2.0)));
    let scrolled = c
        .dispatch_until(WAIT, |_| !app.seen().axis.is_empty())
        .expect("event loop runs");
    let seen = app.seen();
    assert!(scrolled, "no wl_pointer.axis arrived: {seen:?}");
    assert_eq!(seen.axis, [30.0], "axis value");
    assert_eq!(seen.axis_v120, [240], "axis_value120");
}

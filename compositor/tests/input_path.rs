//! The one input path (`State::process_input_event`), seen by a real
//! client: scroll injected the way the headless backend injects input
//! reaches the window under the pointer as wl_pointer.axis.

use zion_compositor::backend::injected;
use zion_compositor::render::content_rect;
use zion_tests::compositor::Fixture;

#[test]
fn a_wheel_scroll_reaches_the_window_under_the_pointer_as_axis_events() {
    let mut c = Fixture::with_size((320, 240));
    let profile = c.state.layout.active_desktop().name.clone();
    let socket = c.profile_socket(&profile);
    let mut app = c.connect(&socket);
    app.seat().expect("the client binds the seat");
    app.window("profile app", (200, 100), 0x0080_8080)
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
    let entered = c
        .roundtrip_until(&mut app, |seen, _| seen.pointer_enters > 0)
        .expect("the client runs");
    assert!(entered, "the pointer did not enter: {:?}", app.seen);

    // Two clicks down of a wheel: 2 × 120 steps, 2 × 15 pixels.
    c.state
        .process_input_event(injected::scroll(injected::Scroll::wheel(2.0)));
    let scrolled = c
        .roundtrip_until(&mut app, |seen, _| !seen.axis.is_empty())
        .expect("the client runs");
    let seen = &app.seen;
    assert!(scrolled, "no wl_pointer.axis arrived: {seen:?}");
    assert_eq!(seen.axis, [30.0], "axis value");
    assert_eq!(seen.axis_v120, [240], "axis_value120");
}

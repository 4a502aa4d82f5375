//! The small protocols every client gets — cursor-shape, content-type and
//! pointer-gestures — each used by a real Wayland client, with input
//! injected through the one input path.

use smithay::input::pointer::{CursorIcon, CursorImageStatus};
use smithay::reexports::wayland_protocols::wp::content_type::v1::server::wp_content_type_v1::Type as ServerType;
use smithay::wayland::compositor::with_states;
use smithay::wayland::content_type::ContentTypeSurfaceCachedState;
use smithay::wayland::seat::WaylandFocus;
use wayland_protocols::wp::content_type::v1::client::wp_content_type_v1::Type;
use wayland_protocols::wp::cursor_shape::v1::client::wp_cursor_shape_device_v1::Shape;
use zion_compositor::backend::injected;
use zion_compositor::render::content_rect;
use zion_tests::compositor::Fixture;
use zion_tests::wayland::{Client, Swipe, TestWindow};

/// A work client with one window, the pointer over it.
fn window_under_pointer(c: &mut Fixture) -> (Client, TestWindow) {
    let socket = c.profile_socket("work");
    let mut app = c.connect(&socket);
    app.seat().expect("the client binds the seat");
    let window = app
        .window("app", (200, 100), 0x0080_8080)
        .expect("a window");
    let mapped = c
        .roundtrip_until(&mut app, |_, s| !s.layout.visible().is_empty())
        .expect("the client runs");
    assert!(mapped, "the window did not open");
    let rect = {
        let placed = &c.state.layout.visible()[0];
        content_rect(&placed.window, placed.pos)
    };
    c.state.process_input_event(injected::place(
        f64::from(rect.x + rect.w / 2),
        f64::from(rect.y + rect.h / 2),
    ));
    c.wait_seen(&mut app, "the pointer enters", |s| s.pointer_enters > 0);
    (app, window)
}

#[test]
fn the_client_under_the_pointer_sets_a_cursor_shape_and_another_cannot() {
    let mut c = Fixture::new();
    let (mut app, _window) = window_under_pointer(&mut c);
    app.set_cursor_shape(Shape::Text)
        .expect("cursor-shape offered");
    let set = c
        .roundtrip_until(&mut app, |_, s| {
            s.cursor_image == CursorImageStatus::Named(CursorIcon::Text)
        })
        .expect("the client runs");
    assert!(set, "the shape was not taken: {:?}", c.state.cursor_image);

    // A gaming client, nowhere near the pointer, cannot change it.
    let socket = c.profile_socket("gaming");
    let mut other = c.connect(&socket);
    other.seat().expect("the other client binds the seat");
    c.roundtrip(&mut other).expect("the other client runs");
    other
        .set_cursor_shape(Shape::Crosshair)
        .expect("cursor-shape offered");
    c.roundtrip(&mut other).expect("the other client runs");
    c.settle();
    assert_eq!(
        c.state.cursor_image,
        CursorImageStatus::Named(CursorIcon::Text),
        "a client without the pointer set the cursor"
    );
}

#[test]
fn a_surfaces_content_type_is_known_to_the_compositor() {
    let mut c = Fixture::new();
    let (mut app, window) = window_under_pointer(&mut c);
    app.set_content_type(&window.surface, Type::Game)
        .expect("content-type offered");
    c.roundtrip(&mut app).expect("the client runs");
    let surface = c.windows(0)[0]
        .wl_surface()
        .expect("a Wayland window")
        .into_owned();
    let kind = with_states(&surface, |states| {
        *states
            .cached_state
            .get::<ContentTypeSurfaceCachedState>()
            .current()
            .content_type()
    });
    assert_eq!(kind, ServerType::Game);
}

#[test]
fn a_touchpad_swipe_reaches_the_window_under_the_pointer() {
    let mut c = Fixture::new();
    let (mut app, _window) = window_under_pointer(&mut c);
    app.swipe_gestures().expect("pointer-gestures offered");
    c.roundtrip(&mut app).expect("the client runs");
    for event in injected::swipe(3, 12.0, -4.0) {
        c.state.process_input_event(event);
    }
    c.wait_seen(&mut app, "the swipe arrives", |s| s.swipes.len() >= 3);
    assert_eq!(
        app.seen.swipes,
        [
            Swipe::Begin(3),
            Swipe::Update(12.0, -4.0),
            Swipe::End(false)
        ]
    );
}

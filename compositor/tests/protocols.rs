//! The protocol policy and clipboard isolation, seen by real clients:
//! `wayland-info` lists the globals a socket offers; `wl-copy`/`wl-paste`
//! copy and paste through the data device.

use std::path::Path;

use wayland_client::protocol::wl_seat;
use wayland_protocols::wp::pointer_constraints::zv1::client::zwp_pointer_constraints_v1;
use zion_compositor::clipboard::{Domain, Kind};
use zion_compositor::{Compositor, Origin};
use zion_tests::compositor::programs::{self, clipboard_tools_missing};
use zion_tests::compositor::{profile_name, Fixture};

const WAYLAND_INFO: &str = "/usr/bin/wayland-info";

/// The globals only host clients may see.
const HOST_ONLY: [&str; 10] = [
    "zwlr_layer_shell_v1",
    "zwlr_screencopy_manager_v1",
    "zwp_virtual_keyboard_manager_v1",
    "zwp_input_method_manager_v2",
    "ext_foreign_toplevel_list_v1",
    "zwlr_data_control_manager_v1",
    "ext_data_control_manager_v1",
    "ext_session_lock_manager_v1",
    "ext_idle_notifier_v1",
    "zwlr_output_manager_v1",
];

/// The globals every client sees.
const EVERYONE: [&str; 16] = [
    "wp_tearing_control_manager_v1",
    "wl_compositor",
    "wl_shm",
    "wl_seat",
    "wl_output",
    "xdg_wm_base",
    "zxdg_decoration_manager_v1",
    "wl_data_device_manager",
    "wp_viewporter",
    "wp_fractional_scale_manager_v1",
    "wp_presentation",
    "wp_single_pixel_buffer_manager_v1",
    "zwp_relative_pointer_manager_v1",
    "zwp_pointer_constraints_v1",
    "zxdg_exporter_v2",
    "zxdg_importer_v2",
];

fn missing(program: &str, package: &str) -> bool {
    !zion_tests::skip::installed(program, package)
}

fn compositor() -> Fixture {
    Fixture::with_size((640, 480))
}

/// The interface names `wayland-info` lists on `socket`.
fn globals(c: &mut Compositor, socket: &Path) -> Vec<String> {
    let (ok, text) = programs::run(c, socket, WAYLAND_INFO, &[]);
    assert!(ok, "wayland-info failed on {}", socket.display());
    text.lines()
        .filter_map(|l| l.split("interface: '").nth(1))
        .filter_map(|rest| rest.split('\'').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn privileged_globals_are_listed_on_the_host_socket_only() {
    if missing(WAYLAND_INFO, "wayland-utils") {
        return;
    }
    let mut c = compositor();
    let host_socket = c.host_socket();
    let host = globals(&mut c, &host_socket);
    for profile in ["work", "personal"] {
        let socket = c.profile_socket(profile);
        let listed = globals(&mut c, &socket);
        for name in HOST_ONLY {
            assert!(host.iter().any(|g| g == name), "host lacks {name}");
            assert!(
                !listed.iter().any(|g| g == name),
                "{profile} socket lists host-only {name}"
            );
        }
        for name in EVERYONE {
            assert!(listed.iter().any(|g| g == name), "{profile} lacks {name}");
            assert!(host.iter().any(|g| g == name), "host lacks {name}");
        }
        let mut extra: Vec<&String> = host.iter().filter(|g| !listed.contains(g)).collect();
        extra.sort();
        extra.dedup();
        let mut expected: Vec<&str> = HOST_ONLY.to_vec();
        expected.sort();
        assert_eq!(extra, expected, "host minus {profile}");
    }
}

fn domain(profile: &str) -> Domain {
    Domain::Profile(profile_name(profile))
}

#[test]
fn clipboard_pastes_within_a_profile_and_nothing_across_profiles() {
    if clipboard_tools_missing() {
        return;
    }
    let mut c = compositor();
    let work = c.profile_socket("work");
    let personal = c.profile_socket("personal");
    let host = c.host_socket();

    let _copier = programs::copy(
        &mut c,
        &work,
        &domain("work"),
        "quarterly figures",
        Kind::Clipboard,
    );
    assert_eq!(
        programs::paste(&mut c, &work, Kind::Clipboard).as_deref(),
        Some("quarterly figures"),
        "a work client pastes what a work client copied"
    );
    // The host's wl-paste reads through data-control, which the design
    // grants trusted host tools (clipboard managers) only: it sees the
    // work clipboard without keyboard focus.
    assert_eq!(
        programs::paste(&mut c, &host, Kind::Clipboard).as_deref(),
        Some("quarterly figures"),
        "a host tool reads the clipboard through data-control"
    );
    let personal_desktop = c
        .state
        .layout
        .index_of("personal")
        .expect("personal desktop");
    c.state
        .do_action(zion_compositor::Action::SwitchTo(personal_desktop));
    assert_eq!(
        programs::paste(&mut c, &personal, Kind::Clipboard),
        None,
        "a personal client is offered nothing from work"
    );
    assert_eq!(
        c.state.selection_owners.clipboard,
        Some(Origin::Profile("work".parse().expect("profile name"))),
        "the work selection is still held"
    );
}

#[test]
fn primary_selection_stays_within_its_profile() {
    if clipboard_tools_missing() {
        return;
    }
    let mut c = compositor();
    let work = c.profile_socket("work");
    let personal = c.profile_socket("personal");
    let _copier = programs::copy(
        &mut c,
        &work,
        &domain("work"),
        "selected words",
        Kind::Primary,
    );
    assert_eq!(
        programs::paste(&mut c, &work, Kind::Primary).as_deref(),
        Some("selected words")
    );
    let personal_desktop = c
        .state
        .layout
        .index_of("personal")
        .expect("personal desktop");
    c.state
        .do_action(zion_compositor::Action::SwitchTo(personal_desktop));
    assert_eq!(programs::paste(&mut c, &personal, Kind::Primary), None);
}

/// The game's window size.
const GAME: (i32, i32) = (200, 100);

#[test]
fn a_confined_pointer_stops_at_the_window_edge_and_follows_the_focus() {
    use zion_compositor::render::content_rect;

    // A game-like client: one toplevel that confines the pointer
    // (persistently); later it opens a second window, as a chat or
    // launcher popping up would.
    let mut c = compositor();
    let mut client = c.add_client(Origin::Profile(profile_name("work")));
    let seat: wl_seat::WlSeat = client.bind(1..=5).expect("wl_seat");
    let constraints: zwp_pointer_constraints_v1::ZwpPointerConstraintsV1 =
        client.bind(1..=1).expect("zwp_pointer_constraints_v1");
    let pointer = seat.get_pointer(&client.qh, ());
    let window = client
        .window("game", GAME, 0x0080_8080)
        .expect("game window");
    let _confined = constraints.confine_pointer(
        &window.surface,
        &pointer,
        None,
        zwp_pointer_constraints_v1::Lifetime::Persistent,
        &client.qh,
        (),
    );
    // The last place the pointer entered or moved to on the game's window.
    let at = |seen: &zion_tests::wayland::Seen| {
        seen.pointer
            .as_ref()
            .filter(|(s, _, _)| s == &window.surface)
            .map(|(_, x, y)| (*x, *y))
    };
    let mapped = c
        .roundtrip_until(&mut client, |_, s| !s.layout.visible().is_empty())
        .expect("client runs");
    assert!(
        mapped,
        "the client's window did not open: {:?}",
        client.seen
    );
    let (game, rect) = {
        let placed = &c.state.layout.visible()[0];
        (
            placed.window.clone(),
            content_rect(&placed.window, placed.pos),
        )
    };
    let (w, h) = GAME;
    assert_eq!((rect.w, rect.h), (w, h), "window size");

    // The pointer comes over the window: the confinement applies.
    let (cx, cy) = (f64::from(rect.x + w / 2), f64::from(rect.y + h / 2));
    c.state.pointer_motion_absolute(cx, cy);
    let confined = c
        .roundtrip_until(&mut client, |seen, _| seen.confined == 1)
        .expect("client runs");
    assert!(confined, "no confined event: {:?}", client.seen);

    // A mouse flick far past the bottom-right corner stops at it.
    c.state.pointer_motion(cx + 1000.0, cy + 1000.0);
    let corner = (f64::from(w - 1), f64::from(h - 1));
    let stopped = c
        .roundtrip_until(&mut client, |seen, _| at(seen) == Some(corner))
        .expect("client runs");
    assert!(stopped, "pointer not at the corner: {:?}", client.seen);
    let at_now = c
        .state
        .seat
        .get_pointer()
        .map(|p| p.current_location())
        .expect("seat has a pointer");
    assert_eq!(
        (at_now.x, at_now.y),
        (f64::from(rect.x) + corner.0, f64::from(rect.y) + corner.1),
        "the compositor's pointer left the window"
    );

    // Another window takes the focus: the pointer is free again.
    let _chat = client
        .window("chat", GAME, 0x0080_8080)
        .expect("chat window");
    let freed = c
        .roundtrip_until(&mut client, |seen, _| seen.unconfined >= 1)
        .expect("client runs");
    assert!(freed, "no unconfined event: {:?}", client.seen);

    // Over the game again, but the chat has the focus: the pointer moves
    // freely; a click on the game focuses it and confines the pointer.
    let rect = c
        .state
        .layout
        .visible()
        .iter()
        .find(|p| p.window == game)
        .map(|p| content_rect(&p.window, p.pos))
        .expect("the game's window is shown");
    // The chat opens cascaded over the game; its top-left stays bare.
    let (x, y) = (f64::from(rect.x + 10), f64::from(rect.y + 10));
    c.state.pointer_motion_absolute(x, y);
    let over = c
        .roundtrip_until(&mut client, |seen, _| at(seen) == Some((10.0, 10.0)))
        .expect("client runs");
    assert!(over, "pointer not over the game: {:?}", client.seen);
    assert_eq!(client.seen.confined, 1, "confined while unfocused");
    c.state
        .pointer_button(zion_compositor::input::BTN_LEFT, true);
    c.state
        .pointer_button(zion_compositor::input::BTN_LEFT, false);
    let again = c
        .roundtrip_until(&mut client, |seen, _| seen.confined == 2)
        .expect("client runs");
    assert!(again, "not confined after the click: {:?}", client.seen);
    assert_eq!(client.protocol_error(), None, "client");
}

//! The protocol policy seen by real clients: `wayland-info` lists which
//! globals each socket offers, and a small layer-shell panel (a real
//! wayland-client program, run in a thread of this test) is configured,
//! drawn, and pushes a maximized `foot` window down by its exclusive zone.

use std::path::Path;

use wayland_client::protocol::wl_compositor;
use wayland_protocols_wlr::layer_shell::v1::client::{zwlr_layer_shell_v1, zwlr_layer_surface_v1};
use zion_compositor::frame::{maximized_content, Decoration};
use zion_compositor::layout::Mode;
use zion_compositor::render::content_rect;
use zion_compositor::{Compositor, Origin};
use zion_tests::compositor::{programs, Fixture, WAIT};
use zion_tests::wayland::{Client, ClientError};

const WAYLAND_INFO: &str = "/usr/bin/wayland-info";
const FOOT: &str = "/usr/bin/foot";

/// Globals every client sees, host or profile.
const EVERYONE: [&str; 13] = [
    "wp_presentation",
    "zwp_idle_inhibit_manager_v1",
    "wp_tearing_control_manager_v1",
    "wp_single_pixel_buffer_manager_v1",
    "zwp_relative_pointer_manager_v1",
    "zwp_pointer_constraints_v1",
    "zwp_keyboard_shortcuts_inhibit_manager_v1",
    "xdg_activation_v1",
    "wp_cursor_shape_manager_v1",
    "wp_content_type_manager_v1",
    "zwp_pointer_gestures_v1",
    "zxdg_exporter_v2",
    "zxdg_importer_v2",
];

/// Globals only host clients see.
const HOST_ONLY: [&str; 6] = [
    "ext_idle_notifier_v1",
    "zwlr_output_manager_v1",
    "zwlr_data_control_manager_v1",
    "ext_data_control_manager_v1",
    "zwlr_layer_shell_v1",
    "zwlr_screencopy_manager_v1",
];

/// The panel's height and exclusive zone.
const PANEL_HEIGHT: u32 = 40;
/// The panel's colour, as drawn (XRGB8888 0x00c85020).
const PANEL_RGB: (u8, u8, u8) = (0xc8, 0x50, 0x20);

fn missing(program: &str, package: &str) -> bool {
    !zion_tests::skip::installed(program, package)
}

/// What `wayland-info` lists on `socket`.
fn globals_on(c: &mut Compositor, socket: &Path) -> String {
    let (ok, out) = programs::run(c, socket, WAYLAND_INFO, &[]);
    assert!(ok, "wayland-info failed on {socket:?}");
    out
}

fn lists(info: &str, interface: &str) -> bool {
    info.lines()
        .any(|l| l.contains(&format!("'{interface}'")) || l.contains(&format!(": {interface},")))
}

#[test]
fn presentation_pointer_and_single_pixel_globals_are_for_everyone_data_control_for_the_host() {
    if missing(WAYLAND_INFO, "wayland-utils") {
        return;
    }
    let mut c = Fixture::new();
    let (host, work) = (c.host_socket(), c.profile_socket("work"));
    let host = globals_on(&mut c, &host);
    let work = globals_on(&mut c, &work);
    assert!(lists(&host, "wl_compositor"), "wayland-info output: {host}");
    for global in EVERYONE {
        assert!(lists(&host, global), "the host does not see {global}");
        assert!(lists(&work, global), "a profile does not see {global}");
    }
    for global in HOST_ONLY {
        assert!(lists(&host, global), "the host does not see {global}");
        assert!(!lists(&work, global), "a profile sees {global}");
    }
}

/// A host panel along the top edge, `PANEL_HEIGHT` high with as much
/// exclusive zone, taking the keyboard, drawn once configured; returns the
/// client and the size it was configured with.
fn start_panel(c: &mut Fixture) -> Result<(Client, (u32, u32)), ClientError> {
    let mut panel = c.add_client(Origin::Host);
    let compositor: wl_compositor::WlCompositor = panel.bind(4..=4)?;
    let shell: zwlr_layer_shell_v1::ZwlrLayerShellV1 = panel.bind(1..=4)?;
    let surface = compositor.create_surface(&panel.qh, ());
    let layer = shell.get_layer_surface(
        &surface,
        None,
        zwlr_layer_shell_v1::Layer::Top,
        "panel".into(),
        &panel.qh,
        (),
    );
    use zwlr_layer_surface_v1::Anchor;
    layer.set_anchor(Anchor::Top | Anchor::Left | Anchor::Right);
    layer.set_size(0, PANEL_HEIGHT);
    layer.set_exclusive_zone(PANEL_HEIGHT as i32);
    layer.set_keyboard_interactivity(zwlr_layer_surface_v1::KeyboardInteractivity::Exclusive);
    surface.commit();
    let told = c.roundtrip_until(&mut panel, |seen, _| {
        seen.layer_closed || seen.layer_configure.is_some()
    })?;
    if panel.seen.layer_closed {
        return Err(ClientError("the panel was closed".into()));
    }
    let Some((serial, width, height)) = panel.seen.layer_configure.filter(|_| told) else {
        return Err(ClientError("no configure".into()));
    };
    layer.ack_configure(serial);
    let buffer = panel.shm_buffer((width as i32, height as i32), 0x00c8_5020)?;
    surface.attach(Some(&buffer.buffer), 0, 0);
    surface.damage_buffer(0, 0, width as i32, height as i32);
    surface.commit();
    c.roundtrip(&mut panel)?;
    Ok((panel, (width, height)))
}

#[test]
fn a_host_panel_is_drawn_on_top_and_its_exclusive_zone_pushes_maximized_windows_down() {
    if missing(FOOT, "foot") {
        return;
    }
    let mut c = Fixture::new();
    let work = c.profile_socket("work");
    c.spawn(
        &work,
        FOOT,
        &["--config=/dev/null", "--maximized", "sleep", "30"],
    );
    let out = c.state.output_rect();
    let full = maximized_content(out, Decoration::Full);
    let opened = c
        .dispatch_until(WAIT, |s| {
            s.layout
                .visible()
                .iter()
                .any(|p| p.mode == Mode::Maximized && p.window.geometry().size.h == full.h)
        })
        .expect("event loop runs");
    assert!(opened, "foot did not open maximized");

    let (mut panel, configured) = start_panel(&mut c).expect("the panel starts");
    let shrunk = Decoration::Full;
    let pushed = c
        .dispatch_until(WAIT, |s| {
            let area = maximized_content(s.usable_rect(), shrunk);
            s.layout.visible().iter().any(|p| {
                let content = content_rect(&p.window, p.pos);
                area.y == full.y + PANEL_HEIGHT as i32 && content == area
            })
        })
        .expect("event loop runs");
    let usable = c.state.usable_rect();
    assert!(
        pushed,
        "the maximized window was not fitted below the panel (usable area {usable:?})"
    );
    assert_eq!(usable.y, PANEL_HEIGHT as i32, "the panel's exclusive zone");
    assert_eq!(usable.h, out.h - PANEL_HEIGHT as i32);

    // The panel holds the keyboard: it asked for exclusive interactivity.
    let panel_has_keyboard = c
        .dispatch_until(WAIT, |s| {
            let focus = s.seat.get_keyboard().and_then(|k| k.current_focus());
            focus.is_some() && focus == s.layer_keyboard_focus()
        })
        .expect("event loop runs");
    assert!(
        panel_has_keyboard,
        "the exclusive panel did not get the keyboard"
    );

    c.roundtrip(&mut panel).expect("the panel runs");
    c.settle();
    let shot = c.screenshot().expect("screenshot");
    for (x, y) in [
        (0, 0),
        (out.w / 2, PANEL_HEIGHT as i32 / 2),
        (out.w - 1, 39),
    ] {
        assert_eq!(shot.pixel(x, y), Some(PANEL_RGB), "panel pixel at {x},{y}");
    }
    assert_ne!(
        shot.pixel(out.w / 2, PANEL_HEIGHT as i32 + 2),
        Some(PANEL_RGB),
        "the panel is taller than it asked"
    );

    assert_eq!(panel.protocol_error(), None, "the panel");
    assert_eq!(configured, (out.w as u32, PANEL_HEIGHT));
}

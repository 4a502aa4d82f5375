//! wlr-screencopy and tearing-control seen by real clients: `grim` on the
//! host socket writes a PNG of what the compositor shows (a work window in
//! its frame), `grim` on a profile socket finds no screencopy; a
//! wayland-client program gets `ready` for a good buffer and the protocol
//! error for a bad one; a game-like client sets the tearing hint, which
//! applies on commit, reverts when its object goes, and cannot be doubled.

use std::path::Path;

use wayland_client::protocol::{wl_output, wl_shm};
use wayland_client::WEnum;
use wayland_protocols::wp::tearing_control::v1::client::{
    wp_tearing_control_manager_v1, wp_tearing_control_v1,
};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1, zwlr_screencopy_manager_v1,
};
use zion_compositor::layout::Rect;
use zion_compositor::tearing::wants_tearing;
use zion_compositor::{Origin, Screenshot};
use zion_config::Config;
use zion_tests::compositor::programs::{self, command};
use zion_tests::compositor::{profile_name, read_png, Fixture, WAIT};
use zion_tests::wayland::ClientError;

const GRIM: &str = "/usr/bin/grim";
const SIMPLE_SHM: &str = "/usr/bin/weston-simple-shm";
const SIZE: (i32, i32) = (800, 600);

fn missing(program: &str, package: &str) -> bool {
    !zion_tests::skip::installed(program, package)
}

/// A `weston-simple-shm` window on the work desktop (the first, shown
/// one), drawn and settled; returns its content rect.
fn work_window(h: &mut Fixture) -> Rect {
    let work = h.profile_socket("work");
    h.spawn(&work, SIMPLE_SHM, &[]);
    let window = h.wait_for_window(0, |_, _| true);
    h.content(&window)
}

/// Runs grim with `args` on `socket` while the compositor dispatches;
/// returns whether it succeeded and its standard error.
fn grim(h: &mut Fixture, socket: &Path, args: &[&str]) -> (bool, String) {
    let mut cmd = command(socket, GRIM);
    cmd.args(args);
    let (ok, _, stderr) = programs::run_for(h, cmd, None, WAIT)
        .unwrap_or_else(|| panic!("grim {args:?} did not finish within {WAIT:?}"));
    (ok, stderr)
}

fn png_pixel(img: &Screenshot, x: i32, y: i32) -> (u8, u8, u8) {
    img.pixel(x, y).expect("a pixel of the image")
}

fn inside(r: Rect, x: i32, y: i32) -> bool {
    x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h
}

/// Asserts grim's image equals the compositor's own screenshot at `origin`,
/// except inside `animated` (weston-simple-shm draws a new frame each
/// time); returns how many pixels were compared.
fn assert_same(img: &Screenshot, shot: &Screenshot, origin: (i32, i32), animated: Rect) -> usize {
    let mut compared = 0;
    for y in 0..img.height as i32 {
        for x in 0..img.width as i32 {
            let (sx, sy) = (origin.0 + x, origin.1 + y);
            if inside(animated, sx, sy) {
                continue;
            }
            assert_eq!(
                Some(png_pixel(img, x, y)),
                shot.pixel(sx, sy),
                "grim's pixel {x},{y} (output {sx},{sy}) differs from the compositor's"
            );
            compared += 1;
        }
    }
    compared
}

#[test]
fn grim_on_the_host_socket_captures_the_output_as_shown() {
    if missing(GRIM, "grim") || missing(SIMPLE_SHM, "weston") {
        return;
    }
    let mut h = Fixture::with_size(SIZE);
    let content = work_window(&mut h);
    let out = tempfile::tempdir().expect("output folder");
    let png_path = out.path().join("shot.png");
    let host = h.host_socket();
    let (ok, stderr) = grim(&mut h, &host, &[png_path.to_str().expect("utf-8 path")]);
    assert!(ok, "grim failed on the host socket: {stderr}");
    let img = read_png(&png_path);
    assert_eq!(
        (img.width, img.height),
        (SIZE.0 as u32, SIZE.1 as u32),
        "grim's image size"
    );

    let shot = h.screenshot().expect("screenshot");
    let compared = assert_same(&img, &shot, (0, 0), content);
    assert!(compared > 400_000, "only {compared} pixels compared");
    // What a user sees: the work window's frame in the work colour, left
    // of the content and under it.
    let work = Config::defaults().profiles[0].colour;
    let work = (work.r, work.g, work.b);
    let mid_y = content.y + content.h / 2;
    assert_eq!(png_pixel(&img, content.x - 2, mid_y), work, "left border");
    assert_eq!(
        png_pixel(&img, content.x + content.w / 2, content.y + content.h + 2),
        work,
        "bottom border"
    );
    // The window's own pixels are there too, not background.
    let background = png_pixel(&img, SIZE.0 - 1, SIZE.1 - 1);
    let centre = png_pixel(&img, content.x + content.w / 2, mid_y);
    assert_ne!(centre, background, "the window's content is missing");

    // A region: grim -g asks for capture_output_region.
    let region = Rect::new(content.x - 20, content.y - 40, 60, 50);
    let geometry = format!("{},{} {}x{}", region.x, region.y, region.w, region.h);
    let part = out.path().join("part.png");
    let (ok, stderr) = grim(
        &mut h,
        &host,
        &["-g", &geometry, part.to_str().expect("utf-8 path")],
    );
    assert!(ok, "grim -g {geometry} failed: {stderr}");
    let img = read_png(&part);
    assert_eq!((img.width, img.height), (60, 50), "grim's region size");
    let shot = h.screenshot().expect("screenshot");
    let compared = assert_same(&img, &shot, (region.x, region.y), content);
    assert!(compared > 1000, "only {compared} region pixels compared");
    assert_eq!(png_pixel(&img, 18, 45), work, "left border in the region");
}

#[test]
fn grim_on_a_profile_socket_fails_for_want_of_screencopy() {
    if missing(GRIM, "grim") {
        return;
    }
    let mut h = Fixture::with_size(SIZE);
    let out = tempfile::tempdir().expect("output folder");
    let png_path = out.path().join("shot.png");
    let work = h.profile_socket("work");
    let (ok, stderr) = grim(&mut h, &work, &[png_path.to_str().expect("utf-8 path")]);
    assert!(!ok, "grim succeeded on a profile socket");
    assert!(
        stderr.contains("screencopy"),
        "grim failed for another reason: {stderr}"
    );
    assert!(
        !png_path.exists(),
        "grim wrote an image on a profile socket"
    );
}

/// How a copy ended.
#[derive(Debug)]
enum Copied {
    /// `ready`: the buffer's first pixel (XRGB8888) and the timestamp.
    Ready { first: u32, secs: u64 },
    /// `failed`.
    Failed,
    /// A protocol error: (interface, code).
    Error(String, u32),
}

/// Captures the output as a host client into a buffer `extra_width`
/// pixels wider than the compositor asks for.
fn copy_output(h: &mut Fixture, extra_width: i32) -> Result<Copied, ClientError> {
    let mut client = h.add_client(Origin::Host);
    let output: wl_output::WlOutput = client.bind(1..=4)?;
    let manager: zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1 = client.bind(3..=3)?;
    let frame = manager.capture_output(0, &output, &client.qh, ());
    let told = h.roundtrip_until(&mut client, |seen, _| {
        seen.screencopy.buffer_done || seen.screencopy.failed
    })?;
    let Some((format, w, hh, stride)) = client.seen.screencopy.buffer.filter(|_| told) else {
        return Err(ClientError("no buffer event".into()));
    };
    if format != WEnum::Value(wl_shm::Format::Xrgb8888) || stride != w * 4 {
        return Err(ClientError(format!(
            "unexpected buffer {format:?} stride {stride}"
        )));
    }
    let mut buffer = client.shm_buffer((w as i32 + extra_width, hh as i32), 0)?;
    frame.copy(&buffer.buffer);
    let outcome = h.roundtrip_until(&mut client, |seen, _| {
        seen.screencopy.ready.is_some() || seen.screencopy.failed
    });
    if let Some((interface, code)) = client.protocol_error() {
        return Ok(Copied::Error(interface, code));
    }
    if !outcome? {
        return Err(ClientError("timed out".into()));
    }
    let copy = &client.seen.screencopy;
    if copy.failed {
        return Ok(Copied::Failed);
    }
    if !copy.flags {
        return Err(ClientError("ready without flags".into()));
    }
    let (secs, _) = copy.ready.ok_or(ClientError("no ready".into()))?;
    Ok(Copied::Ready {
        first: buffer.first_pixel()?,
        secs,
    })
}

#[test]
fn a_good_buffer_gets_ready_with_the_pixels_a_wrong_one_the_protocol_error() {
    let mut h = Fixture::with_size(SIZE);
    let shot = h.screenshot().expect("screenshot");
    let (r, g, b) = shot.pixel(0, 0).expect("a pixel");
    let copied = copy_output(&mut h, 0);
    match copied {
        Ok(Copied::Ready { first, secs }) => {
            let want = (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b);
            assert_eq!(first & 0x00ff_ffff, want, "the first pixel (XRGB)");
            assert!(secs > 0, "ready carries no timestamp");
        }
        other => panic!("a good buffer was not copied: {other:?}"),
    }
    let copied = copy_output(&mut h, 1);
    match copied {
        Ok(Copied::Error(interface, code)) => {
            assert_eq!(interface, "zwlr_screencopy_frame_v1");
            assert_eq!(
                code,
                zwlr_screencopy_frame_v1::Error::InvalidBuffer as u32,
                "the error code"
            );
        }
        other => panic!("a buffer one pixel too wide was not refused: {other:?}"),
    }
    // The compositor goes on serving others.
    let copied = copy_output(&mut h, 0);
    assert!(
        matches!(copied, Ok(Copied::Ready { .. })),
        "after a refused buffer: {copied:?}"
    );
}

/// The steps of the game client, each reported after a roundtrip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The window is drawn, no tearing control yet.
    Mapped,
    /// async set, not committed.
    HintSet,
    /// async committed.
    Committed,
    /// The tearing object destroyed, not committed.
    Destroyed,
    /// Committed after the destroy.
    Reverted,
}

const STEPS: [Step; 5] = [
    Step::Mapped,
    Step::HintSet,
    Step::Committed,
    Step::Destroyed,
    Step::Reverted,
];

#[test]
fn the_tearing_hint_applies_on_commit_reverts_with_its_object_and_is_one_per_surface() {
    // A game-like window on the work socket going through `STEPS`; at last
    // it asks for two tearing objects for one surface.
    let mut h = Fixture::with_size(SIZE);
    let mut game = h.add_client(Origin::Profile(profile_name("work")));
    let manager: wp_tearing_control_manager_v1::WpTearingControlManagerV1 =
        game.bind(1..=1).expect("wp_tearing_control_manager_v1");
    let window = game.window("game", (64, 48), 0x0080_8080).expect("window");
    let surface = &window.surface;
    let expect = [false, false, true, true, false];
    let mut control = None;
    for (step, want) in STEPS.into_iter().zip(expect) {
        match step {
            Step::Mapped => {}
            Step::HintSet => {
                let c = manager.get_tearing_control(surface, &game.qh, ());
                c.set_presentation_hint(wp_tearing_control_v1::PresentationHint::Async);
                control = Some(c);
            }
            Step::Committed | Step::Reverted => surface.commit(),
            Step::Destroyed => {
                if let Some(c) = control.take() {
                    c.destroy();
                }
            }
        }
        let reached = h
            .roundtrip_until(&mut game, |seen, s| {
                seen.configured > 0 && !s.layout.desktops()[0].windows().is_empty()
            })
            .unwrap_or_else(|e| panic!("game client after {step:?}: {e}"));
        assert!(reached, "the game client stopped before {step:?}");
        let surface = h.state.layout.desktops()[0]
            .windows()
            .iter()
            .find_map(|p| p.window.toplevel().map(|t| t.wl_surface().clone()))
            .expect("the game's window is on the work desktop");
        assert_eq!(
            wants_tearing(&surface),
            want,
            "wants_tearing after {step:?}"
        );
    }

    // One object again is fine after the destroy; a second is an error.
    let _first = manager.get_tearing_control(surface, &game.qh, ());
    let _second = manager.get_tearing_control(surface, &game.qh, ());
    let _ = h.roundtrip(&mut game);
    let (interface, code) = game.protocol_error().unwrap_or_else(|| {
        panic!("game client: a second tearing control object for one surface was accepted")
    });
    assert_eq!(interface, "wp_tearing_control_manager_v1");
    assert_eq!(
        code,
        wp_tearing_control_manager_v1::Error::TearingControlExists as u32
    );
}

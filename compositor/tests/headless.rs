//! The compositor run headless in this process, with real Wayland clients
//! (`weston-simple-shm`) connecting to the profile and host sockets, and
//! assertions on the pixels it draws.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use smithay::desktop::Window;
use zion_compositor::frame::{
    fullscreen_content, maximized_content, Decoration, BORDER, LABEL_HEIGHT, TITLE_HEIGHT,
};
use zion_compositor::input::{keys, BTN_LEFT, BTN_RIGHT};
use zion_compositor::layout::{Mode, Rect};
use zion_compositor::state::HOST_COLOUR;
use zion_compositor::Screenshot;
use zion_config::Config;
use zion_tests::compositor::programs::{self, FOOT};
use zion_tests::compositor::{rgb, Fixture, WAIT};

const SIMPLE_SHM: &str = "/usr/bin/weston-simple-shm";

/// The background colour as drawn (see `render::BACKGROUND`).
fn background(shot: &Screenshot) -> (u8, u8, u8) {
    shot.pixel(shot.width as i32 - 1, shot.height as i32 - 1)
        .expect("the output has pixels")
}

fn simple_shm_missing() -> bool {
    !zion_tests::skip::installed(SIMPLE_SHM, "weston")
}

/// What these tests start and wait for on the fixture.
trait Headless {
    /// Starts `weston-simple-shm` on the socket at `socket` (a path).
    fn spawn_simple_shm(&mut self, socket: &Path) -> usize;
    /// Starts `foot` on a profile's socket, preferring `csd` decorations.
    fn spawn_foot(&mut self, profile: &str, csd: &str);
    /// Starts foot with `args` before its command (`--maximized`, `--fullscreen`).
    fn spawn_foot_with(&mut self, profile: &str, csd: &str, args: &[&str]);
    /// Waits until `window`'s drawn size is `size`.
    fn wait_for_size(&mut self, window: &Window, size: (i32, i32));
    /// The output's rectangle.
    fn output(&self) -> Rect;
}

impl Headless for Fixture {
    fn spawn_simple_shm(&mut self, socket: &Path) -> usize {
        self.spawn(socket, SIMPLE_SHM, &[])
    }

    fn spawn_foot(&mut self, profile: &str, csd: &str) {
        self.spawn_foot_with(profile, csd, &[]);
    }

    fn spawn_foot_with(&mut self, profile: &str, csd: &str, args: &[&str]) {
        let socket = self.profile_socket(profile);
        let foot = programs::foot(self.runtime(), &socket, csd, &[], args);
        self.keep(foot);
    }

    fn wait_for_size(&mut self, window: &Window, size: (i32, i32)) {
        let ok = self
            .dispatch_until(WAIT, |_| {
                let g = window.geometry().size;
                (g.w, g.h) == size
            })
            .expect("event loop runs");
        let g = window.geometry().size;
        assert!(ok, "the window is {}x{}, not {size:?}", g.w, g.h);
        self.settle();
    }

    fn output(&self) -> Rect {
        self.state.output_rect()
    }
}

/// Asserts that the frame around `content` is drawn in `colour`.
fn assert_framed(shot: &Screenshot, content: Rect, colour: (u8, u8, u8)) {
    let mid_x = content.x + content.w / 2;
    let mid_y = content.y + content.h / 2;
    let probes = [
        // The title bar's right end: the label is left-aligned and cut
        // short of it.
        (
            "title bar",
            content.x + content.w + BORDER - 3,
            content.y - TITLE_HEIGHT / 2,
        ),
        ("left border", content.x - BORDER / 2 - 1, mid_y),
        ("right border", content.x + content.w + BORDER / 2, mid_y),
        ("bottom border", mid_x, content.y + content.h + BORDER / 2),
    ];
    for (what, x, y) in probes {
        assert_eq!(shot.pixel(x, y), Some(colour), "{what} at {x},{y}");
    }
}

#[test]
fn work_client_opens_on_work_desktop_framed_in_work_colour() {
    if simple_shm_missing() {
        return;
    }
    let mut h = Fixture::new();
    let socket = h.profile_socket("work");
    h.spawn_simple_shm(&socket);
    let windows = h.wait_for_windows(0, 1);
    let state = &h.state;
    assert_eq!(state.layout.active(), 0);
    assert!(state.layout.desktops()[1].windows().is_empty());
    assert!(state.layout.desktops()[2].windows().is_empty());

    let shot = h.shot();
    let content = h.content(&windows[0]);
    let work = rgb(Config::defaults().profiles[0].colour);
    assert_framed(&shot, content, work);
    let bg = background(&shot);
    let centre = shot
        .pixel(content.x + content.w / 2, content.y + content.h / 2)
        .expect("centre on screen");
    assert_ne!(centre, bg, "the client's content is drawn");
    let frame_area =
        (content.w + 2 * BORDER) * (content.h + TITLE_HEIGHT + 2 * BORDER) - content.w * content.h;
    // The label's letters take at most half of the title bar.
    let text_allowance = (content.w + 2 * BORDER) * TITLE_HEIGHT / 2;
    assert!(shot.count(work) >= (frame_area - text_allowance) as usize);
    for other in &Config::defaults().profiles[1..] {
        assert_eq!(shot.count(rgb(other.colour)), 0, "{} colour", other.name);
    }

    let png = h.runtime().join("shot.png");
    shot.write_png(&png).expect("PNG written");
    let decoder = png::Decoder::new(std::fs::File::open(&png).expect("PNG opens"));
    let reader = decoder.read_info().expect("PNG decodes");
    assert_eq!(
        (reader.info().width, reader.info().height),
        (shot.width, shot.height)
    );
}

#[test]
fn switching_desktop_hides_the_window_and_its_focus() {
    if simple_shm_missing() {
        return;
    }
    let mut h = Fixture::new();
    let socket = h.profile_socket("work");
    h.spawn_simple_shm(&socket);
    let windows = h.wait_for_windows(0, 1);
    let surface = windows[0].toplevel().map(|t| t.wl_surface().clone());
    let keyboard = h.state.seat.get_keyboard().expect("keyboard");
    assert_eq!(
        keyboard.current_focus(),
        surface,
        "the new window has focus"
    );

    h.super_key(keys::DIGIT_1 + 1);
    assert_eq!(h.state.layout.active(), 1);
    let shot = h.shot();
    let bg = background(&shot);
    assert_eq!(
        shot.count(bg),
        (shot.width * shot.height) as usize,
        "the gaming desktop shows nothing"
    );
    assert_eq!(
        keyboard.current_focus(),
        None,
        "no focus on a hidden window"
    );

    h.super_key(keys::DIGIT_1);
    assert_eq!(h.state.layout.active(), 0);
    let shot = h.shot();
    assert_framed(
        &shot,
        h.content(&windows[0]),
        rgb(Config::defaults().profiles[0].colour),
    );
    assert_eq!(keyboard.current_focus(), surface, "focus comes back");
}

#[test]
fn personal_client_lands_on_personal_desktop() {
    if simple_shm_missing() {
        return;
    }
    let mut h = Fixture::new();
    let socket = h.profile_socket("personal");
    h.spawn_simple_shm(&socket);
    let windows = h.wait_for_windows(2, 1);
    assert_eq!(h.state.layout.active(), 0, "no desktop switch");
    let shot = h.shot();
    let bg = background(&shot);
    assert_eq!(shot.count(bg), (shot.width * shot.height) as usize);

    h.super_key(keys::TAB);
    h.super_key(keys::TAB);
    assert_eq!(h.state.layout.active(), 2);
    let shot = h.shot();
    assert_framed(
        &shot,
        h.content(&windows[0]),
        rgb(Config::defaults().profiles[2].colour),
    );
}

#[test]
fn host_client_opens_on_the_shown_desktop_in_host_colour() {
    if simple_shm_missing() {
        return;
    }
    let mut h = Fixture::new();
    h.state.do_action(zion_compositor::Action::SwitchTo(1));
    let socket = h.runtime().join(zion_compositor::sockets::HOST_SOCKET);
    h.spawn_simple_shm(&socket);
    let windows = h.wait_for_windows(1, 1);
    let shot = h.shot();
    assert_framed(&shot, h.content(&windows[0]), rgb(HOST_COLOUR));
}

#[test]
fn windows_of_two_profiles_stay_on_their_own_desktops() {
    if simple_shm_missing() {
        return;
    }
    let mut h = Fixture::new();
    let work = h.profile_socket("work");
    let gaming = h.profile_socket("gaming");
    h.spawn_simple_shm(&work);
    h.spawn_simple_shm(&gaming);
    let w = h.wait_for_windows(0, 1);
    let g = h.wait_for_windows(1, 1);
    let colours = Config::defaults();
    let shot = h.shot();
    assert_framed(&shot, h.content(&w[0]), rgb(colours.profiles[0].colour));
    assert_eq!(shot.count(rgb(colours.profiles[1].colour)), 0);
    h.super_key(keys::DIGIT_1 + 1);
    let shot = h.shot();
    assert_framed(&shot, h.content(&g[0]), rgb(colours.profiles[1].colour));
    assert_eq!(shot.count(rgb(colours.profiles[0].colour)), 0);
}

#[test]
fn killed_client_leaves_the_compositor_running() {
    if simple_shm_missing() {
        return;
    }
    let mut h = Fixture::new();
    let socket = h.profile_socket("work");
    let i = h.spawn_simple_shm(&socket);
    h.wait_for_windows(0, 1);
    h.kill(i);
    let gone = h
        .dispatch_until(WAIT, |s| s.layout.desktops()[0].windows().is_empty())
        .expect("event loop runs");
    assert!(gone, "the dead client's window is removed");
    let shot = h.shot();
    let bg = background(&shot);
    assert_eq!(shot.count(bg), (shot.width * shot.height) as usize);

    h.spawn_simple_shm(&socket);
    h.wait_for_windows(0, 1);
}

#[test]
fn sockets_sit_in_per_profile_folders_only_their_owner_may_enter() {
    let h = Fixture::new();
    assert!(h
        .runtime()
        .join(zion_compositor::sockets::HOST_SOCKET)
        .exists());
    for p in Config::defaults().profiles {
        let socket = h.profile_socket(p.name.as_ref());
        assert!(socket.exists(), "{}", socket.display());
        let dir = socket.parent().expect("folder");
        let mode = std::fs::metadata(dir).expect("folder").permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    }
    let paths: Vec<PathBuf> = h.state.listeners.iter().map(|l| l.path.clone()).collect();
    drop(h);
    for p in paths {
        assert!(!p.exists(), "{} removed on exit", p.display());
    }
}

#[test]
fn client_refusing_server_side_decorations_still_gets_the_coloured_border_and_the_label() {
    if foot_missing() {
        return;
    }
    let mut h = Fixture::new();
    h.spawn_foot("work", "client");
    let windows = h.wait_for_windows(0, 1);
    assert_eq!(
        zion_compositor::render::decoration_of(&windows[0]),
        zion_compositor::frame::Decoration::Labelled
    );
    let shot = h.shot();
    let c = h.content(&windows[0]);
    let work = rgb(Config::defaults().profiles[0].colour);
    let mid_x = c.x + c.w / 2;
    let mid_y = c.y + c.h / 2;
    assert_eq!(shot.pixel(mid_x, c.y - 1), Some(work), "top border");
    assert_eq!(shot.pixel(c.x - 1, mid_y), Some(work), "left border");
    assert_eq!(shot.pixel(c.x + c.w, mid_y), Some(work), "right border");
    assert_eq!(shot.pixel(mid_x, c.y + c.h), Some(work), "bottom border");
    // Its own title bar is not the compositor's: a label band above it is.
    assert_eq!(
        shot.pixel(c.x + c.w + BORDER - 3, c.y - BORDER - LABEL_HEIGHT / 2),
        Some(work),
        "the label band's right end"
    );
    assert_eq!(
        shot.pixel(mid_x, c.y - Decoration::Labelled.top() - 1),
        Some(background(&shot)),
        "the band is thinner than a title bar"
    );
}

#[test]
fn client_accepting_server_side_decorations_gets_the_title_bar() {
    if foot_missing() {
        return;
    }
    let mut h = Fixture::new();
    h.spawn_foot("personal", "server");
    let windows = h.wait_for_windows(2, 1);
    assert_eq!(
        zion_compositor::render::decoration_of(&windows[0]),
        zion_compositor::frame::Decoration::Full
    );
    h.state.do_action(zion_compositor::Action::SwitchTo(2));
    let shot = h.shot();
    assert_framed(
        &shot,
        h.content(&windows[0]),
        rgb(Config::defaults().profiles[2].colour),
    );
}

#[test]
fn clicking_a_lower_window_focuses_and_raises_it() {
    if simple_shm_missing() {
        return;
    }
    let mut h = Fixture::new();
    let socket = h.profile_socket("work");
    h.spawn_simple_shm(&socket);
    h.wait_for_windows(0, 1);
    h.spawn_simple_shm(&socket);
    let windows = h.wait_for_windows(0, 2);
    let (lower, upper) = (windows[0].clone(), windows[1].clone());
    let keyboard = h.state.seat.get_keyboard().expect("keyboard");
    let surface = |w: &Window| w.toplevel().map(|t| t.wl_surface().clone());
    assert_eq!(keyboard.current_focus(), surface(&upper));

    // The cascade leaves the lower window's top-left corner uncovered.
    let c = h.content(&lower);
    let s = &mut h.state;
    s.pointer_motion(f64::from(c.x + 5), f64::from(c.y + 5));
    s.pointer_button(zion_compositor::input::BTN_LEFT, true);
    s.pointer_button(zion_compositor::input::BTN_LEFT, false);
    h.settle();
    assert_eq!(keyboard.current_focus(), surface(&lower));
    let top = h.state.layout.visible().last().map(|p| p.window.clone());
    assert_eq!(top, Some(lower));
}

fn foot_missing() -> bool {
    !zion_tests::skip::installed(FOOT, "foot")
}

#[test]
fn a_client_asking_for_fullscreen_covers_the_output_but_the_strip_and_super_f_brings_its_frame_back(
) {
    if foot_missing() {
        return;
    }
    let mut h = Fixture::new();
    h.spawn_foot_with("work", "server", &["--fullscreen"]);
    let windows = h.wait_for_windows(0, 1);
    let out = h.output();
    let area = fullscreen_content(out);
    h.wait_for_size(&windows[0], (area.w, area.h));
    let layout = &h.state.layout;
    assert_eq!(layout.mode(&windows[0]), Some(Mode::Fullscreen));
    assert_eq!(layout.position(&windows[0]), Some((area.x, area.y)));
    let work = rgb(Config::defaults().profiles[0].colour);
    let shot = h.shot();
    for (x, y) in [
        (out.w - 1, out.h - 1),
        (1, out.h / 2),
        (out.w - 2, out.h / 2),
    ] {
        assert_ne!(
            shot.pixel(x, y),
            Some(work),
            "no frame at {x},{y} in fullscreen"
        );
    }
    // Only the strip along the top edge says whose window it is.
    for (x, y) in [(out.w - 3, 0), (out.w - 3, LABEL_HEIGHT - 1)] {
        assert_eq!(shot.pixel(x, y), Some(work), "the strip at {x},{y}");
    }

    // Holding Super shows whose it is: the frame, inside the screen.
    h.state.key(keys::LEFT_META, true);
    h.settle();
    let shot = h.shot();
    let inside = zion_compositor::frame::inner(out, Decoration::Full);
    assert_framed(&shot, inside, work);
    assert_eq!(shot.pixel(0, 0), Some(work), "the frame reaches the corner");
    h.state.key(keys::LEFT_META, false);
    h.settle();
    let shot = h.shot();
    assert_ne!(
        shot.pixel(1, out.h / 2),
        Some(work),
        "Super released: no frame"
    );

    h.super_key(keys::F);
    let restored = h
        .dispatch_until(WAIT, |s| {
            let g = windows[0].geometry().size;
            s.layout.mode(&windows[0]) == Some(Mode::Normal) && (g.w, g.h) != (area.w, area.h)
        })
        .expect("event loop runs");
    assert!(restored, "Super+F did not bring the window back");
    h.settle();
    let shot = h.shot();
    assert_framed(&shot, h.content(&windows[0]), work);
}

#[test]
fn a_maximized_window_fills_the_output_inside_its_frame() {
    if foot_missing() {
        return;
    }
    let mut h = Fixture::new();
    h.spawn_foot_with("work", "server", &["--maximized"]);
    let windows = h.wait_for_windows(0, 1);
    let area = maximized_content(h.output(), Decoration::Full);
    h.wait_for_size(&windows[0], (area.w, area.h));
    assert_eq!(h.state.layout.mode(&windows[0]), Some(Mode::Maximized));
    assert_eq!(h.content(&windows[0]), area);
    let shot = h.shot();
    assert_framed(&shot, area, rgb(Config::defaults().profiles[0].colour));
}

#[test]
fn super_drag_moves_a_window_and_super_right_drag_resizes_it() {
    if foot_missing() {
        return;
    }
    let mut h = Fixture::new();
    h.spawn_foot("work", "server");
    let windows = h.wait_for_windows(0, 1);
    let before = h.content(&windows[0]);
    let (cx, cy) = (
        f64::from(before.x + before.w / 2),
        f64::from(before.y + before.h / 2),
    );
    let s = &mut h.state;
    s.key(keys::LEFT_META, true);
    s.pointer_motion(cx, cy);
    s.pointer_button(BTN_LEFT, true);
    s.pointer_motion(cx + 100.0, cy + 50.0);
    s.pointer_button(BTN_LEFT, false);
    h.settle();
    let moved = h.content(&windows[0]);
    assert_eq!((moved.x, moved.y), (before.x + 100, before.y + 50));
    assert_eq!((moved.w, moved.h), (before.w, before.h));

    let s = &mut h.state;
    s.pointer_motion(cx + 100.0, cy + 50.0);
    s.pointer_button(BTN_RIGHT, true);
    s.pointer_motion(cx + 180.0, cy + 90.0);
    s.pointer_button(BTN_RIGHT, false);
    s.key(keys::LEFT_META, false);
    h.wait_for_size(&windows[0], (before.w + 80, before.h + 40));
    let resized = h.content(&windows[0]);
    assert_eq!((resized.x, resized.y), (moved.x, moved.y), "top-left stays");
}

#[test]
fn dragging_a_clients_own_title_bar_moves_its_window() {
    if foot_missing() {
        return;
    }
    let mut h = Fixture::new();
    h.spawn_foot("work", "client");
    let windows = h.wait_for_windows(0, 1);
    let before = h.content(&windows[0]);
    // foot's window geometry starts with its title bar (a subsurface).
    let (x, y) = (f64::from(before.x + before.w / 2), f64::from(before.y + 8));
    let title = h.state.surface_under((x, y).into());
    assert!(title.is_some(), "no surface under the title bar at {x},{y}");
    let window = windows[0].clone();
    let from = h.state.layout.position(&window).expect("window is placed");
    let target = (from.0 + 120, from.1 + 80);
    let s = &mut h.state;
    s.pointer_motion(x, y);
    h.settle();
    h.state.pointer_button(BTN_LEFT, true);
    h.settle();
    // foot asks to be moved once the pointer moves with the button held;
    // from then on the window follows the pointer. However long foot
    // takes, the pointer goes on moving to the end point until the window
    // is there (each move to the same point is the same move).
    h.state.pointer_motion(x + 60.0, y + 40.0);
    h.wait("foot's window follows the dragged title bar", |s| {
        s.pointer_motion(x + 120.0, y + 80.0);
        s.layout.position(&window) == Some(target)
    });
    h.state.pointer_button(BTN_LEFT, false);
    h.settle();
    let after = h.content(&windows[0]);
    assert_eq!((after.x, after.y), (before.x + 120, before.y + 80));
}

#[test]
fn the_title_bar_carries_the_profiles_label_drawn_by_the_compositor() {
    if foot_missing() {
        return;
    }
    let Some(font) = zion_compositor::title::font() else {
        zion_tests::skip::not_installed(
            "no title font installed (Debian package fonts-dejavu-core)",
        );
        return;
    };
    let mut h = Fixture::new();
    h.spawn_foot("work", "server");
    let windows = h.wait_for_windows(0, 1);
    let label = zion_compositor::render::label_of(&windows[0]);
    assert!(label.starts_with("[work]"), "{label}");
    let shot = h.shot();
    let c = h.content(&windows[0]);
    let work = Config::defaults().profiles[0].colour;
    let ink = zion_compositor::frame::contrast(work);
    let bar = Rect::new(
        c.x - BORDER,
        c.y - TITLE_HEIGHT - BORDER,
        c.w + 2 * BORDER,
        TITLE_HEIGHT + BORDER,
    );
    use zion_compositor::title;
    let text = title::fit(
        font,
        title::TEXT_PX,
        &label,
        (bar.w - 2 * title::PADDING) as f32,
    );
    let expected = title::rasterize(font, &text, ink, bar.w, bar.h);
    let mut solid = 0;
    for y in 0..bar.h {
        for x in 0..bar.w {
            let alpha = expected[((y * bar.w + x) * 4 + 3) as usize];
            let seen = shot.pixel(bar.x + x, bar.y + y);
            if alpha == 255 {
                solid += 1;
                assert_eq!(seen, Some(rgb(ink)), "text pixel at {x},{y}");
            } else if alpha == 0 {
                assert_eq!(seen, Some(rgb(work)), "frame pixel at {x},{y}");
            }
        }
    }
    assert!(solid > 30, "the label has only {solid} solid pixels");
}

/// Two desktops with a framed window each; with `ZION_UPDATE_SCREENSHOTS=1`
/// also written to `compositor/screenshots/` for the README.
#[test]
fn two_desktops_each_show_their_own_framed_window() {
    if foot_missing() {
        return;
    }
    let mut h = Fixture::new();
    h.spawn_foot_with("work", "server", &["--title=quarterly report"]);
    h.spawn_foot_with("personal", "server", &["--title=holiday photos"]);
    let work_windows = h.wait_for_windows(0, 1);
    let personal_windows = h.wait_for_windows(2, 1);
    let colours = Config::defaults();
    let mut shots = Vec::new();
    for (desktop, windows, name) in [
        (0, &work_windows, "work"),
        (2, &personal_windows, "personal"),
    ] {
        h.state
            .do_action(zion_compositor::Action::SwitchTo(desktop));
        h.settle();
        let shot = h.shot();
        let colour = rgb(colours.profiles[desktop].colour);
        let other = rgb(colours.profiles[2 - desktop].colour);
        assert_framed(&shot, h.content(&windows[0]), colour);
        assert_eq!(
            shot.count(other),
            0,
            "{name}'s desktop shows nothing of the other profile"
        );
        shots.push((name, shot));
    }
    if std::env::var_os("ZION_UPDATE_SCREENSHOTS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
        for (name, shot) in shots {
            shot.write_png(&dir.join(format!("{name}-desktop.png")))
                .expect("screenshot written");
        }
    }
}

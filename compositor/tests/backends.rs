//! The backends as a user starts them: the real `zion-compositor` binary with
//! `--backend winit` as a window inside Zion's own headless compositor (run
//! in this process) with a real `weston-simple-shm` on its profile socket;
//! signals; `--backend udev` on a machine without a seat; the default
//! backend.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use smithay::desktop::Window;
use zion_compositor::frame::{maximized_content, Decoration, TITLE_HEIGHT};
use zion_compositor::render::content_rect;
use zion_compositor::state::HOST_COLOUR;
use zion_compositor::{BackendKind, Compositor, Options, Screenshot};
use zion_config::Config;

const BIN: &str = env!("CARGO_BIN_EXE_zion-compositor");
const SIMPLE_SHM: &str = "/usr/bin/weston-simple-shm";
const WAIT: Duration = Duration::from_secs(20);

/// Children killed when the test ends, whatever happened.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn private_dir(path: PathBuf) -> PathBuf {
    std::fs::create_dir_all(&path).expect("folder");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).expect("folder mode");
    path
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} failed");
}

/// Waits up to `timeout` for `child` to exit.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn wait_for_path(path: &Path, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn read_png(path: &Path) -> Screenshot {
    let file = std::fs::File::open(path).expect("the screenshot exists");
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    assert_eq!(info.color_type, png::ColorType::Rgba, "RGBA screenshot");
    buf.truncate(info.buffer_size());
    Screenshot {
        width: info.width,
        height: info.height,
        rgba: buf,
    }
}

/// The share of pixels of row `y`, from `x0` to `x1`, that are `rgb`.
fn row_share(shot: &Screenshot, y: i32, x0: i32, x1: i32, rgb: (u8, u8, u8)) -> f64 {
    let hits = (x0..x1).filter(|&x| shot.pixel(x, y) == Some(rgb)).count();
    hits as f64 / f64::from((x1 - x0).max(1))
}

/// The bounding box (x0, y0, x1, y1), exclusive ends, of the `rgb` pixels.
fn bbox(shot: &Screenshot, rgb: (u8, u8, u8)) -> Option<(i32, i32, i32, i32)> {
    let mut b: Option<(i32, i32, i32, i32)> = None;
    for y in 0..shot.height as i32 {
        for x in 0..shot.width as i32 {
            if shot.pixel(x, y) == Some(rgb) {
                b = Some(match b {
                    None => (x, y, x + 1, y + 1),
                    Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1)),
                });
            }
        }
    }
    b
}

/// The title bar is on top of the frame in `rgb` (a flipped output would
/// put it at the bottom): most of a row in the bar is frame colour, most of
/// a row as far from the bottom edge is not.
fn title_bar_on_top(shot: &Screenshot, rgb: (u8, u8, u8)) -> bool {
    let Some((x0, y0, x1, y1)) = bbox(shot, rgb) else {
        return false;
    };
    let probe = TITLE_HEIGHT / 2;
    row_share(shot, y0 + probe, x0, x1, rgb) > 0.6
        && row_share(shot, y1 - 1 - probe, x0, x1, rgb) < 0.4
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn the_window(outer: &Compositor) -> Option<Window> {
    outer.state.layout.desktops()[0]
        .windows()
        .first()
        .map(|p| p.window.clone())
}

#[test]
fn winit_window_inside_zion_shows_a_profile_client_follows_resizes_and_stops_when_closed() {
    zion_tests::require_program!(SIMPLE_SHM, "weston");
    let dir = tempfile::Builder::new()
        .prefix("zion-test-backends-")
        .tempdir()
        .expect("temporary folder");
    let outer_runtime = private_dir(dir.path().join("outer"));
    let nested_runtime = private_dir(dir.path().join("nested"));
    let nested_png = dir.path().join("nested.png");
    let nested_log = dir.path().join("nested.log");

    // The host desktop: Zion itself, headless, in this process.
    let mut outer = Compositor::new(
        Config::defaults(),
        &Options {
            backend: BackendKind::Headless,
            size: (1024, 768),
            runtime_dir: outer_runtime.clone(),
        },
    )
    .expect("the outer compositor starts");

    let mut children = Children(Vec::new());
    let nested = Command::new(BIN)
        .args(["--backend", "winit", "--size", "480x360", "--no-dbus"])
        .arg("--runtime-dir")
        .arg(&nested_runtime)
        .arg("--screenshot")
        .arg(&nested_png)
        .env_remove("DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", &outer_runtime)
        .env("WAYLAND_DISPLAY", "wayland-zion")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("RUST_LOG", "info,smithay=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&nested_log).expect("log file"))
        .spawn()
        .expect("zion-compositor starts");
    children.0.push(nested);

    // The nested compositor's window appears and draws on the host.
    let mut exited = None;
    let drawn = {
        let nested = &mut children.0[0];
        outer
            .dispatch_until(WAIT, |s| {
                if let Ok(Some(status)) = nested.try_wait() {
                    exited = Some(status);
                    return true;
                }
                s.layout.desktops()[0]
                    .windows()
                    .iter()
                    .any(|p| p.window.geometry().size.w > 0)
            })
            .expect("event loop runs")
    };
    if let Some(status) = exited {
        let log = log_of(&nested_log);
        if log.contains("error opening a window for the winit backend") {
            zion_tests::skip::lacking(&format!(
                "EGL/winit cannot open a window on this machine ({status}):\n{log}"
            ));
            return;
        }
        panic!("the winit compositor exited ({status}):\n{log}");
    }
    assert!(
        drawn,
        "the winit window never drew:\n{}",
        log_of(&nested_log)
    );
    let window = the_window(&outer).expect("the nested compositor's window");

    // A real client on the nested compositor's work socket.
    let shm = Command::new(SIMPLE_SHM)
        .env_clear()
        .env("XDG_RUNTIME_DIR", nested_runtime.join("zion").join("work"))
        .env("WAYLAND_DISPLAY", "wayland-0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("weston-simple-shm starts");
    children.0.push(shm);

    let work = Config::defaults()
        .profile("work")
        .map(|p| p.colour)
        .expect("a work profile");
    let work = (work.r, work.g, work.b);
    let host = (HOST_COLOUR.r, HOST_COLOUR.g, HOST_COLOUR.b);

    // The host shows the nested window in the host frame colour, and inside
    // it the work window's frame, drawn by the nested compositor with GLES.
    let end = Instant::now() + WAIT;
    let shot = loop {
        outer
            .dispatch(Duration::from_millis(50))
            .expect("event loop runs");
        let shot = outer.screenshot().expect("screenshot");
        if shot.count(work) > 500 && title_bar_on_top(&shot, work) {
            break shot;
        }
        assert!(
            Instant::now() < end,
            "the work window's frame never showed right side up in the nested window \
             (work pixels: {}, title bar on top: {}):\n{}",
            shot.count(work),
            title_bar_on_top(&shot, work),
            log_of(&nested_log)
        );
    };
    assert!(shot.count(host) > 0, "the nested window has no host frame");
    let pos = outer.state.layout.position(&window).expect("placed");
    let inside = content_rect(&window, pos);
    let (x0, y0, x1, y1) = bbox(&shot, work).expect("work pixels");
    assert!(
        inside.contains(x0, y0) && inside.contains(x1 - 1, y1 - 1),
        "the work frame ({x0},{y0})-({x1},{y1}) is outside the nested window {inside:?}"
    );

    // Maximizing the host window resizes the nested compositor's output:
    // its window commits a buffer of the new size.
    outer.state.set_maximized(&window, true);
    let want = maximized_content(outer.state.output_rect(), Decoration::Full);
    let resized = outer
        .dispatch_until(WAIT, |_| {
            let size = window.geometry().size;
            (size.w, size.h) == (want.w, want.h)
        })
        .expect("event loop runs");
    assert!(
        resized,
        "the winit window did not follow the resize to {}x{} (it is {:?}):\n{}",
        want.w,
        want.h,
        window.geometry().size,
        log_of(&nested_log)
    );

    // Closing the host window stops the nested compositor cleanly; it writes
    // its screenshot of the resized output on the way out.
    window.toplevel().expect("an xdg toplevel").send_close();
    let mut status = None;
    {
        let nested = &mut children.0[0];
        outer
            .dispatch_until(WAIT, |_| {
                if let Ok(Some(s)) = nested.try_wait() {
                    status = Some(s);
                }
                status.is_some()
            })
            .expect("event loop runs");
    }
    let status = status.unwrap_or_else(|| {
        panic!(
            "closing the window did not stop it:\n{}",
            log_of(&nested_log)
        )
    });
    assert!(
        status.success(),
        "the winit compositor exited with {status}:\n{}",
        log_of(&nested_log)
    );
    let own = read_png(&nested_png);
    assert_eq!(
        (own.width as i32, own.height as i32),
        (want.w, want.h),
        "the nested output did not take the window's size"
    );
    assert!(
        own.count(work) > 500,
        "the nested screenshot lacks the work frame"
    );
    assert!(
        title_bar_on_top(&own, work),
        "the nested screenshot is upside down"
    );
    assert!(
        !nested_runtime.join("wayland-zion").exists(),
        "the nested compositor left its socket behind"
    );
}

#[test]
fn sigterm_and_sigint_stop_the_compositor_with_status_0() {
    for name in ["TERM", "INT"] {
        let runtime = tempfile::Builder::new()
            .prefix("zion-test-backends-")
            .tempdir()
            .expect("temporary folder");
        let log = runtime.path().join("log");
        let child = Command::new(BIN)
            .args(["--backend", "headless", "--size", "320x200", "--no-dbus"])
            .arg("--runtime-dir")
            .arg(runtime.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("zion-compositor starts");
        let mut children = Children(vec![child]);
        let socket = runtime.path().join("wayland-zion");
        assert!(
            wait_for_path(&socket, WAIT),
            "no host socket:\n{}",
            log_of(&log)
        );
        signal(&children.0[0], name);
        let status = wait_exit(&mut children.0[0], WAIT)
            .unwrap_or_else(|| panic!("SIG{name} did not stop it:\n{}", log_of(&log)));
        assert_eq!(
            status.code(),
            Some(0),
            "SIG{name}: {status}\n{}",
            log_of(&log)
        );
        assert!(!socket.exists(), "SIG{name} left the host socket behind");
    }
}

#[test]
fn udev_without_a_seat_is_refused_with_the_reason_and_no_panic() {
    let runtime = tempfile::Builder::new()
        .prefix("zion-test-backends-")
        .tempdir()
        .expect("temporary folder");
    let out = Command::new(BIN)
        .args(["--backend", "udev", "--no-dbus"])
        .arg("--runtime-dir")
        .arg(runtime.path())
        .env_remove("XDG_SEAT")
        .env_remove("XDG_SESSION_ID")
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("no login seat"), "{err}");
    assert!(err.contains("--backend headless"), "{err}");
    assert!(!runtime.path().join("wayland-zion").exists());
}

#[test]
fn without_display_or_seat_the_default_backend_is_headless() {
    let runtime = tempfile::Builder::new()
        .prefix("zion-test-backends-")
        .tempdir()
        .expect("temporary folder");
    let png_path = runtime.path().join("shot.png");
    let out = Command::new(BIN)
        .args(["--size", "320x200", "--exit-after", "0.3", "--no-dbus"])
        .arg("--runtime-dir")
        .arg(runtime.path())
        .arg("--screenshot")
        .arg(&png_path)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .env_remove("XDG_SEAT")
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("backend Headless"), "{err}");
    let shot = read_png(&png_path);
    assert_eq!((shot.width, shot.height), (320, 200));
}

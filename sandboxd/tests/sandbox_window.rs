//! A disposable browser's window, end to end: zion-sandboxd with the
//! harness's private Podman and bus, the real `zion-compositor` (headless)
//! on that bus with the daemon's XDG_RUNTIME_DIR, and a real Chromium from
//! the browser image on the sandbox's own Wayland socket, loading a page
//! from an HTTP server this test runs. The test looks only at the
//! compositor's screenshots, as a user would look at the screen.

mod internet_support;
mod quarantine_support;

use internet_support::{serve, Internet, Reply};
use zion_bus::Compositor1Proxy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quarantine_support::{default_rules, eventually, scan_worker, DAEMON};
use zion_sandboxd::sandbox::dbus::Sandbox1Proxy;
use zion_tests::{TestEnv, TestImage};

const TIMEOUT: Duration = Duration::from_secs(90);
/// The work profile's colour (the default), and the page's background.
const WORK: (u8, u8, u8) = (0x34, 0x65, 0xa4);
const PAGE: (u8, u8, u8) = (0xff, 0xcc, 0x00);
const PAGE_HTML: &str = "<!doctype html><html><head><title>zion</title></head>\
    <body style=\"margin:0;background:#ffcc00\"><div style=\"height:100vh\"></div></body></html>";

// The frame the compositor draws (compositor/src/frame.rs): border, title
// bar, and the disposable band of dashes inside it.
const BORDER: i32 = 4;
const TITLE_HEIGHT: i32 = 24;
/// The label band above a window that draws its own title bar (Chromium).
const LABEL_HEIGHT: i32 = 18;
const BAND: i32 = 2;
const DASH: i32 = 8;
/// The dashes' colour on work's dark blue (frame.rs `contrast`).
const DASH_COLOUR: (u8, u8, u8) = (0xf5, 0xf5, 0xf5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

struct Shot {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Shot {
    fn read(path: &Path) -> Option<Shot> {
        let file = std::fs::File::open(path).ok()?;
        let mut reader = png::Decoder::new(file).read_info().ok()?;
        let mut rgba = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgba).ok()?;
        if info.color_type != png::ColorType::Rgba {
            return None;
        }
        rgba.truncate(info.buffer_size());
        Some(Shot {
            width: info.width,
            height: info.height,
            rgba,
        })
    }

    fn pixel(&self, x: i32, y: i32) -> Option<(u8, u8, u8)> {
        if x < 0 || y < 0 || x as u32 >= self.width || y as u32 >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        Some((self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]))
    }

    /// The bounding box of the pixels in `colour` (or that colour under a
    /// translucent shadow: see [`like`]).
    fn bounds(&self, colour: (u8, u8, u8)) -> Option<Rect> {
        let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
        for y in 0..self.height as i32 {
            for x in 0..self.width as i32 {
                if self.pixel(x, y).is_some_and(|p| like(p, colour)) {
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                }
            }
        }
        (x0 <= x1).then(|| Rect {
            x: x0,
            y: y0,
            w: x1 - x0 + 1,
            h: y1 - y0 + 1,
        })
    }
}

/// Whether `p` is `c`, or `c` darkened by at most 40 % as a whole: Chromium
/// draws its own translucent drop shadow around its window (client-side
/// decorations) and the compositor composites that surface over its frame,
/// so the frame and its dashes show through the shadow, uniformly darker.
fn like(p: (u8, u8, u8), c: (u8, u8, u8)) -> bool {
    let (p, c) = ([p.0, p.1, p.2], [c.0, c.1, c.2]);
    let Some(i) = (0..3).max_by_key(|&i| c[i]) else {
        return false;
    };
    let k = f64::from(p[i]) / f64::from(c[i].max(1));
    (0.6..=1.0).contains(&k) && (0..3).all(|j| (f64::from(p[j]) - k * f64::from(c[j])).abs() <= 3.0)
}

/// The dashes around `content` (frame.rs `disposable_dashes`).
fn dashes(content: Rect) -> Vec<Rect> {
    let left = content.x - BAND;
    let right = content.x + content.w;
    let width = content.w + 2 * BAND;
    let mut out = Vec::new();
    for x in (left..left + width).step_by(2 * DASH as usize) {
        let w = DASH.min(left + width - x);
        out.push(Rect {
            x,
            y: content.y - BAND,
            w,
            h: BAND,
        });
        out.push(Rect {
            x,
            y: content.y + content.h,
            w,
            h: BAND,
        });
    }
    for y in (content.y..content.y + content.h).step_by(2 * DASH as usize) {
        let h = DASH.min(content.y + content.h - y);
        out.push(Rect {
            x: left,
            y,
            w: BAND,
            h,
        });
        out.push(Rect {
            x: right,
            y,
            w: BAND,
            h,
        });
    }
    out
}

/// The content of a window framed in work's colour with every dash of the
/// disposable band drawn, the frame with a title bar or (a client drawing
/// its own) without. A window reaching past the screen's right or bottom
/// edge (Chromium sizes its own) is checked on the part shown.
fn disposable_window(shot: &Shot) -> Option<Rect> {
    let outer = shot.bounds(WORK)?;
    let right_cut = outer.x + outer.w >= shot.width as i32;
    let bottom_cut = outer.y + outer.h >= shot.height as i32;
    [TITLE_HEIGHT + BORDER, LABEL_HEIGHT + BORDER, BORDER]
        .into_iter()
        .find_map(|top| {
            let content = Rect {
                x: outer.x + BORDER,
                y: outer.y + top,
                w: outer.w - if right_cut { BORDER } else { 2 * BORDER },
                h: outer.h - top - if bottom_cut { 0 } else { BORDER },
            };
            if content.w <= 2 * DASH || content.h <= 2 * DASH {
                return None;
            }
            let shown: Vec<Rect> = dashes(content)
                .into_iter()
                .filter(|r| r.x + r.w <= shot.width as i32 && r.y + r.h <= shot.height as i32)
                .collect();
            let drawn = shown.len() > 4
                && shown.iter().all(|r| {
                    (r.y..r.y + r.h).all(|y| {
                        (r.x..r.x + r.w)
                            .all(|x| shot.pixel(x, y).is_some_and(|p| like(p, DASH_COLOUR)))
                    })
                });
            drawn.then_some(content)
        })
}

/// A process with its stderr collected; killed when dropped.
struct Logged {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Logged {
    fn spawn(mut command: Command, what: &str) -> Logged {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        Logged { child, log }
    }

    fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `PAGE_HTML` in the test's stand-in for the internet; returns
/// the port and the paths requested.
fn serve_page(internet: &Internet) -> (u16, Arc<Mutex<Vec<String>>>) {
    serve(internet, |path| {
        let (status, body) = if path == "/" {
            ("200 OK", PAGE_HTML)
        } else {
            ("404 Not Found", "not here")
        };
        Reply {
            status,
            headers: String::new(),
            content_type: "text/html",
            body: body.as_bytes().to_vec(),
        }
    })
}

/// The compositor built beside the daemon (`cargo build --bins`).
fn compositor_bin() -> PathBuf {
    zion_tests::sibling_bin(DAEMON, "zion-compositor", "ZION_COMPOSITOR")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandboxed_chromium_draws_its_page_in_a_disposable_work_window() {
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    std::fs::write(
        dir.join("zion.toml"),
        format!(
            "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{base}\"\nnetwork = \"full\"\nmemory = \"256MiB\"\n\n\
             [[profile]]\nname = \"personal\"\ncolour = \"#4e9a06\"\nimage = \"{base}\"\nnetwork = \"none\"\nmemory = \"256MiB\"\n"
        ),
    )
    .expect("zion.toml");

    let mut command = env.command(compositor_bin());
    command
        .args(["--backend", "headless", "--size", "1600x1200", "--no-bar"])
        .arg("--runtime-dir")
        .arg(&env.xdg.runtime)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let compositor = Logged::spawn(command, "zion-compositor");
    let bus = env.dbus().connect().await.expect("bus");
    let screen = eventually("Compositor1 on the bus", TIMEOUT, || async {
        let p = Compositor1Proxy::new(&bus).await.ok()?;
        p.list_desktops().await.ok().map(|_| p)
    })
    .await;

    let mut command = env.command(DAEMON);
    command
        .env("ZION_SCAN_WORKER", scan_worker())
        .env("ZION_RULES", default_rules())
        .env("ZION_BROWSER_IMAGE", &browser)
        .env("ZION_SANDBOX_POOL", "1")
        .env("RUST_LOG", "info,zion_sandboxd::sandbox=debug")
        .env("NO_COLOR", "1");
    let daemon = Logged::spawn(command, "zion-sandboxd");
    let sandboxes = eventually("Sandbox1 on the bus", TIMEOUT, || async {
        let p = Sandbox1Proxy::new(&bus).await.ok()?;
        p.list().await.ok().map(|_| p)
    })
    .await;
    eventually("the warm pool filled", TIMEOUT, || async {
        daemon
            .log()
            .contains("ready in the warm pool")
            .then_some(())
    })
    .await;
    // The server stands for the internet: the host itself is out of reach.
    let internet = Internet::new();
    let gateway = internet.ip;
    let (port, requests) = serve_page(&internet);

    // Shown: personal. The sandbox window must open on work nonetheless.
    screen
        .switch_to("personal")
        .await
        .expect("SwitchTo personal");
    let started = Instant::now();
    let id = sandboxes
        .open_browser("work", &format!("http://{gateway}:{port}/"))
        .await
        .expect("OpenBrowser");
    let shots = env.root().join("shots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let mut n = 0;
    let mut shoot = || {
        n += 1;
        shots.join(format!("shot-{n}.png"))
    };
    // The page fetched: Chromium runs (its window appears after).
    eventually("the page requested", TIMEOUT, || async {
        requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&"/".to_owned())
            .then_some(())
    })
    .await;
    screen.switch_to("work").await.expect("SwitchTo work");

    let window = loop {
        let path = shoot();
        screen
            .screenshot(path.to_str().expect("UTF-8 path"))
            .await
            .expect("Screenshot");
        let shot = Shot::read(&path).expect("a PNG screenshot");
        if let Some(content) = disposable_window(&shot) {
            let centre = (content.x + content.w / 2, content.y + content.h / 2);
            if shot.pixel(centre.0, centre.1) == Some(PAGE) {
                break (shot, content);
            }
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "no work window in a disposable frame showing the page within {TIMEOUT:?} \
             (last screenshot {}); requests {:?}\ndaemon:\n{}\ncompositor:\n{}",
            path.display(),
            requests.lock().unwrap_or_else(|p| p.into_inner()),
            daemon.log(),
            compositor.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (shot, content) = window;
    eprintln!(
        "a disposable window {}x{} showing the page after {:?}",
        content.w,
        content.h,
        started.elapsed()
    );
    // Between the dashes and on the frame's outer edge: work's colour.
    for (x, y) in [
        (content.x - 1, content.y + DASH + 1),
        (content.x - BORDER, content.y + 1),
    ] {
        let p = shot.pixel(x, y).expect("a pixel of the frame");
        assert!(like(p, WORK), "{p:?} at ({x}, {y}) is work's colour");
    }

    // Shown and drawn, it still is not on personal: neither frame nor page.
    screen
        .switch_to("personal")
        .await
        .expect("SwitchTo personal");
    let personal = eventually(
        "personal shown, without the work frame",
        TIMEOUT,
        || async {
            let path = shoot_path(&shots, "personal");
            screen.screenshot(path.to_str()?).await.ok()?;
            let shot = Shot::read(&path)?;
            shot.bounds(WORK).is_none().then_some(shot)
        },
    )
    .await;
    assert!(
        personal.bounds(PAGE).is_none(),
        "the sandbox's page is not on personal"
    );
    screen.switch_to("work").await.expect("SwitchTo work");

    // Closing the sandbox takes the window away.
    sandboxes.close(&id).await.expect("Close");
    eventually("the window gone", TIMEOUT, || async {
        let path = shoot_path(&shots, "closed");
        screen.screenshot(path.to_str()?).await.ok()?;
        let shot = Shot::read(&path)?;
        shot.bounds(WORK).is_none().then_some(())
    })
    .await;
}

fn shoot_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.png"))
}

//! Looking at a disposable window as a user does: the compositor's
//! screenshots read as pixels, the frame and dashed band it draws around a
//! sandbox's window found in them (compositor/src/frame.rs), and processes
//! whose stderr the test keeps. The same checks as `sandbox_window.rs`
//! (Chromium), shared with `sandbox_firefox.rs`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::quarantine_support::DAEMON;

pub const TIMEOUT: Duration = Duration::from_secs(90);
/// The work profile's colour (the default), and the page's background.
pub const WORK: (u8, u8, u8) = (0x34, 0x65, 0xa4);
pub const PAGE: (u8, u8, u8) = (0xff, 0xcc, 0x00);
pub const PAGE_HTML: &str = "<!doctype html><html><head><title>zion</title></head>\
    <body style=\"margin:0;background:#ffcc00\"><div style=\"height:100vh\"></div></body></html>";

// The frame the compositor draws (compositor/src/frame.rs): border, title
// bar, and the disposable band of dashes inside it.
pub const BORDER: i32 = 4;
pub const TITLE_HEIGHT: i32 = 24;
/// The label band above a window that draws its own title bar (Chromium).
pub const LABEL_HEIGHT: i32 = 18;
pub const BAND: i32 = 2;
pub const DASH: i32 = 8;
/// The dashes' colour on work's dark blue (frame.rs `contrast`).
pub const DASH_COLOUR: (u8, u8, u8) = (0xf5, 0xf5, 0xf5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

pub struct Shot {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Shot {
    pub fn read(path: &Path) -> Option<Shot> {
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

    pub fn pixel(&self, x: i32, y: i32) -> Option<(u8, u8, u8)> {
        if x < 0 || y < 0 || x as u32 >= self.width || y as u32 >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 4;
        Some((self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]))
    }

    /// The bounding box of the pixels in `colour` (or that colour under a
    /// translucent shadow: see [`like`]).
    pub fn bounds(&self, colour: (u8, u8, u8)) -> Option<Rect> {
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
pub fn like(p: (u8, u8, u8), c: (u8, u8, u8)) -> bool {
    let (p, c) = ([p.0, p.1, p.2], [c.0, c.1, c.2]);
    let Some(i) = (0..3).max_by_key(|&i| c[i]) else {
        return false;
    };
    let k = f64::from(p[i]) / f64::from(c[i].max(1));
    (0.6..=1.0).contains(&k) && (0..3).all(|j| (f64::from(p[j]) - k * f64::from(c[j])).abs() <= 3.0)
}

/// The dashes around `content` (frame.rs `disposable_dashes`).
pub fn dashes(content: Rect) -> Vec<Rect> {
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
pub fn disposable_window(shot: &Shot) -> Option<Rect> {
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
pub struct Logged {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Logged {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn spawn(mut command: Command, what: &str) -> Logged {
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

    pub fn log(&self) -> String {
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

/// The compositor built beside the daemon (`cargo build --bins`).
pub fn compositor_bin() -> PathBuf {
    zion_tests::sibling_bin(DAEMON, "zion-compositor", "ZION_COMPOSITOR")
}

/// The compositor on the headless backend at `size` (no bar), on the test's
/// bus and runtime folder, its log kept.
pub fn headless_compositor(env: &zion_tests::TestEnv, size: &str) -> Logged {
    let mut command = env.command(compositor_bin());
    command
        .args(["--backend", "headless", "--size", size, "--no-bar"])
        .arg("--runtime-dir")
        .arg(&env.xdg.runtime)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    Logged::spawn(command, "zion-compositor")
}

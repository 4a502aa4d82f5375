//! bench-compositor: what a person feels of the compositor, the release
//! `zion-compositor --backend headless` (beside this binary) against
//! `weston --backend=headless-backend.so --use-pixman` in the same run, both
//! 1280x720 and driven by the same real Wayland clients. Prints medians and
//! ratios weston/zion, above 1 meaning Zion is better.
//!
//! - first frame: from a client's `connect()` to the `done` of its first
//!   frame callback (bind globals, xdg toplevel, configure, shm buffer,
//!   frame, commit), a fresh client each round.
//! - frame time: the interval between frame callbacks of a client redrawing
//!   its whole 250x250 buffer each frame, alone and with 9
//!   `weston-simple-shm` clients beside it (weston-simple-shm prints no
//!   frame rate, so our own client measures).
//! - RSS: VmRSS of the compositor process with those 10 clients (weston's
//!   own `weston-desktop-shell` client process not counted).
//! - desktop switch (Zion only): `Compositor1.SwitchTo` over a private bus,
//!   until a client on the other desktop, whose frame callback was held
//!   while its desktop was hidden, gets it. A key cannot be injected into
//!   the headless compositor from outside (the host's virtual keyboard goes
//!   to the focused client, not to the hotkeys), so the D-Bus call stands in
//!   for the key; it includes the bus round trip.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zion_bus::Compositor1Proxy;

use anyhow::{bail, Context};
use zion_bench::{median, ms, sibling, spawn_weston, wait_socket, Children, WESTON_SOCKET};
use zion_tests::wayland::{Client, TestWindow};

const FIRST_FRAME_ROUNDS: usize = 30;
const FRAME_WARMUP: usize = 10;
const FRAME_SAMPLES: usize = 150;
const SWITCH_ROUNDS: usize = 30;
const CLIENTS: usize = 10;
const WAIT: Duration = Duration::from_secs(10);
const SIZE: (i32, i32) = (250, 250);
const SIMPLE_SHM: &str = "/usr/bin/weston-simple-shm";
const ONE_FRAME: Duration = Duration::from_millis(16);

/// A pause of `base` plus a share of one 60 Hz period that differs from
/// round to round, so rounds do not lock onto the compositor's frame clock
/// (a fixed pause would always land at the same point of its period).
fn pause(base: Duration, round: usize, rounds: usize) -> Duration {
    base + Duration::from_micros(16_667 * (round % rounds) as u64 / rounds as u64)
}

/// A real Wayland client (the harness's) with one mapped toplevel showing
/// an shm buffer.
struct Window {
    client: Client,
    window: TestWindow,
}

impl Window {
    /// Connects to `socket`, maps a toplevel and commits its first buffer
    /// with a frame callback; returns the window and when connect() began.
    fn open(socket: &Path) -> anyhow::Result<(Window, Instant)> {
        let start = Instant::now();
        let mut client = Client::connect(socket)
            .with_context(|| format!("listing the globals on {}", socket.display()))?;
        // Opaque orange, XRGB8888.
        let window = client
            .window("bench-compositor", SIZE, 0x00ff_8000)
            .with_context(|| format!("opening a window on {}", socket.display()))?;
        let mut window = Window { client, window };
        let end = Instant::now() + WAIT;
        while window.client.seen.configured == 0 {
            if Instant::now() > end {
                bail!(
                    "no xdg_surface.configure within {WAIT:?} on {}",
                    socket.display()
                );
            }
            window.dispatch(end - Instant::now())?;
        }
        window.request_frame();
        Ok((window, start))
    }

    /// Redraws the whole buffer with a frame callback.
    fn request_frame(&mut self) {
        self.client.request_frame(&self.window.surface);
        self.window.draw();
    }

    /// Reads and handles events for up to `timeout`.
    fn dispatch(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.client
            .dispatch(timeout)
            .context("talking to the compositor (did it go?)")
    }

    /// Waits for the frame callback asked for last; when it came, or None
    /// if it did not within `timeout`.
    fn wait_frame(&mut self, timeout: Duration) -> anyhow::Result<Option<Instant>> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(done) = self.client.seen.frame_done {
                return Ok(Some(done));
            }
            let now = Instant::now();
            if now >= end {
                return Ok(None);
            }
            self.dispatch(end - now)?;
        }
    }

    fn frame(&mut self) -> anyhow::Result<Instant> {
        self.wait_frame(WAIT)?
            .with_context(|| format!("no frame callback within {WAIT:?}"))
    }
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    vm_rss_kib(&status).with_context(|| format!("no VmRSS in {path}"))
}

/// The `VmRSS` of a `/proc/<pid>/status` text, in KiB.
fn vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// One compositor's figures.
struct Figures {
    first_frame: Duration,
    frame: [Duration; 2],
    rss_kib: u64,
}

/// Measures the compositor running as `server` (its first process) with
/// clients connecting to `socket`.
fn measure(server: &mut Children, socket: &Path, name: &str) -> anyhow::Result<Figures> {
    // A first client to let the compositor (and weston's shell) settle.
    let (mut w, _) = Window::open(socket)?;
    w.frame()?;
    drop(w);
    std::thread::sleep(Duration::from_millis(200));

    let mut first = Vec::new();
    for round in 0..FIRST_FRAME_ROUNDS {
        std::thread::sleep(pause(Duration::from_millis(30), round, FIRST_FRAME_ROUNDS));
        let (mut w, start) = Window::open(socket)?;
        first.push(w.frame()? - start);
        drop(w);
    }
    eprintln!("{name}: first frame done");

    let mut frame = [Duration::ZERO; 2];
    let mut rss = 0;
    for (slot, n) in [1, CLIENTS].into_iter().enumerate() {
        let mut shm = Children(Vec::new());
        for _ in 1..n {
            shm.0.push(
                Command::new(SIMPLE_SHM)
                    .env("WAYLAND_DISPLAY", socket)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .context("starting weston-simple-shm")?,
            );
        }
        std::thread::sleep(Duration::from_millis(500));
        shm.check("weston-simple-shm")?;
        let (mut w, _) = Window::open(socket)?;
        let mut last = w.frame()?;
        let mut intervals = Vec::new();
        for i in 0..FRAME_WARMUP + FRAME_SAMPLES {
            w.request_frame();
            let done = w.frame()?;
            if i >= FRAME_WARMUP {
                intervals.push(done - last);
            }
            last = done;
        }
        let mut sorted = intervals.clone();
        sorted.sort();
        eprintln!(
            "{name}: {n} clients: frame intervals p10 {} p50 {} p90 {}",
            ms(sorted[sorted.len() / 10]),
            ms(sorted[sorted.len() / 2]),
            ms(sorted[sorted.len() * 9 / 10])
        );
        frame[slot] = median(intervals);
        if n == CLIENTS {
            shm.check("weston-simple-shm")?;
            rss = rss_kib(server.0[0].id())?;
        }
        drop(w);
        shm.stop();
    }
    eprintln!("{name}: frame times and RSS done");
    Ok(Figures {
        first_frame: median(first),
        frame,
        rss_kib: rss,
    })
}

fn zion_command(bin: &Path, runtime: &Path, config: &Path, log: &Path) -> anyhow::Result<Command> {
    let mut cmd = Command::new(bin);
    cmd.args(["--backend", "headless", "--size", "1280x720", "--no-bar"])
        .arg("--runtime-dir")
        .arg(runtime)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).context("creating the compositor log")?);
    Ok(cmd)
}

/// Desktop switch latencies: the median SwitchTo call, and every time
/// (sorted) until the hidden desktop's client got its frame callback.
fn switch_latency(
    bin: &Path,
    tmp: &Path,
    config: &Path,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let runtime = tmp.join("zion-bus-runtime");
    std::fs::create_dir_all(&runtime).context("creating a runtime folder")?;
    let bus_dir = tmp.join("bus");
    std::fs::create_dir_all(&bus_dir).context("creating the bus folder")?;
    let bus = zion_tests::DbusBus::start(&bus_dir)?;
    let log = tmp.join("zion-bus.log");
    let mut server = Children(Vec::new());
    server.0.push(
        zion_command(bin, &runtime, config, &log)?
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .spawn()
            .context("starting zion-compositor")?,
    );
    let work_socket = runtime.join("zion/work/wayland-0");
    wait_socket(&work_socket, &mut server, &log, WAIT)?;
    let rt = tokio::runtime::Runtime::new().context("starting tokio")?;
    let proxy = rt.block_on(async {
        let conn = bus.connect().await?;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
        let end = Instant::now() + WAIT;
        while !dbus
            .name_has_owner("org.zionos.Compositor1".try_into()?)
            .await?
        {
            if Instant::now() > end {
                bail!(
                    "org.zionos.Compositor1 never appeared on the bus; see {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::Ok(Compositor1Proxy::new(&conn).await?)
    })?;

    rt.block_on(proxy.switch_to("work"))?;
    let (mut shown, _) = Window::open(&work_socket)?;
    shown.frame()?;
    let (mut other, _) = Window::open(&runtime.join("zion/personal/wayland-0"))?;
    let mut calls = Vec::new();
    let mut frames = Vec::new();
    for round in 0..SWITCH_ROUNDS {
        if round > 0 {
            rt.block_on(proxy.switch_to("work"))?;
            other.request_frame();
        }
        // Its desktop hidden, the client must get no frame callback.
        let hidden = pause(Duration::from_millis(60), round, SWITCH_ROUNDS);
        if other.wait_frame(hidden)?.is_some() {
            bail!("a client on the hidden desktop `personal` got a frame callback");
        }
        let (call, done) = std::thread::scope(|s| {
            let waiter = s.spawn(|| other.frame());
            let start = Instant::now();
            let call = rt
                .block_on(proxy.switch_to("personal"))
                .map(|()| start.elapsed());
            let done = waiter
                .join()
                .map_err(|_| anyhow::anyhow!("the waiting thread panicked"));
            (call, done.map(|d| d.map(|d| d - start)))
        });
        calls.push(call?);
        frames.push(done??);
    }
    drop(shown);
    server.check("zion-compositor")?;
    frames.sort();
    Ok((median(calls), frames))
}

fn main() -> anyhow::Result<()> {
    let zion_bin = sibling("zion-compositor")?;
    if !Path::new(SIMPLE_SHM).exists() {
        bail!("{SIMPLE_SHM} is missing: install Debian's weston package");
    }
    let weston_bin = Path::new("/usr/bin/weston");
    if !weston_bin.exists() {
        bail!("/usr/bin/weston is missing: install Debian's weston package");
    }
    let tmp = tempfile::Builder::new()
        .prefix("zion-bench-compositor-")
        .tempdir()
        .context("creating a temporary folder")?;
    let config = tmp.path().join("zion.toml");
    std::fs::write(
        &config,
        "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\n\n\
         [[profile]]\nname = \"personal\"\ncolour = \"#4e9a06\"\n",
    )
    .context("writing the compositor configuration")?;

    // Zion, without a bus, as a profile's clients see it.
    let runtime = tmp.path().join("zion-runtime");
    std::fs::create_dir_all(&runtime).context("creating a runtime folder")?;
    let log = tmp.path().join("zion.log");
    let mut server = Children(Vec::new());
    server.0.push(
        zion_command(&zion_bin, &runtime, &config, &log)?
            .arg("--no-dbus")
            .spawn()
            .context("starting zion-compositor")?,
    );
    let socket = runtime.join("zion/work/wayland-0");
    wait_socket(&socket, &mut server, &log, WAIT)?;
    let zion = measure(&mut server, &socket, "zion")?;
    server.check("zion-compositor")?;
    server.stop();

    // Weston, in its own runtime folder.
    let runtime = tmp.path().join("weston-runtime");
    let log = tmp.path().join("weston.log");
    let mut server = Children(Vec::new());
    server.0.push(spawn_weston(
        weston_bin,
        &runtime,
        &log,
        ("1280", "720"),
        &[],
    )?);
    let socket = runtime.join(WESTON_SOCKET);
    wait_socket(&socket, &mut server, &log, WAIT)?;
    let weston = measure(&mut server, &socket, "weston")?;
    server.check("weston")?;
    server.stop();

    let (switch_call, switch_frames) = switch_latency(&zion_bin, tmp.path(), &config)?;

    println!(
        "compositor, medians (release zion-compositor --backend headless vs weston 10 headless-backend.so --use-pixman, 1280x720):"
    );
    println!(
        "  {:<44} {:>12} {:>12}   ratio weston/zion (>1: Zion better)",
        "", "zion", "weston"
    );
    let mut ratios = Vec::new();
    let mut row = |what: &str, z: f64, w: f64, show: &dyn Fn(f64) -> String| {
        let ratio = w / z;
        ratios.push(ratio);
        println!("  {what:<44} {:>12} {:>12}   {ratio:.2}x", show(z), show(w));
    };
    let msf = |v: f64| format!("{v:.2} ms");
    let mib = |v: f64| format!("{:.1} MiB", v / 1024.0);
    row(
        &format!("connect to first frame callback ({FIRST_FRAME_ROUNDS} clients)"),
        zion.first_frame.as_secs_f64() * 1e3,
        weston.first_frame.as_secs_f64() * 1e3,
        &msf,
    );
    row(
        &format!("frame time, 1 client ({FRAME_SAMPLES} frames)"),
        zion.frame[0].as_secs_f64() * 1e3,
        weston.frame[0].as_secs_f64() * 1e3,
        &msf,
    );
    row(
        &format!("frame time, {CLIENTS} clients (9 weston-simple-shm)"),
        zion.frame[1].as_secs_f64() * 1e3,
        weston.frame[1].as_secs_f64() * 1e3,
        &msf,
    );
    row(
        &format!("compositor RSS with {CLIENTS} clients"),
        zion.rss_kib as f64,
        weston.rss_kib as f64,
        &mib,
    );
    println!(
        "desktop switch, Zion only ({SWITCH_ROUNDS} rounds; Compositor1.SwitchTo over D-Bus stands in for Super+N, which cannot be injected from outside):"
    );
    println!("  {:<44} {:>12}", "SwitchTo call returned", ms(switch_call));
    let switch_frame = switch_frames[switch_frames.len() / 2];
    println!(
        "  {:<44} {:>12}   (p90 {}, max {})",
        "SwitchTo to the other desktop's frame callback",
        ms(switch_frame),
        ms(switch_frames[switch_frames.len() * 9 / 10]),
        ms(switch_frames[switch_frames.len() - 1]),
    );
    println!(
        "  (weston's headless backend paces repaints at about 25 ms, so its frame times show that pacing more than drawing cost; weston's RSS leaves out its weston-desktop-shell client)"
    );
    let ratios_met = ratios.iter().all(|r| *r >= 1.0);
    let switch_met = switch_frame < ONE_FRAME;
    println!(
        "aim: every ratio at or better than weston, switch under 16 ms: {} (ratios {}, switch {})",
        if ratios_met && switch_met {
            "met"
        } else {
            "missed"
        },
        if ratios_met { "met" } else { "missed" },
        if switch_met { "met" } else { "missed" },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_spread_rounds_over_one_frame_period() {
        let base = Duration::from_millis(30);
        let pauses: Vec<_> = (0..30).map(|r| pause(base, r, 30)).collect();
        assert_eq!(pauses[0], base);
        assert!(pauses.windows(2).all(|p| p[0] < p[1]));
        assert!(pauses[29] - base > Duration::from_millis(15));
        assert!(pauses[29] - base < Duration::from_micros(16_667));
    }

    #[test]
    fn vm_rss_is_read_from_proc_status() {
        let status = "Name:\tweston\nVmPeak:\t  300000 kB\nVmRSS:\t   26624 kB\nThreads:\t3\n";
        assert_eq!(vm_rss_kib(status), Some(26624));
        assert_eq!(vm_rss_kib("Name:\tzombie\n"), None);
    }
}

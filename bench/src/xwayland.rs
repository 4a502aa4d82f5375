//! bench-xwayland: how long an X11 program waits for its first window, on
//! the release `zion-compositor --backend headless` (beside this binary)
//! against `weston --backend=headless-backend.so --use-pixman --xwayland`
//! in the same run, both 1280x720. A fresh compositor each run, so each run
//! starts its Xwayland; Zion and weston take turns, run by run.
//!
//! The same X11 client (x11rb) measures both, from its side: t0 when it
//! starts connecting to the compositor's X11 socket (once the compositor's
//! Wayland socket answers), t1 when it has the X server's setup (Xwayland
//! is up), t2 when the MapNotify of its own window comes after MapWindow
//! (the compositor's X11 window manager mapped it). For Zion, the time its
//! log says "X11 window mapped" is shown too.
//!
//! Zion's socket is whatever `X*` is in `$XDG_RUNTIME_DIR/zion/work/X11/`;
//! weston's is `/tmp/.X11-unix/X<n>` for the display `:<n>` its log names.
//! Each run also notes whether Xwayland was already running at t0 (Zion
//! before lazy start spawns it with the compositor; weston spawns it on the
//! first X11 connection). One run of each comes first and is not counted.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt as _, CreateWindowAux, EventMask, PropMode, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::{DefaultStream, RustConnection};
use x11rb::wrapper::ConnectionExt as _;
use zion_bench::{median, ms, sibling, spawn_weston, wait_socket, Children, WESTON_SOCKET};

const DEFAULT_RUNS: usize = 10;
const WAIT: Duration = Duration::from_secs(10);
const WESTON: &str = "/usr/bin/weston";
const SIZE: &str = "1280x720";
const PROFILE: &str = "work";

/// One client's times, from t0 (it starts connecting).
struct Sample {
    /// t1 - t0: the X server's setup received.
    connect: Duration,
    /// t2 - t0: MapNotify of its window.
    mapped: Duration,
    /// When t0 was, by the wall clock (to read the compositor's log).
    wall_start: SystemTime,
    /// From the compositor's launch to MapNotify (set by the run).
    from_launch: Duration,
    /// When MapNotify came.
    mapped_at: Instant,
}

/// Connects to the X11 socket `socket` (retrying while it is missing or
/// refuses, up to [`WAIT`]), opens a 250x250 window and waits for its
/// MapNotify.
fn x11_client(socket: &Path) -> anyhow::Result<Sample> {
    let wall_start = SystemTime::now();
    let start = Instant::now();
    let end = start + WAIT;
    let stream = loop {
        match UnixStream::connect(socket) {
            Ok(stream) => break stream,
            Err(err)
                if Instant::now() < end
                    && matches!(
                        err.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                    ) =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(err) => {
                return Err(err).with_context(|| format!("connecting to {}", socket.display()))
            }
        }
    };
    let (stream, _) = DefaultStream::from_unix_stream(stream)
        .with_context(|| format!("setting up the X11 stream on {}", socket.display()))?;
    let conn = RustConnection::connect_to_stream(stream, 0)
        .with_context(|| format!("X11 connection setup on {}", socket.display()))?;
    let connected = Instant::now();

    let screen = conn
        .setup()
        .roots
        .first()
        .with_context(|| format!("the X server on {} has no screen", socket.display()))?;
    let window = conn.generate_id().context("allocating an X11 window id")?;
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        screen.root,
        0,
        0,
        250,
        250,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new()
            .background_pixel(screen.white_pixel)
            .event_mask(EventMask::STRUCTURE_NOTIFY),
    )
    .context("creating the X11 window")?;
    conn.change_property8(
        PropMode::REPLACE,
        window,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        b"bench-xwayland",
    )
    .context("naming the X11 window")?;
    conn.map_window(window).context("mapping the X11 window")?;
    conn.flush().context("sending to the X server")?;
    loop {
        match conn.wait_for_event().context("reading X11 events")? {
            Event::MapNotify(e) if e.window == window => break,
            _ => {}
        }
    }
    let mapped = Instant::now();
    Ok(Sample {
        connect: connected - start,
        mapped: mapped - start,
        wall_start,
        from_launch: Duration::ZERO,
        mapped_at: mapped,
    })
}

/// [`x11_client`] in a thread of its own, given up after [`WAIT`] (an X
/// server that never answers would block it for good).
fn run_client(socket: &Path, log: &Path) -> anyhow::Result<Sample> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = socket.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(x11_client(&path));
    });
    rx.recv_timeout(WAIT + Duration::from_secs(1))
        .map_err(|_| {
            anyhow::anyhow!(
                "no X11 window mapped within {WAIT:?} on {}; see {}",
                socket.display(),
                log.display()
            )
        })?
        .with_context(|| format!("see {}", log.display()))
}

/// The live (not zombie) children of `pid`: their pids and names.
fn children_of(pid: u32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (comm, state, ppid) = parse_stat(&stat)?;
            (ppid == pid && state != "Z").then(|| (child, comm.to_string()))
        })
        .collect()
}

/// Whether `pid` is still running (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .is_some_and(|stat| parse_stat(&stat).is_some_and(|(_, state, _)| state != "Z"))
}

/// Stops `server` and waits for the children it had (its Xwayland,
/// weston's helper clients) to go too, so they do not run into the next
/// run; those still there after 5 s are killed.
fn stop_all(server: &mut Children) {
    let pids: Vec<u32> = server
        .0
        .iter()
        .flat_map(|c| children_of(c.id()))
        .map(|(pid, _)| pid)
        .collect();
    server.stop();
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end && pids.iter().any(|p| alive(*p)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    for pid in pids.into_iter().filter(|p| alive(*p)) {
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// The command name, state and parent pid in a `/proc/<pid>/stat` text.
fn parse_stat(stat: &str) -> Option<(&str, &str, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, state, ppid))
}

/// Seconds since midnight UTC of the RFC 3339 time starting `line`, as
/// tracing writes it (`2026-11-30T06:33:03.875123Z  INFO ...`).
fn log_time_of_day(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?;
    let (_, time) = stamp.split_once('T')?;
    let time = time.trim_end_matches('Z');
    let mut parts = time.splitn(3, ':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// When, after `start`, the first line of `log` holding `needle` was
/// written; None if there is none or its time does not parse.
fn logged_after(log: &str, needle: &str, start: SystemTime) -> Option<Duration> {
    let line = log.lines().find(|l| l.contains(needle))?;
    let at = log_time_of_day(line)?;
    let since_epoch = start.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    let start = (since_epoch.as_secs() % 86_400) as f64 + since_epoch.subsec_nanos() as f64 / 1e9;
    let mut diff = at - start;
    if diff < -43_200.0 {
        diff += 86_400.0; // past midnight
    }
    Duration::try_from_secs_f64(diff).ok()
}

/// The display weston's log says its X server listens on.
fn weston_display(log: &str) -> Option<u32> {
    log.lines()
        .find_map(|l| l.split("xserver listening on display :").nth(1))
        .and_then(|n| n.trim().parse().ok())
}

/// Waits up to [`WAIT`] for `what` to be found by `find`.
fn poll<T>(what: &str, mut find: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let end = Instant::now() + WAIT;
    loop {
        if let Some(found) = find() {
            return Ok(found);
        }
        if Instant::now() > end {
            bail!("{what} not found within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One run on a fresh Zion: the client's sample, the time its log said
/// "X11 window mapped", and whether Xwayland was running at t0.
fn zion_run(
    bin: &Path,
    dir: &Path,
    config: &Path,
) -> anyhow::Result<(Sample, Option<Duration>, bool)> {
    let runtime = dir.join("zion-runtime");
    std::fs::create_dir_all(&runtime).context("creating a runtime folder")?;
    let log = dir.join("zion.log");
    let mut server = Children(Vec::new());
    let launch = Instant::now();
    server.0.push(
        Command::new(bin)
            .args(["--backend", "headless", "--size", SIZE, "--no-dbus"])
            .arg("--runtime-dir")
            .arg(&runtime)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn,zion_compositor::xwayland=info")
            .env("NO_COLOR", "1")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).context("creating the compositor log")?)
            .spawn()
            .context("starting zion-compositor")?,
    );
    let profile = runtime.join("zion").join(PROFILE);
    wait_socket(&profile.join("wayland-0"), &mut server, &log, WAIT)?;
    let folder = profile.join("X11");
    let socket = poll(&format!("an X* socket in {}", folder.display()), || {
        std::fs::read_dir(&folder)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('X'))
            })
    })
    .with_context(|| format!("see {}", log.display()))?;
    let running = children_of(server.0[0].id())
        .iter()
        .any(|(_, comm)| comm == "Xwayland");
    let mut sample = run_client(&socket, &log)?;
    sample.from_launch = sample.mapped_at - launch;
    server.check("zion-compositor")?;
    // The log line is written before the client's MapNotify; give the
    // writer a moment all the same.
    let logged = poll("", || {
        let text = std::fs::read_to_string(&log).ok()?;
        logged_after(&text, "X11 window mapped", sample.wall_start)
    })
    .ok();
    stop_all(&mut server);
    Ok((sample, logged, running))
}

/// One run on a fresh weston: the client's sample and whether Xwayland was
/// running at t0.
fn weston_run(dir: &Path) -> anyhow::Result<(Sample, bool)> {
    let runtime = dir.join("weston-runtime");
    let log = dir.join("weston.log");
    let size = SIZE.split_once('x').unwrap_or(("1280", "720"));
    let mut server = Children(Vec::new());
    let launch = Instant::now();
    server.0.push(spawn_weston(
        Path::new(WESTON),
        &runtime,
        &log,
        size,
        &["--xwayland"],
    )?);
    wait_socket(&runtime.join(WESTON_SOCKET), &mut server, &log, WAIT)?;
    let display = poll("weston's `xserver listening on display`", || {
        weston_display(&std::fs::read_to_string(&log).ok()?)
    })
    .with_context(|| format!("see {} (is xwayland.so installed?)", log.display()))?;
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{display}"));
    let running = children_of(server.0[0].id())
        .iter()
        .any(|(_, comm)| comm == "Xwayland");
    let mut sample = run_client(&socket, &log)?;
    sample.from_launch = sample.mapped_at - launch;
    server.check("weston")?;
    stop_all(&mut server);
    Ok((sample, running))
}

/// Why this machine cannot run the benchmark, if it cannot.
fn missing() -> Option<String> {
    let xwayland = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("Xwayland").is_file()));
    if !xwayland {
        return Some("Xwayland is not on PATH (Debian package xwayland)".into());
    }
    if !Path::new(WESTON).exists() {
        return Some(format!("{WESTON} is missing (Debian package weston)"));
    }
    let module = std::fs::read_dir("/usr/lib/x86_64-linux-gnu")
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.file_name().to_string_lossy().starts_with("libweston-")
                && e.path().join("xwayland.so").exists()
        });
    if !module {
        return Some(
            "weston's xwayland.so module is missing (Debian package weston, libweston-*/xwayland.so)"
                .into(),
        );
    }
    None
}

fn runs_arg() -> anyhow::Result<usize> {
    let mut args = std::env::args().skip(1);
    let mut runs = DEFAULT_RUNS;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--runs" => args.next(),
            _ => match arg.strip_prefix("--runs=") {
                Some(v) => Some(v.to_string()),
                None => bail!("unknown argument {arg:?}; usage: bench-xwayland [--runs N]"),
            },
        };
        runs = value
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .context("--runs needs a number above 0")?;
    }
    Ok(runs)
}

fn worst(samples: &[Duration]) -> Duration {
    samples.iter().copied().max().unwrap_or_default()
}

fn main() -> anyhow::Result<()> {
    let runs = runs_arg()?;
    if let Some(reason) = missing() {
        println!("bench-xwayland skipped: {reason}");
        return Ok(());
    }
    let zion_bin = sibling("zion-compositor")?;
    let tmp = tempfile::Builder::new()
        .prefix("zion-bench-xwayland-")
        .tempdir()
        .context("creating a temporary folder")?;
    let config = tmp.path().join("zion.toml");
    std::fs::write(
        &config,
        format!("[[profile]]\nname = \"{PROFILE}\"\ncolour = \"#3465a4\"\n"),
    )
    .context("writing the compositor configuration")?;

    let (mut z_connect, mut z_map, mut z_logged, mut z_launch) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut w_connect, mut w_map, mut w_launch) = (Vec::new(), Vec::new(), Vec::new());
    let (mut z_running, mut w_running) = (0, 0);
    // One run of each not counted: the first Xwayland start reads it
    // from disk.
    let warm = tmp.path().join("warm-up");
    zion_run(&zion_bin, &warm, &config)?;
    weston_run(&warm)?;
    for run in 0..runs {
        let dir = tmp.path().join(format!("run-{run}"));
        let (z, logged, running) = zion_run(&zion_bin, &dir, &config)?;
        let (w, w_run) = weston_run(&dir)?;
        eprintln!(
            "run {}: zion connect {} map {}{}, weston connect {} map {}",
            run + 1,
            ms(z.connect),
            ms(z.mapped),
            logged
                .map(|l| format!(" (logged {})", ms(l)))
                .unwrap_or_default(),
            ms(w.connect),
            ms(w.mapped),
        );
        z_connect.push(z.connect);
        z_map.push(z.mapped);
        z_logged.extend(logged);
        w_connect.push(w.connect);
        w_map.push(w.mapped);
        z_launch.push(z.from_launch);
        w_launch.push(w.from_launch);
        z_running += usize::from(running);
        w_running += usize::from(w_run);
    }

    println!(
        "xwayland, {runs} runs, a fresh compositor each (release zion-compositor --backend headless vs weston 10 headless-backend.so --use-pixman --xwayland, {SIZE}; one x11rb client, timed from its connect):"
    );
    println!(
        "  {:<44} {:>12} {:>12}   ratio zion/weston (<1: Zion better)",
        "", "zion", "weston"
    );
    let row = |what: &str, z: Duration, w: Duration| {
        let ratio = z.as_secs_f64() / w.as_secs_f64();
        println!("  {what:<44} {:>12} {:>12}   {ratio:.2}x", ms(z), ms(w));
    };
    row(
        "connect to X setup (Xwayland up), median",
        median(z_connect.clone()),
        median(w_connect.clone()),
    );
    row(
        "connect to X setup, worst",
        worst(&z_connect),
        worst(&w_connect),
    );
    row(
        "connect to MapNotify (window mapped), median",
        median(z_map.clone()),
        median(w_map.clone()),
    );
    row("connect to MapNotify, worst", worst(&z_map), worst(&w_map));
    row(
        "compositor launch to MapNotify, median",
        median(z_launch.clone()),
        median(w_launch.clone()),
    );
    if !z_logged.is_empty() {
        println!(
            "  {:<44} {:>12}   (worst {}, {} of {runs} runs)",
            "connect to Zion's log \"X11 window mapped\"",
            ms(median(z_logged.clone())),
            ms(worst(&z_logged)),
            z_logged.len(),
        );
    }
    println!(
        "  Xwayland already running when the client began connecting: zion {z_running} of {runs} runs, weston {w_running} of {runs}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weston_display_is_read_from_its_log() {
        let log = "[06:33:03.920] Registered plugin API 'weston_xwayland_v1' of size 32\n\
                   [06:33:03.920] xserver listening on display :3\n";
        assert_eq!(weston_display(log), Some(3));
        assert_eq!(
            weston_display("[06:33:03.876] Output 'headless' enabled\n"),
            None
        );
    }

    #[test]
    fn stat_gives_command_and_parent() {
        let stat = "4242 (Xwayland) S 4200 4242 4200 0 -1 4194560 1 0";
        assert_eq!(parse_stat(stat), Some(("Xwayland", "S", 4200)));
        let odd = "7 (a (b) c) Z 1 7 7";
        assert_eq!(parse_stat(odd), Some(("a (b) c", "Z", 1)));
    }

    #[test]
    fn log_line_time_is_measured_from_the_start() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 20_000 + 3600);
        let log = "1970-01-01T00:00:00.000000Z  INFO x: Xwayland ready\n\
                   2024-10-04T01:00:00.125000Z  INFO zion_compositor::xwayland: X11 window mapped origin=Profile(work)\n";
        let got = logged_after(log, "X11 window mapped", start).map(|d| d.as_micros());
        assert_eq!(got, Some(125_000));
        assert_eq!(logged_after(log, "nothing like it", start), None);
        // Past midnight.
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 - 1);
        let log = "1970-01-02T00:00:00.5Z  INFO x: X11 window mapped\n";
        let got = logged_after(log, "X11 window mapped", start).map(|d| d.as_millis());
        assert_eq!(got, Some(1500));
    }
}

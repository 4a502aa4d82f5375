//! bench-sandbox: a disposable browser through zion-sandboxd's
//! `org.zionos.Sandbox1.OpenBrowser`, with the warm pool (one sandbox made
//! and frozen ahead of time) and without it, beside `podman run -d` of the
//! same browser image running the same headless Chromium command, against
//! the same private Podman service, in one run. Prints medians and ratios
//! (podman / Zion: above 1 means Zion is faster).
//!
//! Two moments are timed from the request:
//! - *container running*: `OpenBrowser` has returned (the daemon answers once
//!   the container runs and the browser is exec'd into it); `podman run -d`
//!   has returned (it does once the container is started);
//! - *browser running*: a process whose executable is Chromium's
//!   (`/usr/lib/chromium/chromium`, not Debian's `/usr/bin/chromium` wrapper
//!   script) with this sandbox's `ZION_SANDBOX` in its environment shows in
//!   the host's `/proc` (polled every millisecond).
//!
//! In a first part no compositor is on the bus, so Chromium runs headless in
//! both. In a second part zion-compositor (headless backend) is on the bus:
//! each sandbox gets its own Wayland socket and Chromium runs on it, and a
//! third moment is timed, *first window mapped*: the compositor logs
//! `window mapped` (its first buffer committed: the first drawn frame) for a
//! client of the sandbox's socket. `podman run` is given the work profile's
//! socket folder and the same Chromium command, and its window is timed the
//! same way. There, three daemons are timed in turn: the warm browser pool
//! (issue 15: Chromium started with no window and frozen, opened by one
//! DevTools request), the container-only pool (`ZION_SANDBOX_WARM_BROWSER=
//! false`: the browser is exec'd into a thawed container) and no pool; for
//! the warm browser the daemon's own log splits the time (thawed, window
//! request answered), and the memory of one frozen pooled browser (RSS and
//! PSS of its container's processes) is printed.
//!
//! Needs zion-sandboxd, zion-scan-worker and zion-compositor built beside it:
//! `cargo build --release -p zion-bench -p zion-sandboxd -p zion-scanner -p zion-compositor --bins`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zion_bus::Sandbox1Proxy;

use anyhow::{bail, Context};
use zion_tests::{TestEnv, TestImage};

/// The Firefox part (issue 15).
mod sandbox_firefox;
/// runc vs gVisor (issue 15): `bench-sandbox gvisor` runs it alone.
mod sandbox_gvisor;

const ROUNDS: usize = 9;
const WAIT: Duration = Duration::from_secs(60);
const URL: &str = "about:blank";

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The headless browser command zion-sandboxd runs in a sandbox without
/// Wayland (sandboxd/src/sandbox/spec.rs `browser_command(url, false)`),
/// without the preferences it writes first (those only matter to
/// downloads). Both Chromiums' arguments, as Debian's wrapper script passes
/// them on, are compared below.
fn browser_argv(url: &str) -> Vec<String> {
    [
        "chromium",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--password-store=basic",
        "--user-data-dir=/home/zion/.config/chromium",
        "--headless=new",
        "--safebrowsing-disable-download-protection",
        "--",
        url,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The pid of a process running Chromium's own binary with
/// `ZION_SANDBOX=<tag>` in its environment, if one runs now.
fn chromium_of(tag: &str) -> Option<u32> {
    let needle = format!("ZION_SANDBOX={tag}\0");
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let exe = match fs::read_link(entry.path().join("exe")) {
            Ok(exe) => exe,
            Err(_) => continue,
        };
        if !exe.ends_with("chromium/chromium") {
            continue;
        }
        let environ = fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            return Some(pid);
        }
    }
    None
}

/// Polls until Chromium runs with `ZION_SANDBOX=<tag>`; returns when, and
/// its pid.
fn wait_for_chromium(tag: &str, start: Instant) -> anyhow::Result<(Duration, u32)> {
    loop {
        if let Some(pid) = chromium_of(tag) {
            return Ok((start.elapsed(), pid));
        }
        if start.elapsed() > WAIT {
            bail!("no Chromium ran in sandbox {tag} within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Chromium's arguments (after argv[0]) of process `pid`.
fn args_of(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .skip(1)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// zion-sandboxd on the environment's bus and Podman, its log collected;
/// killed when dropped.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(env: &TestEnv, browser: &str, pool: usize, warm: bool) -> anyhow::Result<Daemon> {
        let exe = std::env::current_exe().context("finding this program")?;
        let daemon = exe.with_file_name("zion-sandboxd");
        let worker = exe.with_file_name("zion-scan-worker");
        for bin in [&daemon, &worker] {
            if !bin.exists() {
                bail!(
                    "{} is missing: build it with `cargo build --release -p zion-sandboxd -p zion-scanner --bins`",
                    bin.display()
                );
            }
        }
        let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../session-files/rules");
        let mut child = env
            .command(&daemon)
            .env("ZION_SCAN_WORKER", &worker)
            .env("ZION_RULES", &rules)
            .env("ZION_BROWSER_IMAGE", browser)
            .env("ZION_SANDBOX_POOL", pool.to_string())
            .env("ZION_SANDBOX_WARM_BROWSER", warm.to_string())
            .env("RUST_LOG", "warn,zion_sandboxd=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", daemon.display()))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().context("the daemon's stderr")?;
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        Ok(Daemon { child, log })
    }

    fn count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// Waits until `needle` has been logged `n` times.
    async fn wait_for(&self, needle: &str, n: usize) -> anyhow::Result<()> {
        let start = Instant::now();
        while self.count(needle) < n {
            if start.elapsed() > WAIT {
                bail!(
                    "zion-sandboxd did not log `{needle}` {n} times within {WAIT:?}; it said:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Timings of one way of opening a browser, and its first Chromium's
/// arguments.
#[derive(Default)]
struct Samples {
    container: Vec<Duration>,
    browser: Vec<Duration>,
    window: Vec<Duration>,
    /// The daemon's own clock (warm browser): the pooled sandbox thawed,
    /// and its browser's answer to the window request.
    thawed: Vec<Duration>,
    answered: Vec<Duration>,
    args: Vec<String>,
}

/// zion-compositor, headless, on the environment's bus; its log is a file
/// the benchmark reads for `window mapped` lines.
struct Compositor {
    child: Child,
    log: PathBuf,
}

impl Compositor {
    async fn start(env: &TestEnv) -> anyhow::Result<Compositor> {
        let exe = std::env::current_exe().context("finding this program")?;
        let bin = exe.with_file_name("zion-compositor");
        if !bin.exists() {
            bail!(
                "{} is missing: build it with `cargo build --release -p zion-compositor --bins`",
                bin.display()
            );
        }
        let log = env.root().join("compositor.log");
        let child = env
            .command(&bin)
            .args(["--backend", "headless", "--size", "1280x800", "--no-bar"])
            .arg("--runtime-dir")
            .arg(&env.xdg.runtime)
            .env("RUST_LOG", "warn,zion_compositor::state=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).context("creating the compositor's log")?)
            .spawn()
            .context("starting zion-compositor")?;
        let compositor = Compositor { child, log };
        let bus = env.dbus().connect().await?;
        let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
        let start = Instant::now();
        while !dbus
            .name_has_owner("org.zionos.Compositor1".try_into()?)
            .await?
        {
            if start.elapsed() > WAIT {
                bail!(
                    "zion-compositor never appeared on the bus:\n{}",
                    compositor.said()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(compositor)
    }

    fn said(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many windows of clients whose origin's text contains `origin`
    /// have been mapped.
    fn mapped(&self, origin: &str) -> usize {
        self.said()
            .lines()
            .filter(|l| l.contains("window mapped") && l.contains(origin))
            .count()
    }

    /// Polls until more than `before` windows of `origin` are mapped;
    /// returns when.
    fn wait_mapped(&self, origin: &str, before: usize, start: Instant) -> anyhow::Result<Duration> {
        loop {
            if self.mapped(origin) > before {
                return Ok(start.elapsed());
            }
            if start.elapsed() > WAIT {
                bail!(
                    "no window of {origin} was mapped within {WAIT:?}; the compositor said:\n{}",
                    self.said()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A duration as `Debug` prints it (`12.3ms`, `850µs`, `1.2s`).
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-9,
        "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(number * scale))
}

/// From the daemon's line for sandbox `id` opened: (container running,
/// browser launched), on the daemon's clock from the request.
fn opened_times(daemon: &Daemon, id: &str) -> Option<(Duration, Duration)> {
    let needle = format!("sandbox work/{id} opened");
    let log = daemon.log();
    let line = log.lines().find(|l| l.contains(&needle))?;
    let after = |what: &str| {
        let rest = line.split(what).nth(1)?;
        parse_duration(rest.split([',', ')', ' ']).next()?)
    };
    Some((
        after("container running after ")?,
        after("browser launched after ")?,
    ))
}

/// The id of the sandbox last made ready in the pool.
fn last_pooled(daemon: &Daemon) -> Option<String> {
    let log = daemon.log();
    let line = log
        .lines()
        .rfind(|l| l.contains("ready in the warm pool"))?;
    let rest = line.split("sandbox work/").nth(1)?;
    rest.split(' ').next().map(str::to_owned)
}

/// What the processes of sandbox `id`'s container hold in memory: the sum
/// of their RSS and of their PSS (shared pages split among their users),
/// in KiB, and how many there are.
fn memory_of(env: &TestEnv, id: &str) -> anyhow::Result<(u64, u64, usize)> {
    let out = env
        .podman()
        .cli()
        .args([
            "inspect",
            "--format",
            "{{.State.Pid}}",
            &format!("zion-sandbox-work-{id}"),
        ])
        .output()
        .context("podman inspect")?;
    let init: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .with_context(|| format!("the pid of sandbox {id}: {out:?}"))?;
    let ns = fs::read_link(format!("/proc/{init}/ns/pid"))?;
    let (mut rss, mut pss, mut n) = (0, 0, 0);
    for entry in fs::read_dir("/proc")?.flatten() {
        if entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
            .is_none()
        {
            continue;
        }
        if fs::read_link(entry.path().join("ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        let rollup = fs::read_to_string(entry.path().join("smaps_rollup")).unwrap_or_default();
        let field = |name: &str| -> u64 {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        rss += field("Rss:");
        pss += field("Pss:");
        n += 1;
    }
    Ok((rss, pss, n))
}

/// `ROUNDS` sandboxes through a daemon with a warm pool of `pool`, whose
/// sandboxes hold a started browser when `warm`.
async fn zion(
    env: &TestEnv,
    browser: &str,
    pool: usize,
    warm: bool,
    compositor: Option<&Compositor>,
) -> anyhow::Result<Samples> {
    let daemon = Daemon::start(env, browser, pool, warm)?;
    daemon.wait_for("session up", 1).await?;
    let bus = env
        .dbus()
        .connect()
        .await
        .context("connecting to the bus")?;
    let start = Instant::now();
    let proxy = loop {
        if let Ok(p) = Sandbox1Proxy::new(&bus).await {
            if p.list().await.is_ok() {
                break p;
            }
        }
        if start.elapsed() > WAIT {
            bail!("no org.zionos.Sandbox1 on the bus:\n{}", daemon.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut samples = Samples::default();
    for round in 0..ROUNDS {
        if pool > 0 {
            // The pool is refilled after each open: wait for it.
            daemon.wait_for("ready in the warm pool", round + 1).await?;
        }
        let mapped = compositor.map_or(0, |c| c.mapped("Some(Sandbox"));
        let start = Instant::now();
        let id = proxy
            .open_browser("work", URL)
            .await
            .with_context(|| format!("OpenBrowser:\n{}", daemon.log()))?;
        samples.container.push(start.elapsed());
        let (took, pid) = wait_for_chromium(&id, start)
            .with_context(|| format!("the daemon said:\n{}", daemon.log()))?;
        samples.browser.push(took);
        if let Some(c) = compositor {
            samples
                .window
                .push(c.wait_mapped("Some(Sandbox", mapped, start)?);
        }
        if let Some((thawed, answered)) = opened_times(&daemon, &id) {
            samples.thawed.push(thawed);
            samples.answered.push(answered);
        }
        if round == 0 {
            samples.args = args_of(pid);
        }
        proxy.close(&id).await.context("Close")?;
    }
    if warm && pool > 0 && compositor.is_some() {
        // One more pooled browser, frozen: what it holds.
        daemon
            .wait_for("ready in the warm pool", ROUNDS + 1)
            .await?;
        let id = last_pooled(&daemon).context("the last pooled sandbox")?;
        let (rss, pss, n) = memory_of(env, &id)?;
        println!(
            "memory of one pooled warm browser (frozen, {n} processes): RSS {:.0} MiB in sum, PSS {:.0} MiB",
            rss as f64 / 1024.0,
            pss as f64 / 1024.0
        );
    }
    let pooled = daemon.count("from the warm pool");
    if pool > 0 && pooled < ROUNDS {
        eprintln!("note: only {pooled} of {ROUNDS} sandboxes came from the warm pool");
    }
    Ok(samples)
}

fn podman(env: &TestEnv, args: &[&str]) -> anyhow::Result<()> {
    let out = env
        .podman()
        .cli()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running podman")?;
    if !out.status.success() {
        bail!(
            "podman {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `ROUNDS` times `podman run -d` of the browser image with the sandbox's
/// hardening and limits, running the same headless Chromium.
fn podman_cli(
    env: &TestEnv,
    browser: &str,
    compositor: Option<&Compositor>,
) -> anyhow::Result<Samples> {
    let mut samples = Samples::default();
    let socket_dir = env.xdg.runtime.join("zion/work");
    let volume = format!("{}:/run/zion-wayland", socket_dir.display());
    if compositor.is_some() {
        // The browser's user (host uid 1000 here: no user namespace) may
        // use the socket, as the daemon grants a sandbox's browser its own.
        zion_storage::access::grant_sockets(&socket_dir, &[1000])
            .with_context(|| format!("opening {} to uid 1000", socket_dir.display()))?;
    }
    for round in 0..ROUNDS {
        let tag = format!("cli-{round}");
        let name = format!("bench-sandbox-{tag}");
        let env_tag = format!("ZION_SANDBOX={tag}");
        let mut args: Vec<&str> = vec![
            "run",
            "-d",
            "--rm",
            "--name",
            &name,
            "--init",
            "--cap-drop",
            "all",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            "2048",
            "--memory",
            "2g",
            "--tmpfs",
            "/home/zion:mode=1777",
            "--tmpfs",
            "/tmp:mode=1777",
            "--workdir",
            "/home/zion",
            "-e",
            "HOME=/home/zion",
            "-e",
            "LANG=C.UTF-8",
            "-e",
            &env_tag,
        ];
        if compositor.is_some() {
            // As in a sandbox: Chromium as uid 1000 with its own sandbox on
            // (it refuses to run so as root), which needs SYS_CHROOT.
            args.extend([
                "--user",
                "1000:1000",
                "--cap-add",
                "SYS_CHROOT",
                "-v",
                &volume,
                "-e",
                "WAYLAND_DISPLAY=/run/zion-wayland/wayland-0",
                "-e",
                "XDG_RUNTIME_DIR=/tmp",
            ]);
        }
        args.push(browser);
        let argv = match compositor {
            Some(_) => zion_sandboxd::sandbox::spec::browser_command(URL, true),
            None => browser_argv(URL),
        };
        args.extend(argv.iter().map(String::as_str));
        let mapped = compositor.map_or(0, |c| c.mapped("Some(Profile("));
        let start = Instant::now();
        podman(env, &args)?;
        samples.container.push(start.elapsed());
        let (took, pid) = wait_for_chromium(&tag, start)?;
        samples.browser.push(took);
        if let Some(c) = compositor {
            samples
                .window
                .push(c.wait_mapped("Some(Profile(", mapped, start)?);
        }
        if round == 0 {
            samples.args = args_of(pid);
        }
        // `--rm` alone would wait for Podman's cleanup: force it out.
        podman(env, &["rm", "--force", "--time", "0", &name])?;
    }
    Ok(samples)
}

fn write_config(env: &TestEnv, image: &str) -> anyhow::Result<()> {
    let dir = env.xdg.config.join("zion");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = format!(
        "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{image}\"\nnetwork = \"full\"\nmemory = \"256MiB\"\n"
    );
    let path = dir.join("zion.toml");
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = TestEnv::new()?;
    let base = env.image(TestImage::Base)?;
    let browser = env.image(TestImage::Browser)?;
    write_config(&env, &base)?;
    if !Path::new("/proc/self/environ").exists() {
        bail!("this benchmark reads /proc, which is not mounted");
    }
    if std::env::var("ZION_BENCH_SANDBOX").as_deref() == Ok("firefox") {
        return sandbox_firefox::run(&env, &base).await;
    }
    if std::env::args().nth(1).as_deref() == Some("gvisor") {
        return sandbox_gvisor::compare(&env, &base, &browser).await;
    }
    // The CLI first: its first run also warms the image's layers into the
    // page cache for all three.
    let cli = podman_cli(&env, &browser, None)?;
    let warm = zion(&env, &browser, 1, true, None).await?;
    let cold = zion(&env, &browser, 0, true, None).await?;
    // On a compositor: Chromium on Wayland, to its first window.
    let compositor = Compositor::start(&env).await?;
    let cli_w = podman_cli(&env, &browser, Some(&compositor))?;
    let hot_w = zion(&env, &browser, 1, true, Some(&compositor)).await?;
    let warm_w = zion(&env, &browser, 1, false, Some(&compositor)).await?;
    let cold_w = zion(&env, &browser, 0, true, Some(&compositor)).await?;
    drop(compositor);
    for (label, samples) in [("warm pool", &warm), ("no pool", &cold)] {
        if samples.args != cli.args {
            eprintln!(
                "note: Chromium's arguments differ ({label}: {:?}; podman run: {:?})",
                samples.args, cli.args
            );
        }
    }

    println!(
        "disposable browser, median of {ROUNDS} rounds (private Podman {}, headless Chromium on {URL}):",
        env.podman().uri()
    );
    println!(
        "{:<34} {:>12} {:>12} {:>8}",
        "from request to", "zion", "podman run", "ratio"
    );
    let p_container = median(cli.container);
    let p_browser = median(cli.browser);
    for (label, samples) in [("warm pool (1)", &warm), ("no pool (0)", &cold)] {
        let z_container = median(samples.container.clone());
        let z_browser = median(samples.browser.clone());
        for (what, z, p) in [
            ("container running", z_container, p_container),
            ("Chromium running", z_browser, p_browser),
        ] {
            println!(
                "{:<34} {:>10.1}ms {:>10.1}ms {:>7.2}x",
                format!("{what}, {label}"),
                ms(z),
                ms(p),
                p.as_secs_f64() / z.as_secs_f64()
            );
        }
    }
    println!(
        "on zion-compositor (headless), Chromium on Wayland (software rendering), median of {ROUNDS} rounds:"
    );
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "from request to", "zion", "podman run", "ratio"
    );
    let p_window = median(cli_w.window);
    for (label, samples) in [
        ("warm browser pool (1)", &hot_w),
        ("container pool (1)", &warm_w),
        ("no pool (0)", &cold_w),
    ] {
        let z = median(samples.window.clone());
        println!(
            "{:<44} {:>10.1}ms {:>10.1}ms {:>7.2}x",
            format!("first drawn frame, {label}"),
            ms(z),
            ms(p_window),
            p_window.as_secs_f64() / z.as_secs_f64()
        );
    }
    let hot = median(hot_w.window.clone());
    if !hot_w.thawed.is_empty() {
        let thawed = median(hot_w.thawed.clone());
        let answered = median(hot_w.answered.clone());
        println!(
            "warm browser, where the time goes (medians, daemon's clock from the request): \
             thawed {:.1} ms, window request answered {:.1} ms (+{:.1}), first frame {:.1} ms (+{:.1}, client side of D-Bus)",
            ms(thawed),
            ms(answered),
            ms(answered.saturating_sub(thawed)),
            ms(hot),
            ms(hot.saturating_sub(answered))
        );
    }
    println!(
        "aim: the window's first frame in under 300 ms with the warm browser: {:.1} ms ({})",
        ms(hot),
        if hot < Duration::from_millis(300) {
            "met"
        } else {
            "missed"
        }
    );
    sandbox_gvisor::compare(&env, &base, &browser).await?;
    let warm_c = median(warm.container);
    println!(
        "aim: a running sandbox in under 150 ms with the pool: {:.1} ms ({})",
        ms(warm_c),
        if warm_c < Duration::from_millis(150) {
            "met"
        } else {
            "missed"
        }
    );
    sandbox_firefox::run(&env, &base).await?;
    Ok(())
}

//! The isolation dial's cost (issue 15), part of bench-sandbox: the same
//! disposable Chromium through zion-sandboxd under runc and under gVisor
//! (`[sandbox] runtime = "gvisor"`, the harness's browser Podman, its
//! window carried by waypipe), on zion-compositor (headless), in one run.
//!
//! For each runtime, `ROUNDS` sandboxes from a warm pool of one, each on a
//! page that repaints its whole window on every animation frame:
//! - *open → first frame*: `OpenBrowser` to the compositor's `window mapped`
//!   (its first buffer) for the sandbox's socket;
//! - *frame time*: over `MEASURE` once the window is up, the time between
//!   the sandbox's surface commits (the compositor's `surface commit` trace
//!   lines), i.e. `MEASURE / commits`;
//! - *CPU*: over the same span, CPU time of the sandbox's container (its
//!   cgroup's `cpuacct.usage`: Chromium under runc; gVisor's sentry, gofer
//!   and Chromium under gVisor) plus, under gVisor, the host's waypipe
//!   client, and the compositor's own, in % of one core.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use zion_bus::Sandbox1Proxy;
use zion_tests::TestEnv;

use super::{median, ms, Daemon, WAIT};

const ROUNDS: usize = 5;
/// How long frames and CPU are counted, once the window is up.
const MEASURE: Duration = Duration::from_secs(3);
/// Settling time between the first frame and the count.
const SETTLE: Duration = Duration::from_secs(2);
/// A page repainting its whole window on every animation frame (no `%`:
/// a data: URL percent-decodes).
const PAGE: &str = "data:text/html,<body style=\"margin:0\"><div id=\"d\" style=\"width:100vw;height:100vh\"></div><script>let n=0;function f(){d.style.background='rgb('+(n++&255)+',80,160)';requestAnimationFrame(f)}f()</script></body>";

/// One runtime's figures.
#[derive(Default)]
struct Figures {
    first_frame: Vec<Duration>,
    frame: Vec<Duration>,
    cpu: Vec<f64>,
    waypipe_cpu: Vec<f64>,
    compositor_cpu: Vec<f64>,
}

/// zion-compositor, headless, logging each surface commit to a file.
struct Compositor {
    child: std::process::Child,
    log: PathBuf,
}

impl Compositor {
    async fn start(env: &TestEnv) -> anyhow::Result<Compositor> {
        let exe = std::env::current_exe().context("finding this program")?;
        let bin = exe.with_file_name("zion-compositor");
        let log = env.root().join("compositor-dial.log");
        let child = env
            .command(&bin)
            .args(["--backend", "headless", "--size", "1280x800", "--no-bar"])
            .arg("--runtime-dir")
            .arg(&env.xdg.runtime)
            .env(
                "RUST_LOG",
                "warn,zion_compositor::state=info,zion_compositor::handlers::compositor=trace",
            )
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).context("creating the compositor's log")?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let compositor = Compositor { child, log };
        let bus = env.dbus().connect().await?;
        let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
        let start = Instant::now();
        while !dbus
            .name_has_owner("org.zionos.Compositor1".try_into()?)
            .await?
        {
            if start.elapsed() > WAIT {
                bail!("zion-compositor never appeared on the bus");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(compositor)
    }

    fn count(&self, needle: &str) -> usize {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle) && l.contains("Some(Sandbox"))
            .count()
    }

    fn cpu(&self) -> Duration {
        process_cpu(self.child.id())
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of process `pid` (Linux's USER_HZ is 100).
fn process_cpu(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of stat; 12 and 13 after the name's ")".
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// The pids of the host's waypipe client serving sandbox `id` (it forks
/// one process per connection).
fn waypipes_of(id: &str) -> Vec<u32> {
    // waypipe cuts its socket argument at the last `/` in place (ps shows
    // "…/sandbox-work-N waypipe.sock").
    let needle = format!("sandbox-work-{id}\0waypipe.sock");
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline);
            (text.starts_with("waypipe") && text.contains(&needle)).then_some(pid)
        })
        .collect()
}

fn processes_cpu(pids: &[u32]) -> Duration {
    pids.iter().map(|&p| process_cpu(p)).sum()
}

/// The cgroup v1 `cpuacct` folder of container `id` (Podman's cgroupfs
/// layout), searched a few levels deep.
fn cpuacct_of(container: &str) -> Option<PathBuf> {
    fn find(dir: &Path, id: &str, depth: u32) -> Option<PathBuf> {
        for entry in fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            // Not `libpod-conmon-<id>`: conmon's own.
            if entry.file_name().to_string_lossy() == format!("libpod-{id}") {
                return Some(path);
            }
            if depth > 0 {
                if let Some(found) = find(&path, id, depth - 1) {
                    return Some(found);
                }
            }
        }
        None
    }
    ["/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"]
        .iter()
        .find_map(|root| find(Path::new(root), container, 3))
}

fn cgroup_cpu(dir: &Path) -> Duration {
    let ns: u64 = fs::read_to_string(dir.join("cpuacct.usage"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

fn percent(cpu: Duration, over: Duration) -> f64 {
    100.0 * cpu.as_secs_f64() / over.as_secs_f64()
}

fn write_config(env: &TestEnv, base: &str, runtime: &str) -> anyhow::Result<()> {
    let dir = env.xdg.config.join("zion");
    fs::create_dir_all(&dir)?;
    let text = format!(
        "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{base}\"\nnetwork = \"full\"\nmemory = \"256MiB\"\n\n[sandbox]\nruntime = \"{runtime}\"\n"
    );
    fs::write(dir.join("zion.toml"), text).context("writing zion.toml")
}

/// zion-sandboxd as [`Daemon::start`] starts it, with `envs` more.
fn start_daemon(env: &TestEnv, browser: &str, envs: &[(&str, String)]) -> anyhow::Result<Daemon> {
    let exe = std::env::current_exe().context("finding this program")?;
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../session-files/rules");
    let mut command = env.command(exe.with_file_name("zion-sandboxd"));
    command
        .env("ZION_SCAN_WORKER", exe.with_file_name("zion-scan-worker"))
        .env("ZION_RULES", &rules)
        .env("ZION_BROWSER_IMAGE", browser)
        .env("ZION_SANDBOX_POOL", "1")
        .env("RUST_LOG", "warn,zion_sandboxd=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().context("starting zion-sandboxd")?;
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

/// The full id of container `name`.
fn container_id(env: &TestEnv, name: &str) -> anyhow::Result<String> {
    let out = env
        .podman()
        .cli()
        .args(["inspect", "--format", "{{.Id}}", name])
        .output()
        .context("podman inspect")?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if id.is_empty() {
        bail!(
            "no container {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(id)
}

async fn measure(
    env: &TestEnv,
    browser: &str,
    compositor: &Compositor,
    envs: &[(&str, String)],
) -> anyhow::Result<Figures> {
    let daemon = start_daemon(env, browser, envs)?;
    daemon.wait_for("session up", 1).await?;
    let bus = env.dbus().connect().await?;
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
    let mut figures = Figures::default();
    for round in 0..ROUNDS {
        daemon.wait_for("ready in the warm pool", round + 1).await?;
        // Shown, so that the compositor draws it and calls its frames.
        let screen = zion_bus::Compositor1Proxy::new(&bus).await?;
        screen.switch_to("work").await.context("SwitchTo work")?;
        let mapped = compositor.count("window mapped");
        let start = Instant::now();
        let id = proxy
            .open_browser("work", PAGE)
            .await
            .with_context(|| format!("OpenBrowser:\n{}", daemon.log()))?;
        while compositor.count("window mapped") <= mapped {
            if start.elapsed() > WAIT {
                bail!(
                    "no window of sandbox {id} within {WAIT:?}:\n{}",
                    daemon.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        figures.first_frame.push(start.elapsed());
        tokio::time::sleep(SETTLE).await;
        let cgroup = cpuacct_of(&container_id(env, &format!("zion-sandbox-work-{id}"))?)
            .context("the sandbox's cpuacct cgroup")?;
        let waypipe = waypipes_of(&id);
        let (commits0, cpu0, comp0) = (
            compositor.count("surface commit"),
            cgroup_cpu(&cgroup),
            compositor.cpu(),
        );
        let wp0 = processes_cpu(&waypipe);
        let t0 = Instant::now();
        tokio::time::sleep(MEASURE).await;
        let span = t0.elapsed();
        let commits = compositor.count("surface commit") - commits0;
        if commits == 0 {
            let log = fs::read_to_string(&compositor.log).unwrap_or_default();
            let all: Vec<&str> = log.lines().filter(|l| l.contains("commit")).collect();
            eprintln!(
                "note: no commit of sandbox {id} counted ({} commit lines in all; last: {:?})",
                all.len(),
                all.last()
            );
        }
        figures.frame.push(span / commits.max(1) as u32);
        figures
            .cpu
            .push(percent(cgroup_cpu(&cgroup).saturating_sub(cpu0), span));
        figures.waypipe_cpu.push(percent(
            processes_cpu(&waypipes_of(&id)).saturating_sub(wp0),
            span,
        ));
        figures
            .compositor_cpu
            .push(percent(compositor.cpu().saturating_sub(comp0), span));
        proxy.close(&id).await.context("Close")?;
    }
    Ok(figures)
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Runs the dial's comparison and prints it.
pub async fn compare(env: &TestEnv, base: &str, browser: &str) -> anyhow::Result<()> {
    if zion_tests::skip::program_missing("runsc", "runsc").is_some()
        || zion_tests::skip::program_missing("waypipe", "waypipe").is_some()
    {
        println!("runc vs gVisor: skipped (runsc or waypipe is not installed)");
        return Ok(());
    }
    let gvisor = env
        .podman()
        .start_gvisor_browser()
        .context("the browser Podman")?;
    let compositor = Compositor::start(env).await?;
    write_config(env, base, "runc")?;
    let runc = measure(env, browser, &compositor, &[]).await?;
    write_config(env, base, "gvisor")?;
    let envs = [("ZION_SANDBOX_GVISOR_PODMAN", gvisor.uri())];
    let gvisor_f = measure(env, browser, &compositor, &envs).await?;
    write_config(env, base, "runc")?;
    println!(
        "runc vs gVisor (warm pool of 1, Chromium on zion-compositor headless, a page repainting every frame; median of {ROUNDS}):"
    );
    println!(
        "{:<12} {:>16} {:>12} {:>14} {:>12} {:>16}",
        "runtime", "open→1st frame", "frame time", "sandbox CPU", "waypipe CPU", "compositor CPU"
    );
    for (label, f) in [("runc", runc), ("gVisor", gvisor_f)] {
        let frame = median(f.frame.clone());
        println!(
            "{:<12} {:>14.1}ms {:>10.1}ms {:>13.0}% {:>11.0}% {:>15.0}%",
            label,
            ms(median(f.first_frame)),
            ms(frame),
            median_f(f.cpu),
            median_f(f.waypipe_cpu),
            median_f(f.compositor_cpu)
        );
    }
    println!("(CPU in % of one core over {MEASURE:?} once the window is up; frame time = that span / the sandbox surface's commits)");
    Ok(())
}

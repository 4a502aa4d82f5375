//! The soak (issue 15): open → download → close, many times over, through
//! the real daemon with its warm pool, the harness's private Podman and bus,
//! a real headless Chromium fetching from the test's HTTP server, and the
//! quarantine with the real scan worker. Afterwards nothing the sandboxes
//! used may be left: no container, overlay layer, mount, process, socket,
//! inbox folder or runtime file; the daemon's memory stays flat, and every
//! download reached the quarantine whole.
//!
//! Long: `make soak` runs it (`ZION_SOAK_CYCLES`, default 200); `make test`
//! does not.

mod internet_support;
mod quarantine_support;
mod sandbox_support;
mod window_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use internet_support::{serve, Internet, Reply};
use quarantine_support::{eventually, sha256};
use sandbox_support::{item, on_the_bus, start_daemon, write_config, TIMEOUT};
use window_support::{headless_compositor, Logged};
use zion_bus::Compositor1Proxy;
use zion_tests::{TestEnv, TestImage};

/// The daemon may grow this much over the cycles after its warm-up.
const RSS_SLACK_KIB: u64 = 24 * 1024;
/// Cycles before the first memory reading: caches, the pool and the scan
/// workers settle.
const WARM_UP: usize = 10;

fn cycles() -> usize {
    std::env::var("ZION_SOAK_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for {pid}: {status}"))
}

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path.clone());
            }
            out.insert(path.strip_prefix(dir).unwrap_or(&path).to_owned());
        }
    }
    out
}

/// Mount points under `root`.
fn mounts_under(root: &Path) -> Vec<String> {
    let root = root.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&root))
        .map(str::to_owned)
        .collect()
}

/// Processes the sandboxes left: a container's monitor (its command line
/// names the test's folder) or anything in the cgroup of one of this test's
/// containers (`ids`, as Podman gives them untruncated).
fn processes(root: &Path, ids: &BTreeSet<String>) -> Vec<String> {
    let root = root.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        let cgroup = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
        let ours = cmd.contains("conmon") && cmd.contains(&root);
        let contained = ids.iter().any(|id| cgroup.contains(id.as_str()));
        if ours || contained {
            out.push(format!("{pid} {cmd}"));
        }
    }
    out
}

fn podman_lines(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let out = env.podman().cli().args(args).output().expect("podman");
    assert!(out.status.success(), "podman {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// What the sandboxes may leave behind, to compare before and after.
#[derive(Debug, PartialEq, Eq)]
struct Traces {
    containers: Vec<String>,
    layers: BTreeSet<PathBuf>,
    mounts: Vec<String>,
    processes: Vec<String>,
    runtime: BTreeSet<PathBuf>,
    inboxes: Vec<String>,
}

fn traces(env: &TestEnv, graph_root: &Path, ids: &BTreeSet<String>) -> Traces {
    let inbox = env.xdg.data.join("zion/quarantine/inbox");
    let mut inboxes: Vec<String> = std::fs::read_dir(&inbox)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sandbox-"))
        .collect();
    inboxes.sort();
    Traces {
        containers: podman_lines(
            env,
            &[
                "ps",
                "--all",
                "--format",
                "{{.Names}}",
                "--filter",
                "label=org.zionos.sandbox",
            ],
        ),
        layers: std::fs::read_dir(graph_root.join("overlay"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| PathBuf::from(e.file_name()))
            .collect(),
        mounts: mounts_under(env.root()),
        processes: processes(env.root(), ids),
        runtime: tree(&env.xdg.runtime.join("zion")),
        inboxes,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: `make soak` runs it"]
async fn two_hundred_disposable_browsers_leave_nothing_behind() {
    soak(false).await;
}

/// The same on the headless compositor: each disposable a warm browser
/// from the pool, its window drawn; the compositor's memory stays flat too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: `make soak` runs it"]
async fn two_hundred_warm_browser_windows_leave_nothing_behind() {
    soak(true).await;
}

/// The compositor's RSS may grow this much over the cycles after the warm-up.
const COMPOSITOR_RSS_SLACK_KIB: u64 = 24 * 1024;

async fn soak(on_compositor: bool) {
    let cycles = cycles();
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let compositor = on_compositor.then(|| headless_compositor(&env, "1280x800"));
    let compositor_pid = compositor.as_ref().map(Logged::pid);
    let graph_root = PathBuf::from(
        podman_lines(&env, &["info", "--format", "{{.Store.GraphRoot}}"])
            .first()
            .expect("podman's graph root"),
    );
    let mut container_ids = BTreeSet::new();
    let before = traces(&env, &graph_root, &container_ids);
    assert!(before.containers.is_empty(), "{before:#?}");

    if on_compositor {
        // The daemon finds the compositor on the bus: let it be there first.
        let bus = env.dbus().connect().await.expect("bus");
        eventually("Compositor1 on the bus", TIMEOUT, || async {
            let p = Compositor1Proxy::new(&bus).await.ok()?;
            p.list_desktops().await.ok().map(|_| p)
        })
        .await;
    }
    let mut daemon = start_daemon(&env, &browser);
    daemon.wait_for_log("session up", TIMEOUT);
    let pid = daemon.child.id();
    let (_bus, quarantine, sandboxes) = on_the_bus(&env).await;
    let mut closed = sandboxes.receive_closed().await.expect("Closed");
    daemon.wait_for_log("ready in the warm pool", TIMEOUT);
    let runtime_at_rest = tree(&env.xdg.runtime.join("zion"));

    // Each cycle downloads a file of its own.
    let internet = Internet::new();
    let gateway = internet.ip;
    let body = |n: usize| format!("soak download {n}\n").repeat(1000).into_bytes();
    let port = serve(&internet, move |path| {
        let n: Option<usize> = path
            .strip_prefix("/file-")
            .and_then(|p| p.strip_suffix(".bin"))
            .and_then(|n| n.parse().ok());
        match n {
            Some(n) => Reply {
                status: "200 OK",
                headers: format!("Content-Disposition: attachment; filename=\"file-{n}.bin\"\r\n"),
                content_type: "application/octet-stream",
                body: body(n),
            },
            None => Reply {
                status: "404 Not Found",
                headers: String::new(),
                content_type: "text/plain",
                body: b"not here".to_vec(),
            },
        }
    })
    .0;

    let started = Instant::now();
    let mut warm_rss = None;
    let mut compositor_warm_rss = None;
    let mut ids = BTreeSet::new();
    for n in 0..cycles {
        if n == WARM_UP {
            warm_rss = Some(rss_kib(pid));
            compositor_warm_rss = compositor_pid.map(rss_kib);
        }
        let name = format!("file-{n}.bin");
        let id = sandboxes
            .open_browser("work", &format!("http://{gateway}:{port}/{name}"))
            .await
            .unwrap_or_else(|e| panic!("cycle {n}: OpenBrowser: {e}\n{}", daemon.log()));
        assert!(ids.insert(id.clone()), "sandbox id {id} given twice");
        container_ids.extend(podman_lines(
            &env,
            &[
                "ps",
                "--all",
                "--no-trunc",
                "--format",
                "{{.ID}}",
                "--filter",
                "label=org.zionos.sandbox",
            ],
        ));
        let got = item(&quarantine, &name, &format!("sandbox:work/{id}"), || {
            format!("cycle {n}\n{}", daemon.log())
        })
        .await;
        assert_eq!(got.verdict, "clean", "cycle {n}: {got:#?}");
        assert_eq!(got.sha256, sha256(&body(n)), "cycle {n}: {got:#?}");
        sandboxes
            .close(&id)
            .await
            .unwrap_or_else(|e| panic!("cycle {n}: Close: {e}"));
        tokio::time::timeout(TIMEOUT, async {
            loop {
                let signal = closed.next().await.expect("Closed signals");
                if signal.args().expect("args").id() == &id {
                    break;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("cycle {n}: no Closed for {id}\n{}", daemon.log()));
    }
    let took = started.elapsed();
    let end_rss = rss_kib(pid);
    let compositor_end_rss = compositor_pid.map(rss_kib);
    if let Some(c) = &compositor {
        let log = c.log();
        let mapped = log.lines().filter(|l| l.contains("window mapped")).count();
        assert!(
            mapped >= cycles,
            "{mapped} windows mapped for {cycles} disposables\n{log}"
        );
    }

    // Every download is in the quarantine, once.
    let items = quarantine.list().await.expect("List");
    for n in 0..cycles {
        let name = format!("file-{n}.bin");
        let found: Vec<_> = items.iter().filter(|i| i.name == name).collect();
        assert_eq!(found.len(), 1, "{name}: {found:#?}");
    }

    // The daemon stops as the session ends it, closing its pool.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let stop = Instant::now();
    while daemon.child.try_wait().expect("wait").is_none() {
        assert!(
            stop.elapsed() < TIMEOUT,
            "the daemon did not stop\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Podman's exec and clean-up monitors linger a few seconds by design.
    let settled = Instant::now();
    // The profile's own container stays (stopped) by design: its layer and
    // its shm mount may, and the overlay driver keeps its home mounted while
    // Podman runs.
    let profiles = podman_lines(&env, &["ps", "--all", "--no-trunc", "--format", "{{.ID}}"]);
    let driver_home = graph_root.join("overlay").to_string_lossy().into_owned();
    let profile_layers: BTreeSet<PathBuf> = profiles
        .iter()
        .flat_map(|id| {
            podman_lines(
                &env,
                &[
                    "container",
                    "inspect",
                    "--format",
                    "{{.GraphDriver.Data.UpperDir}}",
                    id,
                ],
            )
        })
        .filter_map(|upper| {
            Path::new(&upper)
                .parent()
                .and_then(Path::file_name)
                .map(PathBuf::from)
        })
        .collect();
    let mut before = before;
    before.mounts.retain(|m| *m != driver_home);
    let after = loop {
        let mut after = traces(&env, &graph_root, &container_ids);
        after.layers.retain(|l| !profile_layers.contains(l));
        after
            .mounts
            .retain(|m| *m != driver_home && !profiles.iter().any(|id| m.contains(id.as_str())));
        let clean = after.containers.is_empty()
            && after.processes.is_empty()
            && after.mounts == before.mounts
            && after.layers == before.layers;
        if clean || settled.elapsed() > Duration::from_secs(30) {
            break after;
        }
        std::thread::sleep(Duration::from_millis(500));
    };

    let warm_rss = warm_rss.unwrap_or(end_rss);
    eprintln!(
        "soak: {cycles} cycles in {:.0?} ({:.2} s each); zion-sandboxd RSS {} KiB after {WARM_UP} cycles, {} KiB after {cycles} ({:+} KiB)",
        took,
        took.as_secs_f64() / cycles as f64,
        warm_rss,
        end_rss,
        end_rss as i64 - warm_rss as i64
    );
    assert!(
        end_rss <= warm_rss + RSS_SLACK_KIB,
        "zion-sandboxd grew from {warm_rss} KiB to {end_rss} KiB over {cycles} cycles"
    );
    if let (Some(end), Some(warm)) = (
        compositor_end_rss,
        compositor_warm_rss.or(compositor_end_rss),
    ) {
        eprintln!(
            "soak: zion-compositor RSS {warm} KiB after {WARM_UP} cycles, {end} KiB after {cycles} ({:+} KiB)",
            end as i64 - warm as i64
        );
        assert!(
            end <= warm + COMPOSITOR_RSS_SLACK_KIB,
            "zion-compositor grew from {warm} KiB to {end} KiB over {cycles} cycles"
        );
    }
    assert!(
        after.containers.is_empty(),
        "containers left: {after:#?}\n{}",
        daemon.log()
    );
    assert_eq!(
        after.layers,
        before.layers,
        "overlay layers left; Podman's storage: {:?}\n{}",
        podman_lines(
            &env,
            &[
                "ps",
                "--all",
                "--storage",
                "--format",
                "{{.ID}} {{.Names}} {{.Status}}"
            ]
        ),
        daemon.log()
    );
    assert_eq!(after.mounts, before.mounts, "mounts left");
    assert!(after.processes.is_empty(), "processes left: {after:#?}");
    assert!(after.inboxes.is_empty(), "inbox folders left: {after:#?}");
    let new_files: Vec<_> = after.runtime.difference(&runtime_at_rest).collect();
    assert!(
        new_files.is_empty(),
        "runtime files left: {new_files:#?}\n{}",
        daemon.log()
    );
}

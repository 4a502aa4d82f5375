//! The warm browser (issue 15), end to end: zion-sandboxd with a pool of one
//! on the harness's private Podman and bus, the real `zion-compositor`
//! (headless) on that bus, and a real Chromium from the browser image
//! started in the pooled sandbox with no window, frozen, then opened by
//! one DevTools request. The tests look at the host's processes, Podman,
//! the compositor's screenshots and log, and the quarantine.

mod internet_support;
mod quarantine_support;
mod window_support;

use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use internet_support::{serve, Internet, Reply};
use quarantine_support::{default_rules, eventually, scan_worker, sha256, DAEMON};
use window_support::{
    disposable_window, headless_compositor, Logged, Shot, PAGE, PAGE_HTML, TIMEOUT,
};
use zion_bus::{Compositor1Proxy, Quarantine1Proxy};
use zion_sandboxd::sandbox::dbus::Sandbox1Proxy;
use zion_tests::{TestEnv, TestImage};

/// The compositor, the daemon with a pool of one warm browser, and their
/// proxies.
struct Desk {
    env: TestEnv,
    compositor: Logged,
    daemon: Logged,
    screen: Compositor1Proxy<'static>,
    sandboxes: Sandbox1Proxy<'static>,
    quarantine: Quarantine1Proxy<'static>,
    shots: std::path::PathBuf,
    shot: usize,
}

impl Desk {
    async fn start() -> Desk {
        let env = TestEnv::new().expect("test env");
        let base = env.image(TestImage::Base).expect("base image");
        let browser = env.image(TestImage::Browser).expect("browser image");
        let dir = env.xdg.config.join("zion");
        std::fs::create_dir_all(&dir).expect("config folder");
        std::fs::write(
            dir.join("zion.toml"),
            format!(
                "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{base}\"\nnetwork = \"full\"\nmemory = \"256MiB\"\n"
            ),
        )
        .expect("zion.toml");
        let compositor = headless_compositor(&env, "1600x1200");
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
        let quarantine = eventually("the quarantine on the bus", TIMEOUT, || async {
            let p = Quarantine1Proxy::new(&bus).await.ok()?;
            p.list().await.ok().map(|_| p)
        })
        .await;
        let shots = env.root().join("shots");
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        Desk {
            env,
            compositor,
            daemon,
            screen,
            sandboxes,
            quarantine,
            shots,
            shot: 0,
        }
    }

    /// The id of the `n`th sandbox made ready in the pool (from 1), once it is.
    async fn pooled(&self, n: usize) -> String {
        eventually(
            &format!("sandbox {n} ready in the warm pool"),
            TIMEOUT,
            || async {
                let log = self.daemon.log();
                let line = log
                    .lines()
                    .filter(|l| l.contains("ready in the warm pool"))
                    .nth(n - 1)?
                    .to_owned();
                // "sandbox work/<id> ready in the warm pool (…)"
                let rest = line.split("sandbox work/").nth(1)?;
                rest.split(' ').next().map(str::to_owned)
            },
        )
        .await
    }

    fn said(&self) -> String {
        format!(
            "daemon:\n{}\ncompositor:\n{}",
            self.daemon.log(),
            self.compositor.log()
        )
    }

    /// How many windows of sandbox `id` the compositor has mapped (shown
    /// with a first buffer drawn).
    fn mapped(&self, id: &str) -> usize {
        let me = format!("instance: InstanceName(\"{id}\")");
        self.compositor
            .log()
            .lines()
            .filter(|l| l.contains("window mapped") && l.contains(&me))
            .count()
    }

    async fn screenshot(&mut self) -> (std::path::PathBuf, Shot) {
        self.shot += 1;
        let path = self.shots.join(format!("shot-{}.png", self.shot));
        self.screen
            .screenshot(path.to_str().expect("UTF-8 path"))
            .await
            .expect("Screenshot");
        let shot = Shot::read(&path).expect("a PNG screenshot");
        (path, shot)
    }

    /// Podman's state of sandbox `id`'s container ("" when there is none).
    fn container_state(&self, id: &str) -> String {
        let out = self
            .env
            .podman()
            .cli()
            .args([
                "ps",
                "--all",
                "--format",
                "{{.State}}",
                "--filter",
                &format!("label=org.zionos.sandbox={id}"),
            ])
            .output()
            .expect("podman ps");
        String::from_utf8_lossy(&out.stdout).trim().to_lowercase()
    }

    /// Runs `script` with sh inside sandbox `id`, as its browser's user.
    fn in_sandbox(&self, id: &str, script: &str) -> Output {
        self.env
            .podman()
            .cli()
            .args([
                "exec",
                &format!("zion-sandbox-work-{id}"),
                "sh",
                "-c",
                script,
            ])
            .output()
            .expect("podman exec")
    }
}

/// The pid of the browser process (Chromium's own binary, not one of its
/// `--type=` children) in sandbox `id`'s container, if one runs: found by
/// the container's PID namespace (ids repeat across tests run at once).
fn browser_of(desk: &Desk, id: &str) -> Option<u32> {
    let out = desk
        .env
        .podman()
        .cli()
        .args([
            "inspect",
            "--format",
            "{{.State.Pid}}",
            &format!("zion-sandbox-work-{id}"),
        ])
        .output()
        .ok()?;
    let init: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).ok()?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(exe) = std::fs::read_link(entry.path().join("exe")) else {
            continue;
        };
        if !exe.ends_with("chromium/chromium") {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline.windows(7).any(|w| w == b"--type=") {
            continue;
        }
        if std::fs::read_link(entry.path().join("ns/pid"))
            .ok()
            .as_ref()
            == Some(&ns)
        {
            found.push(pid);
        }
    }
    found.into_iter().min()
}

/// Whether process `pid` has ended.
fn gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

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

/// Waits for a window in a disposable frame whose centre shows the page.
async fn page_shown(desk: &mut Desk, since: Instant) {
    loop {
        let (path, shot) = desk.screenshot().await;
        if let Some(content) = disposable_window(&shot) {
            let centre = (content.x + content.w / 2, content.y + content.h / 2);
            if shot.pixel(centre.0, centre.1) == Some(PAGE) {
                return;
            }
        }
        assert!(
            since.elapsed() < TIMEOUT,
            "no window in a disposable frame showing the page within {TIMEOUT:?} \
             (last screenshot {})\n{}",
            path.display(),
            desk.said()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_browser_runs_frozen_with_no_window_and_one_request_shows_the_page() {
    let mut desk = Desk::start().await;
    let pooled = desk.pooled(1).await;
    // Before the open: the browser runs (frozen with its container), and
    // has no window.
    let before = browser_of(&desk, &pooled).unwrap_or_else(|| {
        panic!(
            "no Chromium runs in pooled sandbox {pooled}\n{}",
            desk.said()
        )
    });
    assert_eq!(desk.container_state(&pooled), "paused", "{}", desk.said());
    assert_eq!(desk.mapped(&pooled), 0, "{}", desk.said());
    let (_, shot) = desk.screenshot().await;
    assert!(
        disposable_window(&shot).is_none(),
        "no window before the open"
    );

    let internet = Internet::new();
    let (port, requests) = serve_page(&internet);
    let started = Instant::now();
    let id = desk
        .sandboxes
        .open_browser("work", &format!("http://{}:{port}/", internet.ip))
        .await
        .expect("OpenBrowser");
    assert_eq!(id, pooled, "the pooled sandbox is handed out");
    // (Logged before the answer, read by the test's own thread.)
    eventually(
        "the daemon's word that the browser was warm",
        TIMEOUT,
        || async {
            desk.daemon
                .log()
                .contains(&format!(
                    "sandbox work/{id} opened (from the warm pool, its browser warm"
                ))
                .then_some(())
        },
    )
    .await;
    eventually("the window mapped", TIMEOUT, || async {
        (desk.mapped(&id) > 0).then_some(())
    })
    .await;
    eprintln!(
        "first window drawn {:?} after OpenBrowser",
        started.elapsed()
    );
    page_shown(&mut desk, started).await;
    assert!(requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&"/".to_owned()));
    // The very browser started ahead of time drew it.
    assert_eq!(browser_of(&desk, &id), Some(before), "{}", desk.said());
    assert!(desk.container_state(&id).starts_with("up"), "thawed");

    desk.sandboxes.close(&id).await.expect("Close");
    let closed = Instant::now();
    loop {
        let (path, shot) = desk.screenshot().await;
        if disposable_window(&shot).is_none() && gone(before) {
            break;
        }
        assert!(
            closed.elapsed() < TIMEOUT,
            "the window ({}) or the browser still there\n{}",
            path.display(),
            desk.said()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(desk.container_state(&id), "");
}

/// A page that starts a download by itself.
fn serve_download_page(internet: &Internet, report: Vec<u8>) -> (u16, Arc<Mutex<Vec<String>>>) {
    serve(internet, move |path| match path {
        "/start.html" => Reply {
            status: "200 OK",
            headers: String::new(),
            content_type: "text/html",
            body: b"<!doctype html><title>start</title>\
                    <script>location.href = '/files/q3-report.bin';</script>"
                .to_vec(),
        },
        "/files/q3-report.bin" => Reply {
            status: "200 OK",
            headers: "Content-Disposition: attachment; filename=\"q3-report.bin\"\r\n".into(),
            content_type: "application/octet-stream",
            body: report.clone(),
        },
        _ => Reply {
            status: "404 Not Found",
            headers: String::new(),
            content_type: "text/plain",
            body: b"not here".to_vec(),
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_from_a_pooled_browser_reaches_the_quarantine_with_the_url_the_host_saw() {
    let desk = Desk::start().await;
    let pooled = desk.pooled(1).await;
    let report: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 253) as u8).collect();
    let internet = Internet::new();
    let (port, requests) = serve_download_page(&internet, report.clone());
    let page = format!("http://{}:{port}/start.html", internet.ip);
    let file_url = format!("http://{}:{port}/files/q3-report.bin", internet.ip);
    let id = desk
        .sandboxes
        .open_browser("work", &page)
        .await
        .expect("OpenBrowser");
    assert_eq!(id, pooled);
    let source = format!("sandbox:work/{id}");
    let got = eventually(
        "the download scanned in the quarantine",
        TIMEOUT,
        || async {
            let items = desk.quarantine.list().await.ok()?;
            items
                .into_iter()
                .find(|i| i.source == source && i.name == "q3-report.bin" && !i.verdict.is_empty())
        },
    )
    .await;
    let _ = requests;
    assert_eq!(got.sha256, sha256(&report));
    assert_eq!(got.origin.url, file_url, "{got:#?}\n{}", desk.said());
    assert_eq!(got.origin.provenance, "host", "{got:#?}");
    desk.sandboxes.close(&id).await.expect("Close");
}

/// The attack: the page and browser of one disposable (here: a shell in its
/// sandbox, as its browser's user, standing for a compromised browser)
/// write to both of its DevTools FIFOs — a window request of its own,
/// garbage, a message far over the bound, forged replies and download
/// events — hoping to open windows elsewhere, to confuse the daemon or to
/// have its browser handed out again. Its window requests stay within its
/// own sandbox; the pooled browser stays windowless and frozen; after the
/// close the browser is gone, and the next open gets another sandbox and
/// another browser process, its window drawn as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disposables_browser_cannot_open_windows_elsewhere_break_the_daemon_or_be_reused() {
    let desk = Desk::start().await;
    let first = desk.pooled(1).await;
    let id = desk
        .sandboxes
        .open_browser("work", "about:blank")
        .await
        .expect("OpenBrowser");
    assert_eq!(id, first);
    let browser = browser_of(&desk, &id).expect("the first browser");
    eventually("the first window mapped", TIMEOUT, || async {
        (desk.mapped(&id) > 0).then_some(())
    })
    .await;
    // The next browser is warmed and frozen meanwhile.
    let next = desk.pooled(2).await;
    assert_ne!(next, id);
    let next_browser = browser_of(&desk, &next).expect("the pooled browser");
    assert_ne!(next_browser, browser);
    assert_eq!(desk.container_state(&next), "paused");

    // Only its own FIFOs are in reach: no other sandbox's.
    let listing = desk.in_sandbox(&id, "ls -a /run/zion-devtools; ls /run/zion-devtools/..");
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert_eq!(
        listing
            .lines()
            .filter(|l| !l.starts_with('.'))
            .take(2)
            .collect::<Vec<_>>(),
        vec!["commands", "events"],
        "{listing}"
    );
    assert!(
        !listing.contains(&format!("sandbox-work-{next}")),
        "{listing}"
    );

    let hostile = concat!(
        // A window request and a close of every target, to its own browser.
        "printf '%s\\0' '{\"id\":90,\"method\":\"Target.createTarget\",\"params\":{\"url\":\"about:blank#evil\",\"newWindow\":true}}' > /run/zion-devtools/commands; ",
        // Garbage, a message of 4 MiB, forged replies and download events.
        "printf 'garbage\\0{\"id\":\\0{\"id\":3,\"error\":{}}\\0' > /run/zion-devtools/events; ",
        "head -c 4194304 /dev/zero | tr '\\0' x > /run/zion-devtools/events; printf '\\0' > /run/zion-devtools/events; ",
        "printf '%s\\0' '{\"id\":18446744073709551615,\"result\":{}}' '{\"method\":\"Browser.downloadWillBegin\",\"params\":{\"guid\":\"g\",\"url\":\"https://bank.example/\",\"suggestedFilename\":\"x\"}}' > /run/zion-devtools/events; ",
        "echo done"
    );
    let out = desk.in_sandbox(&id, hostile);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("done"),
        "{out:?}"
    );
    // Its own request opens a window in its own sandbox only.
    eventually(
        "the hostile window, in its own sandbox",
        TIMEOUT,
        || async { (desk.mapped(&id) > 1).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(desk.mapped(&next), 0, "{}", desk.said());
    assert_eq!(desk.container_state(&next), "paused");

    // Used once, gone with its sandbox.
    desk.sandboxes.close(&id).await.expect("Close");
    eventually("the first browser gone", TIMEOUT, || async {
        gone(browser).then_some(())
    })
    .await;
    assert_eq!(desk.container_state(&id), "");
    let again = desk
        .sandboxes
        .open_browser("work", "")
        .await
        .unwrap_or_else(|e| panic!("the daemon still opens browsers: {e}\n{}", desk.said()));
    assert_eq!(again, next, "the next pooled sandbox, not the first again");
    assert_ne!(again, id);
    let started = Instant::now();
    eventually("the second window mapped", TIMEOUT, || async {
        (desk.mapped(&again) > 0).then_some(())
    })
    .await;
    eprintln!("second window drawn within {:?}", started.elapsed());
    assert_eq!(browser_of(&desk, &again), Some(next_browser));
    assert_ne!(Some(browser), browser_of(&desk, &again));
    let list = desk.sandboxes.list().await.expect("List");
    assert_eq!(list.len(), 1, "{list:?}");
    desk.sandboxes.close(&again).await.expect("Close");
}

/// A disposable ends when its browser's last window closes, as one started
/// with its window does: a warm browser (kept alive by DevTools while it
/// has none) is not left running windowless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_last_window_of_a_warm_browser_ends_its_disposable() {
    let mut desk = Desk::start().await;
    let pooled = desk.pooled(1).await;
    let internet = Internet::new();
    let (port, _requests) = serve(&internet, |_| Reply {
        status: "200 OK",
        headers: String::new(),
        content_type: "text/html",
        body: b"<!doctype html><title>bye</title>\
                <script>setTimeout(() => window.close(), 1500);</script>"
            .to_vec(),
    });
    let id = desk
        .sandboxes
        .open_browser("work", &format!("http://{}:{port}/", internet.ip))
        .await
        .expect("OpenBrowser");
    assert_eq!(id, pooled);
    let browser = browser_of(&desk, &id).expect("its browser");
    eventually("the window mapped", TIMEOUT, || async {
        (desk.mapped(&id) > 0).then_some(())
    })
    .await;
    let start = Instant::now();
    loop {
        let (path, shot) = desk.screenshot().await;
        if disposable_window(&shot).is_none() {
            break;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "the page did not close its window ({})",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eventually("the disposable ended with its window", TIMEOUT, || async {
        let open = desk.sandboxes.list().await.ok()?;
        (open.is_empty() && gone(browser)).then_some(())
    })
    .await;
    assert_eq!(desk.container_state(&id), "");
}

/// A warm browser that hangs in the pool (stopped here by the test) costs
/// the user the wait for its answer, never the window: the daemon discards
/// it and opens the page in a sandbox made at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_warm_browser_costs_a_wait_not_the_window() {
    let mut desk = Desk::start().await;
    let pooled = desk.pooled(1).await;
    let hung = browser_of(&desk, &pooled).expect("the pooled browser");
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &hung.to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    let internet = Internet::new();
    let (port, _requests) = serve_page(&internet);
    let started = Instant::now();
    let id = desk
        .sandboxes
        .open_browser("work", &format!("http://{}:{port}/", internet.ip))
        .await
        .unwrap_or_else(|e| panic!("OpenBrowser: {e}\n{}", desk.said()));
    assert_ne!(id, pooled, "a new sandbox, not the hung one");
    page_shown(&mut desk, started).await;
    assert!(
        desk.daemon.log().contains("its warm browser failed"),
        "{}",
        desk.said()
    );
    eventually("the hung sandbox removed", TIMEOUT, || async {
        (desk.container_state(&pooled).is_empty() && gone(hung)).then_some(())
    })
    .await;
    eprintln!(
        "the page shown {:?} after the request, past a hung warm browser",
        started.elapsed()
    );
}

//! The isolation dial (issue 15): with `[sandbox] runtime = "gvisor"`, a
//! disposable Chromium runs under gVisor through the harness's browser
//! Podman (`--runtime zion-gvisor-browser`, as zion-browser-podman.service
//! runs it), its window carried to the real `zion-compositor` (headless) by
//! waypipe, its downloads into the quarantine; where runsc is missing, or
//! the "browser Podman" runs runc, opening is refused and nothing runs.

mod internet_support;
mod quarantine_support;
mod window_support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use internet_support::{serve, Internet, Reply};
use quarantine_support::{default_rules, eventually, scan_worker, sha256, DAEMON};
use window_support::{disposable_window, headless_compositor, like, Logged, Shot, WORK};
use zion_bus::{Compositor1Proxy, Quarantine1Proxy};
use zion_sandboxd::sandbox::dbus::Sandbox1Proxy;
use zion_tests::{GvisorService, TestEnv, TestImage};

const TIMEOUT: Duration = Duration::from_secs(120);
/// The page's background.
const PAGE: (u8, u8, u8) = (0xff, 0xcc, 0x00);
const PAGE_HTML: &str = "<!doctype html><html><head><title>zion</title></head>\
    <body style=\"margin:0;background:#ffcc00\"><div style=\"height:100vh\"></div></body></html>";

/// gVisor, its browser Podman and waypipe are here (or the test is skipped,
/// failing under ZION_REQUIRE_ALL=1).
fn have_gvisor() -> bool {
    zion_tests::skip::installed("runsc", "runsc")
        && zion_tests::skip::installed("waypipe", "waypipe")
}

/// `work` (network full) in `base`, its sandboxes under gVisor.
fn write_config(env: &TestEnv, base: &str) {
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    std::fs::write(
        dir.join("zion.toml"),
        format!(
            "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{base}\"\nnetwork = \"full\"\nmemory = \"256MiB\"\n\n\
             [sandbox]\nruntime = \"gvisor\"\n"
        ),
    )
    .expect("zion.toml");
}

/// zion-sandboxd with the real scan worker, the browser image, a warm pool
/// of one and `envs` (the browser Podman, runsc).
fn start_daemon(env: &TestEnv, browser: &str, envs: &[(&str, &str)]) -> Logged {
    let mut command = env.command(DAEMON);
    command
        .env("ZION_SCAN_WORKER", scan_worker())
        .env("ZION_RULES", default_rules())
        .env("ZION_BROWSER_IMAGE", browser)
        .env("ZION_SANDBOX_POOL", "1")
        .env("RUST_LOG", "info,zion_sandboxd::sandbox=debug")
        .env("NO_COLOR", "1");
    for (k, v) in envs {
        command.env(k, v);
    }
    Logged::spawn(command, "zion-sandboxd")
}

/// Runs `script` with sh inside sandbox `id`'s container, through the
/// Podman that runs it, as the browser's user.
fn in_sandbox(gvisor: &GvisorService, id: &str, script: &str) -> Output {
    Command::new("podman")
        .args(["--remote", "--url", &gvisor.uri(), "exec"])
        .arg(format!("zion-sandbox-work-{id}"))
        .args(["sh", "-c", script])
        .output()
        .expect("podman exec")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_owned()
}

fn host_kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .expect("the host's kernel release")
        .trim()
        .to_owned()
}

fn serve_page(internet: &Internet) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
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

/// Waits for `needle` in the daemon's log; fails showing the log.
fn wait_for_log(daemon: &Logged, needle: &str) {
    let start = Instant::now();
    while !daemon.log().contains(needle) {
        assert!(
            start.elapsed() < TIMEOUT,
            "no `{needle}` in the daemon's log within {TIMEOUT:?}:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The sandbox containers Podman holds, as `name state` lines.
fn sandbox_containers(env: &TestEnv) -> String {
    let out = env
        .podman()
        .cli()
        .args(["ps", "--all", "--format", "{{.Names}} {{.State}}"])
        .args(["--filter", "label=org.zionos.sandbox"])
        .output()
        .expect("podman ps");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gvisor_chromium_draws_its_page_in_a_disposable_frame_on_gvisors_own_kernel() {
    if !have_gvisor() {
        return;
    }
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let gvisor = env
        .podman()
        .start_gvisor_browser()
        .expect("the browser Podman");

    let compositor = headless_compositor(&env, "1600x1200");
    let bus = env.dbus().connect().await.expect("bus");
    let screen = eventually("Compositor1 on the bus", TIMEOUT, || async {
        let p = Compositor1Proxy::new(&bus).await.ok()?;
        p.list_desktops().await.ok().map(|_| p)
    })
    .await;
    let daemon = start_daemon(
        &env,
        &browser,
        &[("ZION_SANDBOX_GVISOR_PODMAN", &gvisor.uri())],
    );
    let sandboxes = eventually("Sandbox1 on the bus", TIMEOUT, || async {
        let p = Sandbox1Proxy::new(&bus).await.ok()?;
        p.list().await.ok().map(|_| p)
    })
    .await;
    wait_for_log(&daemon, "ready in the warm pool");
    let internet = Internet::new();
    let (port, requests) = serve_page(&internet);
    screen.switch_to("work").await.expect("SwitchTo work");

    let started = Instant::now();
    let id = sandboxes
        .open_browser("work", &format!("http://{}:{port}/", internet.ip))
        .await
        .unwrap_or_else(|e| panic!("OpenBrowser: {e}\n{}", daemon.log()));
    let shots = env.root().join("shots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let mut n = 0;
    let (shot, content) = loop {
        n += 1;
        let path = shots.join(format!("shot-{n}.png"));
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
    eprintln!(
        "a gVisor disposable window {}x{} showing the page after {:?}",
        content.w,
        content.h,
        started.elapsed()
    );
    let edge = shot
        .pixel(content.x - window_support::BORDER, content.y + 1)
        .expect("a pixel of the frame");
    assert!(like(edge, WORK), "{edge:?} is work's colour");

    // The browser's kernel is gVisor's, not the host's.
    let kernel = in_sandbox(&gvisor, &id, "uname -r; cat /proc/version");
    let seen = text(&kernel);
    assert!(kernel.status.success(), "{seen}");
    assert!(
        !seen.contains(&host_kernel()),
        "the sandbox sees the host's kernel {}: {seen}",
        host_kernel()
    );
    let browser_kernel = seen.lines().next().unwrap_or_default().to_owned();
    eprintln!(
        "the gVisor sandbox's kernel: {browser_kernel} (host: {})",
        host_kernel()
    );

    // Its Wayland goes through waypipe: the browser is waypipe's server's
    // child, and the compositor's socket is nowhere inside.
    let ps = in_sandbox(
        &gvisor,
        &id,
        "ps -eo args 2>/dev/null || cat /proc/[0-9]*/cmdline | tr '\\0' ' '",
    );
    assert!(text(&ps).contains("waypipe"), "{}", text(&ps));
    // (gVisor's stat of these folders fails for coreutils' `ls`: globs and
    // `test` read them.)
    let runtime = in_sandbox(
        &gvisor,
        &id,
        "echo /run/zion/* /run/zion-waypipe/*; test -S /run/zion-waypipe/waypipe.sock && echo WAYPIPE; test -e /run/zion/wayland/wayland-0 && echo COMPOSITOR; true",
    );
    let runtime = text(&runtime);
    assert!(runtime.contains("WAYPIPE"), "{runtime}");
    assert!(!runtime.contains("COMPOSITOR"), "{runtime}");

    let waypipe = env
        .xdg
        .runtime
        .join("waypipe")
        .join(format!("sandbox-work-{id}"));
    let clients = waypipe_clients(&waypipe);
    assert!(
        !clients.is_empty(),
        "a waypipe client serves the open sandbox in {}",
        waypipe.display()
    );
    // ... confined (waypipe_confined.rs shows what that stops).
    for pid in clients {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            status.contains("NoNewPrivs:\t1") && status.contains("Seccomp:\t2"),
            "waypipe's client {pid} runs confined:\n{status}"
        );
    }
    sandboxes.close(&id).await.expect("Close");
    eventually("the window gone", TIMEOUT, || async {
        let path = shots.join("closed.png");
        screen.screenshot(path.to_str()?).await.ok()?;
        Shot::read(&path)?.bounds(WORK).is_none().then_some(())
    })
    .await;
    // Its waypipe went with it.
    eventually("waypipe's folder removed", TIMEOUT, || async {
        (!waypipe.exists()).then_some(())
    })
    .await;
    eventually("waypipe's client ended", TIMEOUT, || async {
        waypipe_clients(&waypipe).is_empty().then_some(())
    })
    .await;
}

/// The pids of host waypipe clients listening in `dir` (waypipe cuts its
/// socket argument at the last `/` in place).
fn waypipe_clients(dir: &std::path::Path) -> Vec<u32> {
    zion_tests::processes_with(&format!("{}\0waypipe.sock", dir.display()))
}

/// The attacker is the page, with code execution in the browser: inside
/// the gVisor sandbox it tries what works under runc and must not here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_inside_a_gvisor_sandbox_the_host_kernel_network_and_sockets_are_out_of_reach() {
    if !have_gvisor() {
        return;
    }
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let gvisor = env
        .podman()
        .start_gvisor_browser()
        .expect("the browser Podman");
    // No compositor: headless, the sandbox's own network.
    let daemon = start_daemon(
        &env,
        &browser,
        &[("ZION_SANDBOX_GVISOR_PODMAN", &gvisor.uri())],
    );
    let bus = env.dbus().connect().await.expect("bus");
    let sandboxes = eventually("Sandbox1 on the bus", TIMEOUT, || async {
        let p = Sandbox1Proxy::new(&bus).await.ok()?;
        p.list().await.ok().map(|_| p)
    })
    .await;
    let id = sandboxes
        .open_browser("work", "about:blank")
        .await
        .unwrap_or_else(|e| panic!("OpenBrowser: {e}\n{}", daemon.log()));
    let internet = Internet::new();

    // 1. The host's kernel: its release, its modules, its log.
    let out = in_sandbox(
        &gvisor,
        &id,
        "uname -r; cat /proc/version; cat /proc/modules 2>&1 | head -3; dmesg 2>&1 | head -3",
    );
    let seen = text(&out);
    assert!(!seen.contains(&host_kernel()), "{seen}");
    // Under runc the same command sees the host's release: the check can fail.
    let runc = Command::new("podman")
        .args([
            "--remote",
            "--url",
            &env.podman().uri(),
            "run",
            "--rm",
            &base,
            "uname",
            "-r",
        ])
        .output()
        .expect("podman run");
    assert_eq!(text(&runc), host_kernel(), "runc shares the host's kernel");

    // 2. The host's network: gVisor hands sockets to the host kernel, but
    // only in the sandbox's own namespace; none of the host's interfaces
    // (the test's own link to its internet among them) is there.
    let host_links = std::fs::read_to_string("/proc/net/dev").expect("host links");
    let out = in_sandbox(&gvisor, &id, "cat /proc/net/dev");
    let links: Vec<String> = text(&out)
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|s| s.trim().to_owned()))
        .collect();
    assert!(links.contains(&"lo".to_owned()), "{links:?}");
    for link in &links {
        if link != "lo" && link != "eth0" {
            panic!("the sandbox sees link {link}: {links:?}");
        }
    }
    assert!(
        host_links.lines().count() > links.len() + 2,
        "the host has links of its own: {host_links}"
    );
    let _ = internet;

    // 3. Host sockets: none bound in (no Wayland, no D-Bus, no Podman), and
    // its folders give none: the DevTools folder is read-only.
    // (Globs and `test`: gVisor's stat of some folders fails for `ls`.)
    let out = in_sandbox(
        &gvisor,
        &id,
        "echo /run/* /run/zion/* /run/zion-devtools/*; \
         for s in /run/zion/wayland/wayland-0 /run/dbus/system_bus_socket /run/podman/podman.sock /run/user/*/bus; do test -e \"$s\" && echo \"FOUND $s\"; done; \
         test -p /run/zion-devtools/events && echo FIFO; \
         mkfifo /run/zion-devtools/planted 2>/dev/null && echo PLANTED; \
         mkfifo \"$HOME/Downloads/planted\" 2>/dev/null && echo PLANTED-INBOX; true",
    );
    let seen = text(&out);
    // Its own DevTools FIFO is there (the check sees FIFOs) ...
    assert!(seen.contains("FIFO"), "{seen}");
    // ... and no host socket, and it makes no FIFO on the host.
    assert!(!seen.contains("FOUND"), "{seen}");
    let devtools = env
        .xdg
        .runtime
        .join("devtools")
        .join(format!("sandbox-work-{id}"));
    let inbox = env
        .xdg
        .data
        .join(format!("zion/quarantine/inbox/sandbox-work-{id}"));
    for dir in [&devtools, &inbox] {
        assert!(dir.is_dir(), "{} is the sandbox's folder", dir.display());
        let planted = dir.join("planted");
        assert!(
            std::fs::symlink_metadata(&planted)
                .map(|m| !std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()))
                .unwrap_or(true),
            "the sandbox made a FIFO on the host at {}: {seen}",
            planted.display()
        );
    }
    let _ = sandboxes.close(&id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gvisor_chromiums_download_still_lands_in_the_quarantine() {
    if !have_gvisor() {
        return;
    }
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let gvisor = env
        .podman()
        .start_gvisor_browser()
        .expect("the browser Podman");
    // Headless (no compositor): on Wayland an http:// download waits for
    // the user to keep it (see sandbox.rs).
    let daemon = start_daemon(
        &env,
        &browser,
        &[("ZION_SANDBOX_GVISOR_PODMAN", &gvisor.uri())],
    );
    let bus = env.dbus().connect().await.expect("bus");
    let quarantine = eventually("the quarantine on the bus", TIMEOUT, || async {
        let p = Quarantine1Proxy::new(&bus).await.ok()?;
        p.list().await.ok().map(|_| p)
    })
    .await;
    let sandboxes = eventually("Sandbox1 on the bus", TIMEOUT, || async {
        let p = Sandbox1Proxy::new(&bus).await.ok()?;
        p.list().await.ok().map(|_| p)
    })
    .await;
    let report: Vec<u8> = (0..100_000u32).map(|i| (i * 37 % 251) as u8).collect();
    let internet = Internet::new();
    let body = report.clone();
    let (port, requests) = serve(&internet, move |path| match path {
        "/q3-report.bin" => Reply {
            status: "200 OK",
            headers: "Content-Disposition: attachment; filename=\"q3-report.bin\"\r\n".into(),
            content_type: "application/octet-stream",
            body: body.clone(),
        },
        _ => Reply {
            status: "404 Not Found",
            headers: String::new(),
            content_type: "text/plain",
            body: b"not here".to_vec(),
        },
    });
    let id = sandboxes
        .open_browser(
            "work",
            &format!("http://{}:{port}/q3-report.bin", internet.ip),
        )
        .await
        .unwrap_or_else(|e| panic!("OpenBrowser: {e}\n{}", daemon.log()));
    let source = format!("sandbox:work/{id}");
    let started = Instant::now();
    let item = loop {
        let items = quarantine.list().await.unwrap_or_default();
        if let Some(item) = items
            .into_iter()
            .find(|i| i.source == source && i.name == "q3-report.bin" && !i.verdict.is_empty())
        {
            break item;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "no download in the quarantine within {TIMEOUT:?}; requests {:?}; Downloads: {}\n{}",
            requests.lock().unwrap_or_else(|p| p.into_inner()),
            text(&in_sandbox(&gvisor, &id, "echo $HOME/Downloads/*")),
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(item.sha256, sha256(&report), "{item:#?}");
    assert!(requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&"/q3-report.bin".to_owned()));
    assert!(
        daemon.log().contains("under gVisor"),
        "the daemon says which runtime: {}",
        daemon.log()
    );
    let _ = sandboxes.close(&id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_runsc_or_with_a_runc_podman_a_gvisor_sandbox_is_refused_never_run_under_runc() {
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let bus = env.dbus().connect().await.expect("bus");
    // The session's own Podman (runc) given as the browser Podman: were the
    // refusal missing, the browser would run there, under runc.
    let runc = env.podman().uri();
    let missing = env.root().join("no-runsc-here/runsc");
    let missing = missing.to_str().expect("UTF-8 path");

    // 1. runsc missing.
    let daemon = start_daemon(
        &env,
        &browser,
        &[
            ("ZION_SANDBOX_GVISOR_PODMAN", &runc),
            ("ZION_RUNSC", missing),
        ],
    );
    let sandboxes = eventually("Sandbox1 on the bus", TIMEOUT, || async {
        let p = Sandbox1Proxy::new(&bus).await.ok()?;
        p.list().await.ok().map(|_| p)
    })
    .await;
    let err = sandboxes
        .open_browser("work", "about:blank")
        .await
        .expect_err("a gVisor sandbox without runsc is refused");
    let message = err.to_string();
    assert!(
        message.contains("runsc is not installed")
            && message.contains(missing)
            && message.contains("runtime = \"gvisor\"")
            && message.contains("under runc instead"),
        "{message}"
    );
    assert_eq!(sandbox_containers(&env), "", "{}", daemon.log());
    assert!(
        daemon.log().contains("the warm pool is not refilled"),
        "{}",
        daemon.log()
    );
    drop(daemon);

    // 2. runsc here, but the "browser Podman" runs runc: the sandbox is
    // made, seen not to be gVisor's, and removed.
    if !have_gvisor() {
        return;
    }
    let daemon = start_daemon(&env, &browser, &[("ZION_SANDBOX_GVISOR_PODMAN", &runc)]);
    let sandboxes = eventually("Sandbox1 on the bus, again", TIMEOUT, || async {
        let p = Sandbox1Proxy::new(&bus).await.ok()?;
        p.list().await.ok().map(|_| p)
    })
    .await;
    // No waiting for the pool: it is refused as well.
    let err = sandboxes
        .open_browser("work", "about:blank")
        .await
        .expect_err("a sandbox Podman made under runc is refused");
    let message = err.to_string();
    assert!(
        message.contains("not gVisor"),
        "{message}\n{}",
        daemon.log()
    );
    eventually("no sandbox container left", TIMEOUT, || async {
        sandbox_containers(&env).is_empty().then_some(())
    })
    .await;
}

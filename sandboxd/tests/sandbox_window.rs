//! A disposable browser's window, end to end: zion-sandboxd with the
//! harness's private Podman and bus, the real `zion-compositor` (headless)
//! on that bus with the daemon's XDG_RUNTIME_DIR, and a real Chromium from
//! the browser image on the sandbox's own Wayland socket, loading a page
//! from an HTTP server this test runs. The test looks only at the
//! compositor's screenshots, as a user would look at the screen.

mod internet_support;
mod quarantine_support;
mod window_support;

use internet_support::{serve, Internet, Reply};
use zion_bus::Compositor1Proxy;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quarantine_support::{default_rules, eventually, scan_worker, DAEMON};
use window_support::*;
use zion_sandboxd::sandbox::dbus::Sandbox1Proxy;
use zion_tests::{TestEnv, TestImage};

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

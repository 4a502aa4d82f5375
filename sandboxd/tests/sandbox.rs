//! Disposable browsers, end to end: zion-sandboxd with the harness's private
//! Podman and bus, the browser image built from its recipe, a real headless
//! Chromium fetching files from an HTTP server this test runs, and the
//! quarantine with the real scan worker and rules.

mod internet_support;
mod quarantine_support;
mod sandbox_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use internet_support::{serve, Internet, Reply};
use quarantine_support::{eventually, sha256, zionctl_bin};
use sandbox_support::*;
use zion_bus::quarantine::ItemInfo;
use zion_bus::Quarantine1Proxy;
use zion_tests::{TestEnv, TestImage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandboxed_chromium_downloads_only_into_the_quarantine_and_leaves_nothing_else() {
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let mut daemon = start_daemon(&env, &browser);
    daemon.wait_for_log("session up", TIMEOUT);
    let (_bus, quarantine, sandboxes) = on_the_bus(&env).await;
    let mut opened = sandboxes.receive_opened().await.expect("Opened");
    let mut closed = sandboxes.receive_closed().await.expect("Closed");
    daemon.wait_for_log("ready in the warm pool", TIMEOUT);

    let report: Vec<u8> = (0..300_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    // The server stands for the internet: the host itself is out of reach.
    let internet = Internet::new();
    let gateway = internet.ip;
    let (port, requests) = serve_files(&internet, report.clone());

    // 1. A download: one clean item from this sandbox, released on request.
    let started = Instant::now();
    let id = sandboxes
        .open_browser("work", &format!("http://{gateway}:{port}/report.bin"))
        .await
        .expect("OpenBrowser");
    let open_took = started.elapsed();
    let signal = tokio::time::timeout(TIMEOUT, opened.next())
        .await
        .expect("Opened signal")
        .expect("signal");
    let args = signal.args().expect("args");
    assert_eq!((args.id(), args.profile()), (&id, &"work".to_owned()));
    daemon.wait_for_log("from the warm pool", TIMEOUT);
    assert_eq!(
        sandboxes.list().await.expect("List"),
        vec![(id.clone(), "work".to_owned(), "running".to_owned())]
    );
    let got = item(
        &quarantine,
        "report.bin",
        &format!("sandbox:work/{id}"),
        || {
            let inside = in_sandbox(
            &env,
            &id,
            "ls -la ~/Downloads; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done",
        );
            format!(
                "requests: {:?}\nin the sandbox: {inside:?}\ndaemon: {}",
                requests.lock().unwrap_or_else(|p| p.into_inner()),
                daemon.log()
            )
        },
    )
    .await;
    eprintln!(
        "OpenBrowser from the warm pool took {open_took:?}; the download was scanned after {:?}",
        started.elapsed()
    );
    assert_eq!(got.verdict, "clean", "{got:#?}");
    assert_eq!(got.sha256, sha256(&report));
    assert_eq!(got.profile, "work");
    assert!(requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&"/report.bin".to_owned()));
    if got.state != "released" {
        let released = quarantine
            .release(got.id, "profile:work")
            .await
            .expect("release");
        assert_eq!(released.state, "released", "{released:#?}");
    }

    // What it reaches from inside: no bus, no Podman, none of the host.
    let probe = in_sandbox(
        &env,
        &id,
        &format!(
            "echo secret > /var/tmp/left-behind; echo secret > ~/left-in-home; \
             for p in {bus} {podman} {root}; do test -e \"$p\" && echo \"reachable: $p\"; done; \
             id -u; grep -c . /proc/self/status >/dev/null; grep CapEff /proc/self/status; \
             grep NoNewPrivs /proc/self/status; echo done",
            bus = env.dbus().address().trim_start_matches("unix:path="),
            podman = env.podman().socket().display(),
            root = env.root().display(),
        ),
    );
    let said = stdout(&probe);
    assert!(said.ends_with("done"), "{probe:?}");
    assert!(!said.contains("reachable"), "{said}");
    // No capability but SYS_CHROOT (bit 18), which Chromium's own sandbox
    // needs under Podman's seccomp profile (issue 18, finding 13).
    let cap_eff = said
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).expect("a hex CapEff"))
        .unwrap_or_else(|| panic!("no CapEff: {said}"));
    const CAP_SYS_CHROOT: u64 = 1 << 18;
    assert_eq!(cap_eff & !CAP_SYS_CHROOT, 0, "{said}");
    assert!(said.contains("NoNewPrivs:\t1"), "{said}");
    // Chromium's own sandbox is on (issue 18, finding 13): no process has
    // --no-sandbox, the browser is not root, and its renderers run under
    // seccomp (mode 2) in a user namespace of their own.
    let tree = stdout(&in_sandbox(
        &env,
        &id,
        "for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null);            case \"$c\" in *chromium*) echo \"PROC ${p#/proc/} $(grep -E '^(Uid|Seccomp):' $p/status | tr '\\n\\t' '  ')              NS $(readlink $p/ns/user 2>/dev/null || echo hidden) CMD $c\";; esac; done;          echo SELF $(readlink /proc/self/ns/user)",
    ));
    assert!(!tree.contains("--no-sandbox"), "{tree}");
    let own_ns = tree
        .lines()
        .find_map(|l| l.strip_prefix("SELF "))
        .unwrap_or_else(|| panic!("{tree}"))
        .to_owned();
    let browser_process = tree
        .lines()
        // (the probe's own shell names chromium too: not that one)
        .find(|l| l.starts_with("PROC") && !l.contains("--type=") && !l.contains("readlink"))
        .unwrap_or_else(|| panic!("no browser process: {tree}"));
    assert!(
        browser_process.contains("Uid: 1000"),
        "the browser runs as root: {browser_process}"
    );
    let renderers: Vec<&str> = tree
        .lines()
        .filter(|l| l.contains("--type=renderer"))
        .collect();
    assert!(!renderers.is_empty(), "no renderer: {tree}");
    for r in &renderers {
        assert!(r.contains("Seccomp: 2"), "a renderer without seccomp: {r}");
        assert!(
            !r.contains(&own_ns),
            "a renderer in the container's own user namespace: {r}"
        );
    }
    let listing = in_sandbox(&env, &id, "ls -A ~/Downloads");
    assert!(
        !stdout(&listing).contains("report.bin"),
        "taken by the quarantine: {listing:?}"
    );

    // 2. Close: the container goes, with all it wrote.
    sandboxes.close(&id).await.expect("Close");
    let signal = tokio::time::timeout(TIMEOUT, closed.next())
        .await
        .expect("Closed signal")
        .expect("signal");
    let args = signal.args().expect("args");
    assert_eq!(args.id(), &id);
    assert_eq!(sandbox_containers(&env, &id), "", "container removed");
    assert!(sandboxes.list().await.expect("List").is_empty());
    let inbox = env
        .xdg
        .data
        .join(format!("zion/quarantine/inbox/sandbox-work-{id}"));
    eventually("the emptied inbox folder removed", TIMEOUT, || async {
        (!inbox.exists()).then_some(())
    })
    .await;

    // 3. A second sandbox sees nothing of the first; EICAR ends infected;
    // a file written just before Close is not lost.
    let second = sandboxes
        .open_browser("work", &format!("http://{gateway}:{port}/eicar.com"))
        .await
        .expect("second OpenBrowser");
    assert_ne!(second, id);
    let infected = item(
        &quarantine,
        "eicar.com",
        &format!("sandbox:work/{second}"),
        || daemon.log(),
    )
    .await;
    assert_eq!(infected.state, "infected", "{infected:#?}");
    let look = in_sandbox(
        &env,
        &second,
        "ls -A /var/tmp ~ ~/Downloads; grep -l chromium /proc/[0-9]*/comm | wc -l",
    );
    let seen = stdout(&look);
    assert!(look.status.success(), "{look:?}");
    assert!(!seen.contains("left-behind"), "{seen}");
    assert!(!seen.contains("left-in-home"), "{seen}");
    assert!(!seen.contains("report.bin"), "{seen}");
    let late = in_sandbox(&env, &second, "echo late > ~/Downloads/late.txt");
    assert!(late.status.success(), "{late:?}");
    sandboxes.close(&second).await.expect("Close");
    let kept = item(
        &quarantine,
        "late.txt",
        &format!("sandbox:work/{second}"),
        || daemon.log(),
    )
    .await;
    assert_eq!(kept.sha256, sha256(b"late\n"));
    assert_eq!(sandbox_containers(&env, &second), "");

    // 4. The sandbox ends when its browser exits.
    let third = sandboxes
        .open_browser("work", "about:blank")
        .await
        .expect("third OpenBrowser");
    eventually("chromium running in the third sandbox", TIMEOUT, || async {
        let out = in_sandbox(&env, &third, "grep -l chromium /proc/[0-9]*/comm");
        out.status.success().then_some(())
    })
    .await;
    let _ = in_sandbox(
        &env,
        &third,
        "for f in $(grep -l chromium /proc/[0-9]*/comm); do p=${f%/comm}; kill -9 ${p#/proc/}; done",
    );
    let reason = tokio::time::timeout(TIMEOUT, async {
        loop {
            let signal = closed.next().await.expect("Closed signals");
            let args = signal.args().expect("args");
            if args.id() == &third {
                return args.reason().clone();
            }
        }
    })
    .await
    .expect("Closed for the third sandbox");
    assert!(reason.contains("browser"), "{reason}");
    eventually("the third container removed", TIMEOUT, || async {
        sandbox_containers(&env, &third).is_empty().then_some(())
    })
    .await;

    // 5. A crash leaves a sandbox; the next start removes it.
    let fourth = sandboxes
        .open_browser("work", "about:blank")
        .await
        .expect("fourth OpenBrowser");
    daemon.kill();
    assert_ne!(sandbox_containers(&env, &fourth), "", "left by the crash");
    let daemon = start_daemon(&env, &browser);
    daemon.wait_for_log("session up", TIMEOUT);
    assert_eq!(sandbox_containers(&env, &fourth), "", "{}", daemon.log());
    let out = env
        .command(zionctl_bin())
        .args(["sandbox", "list"])
        .output()
        .expect("zionctl");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "no sandbox is open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zionctl_opens_lists_and_closes_a_sandbox_and_names_what_is_wrong() {
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let daemon = start_daemon(&env, &browser);
    daemon.wait_for_log("session up", TIMEOUT);
    let zionctl = |args: &[&str]| {
        env.command(zionctl_bin())
            .arg("sandbox")
            .args(args)
            .output()
            .expect("zionctl")
    };
    let out = eventually_blocking(|| {
        let out = zionctl(&["open", "work", "about:blank"]);
        out.status.success().then_some(out)
    });
    let id = stdout(&out);
    let listed = zionctl(&["list"]);
    assert!(
        stdout(&listed)
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("work") && l.contains("running")),
        "{listed:?}"
    );
    let wrong = zionctl(&["open", "nosuch"]);
    assert!(!wrong.status.success());
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains("no profile `nosuch`") && said.contains("work"),
        "{said}"
    );
    let bad = zionctl(&["open", "work", "--", "--disable-web-security"]);
    assert!(!bad.status.success(), "{bad:?}");
    let out = zionctl(&["close", &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sandbox_containers(&env, &id), "");
    let again = zionctl(&["close", &id]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(&format!("no sandbox `{id}`")),
        "{again:?}"
    );
}

/// Retries `f` until it gives `Some` (the daemon may still be coming up).
fn eventually_blocking<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < TIMEOUT, "timed out");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A page that starts a download by itself, so that it is the referrer.
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

fn xattr(path: &std::path::Path, name: &str) -> Option<String> {
    let mut buf = vec![0u8; 8192];
    match rustix::fs::getxattr(path, name, &mut buf[..]) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("reading {name} of {}: {e}", path.display()),
    }
}

/// Issue 17: the URL a real browser downloaded from reaches the quarantine
/// item as what the host saw (the browser's DevTools download events on the
/// sandbox's own pipe, not the file's attributes) and, after release, the
/// released file's attributes, beside the source it came through.
///
/// Measured on 2026-12-02: this Chromium writes no `user.xdg.*` attribute
/// headless; on Wayland (the session's way, on the headless compositor) an
/// http:// download stays `Unconfirmed NNN.crdownload` until the user keeps
/// it, so a test cannot complete one there. The browser here runs headless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_download_carries_its_url_to_the_item_and_onto_the_released_file() {
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let daemon = start_daemon(&env, &browser);
    daemon.wait_for_log("session up", TIMEOUT);
    let (_bus, quarantine, sandboxes) = on_the_bus(&env).await;
    daemon.wait_for_log("ready in the warm pool", TIMEOUT);

    let report: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 253) as u8).collect();
    let internet = Internet::new();
    let gateway = internet.ip;
    let (port, requests) = serve_download_page(&internet, report.clone());
    let page = format!("http://{gateway}:{port}/start.html");
    let file_url = format!("http://{gateway}:{port}/files/q3-report.bin");

    let id = sandboxes
        .open_browser("work", &page)
        .await
        .expect("OpenBrowser");
    let source = format!("sandbox:work/{id}");
    let got = item(&quarantine, "q3-report.bin", &source, || {
        let listing = in_sandbox(&env, &id, "ls -la \"$HOME\"/Downloads 2>&1");
        format!(
            "requests: {:?}\nDownloads:\n{}\ndaemon: {}",
            requests.lock().unwrap_or_else(|p| p.into_inner()),
            String::from_utf8_lossy(&listing.stdout),
            daemon.log()
        )
    })
    .await;
    assert_eq!(got.sha256, sha256(&report));
    assert_eq!(got.origin.url, file_url, "{got:#?}");
    // DevTools gives no referrer, and the file claims none.
    assert_eq!(got.origin.referrer, "", "{got:#?}");
    assert_eq!(got.origin.provenance, "host", "{got:#?}");
    assert_eq!(got.origin.note, "");

    let released = if got.state == "released" {
        got
    } else {
        quarantine
            .release(got.id, "profile:work")
            .await
            .expect("release")
    };
    assert_eq!(released.state, "released", "{released:#?}");
    let path = std::path::PathBuf::from(&released.detail);
    assert_eq!(std::fs::read(&path).expect("the released file"), report);
    assert_eq!(xattr(&path, "user.xdg.origin.url"), Some(file_url));
    assert_eq!(xattr(&path, "user.xdg.referrer.url"), None);
    assert_eq!(xattr(&path, "user.zion.source"), Some(source));
    assert_eq!(
        xattr(&path, "user.zion.origin.provenance").as_deref(),
        Some("host")
    );
    let _ = sandboxes.close(&id).await;
}

/// The item from `source` with these bytes, once scanned.
async fn item_with(quarantine: &Quarantine1Proxy<'_>, source: &str, sha: &str) -> ItemInfo {
    eventually("the planted file's item", TIMEOUT, || async {
        let items = quarantine.list().await.ok()?;
        items
            .into_iter()
            .find(|i| i.source == source && i.sha256 == sha && !i.verdict.is_empty())
    })
    .await
}

/// The attack on the host-observed origin (issue 17): sandboxes write
/// files into their own Downloads that no download brought — one under a
/// new name, one under the name and size of the real download just after
/// it, one in another sandbox under that same name and size while the
/// download happens — hoping to pass for what the browser fetched from
/// the page's server. None of them gets the URL; the real download does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_a_sandbox_writes_itself_never_inherit_a_download_url() {
    let env = TestEnv::new().expect("test env");
    let base = env.image(TestImage::Base).expect("base image");
    let browser = env.image(TestImage::Browser).expect("browser image");
    write_config(&env, &base);
    let daemon = start_daemon(&env, &browser);
    daemon.wait_for_log("session up", TIMEOUT);
    let (_bus, quarantine, sandboxes) = on_the_bus(&env).await;
    daemon.wait_for_log("ready in the warm pool", TIMEOUT);

    let report: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let zeros = vec![0u8; report.len()];
    let internet = Internet::new();
    let gateway = internet.ip;
    let (port, _requests) = serve_download_page(&internet, report.clone());
    let page = format!("http://{gateway}:{port}/start.html");
    let file_url = format!("http://{gateway}:{port}/files/q3-report.bin");

    // The other sandbox, open first, plants the download's name and size.
    let other = sandboxes
        .open_browser("work", "about:blank")
        .await
        .expect("OpenBrowser (other)");
    let id = sandboxes
        .open_browser("work", &page)
        .await
        .expect("OpenBrowser");
    let plant = "dd if=/dev/zero of=\"$HOME/Downloads/q3-report.bin\" bs=1000 count=100 2>&1";
    let out = in_sandbox(&env, &other, plant);
    assert!(out.status.success(), "{}", stdout(&out));
    let source = format!("sandbox:work/{id}");
    let other_source = format!("sandbox:work/{other}");

    let real = item_with(&quarantine, &source, &sha256(&report)).await;
    assert_eq!(real.origin.url, file_url, "{real:#?}");
    assert_eq!(real.origin.provenance, "host", "{real:#?}");

    // Written by the sandbox itself: under a new name, then under the
    // download's own name and size.
    let out = in_sandbox(
        &env,
        &id,
        "dd if=/dev/zero of=\"$HOME/Downloads/planted.bin\" bs=1000 count=100 2>&1 && sleep 1 && \
         dd if=/dev/zero of=\"$HOME/Downloads/q3-report.bin\" bs=1000 count=100 2>&1",
    );
    assert!(out.status.success(), "{}", stdout(&out));
    let planted: Vec<ItemInfo> = eventually("both planted files taken", TIMEOUT, || async {
        let items = quarantine.list().await.ok()?;
        let mine: Vec<ItemInfo> = items
            .into_iter()
            .filter(|i| i.sha256 == sha256(&zeros) && !i.verdict.is_empty())
            .collect();
        (mine.len() == 3).then_some(mine)
    })
    .await;
    for item in &planted {
        assert!(
            item.source == source || item.source == other_source,
            "{item:#?}"
        );
        assert_ne!(item.origin.provenance, "host", "{item:#?}");
        assert_ne!(item.origin.url, file_url, "{item:#?}");
    }
    let _ = sandboxes.close(&id).await;
    let _ = sandboxes.close(&other).await;
}

//! The session as a person runs it (issue 19): everything — compositor,
//! daemon, zionctl, the profile's container — as the unprivileged account
//! `zion-tester` against that account's own rootless Podman, on this
//! cgroup-v1 machine. Nothing runs as root but the test itself, which only
//! looks.

mod quarantine_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use quarantine_support::{default_rules, eventually, scan_worker, zionctl_bin, DAEMON};
use zion_bus::{Quarantine1Proxy, Sandbox1Proxy};
use zion_tests::desk::Desk;
use zion_tests::user::TestUser;
use zion_tests::{TestEnv, TestImage};

const WAIT: Duration = Duration::from_secs(60);
const WORK: (u8, u8, u8) = (0x34, 0x65, 0xa4);
/// The page the disposable browser shows: one colour nothing else draws.
const PAGE: (u8, u8, u8) = (0xff, 0x00, 0xff);
const PAGE_URL: &str = "data:text/html,<body style='background:%23ff00ff'></body>";
/// A frame is a border around a window: hundreds of pixels at the least.
const FRAME_PIXELS: usize = 300;

/// The programs the account runs, where it can reach them.
struct Programs {
    daemon: PathBuf,
    compositor: PathBuf,
    zionctl: PathBuf,
    rules: PathBuf,
    worker: PathBuf,
}

impl Programs {
    fn expose(env: &TestEnv) -> Programs {
        let expose = |p: &Path| env.expose(p).expect("a program the account can run");
        let worker = expose(&scan_worker());
        Programs {
            daemon: expose(Path::new(DAEMON)),
            compositor: expose(&zion_tests::sibling_bin(
                DAEMON,
                "zion-compositor",
                "ZION_COMPOSITOR",
            )),
            zionctl: expose(&zionctl_bin()),
            rules: expose(&default_rules()),
            worker,
        }
    }
}

/// Files named `name` under `dir`.
fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if path.file_name().is_some_and(|n| n == name) {
            found.push(path.clone());
        }
        if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    found
}

/// Pixels of `colour` in the PNG at `path`.
fn count(path: &Path, colour: (u8, u8, u8)) -> usize {
    let file = std::fs::File::open(path).expect("the screenshot exists");
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut rgba = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgba).expect("PNG pixels");
    assert_eq!(info.color_type, png::ColorType::Rgba);
    rgba[..info.buffer_size()]
        .chunks_exact(4)
        .filter(|p| (p[0], p[1], p[2]) == colour)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_session_runs_as_an_ordinary_user_on_their_rootless_podman() {
    let user = TestUser::ensure().expect("the unprivileged test account");
    let env = TestEnv::for_user(&user).expect("a session of the test account");
    let image = env
        .image(TestImage::Wayland)
        .expect("the wayland test image, in the account's own store");
    let browser = env
        .image(TestImage::Browser)
        .expect("the browser image, in the account's own store");
    let programs = Programs::expose(&env);
    let mut desk = Desk::new(env, WAIT).await;
    desk.write_config(&format!(
        "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{image}\"\n\
         network = \"none\"\nmemory = \"256MiB\"\npids = 512\nhibernate_after = \"never\"\n"
    ));
    let rules = programs.rules.display().to_string();
    let worker = programs.worker.display().to_string();
    desk.start_session(
        Some((programs.compositor.as_path(), "640x480", true)),
        &programs.daemon,
        &[
            ("ZION_SANDBOX_POOL", "1"),
            ("ZION_RULES", &rules),
            ("ZION_SCAN_WORKER", &worker),
            ("ZION_BROWSER_IMAGE", &browser),
        ],
        &["work"],
    )
    .await;

    // The Podman is the account's, rootless, and the profile's processes
    // are the account's uid (keep-id), not root and not a subordinate id.
    assert_eq!(
        desk.podman(&["info", "--format", "{{.Host.Security.Rootless}}"]),
        "true"
    );
    let in_work = |script: &str| desk.podman(&["exec", "zion-work", "sh", "-c", script]);
    assert_eq!(in_work("id -u"), user.uid.to_string());
    for (what, child) in [("compositor", &desk.compositor), ("daemon", &desk.daemon)] {
        let pid = child.as_ref().expect("running").id();
        let owner = std::fs::metadata(format!("/proc/{pid}"))
            .expect("the process")
            .uid();
        assert_eq!(owner, user.uid, "the {what} does not run as the account");
    }

    // A window from inside the profile draws on the compositor, framed in
    // work's colour.
    let out = desk
        .env
        .command(&programs.zionctl)
        .args(["profiles", "run", "work", "--", "weston-simple-shm"])
        .output()
        .expect("zionctl runs");
    assert!(
        out.status.success(),
        "zionctl profiles run: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        desk.logs()
    );
    let shot = desk.runtime().join("shot.png");
    let shot_text = shot.to_str().expect("UTF-8 path").to_owned();
    let compositor = desk.compositor().await;
    eventually("work's window, framed, on the screen", WAIT, || async {
        compositor.screenshot(&shot_text).await.ok()?;
        (count(&shot, WORK) > FRAME_PIXELS).then_some(())
    })
    .await;

    // The compositor's sockets are the account's and nobody else's: another
    // local user cannot open a window on this session.
    let runtime = desk.runtime();
    let sockets: Vec<PathBuf> = std::fs::read_dir(runtime.join("zion"))
        .into_iter()
        .chain(std::fs::read_dir(&runtime))
        .flat_map(|d| d.flatten().map(|e| e.path()))
        .filter(|p| {
            p.symlink_metadata()
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
        })
        .collect();
    assert!(!sockets.is_empty(), "no sockets in {}", runtime.display());
    for socket in &sockets {
        let meta = socket.symlink_metadata().expect("socket");
        assert_eq!(
            meta.uid(),
            user.uid,
            "{} is not the account's",
            socket.display()
        );
    }
    let wayland = sockets
        .iter()
        .find(|s| {
            s.parent() == Some(runtime.as_path())
                && s.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("wayland-"))
        })
        .unwrap_or_else(|| panic!("no host Wayland socket among {sockets:?}"));
    let stranger = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg("weston-simple-shm")
        .env_clear()
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("WAYLAND_DISPLAY", wayland)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("weston-simple-shm as nobody");
    // A client that connects runs on (it animates): one that is refused
    // ends at once, failing.
    let mut stranger = stranger;
    let ended = (0..50).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        stranger.try_wait().expect("waiting")
    });
    if ended.is_none() {
        let _ = stranger.kill();
        let _ = stranger.wait();
    }
    assert!(
        ended.is_some_and(|status| !status.success()),
        "another user opened a window on the account's compositor ({ended:?})"
    );
    assert!(
        runtime.metadata().expect("runtime").permissions().mode() & 0o077 == 0,
        "XDG_RUNTIME_DIR is the account's alone"
    );

    // A file the profile writes in its home is the account's on the host.
    in_work("echo mine > /home/zion/mine.txt");
    let written = find(&desk.env.xdg.data, "mine.txt");
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(written[0].metadata().expect("mine.txt").uid(), user.uid);

    // Shared is read-only inside; an Outbox file is taken by the daemon,
    // scanned, released into Shared, and is the account's there.
    let refused = desk.podman_try(&[
        "exec",
        "zion-work",
        "sh",
        "-c",
        "echo x > /home/zion/Shared/x",
    ]);
    assert!(!refused.0, "Shared is writable from inside: {}", refused.1);
    in_work("echo 'quarterly report' > /home/zion/Outbox/report.txt");
    let quarantine = Quarantine1Proxy::new(&desk.conn).await.expect("proxy");
    eventually("report.txt released", WAIT, || async {
        let items = quarantine.list().await.ok()?;
        items
            .into_iter()
            .find(|i| i.name == "report.txt" && i.state == "released")
    })
    .await;
    assert_eq!(
        in_work("cat /home/zion/Shared/report.txt"),
        "quarterly report"
    );
    let released: Vec<PathBuf> = find(&desk.env.xdg.data, "report.txt")
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "shared"))
        .collect();
    assert!(!released.is_empty(), "report.txt is not in Shared");
    for path in &released {
        assert_eq!(
            path.metadata().expect("report").uid(),
            user.uid,
            "{}",
            path.display()
        );
    }

    // A disposable browser opens: Chromium, as one of the account's
    // subordinate ids (not the account itself), draws its page on work's
    // desktop through the socket and folders opened to exactly that id.
    let sandboxes = Sandbox1Proxy::new(&desk.conn).await.expect("proxy");
    // From the warm pool, as Super+B takes it.
    let start = std::time::Instant::now();
    while !desk.logs().contains("ready in the warm pool") {
        assert!(
            start.elapsed() < WAIT * 2,
            "the warm pool never filled\n{}",
            desk.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let id = sandboxes
        .open_browser("work", PAGE_URL)
        .await
        .unwrap_or_else(|e| panic!("OpenBrowser: {e}\n{}", desk.logs()));
    let start = std::time::Instant::now();
    loop {
        let drawn = compositor.screenshot(&shot_text).await.is_ok() && count(&shot, PAGE) > 10_000;
        if drawn {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the disposable browser never drew its page\n{}",
            desk.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let browser_uid = desk.podman(&["top", &format!("zion-sandbox-work-{id}"), "huser", "args"]);
    assert!(
        browser_uid
            .lines()
            .filter(|l| l.contains("chromium"))
            .all(|l| l.split_whitespace().next() != Some(user.uid.to_string().as_str())),
        "Chromium runs as the account itself: {browser_uid}"
    );
    // Its downloads are followed by the host (issue 17) rootless too.
    assert!(
        !desk
            .logs()
            .contains("downloads' URLs will not be seen by the host"),
        "{}",
        desk.logs()
    );
    sandboxes.close(&id).await.expect("Close");

    // When the session ends, nothing in the account's folders is root's.
    for child in [desk.daemon.take(), desk.compositor.take()]
        .into_iter()
        .flatten()
    {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }
    let (_, home) = desk.env.user().expect("the account");
    let mut foreign = Vec::new();
    for dir in [
        home,
        desk.env.xdg.config.as_path(),
        desk.env.xdg.data.as_path(),
        desk.env.xdg.runtime.as_path(),
        desk.env.xdg.cache.as_path(),
        desk.env.xdg.state.as_path(),
    ] {
        foreign.extend(zion_tests::user::not_owned_by(dir, user.uid));
    }
    // Rootless Podman keeps its live state in the runtime folder, owned
    // inside its user namespace: the engine's, not a file of the session.
    let engine = [
        desk.env.xdg.runtime.join("containers"),
        desk.env.xdg.runtime.join("libpod"),
    ];
    foreign.retain(|(path, _)| !engine.iter().any(|e| path.starts_with(e)));
    assert!(
        foreign.is_empty(),
        "files in the account's folders that are not its own: {foreign:?}"
    );
}

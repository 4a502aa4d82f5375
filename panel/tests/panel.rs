//! zion-panel against a real zion-sandboxd on the harness's private bus: the
//! real iced program runs headless in `iced_test`'s Emulator (its tasks and
//! its signal subscription on its own executor), the test clicks what a
//! person would click and reads what the window shows.
//!
//! Needs the binaries: `cargo build -p zion-sandboxd -p zion-scanner -p zion-panel --bins`
//! (`make test` builds them first).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iced_test::core::Rectangle;
use iced_test::emulator::{self, Emulator};
use iced_test::futures::futures::channel::mpsc;
use iced_test::program::Program;
use iced_test::selector::Candidate;
use zion_bus::quarantine::{ItemInfo, Quarantine1Proxy};
use zion_config::quarantine::Policy;
use zion_panel::{self as panel, Config};
use zion_tests::TestEnv;

/// The EICAR anti-virus test file (68 bytes).
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
const REPORT: &[u8] = b"%PDF-1.7\n% a quarterly report, nothing to see\n";

/// `target/debug`, where cargo put this test's binaries' siblings.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/debug/deps/panel-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf()
}

fn binary(name: &str, build: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first with `{build}` (make test does)",
        path.display()
    );
    path
}

fn default_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../session-files/rules")
}

fn data(env: &TestEnv) -> PathBuf {
    env.xdg.data.join("zion")
}

/// zion.toml with one profile, `work`.
fn write_config(env: &TestEnv) {
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    std::fs::write(dir.join("zion.toml"), "[[profile]]\nname = \"work\"\n").expect("zion.toml");
}

/// work's browser sandbox 1's download folder, made before the daemon starts.
fn downloads(env: &TestEnv) -> PathBuf {
    let dir = data(env).join("quarantine/inbox/sandbox-work-1");
    std::fs::create_dir_all(&dir).expect("download folder");
    dir
}

/// Saves a file as a browser does: written under `.part`, then renamed.
fn drop_file(dir: &Path, name: &str, bytes: &[u8]) {
    let partial = dir.join(format!("{name}.part"));
    std::fs::write(&partial, bytes).expect("write the download");
    std::fs::rename(&partial, dir.join(name)).expect("rename the download");
}

/// `zion-sandboxd --no-profiles`, its log collected.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(env: &TestEnv) -> Daemon {
        let daemon = binary("zion-sandboxd", "cargo build -p zion-sandboxd");
        let worker = binary("zion-scan-worker", "cargo build -p zion-scanner --bins");
        let mut child = env
            .command(daemon)
            .arg("--no-profiles")
            .env("ZION_SCAN_WORKER", worker)
            .env("ZION_RULES", default_rules())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zion-sandboxd starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let daemon = Daemon { child, log };
        let start = Instant::now();
        while !daemon.log().contains("quarantine ready") {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "zion-sandboxd did not get its quarantine ready; it said:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The panel's settings for this environment (retrying every second).
fn panel_config(env: &TestEnv) -> Config {
    Config {
        bus_address: Some(env.dbus().address().to_owned()),
        objects: Some(data(env).join("quarantine/objects")),
        profiles: vec!["work".to_owned()],
        policy: Some(Policy::default()),
        config_problem: None,
        retry: Duration::from_secs(1),
        answer: Duration::from_secs(10),
        select: None,
    }
}

/// The real panel program in an Emulator, and what it has sent us.
struct Ui<P: Program + 'static> {
    program: P,
    emulator: Emulator<P>,
    events: mpsc::Receiver<emulator::Event<P>>,
}

/// A text on screen and where it is.
#[derive(Debug, Clone)]
struct Shown {
    text: String,
    bounds: Rectangle,
}

impl<P: Program + 'static> Ui<P> {
    fn new(program: P) -> Ui<P> {
        let (sender, events) = mpsc::channel(256);
        let emulator = Emulator::new(
            sender,
            &program,
            emulator::Mode::Immediate,
            iced_test::core::Size::new(1100.0, 700.0),
        );
        Ui {
            program,
            emulator,
            events,
        }
    }

    /// Runs what the program's tasks and subscriptions produced so far.
    fn pump(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            if let emulator::Event::Action(action) = event {
                self.emulator.perform(&self.program, action);
            }
        }
    }

    /// Every text in the window with its bounds.
    fn texts(&mut self) -> Vec<Shown> {
        self.pump();
        let mut ui = iced_test::simulator(self.emulator.view(&self.program));
        let mut all = Vec::new();
        let _ = ui.find(|candidate: Candidate<'_>| {
            if let Candidate::Text {
                content,
                visible_bounds: Some(bounds),
                ..
            } = candidate
            {
                all.push(Shown {
                    text: content.to_owned(),
                    bounds,
                });
            }
            None::<()>
        });
        all
    }

    fn shows(&mut self, text: &str) -> bool {
        self.texts().iter().any(|s| s.text == text)
    }

    /// The texts on the same line as `name` (a list row), left to right.
    fn row(&mut self, name: &str) -> Vec<String> {
        let texts = self.texts();
        let Some(anchor) = texts.iter().find(|s| s.text == name) else {
            return Vec::new();
        };
        let y = anchor.bounds.center_y();
        let mut line: Vec<&Shown> = texts
            .iter()
            .filter(|s| s.bounds.y <= y && y <= s.bounds.y + s.bounds.height)
            .collect();
        line.sort_by(|a, b| a.bounds.x.total_cmp(&b.bounds.x));
        line.into_iter().map(|s| s.text.clone()).collect()
    }

    /// Waits until `check` holds, pumping the program; panics with what the window shows.
    fn wait(&mut self, what: &str, timeout: Duration, mut check: impl FnMut(&mut Self) -> bool) {
        let start = Instant::now();
        loop {
            if check(self) {
                return;
            }
            if start.elapsed() > timeout {
                let shown: Vec<String> = self.texts().into_iter().map(|s| s.text).collect();
                panic!(
                    "timed out after {timeout:?} waiting for {what}; the window shows: {shown:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for_text(&mut self, text: &str) {
        self.wait(&format!("{text:?}"), Duration::from_secs(20), |ui| {
            ui.shows(text)
        });
    }

    /// Clicks the widget showing `text` and runs what the click asked for.
    fn click(&mut self, text: &str) {
        self.pump();
        let clicked = {
            let mut ui = iced_test::simulator(self.emulator.view(&self.program));
            match ui.click(text) {
                Ok(_) => Ok(ui.into_messages().collect::<Vec<P::Message>>()),
                Err(e) => Err(e.to_string()),
            }
        };
        let messages = clicked.unwrap_or_else(|e| {
            let shown: Vec<String> = self.texts().into_iter().map(|s| s.text).collect();
            panic!("cannot click {text:?}: {e}; the window shows: {shown:?}");
        });
        assert!(!messages.is_empty(), "clicking {text:?} did nothing");
        for message in messages {
            self.emulator.update(&self.program, message);
        }
    }
}

/// A second client on the bus: the daemon's view of an item, and its signals.
struct Watch {
    proxy: Option<Quarantine1Proxy<'static>>,
    changes: Arc<Mutex<Vec<ItemInfo>>>,
    task: Option<tokio::task::JoinHandle<()>>,
    runtime: tokio::runtime::Runtime,
}

impl Drop for Watch {
    fn drop(&mut self) {
        // zbus removes its match rules on drop by spawning on the runtime:
        // drop everything while the runtime still runs.
        let task = self.task.take();
        let proxy = self.proxy.take();
        self.runtime.block_on(async move {
            if let Some(task) = task {
                task.abort();
                let _ = task.await;
            }
            drop(proxy);
        });
    }
}

impl Watch {
    fn new(env: &TestEnv) -> Watch {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let changes = Arc::new(Mutex::new(Vec::new()));
        let sink = changes.clone();
        let (proxy, task) = runtime.block_on(async {
            use futures_util::StreamExt;
            let bus = env.dbus().connect().await.expect("the test bus");
            let proxy = Quarantine1Proxy::new(&bus).await.expect("the proxy");
            let mut stream = proxy.receive_item_changed().await.expect("ItemChanged");
            let task = tokio::spawn(async move {
                while let Some(signal) = stream.next().await {
                    if let Ok(args) = signal.args() {
                        sink.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(args.item);
                    }
                }
            });
            (proxy, task)
        });
        Watch {
            proxy: Some(proxy),
            changes,
            task: Some(task),
            runtime,
        }
    }

    fn list(&self) -> Vec<ItemInfo> {
        let proxy = self
            .proxy
            .as_ref()
            .expect("the proxy lives as long as the watch");
        self.runtime
            .block_on(proxy.list())
            .expect("Quarantine1.List")
    }

    fn named(&self, name: &str) -> ItemInfo {
        self.list()
            .into_iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("no item {name} in the quarantine"))
    }

    /// The states `id` went through since the watch began.
    fn states(&self, id: u64) -> Vec<String> {
        self.changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|i| i.id == id)
            .map(|i| i.state.clone())
            .collect()
    }
}

/// A test environment with the daemon running and two downloads scanned.
fn two_downloads() -> (TestEnv, Daemon) {
    let env = TestEnv::new().expect("test environment");
    write_config(&env);
    let inbox = downloads(&env);
    let daemon = Daemon::start(&env);
    drop_file(&inbox, "report.pdf", REPORT);
    drop_file(&inbox, "eicar.com", EICAR);
    (env, daemon)
}

#[test]
fn the_list_shows_both_downloads_with_their_badges_and_the_detail_names_the_rule() {
    let (env, daemon) = two_downloads();
    let mut ui = Ui::new(panel::application(panel_config(&env)));

    ui.wait("both items scanned", Duration::from_secs(30), |ui| {
        ui.row("report.pdf").contains(&"clean".to_owned())
            && ui.row("eicar.com").contains(&"infected".to_owned())
    });
    let report = ui.row("report.pdf");
    assert!(report.contains(&"sandbox work #1".to_owned()), "{report:?}");
    assert!(
        report.contains(&format!("{} B", REPORT.len())),
        "{report:?}"
    );
    assert!(ui.shows("2 items waiting"));

    ui.click("eicar.com");
    ui.wait_for_text("EICAR_Test_File");
    assert!(ui.shows("Zion project"), "the rule's author is shown");
    assert!(ui.shows(
        "Is the EICAR anti-virus test file itself: the string at offset 0, at most 128 bytes"
    ));
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(EICAR));
    assert!(ui.shows(&sha), "the SHA-256 is shown");
    ui.wait_for_text("text/plain");

    ui.click("report.pdf");
    ui.wait_for_text("application/pdf");
    assert!(!ui.shows("EICAR_Test_File"), "a clean item has no rules");
    drop(daemon);
}

#[test]
fn release_delete_and_rescan_reach_the_daemon_and_the_list_follows_its_signals() {
    let (env, daemon) = two_downloads();
    let watch = Watch::new(&env);
    let mut ui = Ui::new(panel::application(panel_config(&env)));
    ui.wait("both items scanned", Duration::from_secs(30), |ui| {
        ui.row("report.pdf").contains(&"clean".to_owned())
            && ui.row("eicar.com").contains(&"infected".to_owned())
    });

    // Release the clean one to Shared: the file lands there, and the row
    // turns "released" when the daemon's ItemChanged arrives.
    ui.click("report.pdf");
    ui.click("Release to Shared");
    ui.wait("report.pdf released", Duration::from_secs(20), |ui| {
        ui.row("report.pdf").contains(&"released".to_owned())
    });
    let shared = data(&env).join("shared/report.pdf");
    assert_eq!(
        std::fs::read(&shared).ok().as_deref(),
        Some(REPORT),
        "{} holds the download",
        shared.display()
    );
    ui.wait_for_text("Released report.pdf to Shared");

    // Releasing the infected one asks first, naming the rule; "Cancel" releases nothing.
    ui.click("eicar.com");
    ui.click("Release to Shared");
    let question = ui
        .texts()
        .into_iter()
        .map(|s| s.text)
        .find(|t| t.ends_with("Release it to Shared anyway?"))
        .expect("a question before releasing an infected file");
    assert!(question.contains("EICAR_Test_File"), "{question}");
    assert!(question.contains("by Zion project"), "{question}");
    ui.click("Cancel");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!data(&env).join("shared/eicar.com").exists());
    assert_eq!(watch.named("eicar.com").state, "infected");

    // Rescan: the daemon scans it again (ItemChanged: scanning, then infected).
    let eicar = watch.named("eicar.com").id;
    let before = watch.states(eicar).len();
    ui.click("Rescan");
    ui.wait_for_text("eicar.com will be scanned again");
    let start = Instant::now();
    while watch.states(eicar)[before..] != ["stored", "scanning", "infected"] {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "a rescan goes stored → scanning → infected, saw {:?}",
            &watch.states(eicar)[before..]
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    ui.wait("eicar.com infected again", Duration::from_secs(20), |ui| {
        ui.row("eicar.com").contains(&"infected".to_owned())
    });

    // Delete asks, then the item leaves the daemon and the list.
    ui.click("Delete");
    assert!(
        ui.shows("Delete eicar.com? It is removed from the quarantine and cannot be recovered.")
    );
    ui.click("Delete");
    ui.wait(
        "eicar.com gone from the list",
        Duration::from_secs(20),
        |ui| !ui.shows("eicar.com"),
    );
    assert_eq!(watch.named("eicar.com").state, "deleted");
    assert!(ui.shows("report.pdf"), "the released item stays listed");
    drop(daemon);
}

#[test]
fn names_sort_naturally_and_a_bulk_release_frees_every_clean_item_but_holds_the_infected_one() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env);
    let inbox = downloads(&env);
    let daemon = Daemon::start(&env);
    // n10 arrives before n2: by age n10 comes first, by name n2 does.
    drop_file(&inbox, "n10.txt", b"ten\n");
    drop_file(&inbox, "n2.txt", b"two\n");
    drop_file(&inbox, "report.pdf", REPORT);
    drop_file(&inbox, "eicar.com", EICAR);
    let watch = Watch::new(&env);
    let mut ui = Ui::new(panel::application(panel_config(&env)));
    ui.wait("all four scanned", Duration::from_secs(30), |ui| {
        ["n10.txt", "n2.txt", "report.pdf"]
            .iter()
            .all(|n| ui.row(n).contains(&"clean".to_owned()))
            && ui.row("eicar.com").contains(&"infected".to_owned())
    });
    let y = |ui: &mut Ui<_>, name: &str| {
        ui.texts()
            .into_iter()
            .find(|s| s.text == name)
            .map(|s| s.bounds.y)
            .unwrap_or_else(|| panic!("{name} is not shown"))
    };
    assert!(y(&mut ui, "n10.txt") < y(&mut ui, "n2.txt"), "oldest first");
    ui.click("Name");
    assert!(ui.shows("Name ↑"));
    assert!(
        y(&mut ui, "n2.txt") < y(&mut ui, "n10.txt"),
        "n2 before n10"
    );

    // Tick everything, release the clean ones to Shared with one "yes".
    ui.click("Select all shown");
    assert!(ui.shows("4 selected"));
    ui.click("Release clean to Shared");
    let question = "Release 3 clean items from sandbox work #1 to Shared? \
                    1 selected item is not clean and stays in quarantine.";
    let shown: Vec<String> = ui.texts().into_iter().map(|s| s.text).collect();
    assert!(
        shown.iter().any(|t| t == question),
        "one question for the bulk release; the window shows {shown:?}"
    );
    assert!(
        !data(&env).join("shared/report.pdf").exists(),
        "nothing before the yes"
    );
    ui.click("Release");
    ui.wait_for_text("Released 3 items to Shared; 1 not clean, left in quarantine");
    for (name, bytes) in [
        ("n10.txt", &b"ten\n"[..]),
        ("n2.txt", b"two\n"),
        ("report.pdf", REPORT),
    ] {
        let path = data(&env).join("shared").join(name);
        assert_eq!(
            std::fs::read(&path).ok().as_deref(),
            Some(bytes),
            "{} holds the download",
            path.display()
        );
        assert_eq!(watch.named(name).state, "released");
    }
    assert!(!data(&env).join("shared/eicar.com").exists());
    assert_eq!(watch.named("eicar.com").state, "infected");
    ui.wait("released items untick", Duration::from_secs(20), |ui| {
        ui.shows("1 selected")
    });
    drop(daemon);
}

#[test]
fn without_a_daemon_the_panel_says_so_and_connects_once_it_starts() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env);
    downloads(&env);
    let mut ui = Ui::new(panel::application(panel_config(&env)));
    ui.wait_for_text("The quarantine daemon is not available");
    let reason = ui
        .texts()
        .into_iter()
        .map(|s| s.text)
        .find(|t| t.starts_with("zion-sandboxd is not running"));
    assert!(reason.is_some(), "the panel says why");

    let daemon = Daemon::start(&env);
    // It retries every second: the empty quarantine shows without a click.
    ui.wait_for_text("Nothing in quarantine");
    drop(daemon);
}

/// A daemon that owns the quarantine's name on the bus but never answers
/// (stuck, or hostile): the panel does not wait forever on "Connecting…".
/// It says the daemon did not answer, and connects once a working daemon
/// has the name.
#[test]
fn a_daemon_that_never_answers_is_said_so_and_the_panel_connects_to_the_next() {
    /// Has `List`, never returns from it.
    struct Silent;
    #[zbus::interface(name = "org.zionos.Quarantine1")]
    impl Silent {
        async fn list(&self) -> Vec<ItemInfo> {
            std::future::pending().await
        }
    }

    let env = TestEnv::new().expect("test environment");
    write_config(&env);
    downloads(&env);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let silent = runtime.block_on(async {
        zbus::connection::Builder::address(env.dbus().address())
            .expect("address")
            .name("org.zionos.Quarantine1")
            .expect("name")
            .serve_at("/org/zionos/Quarantine1", Silent)
            .expect("serve")
            .build()
            .await
            .expect("the silent daemon is on the bus")
    });
    let mut config = panel_config(&env);
    config.answer = Duration::from_secs(2);
    let mut ui = Ui::new(panel::application(config));
    ui.wait(
        "the panel to give up waiting",
        Duration::from_secs(20),
        |ui| {
            ui.texts()
                .iter()
                .any(|s| s.text.contains("did not answer within 2 s"))
        },
    );
    // It is running, only silent: nothing on screen may say otherwise.
    let said: Vec<String> = ui.texts().into_iter().map(|s| s.text).collect();
    assert!(
        !said.iter().any(|t| t.contains("not running")),
        "a daemon that holds the name is called not running: {said:?}"
    );

    // The silent one goes; a real daemon comes.
    runtime.block_on(async move { drop(silent) });
    let daemon = Daemon::start(&env);
    ui.wait_for_text("Nothing in quarantine");
    drop(daemon);
}

/// Pixels of iced's dark background (0x2B2D31) in an RGBA PNG, and its size.
fn panel_background_pixels(png_file: &Path) -> (usize, u32, u32) {
    let file = std::fs::File::open(png_file).expect("the screenshot");
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("its pixels");
    let channels = info.color_type.samples();
    let count = buf[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| {
            p[0].abs_diff(0x2b) <= 2 && p[1].abs_diff(0x2d) <= 2 && p[2].abs_diff(0x31) <= 2
        })
        .count();
    (count, info.width, info.height)
}

/// The real zion-panel as a Wayland client of the real headless compositor,
/// on its host socket, with a clean and an infected download listed and the
/// infected one opened. The PNG goes to `target/zion-panel.png`; with
/// `ZION_UPDATE_SCREENSHOTS=1` also to `panel/screenshots/panel.png`
/// (the README's picture).
#[test]
fn the_panel_draws_as_a_client_of_the_headless_compositor() {
    let compositor = binary("zion-compositor", "cargo build -p zion-compositor");
    let panel = binary("zion-panel", "cargo build -p zion-panel --bins");
    let (env, daemon) = two_downloads();
    let watch = Watch::new(&env);
    let start = Instant::now();
    while !watch
        .list()
        .iter()
        .any(|i| i.name == "eicar.com" && i.state == "infected")
        || !watch
            .list()
            .iter()
            .any(|i| i.name == "report.pdf" && i.state == "clean")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the downloads were not scanned; zion-sandboxd said:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let eicar = watch.named("eicar.com").id;

    let runtime = env.xdg.runtime.clone();
    let shot = bin_dir().join("../zion-panel.png");
    let _ = std::fs::remove_file(&shot);
    let mut compositor = env
        .command(compositor)
        .args(["--backend", "headless", "--size", "1100x680", "--no-dbus"])
        .arg("--runtime-dir")
        .arg(&runtime)
        .args(["--exit-after", "10", "--screenshot"])
        .arg(&shot)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zion-compositor starts");
    let socket = runtime.join("wayland-zion");
    let start = Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the compositor made no host socket at {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut client = env
        .command(panel)
        .arg("--select")
        .arg(eicar.to_string())
        .env("WAYLAND_DISPLAY", "wayland-zion")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("DISPLAY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zion-panel starts");

    // The panel must run for as long as the compositor does; it leaves once
    // its display is gone. The compositor closes its clients before it has
    // written the screenshot and exited: only the time before it began to
    // stop (10 s after it started, so at most 10 s after the panel started)
    // tells whether the panel stayed up on its own.
    let panel_started = Instant::now();
    let mut panel_alive = true;
    while matches!(compositor.try_wait(), Ok(None)) {
        if panel_started.elapsed() < Duration::from_secs(8) {
            panel_alive &= matches!(client.try_wait(), Ok(None));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let compositor_done = compositor.wait_with_output().expect("the compositor ends");
    let _ = client.kill();
    let panel_done = client.wait_with_output().expect("zion-panel ends");
    let panel_said = String::from_utf8_lossy(&panel_done.stderr).into_owned();
    assert!(
        compositor_done.status.success(),
        "zion-compositor failed: {}",
        String::from_utf8_lossy(&compositor_done.stderr)
    );
    assert!(
        panel_alive,
        "zion-panel exited while the compositor ran; it said:\n{panel_said}"
    );

    let (dark, width, height) = panel_background_pixels(&shot);
    // The panel's window fills most of the output with its background.
    let share = dark as f64 / f64::from(width * height);
    assert!(
        share > 0.3,
        "only {:.0}% of the screenshot is the panel's background: the window did not draw \
         (zion-panel said:\n{panel_said})",
        share * 100.0
    );
    if std::env::var_os("ZION_UPDATE_SCREENSHOTS").is_some() {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots/panel.png");
        std::fs::copy(&shot, &readme).expect("copy the screenshot for the README");
    }
    drop(daemon);
}

/// 10,000 items: listing them, a sort, a scroll to the end and a search
/// each build and lay out the whole window (as iced does after every
/// message) in well under a second even in a debug build on a busy
/// machine, because only the rows in sight are built.
#[test]
fn ten_thousand_waiting_items_keep_the_window_responsive() {
    use zion_panel::model::{Event, SortKey};
    use zion_panel::Message;

    let items: Vec<ItemInfo> = (0..10_000u64)
        .map(|n| ItemInfo {
            id: n + 1,
            name: format!("download-{}.pdf", (n * 7919) % 10_000),
            safe_name: format!("download-{n}.pdf"),
            source: "sandbox:work/1".into(),
            profile: "work".into(),
            size: 1000 + n,
            sha256: format!("{n:064x}"),
            state: if n % 10 == 0 { "infected" } else { "clean" }.into(),
            verdict: String::new(),
            detail: String::new(),
            matches: Vec::new(),
            added: 1_000_000 + n,
            changed: 1_000_000 + n,
            destination: String::new(),
            held: false,
            origin: Default::default(),
        })
        .collect();
    let config = Config {
        bus_address: Some("unix:path=/nonexistent".to_owned()),
        objects: None,
        profiles: vec!["work".to_owned()],
        policy: Some(Policy::default()),
        config_problem: None,
        retry: Duration::from_secs(3600),
        answer: Duration::from_secs(10),
        select: None,
    };
    let mut app = zion_panel::App::new(config);
    let mut timed = |what: &str, message: Message| {
        let start = Instant::now();
        let _ = app.update(message);
        let mut ui = iced_test::simulator(zion_panel::view::view(&app));
        let took = start.elapsed();
        let mut built = Vec::new();
        let _ = ui.find(|candidate: Candidate<'_>| {
            if let Candidate::Text { content, .. } = candidate {
                built.push(content.to_owned());
            }
            None::<()>
        });
        let rows = built.iter().filter(|t| t.starts_with("download-")).count();
        assert!(rows < 40, "{what}: {rows} rows built for 10,000 items");
        eprintln!("{what}: {took:?}, {rows} rows built");
        (took, built.contains(&"download-0.pdf".to_owned()), built)
    };
    let (listed, shown, _) = timed(
        "listing 10000",
        Message::Bus(panel::daemon::Update::Event(Event::Listed(items))),
    );
    assert!(shown, "the list shows the first item");
    let (sorted, shown, _) = timed("sort by name", Message::Panel(Event::Sort(SortKey::Name)));
    assert!(shown, "download-0.pdf comes first by name");
    let (scrolled, shown, built) = timed(
        "scroll to the end",
        Message::Panel(Event::Scrolled(panel::model::Viewport::new(
            (10_000 * panel::window::ROW_HEIGHT) as f32,
            600.0,
        ))),
    );
    assert!(!shown, "download-0.pdf is far above");
    assert!(
        built.contains(&"download-9999.pdf".to_owned()),
        "the last row is built: {built:?}"
    );
    let (searched, shown, _) = timed(
        "search",
        Message::Panel(Event::Search("download-49".into())),
    );
    assert!(!shown, "download-0.pdf does not match the search");
    for took in [listed, sorted, scrolled, searched] {
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
}

/// Every text the window builds, seen or scrolled out of sight.
fn built_texts<P: Program + 'static>(ui: &mut Ui<P>) -> Vec<String> {
    ui.pump();
    let mut ui = iced_test::simulator(ui.emulator.view(&ui.program));
    let mut all = Vec::new();
    let _ = ui.find(|candidate: Candidate<'_>| {
        if let Candidate::Text { content, .. } = candidate {
            all.push(content.to_owned());
        }
        None::<()>
    });
    all
}

/// `count` downloads `download-N.txt` in work's browser sandbox 1's
/// folder, the daemon started on them and every one scanned clean.
fn many_downloads(count: usize) -> (TestEnv, Daemon, Watch) {
    let env = TestEnv::new().expect("test environment");
    write_config(&env);
    let inbox = downloads(&env);
    for n in 0..count {
        drop_file(
            &inbox,
            &format!("download-{n}.txt"),
            format!("item {n}\n").as_bytes(),
        );
    }
    let daemon = Daemon::start(&env);
    let watch = Watch::new(&env);
    let start = Instant::now();
    loop {
        let clean = watch.list().iter().filter(|i| i.state == "clean").count();
        if clean == count {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {clean} of {count} downloads scanned; zion-sandboxd said:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (env, daemon, watch)
}

/// Three hundred waiting items: the window builds only the rows it shows;
/// a click, a ctrl-click and a shift-click on a row scrolled far below
/// tick exactly that range, and one "yes" releases exactly it.
#[test]
fn a_shift_click_range_over_many_items_releases_exactly_that_range() {
    use zion_panel::Message;
    const COUNT: usize = 300;
    let (env, daemon, watch) = many_downloads(COUNT);
    let mut ui = Ui::new(panel::application(panel_config(&env)));
    ui.wait_for_text(&format!("{COUNT} items waiting"));
    ui.click("Name");

    // Only the rows in sight (and a few beyond) are widgets.
    let built = built_texts(&mut ui)
        .into_iter()
        .filter(|t| t.starts_with("download-"))
        .count();
    assert!(
        (5..40).contains(&built),
        "{built} of {COUNT} rows were built: the list is not virtualised"
    );
    assert!(
        ui.shows("download-0.txt")
            && !built_texts(&mut ui).contains(&"download-250.txt".to_owned())
    );

    // Click download-3, ctrl-click download-5 (unticks it once the range
    // ticked it), shift-click download-250 far below (what the click on its
    // row sends once scrolled there).
    ui.click("download-3.txt");
    let id = |name: &str| watch.named(name).id;
    let shift = iced::keyboard::Modifiers::SHIFT;
    let ctrl = iced::keyboard::Modifiers::CTRL;
    for message in [
        Message::Keyboard(iced::keyboard::Event::ModifiersChanged(shift)),
        Message::Row(id("download-250.txt")),
        Message::Keyboard(iced::keyboard::Event::ModifiersChanged(ctrl)),
        Message::Row(id("download-5.txt")),
        Message::Keyboard(iced::keyboard::Event::ModifiersChanged(
            iced::keyboard::Modifiers::empty(),
        )),
    ] {
        ui.emulator.update(&ui.program, message);
    }
    ui.wait_for_text("247 selected");
    ui.click("Release clean to Shared");
    ui.wait_for_text("Release 247 clean items from sandbox work #1 to Shared?");
    ui.click("Release");
    ui.wait("the range released", Duration::from_secs(120), |ui| {
        ui.shows("Released 247 items to Shared")
    });

    let shared = data(&env).join("shared");
    let listed = watch.list();
    for n in 0..COUNT {
        let name = format!("download-{n}.txt");
        let expected = (3..=250).contains(&n) && n != 5;
        let item = listed.iter().find(|i| i.name == name).expect("listed");
        assert_eq!(
            (item.state.as_str(), shared.join(&name).exists()),
            if expected {
                ("released", true)
            } else {
                ("clean", false)
            },
            "{name}"
        );
        if expected {
            assert_eq!(
                std::fs::read(shared.join(&name)).ok(),
                Some(format!("item {n}\n").into_bytes())
            );
        }
    }
    ui.wait_for_text(&format!("{} items waiting", COUNT - 247));
    drop(daemon);
}

/// File names come from containers: a newline, a right-to-left override
/// that would turn `fdp.exe` round, a 255-byte name. Each row stays one
/// line of the list's row height, shows the trick instead of playing it,
/// and the rows after them are where they should be.
#[test]
fn hostile_file_names_stay_one_line_and_do_not_break_the_list() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env);
    let inbox = downloads(&env);
    // 250 bytes: with the browser's `.part` while it downloads, the most a name holds.
    let long = format!("{}.txt", "x".repeat(246));
    let names = [
        "a-first.txt".to_owned(),
        "b-line\nbreak.txt".to_owned(),
        "c-invoice_\u{202E}fdp.exe".to_owned(),
        long.clone(),
        "z-last.txt".to_owned(),
    ];
    for name in &names {
        drop_file(&inbox, name, b"harmless\n");
    }
    let daemon = Daemon::start(&env);
    let mut ui = Ui::new(panel::application(panel_config(&env)));
    ui.wait(
        "all five listed and scanned",
        Duration::from_secs(30),
        |ui| ui.shows("5 items waiting") && ui.row("z-last.txt").contains(&"clean".to_owned()),
    );
    ui.click("Name");
    let shown = [
        "a-first.txt".to_owned(),
        "b-line\u{FFFD}break.txt".to_owned(),
        "c-invoice_\u{FFFD}fdp.exe".to_owned(),
        format!("{}…", "x".repeat(panel::names::MAX_CHARS)),
        "z-last.txt".to_owned(),
    ];
    let texts = ui.texts();
    let at = |name: &str| {
        texts
            .iter()
            .find(|s| s.text == name)
            .unwrap_or_else(|| {
                panic!(
                    "{name:?} is not shown; the window shows {:?}",
                    texts.iter().map(|s| &s.text).collect::<Vec<_>>()
                )
            })
            .bounds
    };
    for name in &names {
        assert!(
            !texts
                .iter()
                .any(|s| &s.text == name && name != "a-first.txt" && name != "z-last.txt"),
            "{name:?} is drawn raw"
        );
    }
    let first = at(&shown[0]);
    for (n, name) in shown.iter().enumerate() {
        let b = at(name);
        assert!(
            b.height < 30.0,
            "{name:?} takes {} px: more than one line",
            b.height
        );
        let expected = first.y + (n as u32 * panel::window::ROW_HEIGHT) as f32;
        assert!(
            (b.y - expected).abs() < 1.0,
            "{name:?} is at y {} instead of {expected}: a row above it grew",
            b.y
        );
    }
    // The trick's row still has its columns, and the list its other rows.
    assert!(
        ui.row(&shown[2]).contains(&"clean".to_owned()),
        "{:?}",
        ui.row(&shown[2])
    );
    assert!(ui.row("z-last.txt").contains(&"clean".to_owned()));
    drop(daemon);
}

/// Ticked items held with one click (the daemon records it), then deleted
/// with one question: exactly those, and the others stay waiting.
#[test]
fn ticked_items_are_held_then_deleted_with_one_question() {
    use zion_panel::Message;
    const COUNT: usize = 20;
    let (env, daemon, watch) = many_downloads(COUNT);
    let mut ui = Ui::new(panel::application(panel_config(&env)));
    ui.wait_for_text(&format!("{COUNT} items waiting"));
    ui.click("Name");
    ui.click("download-4.txt");
    ui.emulator.update(
        &ui.program,
        Message::Keyboard(iced::keyboard::Event::ModifiersChanged(
            iced::keyboard::Modifiers::SHIFT,
        )),
    );
    ui.click("download-8.txt");
    ui.wait_for_text("5 selected");

    ui.click("Hold");
    ui.wait_for_text("Held 5 items");
    let picked = |n: usize| (4..=8).contains(&n);
    for n in 0..COUNT {
        let item = watch.named(&format!("download-{n}.txt"));
        assert_eq!(item.held, picked(n), "download-{n}.txt held");
    }

    ui.click("Delete selected");
    ui.wait_for_text(
        "Delete 5 selected items from sandbox work #1? They are removed from the quarantine \
         and cannot be recovered.",
    );
    for n in 0..COUNT {
        assert_eq!(
            watch.named(&format!("download-{n}.txt")).state,
            "clean",
            "nothing before the yes"
        );
    }
    ui.click("Delete");
    ui.wait_for_text("Deleted 5 items");
    for n in 0..COUNT {
        let item = watch.named(&format!("download-{n}.txt"));
        let expected = if picked(n) { "deleted" } else { "clean" };
        assert_eq!(item.state, expected, "download-{n}.txt");
    }
    ui.wait_for_text(&format!("{} items waiting", COUNT - 5));
    drop(daemon);
}

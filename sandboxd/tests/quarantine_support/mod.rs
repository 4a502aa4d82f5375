//! Shared by the quarantine tests: zion-sandboxd started with `--no-profiles`
//! in a test environment, the real scan worker and default rules, and files
//! dropped into a profile's outbox the way a browser saves them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use zion_tests::TestEnv;

pub const DAEMON: &str = env!("CARGO_BIN_EXE_zion-sandboxd");
/// zionctl, built beside the daemon (its own crate since issue 14).
pub fn zionctl_bin() -> std::path::PathBuf {
    zion_tests::sibling_bin(
        env!("CARGO_BIN_EXE_zion-sandboxd"),
        "zionctl",
        "ZION_ZIONCTL",
    )
}

/// The EICAR anti-virus test file (68 bytes).
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The scan worker: `$ZION_SCAN_WORKER`, else the one built beside the daemon
/// (`cargo build -p zion-scanner --bins`).
pub fn scan_worker() -> PathBuf {
    if let Some(worker) = std::env::var_os("ZION_SCAN_WORKER") {
        return worker.into();
    }
    let worker = Path::new(DAEMON).with_file_name("zion-scan-worker");
    assert!(
        worker.exists(),
        "{} is missing: build it first with `cargo build -p zion-scanner --bins` (make test does)",
        worker.display()
    );
    worker
}

/// The default rule set shipped in session-files.
pub fn default_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../session-files/rules")
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// zion.toml with one profile, `work`, and the given `[quarantine]` lines.
pub fn write_config(env: &TestEnv, quarantine: &str) {
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    let text = format!("[[profile]]\nname = \"work\"\n\n[quarantine]\n{quarantine}\n");
    std::fs::write(dir.join("zion.toml"), text).expect("zion.toml");
}

/// `$XDG_DATA_HOME/zion`.
pub fn data(env: &TestEnv) -> PathBuf {
    env.xdg.data.join("zion")
}

/// The `work` profile's outbox, an inbox of the quarantine.
pub fn outbox(env: &TestEnv) -> PathBuf {
    data(env).join("quarantine/inbox/profile-work")
}

/// `[quarantine]` lines that make work's outbox wait for the user like a
/// download does (the default rule releases clean files to Shared).
pub const REVIEW_OUTBOX: &str = "[quarantine.transfers]\n\"work -> shared\" = \"review\"\n";

/// A browser sandbox's download folder, an inbox of the quarantine
/// (created here, as the daemon will when it opens a sandbox).
pub fn downloads(env: &TestEnv) -> PathBuf {
    let dir = data(env).join("quarantine/inbox/sandbox-work-1");
    std::fs::create_dir_all(&dir).expect("download folder");
    dir
}

/// Saves a file as a browser does: written under `.part`, then renamed.
pub fn drop_file(dir: &Path, name: &str, bytes: &[u8]) {
    let partial = dir.join(format!("{name}.part"));
    std::fs::write(&partial, bytes).expect("write the download");
    std::fs::rename(&partial, dir.join(name)).expect("rename the download");
}

/// The daemon, its log collected.
pub struct Daemon {
    pub child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// Set once everything the daemon wrote has been read.
    drained: Arc<AtomicBool>,
}

impl Daemon {
    /// Starts `zion-sandboxd --no-profiles` and waits until the quarantine is ready.
    pub fn start(env: &TestEnv) -> Daemon {
        let daemon = Daemon::spawn(env);
        daemon.wait_for_log("quarantine ready", Duration::from_secs(20));
        daemon
    }

    /// Starts it without waiting.
    pub fn spawn(env: &TestEnv) -> Daemon {
        let mut command = env.command(DAEMON);
        command
            .arg("--no-profiles")
            .env("ZION_SCAN_WORKER", scan_worker())
            .env("ZION_RULES", default_rules())
            .env("RUST_LOG", "info");
        Daemon::from_command(command)
    }

    /// Runs `command` (a zion-sandboxd), collecting what it logs.
    pub fn from_command(mut command: std::process::Command) -> Daemon {
        let mut child = command
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zion-sandboxd starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let (sink, drained) = (log.clone(), Arc::new(AtomicBool::new(false)));
        let done = Arc::clone(&drained);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
            done.store(true, Ordering::Release);
        });
        Daemon {
            child,
            log,
            drained,
        }
    }

    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "no `{needle}` from zion-sandboxd within {timeout:?}; it said:\n{}\nits threads wait in:\n{}",
            self.log(),
            self.threads()
        );
    }

    /// Each thread's name and the kernel function it sleeps in (for a hang's report).
    pub fn threads(&self) -> String {
        let dir = PathBuf::from(format!("/proc/{}/task", self.child.id()));
        let Ok(tasks) = std::fs::read_dir(&dir) else {
            return "(gone)".into();
        };
        let mut out = Vec::new();
        for task in tasks.filter_map(Result::ok) {
            let read = |f: &str| std::fs::read_to_string(task.path().join(f)).unwrap_or_default();
            out.push(format!(
                "{} {} {}",
                read("comm").trim(),
                read("wchan").trim(),
                read("stack")
                    .lines()
                    .take(4)
                    .collect::<Vec<_>>()
                    .join(" < ")
            ));
        }
        out.join("\n")
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Its last lines are still in the pipe: read them (a child of its
        // that holds the pipe open a little longer is not waited for long).
        let start = Instant::now();
        while !self.drained.load(Ordering::Acquire) && start.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `f` until it gives `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// One received notification: app name, summary, body, urgency.
pub type Received = (String, String, String, u8);

/// A desktop notification server, as the user's desktop runs one: owns
/// `org.freedesktop.Notifications` on the test's bus and keeps what it is
/// sent.
#[derive(Clone, Default)]
pub struct NotificationServer {
    /// What it was sent, in order.
    pub received: Arc<Mutex<Vec<Received>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints
            .get("urgency")
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(255);
        let mut received = self.received.lock().unwrap_or_else(|p| p.into_inner());
        received.push((app_name, summary, body, urgency));
        received.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("zion-test".into(), "zion".into(), "1".into(), "1.2".into())
    }
}

impl NotificationServer {
    /// Serves on the test bus; keep the connection.
    pub async fn start(env: &TestEnv) -> (NotificationServer, zbus::Connection) {
        let server = NotificationServer::default();
        let conn = zbus::connection::Builder::address(env.dbus().address())
            .expect("address")
            .name("org.freedesktop.Notifications")
            .expect("name")
            .serve_at("/org/freedesktop/Notifications", server.clone())
            .expect("serve")
            .build()
            .await
            .expect("the notification server is on the bus");
        (server, conn)
    }

    /// Waits for a notification whose summary or body contains `needle`.
    pub async fn wait_for(&self, needle: &str) -> Received {
        let received = self.received.clone();
        eventually(
            &format!("a notification about {needle:?}"),
            Duration::from_secs(10),
            || {
                let found = received
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .find(|n| n.1.contains(needle) || n.2.contains(needle))
                    .cloned();
                async move { found }
            },
        )
        .await
    }
}

/// `zionctl args` in `env`: its success, standard output and error.
pub fn zionctl(env: &TestEnv, args: &[&str]) -> (bool, String, String) {
    let out = env
        .command(zionctl_bin())
        .args(args)
        .output()
        .expect("zionctl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A connection to `env`'s bus and the quarantine's proxy on it.
pub async fn connect_quarantine(
    env: &TestEnv,
) -> (zbus::Connection, zion_bus::Quarantine1Proxy<'static>) {
    let bus = env.dbus().connect().await.expect("bus");
    let proxy = zion_bus::Quarantine1Proxy::new(&bus).await.expect("proxy");
    (bus, proxy)
}

/// Items by name once every one of `names` has a verdict (within `timeout`).
pub async fn verdicts_within(
    proxy: &zion_bus::Quarantine1Proxy<'_>,
    names: &[&str],
    timeout: Duration,
) -> std::collections::HashMap<String, zion_bus::quarantine::ItemInfo> {
    eventually("verdicts for every dropped file", timeout, || async {
        let items = proxy.list().await.ok()?;
        let by_name: std::collections::HashMap<String, zion_bus::quarantine::ItemInfo> =
            items.into_iter().map(|i| (i.name.clone(), i)).collect();
        names
            .iter()
            .all(|n| by_name.get(*n).is_some_and(|i| !i.verdict.is_empty()))
            .then_some(by_name)
    })
    .await
}

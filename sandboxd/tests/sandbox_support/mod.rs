//! What the disposable-browser tests share: the configuration, the daemon
//! with its pool, a file server standing for the internet, and looks inside
//! a sandbox.

#![allow(dead_code)]

use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::internet_support::{serve, Internet, Reply};
use crate::quarantine_support::{default_rules, eventually, scan_worker, Daemon, DAEMON, EICAR};
use zion_bus::quarantine::ItemInfo;
use zion_bus::Quarantine1Proxy;
use zion_sandboxd::sandbox::dbus::Sandbox1Proxy;
use zion_tests::TestEnv;

pub const TIMEOUT: Duration = Duration::from_secs(90);

/// `work`, allowed the network (its sandboxes reach the test's server
/// through Podman's bridge), in the base image; the sandboxes use the
/// browser image given to the daemon.
pub fn write_config(env: &TestEnv, image: &str) {
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    let text = format!(
        "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{image}\"\nnetwork = \"full\"\nmemory = \"256MiB\"\n"
    );
    std::fs::write(dir.join("zion.toml"), text).expect("zion.toml");
}

/// zion-sandboxd with its profiles, the real scan worker and rules, the
/// browser image `browser` and a warm pool of one.
pub fn start_daemon(env: &TestEnv, browser: &str) -> Daemon {
    let mut command = env.command(DAEMON);
    command
        .env("ZION_SCAN_WORKER", scan_worker())
        .env("ZION_RULES", default_rules())
        .env("ZION_BROWSER_IMAGE", browser)
        .env("ZION_SANDBOX_POOL", "1")
        .env("RUST_LOG", "info,zion_sandboxd::sandbox=debug");
    Daemon::from_command(command)
}

/// A file server on `ip`: `/report.bin` (random bytes) and `/eicar.com`,
/// both as attachments. Returns the port; the paths requested are recorded.
pub fn serve_files(internet: &Internet, report: Vec<u8>) -> (u16, Arc<Mutex<Vec<String>>>) {
    serve(internet, move |path| {
        let (status, name, body): (&str, &str, &[u8]) = match path {
            "/report.bin" => ("200 OK", "report.bin", &report),
            "/eicar.com" => ("200 OK", "eicar.com", EICAR),
            _ => ("404 Not Found", "", b"not here"),
        };
        let headers = if name.is_empty() {
            String::new()
        } else {
            format!("Content-Disposition: attachment; filename=\"{name}\"\r\n")
        };
        Reply {
            status,
            headers,
            content_type: "application/octet-stream",
            body: body.to_vec(),
        }
    })
}

/// Runs `script` with sh inside sandbox `id`'s container.
pub fn in_sandbox(env: &TestEnv, id: &str, script: &str) -> Output {
    env.podman()
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

pub fn sandbox_containers(env: &TestEnv, id: &str) -> String {
    let out = env
        .podman()
        .cli()
        .args([
            "ps",
            "--all",
            "--format",
            "{{.Names}} {{.State}}",
            "--filter",
            &format!("label=org.zionos.sandbox={id}"),
        ])
        .output()
        .expect("podman ps");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits for the item `name` from `source` to be scanned; on timeout, fails
/// with what `explain` says of the situation.
pub async fn item(
    proxy: &Quarantine1Proxy<'_>,
    name: &str,
    source: &str,
    explain: impl Fn() -> String,
) -> ItemInfo {
    let start = Instant::now();
    loop {
        let items = proxy.list().await.unwrap_or_default();
        let mine: Vec<ItemInfo> = items
            .iter()
            .filter(|i| i.name == name && i.source == source)
            .cloned()
            .collect();
        assert!(mine.len() <= 1, "one download, one item: {mine:#?}");
        if let Some(found) = mine.into_iter().find(|i| !i.verdict.is_empty()) {
            return found;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{name} from {source} not scanned within {TIMEOUT:?}; the quarantine holds {items:#?}\n{}",
            explain()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connection to the test's bus, and Quarantine1 and Sandbox1 on it once
/// the daemon answers both.
pub async fn on_the_bus(
    env: &TestEnv,
) -> (
    zbus::Connection,
    Quarantine1Proxy<'static>,
    Sandbox1Proxy<'static>,
) {
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
    (bus, quarantine, sandboxes)
}

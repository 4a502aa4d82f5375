//! Files crossing between profiles, end to end: zion-sandboxd with its
//! profile containers on the harness's private Podman, the quarantine on a
//! private bus with the real scan worker and rules, and files written from
//! inside the containers.

mod quarantine_support;

use std::process::{Output, Stdio};
use std::time::Duration;

use quarantine_support::{default_rules, eventually, scan_worker, zionctl_bin, DAEMON, EICAR};
use zion_bus::quarantine::ItemInfo;
use zion_bus::Quarantine1Proxy;
use zion_tests::{TestEnv, TestImage};

const TIMEOUT: Duration = Duration::from_secs(60);

/// work and personal, with personal → work denied; the rest is the defaults
/// (work → personal `review`, anything → Shared `scan`).
fn write_config(env: &TestEnv, image: &str) {
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    let profile = |name: &str, colour: &str, key: u8| {
        format!(
            "[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\nnetwork = \"none\"\nmemory = \"256MiB\"\nhotkey = \"Super+{key}\"\n\n"
        )
    };
    let text = profile("work", "#3465a4", 1)
        + &profile("personal", "#4e9a06", 2)
        + "[quarantine.transfers]\n\"personal -> work\" = \"deny\"\n";
    std::fs::write(dir.join("zion.toml"), text).expect("zion.toml");
}

/// The daemon with its profiles; killed when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `script` with sh inside `profile`'s container, `vars` in its environment.
fn in_profile(env: &TestEnv, profile: &str, script: &str, vars: &[(&str, &str)]) -> Output {
    let mut cmd = env.podman().cli();
    cmd.arg("exec");
    for (k, v) in vars {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.args([&format!("zion-{profile}"), "sh", "-c", script])
        .output()
        .expect("podman exec")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn item_named(
    proxy: &Quarantine1Proxy<'_>,
    name: &str,
    done: fn(&ItemInfo) -> bool,
) -> ItemInfo {
    eventually(&format!("item {name}"), TIMEOUT, || async {
        let items = proxy.list().await.ok()?;
        items.into_iter().find(|i| i.name == name && done(i))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_cross_profiles_only_through_the_quarantine_and_its_pair_rules() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    write_config(&env, &image);
    let _daemon = Daemon(
        env.command(DAEMON)
            .env("ZION_SCAN_WORKER", scan_worker())
            .env("ZION_RULES", default_rules())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("zion-sandboxd starts"),
    );
    let bus = env.dbus().connect().await.expect("bus");
    let proxy = eventually("the daemon on the bus", TIMEOUT, || async {
        let p = Quarantine1Proxy::new(&bus).await.ok()?;
        p.list().await.ok().map(|_| p)
    })
    .await;
    eventually("both profiles running", TIMEOUT, || async {
        let ok = ["work", "personal"]
            .iter()
            .all(|p| in_profile(&env, p, "true", &[]).status.success());
        ok.then_some(())
    })
    .await;

    // Shared is read-only from inside every profile.
    let out = in_profile(&env, "personal", "echo x > /home/zion/Shared/x", &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{out:?}"
    );

    // work → Shared: scanned, then released and readable, byte for byte, in personal.
    let written = in_profile(
        &env,
        "work",
        "head -c 300000 /dev/urandom > /tmp/r && cp /tmp/r /home/zion/Outbox/report.bin && sha256sum /tmp/r | cut -d' ' -f1",
        &[],
    );
    assert!(written.status.success(), "{written:?}");
    let sha = stdout(&written);
    let released = item_named(&proxy, "report.bin", |i| i.state == "released").await;
    assert_eq!(released.sha256, sha);
    assert_eq!(released.source, "profile:work");
    let seen = in_profile(
        &env,
        "personal",
        "sha256sum /home/zion/Shared/report.bin | cut -d' ' -f1",
        &[],
    );
    assert_eq!(stdout(&seen), sha, "{seen:?}");

    // The EICAR file in an outbox ends infected and reaches no profile.
    let out = in_profile(
        &env,
        "work",
        "printf %s \"$EICAR\" > /home/zion/Outbox/eicar.com",
        &[("EICAR", std::str::from_utf8(EICAR).expect("ascii"))],
    );
    assert!(out.status.success(), "{out:?}");
    let infected = item_named(&proxy, "eicar.com", |i| !i.verdict.is_empty()).await;
    assert_eq!(infected.state, "infected");
    let listing = in_profile(&env, "personal", "ls -A /home/zion/Shared", &[]);
    assert!(!stdout(&listing).contains("eicar"), "{listing:?}");

    // work → personal is `review`: clean, but it waits for the user.
    let out = in_profile(
        &env,
        "work",
        "echo 'for personal' > /home/zion/Outbox/personal/notes.txt",
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let waiting = item_named(&proxy, "notes.txt", |i| i.state == "clean").await;
    assert!(
        waiting.detail.contains("waits for your decision"),
        "{waiting:?}"
    );
    assert_eq!(waiting.destination, "profile:personal/incoming:work");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(proxy.get(waiting.id).await.expect("get").state, "clean");
    let out = env
        .command(zionctl_bin())
        .args([
            "quarantine",
            "release",
            &waiting.id.to_string(),
            "profile:personal",
        ])
        .output()
        .expect("zionctl");
    assert!(out.status.success(), "{out:?}");
    let got = in_profile(
        &env,
        "personal",
        "cat /home/zion/Incoming/work/notes.txt",
        &[],
    );
    assert_eq!(stdout(&got), "for personal", "{got:?}");
    let work_side = in_profile(&env, "work", "ls -A /home/zion", &[]);
    assert!(!stdout(&work_side).contains("Incoming"), "{work_side:?}");

    // personal → work is denied: the file stays, and the user cannot release it either.
    let out = in_profile(
        &env,
        "personal",
        "echo secret > /home/zion/Outbox/work/secret.txt",
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let denied = item_named(&proxy, "secret.txt", |i| i.state == "clean").await;
    assert!(denied.detail.contains("denied"), "{denied:?}");
    let out = env
        .command(zionctl_bin())
        .args([
            "quarantine",
            "release",
            &denied.id.to_string(),
            "profile:work",
        ])
        .output()
        .expect("zionctl");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("personal -> work"), "{said}");
    assert_eq!(proxy.get(denied.id).await.expect("get").state, "clean");
    let absent = in_profile(&env, "work", "ls -A /home/zion/Incoming 2>/dev/null", &[]);
    assert!(!stdout(&absent).contains("personal"), "{absent:?}");
}

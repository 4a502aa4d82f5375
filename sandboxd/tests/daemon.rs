//! zion-sandboxd as a process, against the harness's private Podman.

mod daemon_support;

use std::time::{Duration, Instant};

use daemon_support::{podman_states, Daemon, DAEMON};
use zion_tests::{TestEnv, TestImage};

fn write_config(env: &TestEnv, image: &str) -> std::path::PathBuf {
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    let file = dir.join("zion.toml");
    let profile = |name: &str, colour: &str, key: u8| {
        format!(
            "[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\nnetwork = \"none\"\nmemory = \"256MiB\"\nhotkey = \"Super+{key}\"\n\n"
        )
    };
    let autostart = "autostart = [[\"sh\", \"-c\", \"echo $ZION_PROFILE >> ~/autostarted\"]]\n\n";
    let text = profile("work", "#3465a4", 1).trim_end().to_owned()
        + "\n"
        + autostart
        + &profile("personal", "#4e9a06", 2);
    std::fs::write(&file, text).expect("config");
    file
}

#[test]
fn daemon_brings_profiles_up_adopts_them_after_a_crash_and_stops_them_on_sigterm() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    write_config(&env, &image);

    let mut first = Daemon::start(&env);
    first.wait_for("session up", Duration::from_secs(60));
    assert_eq!(
        podman_states(&env),
        vec!["zion-personal running", "zion-work running"]
    );
    assert!(
        env.xdg.data.join("zion/profiles/work/home").is_dir(),
        "private home made"
    );
    assert!(
        env.xdg.runtime.join("zion/work").is_dir(),
        "socket folder made"
    );

    // Autostart apps ran once, in their profile's session.
    let autostarted = env.xdg.data.join("zion/profiles/work/home/autostarted");
    let start = Instant::now();
    while std::fs::read_to_string(&autostarted).unwrap_or_default() != "work\n" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "autostart app ran in work"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!env
        .xdg
        .data
        .join("zion/profiles/personal/home/autostarted")
        .exists());

    // A crash leaves the sessions running; the next start adopts them.
    first.signal(rustix::process::Signal::KILL);
    drop(first);
    let mut second = Daemon::start(&env);
    let said = second.wait_for("session up", Duration::from_secs(60));
    assert!(
        said.iter().any(|l| l.contains("profile `work`: adopted")),
        "{said:#?}"
    );
    assert_eq!(
        podman_states(&env),
        vec!["zion-personal running", "zion-work running"],
        "not doubled"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        std::fs::read_to_string(&autostarted).unwrap_or_default(),
        "work\n",
        "not started twice"
    );

    second.signal(rustix::process::Signal::TERM);
    second.wait_for("profile `work` stopped", Duration::from_secs(30));
    let start = Instant::now();
    while podman_states(&env) != vec!["zion-personal exited", "zion-work exited"] {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "profiles stop: {:?}",
            podman_states(&env)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn daemon_names_every_podman_address_it_tried_when_none_answers() {
    let env = TestEnv::new().expect("test env");
    let out = env
        .command(DAEMON)
        .env("CONTAINER_HOST", "unix:///nonexistent/podman.sock")
        .output()
        .expect("daemon runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no Podman service answers") && err.contains("/nonexistent/podman.sock"),
        "{err}"
    );
}

/// First login before any image was built: the profile's state says how
/// to build it, in Zion's words, not Podman's "no such image".
#[test]
fn a_profile_whose_image_was_never_built_says_how_to_build_it() {
    let env = TestEnv::new().expect("test env");
    write_config(&env, "localhost/zion-never-built:latest");
    let mut daemon = Daemon::start(&env);
    daemon.wait_for("zionctl image build work", Duration::from_secs(60));
    // And the user reads it where they look: the profile's status.
    let (ok, out) = zionctl(&env, &["profiles", "status", "work", "--json"]);
    assert!(ok, "{out}\ndaemon:\n{}", daemon.log());
    let status: serde_json::Value = serde_json::from_str(&out).expect("status --json is JSON");
    assert!(
        status.to_string().contains("zionctl image build work"),
        "{status}"
    );
}

#[test]
fn daemon_refuses_a_bad_config_with_file_line_and_column() {
    let env = TestEnv::new().expect("test env");
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    std::fs::write(
        dir.join("zion.toml"),
        "[[profile]]\nname = \"work\"\ncolour = \"blue-ish\"\n",
    )
    .expect("config");
    let out = env.command(DAEMON).output().expect("daemon runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zion.toml:3:"), "points at the line: {err}");
}

/// zionctl, built beside the daemon (its own crate since issue 14).
fn zionctl_bin() -> std::path::PathBuf {
    zion_tests::sibling_bin(
        env!("CARGO_BIN_EXE_zion-sandboxd"),
        "zionctl",
        "ZION_ZIONCTL",
    )
}

fn zionctl(env: &TestEnv, args: &[&str]) -> (bool, String) {
    let out = env
        .command(zionctl_bin())
        .args(args)
        .output()
        .expect("zionctl runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// `zionctl profiles status NAME --json`, parsed.
fn status_json(env: &TestEnv, name: &str) -> serde_json::Value {
    let (ok, out) = zionctl(env, &["profiles", "status", name, "--json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json is JSON ({e}): {out}"))
}

#[test]
fn profiles1_lists_hibernates_resumes_and_runs_apps_with_signals() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    write_config(&env, &image);
    let mut daemon = Daemon::start(&env);
    daemon.wait_for("session up", Duration::from_secs(60));

    let (ok, list) = zionctl(&env, &["profiles", "list"]);
    assert!(ok, "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("work") && l.contains("#3465a4") && l.ends_with("running")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("personal") && l.ends_with("running")),
        "{list}"
    );

    // A running profile reports what it uses.
    let running = status_json(&env, "work");
    assert_eq!(running["state"], "running", "{running}");
    assert!(
        running["memory_bytes"].as_u64().unwrap_or(0) > 0,
        "memory in use: {running}"
    );
    assert_eq!(running["frozen_since"], 0, "{running}");
    assert!(running["started_at"].as_u64().unwrap_or(0) > 0, "{running}");
    let (ok, json) = zionctl(&env, &["profiles", "list", "--json"]);
    assert!(ok, "{json}");
    let list: serde_json::Value = serde_json::from_str(&json).expect("list --json is JSON");
    assert_eq!(list[0]["name"], "work", "{list}");
    assert_eq!(list[0]["state"], "running", "{list}");

    // Watch for StateChanged on the bus while hibernating.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _in_runtime = rt.enter();
    let (bus, mut signals) = rt.block_on(async {
        let bus = env.dbus().connect().await.expect("bus");
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("org.zionos.Profiles1")
            .expect("rule")
            .member("StateChanged")
            .expect("rule")
            .build();
        let stream = zbus::MessageStream::for_match_rule(rule, &bus, None)
            .await
            .expect("match");
        (bus, stream)
    });
    let (ok, out) = zionctl(&env, &["profiles", "hibernate", "work"]);
    assert!(ok, "{out}");
    let (name, state): (String, String) = rt.block_on(async {
        use futures_util::StreamExt;
        let msg = tokio::time::timeout(Duration::from_secs(10), signals.next())
            .await
            .expect("a StateChanged signal")
            .expect("stream")
            .expect("message");
        msg.body().deserialize().expect("(name, state)")
    });
    assert_eq!((name.as_str(), state.as_str()), ("work", "hibernated"));
    drop(bus);
    let (ok, status) = zionctl(&env, &["profiles", "status", "work"]);
    assert!(ok, "{status}");
    assert_eq!(status.lines().next(), Some("work: hibernated"), "{status}");
    assert!(status.contains("frozen since"), "{status}");
    let frozen = status_json(&env, "work");
    assert_eq!(frozen["state"], "hibernated", "{frozen}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let since = frozen["frozen_since"].as_u64().unwrap_or(0);
    assert!(
        since > 0 && since <= now && now - since < 60,
        "frozen since just now: {frozen}"
    );

    let (ok, out) = zionctl(&env, &["profiles", "run", "work", "true"]);
    assert!(
        !ok && out.contains("frozen"),
        "a hibernated profile says so: {out}"
    );
    let (ok, out) = zionctl(&env, &["profiles", "resume", "work"]);
    assert!(ok, "{out}");
    let (ok, out) = zionctl(
        &env,
        &[
            "profiles",
            "run",
            "work",
            "sh",
            "-c",
            "echo from-work > ~/ran",
        ],
    );
    assert!(ok, "{out}");
    let ran = env.xdg.data.join("zion/profiles/work/home/ran");
    let start = Instant::now();
    while std::fs::read_to_string(&ran).unwrap_or_default().trim() != "from-work" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the app ran in the work profile"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let (ok, out) = zionctl(&env, &["profiles", "hibernate", "nosuch"]);
    assert!(!ok && out.contains("no profile `nosuch`"), "{out}");
}

/// A desktop notification daemon on the test bus that keeps what it is told.
#[derive(Default, Clone)]
struct Notifications {
    shown: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: &str,
        _replaces_id: u32,
        _app_icon: &str,
        summary: &str,
        body: &str,
        _actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        shown.push((summary.to_owned(), body.to_owned()));
        shown.len() as u32
    }
}

fn started_at(env: &TestEnv, container: &str) -> String {
    let out = env
        .podman()
        .cli()
        .args(["inspect", "--format", "{{.State.StartedAt}}", container])
        .output()
        .expect("podman inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn podman_kill(env: &TestEnv, container: &str) {
    let out = env
        .podman()
        .cli()
        .args(["kill", container])
        .output()
        .expect("podman kill");
    assert!(
        out.status.success(),
        "podman kill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits for a Profiles1 signal named `member` whose (name, second) body
/// matches; returns the whole body as strings.
async fn profile_signal(
    stream: &mut zbus::MessageStream,
    member: &str,
    profile: &str,
    timeout: Duration,
) -> Vec<String> {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut others = Vec::new();
    loop {
        let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, stream.next()).await else {
            panic!("no {member} signal for {profile} within {timeout:?}; saw {others:#?}");
        };
        let header = msg.header();
        let name = header.member().map(|m| m.to_string()).unwrap_or_default();
        let body: Vec<String> = match name.as_str() {
            "Died" => {
                let (a, b, c): (String, String, String) = msg.body().deserialize().expect("body");
                vec![a, b, c]
            }
            "StateChanged" => {
                let (a, b): (String, String) = msg.body().deserialize().expect("body");
                vec![a, b]
            }
            _ => vec![],
        };
        if name == member && body.first().map(String::as_str) == Some(profile) {
            return body;
        }
        others.push(format!("{name}{body:?}"));
    }
}

#[test]
fn a_killed_profile_is_reported_and_restarted_per_its_policy() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    let file = write_config(&env, &image);
    // personal never restarts; work keeps the default (on-failure).
    let text = std::fs::read_to_string(&file).expect("config") + "restart = \"never\"\n";
    std::fs::write(&file, text).expect("config");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _in_runtime = rt.enter();
    let notifications = Notifications::default();
    let (_notifier, bus, mut signals) = rt.block_on(async {
        let notifier = zbus::connection::Builder::address(env.dbus().address())
            .expect("address")
            .name("org.freedesktop.Notifications")
            .expect("name")
            .serve_at("/org/freedesktop/Notifications", notifications.clone())
            .expect("serve")
            .build()
            .await
            .expect("notification daemon");
        let bus = env.dbus().connect().await.expect("bus");
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("org.zionos.Profiles1")
            .expect("rule")
            .build();
        let stream = zbus::MessageStream::for_match_rule(rule, &bus, None)
            .await
            .expect("match");
        (notifier, bus, stream)
    });
    let mut daemon = Daemon::start(&env);
    daemon.wait_for("session up", Duration::from_secs(60));
    let first_start = started_at(&env, "zion-work");

    // Killed from outside: noticed, told, started again.
    let killed = Instant::now();
    podman_kill(&env, "zion-work");
    let died = rt.block_on(profile_signal(
        &mut signals,
        "Died",
        "work",
        Duration::from_secs(10),
    ));
    let noticed = killed.elapsed();
    assert!(died[1].contains("SIGKILL"), "the reason: {died:?}");
    assert!(died[2].contains("restarting"), "the outcome: {died:?}");
    loop {
        let changed = rt.block_on(profile_signal(
            &mut signals,
            "StateChanged",
            "work",
            Duration::from_secs(20),
        ));
        if changed[1] == "running" {
            break;
        }
        assert_eq!(changed[1], "dead", "{changed:?}");
    }
    println!(
        "kill → Died in {noticed:?}, → running again in {:?}",
        killed.elapsed()
    );
    assert!(podman_states(&env).contains(&"zion-work running".to_owned()));
    assert_ne!(started_at(&env, "zion-work"), first_start, "a new start");
    let start = Instant::now();
    while notifications
        .shown
        .lock()
        .map(|s| s.is_empty())
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "a desktop notification"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let shown = notifications.shown.lock().expect("shown")[0].clone();
    assert!(
        shown.0.contains("work") && shown.1.contains("SIGKILL"),
        "{shown:?}"
    );

    // restart = "never": it stays down and says why.
    podman_kill(&env, "zion-personal");
    let died = rt.block_on(profile_signal(
        &mut signals,
        "Died",
        "personal",
        Duration::from_secs(10),
    ));
    assert!(died[2].contains("stays down"), "{died:?}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(podman_states(&env).contains(&"zion-personal exited".to_owned()));
    let (ok, status) = zionctl(&env, &["profiles", "status", "personal"]);
    assert!(ok, "{status}");
    assert_eq!(status.lines().next(), Some("personal: dead"), "{status}");
    assert!(
        status.contains("SIGKILL") && status.contains("restart = \"never\""),
        "status says why: {status}"
    );

    // Dying again and again: restarted up to the limit, then given up.
    for round in 2..=4 {
        podman_kill(&env, "zion-work");
        let died = rt.block_on(profile_signal(
            &mut signals,
            "Died",
            "work",
            Duration::from_secs(10),
        ));
        if round < 4 {
            assert!(died[2].contains("restarting"), "round {round}: {died:?}");
            let start = Instant::now();
            while !podman_states(&env).contains(&"zion-work running".to_owned()) {
                assert!(start.elapsed() < Duration::from_secs(20), "round {round}");
                std::thread::sleep(Duration::from_millis(100));
            }
        } else {
            assert!(died[2].contains("stays down"), "given up: {died:?}");
        }
    }
    let (_, status) = zionctl(&env, &["profiles", "status", "work"]);
    assert_eq!(status.lines().next(), Some("work: failed"), "{status}");

    // A stop asked by the user is no death.
    let (ok, out) = zionctl(&env, &["profiles", "start", "work"]);
    assert!(ok, "{out}");
    let (ok, out) = zionctl(&env, &["profiles", "stop", "work"]);
    assert!(ok, "{out}");
    std::thread::sleep(Duration::from_secs(3));
    let (_, status) = zionctl(&env, &["profiles", "status", "work"]);
    assert_eq!(status.lines().next(), Some("work: stopped"), "{status}");
    let deaths = rt.block_on(async {
        let mut deaths = Vec::new();
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(
            Duration::from_millis(200),
            futures_util::StreamExt::next(&mut signals),
        )
        .await
        {
            if msg.header().member().is_some_and(|m| m.as_str() == "Died") {
                deaths.push(msg);
            }
        }
        deaths
    });
    assert!(deaths.is_empty(), "no Died after a user stop: {deaths:?}");
    drop(bus);
}

#[test]
fn zionctl_prints_completions_and_a_man_page_from_its_own_definition() {
    for shell in ["bash", "zsh", "fish"] {
        let out = std::process::Command::new(zionctl_bin())
            .args(["completions", shell])
            .output()
            .expect("zionctl runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shell}: {text}");
        assert!(
            text.contains("profiles") && text.contains("hibernate"),
            "{shell} completion knows the subcommands:\n{text}"
        );
    }
    let out = std::process::Command::new(zionctl_bin())
        .arg("man")
        .output()
        .expect("zionctl runs");
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        page.starts_with(".ie") || page.contains(".TH zionctl"),
        "roff: {page}"
    );
    assert!(page.contains("profiles"), "{page}");
    let out = std::process::Command::new(zionctl_bin())
        .args(["completions", "tcsh-ish"])
        .output()
        .expect("zionctl runs");
    assert!(!out.status.success(), "an unknown shell is refused");
}

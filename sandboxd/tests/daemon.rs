//! zion-sandboxd as a process, against the harness's private Podman.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zion_tests::{TestEnv, TestImage};

const DAEMON: &str = env!("CARGO_BIN_EXE_zion-sandboxd");

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

/// The daemon, with its log lines arriving on a channel.
struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Daemon {
    fn start(env: &TestEnv) -> Daemon {
        let mut child = env
            .command(DAEMON)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zion-sandboxd starts");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Daemon { child, lines }
    }

    /// Waits for a log line containing `needle`; returns every line seen.
    fn wait_for(&self, needle: &str, timeout: Duration) -> Vec<String> {
        let start = Instant::now();
        let mut seen = Vec::new();
        while start.elapsed() < timeout {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
        }
        panic!(
            "no `{needle}` from zion-sandboxd within {timeout:?}; it said:\n{}",
            seen.join("\n")
        );
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, sig).expect("signal");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn states(env: &TestEnv) -> Vec<String> {
    let out = env
        .podman()
        .cli()
        .args([
            "ps",
            "--all",
            "--quiet",
            "--filter",
            "label=org.zionos.profile",
        ])
        .output()
        .expect("podman ps");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let out = env
        .podman()
        .cli()
        .args(["inspect", "--format", "{{.Name}} {{.State.Status}}"])
        .args(&ids)
        .output()
        .expect("podman inspect");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn daemon_brings_profiles_up_adopts_them_after_a_crash_and_stops_them_on_sigterm() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    write_config(&env, &image);

    let first = Daemon::start(&env);
    first.wait_for("session up", Duration::from_secs(60));
    assert_eq!(
        states(&env),
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
    let second = Daemon::start(&env);
    let said = second.wait_for("session up", Duration::from_secs(60));
    assert!(
        said.iter().any(|l| l.contains("profile `work`: adopted")),
        "{said:#?}"
    );
    assert_eq!(
        states(&env),
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
    while states(&env) != vec!["zion-personal exited", "zion-work exited"] {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "profiles stop: {:?}",
            states(&env)
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

const ZIONCTL: &str = env!("CARGO_BIN_EXE_zionctl");

fn zionctl(env: &TestEnv, args: &[&str]) -> (bool, String) {
    let out = env
        .command(ZIONCTL)
        .args(args)
        .output()
        .expect("zionctl runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn profiles1_lists_hibernates_resumes_and_runs_apps_with_signals() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    write_config(&env, &image);
    let daemon = Daemon::start(&env);
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
    assert_eq!(
        zionctl(&env, &["profiles", "status", "work"]).1.trim(),
        "work: hibernated"
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

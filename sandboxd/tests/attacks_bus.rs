//! Attacks on Zion's D-Bus methods (issue 18, finding 11), every part real:
//! the harness's private Podman and dbus-daemon, the real `zion-sandboxd`
//! (profiles, quarantine, sandboxes) and the headless `zion-compositor`.
//!
//! The attacker is a client on the bus that is not the session user's own
//! process on the host: a container that got the bus socket mounted in
//! (uid 0 inside, uid 0 outside too: rootful Podman without a user
//! namespace, so only the namespaces tell it apart), and a process of
//! another uid on a bus whose policy lets it connect. It calls what would
//! hurt: stop a profile, release a quarantined file, open a sandbox, switch
//! the shown desktop, have the compositor write a screenshot where it asks,
//! cover a profile or ask to uncover one.
//! Each call must come back `org.freedesktop.DBus.Error.AccessDenied` with
//! the reason, be logged, and change nothing; the same calls from the
//! session user on the host still work.
//!
//! The client is `zion-bus-call` (zion-tests), built beside the daemon and
//! mounted into the container.

mod quarantine_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use zion_bus::{Compositor1Proxy, Profiles1Proxy};

use quarantine_support::{default_rules, drop_file, eventually, outbox, scan_worker, DAEMON};
use zion_bus::Quarantine1Proxy;
use zion_sandboxd::sandbox::dbus::Sandbox1Proxy;
use zion_tests::{require, DbusBus, TestEnv, TestImage};

const WAIT: Duration = Duration::from_secs(60);
const DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";

/// A binary built beside the daemon (`make test` builds every binary first).
fn sibling(name: &str, package: &str) -> PathBuf {
    let bin = Path::new(DAEMON).with_file_name(name);
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p {package} --bins` (make test does)",
        bin.display()
    );
    bin
}

fn client() -> PathBuf {
    sibling("zion-bus-call", "zion-tests")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A child killed when the test ends, whatever its outcome.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `program` with `env`'s variables and its log in `env`'s folder.
fn logged(env: &TestEnv, program: &Path, log: &str) -> Command {
    let file = std::fs::File::create(env.root().join(log)).expect("log file");
    let mut command = env.command(program);
    command
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(file);
    command
}

fn read_log(env: &TestEnv, log: &str) -> String {
    std::fs::read_to_string(env.root().join(log)).unwrap_or_default()
}

/// A binary given by `var` (e.g. an older build, to see an attack succeed
/// on the code before a fix), else `default`.
fn chosen(var: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    std::env::var_os(var).map_or_else(default, PathBuf::from)
}

/// The headless compositor with the environment's runtime folder.
fn compositor(env: &TestEnv, bus: &str) -> Killed {
    let bin = chosen("ZION_COMPOSITOR", || {
        sibling("zion-compositor", "zion-compositor")
    });
    let mut command = logged(env, &bin, "compositor.log");
    command
        .args(["--backend", "headless", "--size", "320x240", "--no-bar"])
        .arg("--runtime-dir")
        .arg(&env.xdg.runtime)
        .env("DBUS_SESSION_BUS_ADDRESS", bus);
    Killed(command.spawn().expect("zion-compositor starts"))
}

/// The daemon with the real scan worker and rules; `args` as given.
fn daemon(env: &TestEnv, bus: &str, args: &[&str]) -> Killed {
    let bin = chosen("ZION_SANDBOXD", || PathBuf::from(DAEMON));
    let mut command = logged(env, &bin, "daemon.log");
    command
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("ZION_SANDBOX_POOL", "0")
        .env("ZION_SCAN_WORKER", scan_worker())
        .env("ZION_RULES", default_rules());
    Killed(command.spawn().expect("zion-sandboxd starts"))
}

async fn wait_for_name(conn: &zbus::Connection, name: &str, logs: impl Fn() -> String) {
    let dbus = zbus::fdo::DBusProxy::new(conn).await.expect("bus proxy");
    let end = Instant::now() + WAIT;
    let bus_name = zbus::names::BusName::try_from(name).expect("a bus name");
    while !dbus.name_has_owner(bus_name.clone()).await.unwrap_or(false) {
        assert!(Instant::now() < end, "{name} never appeared\n{}", logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One call of the attacker: service, path, method (of the service's own
/// interface) and typed arguments for `zion-bus-call`.
struct Attack {
    service: &'static str,
    method: &'static str,
    args: Vec<String>,
}

impl Attack {
    fn new(service: &'static str, method: &'static str, args: &[&str]) -> Attack {
        Attack {
            service,
            method,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn words(&self) -> Vec<String> {
        let path = format!("/{}", self.service.replace('.', "/"));
        let mut words = vec![
            self.service.to_owned(),
            path,
            self.service.to_owned(),
            self.method.to_owned(),
        ];
        words.extend(self.args.iter().cloned());
        words
    }

    fn name(&self) -> String {
        format!("{}.{}", self.service, self.method)
    }
}

/// What went wrong across the attacks: each attack that was not refused as
/// it must be, or that changed something. Collected rather than asserted
/// one by one, so that a run on unfixed code records every attack's outcome.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    /// Checks that `out` (the attacker's call) was refused with AccessDenied
    /// giving `reason`.
    fn refused(&mut self, attack: &Attack, out: &Output, reason: &str) {
        let said = text(out);
        let refused = !out.status.success()
            && said.contains(&format!("error {DENIED}"))
            && said.contains(reason);
        eprintln!("attack {}: {}", attack.name(), said.trim());
        if !refused {
            self.0.push(format!(
                "{} was not refused with {DENIED} ({reason}): {}",
                attack.name(),
                said.trim()
            ));
        }
    }

    fn check(&mut self, ok: bool, what: String) {
        if !ok {
            self.0.push(what);
        }
    }
}

fn write_config(env: &TestEnv, image: &str) {
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    let profile = |name: &str, colour: &str| {
        format!(
            "[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\nnetwork = \"none\"\nmemory = \"256MiB\"\nhibernate_after = \"never\"\n\n"
        )
    };
    let text = profile("work", "#3465a4")
        + &profile("personal", "#4e9a06")
        + "[quarantine.transfers]\n\"work -> shared\" = \"review\"\n";
    std::fs::write(dir.join("zion.toml"), text).expect("zion.toml");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_with_the_session_bus_is_refused_every_zion_method_and_changes_nothing() {
    let env = TestEnv::new().expect("test environment");
    let image = env.image(TestImage::Base).expect("the base test image");
    write_config(&env, &image);
    let bus = env.dbus().address().to_owned();
    let conn = env.dbus().connect().await.expect("the private bus");
    let logs = || {
        format!(
            "--- zion-sandboxd:\n{}\n--- zion-compositor:\n{}",
            read_log(&env, "daemon.log"),
            read_log(&env, "compositor.log")
        )
    };
    let _compositor = compositor(&env, &bus);
    wait_for_name(&conn, "org.zionos.Compositor1", logs).await;
    let _daemon = daemon(&env, &bus, &[]);
    wait_for_name(&conn, "org.zionos.Profiles1", logs).await;
    wait_for_name(&conn, "org.zionos.Quarantine1", logs).await;
    let profiles = Profiles1Proxy::new(&conn).await.expect("profiles proxy");
    let state = |name: &'static str| {
        let profiles = profiles.clone();
        async move {
            profiles
                .status(name)
                .await
                .map(|s| s.state)
                .unwrap_or_else(|e| format!("unknown ({e})"))
        }
    };
    for name in ["work", "personal"] {
        eventually(&format!("{name} running"), WAIT, || async {
            (state(name).await == "running").then_some(())
        })
        .await;
    }

    // A clean file from work waits in the quarantine for the user.
    let quarantine = Quarantine1Proxy::new(&conn)
        .await
        .expect("quarantine proxy");
    drop_file(&outbox(&env), "notes.txt", b"the plan for Monday\n");
    let item = eventually("notes.txt scanned", WAIT, || async {
        let items = quarantine.list().await.ok()?;
        items
            .into_iter()
            .find(|i| i.name == "notes.txt" && i.state == "clean")
    })
    .await;

    let shown = Compositor1Proxy::builder(&conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("compositor proxy");
    let active = shown.active_desktop().await.expect("ActiveDesktop");
    let other = if active == "work" { "personal" } else { "work" };

    // The attacker: a container of the test's Podman with the bus socket
    // and the client mounted in.
    let socket = env.root().join("dbus/bus");
    let started = env
        .podman()
        .cli()
        .args(["run", "-d", "--name", "attacker", "--network", "none"])
        .arg("-v")
        .arg(format!("{}:/run/zion-bus", socket.display()))
        .arg("-v")
        .arg(format!(
            "{}:/usr/local/bin/zion-bus-call:ro",
            client().display()
        ))
        .args(["-e", "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/zion-bus"])
        .arg(&image)
        .args(["sleep", "infinity"])
        .output()
        .expect("podman run");
    assert!(started.status.success(), "{}", text(&started));
    let in_container = |attack: &Attack| {
        env.podman()
            .cli()
            .args(["exec", "attacker", "zion-bus-call"])
            .args(attack.words())
            .output()
            .expect("podman exec")
    };
    // It reaches the bus: the bus itself answers it.
    let ping = in_container(&Attack::new("org.freedesktop.DBus", "GetId", &[]));
    assert!(
        ping.status.success(),
        "the container cannot reach the bus at all, so it proves nothing: {}",
        text(&ping)
    );

    let mut findings = Findings::default();
    let namespace = "namespace than this service";
    let shot = env.root().join("attack.png");
    let shot_arg = format!("s:{}", shot.display());
    let sandbox_socket = env.xdg.runtime.join("zion/sandboxes/work/attack/wayland-0");
    let id = format!("t:{}", item.id);

    let attack = Attack::new("org.zionos.Profiles1", "Stop", &["s:work"]);
    findings.refused(&attack, &in_container(&attack), namespace);
    let now = state("work").await;
    findings.check(
        now == "running",
        format!("work is {now} after {}", attack.name()),
    );

    let attack = Attack::new("org.zionos.Profiles1", "Hibernate", &["s:personal"]);
    findings.refused(&attack, &in_container(&attack), namespace);
    let now = state("personal").await;
    findings.check(
        now == "running",
        format!("personal is {now} after {}", attack.name()),
    );

    let attack = Attack::new("org.zionos.Profiles1", "List", &[]);
    findings.refused(&attack, &in_container(&attack), namespace);
    // What Podman warned and what the machine lacks tell an attacker which
    // limits hold: the session user's to read, not a container's.
    let attack = Attack::new("org.zionos.Profiles1", "Warnings", &["s:work"]);
    findings.refused(&attack, &in_container(&attack), namespace);
    let attack = Attack::new("org.zionos.Profiles1", "Capabilities", &[]);
    findings.refused(&attack, &in_container(&attack), namespace);

    let attack = Attack::new("org.zionos.Quarantine1", "Release", &[&id, "s:shared"]);
    findings.refused(&attack, &in_container(&attack), namespace);
    let attack = Attack::new(
        "org.zionos.Quarantine1",
        "ReleaseOverride",
        &[&id, "s:profile:personal"],
    );
    findings.refused(&attack, &in_container(&attack), namespace);
    let now = quarantine.get(item.id).await.map(|i| i.state);
    findings.check(
        now.as_deref() == Ok("clean"),
        format!("notes.txt is {now:?} after the release attacks"),
    );

    let attack = Attack::new("org.zionos.Quarantine1", "List", &[]);
    findings.refused(&attack, &in_container(&attack), namespace);
    // Recall (issue 17): which files went where, and taking them back.
    let attack = Attack::new("org.zionos.Quarantine1", "Recalls", &[]);
    findings.refused(&attack, &in_container(&attack), namespace);
    let attack = Attack::new("org.zionos.Quarantine1", "MoveBack", &[&id]);
    findings.refused(&attack, &in_container(&attack), namespace);

    let attack = Attack::new(
        "org.zionos.Sandbox1",
        "OpenBrowser",
        &["s:work", "s:https://example.org/"],
    );
    findings.refused(&attack, &in_container(&attack), namespace);
    let sandboxes = Sandbox1Proxy::new(&conn).await.expect("sandbox proxy");
    let open = sandboxes.list().await.expect("Sandbox1.List from the host");
    findings.check(
        open.is_empty(),
        format!("sandboxes open after the attack: {open:?}"),
    );

    let attack = Attack::new(
        "org.zionos.Compositor1",
        "SwitchTo",
        &[&format!("s:{other}")],
    );
    findings.refused(&attack, &in_container(&attack), namespace);
    let now = shown.active_desktop().await.expect("ActiveDesktop");
    findings.check(
        now == active,
        format!(
            "the desktop shown is {now}, not {active}, after {}",
            attack.name()
        ),
    );

    let attack = Attack::new("org.zionos.Compositor1", "Screenshot", &[&shot_arg]);
    findings.refused(&attack, &in_container(&attack), namespace);
    findings.check(
        !shot.exists(),
        format!("the compositor wrote {}", shot.display()),
    );

    let attack = Attack::new(
        "org.zionos.Compositor1",
        "OpenSocket",
        &["s:work", "s:attack"],
    );
    findings.refused(&attack, &in_container(&attack), namespace);
    findings.check(
        !sandbox_socket.exists(),
        format!("the compositor opened {}", sandbox_socket.display()),
    );

    // The per-profile lock: a container neither covers a profile (keeping
    // the person from it) nor asks to uncover one (its own, say).
    let attack = Attack::new("org.zionos.Compositor1", "LockProfile", &["s:personal"]);
    findings.refused(&attack, &in_container(&attack), namespace);
    shown
        .lock_profile("work")
        .await
        .expect("LockProfile from the host");
    let attack = Attack::new("org.zionos.Compositor1", "UnlockProfile", &["s:work"]);
    findings.refused(&attack, &in_container(&attack), namespace);
    let locked = shown.locked_profiles().await.expect("LockedProfiles");
    findings.check(
        locked == ["work"],
        format!("the locked profiles are {locked:?} after the lock attacks"),
    );

    // Every refusal is logged by the service that refused it.
    let (daemon_log, compositor_log) = (
        read_log(&env, "daemon.log"),
        read_log(&env, "compositor.log"),
    );
    for (log, call) in [
        (&daemon_log, "org.zionos.Profiles1.Stop"),
        (&daemon_log, "org.zionos.Quarantine1.Release"),
        (&daemon_log, "org.zionos.Sandbox1.OpenBrowser"),
        (&compositor_log, "org.zionos.Compositor1.Screenshot"),
        (&compositor_log, "org.zionos.Compositor1.UnlockProfile"),
    ] {
        findings.check(
            log.contains(&format!("refused {call} from")),
            format!("no log line for the refused {call}"),
        );
    }

    findings.check(
        !compositor_log.contains("unlock asked"),
        "the compositor took the container's UnlockProfile".into(),
    );
    assert!(
        findings.0.is_empty(),
        "the container's calls were not all refused:\n- {}\n{}",
        findings.0.join("\n- "),
        logs()
    );

    // The session user on the host, with the same client: let through.
    let host = |attack: &Attack| {
        Command::new(client())
            .args(attack.words())
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .output()
            .expect("zion-bus-call runs")
    };
    let switch = host(&Attack::new(
        "org.zionos.Compositor1",
        "SwitchTo",
        &[&format!("s:{other}")],
    ));
    assert!(switch.status.success(), "{}\n{}", text(&switch), logs());
    assert_eq!(shown.active_desktop().await.expect("ActiveDesktop"), other);
    let release = host(&Attack::new(
        "org.zionos.Quarantine1",
        "Release",
        &[&id, "s:shared"],
    ));
    assert!(release.status.success(), "{}\n{}", text(&release), logs());
    let released = quarantine.get(item.id).await.expect("Get");
    assert_eq!(released.state, "released", "{released:?}");
    let caps = profiles
        .capabilities()
        .await
        .expect("Capabilities from the host");
    let names: Vec<&str> = caps.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["freezing", "CPU weights", "resource limits"]);
    profiles
        .warnings("work")
        .await
        .expect("Warnings from the host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_on_a_bus_open_to_every_user_is_refused() {
    require!(
        rustix::process::geteuid().is_root(),
        "running a caller as another uid needs root (this test runs as uid {})",
        rustix::process::geteuid().as_raw()
    );
    let env = TestEnv::new().expect("test environment");
    quarantine_support::write_config(&env, "");
    // The other user must reach the bus's folder inside the test's own.
    std::fs::set_permissions(
        env.root(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("open the test folder for traversal");
    let open = DbusBus::start_open_to_all_users(&env.root().join("open-bus")).expect("open bus");
    let bus = open.address().to_owned();
    let conn = open.connect().await.expect("the open bus");
    let logs = || {
        format!(
            "--- zion-sandboxd:\n{}\n--- zion-compositor:\n{}",
            read_log(&env, "daemon.log"),
            read_log(&env, "compositor.log")
        )
    };
    let _compositor = compositor(&env, &bus);
    wait_for_name(&conn, "org.zionos.Compositor1", logs).await;
    let _daemon = daemon(&env, &bus, &["--no-profiles"]);
    wait_for_name(&conn, "org.zionos.Quarantine1", logs).await;

    // A folder the compositor may write in: an attacker's screenshot path.
    let shots = env.root().join("shots");
    std::fs::create_dir_all(&shots).expect("shots folder");
    let shot = shots.join("attack.png");
    let nobody = |attack: &Attack| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(client())
            .args(attack.words())
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .output()
            .expect("setpriv runs")
    };
    let ping = nobody(&Attack::new("org.freedesktop.DBus", "GetId", &[]));
    assert!(
        ping.status.success(),
        "uid 65534 cannot reach the bus at all, so it proves nothing: {}",
        text(&ping)
    );

    let mut findings = Findings::default();
    let reason = "runs as uid 65534, not as the session user";
    for attack in [
        Attack::new("org.zionos.Compositor1", "SwitchTo", &["s:work"]),
        Attack::new(
            "org.zionos.Compositor1",
            "Screenshot",
            &[&format!("s:{}", shot.display())],
        ),
        Attack::new("org.zionos.Quarantine1", "List", &[]),
    ] {
        findings.refused(&attack, &nobody(&attack), reason);
    }
    findings.check(
        !shot.exists(),
        format!("the compositor wrote {}", shot.display()),
    );
    findings.check(
        read_log(&env, "compositor.log").contains("refused org.zionos.Compositor1.SwitchTo from"),
        "no log line for the refused SwitchTo".into(),
    );
    assert!(
        findings.0.is_empty(),
        "the other user's calls were not all refused:\n- {}\n{}",
        findings.0.join("\n- "),
        logs()
    );
}

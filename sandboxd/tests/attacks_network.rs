//! Attack: a container reaching another container's address or the host's.
//!
//! Everything real: the harness's private Podman, `zion-sandboxd` with two
//! profiles allowed the network (`work`, `personal`) and a warm pool of one
//! disposable sandbox of `work`. From inside `work`'s container, and from
//! inside the sandbox, the test tries what a hostile program would: TCP
//! connections (three tries each, one second apiece) to a listener running
//! in `personal`'s container, to `work`'s own container (from the sandbox),
//! and to listeners the test runs on the host's side of the bridges (their
//! gateways). Every try must fail by timing out (the packets are dropped),
//! and no listener may see a connection. Only addresses of the containers
//! and bridges this test made are aimed at.
//!
//! No ping: the base image (Debian minbase) has no ping, and with every
//! capability dropped a container cannot open the raw socket ping needs.

mod quarantine_support;

use std::net::{IpAddr, TcpListener};
use std::process::Output;
use std::time::{Duration, Instant};

use quarantine_support::{default_rules, scan_worker, Daemon, DAEMON};
use zion_tests::{TestEnv, TestImage};

const WAIT: Duration = Duration::from_secs(60);
/// The port `personal`'s listener takes inside its container.
const PORT: u16 = 7000;
/// What `personal`'s listener writes to whoever connects.
const GREETING: &str = "personal-secret";

fn write_config(env: &TestEnv, image: &str) {
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    let profile = |name: &str, colour: &str| {
        format!("[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\nnetwork = \"full\"\nmemory = \"256MiB\"\nhibernate_after = \"never\"\n\n")
    };
    let text = profile("work", "#3465a4") + &profile("personal", "#4e9a06");
    std::fs::write(dir.join("zion.toml"), text).expect("zion.toml");
}

fn podman(env: &TestEnv, args: &[&str]) -> Output {
    env.podman()
        .cli()
        .args(args)
        .output()
        .expect("podman --remote runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}; stdout: {}; stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

/// The container's address and its network's gateway (the host's side of
/// its bridge), from Podman's inspect.
fn addresses(env: &TestEnv, container: &str) -> (IpAddr, IpAddr) {
    let out = podman(env, &["inspect", container]);
    assert!(out.status.success(), "inspect {container}: {}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect json");
    let networks = &json[0]["NetworkSettings"]["Networks"];
    let (_, net) = networks
        .as_object()
        .and_then(|m| m.iter().next())
        .unwrap_or_else(|| panic!("{container} is on no network: {networks}"));
    let ip = |key: &str| -> IpAddr {
        net[key]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no {key} for {container} in {net}"))
    };
    (ip("IPAddress"), ip("Gateway"))
}

/// Polls until `f` holds, or panics with `what` and the daemon's log.
fn wait_until(daemon: &Daemon, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + WAIT;
    while !f() {
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}; zion-sandboxd said:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn running(env: &TestEnv, container: &str) -> bool {
    let out = podman(
        env,
        &["inspect", "--format", "{{.State.Status}}", container],
    );
    String::from_utf8_lossy(&out.stdout).trim() == "running"
}

/// One TCP connection from inside `container` to `ip:port`, given one
/// second: bash's `/dev/tcp`, under `timeout`. What it read on success.
fn connect(env: &TestEnv, container: &str, ip: IpAddr, port: u16) -> Result<String, String> {
    let script = "exec 3<>\"/dev/tcp/$0/$1\" && timeout 1 cat <&3; exit 0";
    let out = podman(
        env,
        &[
            "exec",
            container,
            "timeout",
            "1",
            "bash",
            "-c",
            script,
            &ip.to_string(),
            &port.to_string(),
        ],
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(text(&out))
    }
}

/// A listener of the test's on the host's address `ip` (a bridge gateway),
/// port chosen by the kernel; non-blocking, so that what it accepted can be
/// counted afterwards.
fn host_listener(ip: IpAddr) -> TcpListener {
    let listener = TcpListener::bind((ip, 0))
        .unwrap_or_else(|e| panic!("cannot listen on the bridge gateway {ip}: {e}"));
    listener.set_nonblocking(true).expect("non-blocking");
    listener
}

fn accepted(listener: &TcpListener) -> usize {
    std::iter::from_fn(|| listener.accept().ok()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_reach_neither_each_other_nor_the_host() {
    let env = TestEnv::new().expect("test environment");
    let base = env.image(TestImage::Base).expect("the base test image");
    write_config(&env, &base);
    let mut command = env.command(DAEMON);
    command
        .env("ZION_SCAN_WORKER", scan_worker())
        .env("ZION_RULES", default_rules())
        // The sandbox's container only has to exist and wait: the base
        // image stands in for the browser's.
        .env("ZION_BROWSER_IMAGE", &base)
        .env("ZION_SANDBOX_POOL", "1")
        .env("RUST_LOG", "info,zion_sandboxd::sandbox=debug");
    let daemon = Daemon::from_command(command);
    for profile in ["work", "personal"] {
        let container = format!("zion-{profile}");
        wait_until(&daemon, &format!("{container} running"), || {
            running(&env, &container)
        });
    }
    let mut sandbox = String::new();
    wait_until(&daemon, "a pooled sandbox of work", || {
        let out = podman(
            &env,
            &[
                "ps",
                "--all",
                "--filter",
                "label=org.zionos.sandbox.profile=work",
                "--format",
                "{{.Names}} {{.State}}",
            ],
        );
        let list = String::from_utf8_lossy(&out.stdout).into_owned();
        match list.lines().next().and_then(|l| l.split_once(' ')) {
            Some((name, state)) if state != "created" && state != "configured" => {
                sandbox = name.to_owned();
                true
            }
            _ => false,
        }
    });
    // The pool freezes its sandboxes; a hostile page runs in a thawed one.
    let _ = podman(&env, &["unpause", &sandbox]);
    wait_until(&daemon, "the sandbox thawed", || running(&env, &sandbox));

    // personal listens; it answers itself, so the listener is really there.
    let listener = format!(
        "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => {PORT}, Listen => 5, ReuseAddr => 1) or die $!; while (my $c = $s->accept) {{ print $c \"{GREETING}\\n\"; close $c; }}"
    );
    let out = podman(
        &env,
        &["exec", "-d", "zion-personal", "perl", "-e", &listener],
    );
    assert!(
        out.status.success(),
        "starting the listener: {}",
        text(&out)
    );
    let (personal_ip, personal_gw) = addresses(&env, "zion-personal");
    let (work_ip, work_gw) = addresses(&env, "zion-work");
    let (_, sandbox_gw) = addresses(&env, &sandbox);
    let mut answered = Err(String::new());
    wait_until(&daemon, "personal's listener answering personal", || {
        answered = connect(&env, "zion-personal", personal_ip, PORT);
        answered.as_deref().is_ok_and(|r| r == GREETING)
    });

    // The test's listeners on the host side of each bridge.
    let mut gateways = vec![work_gw, personal_gw, sandbox_gw];
    gateways.sort();
    gateways.dedup();
    let listeners: Vec<(IpAddr, TcpListener)> =
        gateways.iter().map(|&ip| (ip, host_listener(ip))).collect();

    let mut targets: Vec<(&str, &str, IpAddr, u16)> = vec![
        ("work", "personal's container", personal_ip, PORT),
        ("sandbox", "personal's container", personal_ip, PORT),
        ("sandbox", "work's own container", work_ip, PORT),
    ];
    for (ip, l) in &listeners {
        let port = l.local_addr().expect("address").port();
        targets.push(("work", "the host (a bridge gateway)", *ip, port));
        targets.push(("sandbox", "the host (a bridge gateway)", *ip, port));
    }
    // work's own container listens too, for the sandbox's try at it.
    let out = podman(&env, &["exec", "-d", "zion-work", "perl", "-e", &listener]);
    assert!(
        out.status.success(),
        "starting work's listener: {}",
        text(&out)
    );

    let mut reached = Vec::new();
    for (from, what, ip, port) in &targets {
        let container = if *from == "work" {
            "zion-work"
        } else {
            sandbox.as_str()
        };
        for _ in 0..3 {
            match connect(&env, container, *ip, *port) {
                Ok(read) => reached.push(format!(
                    "{from} reached {what} at {ip}:{port} (read {read:?})"
                )),
                // Dropped packets: the connect hangs until `timeout` (124).
                Err(why) => assert!(
                    why.starts_with("exit Some(124)"),
                    "{from} → {what} at {ip}:{port} failed, but not by a drop: {why}"
                ),
            }
        }
    }
    let seen: usize = listeners.iter().map(|(_, l)| accepted(l)).sum();
    assert!(
        reached.is_empty() && seen == 0,
        "attacks succeeded ({} connections reached the host's listeners):\n{}\nzion-sandboxd said:\n{}",
        seen,
        reached.join("\n"),
        daemon.log()
    );
}

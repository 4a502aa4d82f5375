//! Attacks from a compromised scan worker: the real `zion-scan-worker`,
//! confined as for a scan, acts as a file that exploited libyara would — it
//! makes a Unix socket and connects to a listening one (the session bus, say),
//! sends a UDP datagram on loopback, opens a readable file and runs
//! `/bin/true`. Every attempt must fail, and nothing may reach the listeners.
//! The same for the YARA-X worker (with the `yara-x` feature), whose rules
//! are machine code from wasmtime's JIT.

#[path = "scanner_support.rs"]
mod scanner_support;

use std::io::ErrorKind;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Stdio;

use scanner_support::RulesEnv;
use zion_scanner::Engine;

const EPERM: i64 = 1;

/// One line of the worker's attack report.
#[derive(Debug)]
struct Attempt {
    ok: bool,
    errno: i64,
}

#[test]
fn compromised_worker_cannot_reach_sockets_files_or_programs() {
    cannot_reach_sockets_files_or_programs(Engine::Yara);
}

#[cfg(feature = "yara-x")]
#[test]
fn compromised_yara_x_worker_cannot_reach_sockets_files_or_programs() {
    cannot_reach_sockets_files_or_programs(Engine::YaraX);
}

fn cannot_reach_sockets_files_or_programs(engine: Engine) {
    let env = RulesEnv::with_engine(engine);
    // What a real session has: a listening Unix socket (the bus, Podman's
    // socket) and a service on loopback UDP.
    let socket_path = env.dir.path().join("bus.sock");
    let listener = UnixListener::bind(&socket_path).expect("listen on a Unix socket");
    listener.set_nonblocking(true).expect("nonblocking");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind UDP on loopback");
    udp.set_nonblocking(true).expect("nonblocking");
    let secret = env.sample("secret.txt", b"not for the worker\n");
    std::fs::read(&secret).expect("the test itself can read the file");

    // The worker's stdin is its channel to the parent, as in production.
    let (parent_end, worker_end) = UnixStream::pair().expect("socketpair");
    let output = env
        .worker()
        .env("ZION_SCAN_WORKER_SELFTEST", "attack")
        .env("ZION_SCAN_WORKER_ATTACK_UNIX", &socket_path)
        .env(
            "ZION_SCAN_WORKER_ATTACK_UDP",
            udp.local_addr().expect("udp address").to_string(),
        )
        .env("ZION_SCAN_WORKER_ATTACK_FILE", &secret)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(worker_end)))
        .stderr(Stdio::inherit())
        .output()
        .expect("run the worker");
    drop(parent_end);
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("worker exit: {:?}\nworker report:\n{stdout}", output.status);

    let mut confinement = serde_json::Value::Null;
    let mut attempts = std::collections::BTreeMap::new();
    for line in stdout.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("report lines are JSON");
        if let Some(c) = value.get("confinement") {
            confinement = c.clone();
            continue;
        }
        let name = value["attempt"].as_str().expect("attempt name").to_string();
        let attempt = Attempt {
            ok: value["ok"].as_bool().expect("ok"),
            errno: value["errno"].as_i64().expect("errno"),
        };
        attempts.insert(name, attempt);
    }

    // Every way through, collected so that one run shows them all.
    let mut breaches = Vec::new();
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok(_) => breaches.push("the Unix listener accepted a connection from the worker".into()),
        Err(e) => panic!("accept: {e}"),
    }
    let mut buf = [0u8; 64];
    match udp.recv_from(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((n, from)) => breaches.push(format!(
            "the UDP socket received {:?} from {from}",
            String::from_utf8_lossy(&buf[..n])
        )),
        Err(e) => panic!("recv_from: {e}"),
    }
    for name in [
        "socket_unix",
        "connect_unix",
        "socket_udp",
        "sendto_udp",
        "open_file",
        "execve",
    ] {
        match attempts.get(name) {
            None => breaches.push(format!("{name}: not reported (the worker ended before it)")),
            Some(Attempt { ok: true, .. }) => breaches.push(format!("{name}: succeeded")),
            // The seccomp filter answers EPERM before any other layer looks.
            Some(Attempt { errno, .. }) if *errno != EPERM => breaches.push(format!(
                "{name}: failed with errno {errno}, not seccomp's EPERM"
            )),
            Some(_) => {}
        }
    }
    assert!(
        breaches.is_empty(),
        "a compromised {engine} worker got through:\n  {}\nconfinement: {confinement}",
        breaches.join("\n  ")
    );
    assert!(output.status.success(), "worker: {:?}", output.status);

    // And it says so: every layer in force.
    assert_eq!(confinement["seccomp"], true, "{confinement}");
    assert_eq!(confinement["namespaces"]["network"], true, "{confinement}");
    assert_eq!(confinement["namespaces"]["mount"], true, "{confinement}");
    assert_eq!(confinement["no_new_privs"], true, "{confinement}");
}

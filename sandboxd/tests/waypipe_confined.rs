//! The host's waypipe client of a gVisor sandbox parses what the sandbox
//! sends: an exploit of it is code running as the daemon's user on the
//! host. The attacker here is that code: `zion-test-hostile-waypipe`,
//! started by the daemon's own `Gvisor::start_waypipe` exactly as waypipe
//! is (`GvisorSettings.waypipe` pointed at it), does what waypipe must (its
//! socket in its folder, a connection to the sandbox's compositor socket),
//! then tries to read a secret in `$HOME` and in Zion's data folder, plant
//! files, reach a TCP listener, the session bus, an abstract socket, and
//! signal the daemon. Started without the confinement, every attempt
//! succeeds (the control: the probes work); started as waypipe is, every
//! one fails and only what waypipe needs still works. The real waypipe
//! client runs confined too, and still connects to the compositor socket.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use zion_sandboxd::sandbox::gvisor::{waypipe_client_args, Gvisor, GvisorSettings};
use zion_tests::DbusBus;

const TIMEOUT: Duration = Duration::from_secs(20);
const SECRET: &str = "the user's private key";

fn hostile() -> PathBuf {
    zion_tests::sibling_bin(
        env!("CARGO_BIN_EXE_zion-sandboxd"),
        "zion-test-hostile-waypipe",
        "ZION_TEST_HOSTILE_WAYPIPE",
    )
}

/// A session's folders in a test folder: `$HOME` with a secret, Zion's
/// data folder with one, the runtime folder with a sandbox's Wayland
/// folder, and waypipe's socket folder.
struct Session {
    tmp: tempfile::TempDir,
    home: PathBuf,
    wayland: PathBuf,
    waypipe: PathBuf,
}

impl Session {
    fn new() -> Session {
        let tmp = tempfile::Builder::new()
            .prefix("zion-waypipe-confined-")
            .tempdir()
            .expect("test folder");
        let root = tmp.path();
        let home = root.join("home");
        std::fs::create_dir_all(home.join(".ssh")).expect("home");
        std::fs::write(home.join(".ssh/id_ed25519"), SECRET).expect("secret");
        let data = root.join("data/zion/quarantine/held");
        std::fs::create_dir_all(&data).expect("data");
        std::fs::write(data.join("report.pdf"), SECRET).expect("held file");
        let runtime = root.join("run");
        let wayland = runtime.join("zion/sandboxes/work/1");
        let waypipe = runtime.join("zion/waypipe/sandbox-work-1");
        std::fs::create_dir_all(&wayland).expect("wayland folder");
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
            .expect("runtime mode");
        Session {
            tmp,
            home,
            wayland,
            waypipe,
        }
    }

    fn held(&self) -> PathBuf {
        self.tmp.path().join("data/zion/quarantine/held/report.pdf")
    }

    /// The sandbox's compositor socket, as the compositor makes it.
    fn compositor(&self) -> UnixListener {
        let socket = self.wayland.join("wayland-0");
        let _ = std::fs::remove_file(&socket);
        UnixListener::bind(&socket).expect("the compositor's socket")
    }
}

/// What the attacker tries, each a line for the hostile program.
struct Targets {
    probes: Vec<String>,
    tcp: std::net::TcpListener,
    _abstract: std::os::unix::net::UnixListener,
}

impl Targets {
    fn new(session: &Session, bus: &DbusBus) -> Targets {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("a TCP listener");
        tcp.set_nonblocking(true).expect("non-blocking");
        let name = format!("zion-test-waypipe-{}", std::process::id());
        let addr = {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("a name")
        };
        let abstract_socket =
            std::os::unix::net::UnixListener::bind_addr(&addr).expect("an abstract socket");
        let bus_path = bus
            .address()
            .strip_prefix("unix:path=")
            .expect("a path bus address");
        let probes = vec![
            format!("read {}", session.home.join(".ssh/id_ed25519").display()),
            format!("read {}", session.held().display()),
            format!("write {}", session.home.join("planted").display()),
            format!("write {}", session.waypipe.join("planted").display()),
            format!("write {}", session.wayland.join("planted").display()),
            format!("tcp {}", tcp.local_addr().expect("its address")),
            format!("bus {bus_path}"),
            format!("abstract {name}"),
            format!("signal {}", std::process::id()),
            // What waypipe needs: a socket in its own folder.
            format!("socket {}", session.waypipe.join("second.sock").display()),
        ];
        Targets {
            probes,
            tcp,
            _abstract: abstract_socket,
        }
    }
}

/// Accepts the hostile program's connection on `compositor`, gives it the
/// probes and returns its pid and answers (`probe: ok …` / `probe: denied …`).
/// What `attack` learnt: the program's pid, its answers, and the
/// connection, which keeps the program alive (it stays until the
/// compositor's end closes) while the test looks at its process.
struct Attacked {
    pid: u32,
    answers: Vec<String>,
    _connection: (Lines, tokio::net::unix::OwnedWriteHalf),
}

async fn attack(compositor: &UnixListener, probes: &[String]) -> Attacked {
    let (stream, _) = tokio::time::timeout(TIMEOUT, compositor.accept())
        .await
        .expect("the program connects to the compositor's socket in time")
        .expect("accept");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let pid_line = next_line(&mut lines).await;
    let pid = pid_line
        .strip_prefix("pid ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a pid first: {pid_line}"));
    let mut answers = Vec::new();
    for probe in probes {
        write
            .write_all(format!("{probe}\n").as_bytes())
            .await
            .expect("a probe");
        answers.push(next_line(&mut lines).await);
    }
    write.write_all(b"end\n").await.expect("end");
    assert_eq!(next_line(&mut lines).await, "done");
    Attacked {
        pid,
        answers,
        _connection: (lines, write),
    }
}

type Lines = tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>;

async fn next_line(lines: &mut Lines) -> String {
    tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .expect("an answer in time")
        .expect("reading")
        .expect("a line")
}

fn status(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Checks that `pid` has user, network and mount namespaces of its own.
/// Run as an unprivileged user, the test cannot look: the kernel makes a
/// program whose owner (root) its user namespace does not map
/// non-dumpable, and hides its namespaces (what the probes met shows them).
fn assert_own_namespaces(pid: u32) {
    if !rustix::process::geteuid().is_root() {
        return;
    }
    for ns in ["user", "net", "mnt"] {
        let of =
            |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("a namespace");
        assert_ne!(of(&pid.to_string()), of("self"), "{ns} namespace");
    }
}

fn gvisor(waypipe: &Path) -> Gvisor {
    let mut settings = GvisorSettings::standard(None, None, zion_profiles::Timeouts::default());
    settings.waypipe = waypipe.to_owned();
    Gvisor::new(settings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exploited_waypipe_client_reaches_nothing_of_the_session_but_still_makes_its_socket() {
    if zion_sandboxd::sandbox::confine_waypipe::landlock_abi() < 6 {
        zion_tests::skip::lacking(
            "the kernel's Landlock is older than ABI 6 (no signal or abstract socket scopes)",
        );
        return;
    }
    let session = Session::new();
    // The bus where a session has it: in the runtime folder, beside the
    // folders waypipe is shown.
    let bus = DbusBus::start(&session.tmp.path().join("run")).expect("a session bus");
    let targets = Targets::new(&session, &bus);
    let hostile = hostile();

    // 1. The control: started unconfined, as waypipe was before, the
    // exploit reads, writes and reaches everything.
    std::fs::create_dir_all(&session.waypipe).expect("waypipe's folder");
    let compositor = session.compositor();
    let mut unconfined = tokio::process::Command::new(&hostile)
        .args(waypipe_client_args(
            &session
                .waypipe
                .join(zion_sandboxd::sandbox::gvisor::WAYPIPE_SOCKET),
        ))
        .env("WAYLAND_DISPLAY", session.wayland.join("wayland-0"))
        .kill_on_drop(true)
        .spawn()
        .expect("the hostile program");
    let Attacked { answers, .. } = attack(&compositor, &targets.probes).await;
    let _ = unconfined.start_kill();
    let _ = unconfined.wait().await;
    eprintln!("unconfined:\n  {}", answers.join("\n  "));
    for answer in &answers {
        assert!(answer.contains(": ok"), "unconfined, it works: {answer}");
    }
    assert!(answers[0].ends_with(SECRET) && answers[1].ends_with(SECRET));
    assert!(
        answers[6].contains(": ok OK"),
        "the bus let it in: {}",
        answers[6]
    );
    assert!(targets.tcp.accept().is_ok(), "the TCP listener was reached");
    for planted in [
        session.home.join("planted"),
        session.waypipe.join("planted"),
        session.wayland.join("planted"),
    ] {
        assert!(planted.exists(), "{}", planted.display());
        std::fs::remove_file(&planted).expect("unplant");
    }

    // 2. Started by the daemon as waypipe is: confined.
    let compositor = session.compositor();
    let gvisor = gvisor(&hostile);
    gvisor
        .start_waypipe("sandbox-work-1", &session.waypipe, &session.wayland)
        .await
        .expect("the confined program makes its socket");
    // Held until the end: the program's process is looked at below.
    let attacked = attack(&compositor, &targets.probes).await;
    let (pid, answers) = (attacked.pid, &attacked.answers);
    eprintln!("confined (pid {pid}):\n  {}", answers.join("\n  "));
    let (tried, needed) = answers.split_at(answers.len() - 1);
    for answer in tried {
        assert!(answer.contains(": denied"), "confined, it fails: {answer}");
        assert!(!answer.contains(SECRET), "{answer}");
    }
    assert!(
        needed[0].contains(": ok"),
        "it still makes sockets in its folder: {needed:?}"
    );
    // On the host's side too: nothing planted, nothing reached.
    for planted in [
        session.home.join("planted"),
        session.waypipe.join("planted"),
        session.wayland.join("planted"),
    ] {
        assert!(!planted.exists(), "{} was planted", planted.display());
    }
    assert!(
        targets.tcp.accept().is_err(),
        "the TCP listener was reached"
    );
    // Its process: no new privileges, a seccomp filter, namespaces of its own.
    assert_eq!(status(pid, "NoNewPrivs"), "1");
    assert_eq!(status(pid, "Seccomp"), "2");
    assert_own_namespaces(pid);
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core limit");
    assert!(
        core.split_whitespace().nth(4) == Some("0"),
        "no core dumps: {core}"
    );
    drop(attacked);
    gvisor.stop_waypipe("sandbox-work-1", &session.waypipe);
    let _ = std::io::stderr().flush();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_waypipe_client_runs_confined_and_still_reaches_the_compositor_socket() {
    if !zion_tests::skip::installed("waypipe", "waypipe") {
        return;
    }
    let session = Session::new();
    let compositor = session.compositor();
    // What confining costs at start: waypipe to its socket, unconfined.
    std::fs::create_dir_all(&session.waypipe).expect("waypipe's folder");
    let socket = session.waypipe.join("waypipe.sock");
    let started = std::time::Instant::now();
    let mut plain = tokio::process::Command::new("waypipe")
        .args(waypipe_client_args(&socket))
        .env("WAYLAND_DISPLAY", session.wayland.join("wayland-0"))
        .kill_on_drop(true)
        .spawn()
        .expect("waypipe");
    while !socket.exists() {
        assert!(started.elapsed() < TIMEOUT, "no socket from waypipe");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let unconfined = started.elapsed();
    let _ = plain.start_kill();
    let _ = plain.wait().await;

    let gvisor = gvisor(Path::new("waypipe"));
    let started = std::time::Instant::now();
    gvisor
        .start_waypipe("sandbox-work-1", &session.waypipe, &session.wayland)
        .await
        .expect("waypipe makes its socket, confined");
    eprintln!(
        "waypipe's client to its socket: {unconfined:?} unconfined, {:?} confined (start_waypipe)",
        started.elapsed()
    );
    // waypipe cuts its socket argument at the last `/` in place.
    let needle = format!("{}\0waypipe.sock", session.waypipe.display());
    let pids = zion_tests::processes_with(&needle);
    assert_eq!(pids.len(), 1, "one waypipe client: {pids:?}");
    let pid = pids[0];
    assert_eq!(status(pid, "NoNewPrivs"), "1");
    assert_eq!(status(pid, "Seccomp"), "2");
    assert_own_namespaces(pid);
    // A waypipe server (the sandbox's side) connects: the confined client
    // connects on to the compositor's socket.
    let xdg = session.tmp.path().join("server-runtime");
    std::fs::create_dir_all(&xdg).expect("server runtime");
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).expect("mode");
    let mut server = tokio::process::Command::new("waypipe")
        .arg("--socket")
        .arg(session.waypipe.join("waypipe.sock"))
        .args([
            "--no-gpu",
            "--compress",
            "none",
            "server",
            "--",
            "sleep",
            "30",
        ])
        .env("XDG_RUNTIME_DIR", &xdg)
        .kill_on_drop(true)
        .spawn()
        .expect("waypipe server");
    let accepted = tokio::time::timeout(TIMEOUT, compositor.accept()).await;
    let _ = server.start_kill();
    let _ = server.wait().await;
    accepted
        .expect("the confined client reaches the compositor's socket in time")
        .expect("accept");
    gvisor.stop_waypipe("sandbox-work-1", &session.waypipe);
}

/// In real life the daemon runs as the user, not root: the same two tests,
/// run by a copy of this test program as the unprivileged test account
/// (the user namespace is then an unprivileged one, its uid mapped to
/// itself).
#[test]
fn the_same_confinement_holds_when_the_daemon_is_an_unprivileged_user() {
    if !rustix::process::geteuid().is_root() {
        zion_tests::skip::lacking("making the unprivileged test account needs root");
        return;
    }
    let user = zion_tests::user::TestUser::ensure().expect("the unprivileged test account");
    let bin = tempfile::Builder::new()
        .prefix("zion-waypipe-confined-bin-")
        .tempdir()
        .expect("a program folder");
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755))
        .expect("open the folder");
    let copy = |from: &Path| {
        let to = bin.path().join(from.file_name().expect("a name"));
        std::fs::copy(from, &to).expect("copy");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).expect("mode");
        to
    };
    let tests = copy(&std::env::current_exe().expect("this test program"));
    let hostile = copy(&hostile());
    let home = bin.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    user.give(&home, true).expect("the account's home");
    let out = user
        .command(&home, &tests)
        .args(["--skip", "unprivileged", "--test-threads=1", "--nocapture"])
        .env("ZION_TEST_HOSTILE_WAYPIPE", &hostile)
        .output()
        .expect("the tests as the account");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("as {} (uid {}):\n{text}", user.name, user.uid);
    assert!(out.status.success(), "{text}");
    // Both ran (not skipped), and the attack was made and failed.
    assert!(text.contains("2 passed"), "{text}");
    assert!(text.contains("confined (pid"), "{text}");
    assert!(!text.contains("SKIPPED"), "{text}");
}

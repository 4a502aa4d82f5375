//! The confined worker: it opens nothing it was not given and maps no memory
//! it could run (with either engine: YARA-X's machine code is made before it
//! confines itself), is refused when any layer of its confinement is missing,
//! serves one source only, and a worker that is killed, hangs, burns CPU or
//! talks garbage gives an error, never clean; the next scan gets a fresh
//! worker.

#[path = "scanner_support.rs"]
mod scanner_support;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use scanner_support::{eicar, RulesEnv, WORKER};
use zion_quarantine::Verdict;
use zion_scanner::{Engine, LandlockEnforcement, Scanner};

const EPERM: i64 = 1;

#[test]
fn confined_worker_cannot_open_a_file_it_was_not_given() {
    cannot_open_a_file_it_was_not_given(Engine::Yara);
}

#[cfg(feature = "yara-x")]
#[test]
fn confined_yara_x_worker_cannot_open_a_file_it_was_not_given() {
    cannot_open_a_file_it_was_not_given(Engine::YaraX);
}

fn cannot_open_a_file_it_was_not_given(engine: Engine) {
    let env = RulesEnv::with_engine(engine);
    let target = env.sample("secret.txt", b"not for the worker\n");
    // Readable without the confinement: the denial below is the worker's
    // (seccomp answers EPERM before Landlock or the empty mount namespace).
    std::fs::read(&target).expect("the test can read the file");
    let output = env
        .worker()
        .env("ZION_SCAN_WORKER_SELFTEST_OPEN", &target)
        .stdin(Stdio::null())
        .output()
        .expect("run worker");
    assert!(output.status.success(), "worker: {output:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("self-test report is JSON");
    let landlock = report["confinement"]["landlock"].as_str().unwrap_or("");
    if landlock == "not_enforced" {
        zion_tests::skip::lacking(&format!("this kernel does not enforce Landlock ({report})"));
        return;
    }
    assert_eq!(report["errno"].as_i64(), Some(EPERM), "{report}");
    assert_eq!(report["confinement"]["no_new_privs"], true, "{report}");

    // /etc is just as closed.
    let output = env
        .worker()
        .env("ZION_SCAN_WORKER_SELFTEST_OPEN", "/etc/hostname")
        .stdin(Stdio::null())
        .output()
        .expect("run worker");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["errno"].as_i64(), Some(EPERM), "{report}");
}

#[test]
fn scanner_reports_the_confinement_the_kernel_enforces() {
    reports_the_confinement_the_kernel_enforces(Engine::Yara);
}

#[cfg(feature = "yara-x")]
#[test]
fn yara_x_scanner_reports_the_confinement_the_kernel_enforces() {
    reports_the_confinement_the_kernel_enforces(Engine::YaraX);
}

fn reports_the_confinement_the_kernel_enforces(engine: Engine) {
    let env = RulesEnv::with_engine(engine);
    let scanner = env.scanner();
    let confinement = scanner.confinement().expect("worker reported");
    eprintln!("worker confinement: {confinement:?}");
    assert!(confinement.no_new_privs);
    assert_eq!(confinement.limits.cpu_seconds_per_scan, 10);
    assert_eq!(confinement.limits.address_space, 1 << 30);
    if confinement.landlock == LandlockEnforcement::NotEnforced {
        zion_tests::skip::lacking("Landlock not enforced on this kernel");
        return;
    }
    assert!(confinement.landlock_abi.is_some_and(|abi| abi >= 1));
    assert!(confinement.seccomp, "{confinement:?}");
    assert!(confinement.namespaces.network, "{confinement:?}");
    assert!(confinement.namespaces.mount, "{confinement:?}");
    assert_eq!(confinement.shortfalls(), Vec::<String>::new());
    // A confined worker still scans what it is handed.
    assert!(matches!(
        scanner.scan(&env.sample("eicar.com", &eicar())),
        Verdict::Infected { .. }
    ));
}

#[test]
fn confined_worker_cannot_map_memory_it_could_run() {
    cannot_map_memory_it_could_run(Engine::Yara);
}

#[cfg(feature = "yara-x")]
#[test]
fn confined_yara_x_worker_cannot_map_memory_it_could_run() {
    cannot_map_memory_it_could_run(Engine::YaraX);
}

/// Shellcode needs memory it can run, and the YARA-X worker holds a JIT's
/// machine code: once confined, neither engine's worker may make more. The
/// worker maps a writable page (allowed), then tries to make it executable:
/// seccomp kills it on the spot, before the call returns.
fn cannot_map_memory_it_could_run(engine: Engine) {
    let env = RulesEnv::with_engine(engine);
    let output = env
        .worker()
        .env("ZION_SCAN_WORKER_SELFTEST", "exec-memory")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run worker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("report lines are JSON"))
        .collect();
    let confinement = &lines.first().expect("the confinement line")["confinement"];
    assert_eq!(confinement["seccomp"], true, "{engine}: {stdout}");
    let attempt = |name: &str| lines.iter().find(|l| l["attempt"] == name);
    assert_eq!(
        attempt("mmap_rw").map(|l| l["ok"].clone()),
        Some(serde_json::Value::Bool(true)),
        "{engine}: plain memory is still allowed: {stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["attempt"] == "trying" && l["call"] == "mprotect_exec"),
        "{engine}: it got to the attempt: {stdout}"
    );
    assert!(
        attempt("mprotect_exec").is_none() && attempt("mmap_exec").is_none(),
        "{engine}: an executable mapping returned instead of killing the worker: {stdout}"
    );
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGSYS),
        "{engine}: killed by seccomp: {:?}\n{stdout}",
        output.status
    );
}

#[test]
fn worker_killed_mid_scan_gives_error_and_the_next_scan_a_fresh_worker() {
    let env = RulesEnv::new();
    let pid_file = env.dir.path().join("worker.pid");
    let marker = env.dir.path().join("hung-once");
    // The first worker (the one Scanner::new starts) hangs on its first scan.
    let script = format!(
        "echo $$ > '{pid}'\nif [ ! -e '{marker}' ]; then touch '{marker}'; \
         export ZION_SCAN_WORKER_SELFTEST_HANG=sleep; fi\nexec '{WORKER}' \"$@\"",
        pid = pid_file.display(),
        marker = marker.display(),
    );
    let mut config = env.config();
    config.worker_exe = env.wrapper("worker-hangs-once", &script);
    config.timeout = Duration::from_secs(30);
    let scanner = Scanner::new(config).expect("scanner");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let sample = env.sample("eicar.com", &eicar());
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let pid = rustix::process::Pid::from_raw(pid).expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill worker");
    });
    let started = Instant::now();
    let verdict = scanner.scan(&sample);
    killer.join().expect("killer");
    let Verdict::Error { reason } = verdict else {
        panic!("a killed worker gives an error, got {verdict:?}");
    };
    assert!(reason.contains("SIGKILL"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no wait for the timeout"
    );
    assert!(
        matches!(scanner.scan(&sample), Verdict::Infected { .. }),
        "a fresh worker scans the next object"
    );
}

#[test]
fn hung_worker_times_out_with_an_error() {
    let env = RulesEnv::new();
    let script = format!("ZION_SCAN_WORKER_SELFTEST_HANG=sleep exec '{WORKER}' \"$@\"");
    let mut config = env.config();
    config.worker_exe = env.wrapper("worker-hangs", &script);
    config.timeout = Duration::from_secs(1);
    let scanner = Scanner::new(config).expect("scanner");
    let started = Instant::now();
    let verdict = scanner.scan(&env.sample("clean.txt", b"nothing to see\n"));
    let Verdict::Error { reason } = verdict else {
        panic!("a hung worker gives an error, got {verdict:?}");
    };
    assert!(reason.contains("no answer in time"), "{reason}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn worker_over_its_cpu_limit_is_killed_with_an_error() {
    let env = RulesEnv::new();
    let script = format!("ZION_SCAN_WORKER_SELFTEST_HANG=spin exec '{WORKER}' \"$@\"");
    let mut config = env.config();
    config.worker_exe = env.wrapper("worker-spins", &script);
    config.cpu_limit = Duration::from_secs(1);
    config.timeout = Duration::from_secs(30);
    let scanner = Scanner::new(config).expect("scanner");
    let started = Instant::now();
    let verdict = scanner.scan(&env.sample("clean.txt", b"nothing to see\n"));
    let Verdict::Error { reason } = verdict else {
        panic!("a spinning worker gives an error, got {verdict:?}");
    };
    assert!(reason.contains("SIGXCPU"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "killed by the CPU limit, not the timeout"
    );
}

#[test]
fn worker_that_prints_garbage_gives_an_error() {
    let env = RulesEnv::new();
    let marker = env.dir.path().join("started-once");
    // A real first worker, then one that answers nonsense on its channel.
    let script = format!(
        "if [ -e '{marker}' ]; then echo 'Clean! trust me' >&0; sleep 30; fi\n\
         touch '{marker}'\nexec '{WORKER}' \"$@\"",
        marker = marker.display(),
    );
    let mut config = env.config();
    config.worker_exe = env.wrapper("worker-garbage", &script);
    let scanner = Scanner::new(config).expect("scanner");
    scanner.reload(); // the next scan starts the garbage worker
    let started = Instant::now();
    let verdict = scanner.scan(&env.sample("eicar.com", &eicar()));
    let Verdict::Error { reason } = verdict else {
        panic!("garbage gives an error, got {verdict:?}");
    };
    assert!(reason.contains("garbage"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn worker_that_cannot_load_its_rules_fails_the_scanner_start() {
    let env = RulesEnv::new();
    let mut config = env.config();
    config.rules_file = env.sample("not-rules.yarc", b"this is not a compiled rule file");
    let err = match Scanner::new(config) {
        Ok(_) => panic!("a scanner without loadable rules must not start"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("refused to start") && err.contains("not-rules.yarc"),
        "{err}"
    );
}

#[test]
fn only_regular_files_are_scanned() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let target = env.sample("eicar.com", &eicar());
    let link = env.dir.path().join("link.com");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    assert!(
        matches!(scanner.scan(&link), Verdict::Error { .. }),
        "symlinks are not followed"
    );
    let fifo = env.dir.path().join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    let Verdict::Error { reason } = scanner.scan(&fifo) else {
        panic!("a FIFO is not scanned");
    };
    assert!(reason.contains("not a regular file"), "{reason}");
    assert!(matches!(
        scanner.scan(&env.dir.path().join("missing")),
        Verdict::Error { .. }
    ));
}

#[test]
fn idle_worker_that_died_is_replaced_without_an_error() {
    let env = RulesEnv::new();
    let pid_file = env.dir.path().join("worker.pid");
    let script = format!(
        "echo $$ > '{pid}'\nexec '{WORKER}' \"$@\"",
        pid = pid_file.display()
    );
    let mut config = env.config();
    config.worker_exe = env.wrapper("worker-pid", &script);
    let scanner = Scanner::new(config).expect("scanner");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let pid = rustix::process::Pid::from_raw(pid).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill idle worker");
    std::thread::sleep(Duration::from_millis(100));
    let verdict = scanner.scan(&env.sample("eicar.com", &eicar()));
    assert!(matches!(verdict, Verdict::Infected { .. }), "{verdict:?}");
}

#[test]
fn worker_that_is_not_fully_confined_is_given_no_object_and_the_scan_says_why() {
    let env = RulesEnv::new();
    // What a worker binary from before the seccomp filter reported: Landlock
    // and no_new_privs, but no filter and no namespaces.
    let script = r#"printf '%s\n' '{"ready":{"confinement":{"landlock":"partially_enforced","landlock_abi":7,"no_new_privs":true,"capabilities_dropped":true,"limits":{"cpu_seconds_per_scan":10,"cpu_seconds_lifetime":160,"address_space":1073741824,"open_files":16}},"rules":1}}' >&0
sleep 30"#;
    let mut config = env.config();
    config.worker_exe = env.wrapper("worker-unconfined", script);
    let scanner = Scanner::new(config).expect("an unconfined worker does not stop the scanner");
    let started = Instant::now();
    let Verdict::Error { reason } = scanner.scan(&env.sample("eicar.com", &eicar())) else {
        panic!("an unconfined worker must not give a verdict");
    };
    assert!(
        reason.contains("not fully confined")
            && reason.contains("seccomp")
            && reason.contains("network namespace"),
        "{reason}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn each_source_gets_its_own_worker() {
    let env = RulesEnv::new();
    let pids = env.dir.path().join("spawned.txt");
    let script = format!(
        "echo $$ >> '{pids}'\nexec '{WORKER}' \"$@\"",
        pids = pids.display()
    );
    let mut config = env.config();
    config.worker_exe = env.wrapper("worker-pids", &script);
    config.max_idle_workers = 4;
    let scanner = Scanner::new(config).expect("scanner");
    let sample = env.sample("eicar.com", &eicar());
    let started = || {
        std::fs::read_to_string(&pids)
            .expect("pid file")
            .lines()
            .count()
    };
    assert_eq!(started(), 1, "the first worker, not yet given to a source");
    for source in [
        "profile:work",
        "profile:games",
        "profile:work",
        "profile:games",
    ] {
        let verdict = scanner.scan_for(source, &sample);
        assert!(matches!(verdict, Verdict::Infected { .. }), "{verdict:?}");
    }
    // work took the first worker, games got a new one; each kept its own.
    assert_eq!(started(), 2);
}

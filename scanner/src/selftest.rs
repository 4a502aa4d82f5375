//! Test-only behaviour of the worker, chosen by environment variables the
//! parent never passes (it clears the worker's environment): after confining,
//! act as a file that exploited libyara would, and report what the kernel
//! let through.

use std::io::Write;
use std::net::SocketAddrV4;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketType};

use super::confine::Confinement;

/// Test-only: `attack` makes the worker, once confined, try what a compromised
/// worker would (see [`attack`]) instead of serving; `exec-memory` makes it
/// try to map memory it could run (see [`exec_memory`]).
pub const SELFTEST_ENV: &str = "ZION_SCAN_WORKER_SELFTEST";
/// Test-only: a listening Unix socket the attack tries to `connect()` to.
pub const ATTACK_UNIX_ENV: &str = "ZION_SCAN_WORKER_ATTACK_UNIX";
/// Test-only: a loopback UDP address (`127.0.0.1:PORT`) the attack sends to.
pub const ATTACK_UDP_ENV: &str = "ZION_SCAN_WORKER_ATTACK_UDP";
/// Test-only: a readable file the attack tries to `open()`.
pub const ATTACK_FILE_ENV: &str = "ZION_SCAN_WORKER_ATTACK_FILE";

/// The attack's targets, read from the environment.
struct Targets {
    unix: Option<PathBuf>,
    udp: Option<SocketAddrV4>,
    file: Option<PathBuf>,
}

/// Runs the attack when [`SELFTEST_ENV`] asks for it; returns false otherwise.
pub fn run_if_asked(confinement: &Confinement) -> bool {
    match std::env::var(SELFTEST_ENV).as_deref() {
        Ok("attack") => {}
        Ok("exec-memory") => {
            exec_memory(confinement);
            return true;
        }
        _ => return false,
    }
    let targets = Targets {
        unix: std::env::var_os(ATTACK_UNIX_ENV).map(PathBuf::from),
        udp: std::env::var(ATTACK_UDP_ENV)
            .ok()
            .and_then(|a| a.parse().ok()),
        file: std::env::var_os(ATTACK_FILE_ENV).map(PathBuf::from),
    };
    attack(confinement, &targets);
    true
}

/// One line of JSON per attempt on stdout, written as soon as it is made (the
/// last one, `execve`, may end the process): `{"attempt", "ok", "errno"}`.
fn report(attempt: &str, result: Result<(), rustix::io::Errno>) {
    let line = serde_json::json!({
        "attempt": attempt,
        "ok": result.is_ok(),
        "errno": result.err().map_or(0, |e| e.raw_os_error()),
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Tries, in order: `socket(AF_UNIX)`, `connect()` to the listening socket,
/// `socket(AF_INET, SOCK_DGRAM)`, `sendto()` the loopback address, `open()`
/// of the file and `execve("/bin/true")`. When a socket cannot be made, the
/// next step uses the one socket the worker already holds (its channel on
/// stdin), as an attacker would.
fn attack(confinement: &Confinement, targets: &Targets) {
    let confinement_line = serde_json::json!({ "confinement": confinement });
    println!("{confinement_line}");

    let unix = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None);
    report("socket_unix", unix.as_ref().map(|_| ()).map_err(|e| *e));
    if let Some(path) = &targets.unix {
        let result = SocketAddrUnix::new(path.as_path()).and_then(|addr| {
            let stdin = std::io::stdin();
            let fd: BorrowedFd<'_> = match &unix {
                Ok(fd) => fd.as_fd(),
                Err(_) => stdin.as_fd(),
            };
            rustix::net::connect(fd, &addr)
        });
        report("connect_unix", result);
    }

    let udp = rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, None);
    report("socket_udp", udp.as_ref().map(|_| ()).map_err(|e| *e));
    if let Some(addr) = &targets.udp {
        let stdin = std::io::stdin();
        let fd: BorrowedFd<'_> = match &udp {
            Ok(fd) => fd.as_fd(),
            Err(_) => stdin.as_fd(),
        };
        let result = rustix::net::sendto(fd, b"zion-attack", SendFlags::empty(), addr);
        report("sendto_udp", result.map(|_| ()));
    }

    if let Some(path) = &targets.file {
        let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC;
        let result = rustix::fs::open(path, flags, rustix::fs::Mode::empty());
        report("open_file", result.map(|_| ()));
    }

    // Last: if it works, this process becomes /bin/true.
    let error =
        std::os::unix::process::CommandExt::exec(&mut std::process::Command::new("/bin/true"));
    let errno = error
        .raw_os_error()
        .map_or(rustix::io::Errno::IO, rustix::io::Errno::from_raw_os_error);
    report("execve", Err(errno));
}

/// What shellcode needs and a JIT has: memory it can run. YARA-X's rules are
/// machine code made by wasmtime before the worker confines itself; after,
/// `mmap` and `mprotect` with `PROT_EXEC` are off its allow-list, so each try
/// kills the worker (`SIGSYS`). Reports `{"attempt": "trying", "call"}` before
/// each call and its result after, should it return.
fn exec_memory(confinement: &Confinement) {
    let confinement_line = serde_json::json!({ "confinement": confinement });
    println!("{confinement_line}");
    let trying = |call: &str| {
        let line = serde_json::json!({ "attempt": "trying", "call": call });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let page = 4096;
    // A writable page first (allowed), to turn executable below.
    // SAFETY: an anonymous private mapping; no memory is touched.
    let rw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    let mapped = rw != libc::MAP_FAILED;
    report(
        "mmap_rw",
        if mapped {
            Ok(())
        } else {
            Err(rustix::io::Errno::NOMEM)
        },
    );
    if mapped {
        trying("mprotect_exec");
        // SAFETY: `rw` is the page mapped above.
        let rc = unsafe { libc::mprotect(rw, page, libc::PROT_READ | libc::PROT_EXEC) };
        report("mprotect_exec", errno_of(rc == 0));
    }
    trying("mmap_exec");
    // SAFETY: an anonymous private mapping; no memory is touched.
    let rx = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    report("mmap_exec", errno_of(rx != libc::MAP_FAILED));
}

fn errno_of(ok: bool) -> Result<(), rustix::io::Errno> {
    if ok {
        Ok(())
    } else {
        Err(rustix::io::Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    }
}

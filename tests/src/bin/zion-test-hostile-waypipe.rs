//! A stand-in for the host's waypipe client after an exploit, for
//! `sandboxd/tests/waypipe_confined.rs`: started by the daemon exactly as
//! `waypipe --socket S … client` is, it first does what waypipe does (makes
//! its socket S, connects to `$WAYLAND_DISPLAY`), then reads probes from the
//! "compositor" on that connection, one a line, tries each and answers
//! `<probe>: ok <detail>` or `<probe>: denied <error>`:
//!
//! - `read PATH`, `write PATH`: read or write a file;
//! - `tcp HOST:PORT`: connect and send a line;
//! - `bus PATH`: connect to a D-Bus socket and authenticate (EXTERNAL);
//! - `abstract NAME`: connect to an abstract Unix socket;
//! - `signal PID`: `kill(PID, 0)`;
//! - `socket PATH`: make a listening Unix socket.
//!
//! `end` ends the probes (`done` answers); it then waits for the
//! connection to close. Only for tests: it does nothing harmful itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let socket = args
        .iter()
        .position(|a| a == "--socket")
        .and_then(|i| args.get(i + 1))
        .expect("--socket PATH");
    // What waypipe's client does first: its socket, for the sandbox.
    let _listener = UnixListener::bind(socket).unwrap_or_else(|e| {
        eprintln!("hostile waypipe: cannot make {socket}: {e}");
        std::process::exit(2)
    });
    let display = std::env::var("WAYLAND_DISPLAY").expect("WAYLAND_DISPLAY");
    let compositor = UnixStream::connect(&display).unwrap_or_else(|e| {
        eprintln!("hostile waypipe: cannot reach the compositor {display}: {e}");
        std::process::exit(3)
    });
    let mut out = compositor.try_clone().expect("a second handle");
    let _ = writeln!(out, "pid {}", std::process::id());
    let mut lines = BufReader::new(compositor);
    let mut line = String::new();
    while lines.read_line(&mut line).unwrap_or(0) > 0 {
        let probe = line.trim().to_owned();
        line.clear();
        if probe == "end" {
            let _ = writeln!(out, "done");
            break;
        }
        let answer = match try_probe(&probe) {
            Ok(detail) => format!("{probe}: ok {detail}"),
            Err(e) => format!("{probe}: denied {e}"),
        };
        let _ = writeln!(out, "{answer}");
    }
    // Stays, as waypipe does, until the other end goes.
    let mut rest = Vec::new();
    let _ = lines.read_to_end(&mut rest);
}

fn try_probe(probe: &str) -> std::io::Result<String> {
    let (kind, arg) = probe.split_once(' ').unwrap_or((probe, ""));
    match kind {
        "read" => std::fs::read_to_string(arg).map(|s| s.trim().to_owned()),
        "write" => std::fs::write(arg, "planted by a hostile waypipe\n").map(|()| String::new()),
        "tcp" => {
            let mut stream = std::net::TcpStream::connect(arg)?;
            stream.write_all(b"hello from a hostile waypipe\n")?;
            Ok(String::new())
        }
        "bus" => {
            let mut stream = UnixStream::connect(arg)?;
            let uid = rustix::process::getuid().as_raw().to_string();
            let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
            stream.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
            let mut reply = String::new();
            BufReader::new(stream).read_line(&mut reply)?;
            Ok(reply.trim().to_owned())
        }
        "abstract" => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(arg.as_bytes())?;
            UnixStream::connect_addr(&addr).map(|_| String::new())
        }
        "signal" => {
            let pid: i32 = arg
                .parse()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let pid = rustix::process::Pid::from_raw(pid)
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
            rustix::process::test_kill_process(pid)?;
            Ok(String::new())
        }
        "socket" => {
            let listener = UnixListener::bind(arg)?;
            drop(listener);
            let _ = std::fs::remove_file(arg);
            Ok(String::new())
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("no probe {kind}"),
        )),
    }
}

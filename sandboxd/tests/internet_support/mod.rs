//! A stand-in for the internet: a network namespace the test creates, joined
//! to the host by a veth pair and routed, so that a sandbox reaches a server
//! in it the way it reaches any address beyond the host. Zion's firewall
//! keeps containers off the host itself (every host address, the bridges'
//! gateways included), so a test's server can no longer listen there.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::fd::AsFd;
use std::process::Command;

/// The namespace, its veth pair and the address a server in it takes.
pub struct Internet {
    name: String,
    host_link: String,
    /// The address of servers started with [`Internet::listen`].
    pub ip: IpAddr,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Internet {
    /// Makes the namespace `zion-inet-<pid>-<n>` and its link: the host side
    /// 198.18.<a>.<b>/30, the namespace's side the next address, its default
    /// route through the host (198.18.0.0/15 is the benchmarking range: no
    /// real network uses it).
    pub fn new() -> Internet {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("zion-inet-{pid}-{n}");
        let host_link = format!("zi{:x}h{n}", pid % 0x00ff_ffff);
        let inner_link = format!("zi{:x}n{n}", pid % 0x00ff_ffff);
        // A /30 chosen from the pid and counter: parallel test binaries do
        // not collide in practice.
        let slot = (pid.wrapping_mul(7).wrapping_add(n)) % (512 * 64);
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + slot * 4;
        let host_ip = Ipv4Addr::from(base + 1);
        let inner_ip = Ipv4Addr::from(base + 2);
        ip(&["netns", "add", &name]);
        ip(&[
            "link",
            "add",
            &host_link,
            "type",
            "veth",
            "peer",
            "name",
            &inner_link,
        ]);
        ip(&["link", "set", &inner_link, "netns", &name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_link]);
        ip(&["link", "set", &host_link, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{inner_ip}/30"), "dev", &inner_link]);
        inside(&["link", "set", &inner_link, "up"]);
        inside(&["link", "set", "lo", "up"]);
        inside(&["route", "add", "default", "via", &host_ip.to_string()]);
        Internet {
            name,
            host_link,
            ip: IpAddr::V4(inner_ip),
        }
    }

    /// A listener inside the namespace on [`Internet::ip`], port chosen by
    /// the kernel. The socket stays in the namespace it was made in, so any
    /// thread may accept on it.
    pub fn listen(&self) -> TcpListener {
        let path = format!("/run/netns/{}", self.name);
        let ip = self.ip;
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).expect("the namespace");
            rustix::thread::move_into_link_name_space(
                ns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("entering the namespace");
            TcpListener::bind((ip, 0)).expect("listening in the namespace")
        })
        .join()
        .expect("the listening thread")
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// What a test's web server answers to a path: status line (`200 OK`),
/// extra header lines (each ending in `\r\n`), content type and body.
pub struct Reply {
    /// The status, as `200 OK`.
    pub status: &'static str,
    /// Extra header lines, each ending in `\r\n`.
    pub headers: String,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// A web server in `internet` answering each request with `route(path)`;
/// returns its port and the paths requested, in order.
pub fn serve(
    internet: &Internet,
    route: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::sync::{Arc, Mutex};
    let listener = internet.listen();
    let port = listener.local_addr().expect("address").port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let route = Arc::new(route);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let (seen, route) = (seen.clone(), route.clone());
            std::thread::spawn(move || answer(stream, &seen, &*route));
        }
    });
    (port, requests)
}

/// Reads one request's head from `stream`, records its path and writes
/// `route`'s reply.
fn answer(
    mut stream: std::net::TcpStream,
    seen: &std::sync::Mutex<Vec<String>>,
    route: &dyn Fn(&str) -> Reply,
) {
    use std::io::{Read, Write};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(path.clone());
    let reply = route(&path);
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.headers,
        reply.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
}

//! A hung Podman must not hang Zion: every request has a limit. The peer
//! here is a real unix socket server in the test that accepts connections
//! and never answers (or answers half), which is what a hung Podman looks
//! like from the client's side. Each call runs under an outer limit far above
//! the client's own: hitting the outer one means the client hung.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use zion_profiles::{Lifecycle, LifecycleError, PodmanClient, Timeouts};

/// The client's limit in these tests.
const LIMIT: Duration = Duration::from_millis(800);
/// The outer limit: a call still running then has hung.
const HUNG: Duration = Duration::from_secs(20);

/// What the peer does with each connection it accepts.
#[derive(Clone, Copy)]
enum Peer {
    /// Keeps it open and never reads nor writes.
    Silent,
    /// Reads the request, never answers.
    ReadsOnly,
    /// Reads the request, sends the head and part of the body, then stalls.
    StallsMidAnswer,
    /// Reads the request and answers with `answer`.
    Answers(&'static [u8]),
}

/// A unix socket server in a temporary folder, serving until dropped.
struct Server {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn serve(peer: Peer) -> Server {
    let dir = tempfile::tempdir().expect("temporary folder");
    let socket = dir.path().join("podman.sock");
    let listener = UnixListener::bind(&socket).expect("bind the socket");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            match peer {
                // Held, never touched: the peer is alive and hung.
                Peer::Silent => held.push(stream),
                other => {
                    tokio::spawn(answer(stream, other));
                }
            }
        }
    });
    Server {
        _dir: dir,
        socket,
        task,
    }
}

/// Reads one request (head, then `Content-Length` bytes of body) and does
/// what `peer` says.
async fn answer(mut stream: UnixStream, peer: Peer) {
    let mut request = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let head_end = loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    match peer {
        Peer::Silent | Peer::ReadsOnly => {}
        Peer::StallsMidAnswer => {
            let _ = stream
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{\"Id\":")
                .await;
        }
        Peer::Answers(bytes) => {
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
            return;
        }
    }
    // Hung: the connection stays open until the client gives up.
    let _ = stream.read(&mut buf).await;
    std::future::pending::<()>().await;
}

fn client(socket: &Path) -> PodmanClient {
    PodmanClient::unix(socket).with_timeouts(Timeouts {
        connect: LIMIT,
        request: LIMIT,
        long: Some(LIMIT),
    })
}

/// Runs `call` under the outer limit; panics if it hung. Returns its result
/// and how long it took.
async fn bounded<T>(what: &str, call: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    match tokio::time::timeout(HUNG, call).await {
        Ok(done) => (done, started.elapsed()),
        Err(_) => panic!("{what} hung: no answer nor error after {HUNG:?}"),
    }
}

/// The error is the timeout of `endpoint` under `LIMIT`, and came in time.
fn assert_timeout<T: std::fmt::Debug>(
    result: Result<T, LifecycleError>,
    took: Duration,
    want_endpoint: &str,
    want_limit: Duration,
) {
    match result {
        Err(LifecycleError::Timeout {
            endpoint, limit, ..
        }) => {
            assert_eq!(endpoint, want_endpoint);
            assert_eq!(limit, want_limit);
        }
        other => panic!("expected the timeout of `{want_endpoint}`, got {other:?}"),
    }
    assert!(took >= LIMIT, "gave up after {took:?}, before its limit");
    assert!(
        took < LIMIT + Duration::from_secs(3),
        "gave up after {took:?}, long after its limit {LIMIT:?}"
    );
}

fn spec() -> serde_json::Value {
    serde_json::json!({ "name": "zion-test", "image": "localhost/none" })
}

#[tokio::test]
async fn create_on_a_podman_that_accepts_and_never_answers_times_out() {
    let server = serve(Peer::Silent);
    let client = client(&server.socket);
    let (result, took) = bounded("create", client.create_container(&spec())).await;
    assert_timeout(result, took, "POST /libpod/containers/create", LIMIT);
}

#[tokio::test]
async fn create_on_a_podman_that_reads_and_never_answers_times_out() {
    let server = serve(Peer::ReadsOnly);
    let client = client(&server.socket);
    let (result, took) = bounded("create", client.create_container(&spec())).await;
    assert_timeout(result, took, "POST /libpod/containers/create", LIMIT);
}

#[tokio::test]
async fn an_answer_that_stalls_halfway_times_out() {
    let server = serve(Peer::StallsMidAnswer);
    let client = client(&server.socket);
    let (result, took) = bounded("create", client.create_container(&spec())).await;
    assert_timeout(result, took, "POST /libpod/containers/create", LIMIT);
}

#[tokio::test]
async fn the_cpu_weight_on_a_hung_podman_times_out() {
    let server = serve(Peer::ReadsOnly);
    let client = client(&server.socket);
    let (result, took) = bounded("update", client.update_cpu_shares("abc123", 512)).await;
    assert_timeout(result, took, "POST /libpod/containers/abc123/update", LIMIT);
}

#[tokio::test]
async fn an_import_into_a_hung_podman_times_out_under_the_long_limit() {
    // 8 MiB: more than the socket buffers hold, so the upload itself stalls
    // on a peer that never reads.
    let dir = tempfile::tempdir().expect("temporary folder");
    let tarball = dir.path().join("image.tar");
    std::fs::write(&tarball, vec![0u8; 8 << 20]).expect("write the tarball");
    let server = serve(Peer::Silent);
    let long = LIMIT * 2;
    let client = PodmanClient::unix(&server.socket).with_timeouts(Timeouts {
        connect: LIMIT,
        request: LIMIT,
        long: Some(long),
    });
    let (result, took) = bounded(
        "import",
        client.import_image(&tarball, "localhost/zion-x:1", |_, _| {}),
    )
    .await;
    assert_timeout(result, took, "POST /libpod/images/import", long);
    assert!(
        took >= long,
        "gave up after {took:?}, before the long limit"
    );
}

#[tokio::test]
async fn podman_api_calls_on_a_hung_podman_time_out() {
    let server = serve(Peer::ReadsOnly);
    let client = client(&server.socket);

    let (result, took) = bounded("ping", client.ping()).await;
    match &result {
        Err(LifecycleError::Unreachable { source, .. }) => assert!(
            matches!(
                zion_profiles::podman::timeout_of(source),
                Some(LifecycleError::Timeout { endpoint, .. }) if endpoint == "GET /libpod/_ping"
            ),
            "not a timeout: {source}"
        ),
        other => panic!("expected an unreachable Podman, got {other:?}"),
    }
    assert!(took < LIMIT + Duration::from_secs(3), "took {took:?}");

    let lifecycle = Lifecycle::new(client);
    let (result, took) = bounded("find", lifecycle.find("work")).await;
    assert_timeout(result, took, "GET /libpod/containers/json", LIMIT);
}

#[tokio::test]
async fn chunked_answers_are_decoded() {
    let server = serve(Peer::Answers(
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"Id\r\n9\r\n\":\"abc1\"}\r\n0\r\n\r\n",
    ));
    let (result, _) = bounded("create", client(&server.socket).create_container(&spec())).await;
    assert_eq!(result.expect("created").id, "abc1");

    let server = serve(Peer::Answers(
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n{\"message\":\"no \r\n9\r\nsuch img\"\r\n1\r\n}\r\n0\r\n\r\n",
    ));
    let (result, _) = bounded("create", client(&server.socket).create_container(&spec())).await;
    match result {
        Err(LifecycleError::Podman { message, .. }) => assert_eq!(message, "no such img"),
        other => panic!("expected Podman's refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_truncated_answer_is_an_error_not_a_success() {
    let server = serve(Peer::Answers(
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"Id\":\"ab",
    ));
    let (result, _) = bounded("create", client(&server.socket).create_container(&spec())).await;
    assert!(
        matches!(result, Err(LifecycleError::Http { .. })),
        "{result:?}"
    );
}

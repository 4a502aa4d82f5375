//! The connection to Podman: `podman-api` for everything it does right, and
//! one plain HTTP request for container creation, whose body Zion builds
//! itself (see [`crate::spec`]).

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::LifecycleError;

/// The API version Podman 4.3 serves and podman-api 0.11 speaks.
const API_VERSION: &str = "v4.3.1";

/// A Podman API service reached over its unix socket.
#[derive(Clone)]
pub struct PodmanClient {
    socket: PathBuf,
    api: podman_api::Podman,
}

impl std::fmt::Debug for PodmanClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodmanClient")
            .field("socket", &self.socket)
            .finish()
    }
}

impl PodmanClient {
    /// A client of the service at `uri` (`unix:///path/to/podman.sock`).
    pub fn new(uri: &str) -> Result<PodmanClient, LifecycleError> {
        let socket = uri
            .strip_prefix("unix://")
            .map(PathBuf::from)
            .ok_or_else(|| LifecycleError::Address {
                uri: uri.to_owned(),
            })?;
        Ok(PodmanClient::unix(socket))
    }

    /// A client of the service listening at `socket`.
    pub fn unix(socket: impl Into<PathBuf>) -> PodmanClient {
        let socket = socket.into();
        let api = podman_api::Podman::unix(&socket);
        PodmanClient { socket, api }
    }

    /// The service's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The podman-api client.
    pub fn api(&self) -> &podman_api::Podman {
        &self.api
    }

    /// Whether Podman runs rootless (its own answer, `host.security.rootless`).
    pub async fn rootless(&self) -> Result<bool, LifecycleError> {
        let info = self
            .api
            .info()
            .await
            .map_err(|source| LifecycleError::Unreachable {
                socket: self.socket.clone(),
                source,
            })?;
        Ok(info
            .host
            .and_then(|h| h.security)
            .and_then(|s| s.rootless)
            .unwrap_or(false))
    }

    /// Whether the service answers.
    pub async fn ping(&self) -> Result<(), LifecycleError> {
        self.api
            .ping()
            .await
            .map(|_| ())
            .map_err(|source| LifecycleError::Unreachable {
                socket: self.socket.clone(),
                source,
            })
    }

    /// `POST /libpod/containers/create` with `body`; returns the new id.
    pub async fn create_container(
        &self,
        body: &serde_json::Value,
    ) -> Result<String, LifecycleError> {
        let path = format!("/{API_VERSION}/libpod/containers/create");
        let (status, response) = self.post_json(&path, body).await?;
        if status != 201 && status != 200 {
            return Err(LifecycleError::Podman {
                action: "create",
                message: api_message(&response),
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(&response).map_err(|e| LifecycleError::Podman {
                action: "create",
                message: format!("unreadable answer: {e}"),
            })?;
        value["Id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| LifecycleError::Podman {
                action: "create",
                message: format!("answer without an id: {value}"),
            })
    }

    /// `POST /libpod/images/import`: the tar archive at `tarball` becomes the
    /// image `reference` (with `CMD /bin/sh`), streamed from the file;
    /// `on_sent(sent, total)` follows the upload. Returns the image id.
    pub async fn import_image(
        &self,
        tarball: &Path,
        reference: &str,
        mut on_sent: impl FnMut(u64, u64),
    ) -> Result<String, LifecycleError> {
        let io = |source| LifecycleError::Io {
            socket: self.socket.clone(),
            source,
        };
        let mut file = tokio::fs::File::open(tarball).await.map_err(io)?;
        let total = file.metadata().await.map_err(io)?.len();
        let path = format!(
            "/{API_VERSION}/libpod/images/import?reference={}&changes={}",
            query_escape(reference),
            query_escape("CMD /bin/sh")
        );
        let mut stream = UnixStream::connect(&self.socket).await.map_err(io)?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: podman\r\nContent-Type: application/x-tar\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.map_err(io)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut sent = 0u64;
        loop {
            let n = file.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            stream.write_all(&buf[..n]).await.map_err(io)?;
            sent += n as u64;
            on_sent(sent, total);
        }
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(io)?;
        let failed = |message| LifecycleError::Podman {
            action: "import the image",
            message,
        };
        let (status, body) = parse_response(&raw).ok_or_else(|| {
            failed(format!(
                "malformed HTTP answer: {}",
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            ))
        })?;
        if status != 200 {
            return Err(failed(api_message(&body)));
        }
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| failed(format!("unreadable answer: {e}")))?;
        value["Id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| failed(format!("answer without an id: {value}")))
    }

    /// `POST /libpod/containers/{container}/update` (`podman update
    /// --cpu-shares`): the container's CPU weight, as cgroup v1 shares
    /// (1024 the default; on cgroup v2 Podman turns them into `cpu.weight`).
    pub async fn update_cpu_shares(
        &self,
        container: &str,
        shares: u64,
    ) -> Result<(), LifecycleError> {
        let path = format!("/{API_VERSION}/libpod/containers/{container}/update");
        let body = serde_json::json!({ "cpu": { "shares": shares } });
        let (status, response) = self.post_json(&path, &body).await?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(LifecycleError::Podman {
            action: "update the CPU weight",
            message: format!("container {container}: {}", api_message(&response)),
        })
    }

    async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, Vec<u8>), LifecycleError> {
        let io = |source| LifecycleError::Io {
            socket: self.socket.clone(),
            source,
        };
        let body = serde_json::to_vec(body).unwrap_or_default();
        let mut stream = UnixStream::connect(&self.socket).await.map_err(io)?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: podman\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.map_err(io)?;
        stream.write_all(&body).await.map_err(io)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(io)?;
        parse_response(&raw).ok_or_else(|| LifecycleError::Podman {
            action: "create",
            message: format!(
                "malformed HTTP answer: {}",
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            ),
        })
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Podman's error answers are `{"cause": …, "message": …}`.
fn api_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// Splits an HTTP/1.1 answer into status and body, undoing chunked encoding.
fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let body = &raw[split + 4..];
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    if !chunked {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some((status, out));
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("localhost/zion-x:1"), "localhost%2Fzion-x%3A1");
        assert_eq!(query_escape("CMD /bin/sh"), "CMD%20%2Fbin%2Fsh");
    }

    #[test]
    fn plain_and_chunked_answers_are_read() {
        let plain = b"HTTP/1.1 201 Created\r\nContent-Length: 11\r\n\r\n{\"Id\":\"ab\"}";
        assert_eq!(
            parse_response(plain),
            Some((201, b"{\"Id\":\"ab\"}".to_vec()))
        );
        let chunked = b"HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((500, b"abcdef".to_vec())));
    }

    #[test]
    fn a_truncated_answer_is_not_taken_for_a_good_one() {
        assert_eq!(parse_response(b"HTTP/1.1 201 Created\r\n"), None);
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"),
            None
        );
    }
}

//! The connection to Podman: `podman-api` for everything it does right, and
//! plain HTTP/1.1 requests (through hyper, [`wire`]) for container creation,
//! whose body Zion builds itself (see [`crate::spec`]), image import and the
//! CPU weight.
//!
//! Every call has a limit ([`Timeouts`]): a hung Podman makes a call fail
//! with [`LifecycleError::Timeout`] (or [`LifecycleError::ConnectTimeout`])
//! instead of hanging the daemon. podman-api has no limits of its own, so its
//! calls go through [`PodmanClient::timed`].

mod connect;
mod wire;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Full, StreamBody};
use hyper::body::Frame;
use hyper::{header, Method, Request, StatusCode};
use tokio::io::AsyncReadExt;

use crate::host::HostCgroups;
use crate::LifecycleError;

pub use connect::{connect, NoPodman, PodmanCandidates};

/// The API version Podman 4.3 serves and podman-api 0.11 speaks.
const API_VERSION: &str = "v4.3.1";

/// How much of the tarball goes in one write of an import.
const IMPORT_CHUNK: usize = 1 << 20;

/// How long Zion waits for Podman. A limit that runs out is an error naming
/// the request and the limit; nothing waits for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting to the socket (default 5 s).
    pub connect: Duration,
    /// One ordinary request, connection to the end of the answer (default
    /// 60 s). A stop waits for the container's grace period (10 s) before
    /// Podman answers; a create or start under load takes seconds.
    pub request: Duration,
    /// Requests whose length grows with the data: image import (upload and
    /// commit of a tarball of up to a gigabyte), checkpoint and restore
    /// (default 30 min). `None`: no limit.
    pub long: Option<Duration>,
}

impl Default for Timeouts {
    /// `[podman]`'s defaults: 5 s, 60 s, 30 min.
    fn default() -> Timeouts {
        Timeouts::from(&zion_config::PodmanSettings::default())
    }
}

impl From<&zion_config::PodmanSettings> for Timeouts {
    fn from(settings: &zion_config::PodmanSettings) -> Timeouts {
        Timeouts {
            connect: settings.connect_timeout,
            request: settings.request_timeout,
            long: settings.long_timeout,
        }
    }
}

/// A Podman API service reached over its unix socket.
#[derive(Clone)]
pub struct PodmanClient {
    socket: PathBuf,
    api: podman_api::Podman,
    timeouts: Timeouts,
}

impl std::fmt::Debug for PodmanClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodmanClient")
            .field("socket", &self.socket)
            .field("timeouts", &self.timeouts)
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
        PodmanClient {
            socket,
            api,
            timeouts: Timeouts::default(),
        }
    }

    /// The same client with other limits.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> PodmanClient {
        self.timeouts = timeouts;
        self
    }

    /// Its limits.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The service's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The podman-api client. It has no limits of its own: put each call
    /// under [`PodmanClient::timed`] (or [`PodmanClient::timed_long`]).
    pub fn api(&self) -> &podman_api::Podman {
        &self.api
    }

    /// Runs one podman-api `call` under the request limit. When the limit
    /// runs out the call is dropped (its connection closed) and the error is
    /// a [`LifecycleError::Timeout`] inside `podman_api::conn::Error::Any`, so
    /// callers keep their error types ([`timeout_of`] finds it again).
    /// `endpoint` names the request in the error (`POST
    /// /libpod/containers/{id}/pause`).
    pub async fn timed<T>(
        &self,
        endpoint: &str,
        call: impl Future<Output = Result<T, podman_api::Error>>,
    ) -> Result<T, podman_api::Error> {
        self.limited(endpoint, Some(self.timeouts.request), call)
            .await
    }

    /// [`PodmanClient::timed`] under the long limit (checkpoint, restore).
    pub async fn timed_long<T>(
        &self,
        endpoint: &str,
        call: impl Future<Output = Result<T, podman_api::Error>>,
    ) -> Result<T, podman_api::Error> {
        self.limited(endpoint, self.timeouts.long, call).await
    }

    async fn limited<T>(
        &self,
        endpoint: &str,
        limit: Option<Duration>,
        call: impl Future<Output = Result<T, podman_api::Error>>,
    ) -> Result<T, podman_api::Error> {
        let Some(limit) = limit else {
            return call.await;
        };
        match tokio::time::timeout(limit, call).await {
            Ok(done) => done,
            Err(_) => {
                tracing::warn!("Podman did not answer `{endpoint}` within {limit:?}");
                Err(podman_api::Error::Error(podman_api::conn::Error::Any(
                    Box::new(self.timeout(endpoint, limit)),
                )))
            }
        }
    }

    fn timeout(&self, endpoint: &str, limit: Duration) -> LifecycleError {
        LifecycleError::Timeout {
            socket: self.socket.clone(),
            endpoint: endpoint.to_owned(),
            limit,
        }
    }

    /// Whether Podman runs rootless (its own answer, `host.security.rootless`).
    pub async fn rootless(&self) -> Result<bool, LifecycleError> {
        Ok(self.host().await?.rootless)
    }

    /// Podman's view of its cgroups and whether it runs rootless
    /// (`GET /libpod/info`), from which [`crate::host::capabilities`] decides
    /// what profiles can have here.
    pub async fn host(&self) -> Result<HostCgroups, LifecycleError> {
        Ok(HostCgroups::from_info(&self.info().await?))
    }

    /// `GET /libpod/info`.
    async fn info(&self) -> Result<podman_api::models::Info, LifecycleError> {
        self.timed("GET /libpod/info", self.api.info())
            .await
            .map_err(|source| LifecycleError::Unreachable {
                socket: self.socket.clone(),
                source,
            })
    }

    /// [`PodmanClient::host`] and, from the same answer, the uid map
    /// rootless Podman gives containers by default (empty under rootful
    /// Podman, which maps nothing unless asked).
    pub async fn host_and_uid_map(
        &self,
    ) -> Result<(HostCgroups, crate::spec::UidMap), LifecycleError> {
        let info = self.info().await?;
        let host = HostCgroups::from_info(&info);
        let map = crate::spec::UidMap::from_info(&info, host.rootless);
        Ok((host, map))
    }

    /// Whether Podman has the image `reference`.
    pub async fn image_exists(&self, reference: &str) -> Result<bool, LifecycleError> {
        let image = self.api.images().get(reference);
        self.timed(
            &format!("GET /libpod/images/{reference}/exists"),
            image.exists(),
        )
        .await
        .map_err(|source| LifecycleError::Unreachable {
            socket: self.socket.clone(),
            source,
        })
    }

    /// Whether the service answers, within the connect limit: a ping costs
    /// Podman nothing, and the daemon tries the next socket sooner when one
    /// hangs.
    pub async fn ping(&self) -> Result<(), LifecycleError> {
        self.limited(
            "GET /libpod/_ping",
            Some(self.timeouts.connect),
            self.api.ping(),
        )
        .await
        .map(|_| ())
        .map_err(|source| LifecycleError::Unreachable {
            socket: self.socket.clone(),
            source,
        })
    }

    /// `POST /libpod/containers/create` with `body`; returns the new id and
    /// the warnings Podman gave with it (rootless Podman on cgroup v1:
    /// "Resource limits are not supported and ignored on cgroups V1
    /// rootless systems"), which the caller must not drop.
    pub async fn create_container(
        &self,
        body: &serde_json::Value,
    ) -> Result<Created, LifecycleError> {
        let path = format!("/{API_VERSION}/libpod/containers/create");
        let (status, response) = self.post_json(&path, body).await?;
        if status != StatusCode::CREATED && status != StatusCode::OK {
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
        Created::from_answer(&value).ok_or_else(|| LifecycleError::Podman {
            action: "create",
            message: format!("answer without an id: {value}"),
        })
    }

    /// `POST /libpod/images/import`: the tar archive at `tarball` becomes the
    /// image `reference` (with `CMD /bin/sh`), streamed from the file;
    /// `on_sent(sent, total)` follows the upload. Returns the image id. The
    /// whole import is under the long limit ([`Timeouts::long`]).
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
        let file = tokio::fs::File::open(tarball).await.map_err(io)?;
        let total = file.metadata().await.map_err(io)?.len();
        let path = format!(
            "/{API_VERSION}/libpod/images/import?reference={}&changes={}",
            wire::escape(reference),
            wire::escape("CMD /bin/sh")
        );
        // hyper sends the body from its connection, which cannot borrow
        // `on_sent`: the body reports progress over a channel instead.
        let (progress, mut sent) = tokio::sync::mpsc::unbounded_channel();
        let chunks = futures_util::stream::try_unfold(
            (file, progress, 0u64),
            |(mut file, progress, done)| async move {
                let mut chunk = vec![0u8; IMPORT_CHUNK];
                let n = file.read(&mut chunk).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(None);
                }
                chunk.truncate(n);
                let done = done + n as u64;
                let _ = progress.send(done);
                Ok(Some((
                    Frame::data(Bytes::from(chunk)),
                    (file, progress, done),
                )))
            },
        );
        let request = Request::post(&path)
            .header(header::HOST, "podman")
            .header(header::CONTENT_TYPE, "application/x-tar")
            .header(header::CONTENT_LENGTH, total)
            .body(StreamBody::new(chunks))
            .map_err(|e| LifecycleError::Podman {
                action: "import the image",
                message: e.to_string(),
            })?;
        let exchange = self.exchange(request, self.timeouts.long);
        tokio::pin!(exchange);
        let answer = loop {
            tokio::select! {
                answer = &mut exchange => break answer,
                Some(n) = sent.recv() => on_sent(n, total),
            }
        };
        while let Ok(n) = sent.try_recv() {
            on_sent(n, total);
        }
        let (status, body) = answer?;
        let failed = |message| LifecycleError::Podman {
            action: "import the image",
            message,
        };
        if status != StatusCode::OK {
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
        let path = format!(
            "/{API_VERSION}/libpod/containers/{}/update",
            wire::escape(container)
        );
        let body = serde_json::json!({ "cpu": { "shares": shares } });
        let (status, response) = self.post_json(&path, &body).await?;
        if status.is_success() {
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
    ) -> Result<(StatusCode, Bytes), LifecycleError> {
        let body = serde_json::to_vec(body).unwrap_or_default();
        let request = Request::post(path)
            .header(header::HOST, "podman")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| LifecycleError::Podman {
                action: "send a request",
                message: e.to_string(),
            })?;
        self.exchange(request, Some(self.timeouts.request)).await
    }

    /// One request of Zion's own, under `limit` (`None`: none) and the
    /// connect limit.
    async fn exchange<B>(
        &self,
        request: Request<B>,
        limit: Option<Duration>,
    ) -> Result<(StatusCode, Bytes), LifecycleError>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let endpoint = endpoint(request.method(), request.uri().path());
        let call = wire::exchange(&self.socket, self.timeouts.connect, request);
        let done = match limit {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(done) => done,
                Err(_) => {
                    tracing::warn!("Podman did not answer `{endpoint}` within {limit:?}");
                    return Err(self.timeout(&endpoint, limit));
                }
            },
            None => call.await,
        };
        done.map_err(|failure| match failure {
            wire::Failure::ConnectTimeout => LifecycleError::ConnectTimeout {
                socket: self.socket.clone(),
                limit: self.timeouts.connect,
            },
            wire::Failure::Io(source) => LifecycleError::Io {
                socket: self.socket.clone(),
                source,
            },
            wire::Failure::Http(source) => LifecycleError::Http {
                socket: self.socket.clone(),
                endpoint,
                source,
            },
        })
    }
}

/// `METHOD /path` without the API version, as errors name a request.
fn endpoint(method: &Method, path: &str) -> String {
    let path = path
        .strip_prefix(&format!("/{API_VERSION}"))
        .unwrap_or(path);
    format!("{method} {path}")
}

/// The [`LifecycleError::Timeout`] (or other Zion error) inside an error of
/// a call made through [`PodmanClient::timed`], if that is what it is.
pub fn timeout_of(error: &podman_api::Error) -> Option<&LifecycleError> {
    match error {
        podman_api::Error::Error(podman_api::conn::Error::Any(inner)) => {
            inner.downcast_ref::<LifecycleError>()
        }
        _ => None,
    }
}

/// A container Podman made: `{"Id": …, "Warnings": […]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Its id.
    pub id: String,
    /// What Podman warned about making it (limits it ignores, …), as it
    /// said it.
    pub warnings: Vec<String>,
}

impl Created {
    /// Reads Podman's answer to a create; `None` without an id.
    fn from_answer(value: &serde_json::Value) -> Option<Created> {
        let id = value["Id"].as_str()?.to_owned();
        let warnings = value["Warnings"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|w| w.as_str())
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Some(Created { id, warnings })
    }
}

/// Podman's error answers are `{"cause": …, "message": …}`.
fn api_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_zion_toml_and_default_as_before() {
        let t = Timeouts::default();
        assert_eq!(t.connect, Duration::from_secs(5));
        assert_eq!(t.request, Duration::from_secs(60));
        assert_eq!(t.long, Some(Duration::from_secs(30 * 60)));
        let text = "[[profile]]\nname = \"work\"\n[podman]\nrequest_timeout = \"2m\"\nlong_timeout = \"never\"\n";
        let config = zion_config::Config::parse(text, Path::new("zion.toml")).expect("valid");
        let t = Timeouts::from(&config.podman);
        assert_eq!(
            (t.connect, t.request, t.long),
            (Duration::from_secs(5), Duration::from_secs(120), None)
        );
    }

    #[test]
    fn a_create_answer_keeps_podmans_warnings() {
        let answer = serde_json::json!({
            "Id": "c0ffee",
            "Warnings": ["Resource limits are not supported and ignored on cgroups V1 rootless systems", ""]
        });
        assert_eq!(
            Created::from_answer(&answer),
            Some(Created {
                id: "c0ffee".into(),
                warnings: vec![
                    "Resource limits are not supported and ignored on cgroups V1 rootless systems"
                        .into()
                ],
            })
        );
        let quiet = serde_json::json!({"Id": "c0ffee", "Warnings": null});
        assert_eq!(
            Created::from_answer(&quiet).map(|c| c.warnings),
            Some(vec![])
        );
        assert_eq!(
            Created::from_answer(&serde_json::json!({"Warnings": []})),
            None
        );
    }

    #[test]
    fn endpoints_are_named_without_the_api_version() {
        assert_eq!(
            endpoint(&Method::POST, "/v4.3.1/libpod/containers/create"),
            "POST /libpod/containers/create"
        );
        assert_eq!(endpoint(&Method::GET, "/other"), "GET /other");
    }

    #[test]
    fn a_timeout_is_found_inside_a_podman_api_error() {
        let client = PodmanClient::unix("/nonexistent.sock");
        let err = podman_api::Error::Error(podman_api::conn::Error::Any(Box::new(
            client.timeout("GET /x", Duration::from_secs(1)),
        )));
        assert!(matches!(
            timeout_of(&err),
            Some(LifecycleError::Timeout { endpoint, .. }) if endpoint == "GET /x"
        ));
        assert!(err.to_string().contains("within 1s"), "{err}");
    }
}

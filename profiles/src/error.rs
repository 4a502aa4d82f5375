use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong driving profile containers.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The Podman address is not a unix socket URI.
    #[error("`{uri}` is not a Podman address Zion can use: give `unix:///path/to/podman.sock`")]
    Address {
        /// The address given.
        uri: String,
    },
    /// Podman does not answer.
    #[error("Podman does not answer at {socket}: {source}")]
    Unreachable {
        /// Its socket.
        socket: PathBuf,
        /// Why.
        #[source]
        source: podman_api::Error,
    },
    /// Talking to Podman's socket failed.
    #[error("talking to Podman at {socket}: {source}")]
    Io {
        /// Its socket.
        socket: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Podman's socket took no connection within the connect limit.
    #[error("Podman at {socket} took no connection within {limit:?} (connect limit)")]
    ConnectTimeout {
        /// Its socket.
        socket: PathBuf,
        /// The limit that ran out.
        limit: Duration,
    },
    /// Podman did not answer a request within its limit: it is hung or
    /// overloaded, and the caller goes on instead of waiting for ever.
    #[error("Podman at {socket} did not answer `{endpoint}` within {limit:?}")]
    Timeout {
        /// Its socket.
        socket: PathBuf,
        /// The request, as `METHOD /path`.
        endpoint: String,
        /// The limit that ran out.
        limit: Duration,
    },
    /// Podman's answer broke HTTP/1.1.
    #[error("talking HTTP to Podman at {socket} (`{endpoint}`): {source}")]
    Http {
        /// Its socket.
        socket: PathBuf,
        /// The request, as `METHOD /path`.
        endpoint: String,
        /// Why.
        #[source]
        source: hyper::Error,
    },
    /// Podman refused or failed a request.
    #[error("Podman could not {action}: {message}")]
    Podman {
        /// What was asked.
        action: &'static str,
        /// Podman's message.
        message: String,
    },
    /// Podman refused or failed a request about a profile.
    #[error("profile `{profile}`: Podman could not {action} its container: {message}")]
    Profile {
        /// The profile.
        profile: String,
        /// What was asked.
        action: &'static str,
        /// Podman's message.
        message: String,
    },
    /// The profile has no container.
    #[error("profile `{profile}` has no container; start it first")]
    NoContainer {
        /// The profile.
        profile: String,
    },
    /// The profile is not running.
    #[error("profile `{profile}` is not running; start it first")]
    NotRunning {
        /// The profile.
        profile: String,
    },
    /// The profile is frozen.
    #[error("profile `{profile}` is frozen; resume it first")]
    Frozen {
        /// The profile.
        profile: String,
    },
}

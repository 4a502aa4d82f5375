//! Finding the Podman service: `CONTAINER_HOST`, else the user's socket, else
//! the system's; an error that names everything tried when none answers.

use std::path::PathBuf;

use super::PodmanClient;

/// The Podman addresses to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodmanCandidates(pub Vec<String>);

impl PodmanCandidates {
    /// `CONTAINER_HOST` if set (and only it: an explicit choice is not
    /// second-guessed), else `$XDG_RUNTIME_DIR/podman/podman.sock`, else
    /// `/run/podman/podman.sock`.
    pub fn from_vars(container_host: Option<String>, runtime: Option<PathBuf>) -> PodmanCandidates {
        if let Some(host) = container_host.filter(|h| !h.is_empty()) {
            return PodmanCandidates(vec![host]);
        }
        let mut list = Vec::new();
        if let Some(runtime) = runtime {
            list.push(format!(
                "unix://{}",
                runtime.join("podman/podman.sock").display()
            ));
        }
        list.push("unix:///run/podman/podman.sock".to_owned());
        PodmanCandidates(list)
    }

    /// From this process's environment.
    pub fn from_env() -> PodmanCandidates {
        PodmanCandidates::from_vars(
            std::env::var("CONTAINER_HOST").ok(),
            std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        )
    }
}

/// No Podman service answered: every address tried, with why it failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Podman service answers; tried:\n  {}\nstart one (`systemctl --user start podman.socket`, or `podman system service`) or set CONTAINER_HOST",
    tried.join("\n  ")
)]
pub struct NoPodman {
    /// `address: reason`, one per candidate.
    pub tried: Vec<String>,
}

/// Connects to the first candidate that answers.
pub async fn connect(candidates: &PodmanCandidates) -> Result<PodmanClient, NoPodman> {
    let mut tried = Vec::new();
    for uri in &candidates.0 {
        match PodmanClient::new(uri) {
            Ok(client) => match client.ping().await {
                Ok(()) => return Ok(client),
                Err(err) => tried.push(format!("{uri}: {err}")),
            },
            Err(err) => tried.push(format!("{uri}: {err}")),
        }
    }
    Err(NoPodman { tried })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_host_wins_alone() {
        let c =
            PodmanCandidates::from_vars(Some("unix:///x.sock".into()), Some("/run/user/1".into()));
        assert_eq!(c.0, vec!["unix:///x.sock"]);
    }

    #[test]
    fn user_socket_comes_before_the_system_one() {
        let c = PodmanCandidates::from_vars(None, Some("/run/user/1".into()));
        assert_eq!(
            c.0,
            vec![
                "unix:///run/user/1/podman/podman.sock",
                "unix:///run/podman/podman.sock"
            ]
        );
    }
}

//! A profile's container through its life: create, start, exec an app,
//! freeze, thaw, stop, remove — and adopt the container a previous run left
//! instead of making a second one.

use futures_util::StreamExt;
use podman_api::conn::TtyChunk;
use podman_api::opts::{
    ContainerDeleteOpts, ContainerListFilter, ContainerListOpts, ContainerStopOpts, ExecCreateOpts,
    ExecStartOpts,
};

use crate::podman::{Created, PodmanClient};
use crate::spec::{ContainerSpec, LABEL_PROFILE, LABEL_SPEC};
use crate::LifecycleError;

/// A container's state as Podman reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Frozen by the cgroup freezer.
    Paused,
    /// Stopped or exited.
    Exited,
    /// Anything else Podman says (`stopping`, `removing`, …).
    Other(String),
}

impl ContainerState {
    fn parse(state: &str) -> ContainerState {
        match state {
            "created" | "configured" | "initialized" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "exited" | "stopped" => ContainerState::Exited,
            other => ContainerState::Other(other.to_owned()),
        }
    }
}

/// A profile container found in Podman.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Container id.
    pub id: String,
    /// Its state.
    pub state: ContainerState,
    /// The spec hash it was created from.
    pub spec_hash: Option<String>,
}

/// What bringing a profile up has to do, given what Podman already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing there: create and start.
    Create,
    /// A container of this profile runs (or is frozen): keep it.
    Adopt {
        /// Its id.
        id: String,
        /// Whether it was made from another spec (a profile edited since):
        /// the running session is kept, and the change applies on restart.
        outdated: bool,
    },
    /// A stopped container from the same spec: start it again.
    Start {
        /// Its id.
        id: String,
    },
    /// A stopped container from another spec: remove it, create anew.
    Recreate {
        /// The old container's id.
        id: String,
    },
}

/// Decides how to bring a profile up. Pure, so it is tested without Podman.
pub fn plan(found: Option<&Found>, wanted_hash: &str) -> Plan {
    let Some(found) = found else {
        return Plan::Create;
    };
    let same = found.spec_hash.as_deref() == Some(wanted_hash);
    match (&found.state, same) {
        (ContainerState::Running | ContainerState::Paused, _) => Plan::Adopt {
            id: found.id.clone(),
            outdated: !same,
        },
        (ContainerState::Created | ContainerState::Exited, true) => Plan::Start {
            id: found.id.clone(),
        },
        _ => Plan::Recreate {
            id: found.id.clone(),
        },
    }
}

/// How a profile came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Up {
    /// The container id.
    pub id: String,
    /// What was done.
    pub plan: Plan,
    /// What Podman warned about creating its container (empty when an
    /// existing one was adopted or started), each already logged.
    pub warnings: Vec<String>,
}

/// The output of an app run to completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Its exit code.
    pub exit_code: i64,
    /// What it wrote to stdout.
    pub stdout: Vec<u8>,
    /// What it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// Profile containers on one Podman service.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    client: PodmanClient,
}

impl Lifecycle {
    /// Profile containers on the service `client` talks to.
    pub fn new(client: PodmanClient) -> Lifecycle {
        Lifecycle { client }
    }

    /// The Podman client.
    pub fn client(&self) -> &PodmanClient {
        &self.client
    }

    /// The container of `profile`, if Podman has one.
    pub async fn find(&self, profile: &str) -> Result<Option<Found>, LifecycleError> {
        let opts = ContainerListOpts::builder()
            .all(true)
            .filter([ContainerListFilter::LabelKeyVal(
                LABEL_PROFILE.into(),
                profile.into(),
            )])
            .build();
        let list = self
            .client
            .timed(
                "GET /libpod/containers/json",
                self.client.api().containers().list(&opts),
            )
            .await
            .map_err(podman("find", profile))?;
        Ok(list.into_iter().find_map(|c| {
            Some(Found {
                id: c.id?,
                state: ContainerState::parse(c.state.as_deref().unwrap_or("")),
                spec_hash: c.labels.and_then(|mut l| l.remove(LABEL_SPEC)),
            })
        }))
    }

    /// Brings the profile of `spec` up: adopts a container a previous run
    /// left, starts a stopped one, or creates one.
    pub async fn up(&self, spec: &ContainerSpec) -> Result<Up, LifecycleError> {
        let profile = spec
            .labels
            .get(LABEL_PROFILE)
            .map(String::as_str)
            .unwrap_or(&spec.name);
        let wanted = spec
            .labels
            .get(LABEL_SPEC)
            .cloned()
            .unwrap_or_else(|| spec.hash());
        let found = self.find(profile).await?;
        let plan = plan(found.as_ref(), &wanted);
        let mut warnings = Vec::new();
        let id = match &plan {
            Plan::Adopt { id, outdated } => {
                if *outdated {
                    tracing::warn!("profile `{profile}` changed since its container was made; the change applies when it restarts");
                }
                id.clone()
            }
            Plan::Start { id } => {
                self.start_id(profile, id).await?;
                id.clone()
            }
            Plan::Recreate { id } => {
                self.delete_id(profile, id).await?;
                let created = self.create_and_start(profile, spec).await?;
                warnings = created.warnings;
                created.id
            }
            Plan::Create => {
                let created = self.create_and_start(profile, spec).await?;
                warnings = created.warnings;
                created.id
            }
        };
        Ok(Up { id, plan, warnings })
    }

    async fn create_and_start(
        &self,
        profile: &str,
        spec: &ContainerSpec,
    ) -> Result<Created, LifecycleError> {
        let created = self
            .client
            .create_container(&spec.to_json())
            .await
            .map_err(|e| match e {
                LifecycleError::Podman { message, .. } => LifecycleError::Profile {
                    profile: profile.to_owned(),
                    action: "create",
                    message,
                },
                other => other,
            })?;
        // Podman makes the container even when it ignores part of the spec
        // (rootless on cgroup v1: every limit); the user must hear of it.
        for warning in &created.warnings {
            tracing::warn!("profile `{profile}`: Podman, creating its container: {warning}");
        }
        if let Err(err) = self.start_id(profile, &created.id).await {
            // A container that cannot start is not left behind half-made.
            let _ = self.delete_id(profile, &created.id).await;
            return Err(err);
        }
        Ok(created)
    }

    async fn start_id(&self, profile: &str, id: &str) -> Result<(), LifecycleError> {
        let container = self.client.api().containers().get(id);
        self.client
            .timed(
                &format!("POST /libpod/containers/{id}/start"),
                container.start(None),
            )
            .await
            .map_err(podman("start", profile))
    }

    async fn delete_id(&self, profile: &str, id: &str) -> Result<(), LifecycleError> {
        let opts = ContainerDeleteOpts::builder()
            .force(true)
            .timeout(0)
            .build();
        let container = self.client.api().containers().get(id);
        self.client
            .timed(
                &format!("DELETE /libpod/containers/{id}"),
                container.delete(&opts),
            )
            .await
            .map_err(podman("remove", profile))
    }

    async fn require(&self, profile: &str) -> Result<Found, LifecycleError> {
        self.find(profile)
            .await?
            .ok_or_else(|| LifecycleError::NoContainer {
                profile: profile.to_owned(),
            })
    }

    /// The state of the profile's container, if it has one.
    pub async fn state(&self, profile: &str) -> Result<Option<ContainerState>, LifecycleError> {
        Ok(self.find(profile).await?.map(|f| f.state))
    }

    /// Starts `argv` in the profile's session and returns at once; the app
    /// runs on with the session's environment.
    pub async fn exec_detached(
        &self,
        profile: &str,
        argv: &[String],
    ) -> Result<(), LifecycleError> {
        let found = self.require_running(profile).await?;
        let container = self.client.api().containers().get(&found.id);
        let opts = ExecCreateOpts::builder().command(argv).build();
        let exec = self
            .client
            .timed(
                &format!("POST /libpod/containers/{}/exec", found.id),
                container.create_exec(&opts),
            )
            .await
            .map_err(podman("exec", profile))?;
        let start = ExecStartOpts::builder().detach(true).build();
        self.client
            .timed(
                &format!("POST /libpod/exec/{}/start", exec.id()),
                exec.start(&start),
            )
            .await
            .map(|_| ())
            .map_err(podman("exec", profile))
    }

    /// Runs `argv` in the profile's session to completion and returns what it
    /// printed and its exit code.
    pub async fn exec_capture(
        &self,
        profile: &str,
        argv: &[String],
    ) -> Result<ExecOutput, LifecycleError> {
        let found = self.require_running(profile).await?;
        let opts = ExecCreateOpts::builder()
            .command(argv)
            .attach_stdout(true)
            .attach_stderr(true)
            .build();
        let container = self.client.api().containers().get(&found.id);
        let exec = self
            .client
            .timed(
                &format!("POST /libpod/containers/{}/exec", found.id),
                container.create_exec(&opts),
            )
            .await
            .map_err(podman("exec", profile))?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let start = ExecStartOpts::default();
        // Starting is under the request limit; the output then streams for
        // as long as the app runs (no limit: a caller that needs one puts it
        // around this call).
        if let Some(mut stream) = self
            .client
            .timed(
                &format!("POST /libpod/exec/{}/start", exec.id()),
                exec.start(&start),
            )
            .await
            .map_err(podman("exec", profile))?
        {
            while let Some(chunk) = stream.next().await {
                match chunk
                    .map_err(podman_api::Error::from)
                    .map_err(podman("exec", profile))?
                {
                    TtyChunk::StdOut(bytes) => stdout.extend(bytes),
                    TtyChunk::StdErr(bytes) => stderr.extend(bytes),
                    TtyChunk::StdIn(_) => {}
                }
            }
        }
        let inspect = self
            .client
            .timed(
                &format!("GET /libpod/exec/{}/json", exec.id()),
                exec.inspect(),
            )
            .await
            .map_err(podman("exec", profile))?;
        let exit_code = inspect["ExitCode"]
            .as_i64()
            .ok_or_else(|| LifecycleError::Profile {
                profile: profile.to_owned(),
                action: "exec",
                message: format!("no exit code for `{}`", argv.join(" ")),
            })?;
        Ok(ExecOutput {
            exit_code,
            stdout,
            stderr,
        })
    }

    /// The applications installed in the profile: the `.desktop` entries of
    /// its container's files (created or running; the image's, plus what was
    /// installed in it since), read through Podman's archive endpoint
    /// without running anything in the profile, at most `limits.archive`
    /// bytes of it.
    pub async fn apps(
        &self,
        profile: &str,
        limits: crate::apps::Limits,
    ) -> Result<Vec<crate::apps::App>, LifecycleError> {
        let found = self.require(profile).await?;
        let container = self.client.api().containers().get(&found.id);
        let archive = self
            .client
            .timed(
                &format!("GET /libpod/containers/{}/archive", found.id),
                async {
                    let mut stream = std::pin::pin!(container.copy_from(crate::apps::APPLICATIONS));
                    let mut archive = Vec::new();
                    while let Some(chunk) = stream.next().await {
                        archive.extend_from_slice(&chunk?);
                        if archive.len() >= limits.archive {
                            // What came so far is listed; a profile cannot
                            // make the daemon hold more.
                            archive.truncate(limits.archive);
                            break;
                        }
                    }
                    Ok(archive)
                },
            )
            .await;
        match archive {
            Ok(archive) => Ok(crate::apps::from_archive(&archive, limits)),
            // No applications folder in this profile: no applications.
            Err(podman_api::Error::Fault { code, .. }) if code.as_u16() == 404 => Ok(Vec::new()),
            Err(e) => Err(podman("list the applications of", profile)(e)),
        }
    }

    async fn require_running(&self, profile: &str) -> Result<Found, LifecycleError> {
        let found = self.require(profile).await?;
        match found.state {
            ContainerState::Running => Ok(found),
            ContainerState::Paused => Err(LifecycleError::Frozen {
                profile: profile.to_owned(),
            }),
            _ => Err(LifecycleError::NotRunning {
                profile: profile.to_owned(),
            }),
        }
    }

    /// Freezes every process of the profile (the cgroup freezer): they keep
    /// their memory and use no CPU until thawed.
    pub async fn freeze(&self, profile: &str) -> Result<(), LifecycleError> {
        let found = self.require(profile).await?;
        if found.state == ContainerState::Paused {
            return Ok(());
        }
        let container = self.client.api().containers().get(&found.id);
        self.client
            .timed(
                &format!("POST /libpod/containers/{}/pause", found.id),
                container.pause(),
            )
            .await
            .map_err(podman("freeze", profile))
    }

    /// Thaws a frozen profile.
    pub async fn thaw(&self, profile: &str) -> Result<(), LifecycleError> {
        let found = self.require(profile).await?;
        if found.state != ContainerState::Paused {
            return Ok(());
        }
        let container = self.client.api().containers().get(&found.id);
        self.client
            .timed(
                &format!("POST /libpod/containers/{}/unpause", found.id),
                container.unpause(),
            )
            .await
            .map_err(podman("thaw", profile))
    }

    /// Stops the profile: its apps get SIGTERM and, after the grace period
    /// set at creation, SIGKILL. Its files are kept.
    pub async fn stop(&self, profile: &str) -> Result<(), LifecycleError> {
        let Some(found) = self.find(profile).await? else {
            return Ok(());
        };
        let container = self.client.api().containers().get(&found.id);
        match found.state {
            ContainerState::Exited | ContainerState::Created => return Ok(()),
            // A frozen container cannot handle SIGTERM: thaw it first.
            ContainerState::Paused => self
                .client
                .timed(
                    &format!("POST /libpod/containers/{}/unpause", found.id),
                    container.unpause(),
                )
                .await
                .map_err(podman("thaw", profile))?,
            _ => {}
        }
        let opts = ContainerStopOpts::default();
        self.client
            .timed(
                &format!("POST /libpod/containers/{}/stop", found.id),
                container.stop(&opts),
            )
            .await
            .map_err(podman("stop", profile))
    }

    /// Removes the profile's container (stopping it if needed). The
    /// profile's home and storage are not touched: they are not in it.
    pub async fn remove(&self, profile: &str) -> Result<(), LifecycleError> {
        match self.find(profile).await? {
            Some(found) => self.delete_id(profile, &found.id).await,
            None => Ok(()),
        }
    }
}

/// Maps a failed podman-api call to an error about `profile`; a call that ran
/// out of time stays a [`LifecycleError::Timeout`].
fn podman(action: &'static str, profile: &str) -> impl Fn(podman_api::Error) -> LifecycleError {
    let profile = profile.to_owned();
    move |err| match err {
        podman_api::Error::Error(podman_api::conn::Error::Any(inner)) => {
            match inner.downcast::<LifecycleError>() {
                Ok(zion) => *zion,
                Err(other) => LifecycleError::Profile {
                    profile: profile.clone(),
                    action,
                    message: other.to_string(),
                },
            }
        }
        err => LifecycleError::Profile {
            profile: profile.clone(),
            action,
            message: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(state: ContainerState, hash: &str) -> Found {
        Found {
            id: "c1".into(),
            state,
            spec_hash: Some(hash.into()),
        }
    }

    #[test]
    fn nothing_there_is_created() {
        assert_eq!(plan(None, "h"), Plan::Create);
    }

    #[test]
    fn a_running_or_frozen_container_is_adopted_not_doubled() {
        for state in [ContainerState::Running, ContainerState::Paused] {
            assert_eq!(
                plan(Some(&found(state, "h")), "h"),
                Plan::Adopt {
                    id: "c1".into(),
                    outdated: false
                }
            );
        }
    }

    #[test]
    fn a_running_session_is_kept_even_when_its_profile_changed() {
        assert_eq!(
            plan(Some(&found(ContainerState::Running, "old")), "new"),
            Plan::Adopt {
                id: "c1".into(),
                outdated: true
            }
        );
    }

    #[test]
    fn a_stopped_container_is_restarted_or_recreated_by_its_spec() {
        assert_eq!(
            plan(Some(&found(ContainerState::Exited, "h")), "h"),
            Plan::Start { id: "c1".into() }
        );
        assert_eq!(
            plan(Some(&found(ContainerState::Exited, "old")), "h"),
            Plan::Recreate { id: "c1".into() }
        );
        assert_eq!(
            plan(
                Some(&found(ContainerState::Other("stopping".into()), "h")),
                "h"
            ),
            Plan::Recreate { id: "c1".into() }
        );
    }
}

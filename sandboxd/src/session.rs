//! The profiles of one session: brought up together at start, down together
//! at the end.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use anyhow::Context;
use zion_profiles::config::{Config, Profile};
use zion_profiles::{container_spec, HostDevices, Lifecycle, Plan, ProfilePaths};

use crate::SessionPaths;

/// A session: its configuration, folders and Podman.
pub struct Session {
    config: Config,
    paths: SessionPaths,
    lifecycle: Lifecycle,
    devices: HostDevices,
}

impl Session {
    /// A session over `config`, with its folders at `paths`, on Podman.
    pub fn new(config: Config, paths: SessionPaths, lifecycle: Lifecycle) -> Session {
        let devices = HostDevices::probe(Some(&paths.runtime));
        Session {
            config,
            paths,
            lifecycle,
            devices,
        }
    }

    /// The session's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The container lifecycle.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// The host folders of `profile`.
    pub fn profile_paths(&self, profile: &Profile) -> ProfilePaths {
        ProfilePaths::standard(profile.name.as_ref(), &self.paths.data, &self.paths.runtime)
            .with_outboxes_to(self.config.profiles.iter().map(|p| p.name.as_ref()))
    }

    /// Brings one profile up: its folders, then its container (adopting one
    /// left running by an earlier run).
    pub async fn up(&self, profile: &Profile) -> anyhow::Result<Plan> {
        let name = profile.name.as_ref();
        let paths = self.profile_paths(profile);
        for dir in paths.folders() {
            create_private_dir(dir)
                .with_context(|| format!("creating {} for profile `{name}`", dir.display()))?;
        }
        let outcome = container_spec(profile, &paths, &self.devices);
        for warning in &outcome.warnings {
            tracing::warn!("{warning}");
        }
        let up = self.lifecycle.up(&outcome.spec).await?;
        if !matches!(up.plan, Plan::Adopt { .. }) {
            // A fresh session starts its autostart apps; an adopted one has
            // them running already.
            for argv in &profile.autostart {
                if let Err(err) = self.lifecycle.exec_detached(name, argv).await {
                    tracing::warn!(
                        "profile `{name}`: autostart `{}` failed: {err}",
                        argv.join(" ")
                    );
                }
            }
        }
        match &up.plan {
            Plan::Adopt { .. } => tracing::info!(
                "profile `{name}`: adopted its running container {}",
                short(&up.id)
            ),
            Plan::Start { .. } => {
                tracing::info!("profile `{name}`: started its container {}", short(&up.id))
            }
            Plan::Create | Plan::Recreate { .. } => {
                tracing::info!(
                    "profile `{name}`: created and started container {}",
                    short(&up.id)
                )
            }
        }
        Ok(up.plan)
    }

    /// Brings every profile up; a profile that fails is reported and the
    /// others still come up. Returns the names of those that failed.
    pub async fn up_all(&self) -> Vec<String> {
        let mut failed = Vec::new();
        for profile in &self.config.profiles {
            if let Err(err) = self.up(profile).await {
                tracing::error!("profile `{}` could not start: {err:#}", profile.name);
                failed.push(profile.name.to_string());
            }
        }
        failed
    }

    /// Stops every profile (apps get SIGTERM, then SIGKILL after the grace
    /// period). Containers and files are kept for the next start.
    pub async fn down_all(&self) {
        // Together: each may wait out its grace period.
        let stops = self.config.profiles.iter().map(|profile| async move {
            match self.lifecycle.stop(profile.name.as_ref()).await {
                Ok(()) => tracing::info!("profile `{}` stopped", profile.name),
                Err(err) => tracing::error!("stopping profile `{}`: {err}", profile.name),
            }
        });
        futures_util::future::join_all(stops).await;
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

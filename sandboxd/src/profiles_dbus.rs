//! `org.zionos.Profiles1`: the profiles of the session on the session bus —
//! list them, ask their state, start, stop, hibernate (freeze), resume (thaw)
//! and run an app in one; a signal on every state change.

use std::sync::Arc;

use zbus::object_server::SignalEmitter;
use zbus::{fdo, interface};
use zion_profiles::ContainerState;

use crate::Session;

/// The bus name and object path.
pub const NAME: &str = "org.zionos.Profiles1";
/// The object path.
pub const PATH: &str = "/org/zionos/Profiles1";

/// The interface, over the session's profiles.
pub struct Profiles1 {
    session: Arc<Session>,
}

impl Profiles1 {
    /// Serves `session`.
    pub fn new(session: Arc<Session>) -> Profiles1 {
        Profiles1 { session }
    }

    fn known(&self, name: &str) -> fdo::Result<()> {
        if self.session.config().profile(name).is_some() {
            return Ok(());
        }
        let names: Vec<String> = self
            .session
            .config()
            .profiles
            .iter()
            .map(|p| p.name.to_string())
            .collect();
        Err(fdo::Error::InvalidArgs(format!(
            "no profile `{name}` in zion.toml (profiles: {})",
            names.join(", ")
        )))
    }

    async fn state(&self, name: &str) -> fdo::Result<String> {
        let state = self.session.lifecycle().state(name).await.map_err(failed)?;
        Ok(state_name(state.as_ref()).to_owned())
    }
}

/// The word a state is shown as.
pub fn state_name(state: Option<&ContainerState>) -> &str {
    match state {
        None => "absent",
        Some(ContainerState::Created) => "created",
        Some(ContainerState::Running) => "running",
        Some(ContainerState::Paused) => "hibernated",
        Some(ContainerState::Exited) => "stopped",
        Some(ContainerState::Other(s)) => s,
    }
}

fn failed(err: impl std::fmt::Display) -> fdo::Error {
    fdo::Error::Failed(err.to_string())
}

#[interface(name = "org.zionos.Profiles1")]
impl Profiles1 {
    /// Every profile in desktop order: (name, label, colour, state).
    async fn list(&self) -> fdo::Result<Vec<(String, String, String, String)>> {
        let mut out = Vec::new();
        for p in &self.session.config().profiles {
            let state = self.state(p.name.as_ref()).await?;
            out.push((
                p.name.to_string(),
                p.label.clone(),
                p.colour.to_string(),
                state,
            ));
        }
        Ok(out)
    }

    /// The state of one profile: absent, created, running, hibernated, stopped.
    async fn status(&self, name: &str) -> fdo::Result<String> {
        self.known(name)?;
        self.state(name).await
    }

    /// Starts a profile (or adopts its running container).
    async fn start(
        &self,
        name: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> fdo::Result<()> {
        self.known(name)?;
        let profile = self
            .session
            .config()
            .profile(name)
            .ok_or_else(|| failed("profile vanished"))?;
        self.session
            .up(profile)
            .await
            .map_err(|e| failed(format!("{e:#}")))?;
        Self::state_changed(&emitter, name, &self.state(name).await?).await?;
        Ok(())
    }

    /// Stops a profile: apps get SIGTERM, then SIGKILL after the grace period.
    async fn stop(
        &self,
        name: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> fdo::Result<()> {
        self.known(name)?;
        self.session.lifecycle().stop(name).await.map_err(failed)?;
        Self::state_changed(&emitter, name, &self.state(name).await?).await?;
        Ok(())
    }

    /// Freezes every process of a profile.
    async fn hibernate(
        &self,
        name: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> fdo::Result<()> {
        self.known(name)?;
        self.session
            .lifecycle()
            .freeze(name)
            .await
            .map_err(failed)?;
        Self::state_changed(&emitter, name, &self.state(name).await?).await?;
        Ok(())
    }

    /// Thaws a hibernated profile.
    async fn resume(
        &self,
        name: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> fdo::Result<()> {
        self.known(name)?;
        self.session.lifecycle().thaw(name).await.map_err(failed)?;
        Self::state_changed(&emitter, name, &self.state(name).await?).await?;
        Ok(())
    }

    /// Starts `argv` in a profile's session, detached, with its environment.
    async fn run(&self, name: &str, argv: Vec<String>) -> fdo::Result<()> {
        self.known(name)?;
        if argv.first().is_none_or(|a| a.trim().is_empty()) {
            return Err(fdo::Error::InvalidArgs("the command is empty".into()));
        }
        self.session
            .lifecycle()
            .exec_detached(name, &argv)
            .await
            .map_err(failed)
    }

    /// A profile's state changed.
    #[zbus(signal)]
    async fn state_changed(
        emitter: &SignalEmitter<'_>,
        name: &str,
        state: &str,
    ) -> zbus::Result<()>;
}

/// Serves `Profiles1` for `session` on the bus at `address` (or the session
/// bus of the environment) and returns the connection, which must be kept.
pub async fn serve(session: Arc<Session>, address: Option<&str>) -> zbus::Result<zbus::Connection> {
    let builder = match address {
        Some(address) => zbus::connection::Builder::address(address)?,
        None => zbus::connection::Builder::session()?,
    };
    builder
        .name(NAME)?
        .serve_at(PATH, Profiles1::new(session))?
        .build()
        .await
}

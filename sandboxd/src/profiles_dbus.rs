//! `org.zionos.Profiles1`: the profiles of the session on the session bus —
//! list them, ask their status and what the machine lets them have, start, stop, hibernate (freeze), resume
//! (thaw) and run an app in one; a signal on every state change, on every
//! death and on every refused configuration; a desktop notification when a
//! profile dies.
//!
//! Every method is for the session user's own processes on the host (the
//! compositor, zionctl, the panel) and is refused to anyone else, a
//! container on the bus included: see [`zion_caller::Gate`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::Value;
use zbus::{fdo, interface};
use zion_caller::Gate;
use zion_profiles::apps::Limits;
use zion_profiles::{Capabilities, Capability};

use crate::session::Event;
pub use crate::session::{state_name, ProfileStatus};
use crate::Session;
use zion_bus::NotificationsProxy;

/// The bus name and object path.
pub const NAME: &str = zion_bus::profiles::NAME;
/// The object path.
pub const PATH: &str = zion_bus::profiles::PATH;

/// The interface, over the session's profiles.
pub struct Profiles1 {
    session: Arc<Session>,
    gate: Gate,
}

impl Profiles1 {
    /// Serves `session` to the callers its [`Gate`] lets through.
    pub fn new(session: Arc<Session>) -> Profiles1 {
        Profiles1 {
            session,
            gate: Gate::new(),
        }
    }

    fn known(&self, name: &str) -> fdo::Result<()> {
        let config = self.session.config();
        if config.profile(name).is_some() {
            return Ok(());
        }
        let names: Vec<String> = config.profiles.iter().map(|p| p.name.to_string()).collect();
        Err(fdo::Error::InvalidArgs(format!(
            "no profile `{name}` in zion.toml (profiles: {})",
            names.join(", ")
        )))
    }
}

fn failed(err: impl std::fmt::Display) -> fdo::Error {
    fdo::Error::Failed(err.to_string())
}

#[interface(name = "org.zionos.Profiles1")]
impl Profiles1 {
    /// Every profile in desktop order: (name, label, colour, state).
    async fn list(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
    ) -> fdo::Result<Vec<(String, String, String, String)>> {
        self.gate.check(bus, &header).await?;
        let mut out = Vec::new();
        for p in &self.session.config().profiles {
            let state = self.session.state(p.name.as_ref()).await.map_err(failed)?;
            out.push((
                p.name.to_string(),
                p.label.clone(),
                p.colour.to_string(),
                state,
            ));
        }
        Ok(out)
    }

    /// One profile's status: (name, state, reason, cpu_percent, cpu_time_ns,
    /// memory_bytes, memory_limit, frozen_since, started_at). State is one
    /// of absent, created, running, hibernated, stopped, dead, failed; the
    /// reason says why it is dead or failed; times are seconds since the
    /// epoch, 0 when not applicable.
    async fn status(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
    ) -> fdo::Result<ProfileStatus> {
        self.gate.check(bus, &header).await?;
        self.known(name)?;
        self.session.status(name).await.map_err(failed)
    }

    /// Starts a profile (or adopts its running container).
    async fn start(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
    ) -> fdo::Result<()> {
        self.gate.check(bus, &header).await?;
        self.known(name)?;
        self.session
            .start(name)
            .await
            .map_err(|e| failed(format!("{e:#}")))
    }

    /// Stops a profile: apps get SIGTERM, then SIGKILL after the grace period.
    async fn stop(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
    ) -> fdo::Result<()> {
        self.gate.check(bus, &header).await?;
        self.known(name)?;
        self.session.stop(name).await.map_err(failed)
    }

    /// Hibernates a profile its configured way: `hibernate = "freeze"`
    /// freezes every process; `"disk"` checkpoints it with CRIU, or fails
    /// with `criu check`'s reason where CRIU cannot.
    async fn hibernate(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
    ) -> fdo::Result<()> {
        self.gate.check(bus, &header).await?;
        self.known(name)?;
        self.session
            .hibernate(name)
            .await
            .map_err(|e| failed(format!("{e:#}")))
    }

    /// Thaws a hibernated profile (or restores its checkpoint).
    async fn resume(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
    ) -> fdo::Result<()> {
        self.gate.check(bus, &header).await?;
        self.known(name)?;
        self.session
            .resume(name)
            .await
            .map_err(|e| failed(format!("{e:#}")))
    }

    /// Starts `argv` in a profile's session, detached, with its environment.
    async fn run(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
        argv: Vec<String>,
    ) -> fdo::Result<()> {
        self.gate.check(bus, &header).await?;
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

    /// The applications installed in a profile, read from its container's
    /// files (`""`: every profile that has a container), by profile in
    /// desktop order, then name.
    async fn apps(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
    ) -> fdo::Result<Vec<zion_bus::AppEntry>> {
        self.gate.check(bus, &header).await?;
        let profiles: Vec<String> = if name.is_empty() {
            let config = self.session.config();
            config.profiles.iter().map(|p| p.name.to_string()).collect()
        } else {
            self.known(name)?;
            vec![name.to_owned()]
        };
        let mut all = Vec::new();
        for profile in profiles {
            let apps = match self
                .session
                .lifecycle()
                .apps(&profile, Limits::default())
                .await
            {
                Ok(apps) => apps,
                // Listing every profile: one without a container has none yet.
                Err(zion_profiles::LifecycleError::NoContainer { .. }) if name.is_empty() => {
                    continue
                }
                Err(e) => return Err(failed(e)),
            };
            all.extend(apps.into_iter().map(|app| zion_bus::AppEntry {
                profile: profile.clone(),
                id: app.id,
                name: app.name,
                comment: app.comment,
                argv: app.argv,
            }));
        }
        Ok(all)
    }

    /// Starts the application `app` (an id `Apps` lists) in its profile,
    /// with the command the profile's own entry gives, read again now.
    async fn launch(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
        app: &str,
    ) -> fdo::Result<()> {
        self.gate.check(bus, &header).await?;
        self.known(name)?;
        let lifecycle = self.session.lifecycle();
        let apps = lifecycle
            .apps(name, Limits::default())
            .await
            .map_err(failed)?;
        let Some(found) = apps.into_iter().find(|a| a.id == app) else {
            return Err(fdo::Error::InvalidArgs(format!(
                "no application `{app}` in profile `{name}` (`zionctl apps {name}` lists them)"
            )));
        };
        lifecycle
            .exec_detached(name, &found.argv)
            .await
            .map_err(failed)
    }

    /// What the machine lets profiles have: freezing, CPU weights and
    /// resource limits, each with why it is unavailable ("" when it works).
    async fn capabilities(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
    ) -> fdo::Result<Vec<zion_bus::CapabilityStatus>> {
        self.gate.check(bus, &header).await?;
        Ok(capability_statuses(&self.session.capabilities()))
    }

    /// What Podman warned about creating the profile's containers in this
    /// run of the daemon (limits it ignores, …).
    async fn warnings(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: &str,
    ) -> fdo::Result<Vec<String>> {
        self.gate.check(bus, &header).await?;
        self.known(name)?;
        Ok(self.session.warnings(name))
    }

    /// The error of the last edit of zion.toml that was refused (file:line:
    /// column, what, hint), or "" when the file in use is fine. Not behind
    /// the gate: the `ConfigError` signal broadcasts the same text to every
    /// peer on the bus.
    #[zbus(property)]
    async fn config_status(&self) -> String {
        self.session.config_status()
    }

    /// A profile's state changed.
    #[zbus(signal)]
    async fn state_changed(
        emitter: &SignalEmitter<'_>,
        name: &str,
        state: &str,
    ) -> zbus::Result<()>;

    /// A profile's container died unasked: why, and what was done about it.
    #[zbus(signal)]
    async fn died(
        emitter: &SignalEmitter<'_>,
        name: &str,
        reason: &str,
        outcome: &str,
    ) -> zbus::Result<()>;

    /// An edit of zion.toml was refused; the running profiles are unchanged.
    #[zbus(signal)]
    async fn config_error(emitter: &SignalEmitter<'_>, message: &str) -> zbus::Result<()>;

    /// An edit of zion.toml was applied; `pending` lists the changes that
    /// wait for a restart (`needs restart: <profile>: <fields>`).
    #[zbus(signal)]
    async fn config_reloaded(emitter: &SignalEmitter<'_>, pending: Vec<String>)
        -> zbus::Result<()>;
}

/// The capabilities as they travel, in [`Capability::ALL`]'s order.
pub fn capability_statuses(caps: &Capabilities) -> Vec<zion_bus::CapabilityStatus> {
    Capability::ALL
        .iter()
        .map(|c| {
            let availability = caps.get(*c);
            zion_bus::CapabilityStatus {
                name: c.name().to_owned(),
                available: availability.is_available(),
                reason: availability.reason().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

/// Tells the user a profile died, best effort: a session without a
/// notification daemon gets a log line.
async fn notify_death(bus: zbus::Connection, name: String, reason: String, outcome: String) {
    let summary = format!("Profile {name} stopped unexpectedly");
    let body = format!("{reason}; {outcome}.");
    let send = async {
        let proxy = NotificationsProxy::builder(&bus)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        let urgency = Value::U8(2);
        let hints = HashMap::from([("urgency", &urgency)]);
        proxy
            .notify("Zion", 0, "dialog-warning", &summary, &body, &[], hints, -1)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(3), send).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::info!("no desktop notification ({e}): {summary}"),
        Err(_) => tracing::info!("no desktop notification (no answer within 3s): {summary}"),
    }
}

/// Serves `Profiles1` for `session` on the bus at `address` (or the session
/// bus of the environment) and returns the connection, which must be kept.
/// The session's events become signals (and notifications) from then on.
pub async fn serve(session: Arc<Session>, address: Option<&str>) -> zbus::Result<zbus::Connection> {
    let builder = match address {
        Some(address) => zbus::connection::Builder::address(address)?,
        None => zbus::connection::Builder::session()?,
    };
    let mut events = session.subscribe();
    let bus = builder
        .name(NAME)?
        .serve_at(PATH, Profiles1::new(session))?
        .build()
        .await?;
    let iface = bus.object_server().interface::<_, Profiles1>(PATH).await?;
    let conn = bus.clone();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("{n} profile events were not signalled (too many at once)");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            let emitter = iface.signal_emitter();
            let sent = match &event {
                Event::StateChanged { profile, state } => {
                    Profiles1::state_changed(emitter, profile, state).await
                }
                Event::Died {
                    profile,
                    reason,
                    outcome,
                } => {
                    let sent = Profiles1::died(emitter, profile, reason, outcome).await;
                    // Apart, so that a slow notification daemon delays no signal.
                    tokio::spawn(notify_death(
                        conn.clone(),
                        profile.clone(),
                        reason.clone(),
                        outcome.clone(),
                    ));
                    sent
                }
                Event::ConfigError(message) => {
                    let sent = Profiles1::config_error(emitter, message).await;
                    let iface = iface.get().await;
                    sent.and(iface.config_status_changed(emitter).await)
                }
                Event::ConfigApplied(pending) => {
                    let sent = Profiles1::config_reloaded(emitter, pending.clone()).await;
                    let iface = iface.get().await;
                    sent.and(iface.config_status_changed(emitter).await)
                }
            };
            if let Err(e) = sent {
                tracing::warn!("could not signal a profile event: {e}");
            }
        }
    });
    Ok(bus)
}

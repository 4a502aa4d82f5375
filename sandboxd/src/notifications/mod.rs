//! Notifications from inside profiles (issue 16). Each profile's apps call
//! `org.freedesktop.Notifications` on the profile's own bus (a
//! `dbus-daemon` in its container, [`zion_profiles::bus`]). The relay is a
//! client of each of those buses: it owns the name there, and passes each
//! notification to the host's notification daemon labelled with the
//! profile (`[work] …`) and cut to what is safe ([`policy`]). The host
//! daemon's `ActionInvoked` and `NotificationClosed` go back only to the
//! profile whose notification it was.
//!
//! - [`policy`]: what passes, whose each notification is (pure).
//! - [`socket`]: reaching a socket in a folder the profile writes in.
//! - [`daemon`]: starting the host's notification daemon when none runs.

pub mod daemon;
pub mod policy;
mod server;
pub mod socket;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use zbus::fdo;
use zbus::message::Type;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::Value;
use zbus::MatchRule;
use zion_bus::notifications::{NotificationsProxy, NAME, PATH};
use zion_profiles::bus::BUS_SOCKET;

use crate::Session;
use policy::{outgoing, Origin, RateLimit, Request, Routes, MAX_LIVE};
use server::Server;

/// How long the host's daemon gets to answer.
const HOST_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a profile's bus is looked for while it is not there.
const RETRY: Duration = Duration::from_secs(1);

/// The relay: the host's bus, and whose each notification is.
pub struct Relay {
    host: zbus::Connection,
    routes: Mutex<Routes>,
    /// Each connected profile's bus, for its signals.
    buses: Mutex<HashMap<String, zbus::Connection>>,
}

impl Relay {
    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn host_daemon(&self) -> fdo::Result<NotificationsProxy<'static>> {
        NotificationsProxy::new(&self.host)
            .await
            .map_err(|e| fdo::Error::Failed(format!("the host's notification daemon: {e}")))
    }

    /// Shows `request` of `origin` on the host (replacing its own
    /// `replaces_id`, if that is one of its own showing); the profile's id.
    async fn notify(
        &self,
        origin: &Origin,
        replaces_id: u32,
        request: &Request,
    ) -> fdo::Result<u32> {
        let profile = origin.profile.as_str();
        // Another profile's id, or one never given, replaces nothing: it
        // is a new notification, as the specification says of an id that
        // is not showing.
        let replaced = (replaces_id != 0)
            .then(|| self.routes().host_id(profile, replaces_id))
            .flatten();
        if replaced.is_none() && self.routes().live(profile) >= MAX_LIVE {
            return Err(fdo::Error::LimitsExceeded(format!(
                "{MAX_LIVE} notifications of this profile are showing already"
            )));
        }
        let daemon = self.host_daemon().await?;
        let markup = daemon
            .get_capabilities()
            .await
            .map(|caps| caps.iter().any(|c| c == "body-markup"))
            .unwrap_or(true);
        let out = outgoing(request, origin, markup);
        let values: Vec<(&str, Value<'_>)> =
            out.hints.iter().map(|(k, h)| (*k, h.value())).collect();
        let hints: HashMap<&str, &Value<'_>> = values.iter().map(|(k, v)| (*k, v)).collect();
        let actions: Vec<&str> = out.actions.iter().map(String::as_str).collect();
        let shown = tokio::time::timeout(
            HOST_TIMEOUT,
            daemon.notify(
                &out.app_name,
                replaced.unwrap_or(0),
                &out.app_icon,
                &out.summary,
                &out.body,
                &actions,
                hints,
                out.expire_timeout,
            ),
        )
        .await;
        let host_id = match shown {
            Ok(Ok(id)) => id,
            Ok(Err(err)) => {
                tracing::warn!("profile `{profile}`: the host's notification daemon: {err}");
                return Err(fdo::Error::Failed(
                    "the host's notification daemon refused it".into(),
                ));
            }
            Err(_) => {
                return Err(fdo::Error::Failed(
                    "the host's notification daemon did not answer".into(),
                ))
            }
        };
        let local = self
            .routes()
            .shown(profile, replaced.map(|_| replaces_id), host_id);
        tracing::debug!("profile `{profile}`: notification {local} shown as {host_id} on the host");
        Ok(local)
    }

    /// Closes `profile`'s notification `local`; another's is refused.
    async fn close(&self, profile: &str, local: u32) -> fdo::Result<()> {
        let Some(host_id) = self.routes().host_id(profile, local) else {
            tracing::info!(
                "profile `{profile}`: CloseNotification({local}) refused: not one of its own"
            );
            return Err(fdo::Error::InvalidArgs(format!(
                "no notification {local} of this profile is showing"
            )));
        };
        self.host_daemon()
            .await?
            .close_notification(host_id)
            .await
            .map_err(|e| fdo::Error::Failed(format!("the host's notification daemon: {e}")))
    }

    /// Passes the host daemon's signals to the profile whose notification
    /// each is, in the order they came (an action before its closing).
    async fn route_host_signals(self: Arc<Self>) {
        let rule = MatchRule::builder()
            .msg_type(Type::Signal)
            .sender(NAME)
            .and_then(|b| b.interface(NAME))
            .and_then(|b| b.path(PATH))
            .map(|b| b.build());
        let stream = match rule {
            Ok(rule) => zbus::MessageStream::for_match_rule(rule, &self.host, None).await,
            Err(e) => Err(e),
        };
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                tracing::error!("profiles' notifications get no actions back: watching the host's notification daemon: {err}");
                return;
            }
        };
        while let Some(message) = stream.next().await {
            let Ok(message) = message else { continue };
            let header = message.header();
            let Some(member) = header.member() else {
                continue;
            };
            match member.as_str() {
                "ActionInvoked" => {
                    let Ok((host_id, key)) = message.body().deserialize::<(u32, String)>() else {
                        continue;
                    };
                    let owner = self.routes().owner(host_id).map(|(p, l)| (p.to_owned(), l));
                    if let Some((profile, local)) = owner {
                        self.signal(&profile, |e| async move {
                            Server::action_invoked(&e, local, &key).await
                        })
                        .await;
                    }
                }
                "NotificationClosed" => {
                    let Ok((host_id, reason)) = message.body().deserialize::<(u32, u32)>() else {
                        continue;
                    };
                    let owner = self.routes().closed(host_id);
                    if let Some((profile, local)) = owner {
                        self.signal(&profile, |e| async move {
                            Server::notification_closed(&e, local, reason).await
                        })
                        .await;
                    }
                }
                _ => {}
            }
        }
    }

    /// Sends a signal on `profile`'s bus, if it is connected.
    async fn signal<F, Fut>(&self, profile: &str, send: F)
    where
        F: FnOnce(SignalEmitter<'static>) -> Fut,
        Fut: std::future::Future<Output = zbus::Result<()>>,
    {
        let bus = self
            .buses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(profile)
            .cloned();
        let Some(bus) = bus else { return };
        let emitter = match SignalEmitter::new(&bus, PATH) {
            Ok(e) => e.into_owned(),
            Err(err) => {
                tracing::warn!("profile `{profile}`: {err}");
                return;
            }
        };
        if let Err(err) = send(emitter).await {
            tracing::warn!("profile `{profile}`: passing a notification's signal back: {err}");
        }
    }

    /// Serves `origin`'s bus at `folder` for as long as the task runs:
    /// connects when its socket is there, again after it went.
    async fn serve_profile(self: Arc<Self>, origin: Origin, folder: PathBuf) {
        let profile = origin.profile.clone();
        let mut said = None::<String>;
        loop {
            match self.connect(&origin, &folder).await {
                Ok(bus) => {
                    said = None;
                    tracing::info!(
                        "profile `{profile}`: its notifications are relayed to the host"
                    );
                    self.buses
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(profile.clone(), bus.clone());
                    // Until the profile's bus goes (its container stopped).
                    let mut messages = zbus::MessageStream::from(&bus);
                    while let Some(Ok(_)) = messages.next().await {}
                    self.buses
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&profile);
                    tracing::info!("profile `{profile}`: its bus went away");
                }
                Err(err) => {
                    // Said once per kind of failure, not every second.
                    let text = format!("{err:#}");
                    if said.as_deref() != Some(text.as_str()) {
                        // Something not a socket in its place is the
                        // profile's doing: worth the user's eye.
                        let planted = matches!(
                            err.downcast_ref::<socket::SocketError>(),
                            Some(socket::SocketError::NotASocket { .. })
                        );
                        if planted {
                            tracing::warn!(
                                "profile `{profile}`: its bus is not connected to: {text}"
                            );
                        } else {
                            tracing::debug!(
                                "profile `{profile}`: its bus is not reachable: {text}"
                            );
                        }
                        said = Some(text);
                    }
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    async fn connect(
        self: &Arc<Self>,
        origin: &Origin,
        folder: &std::path::Path,
    ) -> anyhow::Result<zbus::Connection> {
        let stream = socket::connect(folder, BUS_SOCKET)?;
        stream.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(stream)?;
        let server = Server {
            origin: origin.clone(),
            relay: self.clone(),
            limit: Mutex::new(RateLimit::standard()),
        };
        let bus = tokio::time::timeout(
            HOST_TIMEOUT,
            zbus::connection::Builder::unix_stream(stream)
                .auth_mechanism(zbus::AuthMechanism::Anonymous)
                .serve_at(PATH, server)?
                .name(NAME)?
                .build(),
        )
        .await??;
        Ok(bus)
    }
}

/// Relays the notifications of every profile of the session's
/// configuration to the host's bus `host`, until aborted. A profile added
/// by a reload is served from then on; one removed is no longer.
pub async fn run(session: Arc<Session>, host: zbus::Connection) {
    let relay = Arc::new(Relay {
        host,
        routes: Mutex::new(Routes::default()),
        buses: Mutex::new(HashMap::new()),
    });
    let signals = tokio::spawn(relay.clone().route_host_signals());
    let _signals = AbortOnDrop(signals);
    let _daemon = AbortOnDrop(tokio::spawn(daemon::keep(
        session.clone(),
        relay.host.clone(),
    )));
    // Each profile's task, aborted when dropped (removed, or `run` aborted).
    let mut served: HashMap<String, (Origin, AbortOnDrop)> = HashMap::new();
    loop {
        let config = session.config();
        served.retain(|name, _| {
            config
                .profiles
                .iter()
                .any(|p| p.name.as_ref() == name.as_str())
        });
        for profile in &config.profiles {
            let origin = Origin {
                profile: profile.name.to_string(),
                label: profile.label.clone(),
                colour: profile.colour.to_string(),
            };
            // Kept unless relabelled by a reload (or its task ended).
            if let Some((was, task)) = served.get(&origin.profile) {
                if *was == origin && !task.0.is_finished() {
                    continue;
                }
            }
            let folder = session.profile_paths(profile).bus;
            let task = tokio::spawn(relay.clone().serve_profile(origin.clone(), folder));
            served.insert(origin.profile.clone(), (origin, AbortOnDrop(task)));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Aborts its task when dropped (when [`run`] is aborted).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

//! The bar's view of the session bus: a snapshot from the three services,
//! taken again whenever one of them signals a change (or its name comes or
//! goes), and the bar's one request, showing a desktop.
//!
//! A signal is never read for its content, only as a reason to ask: anyone
//! on the bus can send a signal, only the names' owners answer calls.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use tracing::{debug, warn};
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, MessageStream};
use zion_bus::{Compositor1Proxy, Profiles1Proxy, Quarantine1Proxy};

use crate::model::{self, Desktop, Rgb, Snapshot};

/// How long a burst of signals is gathered before asking once.
const SETTLE: Duration = Duration::from_millis(40);
/// How often the bar asks even when nothing signalled (a service that
/// restarted without a signal the bar saw).
const REFRESH: Duration = Duration::from_secs(30);

/// What the bar asks of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Show this desktop.
    Show(String),
}

/// Takes snapshots of the session and hands each changed one to `publish`,
/// and carries out `requests`, until `publish` says to stop (returns false)
/// or the requests' sender is gone.
pub async fn run(
    conn: Connection,
    mut requests: tokio::sync::mpsc::Receiver<Request>,
    mut publish: impl FnMut(Snapshot) -> bool,
) -> zbus::Result<()> {
    let mut signals = signals(&conn).await?;
    let services = Services::new(&conn).await?;
    let mut last = None;
    loop {
        let snapshot = services.snapshot().await;
        if last.as_ref() != Some(&snapshot) {
            if !publish(snapshot.clone()) {
                return Ok(());
            }
            last = Some(snapshot);
        }
        tokio::select! {
            signal = signals.next() => {
                if signal.is_none() {
                    return Ok(());
                }
                // Gather the rest of a burst (a state change and a property
                // change together) into one question.
                let _ = tokio::time::timeout(SETTLE, async {
                    while signals.next().await.is_some() {}
                })
                .await;
            }
            request = requests.recv() => match request {
                Some(Request::Show(name)) => {
                    if let Err(e) = services.compositor.switch_to(&name).await {
                        warn!("showing {name}: {e}");
                    }
                }
                None => return Ok(()),
            },
            _ = tokio::time::sleep(REFRESH) => {}
        }
    }
}

/// Signals under `/org/zionos` (the services' own and their property
/// changes) and the bus's name changes.
async fn signals(
    conn: &Connection,
) -> zbus::Result<futures_util::stream::SelectAll<MessageStream>> {
    let ours = MatchRule::builder()
        .msg_type(MessageType::Signal)
        .path_namespace("/org/zionos")?
        .build();
    let names = MatchRule::builder()
        .msg_type(MessageType::Signal)
        .sender("org.freedesktop.DBus")?
        .member("NameOwnerChanged")?
        .build();
    let mut all = futures_util::stream::SelectAll::new();
    for rule in [ours, names] {
        all.push(MessageStream::for_match_rule(rule, conn, Some(64)).await?);
    }
    Ok(all)
}

/// The three services' proxies, made once: each call goes to whoever owns
/// the name at the time (a restarted daemon included), and none caches a
/// property (every snapshot asks).
struct Services {
    compositor: Compositor1Proxy<'static>,
    profiles: Profiles1Proxy<'static>,
    quarantine: Quarantine1Proxy<'static>,
}

impl Services {
    async fn new(conn: &Connection) -> zbus::Result<Services> {
        use zbus::proxy::CacheProperties::No;
        Ok(Services {
            compositor: Compositor1Proxy::builder(conn)
                .cache_properties(No)
                .build()
                .await?,
            profiles: Profiles1Proxy::builder(conn)
                .cache_properties(No)
                .build()
                .await?,
            quarantine: Quarantine1Proxy::builder(conn)
                .cache_properties(No)
                .build()
                .await?,
        })
    }

    /// What the services say now; a service that does not answer leaves its
    /// part empty (no desktops, no states, an unknown count).
    async fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::default();
        match self.desktops().await {
            Ok((desktops, shown)) => {
                snapshot.desktops = desktops;
                snapshot.shown = shown;
            }
            Err(e) => debug!("Compositor1: {e}"),
        }
        match self.states().await {
            Ok(states) => {
                for d in &mut snapshot.desktops {
                    d.state = states.get(&d.name).cloned().unwrap_or_default();
                }
            }
            Err(e) => debug!("Profiles1: {e}"),
        }
        match self.quarantine.list().await {
            Ok(items) => snapshot.waiting = Some(model::waiting(&items)),
            Err(e) => debug!("Quarantine1: {e}"),
        }
        snapshot
    }

    async fn desktops(&self) -> zbus::Result<(Vec<Desktop>, String)> {
        let listed = self.compositor.list_desktops().await?;
        let shown = self.compositor.active_desktop().await?;
        let locked = self.compositor.locked_profiles().await?;
        let desktops = listed
            .into_iter()
            .map(|(name, colour)| Desktop {
                colour: Rgb::parse(&colour).unwrap_or(model::IDLE_CHIP),
                locked: locked.contains(&name),
                name,
                state: String::new(),
            })
            .collect();
        Ok((desktops, shown))
    }

    async fn states(&self) -> zbus::Result<HashMap<String, String>> {
        Ok(self
            .profiles
            .list()
            .await?
            .into_iter()
            .map(|(name, _label, _colour, state)| (name, state))
            .collect())
    }
}

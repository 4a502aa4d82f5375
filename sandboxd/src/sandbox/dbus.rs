//! `org.zionos.Sandbox1` at `/org/zionos/Sandbox1`: open a browser in a
//! disposable sandbox, list the sandboxes, close one; a signal when one
//! opens and when one ends. Only the session user's own processes on the
//! host may call it (see [`zion_caller::Gate`]).

use std::sync::Arc;

use zbus::interface;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zion_caller::{Gate, Guarded};

use super::service::{SandboxError, SandboxEvent, Sandboxes};

/// The bus name.
pub const NAME: &str = zion_bus::sandbox::NAME;
/// The object path.
pub const PATH: &str = zion_bus::sandbox::PATH;

/// The errors the interface returns, named `org.zionos.Sandbox1.Error.*`.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.zionos.Sandbox1.Error")]
pub enum Sandbox1Error {
    /// A D-Bus failure.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// No such profile in zion.toml.
    UnknownProfile(String),
    /// The URL was refused.
    InvalidUrl(String),
    /// No open sandbox has this id.
    NoSuchSandbox(String),
    /// Anything else: the message says what and where.
    Failed(String),
}

impl From<SandboxError> for Sandbox1Error {
    fn from(e: SandboxError) -> Self {
        let text = e.to_string();
        match e {
            SandboxError::UnknownProfile { .. } => Sandbox1Error::UnknownProfile(text),
            SandboxError::InvalidUrl(_) => Sandbox1Error::InvalidUrl(text),
            SandboxError::NoSuchSandbox { .. } => Sandbox1Error::NoSuchSandbox(text),
            SandboxError::NoQuarantine | SandboxError::Failed(_) => Sandbox1Error::Failed(text),
        }
    }
}

/// The interface over the session's sandboxes.
pub struct Sandbox1 {
    sandboxes: Arc<Sandboxes>,
    gate: Gate,
}

fn failed(e: SandboxError) -> Guarded<Sandbox1Error> {
    Guarded::Failed(e.into())
}

#[interface(name = "org.zionos.Sandbox1")]
impl Sandbox1 {
    /// Opens `url` (or the start page, when empty) in a browser in a new
    /// disposable sandbox of `profile`; returns the sandbox's id.
    async fn open_browser(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        profile: &str,
        url: &str,
    ) -> Result<String, Guarded<Sandbox1Error>> {
        self.gate.check(bus, &header).await?;
        self.sandboxes.open(profile, url).await.map_err(failed)
    }

    /// The open sandboxes: (id, profile, state), state one of starting,
    /// running, closing.
    async fn list(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
    ) -> Result<Vec<(String, String, String)>, Guarded<Sandbox1Error>> {
        self.gate.check(bus, &header).await?;
        Ok(self.sandboxes.list())
    }

    /// Closes a sandbox: its browser ends and all it wrote is gone, but for
    /// its downloads, which the quarantine takes.
    async fn close(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: &str,
    ) -> Result<(), Guarded<Sandbox1Error>> {
        self.gate.check(bus, &header).await?;
        self.sandboxes.close(id).await.map_err(failed)
    }

    /// A sandbox opened.
    #[zbus(signal)]
    async fn opened(emitter: &SignalEmitter<'_>, id: &str, profile: &str) -> zbus::Result<()>;

    /// A sandbox ended: closed, or its browser exited.
    #[zbus(signal)]
    async fn closed(emitter: &SignalEmitter<'_>, id: &str, reason: &str) -> zbus::Result<()>;
}

/// Serves `Sandbox1` on `bus` (a connection that may own other names) and
/// turns the sandboxes' events into signals.
pub async fn serve(bus: &zbus::Connection, sandboxes: Arc<Sandboxes>) -> zbus::Result<()> {
    let mut events = sandboxes.subscribe();
    let iface = Sandbox1 {
        sandboxes,
        gate: Gate::new(),
    };
    bus.object_server().at(PATH, iface).await?;
    bus.request_name(NAME).await?;
    let iface = bus.object_server().interface::<_, Sandbox1>(PATH).await?;
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("{n} sandbox events were not signalled (too many at once)");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            let emitter = iface.signal_emitter();
            let sent = match &event {
                SandboxEvent::Opened { id, profile } => {
                    Sandbox1::opened(emitter, id, profile).await
                }
                SandboxEvent::Closed { id, reason } => Sandbox1::closed(emitter, id, reason).await,
            };
            if let Err(e) = sent {
                tracing::warn!("could not signal a sandbox event: {e}");
            }
        }
    });
    Ok(())
}

/// The client side, for zionctl and tests.
pub use zion_bus::sandbox::Sandbox1Proxy;

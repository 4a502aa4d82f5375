//! The compositor's side of a sandbox: its own Wayland socket, through
//! `org.zionos.Compositor1`. Best effort: without a compositor on the bus a
//! sandbox runs without Wayland (its browser headless).

use std::path::PathBuf;
use std::time::Duration;

/// The compositor's bus name and interface.
pub const NAME: &str = "org.zionos.Compositor1";
/// Its object path.
pub const PATH: &str = "/org/zionos/Compositor1";

/// How long the compositor gets to answer: a sandbox does not wait longer
/// for its window.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The compositor, reached over a bus connection.
#[derive(Clone)]
pub struct Compositor {
    bus: Option<zbus::Connection>,
}

impl Compositor {
    /// The compositor on `bus` (none: every sandbox runs without Wayland).
    pub fn new(bus: Option<zbus::Connection>) -> Compositor {
        Compositor { bus }
    }

    /// Opens the socket of sandbox `id` of `profile`; returns the folder
    /// holding it, or `None` (logged) when no compositor gives one.
    pub async fn open_socket(&self, profile: &str, id: &str) -> Option<PathBuf> {
        let bus = self.bus.as_ref()?;
        let body = (profile, id);
        let call = bus.call_method(Some(NAME), PATH, Some(NAME), "OpenSocket", &body);
        let answer = match tokio::time::timeout(ANSWER_WITHIN, call).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                tracing::info!(
                    "sandbox {profile}/{id} runs without Wayland (headless): no socket from {NAME}: {e}"
                );
                return None;
            }
            Err(_) => {
                tracing::warn!("sandbox {profile}/{id} runs without Wayland (headless): {NAME} did not answer within {ANSWER_WITHIN:?}");
                return None;
            }
        };
        let socket: String = match answer.body().deserialize() {
            Ok(path) => path,
            Err(e) => {
                tracing::warn!("sandbox {profile}/{id} runs without Wayland: {NAME}.OpenSocket answered oddly: {e}");
                return None;
            }
        };
        let folder = PathBuf::from(socket).parent().map(PathBuf::from);
        if folder.is_none() {
            tracing::warn!("sandbox {profile}/{id} runs without Wayland: {NAME}.OpenSocket gave a path without a folder");
        }
        folder
    }

    /// Closes the socket of sandbox `id` of `profile`, best effort.
    pub async fn close_socket(&self, profile: &str, id: &str) {
        let Some(bus) = &self.bus else { return };
        let body = (profile, id);
        let call = bus.call_method(Some(NAME), PATH, Some(NAME), "CloseSocket", &body);
        match tokio::time::timeout(ANSWER_WITHIN, call).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::debug!("closing the socket of sandbox {profile}/{id}: {e}"),
            Err(_) => tracing::warn!(
                "closing the socket of sandbox {profile}/{id}: {NAME} did not answer"
            ),
        }
    }

    /// The desktop shown, if a compositor says.
    pub async fn active_desktop(&self) -> Option<String> {
        let bus = self.bus.as_ref()?;
        let proxy = zbus::fdo::PropertiesProxy::builder(bus)
            .destination(NAME)
            .ok()?
            .path(PATH)
            .ok()?
            .build()
            .await
            .ok()?;
        let iface = zbus::names::InterfaceName::try_from(NAME).ok()?;
        let value = tokio::time::timeout(ANSWER_WITHIN, proxy.get(iface, "ActiveDesktop"))
            .await
            .ok()?
            .ok()?;
        String::try_from(value).ok()
    }
}

//! The compositor's side of a sandbox: its own Wayland socket, through
//! `org.zionos.Compositor1`. Best effort: without a compositor on the bus a
//! sandbox runs without Wayland (its browser headless).

use std::path::PathBuf;
use std::time::Duration;

use zion_bus::compositor::NAME;
use zion_bus::Compositor1Proxy;

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
        let proxy = self.proxy().await?;
        let call = proxy.open_socket(profile, id);
        let socket = match tokio::time::timeout(ANSWER_WITHIN, call).await {
            Ok(Ok(socket)) => socket,
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
        let folder = PathBuf::from(socket).parent().map(PathBuf::from);
        if folder.is_none() {
            tracing::warn!("sandbox {profile}/{id} runs without Wayland: {NAME}.OpenSocket gave a path without a folder");
        }
        folder
    }

    /// Closes the socket of sandbox `id` of `profile`, best effort.
    pub async fn close_socket(&self, profile: &str, id: &str) {
        let Some(proxy) = self.proxy().await else {
            return;
        };
        let call = proxy.close_socket(profile, id);
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
        let proxy = self.proxy().await?;
        tokio::time::timeout(ANSWER_WITHIN, proxy.active_desktop())
            .await
            .ok()?
            .ok()
    }

    /// A proxy that reads properties afresh (the compositor changes them).
    async fn proxy(&self) -> Option<Compositor1Proxy<'static>> {
        let bus = self.bus.as_ref()?;
        let built = Compositor1Proxy::builder(bus)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await;
        match built {
            Ok(proxy) => Some(proxy),
            Err(e) => {
                tracing::warn!("no proxy for {NAME}: {e}");
                None
            }
        }
    }
}

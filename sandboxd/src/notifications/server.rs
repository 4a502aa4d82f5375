//! `org.freedesktop.Notifications` as a profile's apps see it: served by
//! the relay on the profile's own bus, one server per profile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use zbus::fdo;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedValue;

use super::policy::{Origin, RateLimit, Request};
use super::Relay;

/// The server on one profile's bus.
pub(super) struct Server {
    pub(super) origin: Origin,
    pub(super) relay: Arc<Relay>,
    pub(super) limit: Mutex<RateLimit>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    /// Shows the notification on the host, labelled; its id in this
    /// profile's own count.
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> fdo::Result<u32> {
        let allowed = self
            .limit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(Instant::now());
        if !allowed {
            tracing::debug!(
                "profile `{}`: a notification over the rate limit refused",
                self.origin.profile
            );
            return Err(fdo::Error::LimitsExceeded(
                "too many notifications; wait a moment".into(),
            ));
        }
        let request = Request {
            app_name,
            app_icon,
            summary,
            body,
            actions,
            hints,
            expire_timeout,
        };
        self.relay.notify(&self.origin, replaces_id, &request).await
    }

    /// Closes one of this profile's own notifications; any other id is
    /// refused.
    async fn close_notification(&self, id: u32) -> fdo::Result<()> {
        self.relay.close(&self.origin.profile, id).await
    }

    /// What the relay passes on: plain bodies and actions (no markup, no
    /// images, no sounds: those name the container's files).
    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    /// Zion's relay, of specification 1.2.
    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "zion-sandboxd".into(),
            "Zion".into(),
            env!("CARGO_PKG_VERSION").into(),
            "1.2".into(),
        )
    }

    /// One of this profile's notifications closed.
    #[zbus(signal)]
    pub(super) async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;

    /// The user chose an action of one of this profile's notifications.
    #[zbus(signal)]
    pub(super) async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

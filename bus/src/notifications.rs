//! `org.freedesktop.Notifications`, the desktop's notification daemon, as
//! the Desktop Notifications Specification 1.2 defines it: what
//! zion-sandboxd calls on the host's bus and serves on each profile's.

use std::collections::HashMap;

use zbus::zvariant::Value;

/// The daemon's bus name.
pub const NAME: &str = "org.freedesktop.Notifications";
/// Its object path.
pub const PATH: &str = "/org/freedesktop/Notifications";

/// `NotificationClosed` reason: the notification expired.
pub const CLOSED_EXPIRED: u32 = 1;
/// `NotificationClosed` reason: the user dismissed it.
pub const CLOSED_DISMISSED: u32 = 2;
/// `NotificationClosed` reason: `CloseNotification` closed it.
pub const CLOSED_BY_CALL: u32 = 3;

/// The notification daemon.
#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
pub trait Notifications {
    /// Shows (or, with `replaces_id`, replaces) a notification; its id.
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, &Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;

    /// Closes a notification.
    fn close_notification(&self, id: u32) -> zbus::Result<()>;

    /// What the daemon can show (`body`, `body-markup`, `actions`, …).
    fn get_capabilities(&self) -> zbus::Result<Vec<String>>;

    /// Name, vendor, version, specification version.
    fn get_server_information(&self) -> zbus::Result<(String, String, String, String)>;

    /// A notification closed, and why.
    #[zbus(signal)]
    fn notification_closed(&self, id: u32, reason: u32) -> zbus::Result<()>;

    /// The user chose an action of a notification.
    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: &str) -> zbus::Result<()>;
}

//! `org.zionos.Compositor1`, served by `zion-compositor`.

/// The bus name, which is also the interface's name.
pub const NAME: &str = "org.zionos.Compositor1";
/// The object path.
pub const PATH: &str = "/org/zionos/Compositor1";
/// The prefix of the interface's error names.
pub const ERROR_PREFIX: &str = "org.zionos.Compositor1.Error";

/// The compositor's desktops, sockets and screenshots.
#[zbus::proxy(
    interface = "org.zionos.Compositor1",
    default_service = "org.zionos.Compositor1",
    default_path = "/org/zionos/Compositor1"
)]
pub trait Compositor1 {
    /// The desktops in config order: (profile name, frame colour `#rrggbb`).
    fn list_desktops(&self) -> zbus::Result<Vec<(String, String)>>;
    /// The desktop shown.
    #[zbus(property)]
    fn active_desktop(&self) -> zbus::Result<String>;
    /// Shows the desktop called `name`.
    fn switch_to(&self, name: &str) -> zbus::Result<()>;
    /// Opens a Wayland socket for sandbox `instance` of `profile`; returns
    /// its path.
    fn open_socket(&self, profile: &str, instance: &str) -> zbus::Result<String>;
    /// Closes a sandbox socket and disconnects its clients.
    fn close_socket(&self, profile: &str, instance: &str) -> zbus::Result<()>;
    /// Writes a PNG of the output as shown to `path` (absolute).
    fn screenshot(&self, path: &str) -> zbus::Result<()>;
    /// Locks the session: starts the session's locker.
    fn lock(&self) -> zbus::Result<()>;
    /// Covers profile `name`'s desktop: its windows hidden, no input.
    fn lock_profile(&self, name: &str) -> zbus::Result<()>;
    /// Asks to uncover profile `name`'s desktop: the session's locker
    /// authenticates, and the desktop is uncovered when it unlocks.
    fn unlock_profile(&self, name: &str) -> zbus::Result<()>;
    /// The profiles whose desktops are covered, sorted.
    #[zbus(property)]
    fn locked_profiles(&self) -> zbus::Result<Vec<String>>;
}

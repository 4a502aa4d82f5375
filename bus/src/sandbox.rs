//! `org.zionos.Sandbox1`, served by `zion-sandboxd`: disposable browsers.

/// The bus name, which is also the interface's name.
pub const NAME: &str = "org.zionos.Sandbox1";
/// The object path.
pub const PATH: &str = "/org/zionos/Sandbox1";
/// The prefix of the interface's error names.
pub const ERROR_PREFIX: &str = "org.zionos.Sandbox1.Error";

/// The session's disposable sandboxes.
#[zbus::proxy(
    interface = "org.zionos.Sandbox1",
    default_service = "org.zionos.Sandbox1",
    default_path = "/org/zionos/Sandbox1"
)]
pub trait Sandbox1 {
    /// Opens `url` (the start page when empty) in a browser in a new
    /// disposable sandbox of `profile`; returns the sandbox's id.
    fn open_browser(&self, profile: &str, url: &str) -> zbus::Result<String>;
    /// The open sandboxes: (id, profile, state).
    fn list(&self) -> zbus::Result<Vec<(String, String, String)>>;
    /// Closes a sandbox.
    fn close(&self, id: &str) -> zbus::Result<()>;
    /// A sandbox opened.
    #[zbus(signal)]
    fn opened(&self, id: String, profile: String) -> zbus::Result<()>;
    /// A sandbox ended: closed, or its browser exited.
    #[zbus(signal)]
    fn closed(&self, id: String, reason: String) -> zbus::Result<()>;
}

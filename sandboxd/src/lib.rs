//! `zion-sandboxd`, the session's container daemon: it finds the session's
//! folders and Podman, and brings the profiles of `zion.toml` up and down.
//! Later issues add its D-Bus interfaces, the quarantine pipeline and the
//! browser sandboxes.

pub mod criu;
pub mod firewall;
pub mod focus;
pub mod follow;
pub mod ids;
pub mod paths;
pub mod profiles_dbus;
pub mod quarantine;
pub mod reload;
pub mod sandbox;
pub mod session;
pub mod sound;

pub use paths::SessionPaths;
pub use session::Session;

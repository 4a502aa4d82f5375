//! `zion-sandboxd`, the session's container daemon: it finds the session's
//! folders and Podman, and brings the profiles of `zion.toml` up and down.
//! Later issues add its D-Bus interfaces, the quarantine pipeline and the
//! browser sandboxes.

pub mod criu;
pub mod firewall;
pub mod focus;
pub mod follow;
pub mod ids;
pub mod notifications;
pub mod profiles_dbus;
pub mod quarantine;
pub mod reload;
pub mod sandbox;
pub mod sanitise;
pub mod session;
pub mod sound;

pub use session::Session;
/// Defined in `zion-config` with the rest of the path layout; re-exported so
/// that `zionctl` keeps its imports.
pub use zion_config::SessionPaths;

//! `zion-session`: starts a Zion session the way a display manager needs it.
//!
//! - [`plan`]: the decisions (bus, mode, backend, environment, arguments),
//!   as functions of values.
//! - [`locate`]: finding the session's programs.
//! - [`bus`]: making sure a session bus exists.
//! - [`direct`]: the compositor and the daemon as the launcher's children.
//! - [`podman`]: making sure the Podman API answers (direct mode).
//! - [`systemd`]: the same through `zion-session.target` of the user manager.

pub mod bus;
pub mod direct;
pub mod locate;
pub mod plan;
pub mod podman;
pub mod systemd;

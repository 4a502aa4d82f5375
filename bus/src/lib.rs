//! The contracts between Zion's processes on the session bus, in one place.
//!
//! Each interface has its bus name, object path, the types that travel and
//! a typed client proxy. The servers (`zion-compositor` serves
//! [`compositor`], `zion-sandboxd` serves [`profiles`] and [`sandbox`])
//! implement them (`zion-sandboxd` serves [`quarantine`] too); everyone else
//! (zionctl, the panel, the compositor's calls to the daemon, the daemon's
//! calls to the compositor, the benches, the tests) talks through these
//! proxies instead of declaring their own or calling methods by string.
//!
//! This crate links zbus, serde and futures-util only, so that any process may depend on
//! it without pulling in another's implementation.

pub mod compositor;
pub mod notifications;
pub mod profiles;
pub mod quarantine;
pub mod recall;
pub mod sandbox;

pub use compositor::Compositor1Proxy;
pub use notifications::NotificationsProxy;
pub use profiles::{AppEntry, CapabilityStatus, ProfileStatus, Profiles1Proxy};
pub use quarantine::Quarantine1Proxy;
pub use recall::{CopyInfo, RecallInfo};
pub use sandbox::Sandbox1Proxy;

/// The D-Bus errors that mean "nobody owns that name": the service is not
/// running on this bus.
pub fn is_not_running(err: &zbus::Error) -> bool {
    matches!(
        err,
        zbus::Error::MethodError(name, _, _)
            if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown"
                || name.as_str() == "org.freedesktop.DBus.Error.NameHasNoOwner"
    )
}

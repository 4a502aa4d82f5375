//! The client side of `org.zionos.Quarantine1` (zionctl, the panel, tests),
//! from `zion_quarantine::bus` so that clients need not link the daemon.

pub use zion_quarantine::bus::client::*;

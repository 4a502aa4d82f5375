//! The quarantine as it travels over D-Bus: items and rule matches as plain
//! structs with fixed signatures, shared by the daemon and its clients. They
//! live in `zion_quarantine::bus` so that clients need not link the daemon.

pub use zion_quarantine::bus::wire::{verdict_word, ItemInfo, MatchInfo};

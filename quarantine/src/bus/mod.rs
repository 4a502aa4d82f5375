//! `org.zionos.Quarantine1` as it travels over D-Bus, for the daemon that
//! serves it (zion-sandboxd) and its clients (zionctl, the panel, tests).
//!
//! - [`wire`]: items and rule matches as structs with fixed signatures.
//! - [`client`]: the interface's proxy and its signals.

pub mod client;
pub mod wire;

/// The bus name.
pub const NAME: &str = "org.zionos.Quarantine1";
/// The object path.
pub const PATH: &str = "/org/zionos/Quarantine1";

pub use client::{item_events, ItemEvent, Quarantine1Proxy};
pub use wire::{verdict_word, ItemInfo, MatchInfo};

//! Zion's bar: a host layer-shell client along the top edge showing the
//! desktops in their colours (the shown one filled), each profile's state,
//! how many quarantine items wait for review (a click opens the panel) and a
//! clock. It reads everything through `Compositor1`, `Profiles1` and
//! `Quarantine1` on the session bus, and treats their signals only as a hint
//! to ask again: what it draws is always what the services answer.

pub mod draw;
pub mod model;
pub mod watch;

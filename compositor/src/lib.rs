//! Zion's compositor: one desktop per profile, a socket per profile that
//! fixes each client's identity, trusted frames in the profile's colour, and
//! hotkeys from the configuration.

pub mod backend;
pub mod calls;
pub mod clipboard;
pub mod compositor;
pub mod dbus;
pub mod foreign;
pub mod frame;
pub mod handlers;
pub mod hotkeys;
pub mod identity;
pub mod idle;
pub mod input;
pub mod input_events;
pub mod input_settings;
pub mod layers;
pub mod layout;
pub mod lock;
pub mod manage;
pub mod output_management;
pub mod outputs;
pub mod profile_lock;
pub mod reload;
pub mod render;
pub mod screencopy;
pub mod screenshot;
pub mod sockets;
pub mod state;
pub mod tearing;
pub mod title;
pub mod xwayland;
pub mod xwayland_selection;

pub use backend::BackendKind;
pub use compositor::{Compositor, Options};
pub use hotkeys::Action;
pub use identity::Origin;
pub use screenshot::Screenshot;
pub use state::State;

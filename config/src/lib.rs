//! Zion's configuration (`zion.toml`), shared by every process: profiles,
//! hotkeys, `[focus]`, `[sandbox]`, `[podman]`, `[session]`, `[input]`,
//! `[[output]]` and `[quarantine]` (its policy and transfer rules), and where every file and socket lives (`paths`),
//! validated with errors that name file, line and column and say what to do.
//!
//! Pure: serde, toml and tracing only, so that the compositor and the panel
//! read the configuration without linking the Podman client.

mod action;
mod capabilities;
mod chord;
mod defaults;
mod diagnose;
mod error;
mod focus;
mod input;
mod model;
mod outputs;
mod parse;
pub mod paths;
mod podman;
pub mod quarantine;
mod sandbox;
mod session;
pub mod transfer;
mod units;
mod values;
mod write;

use std::path::Path;

pub use action::Action;
pub use capabilities::{parse_capability, CAPABILITIES};
pub use chord::Chord;
pub use defaults::{palette, DEFAULT_HIBERNATE};
pub use error::ConfigError;
pub use focus::{Focus, DEFAULT_WEIGHT, WEIGHT_MAX, WEIGHT_MIN};
pub use input::{
    AccelProfile, Input, Keyboard, DEFAULT_REPEAT_DELAY, DEFAULT_REPEAT_RATE, MAX_REPEAT_DELAY,
    MAX_REPEAT_RATE,
};
pub use model::{Bind, Config, Hotkeys, Profile};
pub use outputs::{OutputMode, OutputSettings, Transform, MAX_SCALE, MIN_SCALE};
pub use paths::{SessionPaths, StorePaths, HOST_WAYLAND_SOCKET};
pub use podman::PodmanSettings;
pub use sandbox::{SandboxBrowser, SandboxRuntime, SandboxSettings, DEFAULT_POOL, MAX_POOL};
pub use session::{
    Idle, Session, DEFAULT_LOCKER, DEFAULT_LOCK_AFTER, DEFAULT_NOTIFICATIONS,
    DEFAULT_SCREEN_OFF_AFTER,
};
pub use units::{format_duration, format_size, parse_delay, parse_duration, parse_size};
pub use values::{Colour, Device, HibernateAfter, HibernateMode, Network, ProfileName, Restart};

/// The lowest memory limit a profile may have.
pub const MEMORY_FLOOR: u64 = 64 << 20;
/// The lowest pids limit a profile may have.
pub const PIDS_FLOOR: u32 = 16;
/// The pids limit of a profile that names none.
pub const DEFAULT_PIDS: u32 = 4096;
/// The image a profile runs when it names none.
pub const DEFAULT_IMAGE: &str = "localhost/zion-profile:latest";

impl Config {
    /// Work, gaming and personal, with the default hotkeys.
    pub fn defaults() -> Config {
        defaults::config()
    }

    /// Reads, parses and validates a file; `source` is set to `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            line: 1,
            column: 1,
            message: format!("cannot read the file: {e}"),
            hint: Some(
                "check that it exists and is readable; `zionctl config defaults` prints a starting point"
                    .into(),
            ),
        })?;
        let mut config = Config::parse(&text, path)?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Parses and validates `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        parse::parse(text, origin)
    }

    /// The configuration as TOML that `parse` reads back equal (for any
    /// configuration that `parse` or `defaults` gave: whole-second
    /// durations, labels without control characters).
    pub fn to_toml(&self) -> String {
        write::to_toml(self)
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name.as_ref() == name)
    }
}

impl Hotkeys {
    /// The default bindings (profiles carry their own Super+N).
    pub fn defaults() -> Hotkeys {
        defaults::hotkeys()
    }
}

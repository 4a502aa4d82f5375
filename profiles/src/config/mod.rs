//! The configuration model (`zion.toml`): profiles, hotkeys and the raw
//! `[quarantine]` table, validated with errors that name file, line and
//! column and say what to do.

mod capabilities;
mod chord;
mod defaults;
mod diagnose;
mod error;
mod focus;
mod model;
mod parse;
mod sandbox;
mod session;
mod units;
mod values;
mod write;

use std::path::Path;

pub use capabilities::{parse_capability, CAPABILITIES};
pub use chord::Chord;
pub use defaults::{palette, DEFAULT_HIBERNATE};
pub use error::ConfigError;
pub use focus::{Focus, DEFAULT_WEIGHT, WEIGHT_MAX, WEIGHT_MIN};
pub use model::{Bind, Config, Hotkeys, Profile};
pub use sandbox::{SandboxSettings, DEFAULT_POOL, MAX_POOL};
pub use session::{Session, DEFAULT_LOCKER};
pub use units::{format_duration, format_size, parse_duration, parse_size};
pub use values::{Colour, Device, HibernateAfter, HibernateMode, Network, ProfileName, Restart};

/// The lowest memory limit a profile may have.
pub const MEMORY_FLOOR: u64 = 64 << 20;
/// The lowest pids limit a profile may have.
pub const PIDS_FLOOR: u32 = 16;
/// The pids limit of a profile that names none.
pub const DEFAULT_PIDS: u32 = 4096;
/// The image a profile runs when it names none.
pub const DEFAULT_IMAGE: &str = "localhost/zion-profile:latest";

/// The actions a `[hotkeys]` binding can trigger.
pub const ACTIONS: [&str; 19] = [
    "switch-to-1",
    "switch-to-2",
    "switch-to-3",
    "switch-to-4",
    "switch-to-5",
    "switch-to-6",
    "switch-to-7",
    "switch-to-8",
    "switch-to-9",
    "next-profile",
    "previous-profile",
    "terminal",
    "browser",
    "panel",
    "close-window",
    "toggle-fullscreen",
    "copy-to-transfer",
    "paste-transfer",
    "lock",
];

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

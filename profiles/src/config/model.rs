//! The validated configuration: what the rest of Zion reads. Every value
//! here has passed the checks of `parse.rs`.

use std::path::PathBuf;

use super::chord::Chord;
use super::focus::Focus;
use super::sandbox::SandboxSettings;
use super::values::{Colour, Device, HibernateAfter, HibernateMode, Network, ProfileName, Restart};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Profiles in desktop order.
    pub profiles: Vec<Profile>,
    /// Global hotkeys (a profile's own hotkey lives on the profile).
    pub hotkeys: Hotkeys,
    /// The raw `[quarantine]` table, read by the quarantine crate.
    pub quarantine: toml::Table,
    /// `[focus]`: CPU weights that follow the shown desktop.
    pub focus: Focus,
    /// `[sandbox]`: the disposable browsers.
    pub sandbox: SandboxSettings,
    /// `[session]`: the locker.
    pub session: super::Session,
    /// The file it was loaded from (`None` for defaults and parsed text).
    pub source: Option<PathBuf>,
}

/// One profile: one container, one desktop.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Its name, a safe folder name.
    pub name: ProfileName,
    /// Shown in frames.
    pub label: String,
    /// Its frame colour.
    pub colour: Colour,
    /// Its container image.
    pub image: String,
    /// CPU limit (0 < cpus ≤ 1024).
    pub cpus: Option<f64>,
    /// Memory limit in bytes (at least [`super::MEMORY_FLOOR`]).
    pub memory: Option<u64>,
    /// Task limit (at least [`super::PIDS_FLOOR`]).
    pub pids: u32,
    /// Devices granted.
    pub devices: Vec<Device>,
    /// Network.
    pub network: Network,
    /// Capabilities granted, as `CAP_…` (all others are dropped).
    pub capabilities: Vec<String>,
    /// Extra host folders.
    pub binds: Vec<Bind>,
    /// Apps started with the profile, each a non-empty argv.
    pub autostart: Vec<Vec<String>>,
    /// The profile's terminal, a non-empty argv.
    pub terminal: Vec<String>,
    /// When it freezes unused.
    pub hibernate_after: HibernateAfter,
    /// How it hibernates: frozen in memory, or checkpointed to disk.
    pub hibernate: HibernateMode,
    /// The chord that switches to it.
    pub hotkey: Option<Chord>,
    /// What happens when its container dies unasked.
    pub restart: Restart,
}

/// A host folder bound into a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Absolute host path, without `..`.
    pub host: PathBuf,
    /// Absolute path inside the container, without `..`.
    pub target: PathBuf,
    /// Read-only (the default).
    pub read_only: bool,
}

/// Global hotkeys: canonical chord → action (one of [`super::ACTIONS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hotkeys {
    /// The bindings, sorted by chord.
    pub bindings: Vec<(String, String)>,
}

impl Hotkeys {
    /// The action of a chord written canonically (`Super+Return`).
    pub fn action(&self, chord: &str) -> Option<&str> {
        self.bindings
            .iter()
            .find(|(c, _)| c == chord)
            .map(|(_, a)| a.as_str())
    }
}

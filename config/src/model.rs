//! The validated configuration: what the rest of Zion reads. Every value
//! here has passed the checks of `parse.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::action::Action;
use crate::podman::PodmanSettings;
use crate::quarantine::Policy;

use crate::chord::Chord;
use crate::focus::Focus;
use crate::sandbox::SandboxSettings;
use crate::values::{Colour, Device, HibernateAfter, HibernateMode, Network, ProfileName, Restart};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Profiles in desktop order.
    pub profiles: Vec<Profile>,
    /// Global hotkeys (a profile's own hotkey lives on the profile).
    pub hotkeys: Hotkeys,
    /// `[quarantine]`: what is held, for how long, and where it goes.
    pub quarantine: Policy,
    /// `[focus]`: CPU weights that follow the shown desktop.
    pub focus: Focus,
    /// `[sandbox]`: the disposable browsers.
    pub sandbox: SandboxSettings,
    /// `[session]`: the locker.
    pub session: super::Session,
    /// `[podman]`: how long Zion waits for Podman.
    pub podman: PodmanSettings,
    /// `[input]`: keyboard layout, key repeat, pointer.
    pub input: super::Input,
    /// `[[output]]`: screens' modes, positions, scales and transforms.
    pub outputs: Vec<super::OutputSettings>,
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
    /// Memory limit in bytes (at least [`crate::MEMORY_FLOOR`]).
    pub memory: Option<u64>,
    /// Task limit (at least [`crate::PIDS_FLOOR`]).
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

/// Global hotkeys: chord → action, parsed once when the file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hotkeys {
    /// The bindings, sorted by chord.
    pub bindings: BTreeMap<Chord, Action>,
}

impl Hotkeys {
    /// The action bound to `chord`.
    pub fn action(&self, chord: &Chord) -> Option<Action> {
        self.bindings.get(chord).copied()
    }
}

//! The configuration model (`zion.toml`): profiles, hotkeys and the raw
//! `[quarantine]` table, validated with errors that name file, line and
//! column.

mod error;
mod parse;
mod units;

use std::fmt::Write;
use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use units::{
    format_duration, format_size, parse_capability, parse_duration, parse_size, Chord, Colour,
    Device, HibernateAfter, Network, ProfileName,
};

/// The lowest memory limit a profile may have.
pub const MEMORY_FLOOR: u64 = 64 << 20;
/// The lowest pids limit a profile may have.
pub const PIDS_FLOOR: u32 = 16;
/// The image a profile runs when it names none.
pub const DEFAULT_IMAGE: &str = "localhost/zion-profile:latest";

/// The actions a hotkey can trigger.
pub const ACTIONS: [&str; 16] = [
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
];

/// A host folder bound into a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Absolute host path.
    pub host: PathBuf,
    /// Absolute path inside the container.
    pub target: PathBuf,
    /// Read-only (the default).
    pub read_only: bool,
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
    /// CPU limit.
    pub cpus: Option<f64>,
    /// Memory limit in bytes.
    pub memory: Option<u64>,
    /// Task limit.
    pub pids: u32,
    /// Devices granted.
    pub devices: Vec<Device>,
    /// Network.
    pub network: Network,
    /// Capabilities granted (all others are dropped).
    pub capabilities: Vec<String>,
    /// Extra host folders.
    pub binds: Vec<Bind>,
    /// Apps started with the profile.
    pub autostart: Vec<Vec<String>>,
    /// The profile's terminal.
    pub terminal: Vec<String>,
    /// When it freezes unused.
    pub hibernate_after: HibernateAfter,
    /// The chord that switches to it.
    pub hotkey: Option<Chord>,
}

/// Global hotkeys: chord → action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hotkeys {
    /// The bindings, sorted by chord.
    pub bindings: Vec<(String, String)>,
}

impl Hotkeys {
    /// Super+Tab, Super+Return, Super+B, Super+Q (profiles carry Super+N).
    pub fn defaults() -> Hotkeys {
        let mut bindings: Vec<(String, String)> = [
            ("Super+Tab", "next-profile"),
            ("Super+Shift+Tab", "previous-profile"),
            ("Super+Return", "terminal"),
            ("Super+B", "browser"),
            ("Super+Q", "panel"),
            ("Super+W", "close-window"),
            ("Super+F", "toggle-fullscreen"),
        ]
        .iter()
        .map(|(c, a)| ((*c).to_owned(), (*a).to_owned()))
        .collect();
        bindings.sort();
        Hotkeys { bindings }
    }

    /// The action of a chord.
    pub fn action(&self, chord: &str) -> Option<&str> {
        self.bindings
            .iter()
            .find(|(c, _)| c == chord)
            .map(|(_, a)| a.as_str())
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Profiles in desktop order.
    pub profiles: Vec<Profile>,
    /// Global hotkeys.
    pub hotkeys: Hotkeys,
    /// The `[quarantine]` table, read by the quarantine crate.
    pub quarantine: toml::Table,
}

fn builtin(name: &str, label: &str, colour: Colour, key: char) -> Profile {
    Profile {
        name: ProfileName::from_str_unchecked(name),
        label: label.to_owned(),
        colour,
        image: DEFAULT_IMAGE.to_owned(),
        cpus: None,
        memory: None,
        pids: 4096,
        devices: Vec::new(),
        network: Network::Full,
        capabilities: Vec::new(),
        binds: Vec::new(),
        autostart: Vec::new(),
        terminal: vec!["foot".to_owned()],
        hibernate_after: HibernateAfter::After(std::time::Duration::from_secs(600)),
        hotkey: format!("Super+{key}").parse().ok(),
    }
}

impl Config {
    /// Work, gaming and personal.
    pub fn defaults() -> Config {
        let work = builtin(
            "work",
            "Work",
            Colour {
                r: 0x34,
                g: 0x65,
                b: 0xa4,
            },
            '1',
        );
        let mut gaming = builtin(
            "gaming",
            "Gaming",
            Colour {
                r: 0xcc,
                g: 0x00,
                b: 0x00,
            },
            '2',
        );
        gaming.devices = vec![Device::Gpu, Device::Gamepad, Device::Sound];
        gaming.hibernate_after = HibernateAfter::Never;
        let mut personal = builtin(
            "personal",
            "Personal",
            Colour {
                r: 0x4e,
                g: 0x9a,
                b: 0x06,
            },
            '3',
        );
        personal.devices = vec![Device::Sound];
        Config {
            profiles: vec![work, gaming, personal],
            hotkeys: Hotkeys::defaults(),
            quarantine: toml::Table::new(),
        }
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            line: 1,
            column: 1,
            message: format!("cannot read the file: {e}"),
            hint: Some("check that it exists and is readable; `zionctl config defaults` prints a starting point".into()),
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        parse::parse(text, origin)
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name.as_ref() == name)
    }

    /// The configuration as TOML that `parse` reads back equal.
    pub fn to_toml(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let list = |v: &[String]| {
            format!(
                "[{}]",
                v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
            )
        };
        let mut out =
            String::from("# Zion's configuration: one [[profile]] per desktop, in order.\n");
        for p in &self.profiles {
            let _ = writeln!(
                out,
                "\n[[profile]]\nname = {}\nlabel = {}\ncolour = \"{}\"",
                q(p.name.as_ref()),
                q(&p.label),
                p.colour
            );
            let _ = writeln!(out, "image = {}", q(&p.image));
            if let Some(cpus) = p.cpus {
                let _ = writeln!(out, "cpus = {cpus:?}");
            }
            if let Some(memory) = p.memory {
                let _ = writeln!(out, "memory = \"{}\"", format_size(memory));
            }
            let _ = writeln!(out, "pids = {}", p.pids);
            let devices: Vec<String> = p.devices.iter().map(|d| d.to_string()).collect();
            let _ = writeln!(
                out,
                "devices = {}\nnetwork = \"{}\"",
                list(&devices),
                p.network
            );
            if !p.capabilities.is_empty() {
                let _ = writeln!(out, "capabilities = {}", list(&p.capabilities));
            }
            let apps: Vec<String> = p.autostart.iter().map(|a| list(a)).collect();
            let _ = writeln!(
                out,
                "autostart = [{}]\nterminal = {}",
                apps.join(", "),
                list(&p.terminal)
            );
            let _ = writeln!(out, "hibernate_after = \"{}\"", p.hibernate_after);
            if let Some(hotkey) = &p.hotkey {
                let _ = writeln!(out, "hotkey = \"{hotkey}\"");
            }
            for b in &p.binds {
                let _ = writeln!(
                    out,
                    "\n[[profile.binds]]\nhost = {}\ntarget = {}\nread_only = {}",
                    q(&b.host.to_string_lossy()),
                    q(&b.target.to_string_lossy()),
                    b.read_only
                );
            }
        }
        out.push_str("\n[hotkeys]\n");
        for (chord, action) in &self.hotkeys.bindings {
            let _ = writeln!(out, "{} = {}", q(chord), q(action));
        }
        if !self.quarantine.is_empty() {
            let _ = write!(
                out,
                "\n[quarantine]\n{}",
                toml::to_string(&self.quarantine).unwrap_or_default()
            );
        }
        out
    }
}

impl ProfileName {
    fn from_str_unchecked(s: &str) -> ProfileName {
        s.parse()
            .unwrap_or_else(|e| panic!("built-in profile name: {e}"))
    }
}

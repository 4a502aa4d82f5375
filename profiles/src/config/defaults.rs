//! The configuration Zion runs with when the user has written none: work,
//! gaming and personal. `session-files/zion.toml` is this, written out.

use std::time::Duration;

use super::{
    Colour, Config, Device, HibernateAfter, HibernateMode, Hotkeys, Network, Profile, ProfileName,
    Restart, DEFAULT_IMAGE, DEFAULT_PIDS,
};

/// How long an unused profile runs before it is frozen, unless it says.
pub const DEFAULT_HIBERNATE: HibernateAfter = HibernateAfter::After(Duration::from_secs(600));

/// The terminal of a profile that names none.
fn default_terminal() -> Vec<String> {
    vec!["foot".to_owned()]
}

/// A profile with every optional value at its default.
pub fn profile(name: ProfileName, colour: Colour) -> Profile {
    Profile {
        label: name.to_string(),
        name,
        colour,
        image: DEFAULT_IMAGE.to_owned(),
        cpus: None,
        memory: None,
        pids: DEFAULT_PIDS,
        devices: Vec::new(),
        network: Network::Full,
        capabilities: Vec::new(),
        binds: Vec::new(),
        autostart: Vec::new(),
        terminal: default_terminal(),
        hibernate_after: DEFAULT_HIBERNATE,
        hibernate: HibernateMode::Freeze,
        hotkey: None,
        restart: Restart::OnFailure,
    }
}

/// Colours for profiles that name none, distinct from one another.
pub fn palette(index: usize) -> Colour {
    const COLOURS: [(u8, u8, u8); 6] = [
        (0x34, 0x65, 0xa4),
        (0xcc, 0x00, 0x00),
        (0x4e, 0x9a, 0x06),
        (0x75, 0x50, 0x7b),
        (0xc4, 0xa0, 0x00),
        (0x06, 0x98, 0x9a),
    ];
    let (r, g, b) = COLOURS[index % COLOURS.len()];
    Colour { r, g, b }
}

fn builtin(index: usize, name: &str, label: &str) -> Profile {
    let name: ProfileName = name
        .parse()
        .unwrap_or_else(|e| panic!("built-in profile name: {e}"));
    let mut p = profile(name, palette(index));
    p.label = label.to_owned();
    p.hotkey = format!("Super+{}", index + 1).parse().ok();
    p
}

/// Work (blue), gaming (red; GPU, gamepad, sound; never frozen) and
/// personal (green; sound), on Super+1, Super+2 and Super+3.
pub fn config() -> Config {
    let work = builtin(0, "work", "Work");
    let mut gaming = builtin(1, "gaming", "Gaming");
    gaming.devices = vec![Device::Gpu, Device::Gamepad, Device::Sound];
    gaming.hibernate_after = HibernateAfter::Never;
    let mut personal = builtin(2, "personal", "Personal");
    personal.devices = vec![Device::Sound];
    Config {
        profiles: vec![work, gaming, personal],
        hotkeys: hotkeys(),
        quarantine: toml::Table::new(),
        focus: super::Focus::default(),
        sandbox: super::SandboxSettings::default(),
        session: super::Session::default(),
        source: None,
    }
}

/// Super+Tab, Super+Shift+Tab, Super+Return, Super+B, Super+Q, Super+W,
/// Super+F, Super+Shift+C, Super+Shift+V and Super+L (profiles carry their own
/// Super+N).
pub fn hotkeys() -> Hotkeys {
    let mut bindings: Vec<(String, String)> = [
        ("Super+Tab", "next-profile"),
        ("Super+Shift+Tab", "previous-profile"),
        ("Super+Return", "terminal"),
        ("Super+B", "browser"),
        ("Super+Q", "panel"),
        ("Super+W", "close-window"),
        ("Super+F", "toggle-fullscreen"),
        ("Super+Shift+C", "copy-to-transfer"),
        ("Super+Shift+V", "paste-transfer"),
        ("Super+L", "lock"),
    ]
    .iter()
    .map(|(c, a)| ((*c).to_owned(), (*a).to_owned()))
    .collect();
    bindings.sort();
    Hotkeys { bindings }
}

//! The configuration Zion runs with when the user has written none: work,
//! gaming and personal. `session-files/zion.toml` is this, written out.

use std::time::Duration;

use crate::action::Action;
use crate::chord::Chord;

use crate::{
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
        quarantine: crate::quarantine::Policy::default(),
        focus: crate::Focus::default(),
        sandbox: crate::SandboxSettings::default(),
        session: crate::Session::default(),
        podman: crate::PodmanSettings::default(),
        input: crate::Input::default(),
        outputs: Vec::new(),
        source: None,
    }
}

/// Super+Tab, Super+Shift+Tab, Super+Return, Super+B, Super+Q, Super+W,
/// Super+F, Super+Shift+C, Super+Shift+V, Super+L, Super+Shift+L,
/// Super+Space, Alt+Tab, Alt+Shift+Tab, Super+Left/Right/Up, Super+M and
/// Super+Shift+M (profiles carry their own Super+N).
pub fn hotkeys() -> Hotkeys {
    let bindings = [
        ("Super+Tab", Action::NextProfile),
        ("Super+Shift+Tab", Action::PreviousProfile),
        ("Super+Return", Action::Terminal),
        ("Super+B", Action::Browser),
        ("Super+Q", Action::Panel),
        ("Super+W", Action::CloseWindow),
        ("Super+F", Action::ToggleFullscreen),
        ("Super+Shift+C", Action::CopyToTransfer),
        ("Super+Shift+V", Action::PasteTransfer),
        ("Super+L", Action::Lock),
        ("Super+Shift+L", Action::LockProfile),
        ("Super+Space", Action::Launcher),
        ("Alt+Tab", Action::CycleWindows),
        ("Alt+Shift+Tab", Action::CycleWindowsBack),
        ("Super+Left", Action::SnapLeft),
        ("Super+Right", Action::SnapRight),
        ("Super+Up", Action::ToggleMaximize),
        ("Super+M", Action::MinimizeWindow),
        ("Super+Shift+M", Action::RestoreWindow),
    ]
    .into_iter()
    .map(|(chord, action)| {
        let chord: Chord = chord
            .parse()
            .unwrap_or_else(|e| panic!("built-in chord: {e}"));
        (chord, action)
    })
    .collect();
    Hotkeys { bindings }
}

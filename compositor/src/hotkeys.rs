//! What a key press does: a pure function of the key, the modifiers held and
//! the configuration, giving an [`Action`] that the compositor performs in
//! one place (`State::do_action`).

use zion_profiles::config::{Chord, Config};

/// Something a hotkey asks the compositor to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Show the desktop at this index (0-based, config order).
    SwitchTo(usize),
    /// Show the next desktop.
    NextProfile,
    /// Show the previous desktop.
    PreviousProfile,
    /// A terminal in the active profile.
    Terminal,
    /// A disposable browser in the active profile.
    Browser,
    /// The quarantine panel.
    Panel,
    /// Ask the focused window to close.
    CloseWindow,
    /// Toggle fullscreen on the focused window.
    ToggleFullscreen,
    /// Copy the shown profile's clipboard into the host's transfer slot.
    CopyToTransfer,
    /// Move the transfer slot into the focused window's profile's clipboard
    /// (once: the slot is empty afterwards).
    PasteTransfer,
    /// Lock the session: start the session's locker.
    Lock,
    /// Switch to this virtual terminal (a fixed chord, Ctrl+Alt+F1..F12;
    /// never bound by name in the configuration).
    SwitchVt(u8),
}

impl Action {
    /// Parses an action name of the configuration (`switch-to-2`, `terminal`, …).
    pub fn parse(name: &str) -> Option<Action> {
        if let Some(n) = name.strip_prefix("switch-to-") {
            let n: usize = n.parse().ok()?;
            return (1..=9).contains(&n).then(|| Action::SwitchTo(n - 1));
        }
        Some(match name {
            "next-profile" => Action::NextProfile,
            "previous-profile" => Action::PreviousProfile,
            "terminal" => Action::Terminal,
            "browser" => Action::Browser,
            "panel" => Action::Panel,
            "close-window" => Action::CloseWindow,
            "toggle-fullscreen" => Action::ToggleFullscreen,
            "copy-to-transfer" => Action::CopyToTransfer,
            "paste-transfer" => Action::PasteTransfer,
            "lock" => Action::Lock,
            _ => return None,
        })
    }
}

/// The modifiers held during a key press.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mods {
    /// Super (the logo key).
    pub logo: bool,
    /// Control.
    pub ctrl: bool,
    /// Alt.
    pub alt: bool,
    /// Shift.
    pub shift: bool,
}

/// The canonical chord (`Super+Shift+Tab`) of a key press, given the key's
/// unshifted keysym name (`Tab`, `2`, `b`); `None` without a modifier or for
/// a key the configuration cannot name.
pub fn chord_of(mods: Mods, key: &str) -> Option<Chord> {
    let mut text = String::new();
    for (held, name) in [
        (mods.logo, "Super"),
        (mods.ctrl, "Ctrl"),
        (mods.alt, "Alt"),
        (mods.shift, "Shift"),
    ] {
        if held {
            text.push_str(name);
            text.push('+');
        }
    }
    text.push_str(key);
    text.parse().ok()
}

/// The action of a key press under `config`: a profile's own hotkey shows
/// its desktop; otherwise the `[hotkeys]` table decides.
pub fn action_for(config: &Config, mods: Mods, key: &str) -> Option<Action> {
    let chord = chord_of(mods, key)?;
    if let Some(i) = config
        .profiles
        .iter()
        .position(|p| p.hotkey.as_ref() == Some(&chord))
    {
        return Some(Action::SwitchTo(i));
    }
    config
        .hotkeys
        .action(&chord.to_string())
        .and_then(Action::parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SUPER: Mods = Mods {
        logo: true,
        ctrl: false,
        alt: false,
        shift: false,
    };

    #[test]
    fn super_digit_switches_to_that_profile() {
        let c = Config::defaults();
        assert_eq!(action_for(&c, SUPER, "1"), Some(Action::SwitchTo(0)));
        assert_eq!(action_for(&c, SUPER, "2"), Some(Action::SwitchTo(1)));
        assert_eq!(action_for(&c, SUPER, "3"), Some(Action::SwitchTo(2)));
        assert_eq!(action_for(&c, SUPER, "4"), None, "no fourth profile");
    }

    #[test]
    fn default_bindings_give_their_actions() {
        let c = Config::defaults();
        assert_eq!(action_for(&c, SUPER, "Tab"), Some(Action::NextProfile));
        let shift = Mods {
            shift: true,
            ..SUPER
        };
        assert_eq!(action_for(&c, shift, "Tab"), Some(Action::PreviousProfile));
        assert_eq!(action_for(&c, SUPER, "Return"), Some(Action::Terminal));
        assert_eq!(action_for(&c, SUPER, "b"), Some(Action::Browser));
        assert_eq!(action_for(&c, SUPER, "q"), Some(Action::Panel));
        assert_eq!(action_for(&c, SUPER, "w"), Some(Action::CloseWindow));
        assert_eq!(action_for(&c, SUPER, "f"), Some(Action::ToggleFullscreen));
        assert_eq!(action_for(&c, shift, "c"), Some(Action::CopyToTransfer));
        assert_eq!(action_for(&c, shift, "v"), Some(Action::PasteTransfer));
        assert_eq!(action_for(&c, SUPER, "v"), None, "Super+V alone is free");
    }

    #[test]
    fn keys_without_a_modifier_or_binding_do_nothing() {
        let c = Config::defaults();
        assert_eq!(action_for(&c, Mods::default(), "1"), None);
        assert_eq!(action_for(&c, Mods::default(), "Return"), None);
        let ctrl = Mods {
            ctrl: true,
            ..Mods::default()
        };
        assert_eq!(action_for(&c, ctrl, "1"), None);
        assert_eq!(action_for(&c, SUPER, "Super_L"), None);
    }

    #[test]
    fn hotkeys_come_from_the_config_file() {
        let text = r##"
[[profile]]
name = "personal"
label = "Personal"
colour = "#4e9a06"
hotkey = "Alt+F1"

[[profile]]
name = "work"
label = "Work"
colour = "#3465a4"
hotkey = "Alt+F2"

[hotkeys]
"Ctrl+Alt+T" = "terminal"
"Super+N" = "switch-to-2"
"##;
        let c = Config::parse(text, Path::new("test.toml")).expect("valid config");
        let alt = Mods {
            alt: true,
            ..Mods::default()
        };
        assert_eq!(action_for(&c, alt, "F2"), Some(Action::SwitchTo(1)));
        assert_eq!(action_for(&c, alt, "F1"), Some(Action::SwitchTo(0)));
        let ctrl_alt = Mods { ctrl: true, ..alt };
        assert_eq!(action_for(&c, ctrl_alt, "t"), Some(Action::Terminal));
        assert_eq!(action_for(&c, SUPER, "n"), Some(Action::SwitchTo(1)));
        assert_eq!(
            action_for(&c, SUPER, "1"),
            None,
            "Super+1 is not bound here"
        );
    }

    #[test]
    fn every_configurable_action_name_parses() {
        for name in zion_profiles::config::ACTIONS {
            assert!(Action::parse(name).is_some(), "{name}");
        }
        assert_eq!(Action::parse("switch-to-0"), None);
        assert_eq!(Action::parse("switch-to-10"), None);
        assert_eq!(Action::parse("rm-rf"), None);
    }
}

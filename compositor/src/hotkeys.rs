//! What a key press does: a pure function of the key, the modifiers held and
//! the configuration, giving an [`Action`] that the compositor performs in
//! one place (`State::do_action`).

use zion_config::{Chord, Config};

/// Defined in `zion-config`, which parses `[hotkeys]` into it; re-exported
/// so that the compositor's modules keep naming `crate::hotkeys::Action`.
pub use zion_config::Action;

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

/// Whether `action` works even while the focused client inhibits
/// shortcuts (keyboard-shortcuts-inhibit, e.g. a remote desktop viewer):
/// switching desktops, locking, the transfer chords and the terminal
/// switches. A client must never be able to keep the user on its desktop,
/// keep the session unlocked or stand in the way of a transfer.
pub fn beats_inhibitor(action: Action) -> bool {
    matches!(
        action,
        Action::SwitchTo(_)
            | Action::NextProfile
            | Action::PreviousProfile
            | Action::Lock
            | Action::LockProfile
            | Action::CopyToTransfer
            | Action::PasteTransfer
            | Action::SwitchVt(_)
    )
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
    config.hotkeys.action(&chord)
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
    fn window_management_chords_are_bound_by_default() {
        let c = Config::defaults();
        let alt = Mods {
            alt: true,
            ..Mods::default()
        };
        let alt_shift = Mods { shift: true, ..alt };
        assert_eq!(action_for(&c, alt, "Tab"), Some(Action::CycleWindows));
        assert_eq!(
            action_for(&c, alt_shift, "Tab"),
            Some(Action::CycleWindowsBack)
        );
        assert_eq!(action_for(&c, SUPER, "Left"), Some(Action::SnapLeft));
        assert_eq!(action_for(&c, SUPER, "Right"), Some(Action::SnapRight));
        assert_eq!(action_for(&c, SUPER, "Up"), Some(Action::ToggleMaximize));
        assert_eq!(action_for(&c, SUPER, "m"), Some(Action::MinimizeWindow));
        let super_shift = Mods {
            shift: true,
            ..SUPER
        };
        assert_eq!(
            action_for(&c, super_shift, "m"),
            Some(Action::RestoreWindow)
        );
    }

    #[test]
    fn only_desktop_switch_lock_transfer_and_terminal_chords_beat_an_inhibitor() {
        let always = [
            Action::SwitchTo(0),
            Action::SwitchTo(8),
            Action::NextProfile,
            Action::PreviousProfile,
            Action::Lock,
            Action::LockProfile,
            Action::CopyToTransfer,
            Action::PasteTransfer,
            Action::SwitchVt(3),
        ];
        for action in always {
            assert!(beats_inhibitor(action), "{action:?}");
        }
        let others = Action::ALL
            .into_iter()
            .filter(|a| !always.contains(a) && !matches!(a, Action::SwitchTo(_)));
        for action in others {
            assert!(!beats_inhibitor(action), "{action:?}");
        }
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
}

//! What a hotkey asks the compositor to do, defined once: the `[hotkeys]`
//! parser, the writer and the compositor all use [`Action`] and its
//! [`Action::name`].

use std::fmt;
use std::str::FromStr;

use crate::values::serde_as_text;

/// Something a hotkey asks the compositor to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Cover the shown profile's desktop (a per-profile lock); on a covered
    /// desktop, ask to unlock it (the session's locker authenticates).
    LockProfile,
    /// The launcher: every profile's applications, started in their profile.
    Launcher,
    /// Switch to this virtual terminal (a fixed chord, Ctrl+Alt+F1..F12;
    /// never bound by name in the configuration).
    SwitchVt(u8),
    /// Step to the next window of the shown desktop, most recently used
    /// first; the choice is taken when the chord's modifiers are released.
    CycleWindows,
    /// The same, backwards.
    CycleWindowsBack,
    /// Fit the focused window to the left half of the output (again: back).
    SnapLeft,
    /// Fit the focused window to the right half of the output (again: back).
    SnapRight,
    /// Maximize the focused window, or bring it back.
    ToggleMaximize,
    /// Hide the focused window until it is restored.
    MinimizeWindow,
    /// Bring back the window minimized last on the shown desktop.
    RestoreWindow,
}

/// `switch-to-N` for the desktops a binding can name (1 to 9).
const SWITCH_NAMES: [&str; 9] = [
    "switch-to-1",
    "switch-to-2",
    "switch-to-3",
    "switch-to-4",
    "switch-to-5",
    "switch-to-6",
    "switch-to-7",
    "switch-to-8",
    "switch-to-9",
];

impl Action {
    /// Every action a `[hotkeys]` binding can name, in documentation order.
    pub const ALL: [Action; 28] = [
        Action::SwitchTo(0),
        Action::SwitchTo(1),
        Action::SwitchTo(2),
        Action::SwitchTo(3),
        Action::SwitchTo(4),
        Action::SwitchTo(5),
        Action::SwitchTo(6),
        Action::SwitchTo(7),
        Action::SwitchTo(8),
        Action::NextProfile,
        Action::PreviousProfile,
        Action::Terminal,
        Action::Browser,
        Action::Panel,
        Action::CloseWindow,
        Action::ToggleFullscreen,
        Action::CopyToTransfer,
        Action::PasteTransfer,
        Action::Lock,
        Action::LockProfile,
        Action::Launcher,
        Action::CycleWindows,
        Action::CycleWindowsBack,
        Action::SnapLeft,
        Action::SnapRight,
        Action::ToggleMaximize,
        Action::MinimizeWindow,
        Action::RestoreWindow,
    ];

    /// Its name in `zion.toml` (`switch-to-2`, `terminal`, …); `None` for a
    /// desktop index no binding can name (10th and later: those are reached
    /// by a profile's own `hotkey`) and for a virtual terminal's fixed chord.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Action::SwitchTo(i) => return SWITCH_NAMES.get(i).copied(),
            Action::SwitchVt(_) => return None,
            Action::Lock => "lock",
            Action::LockProfile => "lock-profile",
            Action::Launcher => "launcher",
            Action::NextProfile => "next-profile",
            Action::PreviousProfile => "previous-profile",
            Action::Terminal => "terminal",
            Action::Browser => "browser",
            Action::Panel => "panel",
            Action::CloseWindow => "close-window",
            Action::ToggleFullscreen => "toggle-fullscreen",
            Action::CopyToTransfer => "copy-to-transfer",
            Action::PasteTransfer => "paste-transfer",
            Action::CycleWindows => "cycle-windows",
            Action::CycleWindowsBack => "cycle-windows-back",
            Action::SnapLeft => "snap-left",
            Action::SnapRight => "snap-right",
            Action::ToggleMaximize => "toggle-maximize",
            Action::MinimizeWindow => "minimize-window",
            Action::RestoreWindow => "restore-window",
        })
    }

    /// Every name a binding may use, in documentation order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Action::ALL.into_iter().filter_map(Action::name)
    }

    /// Parses an action name of the configuration (`switch-to-2`, `terminal`, …).
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == Some(name))
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Action::parse(s).ok_or_else(|| format!("unknown action `{s}`"))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Action::SwitchTo(i), None) = (self, self.name()) {
            // Not writable in [hotkeys]; shown in logs only.
            return write!(f, "switch-to-{}", i + 1);
        }
        if let Action::SwitchVt(n) = self {
            return write!(f, "switch-vt-{n}");
        }
        f.write_str(self.name().unwrap_or_default())
    }
}

serde_as_text!(Action);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_name_that_parses_back() {
        let names: Vec<&str> = Action::names().collect();
        assert_eq!(names.len(), Action::ALL.len(), "every action is nameable");
        for action in Action::ALL {
            let name = action.name().expect("named");
            assert_eq!(Action::parse(name), Some(action), "{name}");
            assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{name}");
        }
    }

    #[test]
    fn switch_names_stop_at_nine_and_unknown_names_are_refused() {
        assert_eq!(Action::parse("switch-to-1"), Some(Action::SwitchTo(0)));
        assert_eq!(Action::parse("switch-to-9"), Some(Action::SwitchTo(8)));
        assert_eq!(Action::parse("switch-to-0"), None);
        assert_eq!(Action::parse("switch-to-10"), None);
        assert_eq!(Action::parse("rm-rf"), None);
        assert_eq!(Action::SwitchTo(9).name(), None);
        assert_eq!(Action::SwitchTo(9).to_string(), "switch-to-10");
    }
}

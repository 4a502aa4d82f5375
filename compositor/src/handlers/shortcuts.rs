//! keyboard-shortcuts-inhibit: a client (a remote desktop, a virtual
//! machine's viewer) may have the keys of Zion's hotkeys for itself. It is
//! granted to every client, but only while the inhibiting surface has the
//! keyboard, and never for the chords that always work (desktop switches,
//! lock, transfer, terminal switches: [`crate::hotkeys::beats_inhibitor`]).

use smithay::delegate_keyboard_shortcuts_inhibit;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::keyboard_shortcuts_inhibit::{
    KeyboardShortcutsInhibitHandler, KeyboardShortcutsInhibitState, KeyboardShortcutsInhibitor,
};
use tracing::debug;

use crate::state::State;

impl KeyboardShortcutsInhibitHandler for State {
    fn keyboard_shortcuts_inhibit_state(&mut self) -> &mut KeyboardShortcutsInhibitState {
        &mut self.policy.shortcuts_inhibit
    }

    fn new_inhibitor(&mut self, inhibitor: KeyboardShortcutsInhibitor) {
        debug!("a client inhibits shortcuts");
        self.shortcut_inhibitors.push(inhibitor);
        let focus = self.seat.get_keyboard().and_then(|k| k.current_focus());
        self.inhibitors_follow(focus.as_ref());
    }

    fn inhibitor_destroyed(&mut self, inhibitor: KeyboardShortcutsInhibitor) {
        self.shortcut_inhibitors.retain(|i| *i != inhibitor);
    }
}
delegate_keyboard_shortcuts_inhibit!(State);

impl State {
    /// The keyboard went to `focus`: its surface's inhibitor becomes active
    /// (the client is told), every other one inactive.
    pub fn inhibitors_follow(&mut self, focus: Option<&WlSurface>) {
        for inhibitor in &self.shortcut_inhibitors {
            let wanted = focus == Some(inhibitor.wl_surface());
            if wanted != inhibitor.is_active() {
                if wanted {
                    inhibitor.activate();
                } else {
                    inhibitor.inactivate();
                }
            }
        }
    }

    /// Whether the surface with the keyboard inhibits shortcuts now.
    pub fn shortcuts_inhibited(&self) -> bool {
        let Some(focus) = self.seat.get_keyboard().and_then(|k| k.current_focus()) else {
            return false;
        };
        self.shortcut_inhibitors
            .iter()
            .any(|i| i.is_active() && *i.wl_surface() == focus)
    }
}

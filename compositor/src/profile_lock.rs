//! The per-profile lock: one desktop covered while the others run.
//!
//! `zionctl lock work` (`Compositor1.LockProfile`) or the `lock-profile`
//! hotkey covers work's desktop: wherever it would show, every output draws
//! a plain cover in work's colour, darkened, instead of its windows (never
//! their pixels); its windows are not mapped, so no key, pointer, scroll,
//! gesture, clipboard offer or activation reaches them, and no hotkey acts
//! on them. Other desktops keep running, drawing and getting input.
//!
//! Uncovering asks the person to authenticate, through the session's
//! locker and so host PAM, never a password field Zion draws:
//! `Compositor1.UnlockProfile` (or the hotkey on a covered desktop) marks
//! the unlock pending and starts the whole-session lock
//! ([`crate::lock`]). Only when a session lock is released — its locker
//! authenticated the person — are the pending profiles uncovered; a locker
//! that dies or never unlocks leaves them covered. Profiles cannot ask:
//! the D-Bus methods are behind the caller gate, and the session lock
//! protocol is offered to host clients only.

use std::collections::BTreeSet;

use smithay::backend::renderer::element::solid::SolidColorBuffer;
use tracing::info;
use zion_config::Colour;

use crate::dbus::{find_desktop, CompositorError};
use crate::hotkeys::Action;
use crate::lock::LockScene;
use crate::state::State;

/// How much of the profile's colour the cover keeps: dark enough to be
/// told from a shown desktop at a glance, still the profile's hue.
const COVER_SHADE: f32 = 0.35;

/// The cover of a locked profile whose colour is `colour`: that colour
/// darkened, opaque.
pub fn cover_colour(colour: Colour) -> [f32; 4] {
    let shade = |c: u8| (f32::from(c) / 255.0 * COVER_SHADE * 255.0).round() / 255.0;
    [shade(colour.r), shade(colour.g), shade(colour.b), 1.0]
}

/// Whether `action` may run while the shown desktop is covered: moving to
/// another desktop, locking and unlocking, the host's own tools; nothing
/// that opens, closes, moves or reads the covered profile's windows or
/// clipboard (a terminal or browser in it, the transfer chords).
pub fn allowed_on_covered_desktop(action: Action) -> bool {
    matches!(
        action,
        Action::SwitchTo(_)
            | Action::NextProfile
            | Action::PreviousProfile
            | Action::Lock
            | Action::LockProfile
            | Action::Panel
            | Action::Launcher
            | Action::SwitchVt(_)
    )
}

/// The locked profiles and the unlocks waiting for the session's locker.
#[derive(Debug, Default)]
pub struct ProfileLocks {
    /// The covered desktops, by profile name.
    locked: BTreeSet<String>,
    /// Locked profiles whose unlock was asked for: uncovered when a session
    /// lock is released.
    pending: BTreeSet<String>,
    /// The cover's buffer, one for every frame (the damage tracker sees
    /// the same element).
    cover: SolidColorBuffer,
}

impl ProfileLocks {
    /// Whether `profile`'s desktop is covered.
    pub fn is_locked(&self, profile: &str) -> bool {
        self.locked.contains(profile)
    }

    /// The covered profiles, sorted.
    pub fn locked(&self) -> Vec<String> {
        self.locked.iter().cloned().collect()
    }

    /// Whether `profile`'s unlock waits for the locker.
    pub fn is_pending(&self, profile: &str) -> bool {
        self.pending.contains(profile)
    }

    /// Covers `profile`; a pending unlock of it is dropped. False if it
    /// was covered already.
    pub fn lock(&mut self, profile: &str) -> bool {
        self.pending.remove(profile);
        self.locked.insert(profile.to_owned())
    }

    /// Marks `profile`'s unlock pending; false if it is not locked.
    pub fn request_unlock(&mut self, profile: &str) -> bool {
        if !self.locked.contains(profile) {
            return false;
        }
        self.pending.insert(profile.to_owned());
        true
    }

    /// A session lock was released (the person authenticated to the
    /// locker): the pending profiles are uncovered and returned.
    pub fn authenticated(&mut self) -> Vec<String> {
        let done = std::mem::take(&mut self.pending);
        for profile in &done {
            self.locked.remove(profile);
        }
        done.into_iter().collect()
    }

    /// What an output shows instead of `desktop` when it is covered: the
    /// cover in `colour` darkened, host layer surfaces above it.
    pub fn scene(&mut self, desktop: &str, colour: Colour) -> Option<LockScene<'_>> {
        if !self.is_locked(desktop) {
            return None;
        }
        Some(LockScene {
            surfaces: Vec::new(),
            cover: &mut self.cover,
            colour: cover_colour(colour),
            host_layers: true,
        })
    }
}

impl State {
    /// Whether the shown desktop is covered by its profile's lock.
    pub fn shown_desktop_covered(&self) -> bool {
        self.profile_locks
            .is_locked(&self.layout.active_desktop().name)
    }

    /// Whether desktop `i` is covered.
    pub fn desktop_covered(&self, i: usize) -> bool {
        self.layout
            .desktops()
            .get(i)
            .is_some_and(|d| self.profile_locks.is_locked(&d.name))
    }

    /// The desktop called `name`, or the error naming the desktops.
    fn profile_desktop(&self, name: &str) -> Result<String, CompositorError> {
        let names = self.layout.desktops().iter().map(|d| d.name.as_str());
        let i = find_desktop(names, name)?;
        Ok(self.layout.desktops()[i].name.clone())
    }

    /// Covers `profile`'s desktop (`Compositor1.LockProfile`, the hotkey):
    /// from the next frame on it shows only the cover, and its clients lose
    /// the keyboard, the pointer and any grab they held.
    pub fn lock_profile(&mut self, profile: &str) -> Result<(), CompositorError> {
        let profile = self.profile_desktop(profile)?;
        if !self.profile_locks.lock(&profile) {
            info!(profile, "the profile is locked already");
            return Ok(());
        }
        info!(profile, "the profile is locked");
        if self.shown_desktop_covered() {
            // A popup's or a move's grab would keep input with the profile.
            self.layout.cancel_cycle();
            let serial = smithay::utils::SERIAL_COUNTER.next_serial();
            let time = self.clock.now().as_millis();
            if let Some(pointer) = self.seat.get_pointer() {
                pointer.unset_grab(self, serial, time);
            }
            if let Some(keyboard) = self.seat.get_keyboard() {
                keyboard.unset_grab(self);
            }
        }
        self.refresh_view();
        self.refresh_pointer_focus();
        self.announce_locked_profiles();
        self.render_soon();
        Ok(())
    }

    /// Asks to uncover `profile` (`Compositor1.UnlockProfile`, the hotkey
    /// on a covered desktop): the unlock waits for a session lock to be
    /// released, and the session's locker is started to authenticate.
    pub fn unlock_profile(&mut self, profile: &str) -> Result<(), CompositorError> {
        let profile = self.profile_desktop(profile)?;
        if !self.profile_locks.request_unlock(&profile) {
            return Err(CompositorError::Failed(format!(
                "the profile `{profile}` is not locked; `zionctl lock {profile}` locks it"
            )));
        }
        info!(
            profile,
            "unlock asked: the session's locker authenticates first"
        );
        self.start_locker();
        Ok(())
    }

    /// The `lock-profile` hotkey: covers the shown profile's desktop, or,
    /// when it is covered, asks to uncover it.
    pub fn toggle_shown_profile_lock(&mut self) {
        let shown = self.layout.active_desktop().name.clone();
        let done = if self.profile_locks.is_locked(&shown) {
            self.unlock_profile(&shown)
        } else {
            self.lock_profile(&shown)
        };
        if let Err(e) = done {
            self.notice(format!("{e}"));
        }
    }

    /// A session lock was released: the profiles whose unlock was asked
    /// for are uncovered.
    pub(crate) fn profile_unlocks_authenticated(&mut self) {
        let unlocked = self.profile_locks.authenticated();
        if unlocked.is_empty() {
            return;
        }
        info!(?unlocked, "the locker authenticated: profiles unlocked");
        self.refresh_view();
        self.refresh_pointer_focus();
        self.announce_locked_profiles();
        self.render_soon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cover_is_the_profiles_colour_darkened() {
        let blue = Colour {
            r: 0x34,
            g: 0x65,
            b: 0xa4,
        };
        let [r, g, b, a] = cover_colour(blue);
        assert_eq!(a, 1.0);
        assert!(r < 0x34 as f32 / 255.0 && g < 0x65 as f32 / 255.0 && b < 0xa4 as f32 / 255.0);
        // Still its hue: blue stays the strongest.
        assert!(b > g && g > r);
        let white = Colour {
            r: 255,
            g: 255,
            b: 255,
        };
        assert!(cover_colour(white)[0] < 0.5);
    }

    #[test]
    fn an_unlock_waits_for_the_locker_and_a_new_lock_drops_it() {
        let mut locks = ProfileLocks::default();
        assert!(!locks.request_unlock("work"), "not locked: nothing to ask");
        assert!(locks.lock("work"));
        assert!(!locks.lock("work"), "locked already");
        assert!(locks.request_unlock("work"));
        assert!(locks.is_locked("work"), "asking does not unlock");
        // Locking again drops the pending unlock: the next release of a
        // session lock leaves it covered.
        locks.lock("work");
        assert!(locks.authenticated().is_empty());
        assert!(locks.is_locked("work"));
        assert!(locks.lock("gaming"));
        locks.request_unlock("work");
        assert_eq!(locks.authenticated(), ["work"]);
        assert_eq!(locks.locked(), ["gaming"]);
        assert!(locks.authenticated().is_empty(), "an unlock is used once");
    }

    #[test]
    fn a_covered_desktop_takes_no_action_on_its_windows_or_clipboard() {
        for action in [
            Action::Terminal,
            Action::Browser,
            Action::CloseWindow,
            Action::ToggleFullscreen,
            Action::CopyToTransfer,
            Action::PasteTransfer,
            Action::CycleWindows,
            Action::CycleWindowsBack,
            Action::SnapLeft,
            Action::SnapRight,
            Action::ToggleMaximize,
            Action::MinimizeWindow,
            Action::RestoreWindow,
        ] {
            assert!(!allowed_on_covered_desktop(action), "{action:?}");
        }
        for action in [
            Action::NextProfile,
            Action::SwitchTo(2),
            Action::Lock,
            Action::LockProfile,
        ] {
            assert!(allowed_on_covered_desktop(action), "{action:?}");
        }
    }
}

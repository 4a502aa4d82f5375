//! The session lock: `ext-session-lock-v1` for host clients (a locker such
//! as swaylock), started by the `lock` hotkey or `Compositor1.Lock`.
//!
//! While locked, no profile client gets anything: the keyboard and the
//! selection focus go to the lock surface (or nowhere), the pointer sees
//! only lock surfaces, hotkeys other than the fixed terminal switches do
//! nothing, and every output shows its lock surface over a plain lock
//! colour, never a window. Only the lock that holds the session can
//! unlock it (`unlock_and_destroy`); if its client dies the session stays
//! locked on the plain colour and a new locker may take over (the
//! protocol's rule).

use std::path::Path;

use smithay::backend::renderer::element::solid::SolidColorBuffer;
use smithay::output::Output;
use smithay::reexports::wayland_protocols::ext::session_lock::v1::server::ext_session_lock_manager_v1::ExtSessionLockManagerV1;
use smithay::reexports::wayland_protocols::ext::session_lock::v1::server::ext_session_lock_surface_v1::ExtSessionLockSurfaceV1;
use smithay::reexports::wayland_protocols::ext::session_lock::v1::server::ext_session_lock_v1::{
    self, ExtSessionLockV1,
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    delegate_dispatch, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
    Resource,
};
use smithay::utils::{Logical, Point, Rectangle, SERIAL_COUNTER};
use smithay::wayland::session_lock::{
    ExtLockSurfaceUserData, LockSurface, SessionLockHandler, SessionLockManagerGlobalData, SessionLockManagerState,
    SessionLockState, SessionLocker,
};
use tracing::{info, warn};

use crate::hotkeys::Action;
use crate::state::State;

/// The plain colour of a locked output with no lock surface (yet, or any
/// more): dark red, so a dead locker is told apart from a black one.
pub const LOCK_COLOUR: [f32; 4] = [0.2, 0.0, 0.0, 1.0];

/// Whether `action` may run while the session is locked: the fixed
/// terminal switches (a person may go to a text console) and locking (a
/// new locker after one died); nothing that shows, opens, closes or moves
/// a profile's windows or clipboards.
pub fn allowed_while_locked(action: Action) -> bool {
    matches!(action, Action::SwitchVt(_) | Action::Lock)
}

/// The session lock's state.
#[derive(Debug)]
pub struct SessionLock {
    /// Unlocked, or locked with what the lock holds.
    state: Locked,
    /// The plain lock colour, one buffer for every frame (the damage
    /// tracker sees the same element).
    cover: SolidColorBuffer,
}

/// Whether the session is locked, and by which lock.
#[derive(Debug)]
enum Locked {
    No,
    Yes {
        /// The lock holding the session; `None` once its client died (the
        /// session stays locked until a new lock takes over and unlocks).
        lock: Option<ExtSessionLockV1>,
        /// The lock surfaces of `lock`'s client, each on its output.
        surfaces: Vec<(Output, LockSurface)>,
    },
}

impl Default for SessionLock {
    fn default() -> SessionLock {
        SessionLock::new()
    }
}

impl SessionLock {
    /// Unlocked. (The global, host clients only, is made with the
    /// protocol policy's: [`crate::handlers::policy`].)
    pub fn new() -> SessionLock {
        SessionLock {
            state: Locked::No,
            cover: SolidColorBuffer::default(),
        }
    }

    /// Whether the session is locked.
    pub fn is_locked(&self) -> bool {
        matches!(self.state, Locked::Yes { .. })
    }

    /// Whether a live lock holds the session (a new one would be refused).
    fn is_held(&self) -> bool {
        matches!(&self.state, Locked::Yes { lock: Some(lock), .. } if lock.is_alive())
    }

    /// Whether `lock` is the lock holding the session.
    fn is_current(&self, lock: &ExtSessionLockV1) -> bool {
        matches!(&self.state, Locked::Yes { lock: Some(current), .. } if current == lock)
    }

    /// The client of the lock holding the session.
    fn client(&self) -> Option<ClientId> {
        match &self.state {
            Locked::Yes {
                lock: Some(lock), ..
            } => lock.client().map(|c| c.id()),
            _ => None,
        }
    }

    /// The lock surface shown on `output`, if its client is alive.
    pub fn surface_on(&self, output: &Output) -> Option<&WlSurface> {
        match &self.state {
            Locked::Yes { surfaces, .. } => surfaces
                .iter()
                .find(|(o, s)| o == output && s.alive())
                .map(|(_, s)| s.wl_surface()),
            Locked::No => None,
        }
    }

    /// The surface the keyboard goes to while locked: the first live lock
    /// surface (swaylock draws the same prompt on every output).
    pub fn keyboard_target(&self) -> Option<WlSurface> {
        match &self.state {
            Locked::Yes { surfaces, .. } => surfaces
                .iter()
                .find(|(_, s)| s.alive())
                .map(|(_, s)| s.wl_surface().clone()),
            Locked::No => None,
        }
    }

    /// What the renderer draws while locked, `None` when unlocked.
    pub fn scene(&mut self) -> Option<LockScene<'_>> {
        let Locked::Yes { surfaces, .. } = &self.state else {
            return None;
        };
        Some(LockScene {
            surfaces: surfaces
                .iter()
                .filter(|(_, s)| s.alive())
                .map(|(o, s)| (o.clone(), s.wl_surface().clone()))
                .collect(),
            cover: &mut self.cover,
            colour: LOCK_COLOUR,
            host_layers: false,
        })
    }
}

/// What a locked output shows: its lock surface, over the lock colour; or,
/// for a locked profile's desktop ([`crate::profile_lock`]), the profile's
/// cover under the host's layer surfaces.
pub struct LockScene<'a> {
    /// Live lock surfaces with their outputs.
    pub surfaces: Vec<(Output, WlSurface)>,
    /// The plain colour's buffer (resized per output as it is drawn).
    pub cover: &'a mut SolidColorBuffer,
    /// The plain colour.
    pub colour: [f32; 4],
    /// Whether the host's layer surfaces above windows (a bar, the
    /// launcher) are drawn over the colour: a profile's cover, never the
    /// session lock.
    pub host_layers: bool,
}

impl LockScene<'_> {
    /// The lock surface of `output`.
    pub fn surface_on(&self, output: &Output) -> Option<&WlSurface> {
        self.surfaces
            .iter()
            .find(|(o, _)| o == output)
            .map(|(_, s)| s)
    }
}

impl State {
    /// Starts the session's locker on the host socket (the `lock` hotkey,
    /// `Compositor1.Lock`), unless a live lock already holds the session.
    pub fn start_locker(&mut self) {
        if self.lock.is_held() {
            info!("the session is locked already");
            return;
        }
        let argv = self.config.session.locker.clone();
        spawn_host(&argv, &self.runtime_dir).unwrap_or_else(|err| {
            self.notice(format!(
                "locking failed: cannot run the locker {argv:?}: {err}"
            ))
        });
    }

    /// The lock surface under `pos` (global), with its origin: while
    /// locked, the pointer sees nothing else.
    pub fn lock_surface_under(
        &self,
        pos: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        let output = self.space.outputs().find(|o| {
            self.space
                .output_geometry(o)
                .is_some_and(|g| g.to_f64().contains(pos))
        })?;
        let origin = self.space.output_geometry(output)?.loc.to_f64();
        Some((self.lock.surface_on(output)?.clone(), origin))
    }

    /// The session became locked: grabs end, and focus and pointer leave
    /// every client but the lock's; the lock colour is drawn.
    fn apply_lock(&mut self) {
        self.layout.cancel_cycle();
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.clock.now().as_millis();
        if let Some(pointer) = self.seat.get_pointer() {
            pointer.unset_grab(self, serial, time);
        }
        if let Some(keyboard) = self.seat.get_keyboard() {
            keyboard.unset_grab(self);
        }
        self.refresh_keyboard_focus();
        self.refresh_pointer_focus();
        // Behind the lock no window is shown: none keeps the session awake.
        self.refresh_idle_inhibit();
        self.backend.schedule_render();
        self.render_frame();
    }
}

/// Runs `argv` as a host client on the host socket, reaped when it exits.
fn spawn_host(argv: &[String], runtime_dir: &Path) -> std::io::Result<()> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::other("the locker command is empty"));
    };
    let mut child = std::process::Command::new(program)
        .args(args)
        .env("WAYLAND_DISPLAY", crate::sockets::HOST_SOCKET)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env_remove("DISPLAY")
        .spawn()?;
    // Reap it when it exits, without blocking the loop.
    std::thread::spawn(move || child.wait());
    Ok(())
}

impl SessionLockHandler for State {
    fn lock_state(&mut self) -> &mut SessionLockManagerState {
        &mut self.policy.session_lock
    }

    fn lock(&mut self, confirmation: SessionLocker) {
        if self.lock.is_held() {
            // Dropping the confirmation sends `finished`: one lock at a time.
            info!("a second lock was refused: the session is locked by a live lock");
            return;
        }
        let lock = confirmation.ext_session_lock().clone();
        let takeover = self.lock.is_locked();
        info!(takeover, "the session is locked");
        self.lock.state = Locked::Yes {
            lock: Some(lock),
            surfaces: Vec::new(),
        };
        // Nothing of any client is drawn from this frame on: only then is
        // the locker told the session is locked.
        self.apply_lock();
        confirmation.lock();
    }

    fn unlock(&mut self) {
        // Only the lock holding the session gets here (see the dispatch of
        // ext_session_lock_v1 below).
        info!("the session is unlocked");
        self.lock.state = Locked::No;
        // The locker authenticated the person: profiles waiting for that
        // are uncovered.
        self.profile_unlocks_authenticated();
        self.refresh_view();
        self.refresh_pointer_focus();
        self.render_soon();
    }

    fn new_surface(&mut self, surface: LockSurface, output: WlOutput) {
        let from_lock = self
            .display_handle
            .get_client(surface.wl_surface().id())
            .ok()
            .map(|c| c.id());
        if from_lock.is_none() || from_lock != self.lock.client() {
            warn!("a lock surface of a lock that does not hold the session: not shown");
            return;
        }
        let Some(output) = Output::from_resource(&output) else {
            return;
        };
        let size = self
            .space
            .output_geometry(&output)
            .map(|g| g.size)
            .or_else(|| output.current_mode().map(|m| m.size.to_logical(1)));
        if let Some(size) = size {
            surface.with_pending_state(|s| {
                s.size = Some((size.w.max(1) as u32, size.h.max(1) as u32).into());
            });
        }
        if let Locked::Yes { surfaces, .. } = &mut self.lock.state {
            surfaces.retain(|(o, s)| s.alive() && *o != output);
            surfaces.push((output, surface));
        }
        self.refresh_keyboard_focus();
        self.backend.schedule_render();
    }
}

delegate_global_dispatch!(State: [ExtSessionLockManagerV1: SessionLockManagerGlobalData] => SessionLockManagerState);
delegate_dispatch!(State: [ExtSessionLockManagerV1: ()] => SessionLockManagerState);
delegate_dispatch!(State: [ExtSessionLockSurfaceV1: ExtLockSurfaceUserData] => SessionLockManagerState);

/// The lock object's requests pass through here first: only the lock
/// holding the session may unlock it (Smithay's own handling would unlock
/// for any lock, after posting its error), and the death of that lock's
/// client leaves the session locked.
impl Dispatch<ExtSessionLockV1, SessionLockState> for State {
    fn request(
        state: &mut State,
        client: &Client,
        lock: &ExtSessionLockV1,
        request: ext_session_lock_v1::Request,
        data: &SessionLockState,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        if matches!(request, ext_session_lock_v1::Request::UnlockAndDestroy)
            && !state.lock.is_current(lock)
        {
            warn!("an unlock from a lock that does not hold the session: refused");
            lock.post_error(
                ext_session_lock_v1::Error::InvalidUnlock,
                "this lock does not hold the session",
            );
            return;
        }
        <SessionLockManagerState as Dispatch<ExtSessionLockV1, SessionLockState, State>>::request(
            state, client, lock, request, data, dh, data_init,
        );
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        lock: &ExtSessionLockV1,
        _: &SessionLockState,
    ) {
        if let Locked::Yes { lock: current, .. } = &mut state.lock.state {
            if current.as_ref() == Some(lock) {
                warn!("the locker is gone without unlocking: the session stays locked");
                *current = None;
                state.backend.schedule_render();
                state.refresh_keyboard_focus();
            }
        }
    }
}

/// The rectangle of `output` in the global space.
pub fn output_rect(output: &Output) -> Rectangle<i32, Logical> {
    let size = output
        .current_mode()
        .map(|m| m.size.to_logical(1))
        .unwrap_or_default();
    Rectangle::new(output.current_location(), size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_terminal_switches_work_while_locked() {
        assert!(allowed_while_locked(Action::SwitchVt(2)));
        assert!(allowed_while_locked(Action::Lock));
        // Every bindable action but Lock (the launcher included).
        for action in Action::ALL.into_iter().filter(|a| *a != Action::Lock) {
            assert!(!allowed_while_locked(action), "{action:?}");
        }
    }
}

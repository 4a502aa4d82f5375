//! Idle: the session locks itself and turns its screens off after
//! `[session] idle` times without input, and tells host clients when the
//! seat idles (`ext-idle-notify-v1`: swayidle and friends).
//!
//! Input is any event through the one input path
//! ([`State::process_input_event`]). ext-idle-notify is host only: a
//! profile must not learn when the person is away (the moment to act
//! unseen). `zwp-idle-inhibit-manager-v1` is for everyone (a video player),
//! but an inhibitor counts only while its surface belongs to a window shown
//! on the shown desktop, not minimized, and the session is not locked: a
//! work video on a hidden desktop keeps nothing awake.
//!
//! Screens off: on the headless backend the state is only recorded (and
//! logged); on udev it is recorded too. TODO: DPMS through the DRM
//! connector's power property on udev.

use std::time::{Duration, Instant};

use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::RegistrationToken;
use smithay::reexports::wayland_protocols::ext::idle_notify::v1::server::ext_idle_notifier_v1::ExtIdleNotifierV1;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::wayland::compositor::get_parent;
use smithay::wayland::idle_inhibit::{IdleInhibitHandler, IdleInhibitManagerState};
use smithay::wayland::idle_notify::{IdleNotifierHandler, IdleNotifierState};
use smithay::wayland::seat::WaylandFocus;
use tracing::{debug, info};

use crate::handlers::policy::is_host;
use crate::state::State;

/// The idle state: the protocols' globals, the surfaces that ask to keep
/// the session awake, and what idleness has done since the last input.
pub struct Idle {
    /// ext_idle_notifier_v1 (host only: see the `GlobalDispatch` below).
    pub notifier: IdleNotifierState<State>,
    /// zwp_idle_inhibit_manager_v1 (everyone).
    pub inhibit: IdleInhibitManagerState,
    /// The surfaces with an idle inhibitor.
    inhibitors: Vec<WlSurface>,
    /// Whether a visible inhibitor keeps the session awake.
    inhibited: bool,
    /// The last input (or the moment inhibition ended).
    last_input: Instant,
    /// Whether idleness locked the session since the last input.
    locked: bool,
    /// Whether the screens are off.
    screen_off: bool,
    /// How many times idleness started the locker.
    idle_locks: u32,
    /// The timer waking at the next idle deadline.
    timer: Option<RegistrationToken>,
}

impl Idle {
    /// Creates the globals (ext-idle-notify filtered to host clients).
    pub fn new(
        dh: &DisplayHandle,
        loop_handle: smithay::reexports::calloop::LoopHandle<'static, State>,
    ) -> Idle {
        Idle {
            notifier: IdleNotifierState::new(dh, loop_handle),
            inhibit: IdleInhibitManagerState::new::<State>(dh),
            inhibitors: Vec::new(),
            inhibited: false,
            last_input: Instant::now(),
            locked: false,
            screen_off: false,
            idle_locks: 0,
            timer: None,
        }
    }

    /// Whether the screens are off (idle, no input since).
    pub fn screen_off(&self) -> bool {
        self.screen_off
    }

    /// Whether a visible idle inhibitor keeps the session awake.
    pub fn inhibited(&self) -> bool {
        self.inhibited
    }

    /// How many times idleness started the locker.
    pub fn idle_locks(&self) -> u32 {
        self.idle_locks
    }
}

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idle")
            .field("inhibitors", &self.inhibitors.len())
            .field("inhibited", &self.inhibited)
            .field("locked", &self.locked)
            .field("screen_off", &self.screen_off)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Input happened (the one input path): idleness starts over, the
    /// screens come back on, idle-notify clients hear `resumed`.
    pub fn idle_input(&mut self) {
        let idle = &mut self.idle;
        idle.last_input = Instant::now();
        idle.locked = false;
        idle.notifier.notify_activity(&self.seat);
        if idle.screen_off {
            idle.screen_off = false;
            info!("input: the screens are on");
            self.backend.schedule_render();
        }
        // A timer already armed finds the new deadline when it fires.
        if self.idle.timer.is_none() {
            self.arm_idle_timer();
        }
    }

    /// Whether an idle inhibitor counts now: its surface's window is shown
    /// (on the shown desktop, not minimized) and the session is unlocked.
    fn visible_inhibitor(&self) -> bool {
        // Behind a lock or a profile's cover no window is shown.
        if self.lock.is_locked() || self.shown_desktop_covered() {
            return false;
        }
        let visible = self.layout.visible();
        self.idle.inhibitors.iter().any(|surface| {
            if !surface.is_alive() {
                return false;
            }
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            visible
                .iter()
                .any(|p| p.window.wl_surface().is_some_and(|s| *s == root))
        })
    }

    /// Re-reads whether a visible inhibitor keeps the session awake (after
    /// a desktop switch, a minimize, a lock, an inhibitor made or gone).
    /// When inhibition ends, idleness starts counting from now.
    pub fn refresh_idle_inhibit(&mut self) {
        self.idle.inhibitors.retain(|s| s.is_alive());
        let inhibited = self.visible_inhibitor();
        if inhibited == self.idle.inhibited {
            return;
        }
        info!(inhibited, "idle inhibition changed");
        self.idle.inhibited = inhibited;
        self.idle.notifier.set_is_inhibited(inhibited);
        if !inhibited {
            self.idle.last_input = Instant::now();
            self.arm_idle_timer();
        }
    }

    /// Arms the timer at the next idle deadline not yet reached (none
    /// while inhibited or when nothing is left to do).
    pub(crate) fn arm_idle_timer(&mut self) {
        if let Some(token) = self.idle.timer.take() {
            self.loop_handle.remove(token);
        }
        if self.idle.inhibited {
            return;
        }
        let settings = self.config.session.idle;
        let pending = [
            settings.lock_after.filter(|_| !self.idle.locked),
            settings.screen_off_after.filter(|_| !self.idle.screen_off),
        ];
        let Some(after) = pending.into_iter().flatten().min() else {
            return;
        };
        let deadline = self.idle.last_input + after;
        let timer = Timer::from_deadline(deadline);
        match self.loop_handle.insert_source(timer, |_, _, state| {
            state.idle.timer = None;
            state.idle_deadline();
            TimeoutAction::Drop
        }) {
            Ok(token) => self.idle.timer = Some(token),
            Err(err) => tracing::warn!("error arming the idle timer: {err}"),
        }
    }

    /// The idle timer fired: locks and turns the screens off as the
    /// settings say, unless input or an inhibitor came in between.
    fn idle_deadline(&mut self) {
        self.refresh_idle_inhibit();
        if self.idle.inhibited {
            return;
        }
        let settings = self.config.session.idle;
        let idle_for = self.idle.last_input.elapsed();
        let reached = |after: Option<Duration>| after.is_some_and(|a| idle_for >= a);
        if !self.idle.locked && reached(settings.lock_after) {
            self.idle.locked = true;
            self.idle.idle_locks += 1;
            info!(?idle_for, "idle: locking the session");
            self.start_locker();
        }
        if !self.idle.screen_off && reached(settings.screen_off_after) {
            self.idle.screen_off = true;
            // TODO: DPMS off on udev (the connectors' power property).
            info!(?idle_for, "idle: the screens are off");
        }
        self.arm_idle_timer();
    }
}

impl IdleNotifierHandler for State {
    fn idle_notifier_state(&mut self) -> &mut IdleNotifierState<State> {
        &mut self.idle.notifier
    }
}

// ext-idle-notify by hand instead of `delegate_idle_notify!`: Smithay's
// global has no filter, so the global dispatch here shows it to host
// clients only (a bind of a global a client cannot see is refused).
impl GlobalDispatch<ExtIdleNotifierV1, (), State> for State {
    fn bind(
        state: &mut State,
        handle: &DisplayHandle,
        client: &Client,
        resource: New<ExtIdleNotifierV1>,
        global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        <IdleNotifierState<State> as GlobalDispatch<ExtIdleNotifierV1, (), State>>::bind(
            state,
            handle,
            client,
            resource,
            global_data,
            data_init,
        );
    }

    fn can_view(client: Client, _global_data: &()) -> bool {
        is_host(&client)
    }
}
smithay::reexports::wayland_server::delegate_dispatch!(State: [
    ExtIdleNotifierV1: ()
] => IdleNotifierState<State>);
smithay::reexports::wayland_server::delegate_dispatch!(State: [
    smithay::reexports::wayland_protocols::ext::idle_notify::v1::server::ext_idle_notification_v1::ExtIdleNotificationV1:
        smithay::wayland::idle_notify::IdleNotificationUserData
] => IdleNotifierState<State>);

impl IdleInhibitHandler for State {
    fn inhibit(&mut self, surface: WlSurface) {
        debug!("a client inhibits idleness");
        self.idle.inhibitors.push(surface);
        self.refresh_idle_inhibit();
    }

    fn uninhibit(&mut self, surface: WlSurface) {
        if let Some(i) = self.idle.inhibitors.iter().position(|s| *s == surface) {
            self.idle.inhibitors.remove(i);
        }
        self.refresh_idle_inhibit();
    }
}
smithay::delegate_idle_inhibit!(State);

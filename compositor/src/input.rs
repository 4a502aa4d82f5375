//! Input: key presses become hotkey actions or go to the focused window;
//! pointer clicks focus the window under the pointer. Backends (and tests,
//! through the same functions) feed events here.

use smithay::backend::input::{ButtonState, KeyState};
use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::desktop::utils::under_from_surface_tree;
use smithay::desktop::{Window, WindowSurfaceType};
use smithay::input::keyboard::{FilterResult, Keycode, Keysym};
use smithay::input::pointer::{
    AxisFrame, ButtonEvent, MotionEvent, PointerHandle, RelativeMotionEvent,
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::utils::{Logical, Point, Rectangle, SERIAL_COUNTER};
use smithay::wayland::compositor::{get_parent, RectangleKind, RegionAttributes};
use smithay::wayland::pointer_constraints::{with_pointer_constraint, PointerConstraint};

use crate::hotkeys::{Action, Mods};
use crate::state::State;

/// Linux evdev key codes used by tests and docs.
pub mod keys {
    /// Left Super (logo) key.
    pub const LEFT_META: u32 = 125;
    /// Left Shift.
    pub const LEFT_SHIFT: u32 = 42;
    /// Tab.
    pub const TAB: u32 = 15;
    /// The digit `1` key; `2`…`9` follow.
    pub const DIGIT_1: u32 = 2;
    /// W.
    pub const W: u32 = 17;
    /// Return.
    pub const ENTER: u32 = 28;
    /// F.
    pub const F: u32 = 33;
    /// Left Alt.
    pub const LEFT_ALT: u32 = 56;
    /// Escape.
    pub const ESC: u32 = 1;
    /// M.
    pub const M: u32 = 50;
    /// The up arrow.
    pub const UP: u32 = 103;
    /// The left arrow.
    pub const LEFT: u32 = 105;
    /// The right arrow.
    pub const RIGHT: u32 = 106;
}

/// Left mouse button (evdev BTN_LEFT).
pub const BTN_LEFT: u32 = 0x110;
/// Right mouse button (evdev BTN_RIGHT).
pub const BTN_RIGHT: u32 = 0x111;

impl State {
    fn now_ms(&self) -> u32 {
        self.clock.now().as_millis()
    }

    /// A key (evdev code) pressed or released.
    pub fn key(&mut self, code: u32, pressed: bool) {
        let Some(keyboard) = self.seat.get_keyboard() else {
            return;
        };
        let state = if pressed {
            KeyState::Pressed
        } else {
            KeyState::Released
        };
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.now_ms();
        let mut cycle_cancelled = false;
        let action = keyboard.input::<Option<Action>, _>(
            self,
            Keycode::from(code + 8),
            state,
            serial,
            time,
            |state, modifiers, handle| {
                if !pressed {
                    if let Some(i) = state.suppressed_keys.iter().position(|k| *k == code) {
                        state.suppressed_keys.remove(i);
                        return FilterResult::Intercept(None);
                    }
                    return FilterResult::Forward;
                }
                let mods = Mods {
                    logo: modifiers.logo,
                    ctrl: modifiers.ctrl,
                    alt: modifiers.alt,
                    shift: modifiers.shift,
                };
                // Escape during Alt+Tab drops the switch, as everywhere.
                let raw = handle.raw_syms();
                if state.layout.is_cycling() && raw.first() == Some(&Keysym::Escape) {
                    state.layout.cancel_cycle();
                    cycle_cancelled = true;
                    state.suppressed_keys.push(code);
                    return FilterResult::Intercept(None);
                }
                let modified = handle.modified_syms();
                // Chords are Latin letters whatever layout is active: with
                // `layout = "us,ru"` and Russian active, Super+W is still
                // Super+W (the key's symbol in the first Latin layout).
                let chord_sym = handle
                    .raw_latin_sym_or_raw_current_sym()
                    .or_else(|| raw.first().copied());
                let action = chord_sym.and_then(|sym| {
                    crate::input_events::action_for_key(&state.config, mods, sym, &modified)
                });
                // A client holding a shortcut inhibitor gets the chord,
                // unless it is one of Zion's own that always work.
                let action = action.filter(|a| {
                    crate::hotkeys::beats_inhibitor(*a) || !state.shortcuts_inhibited()
                });
                match action {
                    Some(action) => {
                        state.suppressed_keys.push(code);
                        FilterResult::Intercept(Some(action))
                    }
                    None => FilterResult::Forward,
                }
            },
        );
        if let Some(Some(action)) = action {
            self.do_action(action);
        }
        if cycle_cancelled {
            self.refresh_view();
        }
        // Alt released: the window chosen with Alt+Tab gets the focus.
        self.end_window_cycle_if_released();
        // Holding Super shows the frames of fullscreen windows.
        let logo = keyboard.modifier_state().logo;
        if logo != self.layout.reveal_frames {
            self.layout.reveal_frames = logo;
            self.render_soon();
        }
    }

    /// The surface under `pos` on the shown desktop, with its origin: a
    /// layer surface above the windows, a window, or one below them.
    pub fn surface_under(
        &self,
        pos: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        if self.lock.is_locked() {
            return self.lock_surface_under(pos);
        }
        if let Some(found) = self.layer_surface_under(pos, &crate::layers::ABOVE) {
            return Some(found);
        }
        let window = self
            .window_under(pos)
            .map(|(_, surface, origin)| (surface, origin));
        window.or_else(|| self.layer_surface_under(pos, &crate::layers::BELOW))
    }

    /// The topmost window of the shown desktop with a surface under `pos`:
    /// the window, that surface and its origin. Smithay's own lookup
    /// (`Space::element_under`) misses the X11 windows whose surface
    /// Xwayland before 23.1 named by id (it does not know that surface):
    /// for those the surface found by [`crate::xwayland::surface_of`] is
    /// searched here.
    pub fn window_under(
        &self,
        pos: Point<f64, Logical>,
    ) -> Option<(Window, WlSurface, Point<f64, Logical>)> {
        self.space.elements().rev().find_map(|window| {
            let loc = self.space.element_location(window)? - window.geometry().loc;
            let local = pos - loc.to_f64();
            let (surface, at) = match crate::xwayland::legacy_surface(window) {
                Some(surface) => {
                    under_from_surface_tree(&surface, local, (0, 0), WindowSurfaceType::ALL)
                }
                None => window.surface_under(local, WindowSurfaceType::ALL),
            }?;
            Some((window.clone(), surface, (at + loc).to_f64()))
        })
    }

    /// A relative device (mouse, touchpad) moved the pointer to (x, y) on
    /// the output. While the surface under it holds an active pointer lock
    /// the pointer stays put, and while it holds a confinement the pointer
    /// stops at the edge of the confining region; either way the client
    /// gets the relative motion.
    pub fn pointer_motion(&mut self, x: f64, y: f64) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let delta = Point::from((x, y)) - pointer.current_location();
        self.move_pointer(Point::from((x, y)), Some((delta, delta)));
    }

    /// A mouse moved by `delta` (`delta_unaccel` before the pointer
    /// acceleration) and the pointer is to go to (x, y), held to the
    /// screens: games reading relative motion get the device's own deltas,
    /// not the clamped difference (a locked pointer near an edge would cut
    /// them short).
    pub fn pointer_moved_by(
        &mut self,
        x: f64,
        y: f64,
        delta: Point<f64, Logical>,
        delta_unaccel: Point<f64, Logical>,
    ) {
        self.move_pointer(Point::from((x, y)), Some((delta, delta_unaccel)));
    }

    /// An absolute device (tablet, touchscreen in pointer mode, a virtual
    /// machine's pointer) put the pointer at (x, y) on the output: the same
    /// as [`State::pointer_motion`] but without relative motion events, as
    /// such a device reports places, not movements.
    pub fn pointer_motion_absolute(&mut self, x: f64, y: f64) {
        self.move_pointer(Point::from((x, y)), None);
    }

    /// Moves the pointer towards `wanted`, within the constraint of the
    /// surface under it; `motion` (delta, unaccelerated delta) goes to
    /// relative-pointer clients.
    fn move_pointer(
        &mut self,
        wanted: Point<f64, Logical>,
        motion: Option<(Point<f64, Logical>, Point<f64, Logical>)>,
    ) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        // A still pointer (windows changed under it) has no motion to
        // hold back: it goes to whatever surface is now under it.
        let focus = pointer
            .current_focus()
            .zip(self.pointer_origin())
            .filter(|(surface, _)| surface.is_alive())
            .filter(|_| wanted != pointer.current_location());
        let mut location = wanted;
        if let Some((surface, origin)) = &focus {
            let stop = match active_constraint(surface, &pointer) {
                Some(Constraint::Locked) => Some(pointer.current_location()),
                Some(Constraint::Confined(region)) => {
                    if self.confines(surface, *origin, region.as_ref(), wanted) {
                        None
                    } else {
                        // Stopped at the edge, or held if no place of the
                        // region is nearer (covered by another window).
                        Some(
                            self.confined_place(surface, *origin, region.as_ref(), wanted)
                                .unwrap_or_else(|| pointer.current_location()),
                        )
                    }
                }
                None => None,
            };
            match stop {
                Some(stop) if stop == pointer.current_location() => {
                    self.relative_motion(&pointer, focus.clone(), motion);
                    pointer.frame(self);
                    return;
                }
                Some(stop) => location = stop,
                None => {}
            }
        }
        let under = self.surface_under(location);
        self.seat
            .user_data()
            .insert_if_missing(PointerOrigin::default);
        if let Some(origin) = self.seat.user_data().get::<PointerOrigin>() {
            origin.0.set(under.as_ref().map(|(_, o)| *o));
        }
        let event = MotionEvent {
            location,
            serial: SERIAL_COUNTER.next_serial(),
            time: self.now_ms(),
        };
        // A surface the pointer enters learns its place from the enter;
        // a relative motion in the same frame would be taken as motion
        // beyond that place (Xwayland 22.1 moves its pointer by it again).
        let entered = under.as_ref().map(|(s, _)| s) != pointer.current_focus().as_ref();
        pointer.motion(self, under.clone(), &event);
        if !entered {
            self.relative_motion(&pointer, under.clone(), motion);
        }
        pointer.frame(self);
        if let Some((surface, _)) = under {
            self.activate_constraint(&surface, &pointer);
        }
    }

    /// Whether the pointer at `at` is on `surface` (whose origin is
    /// `origin`: not covered, in its input region) and in `region`.
    fn confines(
        &self,
        surface: &WlSurface,
        origin: Point<f64, Logical>,
        region: Option<&RegionAttributes>,
        at: Point<f64, Logical>,
    ) -> bool {
        self.surface_under(at).is_some_and(|(s, _)| &s == surface)
            && region.is_none_or(|r| r.contains((at - origin).to_i32_floor()))
    }

    /// The place of the confining region nearest to `wanted`: `wanted`
    /// moved into each rectangle of the region (the whole surface without
    /// one), keeping those on the surface and in the region.
    fn confined_place(
        &self,
        surface: &WlSurface,
        origin: Point<f64, Logical>,
        region: Option<&RegionAttributes>,
        wanted: Point<f64, Logical>,
    ) -> Option<Point<f64, Logical>> {
        let size = with_renderer_surface_state(surface, |s| s.surface_size()).flatten()?;
        let whole = Rectangle::from_size(size);
        let rects: Vec<Rectangle<i32, Logical>> = match region {
            Some(region) => region
                .rects
                .iter()
                .filter(|(kind, _)| matches!(kind, RectangleKind::Add))
                .filter_map(|(_, r)| r.intersection(whole))
                .collect(),
            None => vec![whole],
        };
        let local = wanted - origin;
        rects
            .iter()
            .filter(|r| r.size.w > 0 && r.size.h > 0)
            .map(|r| {
                let x = local
                    .x
                    .clamp(f64::from(r.loc.x), f64::from(r.loc.x + r.size.w - 1));
                let y = local
                    .y
                    .clamp(f64::from(r.loc.y), f64::from(r.loc.y + r.size.h - 1));
                origin + Point::from((x, y))
            })
            .filter(|at| self.confines(surface, origin, region, *at))
            .min_by(|a, b| {
                let da = (*a - wanted).x.powi(2) + (*a - wanted).y.powi(2);
                let db = (*b - wanted).x.powi(2) + (*b - wanted).y.powi(2);
                da.total_cmp(&db)
            })
    }

    fn relative_motion(
        &mut self,
        pointer: &PointerHandle<State>,
        focus: Option<(WlSurface, Point<f64, Logical>)>,
        motion: Option<(Point<f64, Logical>, Point<f64, Logical>)>,
    ) {
        let Some((delta, delta_unaccel)) = motion else {
            return;
        };
        if delta == Point::from((0.0, 0.0)) && delta_unaccel == Point::from((0.0, 0.0)) {
            return;
        }
        let event = RelativeMotionEvent {
            delta,
            delta_unaccel,
            utime: self.clock.now().as_micros(),
        };
        pointer.relative_motion(self, focus, &event);
    }

    /// Activates the pointer constraint `surface` holds, if the pointer is
    /// over that surface and inside the constraint's region, and the
    /// surface's window has keyboard focus (a game in the background does
    /// not catch the pointer passing over it).
    pub fn activate_constraint(&mut self, surface: &WlSurface, pointer: &PointerHandle<State>) {
        if pointer.current_focus().as_ref() != Some(surface) || !self.has_keyboard_focus(surface) {
            return;
        }
        let Some(origin) = self.pointer_origin() else {
            return;
        };
        let at = (pointer.current_location() - origin).to_i32_floor();
        with_pointer_constraint(surface, pointer, |constraint| {
            if let Some(constraint) = constraint {
                let inside = constraint.region().is_none_or(|r| r.contains(at));
                if !constraint.is_active() && inside {
                    constraint.activate();
                }
            }
        });
    }

    /// The keyboard focus changed: the constraint of the surface under the
    /// pointer applies if that surface's window got the focus, and ends
    /// (unlocked/unconfined) if it lost it, so switching away from a game
    /// frees the pointer.
    pub fn constraints_follow_keyboard_focus(&mut self) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let Some(surface) = pointer.current_focus() else {
            return;
        };
        if self.has_keyboard_focus(&surface) {
            self.activate_constraint(&surface, &pointer);
        } else {
            with_pointer_constraint(&surface, &pointer, |constraint| {
                if let Some(constraint) = constraint.filter(|c| c.is_active()) {
                    constraint.deactivate();
                }
            });
        }
    }

    /// Whether `surface`, or the surface it is a subsurface of, has the
    /// keyboard focus.
    fn has_keyboard_focus(&self, surface: &WlSurface) -> bool {
        let Some(focus) = self.seat.get_keyboard().and_then(|k| k.current_focus()) else {
            return false;
        };
        let mut surface = surface.clone();
        loop {
            if surface == focus {
                return true;
            }
            match get_parent(&surface) {
                Some(parent) => surface = parent,
                None => return false,
            }
        }
    }

    /// A locked pointer's client hinted where the cursor should be when the
    /// lock ends: it is put there (within the surface) without motion events.
    pub fn lock_position_hint(
        &mut self,
        surface: &WlSurface,
        pointer: &PointerHandle<State>,
        hint: Point<f64, Logical>,
    ) {
        if active_constraint(surface, pointer).is_none() {
            return;
        }
        if pointer.current_focus().as_ref() != Some(surface) {
            return;
        }
        if let Some(origin) = self.pointer_origin() {
            pointer.set_location(origin + hint);
        }
    }

    /// A pointer button pressed or released; a press focuses and raises the
    /// window under the pointer.
    pub fn pointer_button(&mut self, button: u32, pressed: bool) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let serial = SERIAL_COUNTER.next_serial();
        let locked = self.lock.is_locked();
        // Super + drag moves or resizes whatever window is under the pointer.
        if pressed && !pointer.is_grabbed() && !locked {
            self.begin_compositor_grab(button, serial);
        }
        // A click on a panel or launcher is not one on the window below it.
        if pressed
            && !locked
            && !pointer.is_grabbed()
            && !self.layer_clicked(pointer.current_location())
        {
            let under = self
                .window_under(pointer.current_location())
                .map(|(w, _, _)| w)
                // X11 menus and tooltips take no focus.
                .filter(|w| !w.x11_surface().is_some_and(|x| x.is_override_redirect()));
            if let Some(window) = under {
                if self.layout.focus(&window) {
                    self.refresh_view();
                }
            }
        }
        let event = ButtonEvent {
            button,
            state: if pressed {
                ButtonState::Pressed
            } else {
                ButtonState::Released
            },
            serial,
            time: self.now_ms(),
        };
        pointer.button(self, &event);
        pointer.frame(self);
    }

    /// A scroll (wheel, touchpad, knob): to the surface under the pointer.
    pub fn pointer_axis(&mut self, frame: AxisFrame) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        pointer.axis(self, frame);
        pointer.frame(self);
    }

    /// Re-targets a still pointer after the windows under it changed (one
    /// mapped, moved, resized, closed or its desktop was hidden): the
    /// surfaces get enter/leave and motion as if the pointer had moved to
    /// where it is. Does nothing while a grab (a held button) owns the
    /// pointer, or when the surface under it and its place are unchanged.
    pub fn refresh_pointer_focus(&mut self) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        // An X11 window's surface may have become known since it was
        // focused (see there); a keyboard grab keeps the focus it chose.
        if self.seat.get_keyboard().is_some_and(|k| !k.is_grabbed()) {
            self.refresh_keyboard_focus();
        }
        if pointer.is_grabbed() {
            return;
        }
        let location = pointer.current_location();
        let under = self.surface_under(location);
        let focus = pointer.current_focus();
        let unchanged = match (&under, &focus) {
            (None, None) => true,
            (Some((surface, origin)), Some(focused)) => {
                surface == focused && self.pointer_origin() == Some(*origin)
            }
            _ => false,
        };
        if unchanged {
            return;
        }
        self.pointer_motion_absolute(location.x, location.y);
    }

    /// Where the pointer's focused surface sat when the pointer last moved.
    fn pointer_origin(&self) -> Option<Point<f64, Logical>> {
        self.seat
            .user_data()
            .get::<PointerOrigin>()
            .and_then(|o| o.0.get())
    }
}

/// An active pointer constraint, as the motion code needs it.
enum Constraint {
    Locked,
    /// Confined to the region (`None`: the whole surface).
    Confined(Option<RegionAttributes>),
}

/// The active constraint `surface` holds on `pointer`, if any.
fn active_constraint(surface: &WlSurface, pointer: &PointerHandle<State>) -> Option<Constraint> {
    with_pointer_constraint(surface, pointer, |constraint| {
        let constraint = constraint.filter(|c| c.is_active())?;
        Some(match &*constraint {
            PointerConstraint::Locked(_) => Constraint::Locked,
            PointerConstraint::Confined(c) => Constraint::Confined(c.region().cloned()),
        })
    })
}

/// The origin of the surface the pointer last entered or moved over, kept
/// on the seat so a window moving under a still pointer can be noticed.
#[derive(Debug, Default)]
struct PointerOrigin(std::cell::Cell<Option<Point<f64, Logical>>>);

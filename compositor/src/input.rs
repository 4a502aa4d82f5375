//! Input: key presses become hotkey actions or go to the focused window;
//! pointer clicks focus the window under the pointer. Backends (and tests,
//! through the same functions) feed events here.

use smithay::backend::input::{ButtonState, KeyState};
use smithay::desktop::WindowSurfaceType;
use smithay::input::keyboard::{xkb, FilterResult, Keycode};
use smithay::input::pointer::{ButtonEvent, MotionEvent};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, SERIAL_COUNTER};

use crate::hotkeys::{self, Action, Mods};
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
                let action = handle.raw_syms().first().and_then(|sym| {
                    hotkeys::action_for(&state.config, mods, &xkb::keysym_get_name(*sym))
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
    }

    /// The surface under `pos` on the shown desktop, with its origin.
    pub fn surface_under(
        &self,
        pos: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        let (window, loc) = self.space.element_under(pos)?;
        window
            .surface_under(pos - loc.to_f64(), WindowSurfaceType::ALL)
            .map(|(s, p)| (s, (p + loc).to_f64()))
    }

    /// The pointer moved to (x, y) on the output.
    pub fn pointer_motion(&mut self, x: f64, y: f64) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let location = Point::from((x, y));
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
        pointer.motion(self, under, &event);
        pointer.frame(self);
    }

    /// A pointer button pressed or released; a press focuses and raises the
    /// window under the pointer.
    pub fn pointer_button(&mut self, button: u32, pressed: bool) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let serial = SERIAL_COUNTER.next_serial();
        // Super + drag moves or resizes whatever window is under the pointer.
        if pressed && !pointer.is_grabbed() {
            self.begin_compositor_grab(button, serial);
        }
        if pressed && !pointer.is_grabbed() {
            let under = self
                .space
                .element_under(pointer.current_location())
                .map(|(w, _)| w.clone());
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

    /// Re-targets a still pointer after the windows under it changed (one
    /// mapped, moved, resized, closed or its desktop was hidden): the
    /// surfaces get enter/leave and motion as if the pointer had moved to
    /// where it is. Does nothing while a grab (a held button) owns the
    /// pointer, or when the surface under it and its place are unchanged.
    pub fn refresh_pointer_focus(&mut self) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
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
        self.pointer_motion(location.x, location.y);
    }

    /// Where the pointer's focused surface sat when the pointer last moved.
    fn pointer_origin(&self) -> Option<Point<f64, Logical>> {
        self.seat
            .user_data()
            .get::<PointerOrigin>()
            .and_then(|o| o.0.get())
    }
}

/// The origin of the surface the pointer last entered or moved over, kept
/// on the seat so a window moving under a still pointer can be noticed.
#[derive(Debug, Default)]
struct PointerOrigin(std::cell::Cell<Option<Point<f64, Logical>>>);

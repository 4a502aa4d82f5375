//! One input path for every backend: libinput's events (udev), the host
//! window's (winit) and injected ones (headless, tests) are all Smithay
//! [`InputEvent`]s, turned here into the compositor's key, pointer and
//! scroll handling ([`crate::input`]). Which keys are fixed chords (virtual
//! terminal switches) is decided here too, as a pure function.

use smithay::backend::input::{
    AbsolutePositionEvent, Axis, AxisSource, ButtonState, Event, GestureBeginEvent,
    GestureEndEvent, GesturePinchUpdateEvent, GestureSwipeUpdateEvent, InputBackend, InputEvent,
    KeyState, KeyboardKeyEvent, PointerAxisEvent, PointerButtonEvent, PointerMotionEvent,
};
use smithay::input::keyboard::{keysyms, Keysym};
use smithay::input::pointer::{
    AxisFrame, GestureHoldBeginEvent, GestureHoldEndEvent, GesturePinchBeginEvent,
    GesturePinchEndEvent, GesturePinchUpdateEvent as PinchUpdate, GestureSwipeBeginEvent,
    GestureSwipeEndEvent, GestureSwipeUpdateEvent as SwipeUpdate,
};
use smithay::utils::SERIAL_COUNTER;
use tracing::{debug, warn};
use zion_config::Config;

use crate::backend::udev::logic;
use crate::hotkeys::{self, Action, Mods};
use crate::state::State;

/// Pixels of scroll per wheel click when a device gives only clicks (most
/// compositors give 15).
const PIXELS_PER_CLICK: f64 = 15.0;

/// The virtual terminal a key press switches to: Ctrl+Alt+F1..F12 (the
/// unmodified keysym `raw` with both held), or a keymap's own
/// `XF86Switch_VT_n` among the `modified` keysyms. Fixed chords: no
/// configuration binds or unbinds them.
pub fn vt_chord(mods: Mods, raw: Keysym, modified: &[Keysym]) -> Option<u8> {
    let vt_of = |sym: Keysym, first: u32| {
        let n = sym.raw().checked_sub(first)?;
        (n < 12).then(|| n as u8 + 1)
    };
    if let Some(vt) = modified
        .iter()
        .find_map(|s| vt_of(*s, keysyms::KEY_XF86Switch_VT_1))
    {
        return Some(vt);
    }
    if mods.ctrl && mods.alt {
        return vt_of(raw, keysyms::KEY_F1);
    }
    None
}

/// What a key press does: a fixed virtual-terminal chord first, else the
/// configured hotkeys (`raw` is the key's unshifted keysym, `modified`
/// what the keymap makes of it with the modifiers held).
pub fn action_for_key(
    config: &Config,
    mods: Mods,
    raw: Keysym,
    modified: &[Keysym],
) -> Option<Action> {
    if let Some(vt) = vt_chord(mods, raw, modified) {
        return Some(Action::SwitchVt(vt));
    }
    hotkeys::action_for(
        config,
        mods,
        &smithay::input::keyboard::xkb::keysym_get_name(raw),
    )
}

/// A scroll event as a Wayland axis frame: pixel amounts where the device
/// gives them, else wheel clicks at [`PIXELS_PER_CLICK`]; a finger lifted
/// (amount 0) stops kinetic scrolling.
pub fn axis_frame<B: InputBackend>(event: &B::PointerAxisEvent, time: u32) -> AxisFrame {
    let source = event.source();
    let mut frame = AxisFrame::new(time).source(source);
    for axis in [Axis::Horizontal, Axis::Vertical] {
        frame = frame.relative_direction(axis, event.relative_direction(axis));
        let v120 = event.amount_v120(axis);
        let amount = event
            .amount(axis)
            .or_else(|| v120.map(|steps| steps * PIXELS_PER_CLICK / 120.0));
        if let Some(steps) = v120 {
            frame = frame.v120(axis, steps as i32);
        }
        match amount {
            Some(amount) if amount != 0.0 => frame = frame.value(axis, amount),
            Some(_) if source == AxisSource::Finger => frame = frame.stop(axis),
            _ => {}
        }
    }
    frame
}

impl State {
    /// The one input path: what the compositor does with an input event of
    /// any backend.
    pub fn process_input_event<B: InputBackend>(&mut self, event: InputEvent<B>) {
        // What a person does (not a device plugged in) ends idleness.
        if !matches!(
            event,
            InputEvent::DeviceAdded { .. } | InputEvent::DeviceRemoved { .. }
        ) {
            self.idle_input();
        }
        match event {
            InputEvent::Keyboard { event } => {
                // Smithay's keycodes are xkb's: evdev's plus 8.
                let code = event.key_code().raw().saturating_sub(8);
                self.key(code, event.state() == KeyState::Pressed);
            }
            InputEvent::PointerMotion { event } => {
                let Some(pointer) = self.seat.get_pointer() else {
                    return;
                };
                let to = pointer.current_location() + event.delta();
                let (x, y) = logic::clamp_to_screens((to.x, to.y), &self.screens());
                self.pointer_moved_by(x, y, event.delta(), event.delta_unaccel());
            }
            InputEvent::PointerMotionAbsolute { event } => {
                // Tablets, a host window's pointer: onto the first screen.
                let Some(size) = self.backend.output().current_mode().map(|m| m.size) else {
                    warn!("pointer motion without an output mode");
                    return;
                };
                let pos = event.position_transformed((size.w, size.h).into());
                self.pointer_motion_absolute(pos.x, pos.y);
            }
            InputEvent::PointerButton { event } => {
                self.pointer_button(event.button_code(), event.state() == ButtonState::Pressed);
            }
            InputEvent::PointerAxis { event } => {
                // Injected events carry no time of their own.
                let time = match event.time_msec() {
                    0 => self.clock.now().as_millis(),
                    t => t,
                };
                let mut frame = axis_frame::<B>(&event, time);
                if self.config.input.natural_scroll {
                    frame = crate::input_settings::natural(frame);
                }
                self.pointer_axis(frame);
            }
            InputEvent::GestureSwipeBegin { event } => {
                self.gesture(|state, pointer, serial, time| {
                    let fingers = event.fingers();
                    let event = GestureSwipeBeginEvent {
                        serial,
                        time,
                        fingers,
                    };
                    pointer.gesture_swipe_begin(state, &event);
                });
            }
            InputEvent::GestureSwipeUpdate { event } => {
                self.gesture(|state, pointer, _, time| {
                    let delta = GestureSwipeUpdateEvent::delta(&event);
                    pointer.gesture_swipe_update(state, &SwipeUpdate { time, delta });
                });
            }
            InputEvent::GestureSwipeEnd { event } => {
                self.gesture(|state, pointer, serial, time| {
                    let cancelled = event.cancelled();
                    let event = GestureSwipeEndEvent {
                        serial,
                        time,
                        cancelled,
                    };
                    pointer.gesture_swipe_end(state, &event);
                });
            }
            InputEvent::GesturePinchBegin { event } => {
                self.gesture(|state, pointer, serial, time| {
                    let fingers = event.fingers();
                    let event = GesturePinchBeginEvent {
                        serial,
                        time,
                        fingers,
                    };
                    pointer.gesture_pinch_begin(state, &event);
                });
            }
            InputEvent::GesturePinchUpdate { event } => {
                self.gesture(|state, pointer, _, time| {
                    let update = PinchUpdate {
                        time,
                        delta: GesturePinchUpdateEvent::delta(&event),
                        scale: event.scale(),
                        rotation: event.rotation(),
                    };
                    pointer.gesture_pinch_update(state, &update);
                });
            }
            InputEvent::GesturePinchEnd { event } => {
                self.gesture(|state, pointer, serial, time| {
                    let cancelled = event.cancelled();
                    let event = GesturePinchEndEvent {
                        serial,
                        time,
                        cancelled,
                    };
                    pointer.gesture_pinch_end(state, &event);
                });
            }
            InputEvent::GestureHoldBegin { event } => {
                self.gesture(|state, pointer, serial, time| {
                    let fingers = event.fingers();
                    let event = GestureHoldBeginEvent {
                        serial,
                        time,
                        fingers,
                    };
                    pointer.gesture_hold_begin(state, &event);
                });
            }
            InputEvent::GestureHoldEnd { event } => {
                self.gesture(|state, pointer, serial, time| {
                    let cancelled = event.cancelled();
                    let event = GestureHoldEndEvent {
                        serial,
                        time,
                        cancelled,
                    };
                    pointer.gesture_hold_end(state, &event);
                });
            }
            InputEvent::DeviceAdded { device } => {
                debug!(
                    name = smithay::backend::input::Device::name(&device),
                    "input device added"
                );
            }
            _ => {}
        }
    }

    /// A touchpad gesture for the surface under the pointer
    /// (pointer-gestures), unless the session is locked.
    fn gesture(
        &mut self,
        send: impl FnOnce(
            &mut State,
            &smithay::input::pointer::PointerHandle<State>,
            smithay::utils::Serial,
            u32,
        ),
    ) {
        if self.lock.is_locked() {
            return;
        }
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.clock.now().as_millis();
        send(self, &pointer, serial, time);
    }

    /// The outputs' places in the global space.
    fn screens(&self) -> Vec<logic::Area> {
        self.space
            .outputs()
            .filter_map(|o| self.space.output_geometry(o))
            .map(|g| (g.loc.x, g.loc.y, g.size.w, g.size.h))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTRL_ALT: Mods = Mods {
        logo: false,
        ctrl: true,
        alt: true,
        shift: false,
    };

    fn sym(raw: u32) -> Keysym {
        Keysym::new(raw)
    }

    #[test]
    fn ctrl_alt_function_keys_are_vt_switches() {
        let c = Config::defaults();
        let f = |n: u32| sym(keysyms::KEY_F1 + n - 1);
        assert_eq!(
            action_for_key(&c, CTRL_ALT, f(1), &[]),
            Some(Action::SwitchVt(1))
        );
        assert_eq!(
            action_for_key(&c, CTRL_ALT, f(12), &[]),
            Some(Action::SwitchVt(12))
        );
        // Without both modifiers the F-keys belong to the clients.
        let ctrl = Mods {
            alt: false,
            ..CTRL_ALT
        };
        assert_eq!(action_for_key(&c, ctrl, f(1), &[]), None);
        assert_eq!(action_for_key(&c, Mods::default(), f(3), &[]), None);
        // F13 and other keys are not switches.
        assert_eq!(vt_chord(CTRL_ALT, sym(keysyms::KEY_F13), &[]), None);
        assert_eq!(vt_chord(CTRL_ALT, sym(keysyms::KEY_a), &[]), None);
    }

    #[test]
    fn a_keymaps_switch_vt_keysym_is_a_vt_switch() {
        // xkb's default keymap turns Ctrl+Alt+F3 into XF86Switch_VT_3.
        let modified = [sym(keysyms::KEY_XF86Switch_VT_3)];
        assert_eq!(
            vt_chord(Mods::default(), sym(keysyms::KEY_F3), &modified),
            Some(3)
        );
        let last = [sym(keysyms::KEY_XF86Switch_VT_12)];
        assert_eq!(vt_chord(CTRL_ALT, sym(keysyms::KEY_F12), &last), Some(12));
        // XF86Ungrab sits right after the VT keysyms: not a switch.
        let past = [sym(keysyms::KEY_XF86Switch_VT_12 + 1)];
        assert_eq!(vt_chord(Mods::default(), sym(keysyms::KEY_a), &past), None);
    }

    #[test]
    fn vt_chords_win_over_configured_hotkeys_and_others_go_to_the_config() {
        let text = r##"
[[profile]]
name = "work"
label = "Work"
colour = "#3465a4"
hotkey = "Ctrl+Alt+F2"
"##;
        let c = Config::parse(text, std::path::Path::new("t.toml")).expect("valid config");
        assert_eq!(
            action_for_key(&c, CTRL_ALT, sym(keysyms::KEY_F2), &[]),
            Some(Action::SwitchVt(2))
        );
        let logo = Mods {
            logo: true,
            ..Mods::default()
        };
        let d = Config::defaults();
        assert_eq!(
            action_for_key(&d, logo, sym(keysyms::KEY_Tab), &[]),
            Some(Action::NextProfile)
        );
        assert_eq!(
            action_for_key(&d, logo, sym(keysyms::KEY_l), &[]),
            Some(Action::Lock)
        );
    }

    #[test]
    fn vt_switches_cannot_be_bound_by_name() {
        assert_eq!(Action::parse("switch-vt-1"), None);
        assert_eq!(Action::parse("switch-vt"), None);
    }
}

//! libinput's events, fed to the compositor's input handling
//! ([`crate::input`]) as the winit backend feeds its own; Ctrl+Alt+F1..F12
//! switch virtual terminals before any hotkey or client sees them.

use smithay::backend::input::{
    AbsolutePositionEvent, Axis, AxisSource, ButtonState, InputEvent, KeyState, KeyboardKeyEvent,
    PointerAxisEvent, PointerButtonEvent, PointerMotionEvent,
};
use smithay::backend::libinput::LibinputInputBackend;
use smithay::input::pointer::AxisFrame;
use tracing::warn;

use super::logic;
use crate::backend::Backend;
use crate::state::State;

/// What the compositor does with one of libinput's events.
pub fn handle(state: &mut State, event: InputEvent<LibinputInputBackend>) {
    match event {
        InputEvent::Keyboard { event } => {
            // Smithay's keycodes are xkb's: evdev's plus 8.
            let code = event.key_code().raw().saturating_sub(8);
            let pressed = event.state() == KeyState::Pressed;
            if pressed && switch_vt(state, code) {
                return;
            }
            state.key(code, pressed);
        }
        InputEvent::PointerMotion { event } => {
            let Some(pointer) = state.seat.get_pointer() else {
                return;
            };
            let to = pointer.current_location() + event.delta();
            let (x, y) = logic::clamp_to_screens((to.x, to.y), &screens(state));
            state.pointer_moved_by(x, y, event.delta(), event.delta_unaccel());
        }
        InputEvent::PointerMotionAbsolute { event } => {
            // Tablets and touchscreens in absolute mode: onto the first screen.
            let Some(size) = state.backend.output().current_mode().map(|m| m.size) else {
                warn!("pointer motion without an output mode");
                return;
            };
            let pos = event.position_transformed((size.w, size.h).into());
            state.pointer_motion_absolute(pos.x, pos.y);
        }
        InputEvent::PointerButton { event } => {
            state.pointer_button(event.button_code(), event.state() == ButtonState::Pressed);
        }
        InputEvent::PointerAxis { event } => scroll(state, &event),
        _ => {}
    }
    // The arrow follows the pointer (moved by motion, or by a grab).
    let at = state.seat.get_pointer().map(|p| p.current_location());
    if let (Some(at), Backend::Udev(udev)) = (at, &mut state.backend) {
        udev.pointer_moved(at);
    }
}

/// Switches VT if `code` (pressed) is Ctrl+Alt+F`n`; whether it did.
fn switch_vt(state: &mut State, code: u32) -> bool {
    let Some(keyboard) = state.seat.get_keyboard() else {
        return false;
    };
    let mods = keyboard.modifier_state();
    let Some(vt) = logic::vt_for_key(code, mods.ctrl, mods.alt) else {
        return false;
    };
    if let Backend::Udev(udev) = &mut state.backend {
        // The press never reached a client: neither may its release.
        state.suppressed_keys.push(code);
        udev.change_vt(vt);
        return true;
    }
    false
}

/// The outputs' places in the global space.
fn screens(state: &State) -> Vec<logic::Area> {
    state
        .space
        .outputs()
        .filter_map(|o| state.space.output_geometry(o))
        .map(|g| (g.loc.x, g.loc.y, g.size.w, g.size.h))
        .collect()
}

/// A wheel, finger or knob scroll, to the surface under the pointer.
fn scroll<E: PointerAxisEvent<LibinputInputBackend>>(state: &mut State, event: &E) {
    let Some(pointer) = state.seat.get_pointer() else {
        return;
    };
    let source = event.source();
    let mut frame = AxisFrame::new(event.time_msec()).source(source);
    for axis in [Axis::Horizontal, Axis::Vertical] {
        frame = frame.relative_direction(axis, event.relative_direction(axis));
        let v120 = event.amount_v120(axis);
        // A wheel click is 120 steps; 15 pixels of scroll each, as most
        // compositors give.
        let amount = event
            .amount(axis)
            .or_else(|| v120.map(|steps| steps * 15.0 / 120.0));
        if let Some(steps) = v120 {
            frame = frame.v120(axis, steps as i32);
        }
        match amount {
            Some(amount) if amount != 0.0 => frame = frame.value(axis, amount),
            Some(_) if source == AxisSource::Finger => frame = frame.stop(axis),
            _ => {}
        }
    }
    pointer.axis(state, frame);
    pointer.frame(state);
}

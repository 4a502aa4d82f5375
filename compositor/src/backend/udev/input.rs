//! libinput's events, fed to the compositor's one input path
//! ([`State::process_input_event`]) as every backend feeds its own; the
//! arrow drawn by this backend then follows the pointer.

use smithay::backend::input::InputEvent;
use smithay::backend::libinput::LibinputInputBackend;

use crate::backend::Backend;
use crate::state::State;

/// What the compositor does with one of libinput's events.
pub fn handle(state: &mut State, event: InputEvent<LibinputInputBackend>) {
    // Pointer settings of `[input]` go to each device as it comes.
    match &event {
        InputEvent::DeviceAdded { device } => {
            let input = state.config.input.clone();
            state.input_devices.added(device.clone(), &input);
        }
        InputEvent::DeviceRemoved { device } => state.input_devices.removed(device),
        _ => {}
    }
    state.process_input_event(event);
    // The arrow follows the pointer (moved by motion, or by a grab).
    let at = state.seat.get_pointer().map(|p| p.current_location());
    if let (Some(at), Backend::Udev(udev)) = (at, &mut state.backend) {
        udev.pointer_moved(at);
    }
}

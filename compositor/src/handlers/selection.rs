//! wl_data_device_manager, offered so that clients which demand it (foot)
//! run, but with nothing crossing between clients yet: no client is ever
//! given the data-device focus, so no selection is offered to anyone, and
//! drags are cancelled as soon as they start. Per-profile clipboards come
//! with the clipboard-isolation work.

use smithay::delegate_data_device;
use smithay::input::Seat;
use smithay::reexports::wayland_server::protocol::wl_data_source::WlDataSource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::SERIAL_COUNTER;
use smithay::wayland::selection::data_device::{
    ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler,
};
use smithay::wayland::selection::SelectionHandler;
use tracing::debug;

use crate::state::State;

impl SelectionHandler for State {
    type SelectionUserData = ();
}

impl DataDeviceHandler for State {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.data_device_state
    }
}

impl ClientDndGrabHandler for State {
    fn started(
        &mut self,
        _source: Option<WlDataSource>,
        _icon: Option<WlSurface>,
        seat: Seat<Self>,
    ) {
        debug!("drag and drop is not allowed yet: cancelling the drag");
        self.loop_handle.insert_idle(move |state| {
            if let Some(pointer) = seat.get_pointer() {
                let time = state.clock.now().as_millis();
                pointer.unset_grab(state, SERIAL_COUNTER.next_serial(), time);
            }
        });
    }
}

impl ServerDndGrabHandler for State {}

delegate_data_device!(State);

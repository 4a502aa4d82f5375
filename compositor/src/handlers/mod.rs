//! Smithay's handler traits, implemented for [`State`]. One file per
//! protocol family; the small ones live here.

pub mod activation;
mod compositor;
mod decoration;
pub mod policy;
pub mod selection;
mod shortcuts;
mod xdg_shell;

use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::output::OutputHandler;
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::{delegate_output, delegate_seat, delegate_shm};

use crate::state::State;

impl SeatHandler for State {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<State> {
        &mut self.seat_state
    }

    fn cursor_image(&mut self, _seat: &Seat<Self>, image: CursorImageStatus) {
        // Smithay passes only what the client with the pointer asked for.
        self.cursor_image = image;
    }

    fn focus_changed(&mut self, _seat: &Seat<Self>, focused: Option<&WlSurface>) {
        self.selection_focus_to(focused);
        self.inhibitors_follow(focused);
        // Later: the keyboard is locked while it reports the change.
        self.loop_handle
            .insert_idle(|state| state.constraints_follow_keyboard_focus());
    }
}
delegate_seat!(State);

impl OutputHandler for State {}
delegate_output!(State);

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm_state
    }
}
delegate_shm!(State);

//! Clipboard and primary selection, isolated per profile. Only the client
//! with keyboard focus may set a selection; the compositor records the
//! origin (host or profile) of the client that set it, and offers it only to
//! a focused client of that same origin, a profile's disposable sandboxes
//! counting as the profile. A focused client of any other
//! origin is given no selection focus at all, so it is offered nothing.
//! Drags between clients are cancelled as soon as they start.

use smithay::delegate_data_device;
use smithay::delegate_primary_selection;
use smithay::input::Seat;
use smithay::reexports::wayland_server::protocol::wl_data_source::WlDataSource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::utils::SERIAL_COUNTER;
use smithay::wayland::selection::data_device::{
    set_data_device_focus, ClientDndGrabHandler, DataDeviceHandler, DataDeviceState,
    ServerDndGrabHandler,
};
use smithay::wayland::selection::primary_selection::{
    set_primary_focus, PrimarySelectionHandler, PrimarySelectionState,
};
use smithay::wayland::selection::{SelectionHandler, SelectionSource, SelectionTarget};
use tracing::debug;

use crate::identity::{origin_of, Origin};
use crate::state::State;

/// Who owns the seat's selections: the origin of the client that set each.
#[derive(Debug, Default, Clone)]
pub struct SelectionOwners {
    /// The clipboard's owner, `None` when empty.
    pub clipboard: Option<Origin>,
    /// The primary selection's owner, `None` when empty.
    pub primary: Option<Origin>,
}

/// Whether a client of `client` origin may be offered a selection owned by
/// `owner`: an empty selection may be offered to anyone (it offers nothing);
/// otherwise both must be the host, or of the same profile (its sandboxes
/// included).
pub fn may_offer(owner: Option<&Origin>, client: &Origin) -> bool {
    owner.is_none_or(|o| o.profile() == client.profile())
}

impl State {
    /// Gives the keyboard-focused client the selection focus for each
    /// selection it may see, and nobody the others.
    pub fn update_selection_focus(&mut self) {
        let focus = self.seat.get_keyboard().and_then(|k| k.current_focus());
        self.selection_focus_to(focus.as_ref());
    }

    /// As `update_selection_focus`, with the keyboard focus given (from
    /// within the keyboard's own focus change, where it cannot be asked).
    pub fn selection_focus_to(&mut self, focus: Option<&WlSurface>) {
        let focused = focus.and_then(|s| self.display_handle.get_client(s.id()).ok());
        let origin = focused.as_ref().and_then(|c| origin_of(c).cloned());
        let allowed = |owner: Option<&Origin>| {
            origin
                .as_ref()
                .is_some_and(|origin| may_offer(owner, origin))
        };
        let clipboard = focused
            .clone()
            .filter(|_| allowed(self.selection_owners.clipboard.as_ref()));
        let primary = focused.filter(|_| allowed(self.selection_owners.primary.as_ref()));
        let dh = self.display_handle.clone();
        set_data_device_focus(&dh, &self.seat, clipboard);
        set_primary_focus(&dh, &self.seat, primary);
    }
}

impl SelectionHandler for State {
    type SelectionUserData = ();

    fn new_selection(
        &mut self,
        ty: SelectionTarget,
        source: Option<SelectionSource>,
        _seat: Seat<Self>,
    ) {
        // Smithay lets only the keyboard-focused client set a selection, so
        // the setter's origin is the focused client's.
        let owner = source.and_then(|_| {
            let surface = self.seat.get_keyboard()?.current_focus()?;
            let client = self.display_handle.get_client(surface.id()).ok()?;
            origin_of(&client).cloned()
        });
        debug!(?ty, ?owner, "new selection");
        match ty {
            SelectionTarget::Clipboard => self.selection_owners.clipboard = owner,
            SelectionTarget::Primary => self.selection_owners.primary = owner,
        }
        // Smithay offers the new selection to whoever holds selection focus
        // after this returns: the setter if it already did, else nobody.
        // Moving focus now would first offer it the old owner's selection,
        // so focus moves once the new selection is in place.
        self.loop_handle
            .insert_idle(|state| state.update_selection_focus());
    }
}

impl DataDeviceHandler for State {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.data_device_state
    }
}

impl PrimarySelectionHandler for State {
    fn primary_selection_state(&self) -> &PrimarySelectionState {
        &self.primary_selection_state
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
delegate_primary_selection!(State);

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Origin {
        Origin::Profile(name.parse().expect("valid profile name"))
    }

    fn sandbox(name: &str, instance: &str) -> Origin {
        Origin::Sandbox {
            profile: name.parse().expect("valid profile name"),
            instance: instance.parse().expect("valid instance name"),
        }
    }

    #[test]
    fn a_sandbox_shares_its_profiles_selections_and_no_other() {
        let work = profile("work");
        let tab = sandbox("work", "tab-1");
        assert!(may_offer(Some(&work), &tab));
        assert!(may_offer(Some(&tab), &work));
        assert!(may_offer(Some(&tab), &sandbox("work", "tab-2")));
        assert!(!may_offer(Some(&tab), &profile("personal")));
        assert!(!may_offer(Some(&tab), &Origin::Host));
        assert!(!may_offer(Some(&Origin::Host), &tab));
        assert!(!may_offer(Some(&sandbox("personal", "tab-1")), &tab));
        assert!(may_offer(None, &tab));
    }
}

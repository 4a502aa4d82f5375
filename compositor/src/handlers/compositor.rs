//! wl_compositor: surface commits.

use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::delegate_compositor;
use smithay::desktop::PopupKind;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Client;
use smithay::wayland::compositor::{
    get_parent, is_sync_subsurface, CompositorClientState, CompositorHandler, CompositorState,
};
use tracing::warn;

use crate::identity::ClientState;
use crate::state::State;

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        // Every client is inserted by `sockets::listen` with a `ClientState`…
        if let Some(data) = client.get_data::<ClientState>() {
            return &data.compositor;
        }
        // Or by `XWayland::spawn`, for a profile's Xwayland.
        match client.get_data::<smithay::xwayland::XWaylandClientData>() {
            Some(data) => &data.compositor_state,
            None => unreachable!("a client without Zion's client data"),
        }
    }

    fn commit(&mut self, surface: &WlSurface) {
        // Counted by bench-sandbox (frame time per runtime); evaluated only
        // when this target logs at trace level.
        tracing::trace!(origin = ?self.origin_of_surface(surface), "surface commit");
        on_commit_buffer_handler::<Self>(surface);
        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(window) = self.window_for_surface(&root) {
                window.on_commit();
            }
        }
        self.map_if_drawn(surface);
        self.follow_resize(surface);
        self.popups.commit(surface);
        if let Some(PopupKind::Xdg(popup)) = self.popups.find_popup(surface) {
            if !popup.is_initial_configure_sent() {
                if let Err(err) = popup.send_configure() {
                    warn!("error configuring a popup: {err:?}");
                }
            }
        }
        self.backend.schedule_render();
        // A surface that moved, grew, shrank or went under a still pointer
        // changes what the pointer is over; the client learns it before the
        // reply to its next roundtrip.
        self.refresh_pointer_focus();
    }
}
delegate_compositor!(State);

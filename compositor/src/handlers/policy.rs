//! The protocol policy: which globals a client may see. Privileged ones
//! (layer-shell, virtual keyboard, input method, foreign-toplevel list) are
//! created with a filter that shows them only to clients of the host
//! socket; the harmless ones (viewporter, fractional-scale) are for everyone.

use smithay::desktop::PopupKind;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::compositor::with_states;
use smithay::wayland::foreign_toplevel_list::{
    ForeignToplevelListHandler, ForeignToplevelListState,
};
use smithay::wayland::fractional_scale::{
    with_fractional_scale, FractionalScaleHandler, FractionalScaleManagerState,
};
use smithay::wayland::input_method::{InputMethodHandler, InputMethodManagerState, PopupSurface};
use smithay::wayland::shell::wlr_layer::{
    Layer, LayerSurface, WlrLayerShellHandler, WlrLayerShellState,
};
use smithay::wayland::viewporter::ViewporterState;
use smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState;
use smithay::{
    delegate_foreign_toplevel_list, delegate_fractional_scale, delegate_input_method_manager,
    delegate_layer_shell, delegate_viewporter, delegate_virtual_keyboard_manager,
};
use tracing::{debug, warn};

use crate::identity::{origin_of, Origin};
use crate::state::State;

/// Whether `client` may see a privileged global: only host-socket clients,
/// never a profile's or a disposable sandbox's.
pub fn is_host(client: &Client) -> bool {
    origin_of(client) == Some(&Origin::Host)
}

/// The globals of the protocol policy, kept alive with the state.
#[derive(Debug)]
pub struct PolicyGlobals {
    /// zwlr_layer_shell_v1 (host only).
    pub layer_shell: WlrLayerShellState,
    /// zwp_virtual_keyboard_manager_v1 (host only).
    pub virtual_keyboard: VirtualKeyboardManagerState,
    /// zwp_input_method_manager_v2 (host only).
    pub input_method: InputMethodManagerState,
    /// ext_foreign_toplevel_list_v1 (host only).
    pub foreign_toplevels: ForeignToplevelListState,
    /// wp_viewporter (everyone).
    pub viewporter: ViewporterState,
    /// wp_fractional_scale_manager_v1 (everyone).
    pub fractional_scale: FractionalScaleManagerState,
}

impl PolicyGlobals {
    /// Creates the globals, the privileged ones filtered to host clients.
    pub fn new(dh: &DisplayHandle) -> PolicyGlobals {
        PolicyGlobals {
            layer_shell: WlrLayerShellState::new_with_filter::<State, _>(dh, is_host),
            virtual_keyboard: VirtualKeyboardManagerState::new::<State, _>(dh, is_host),
            input_method: InputMethodManagerState::new::<State, _>(dh, is_host),
            foreign_toplevels: ForeignToplevelListState::new_with_filter::<State>(dh, is_host),
            viewporter: ViewporterState::new::<State>(dh),
            fractional_scale: FractionalScaleManagerState::new::<State>(dh),
        }
    }
}

impl WlrLayerShellHandler for State {
    fn shell_state(&mut self) -> &mut WlrLayerShellState {
        &mut self.policy.layer_shell
    }

    fn new_layer_surface(
        &mut self,
        surface: LayerSurface,
        _output: Option<WlOutput>,
        layer: Layer,
        namespace: String,
    ) {
        // Layer surfaces are not drawn yet; the client is told so by closing
        // the surface rather than left waiting for a configure.
        warn!(
            ?layer,
            namespace, "layer surfaces are not drawn yet: closing it"
        );
        surface.send_close();
    }
}
delegate_layer_shell!(State);

delegate_virtual_keyboard_manager!(State);

impl InputMethodHandler for State {
    fn new_popup(&mut self, surface: PopupSurface) {
        if let Err(err) = self.popups.track_popup(PopupKind::from(surface)) {
            warn!("error tracking an input-method popup: {err:?}");
        }
    }

    fn dismiss_popup(&mut self, _surface: PopupSurface) {}

    fn popup_repositioned(&mut self, _surface: PopupSurface) {}

    fn parent_geometry(&self, parent: &WlSurface) -> Rectangle<i32, Logical> {
        self.window_for_surface(parent)
            .map(|w| w.geometry())
            .unwrap_or_default()
    }
}
delegate_input_method_manager!(State);

impl ForeignToplevelListHandler for State {
    fn foreign_toplevel_list_state(&mut self) -> &mut ForeignToplevelListState {
        &mut self.policy.foreign_toplevels
    }
}
delegate_foreign_toplevel_list!(State);

delegate_viewporter!(State);

impl FractionalScaleHandler for State {
    fn new_fractional_scale(&mut self, surface: WlSurface) {
        debug!("fractional scale: preferred 1");
        with_states(&surface, |states| {
            with_fractional_scale(states, |scale| scale.set_preferred_scale(1.0));
        });
    }
}
delegate_fractional_scale!(State);

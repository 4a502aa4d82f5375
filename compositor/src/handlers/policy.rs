//! The protocol policy: which globals a client may see. Privileged ones
//! (layer-shell, virtual keyboard, input method, foreign-toplevel list,
//! data-control, session lock) are created with a filter that shows them only to clients
//! of the host socket; the harmless ones (viewporter, fractional-scale,
//! presentation-time, single-pixel-buffer, relative-pointer,
//! pointer-constraints, tearing-control, cursor-shape, content-type,
//! pointer-gestures, keyboard-shortcuts-inhibit and xdg-activation, the
//! last two with their own rules) are for everyone. wlr-screencopy
//! (Zion's own, [`crate::screencopy`]: Smithay 0.7 has none) is host only:
//! it reads every desktop's windows. wlr-output-management (Zion's own,
//! [`crate::output_management`]) is host only: it moves and resizes the
//! screens of the whole session; its global lives in the state, created
//! with [`is_host`] as filter. ext-idle-notify (host only) and
//! idle-inhibit (everyone, counted only while visible) live in
//! [`crate::idle`]; xdg-foreign (everyone, imports within an origin only)
//! in [`crate::foreign`].

use smithay::desktop::PopupKind;
use smithay::input::pointer::PointerHandle;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::utils::{ClockSource, Logical, Monotonic, Point, Rectangle};
use smithay::wayland::compositor::with_states;
use smithay::wayland::content_type::ContentTypeState;
use smithay::wayland::cursor_shape::CursorShapeManagerState;
use smithay::wayland::foreign_toplevel_list::{
    ForeignToplevelListHandler, ForeignToplevelListState,
};
use smithay::wayland::fractional_scale::{
    with_fractional_scale, FractionalScaleHandler, FractionalScaleManagerState,
};
use smithay::wayland::input_method::{InputMethodHandler, InputMethodManagerState, PopupSurface};
use smithay::wayland::keyboard_shortcuts_inhibit::KeyboardShortcutsInhibitState;
use smithay::wayland::pointer_constraints::{PointerConstraintsHandler, PointerConstraintsState};
use smithay::wayland::pointer_gestures::PointerGesturesState;
use smithay::wayland::presentation::PresentationState;
use smithay::wayland::relative_pointer::RelativePointerManagerState;
use smithay::wayland::selection::ext_data_control::{
    DataControlHandler as ExtDataControlHandler, DataControlState as ExtDataControlState,
};
use smithay::wayland::selection::primary_selection::PrimarySelectionState;
use smithay::wayland::selection::wlr_data_control::{DataControlHandler, DataControlState};
use smithay::wayland::session_lock::SessionLockManagerState;
use smithay::wayland::shell::wlr_layer::{
    Layer, LayerSurface, WlrLayerShellHandler, WlrLayerShellState,
};
use smithay::wayland::single_pixel_buffer::SinglePixelBufferState;
use smithay::wayland::tablet_manager::TabletSeatHandler;
use smithay::wayland::viewporter::ViewporterState;
use smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState;
use smithay::wayland::xdg_activation::XdgActivationState;
use smithay::{
    delegate_content_type, delegate_cursor_shape, delegate_data_control, delegate_ext_data_control,
    delegate_foreign_toplevel_list, delegate_fractional_scale, delegate_input_method_manager,
    delegate_layer_shell, delegate_pointer_constraints, delegate_pointer_gestures,
    delegate_presentation, delegate_relative_pointer, delegate_single_pixel_buffer,
    delegate_viewporter, delegate_virtual_keyboard_manager,
};
use tracing::{debug, info, warn};

use crate::identity::{origin_of, Origin};
use crate::screencopy::ScreencopyState;
use crate::state::State;
use crate::tearing::TearingControlState;

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
    /// zwlr_data_control_manager_v1 (host only: clipboard managers).
    pub wlr_data_control: DataControlState,
    /// ext_data_control_manager_v1 (host only).
    pub ext_data_control: ExtDataControlState,
    /// wp_presentation (everyone): feedback sent when a frame is shown.
    pub presentation: PresentationState,
    /// wp_single_pixel_buffer_manager_v1 (everyone).
    pub single_pixel_buffer: SinglePixelBufferState,
    /// zwp_relative_pointer_manager_v1 (everyone).
    pub relative_pointer: RelativePointerManagerState,
    /// zwp_pointer_constraints_v1 (everyone): honoured while the
    /// constrained surface has pointer focus.
    pub pointer_constraints: PointerConstraintsState,
    /// zwlr_screencopy_manager_v1 (host only: grim, screen recorders).
    pub screencopy: ScreencopyState,
    /// wp_tearing_control_manager_v1 (everyone: games).
    pub tearing_control: TearingControlState,
    /// ext_session_lock_manager_v1 (host only: the locker; see
    /// [`crate::lock`]).
    pub session_lock: SessionLockManagerState,
    /// zwp_keyboard_shortcuts_inhibit_manager_v1 (everyone; Zion's own
    /// desktop-switch, lock and transfer chords always work).
    pub shortcuts_inhibit: KeyboardShortcutsInhibitState,
    /// xdg_activation_v1 (everyone; a profile's token activates only that
    /// profile's windows: [`super::activation`]).
    pub activation: XdgActivationState,
    /// wp_cursor_shape_manager_v1 (everyone; Smithay lets only the client
    /// with the pointer set it).
    pub cursor_shape: CursorShapeManagerState,
    /// wp_content_type_manager_v1 (everyone: a hint, read from each
    /// surface's state).
    pub content_type: ContentTypeState,
    /// zwp_pointer_gestures_v1 (everyone: touchpad swipes, pinches and
    /// holds go to the surface under the pointer).
    pub pointer_gestures: PointerGesturesState,
}

impl PolicyGlobals {
    /// Creates the globals, the privileged ones filtered to host clients;
    /// data-control reaches the primary selection of `primary` too.
    pub fn new(dh: &DisplayHandle, primary: &PrimarySelectionState) -> PolicyGlobals {
        PolicyGlobals {
            layer_shell: WlrLayerShellState::new_with_filter::<State, _>(dh, is_host),
            virtual_keyboard: VirtualKeyboardManagerState::new::<State, _>(dh, is_host),
            input_method: InputMethodManagerState::new::<State, _>(dh, is_host),
            foreign_toplevels: ForeignToplevelListState::new_with_filter::<State>(dh, is_host),
            viewporter: ViewporterState::new::<State>(dh),
            fractional_scale: FractionalScaleManagerState::new::<State>(dh),
            wlr_data_control: DataControlState::new::<State, _>(dh, Some(primary), is_host),
            ext_data_control: ExtDataControlState::new::<State, _>(dh, Some(primary), is_host),
            presentation: PresentationState::new::<State>(dh, Monotonic::ID as u32),
            single_pixel_buffer: SinglePixelBufferState::new::<State>(dh),
            relative_pointer: RelativePointerManagerState::new::<State>(dh),
            pointer_constraints: PointerConstraintsState::new::<State>(dh),
            screencopy: ScreencopyState::new(dh, is_host),
            tearing_control: TearingControlState::new(dh),
            session_lock: SessionLockManagerState::new::<State, _>(dh, is_host),
            shortcuts_inhibit: KeyboardShortcutsInhibitState::new::<State>(dh),
            activation: XdgActivationState::new::<State>(dh),
            cursor_shape: CursorShapeManagerState::new::<State>(dh),
            content_type: ContentTypeState::new::<State>(dh),
            pointer_gestures: PointerGesturesState::new::<State>(dh),
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
        // There is one output: whichever the client named, it goes there.
        info!(?layer, namespace, "new layer surface");
        self.add_layer(surface, namespace);
    }

    fn layer_destroyed(&mut self, surface: LayerSurface) {
        self.remove_layer(&surface);
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
        // The output's scale (`[[output]]`, wlr-output-management).
        let preferred = self.backend.output().current_scale().fractional_scale();
        debug!("fractional scale: preferred {preferred}");
        with_states(&surface, |states| {
            with_fractional_scale(states, |scale| scale.set_preferred_scale(preferred));
        });
    }
}
delegate_fractional_scale!(State);

impl DataControlHandler for State {
    fn data_control_state(&self) -> &DataControlState {
        &self.policy.wlr_data_control
    }
}
delegate_data_control!(State);

impl ExtDataControlHandler for State {
    fn data_control_state(&self) -> &ExtDataControlState {
        &self.policy.ext_data_control
    }
}
delegate_ext_data_control!(State);

delegate_content_type!(State);
delegate_pointer_gestures!(State);

/// Tablet tools have no cursor of their own here; cursor-shape needs this.
impl TabletSeatHandler for State {}
delegate_cursor_shape!(State);

delegate_presentation!(State);
delegate_single_pixel_buffer!(State);
delegate_relative_pointer!(State);

impl PointerConstraintsHandler for State {
    fn new_constraint(&mut self, surface: &WlSurface, pointer: &PointerHandle<Self>) {
        // A constraint applies at once if the pointer is already over it.
        self.activate_constraint(surface, pointer);
    }

    fn cursor_position_hint(
        &mut self,
        surface: &WlSurface,
        pointer: &PointerHandle<Self>,
        location: Point<f64, Logical>,
    ) {
        self.lock_position_hint(surface, pointer, location);
    }
}
delegate_pointer_constraints!(State);

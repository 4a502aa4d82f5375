//! xdg-shell: toplevels open on their profile's desktop; popups are tracked.

use smithay::delegate_xdg_shell;
use smithay::desktop::{PopupKind, Window};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::{
    ResizeEdge, State as ToplevelState,
};
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::protocol::wl_seat::WlSeat;
use smithay::utils::{Serial, Size};
use smithay::wayland::shell::xdg::{
    PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
};
use tracing::{info, warn};

use crate::frame::maximized_content;
use crate::state::{OpensOn, State};

impl XdgShellHandler for State {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell_state
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        let Some(origin) = self.origin_of_surface(surface.wl_surface()) else {
            warn!("a toplevel from a client of unknown origin: not shown");
            return;
        };
        let Some(desktop) = self.desktop_for(&origin) else {
            warn!(
                ?origin,
                "a toplevel from a profile with no desktop: not shown"
            );
            return;
        };
        info!(?origin, desktop, "new toplevel");
        let window = Window::new_wayland_window(surface);
        // The origin and desktop are fixed here, from the socket, for the
        // window's life. The window joins its desktop when it first draws.
        window.user_data().insert_if_missing(|| origin.clone());
        window.user_data().insert_if_missing(|| OpensOn(desktop));
        self.unmapped.push(window);
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        self.unmapped
            .retain(|w| w.toplevel().is_some_and(|t| t != &surface));
        if let Some(window) = self.window_for_surface(surface.wl_surface()) {
            self.layout.close(&window);
            self.refresh_view();
            // The pointer leaves the surface while the client still knows
            // it, before the reply to the roundtrip that destroyed it.
            self.refresh_pointer_focus();
        }
    }

    fn new_popup(&mut self, surface: PopupSurface, positioner: PositionerState) {
        surface.with_pending_state(|state| state.geometry = positioner.get_geometry());
        if let Err(err) = self.popups.track_popup(PopupKind::Xdg(surface)) {
            warn!("error tracking a popup: {err:?}");
        }
    }

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        surface.with_pending_state(|state| {
            state.geometry = positioner.get_geometry();
            state.positioner = positioner;
        });
        surface.send_repositioned(token);
    }

    fn grab(&mut self, _surface: PopupSurface, _seat: WlSeat, _serial: Serial) {}

    fn popup_destroyed(&mut self, _surface: PopupSurface) {
        // As for a toplevel: the pointer leaves the popup while the client
        // still knows its surface (the popup role is gone, the surface not).
        self.popups.cleanup();
        self.refresh_pointer_focus();
    }

    fn move_request(&mut self, surface: ToplevelSurface, _seat: WlSeat, serial: Serial) {
        self.move_request(surface.wl_surface(), serial);
    }

    fn resize_request(
        &mut self,
        surface: ToplevelSurface,
        _seat: WlSeat,
        serial: Serial,
        edges: ResizeEdge,
    ) {
        self.resize_request(surface.wl_surface(), serial, edges);
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        match self.window_for_surface(surface.wl_surface()) {
            Some(window) => self.set_maximized(&window, true),
            // Not drawn yet: it opens maximized (see `apply_mode_on_map`),
            // and is told the size it will have from its first configure.
            None => {
                let decoration = crate::render::decoration_for(
                    surface.with_pending_state(|s| s.decoration_mode),
                );
                let area = maximized_content(self.usable_rect(), decoration);
                surface.with_pending_state(|s| {
                    s.states.set(ToplevelState::Maximized);
                    s.size = Some(Size::from((area.w, area.h)));
                });
                if surface.is_initial_configure_sent() {
                    surface.send_configure();
                }
            }
        }
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        match self.window_for_surface(surface.wl_surface()) {
            Some(window) => self.set_maximized(&window, false),
            None => {
                surface.with_pending_state(|s| {
                    s.states.unset(ToplevelState::Maximized);
                    s.size = None;
                });
                if surface.is_initial_configure_sent() {
                    surface.send_configure();
                }
            }
        }
    }

    fn fullscreen_request(&mut self, surface: ToplevelSurface, _output: Option<WlOutput>) {
        match self.window_for_surface(surface.wl_surface()) {
            Some(window) => self.set_fullscreen(&window, true),
            None => {
                let area = crate::frame::fullscreen_content(self.output_rect());
                surface.with_pending_state(|s| {
                    s.states.set(ToplevelState::Fullscreen);
                    s.size = Some(Size::from((area.w, area.h)));
                });
                if surface.is_initial_configure_sent() {
                    surface.send_configure();
                }
            }
        }
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        match self.window_for_surface(surface.wl_surface()) {
            Some(window) => self.set_fullscreen(&window, false),
            None => {
                surface.with_pending_state(|s| {
                    s.states.unset(ToplevelState::Fullscreen);
                    s.size = None;
                });
                if surface.is_initial_configure_sent() {
                    surface.send_configure();
                }
            }
        }
    }

    fn title_changed(&mut self, _surface: ToplevelSurface) {
        self.backend.schedule_render();
    }
}
delegate_xdg_shell!(State);

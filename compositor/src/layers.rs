//! Layer surfaces of host tools (panels, backgrounds, overlays): smithay's
//! layer map places them on the output; their exclusive zones shrink the
//! area maximized windows get; one on the top or overlay layer asking for
//! exclusive keyboard interactivity holds the keyboard. Layer-shell is a
//! host-only global, so every layer surface here is a host client's.

use std::time::Duration;

use smithay::desktop::{layer_map_for_output, LayerSurface, WindowSurfaceType};
use smithay::output::Output;
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point};
use smithay::wayland::compositor::{add_post_commit_hook, with_states};
use smithay::wayland::shell::wlr_layer::{
    KeyboardInteractivity, Layer, LayerSurface as WlrLayerSurface, LayerSurfaceData,
};
use tracing::warn;

use crate::layout::{Mode, Rect};
use crate::state::State;

/// The layers drawn (and hit) above the windows, front to back.
pub const ABOVE: [Layer; 2] = [Layer::Overlay, Layer::Top];
/// The layers drawn (and hit) below the windows, front to back.
pub const BELOW: [Layer; 2] = [Layer::Bottom, Layer::Background];

/// The rectangle left to windows by the exclusive zones of `output`'s layers.
pub fn usable_area(output: &Output) -> Rect {
    let zone = layer_map_for_output(output).non_exclusive_zone();
    Rect::new(zone.loc.x, zone.loc.y, zone.size.w, zone.size.h)
}

/// Whether `surface`'s first configure has gone out.
fn initial_configure_sent(surface: &WlSurface) -> bool {
    with_states(surface, |states| {
        states
            .data_map
            .get::<LayerSurfaceData>()
            .and_then(|d| d.lock().ok().map(|d| d.initial_configure_sent))
    })
    .unwrap_or(false)
}

impl State {
    /// Puts a new layer surface on the output; it is configured at its first
    /// commit.
    pub fn add_layer(&mut self, surface: WlrLayerSurface, namespace: String) {
        let wl_surface = surface.wl_surface().clone();
        let layer = LayerSurface::new(surface, namespace);
        let output = self.backend.output().clone();
        let mapped = layer_map_for_output(&output).map_layer(&layer);
        if let Err(err) = mapped {
            warn!("error placing a layer surface on the output, closing it: {err:?}");
            layer.layer_surface().send_close();
            return;
        }
        add_post_commit_hook::<State, _>(&wl_surface, |state, _, surface| {
            state.layer_committed(surface);
        });
    }

    /// Takes a destroyed layer surface off the output.
    pub fn remove_layer(&mut self, surface: &WlrLayerSurface) {
        let output = self.backend.output().clone();
        let mut map = layer_map_for_output(&output);
        let layer = map.layers().find(|l| l.layer_surface() == surface).cloned();
        if let Some(layer) = layer {
            map.unmap_layer(&layer);
        }
        drop(map);
        self.layers_changed();
    }

    /// After a layer surface's commit: places it again (its size, anchor or
    /// zone may have changed) and sends its first configure.
    fn layer_committed(&mut self, surface: &WlSurface) {
        let output = self.backend.output().clone();
        let mut map = layer_map_for_output(&output);
        let Some(layer) = map
            .layer_for_surface(surface, WindowSurfaceType::TOPLEVEL)
            .cloned()
        else {
            return;
        };
        map.arrange();
        drop(map);
        if !initial_configure_sent(surface) {
            layer.layer_surface().send_configure();
        }
        self.layers_changed();
    }

    /// Fits maximized windows to the area the layers leave, gives the
    /// keyboard to a layer that claims it (or back), and redraws.
    pub fn layers_changed(&mut self) {
        let area = self.usable_rect();
        let stale: Vec<_> = self
            .layout
            .desktops()
            .iter()
            .flat_map(|d| d.windows())
            .filter(|p| p.mode == Mode::Maximized)
            .filter(|p| {
                let content =
                    crate::frame::maximized_content(area, crate::render::decoration_of(&p.window));
                p.pos != (content.x, content.y)
                    || p.window.toplevel().is_some_and(|t| {
                        t.with_pending_state(|s| s.size)
                            .is_some_and(|s| (s.w, s.h) != (content.w, content.h))
                    })
            })
            .map(|p| p.window.clone())
            .collect();
        for window in stale {
            self.set_maximized(&window, true);
        }
        self.refresh_view();
    }

    /// The area windows may fill: the output less the layers' exclusive
    /// zones.
    pub fn usable_rect(&self) -> Rect {
        let area = usable_area(self.backend.output());
        if area.w > 0 && area.h > 0 {
            area
        } else {
            self.output_rect()
        }
    }

    /// The layer surface holding the keyboard: the front one of the top or
    /// overlay layer that asked for exclusive keyboard interactivity.
    pub fn layer_keyboard_focus(&self) -> Option<WlSurface> {
        let map = layer_map_for_output(self.backend.output());
        ABOVE.iter().find_map(|layer| {
            map.layers_on(*layer)
                .rev()
                .find(|l| {
                    l.cached_state().keyboard_interactivity == KeyboardInteractivity::Exclusive
                })
                .map(|l| l.wl_surface().clone())
        })
    }

    /// The layer surface of `layers` under `pos`, with its origin.
    pub fn layer_surface_under(
        &self,
        pos: Point<f64, Logical>,
        layers: &[Layer],
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        let map = layer_map_for_output(self.backend.output());
        layers.iter().find_map(|layer| {
            let l = map.layer_under(*layer, pos)?;
            let loc = map.layer_geometry(l)?.loc;
            l.surface_under(pos - loc.to_f64(), WindowSurfaceType::ALL)
                .map(|(s, p)| (s, (p + loc).to_f64()))
        })
    }

    /// Sends frame callbacks to the layer surfaces.
    pub fn send_layer_frames(&self, now: Duration) {
        let output = self.backend.output();
        let map = layer_map_for_output(output);
        for layer in map.layers() {
            layer.send_frame(output, now, Some(Duration::ZERO), |_, _| {
                Some(output.clone())
            });
        }
    }

    /// Tells the windows and layers shown that the frame just drawn is on
    /// the output (wp_presentation feedback).
    pub fn send_presentation_feedback(&mut self) {
        let output = self.backend.output().clone();
        let mut feedback = smithay::desktop::utils::OutputPresentationFeedback::new(&output);
        let on_output = |_: &WlSurface, _: &_| Some(output.clone());
        let kind = |_: &WlSurface, _: &_| wp_presentation_feedback::Kind::empty();
        for w in self.space.elements() {
            w.take_presentation_feedback(&mut feedback, on_output, kind);
        }
        for layer in layer_map_for_output(&output).layers() {
            layer.take_presentation_feedback(&mut feedback, on_output, kind);
        }
        let refresh = output.current_mode().filter(|m| m.refresh > 0).map_or(
            smithay::wayland::presentation::Refresh::Unknown,
            |m| {
                smithay::wayland::presentation::Refresh::fixed(Duration::from_micros(
                    1_000_000_000 / m.refresh as u64,
                ))
            },
        );
        self.frames_shown += 1;
        feedback.presented(
            self.clock.now(),
            refresh,
            self.frames_shown,
            wp_presentation_feedback::Kind::empty(),
        );
    }
}

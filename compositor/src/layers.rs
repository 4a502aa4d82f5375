//! Layer surfaces of host tools (panels, backgrounds, overlays), placed on
//! the output the way wlr-layer-shell says: anchored to edges with margins,
//! a zero size stretched between opposite anchors, a size given with both
//! opposite anchors centred between them. Surfaces with an exclusive zone
//! are placed first (front layer first) and each takes its zone off the
//! edge it is attached to; the others then fit in what is left, except
//! those whose zone is -1, which use the whole output. What is left at the
//! end is the area maximized windows get. A surface whose configured size
//! changes is configured again. One on the top or overlay layer asking for
//! exclusive keyboard interactivity holds the keyboard. Layer-shell is a
//! host-only global, so every layer surface here is a host client's.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::desktop::{LayerSurface, PopupManager, WindowSurfaceType};
use smithay::output::Output;
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{IsAlive, Logical, Point, Size};
use smithay::wayland::compositor::{
    add_post_commit_hook, with_states, with_surface_tree_downward, BufferAssignment,
    SurfaceAttributes, TraversalAction,
};
use smithay::wayland::shell::wlr_layer::{
    Anchor, ExclusiveZone, KeyboardInteractivity, Layer, LayerSurface as WlrLayerSurface,
    LayerSurfaceCachedState, LayerSurfaceData,
};
use tracing::debug;

use crate::layout::{Mode, Rect};
use crate::state::State;

/// The layers drawn (and hit) above the windows, front to back.
pub const ABOVE: [Layer; 2] = [Layer::Overlay, Layer::Top];
/// The layers drawn (and hit) below the windows, front to back.
pub const BELOW: [Layer; 2] = [Layer::Bottom, Layer::Background];
/// Every layer, front to back: the order exclusive zones are taken in.
const ALL: [Layer; 4] = [Layer::Overlay, Layer::Top, Layer::Bottom, Layer::Background];

/// The layer surfaces of an output, in the order they were created, with
/// where each was placed, and the area their exclusive zones leave.
#[derive(Debug, Default)]
struct Layers {
    placed: Vec<(LayerSurface, Point<i32, Logical>)>,
    usable: Option<Rect>,
    /// The surface with on-demand keyboard interactivity that was mapped
    /// or clicked last, holding the keyboard until a window is clicked.
    on_demand: Option<WlSurface>,
}

/// The layer surfaces of `output` (kept in its user data).
fn layers_of(output: &Output) -> MutexGuard<'_, Layers> {
    let layers = output
        .user_data()
        .get_or_insert_threadsafe(|| Mutex::new(Layers::default()));
    layers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The layer surfaces on `layer` of `output`, front to back (the last
/// created in front), each with the output position of its origin.
pub fn placed_on(output: &Output, layer: Layer) -> Vec<(LayerSurface, Point<i32, Logical>)> {
    layers_of(output)
        .placed
        .iter()
        .rev()
        .filter(|(l, _)| l.alive() && l.layer() == layer)
        .cloned()
        .collect()
}

/// The rectangle left to windows by the exclusive zones of `output`'s
/// layers, once they are arranged.
pub fn usable_area(output: &Output) -> Option<Rect> {
    layers_of(output).usable
}

/// The edge a surface anchored to `anchor` sits on, if one: the only edges
/// an exclusive zone means something for (one edge, or one edge and both
/// perpendicular ones).
fn attached_edge(anchor: Anchor) -> Option<Anchor> {
    let (l, r, t, b) = (
        anchor.contains(Anchor::LEFT),
        anchor.contains(Anchor::RIGHT),
        anchor.contains(Anchor::TOP),
        anchor.contains(Anchor::BOTTOM),
    );
    match (l, r, t, b) {
        (true, false, x, y) if x == y => Some(Anchor::LEFT),
        (false, true, x, y) if x == y => Some(Anchor::RIGHT),
        (x, y, true, false) if x == y => Some(Anchor::TOP),
        (x, y, false, true) if x == y => Some(Anchor::BOTTOM),
        _ => None,
    }
}

/// One axis of a placement: the start and length of a surface asking for
/// `size` (0: stretch) within `[start, start + len)`, anchored at the start
/// and/or end with margins `m_start`/`m_end`.
fn place_axis(
    start: i32,
    len: i32,
    size: i32,
    at_start: bool,
    at_end: bool,
    m_start: i32,
    m_end: i32,
) -> (i32, i32) {
    match (at_start, at_end) {
        (true, true) => {
            let room = (len - m_start - m_end).max(0);
            let size = if size == 0 { room } else { size };
            (start + m_start + (room - size) / 2, size)
        }
        (true, false) => (start + m_start, size),
        (false, true) => (start + len - m_end - size, size),
        (false, false) => (start + (len - size) / 2, size),
    }
}

/// Where a surface with `state` goes in `bounds`: its position and the
/// size it is configured with.
fn place(
    state: &LayerSurfaceCachedState,
    bounds: Rect,
) -> (Point<i32, Logical>, Size<i32, Logical>) {
    let a = state.anchor;
    let m = &state.margin;
    let (x, w) = place_axis(
        bounds.x,
        bounds.w,
        state.size.w,
        a.contains(Anchor::LEFT),
        a.contains(Anchor::RIGHT),
        m.left,
        m.right,
    );
    let (y, h) = place_axis(
        bounds.y,
        bounds.h,
        state.size.h,
        a.contains(Anchor::TOP),
        a.contains(Anchor::BOTTOM),
        m.top,
        m.bottom,
    );
    ((x, y).into(), (w, h).into())
}

/// `usable` less the exclusive zone of a surface with `state`, if it has
/// one on an edge.
fn take_zone(usable: Rect, state: &LayerSurfaceCachedState) -> Rect {
    let ExclusiveZone::Exclusive(amount) = state.exclusive_zone else {
        return usable;
    };
    let amount = amount as i32;
    let m = &state.margin;
    let mut r = usable;
    match attached_edge(state.anchor) {
        Some(Anchor::LEFT) => {
            let cut = (amount + m.left).min(r.w);
            r.x += cut;
            r.w -= cut;
        }
        Some(Anchor::RIGHT) => r.w -= (amount + m.right).min(r.w),
        Some(Anchor::TOP) => {
            let cut = (amount + m.top).min(r.h);
            r.y += cut;
            r.h -= cut;
        }
        Some(Anchor::BOTTOM) => r.h -= (amount + m.bottom).min(r.h),
        _ => {}
    }
    r
}

/// Marks a layer surface that has been drawn once.
struct Shown;

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

/// Sends `wl_surface.enter` for `output` to the surfaces of `layer` and of
/// its popups (once each).
fn enter_output(output: &Output, layer: &LayerSurface) {
    let mut roots = vec![layer.wl_surface().clone()];
    roots.extend(
        PopupManager::popups_for_surface(layer.wl_surface()).map(|(p, _)| p.wl_surface().clone()),
    );
    for root in roots {
        with_surface_tree_downward(
            &root,
            (),
            |_, _, _| TraversalAction::DoChildren(()),
            |surface, _, _| output.enter(surface),
            |_, _, _| true,
        );
    }
}

impl State {
    /// Puts a new layer surface on the output; it is placed and configured
    /// at its first commit.
    pub fn add_layer(&mut self, surface: WlrLayerSurface, namespace: String) {
        let wl_surface = surface.wl_surface().clone();
        let layer = LayerSurface::new(surface, namespace);
        layers_of(self.backend.output())
            .placed
            .push((layer, Point::default()));
        add_post_commit_hook::<State, _>(&wl_surface, |state, _, surface| {
            state.layer_committed(surface);
        });
    }

    /// Takes a destroyed layer surface off the output and places the others
    /// again (its exclusive zone is gone).
    pub fn remove_layer(&mut self, surface: &WlrLayerSurface) {
        layers_of(self.backend.output())
            .placed
            .retain(|(l, _)| l.layer_surface() != surface);
        self.arrange_layers();
        self.layers_changed();
    }

    /// After a layer surface's commit: places the layers again (its size,
    /// anchor, margin, zone or layer may have changed) and sends its first
    /// configure.
    fn layer_committed(&mut self, surface: &WlSurface) {
        let layer = layers_of(self.backend.output())
            .placed
            .iter()
            .find(|(l, _)| l.wl_surface() == surface)
            .map(|(l, _)| l.clone());
        let Some(layer) = layer else {
            return;
        };
        let first = !initial_configure_sent(surface);
        self.arrange_layers();
        if first {
            layer.layer_surface().send_configure();
        }
        // An on-demand surface of the top or overlay layer (a launcher)
        // gets the keyboard when it first shows; one on a lower layer only
        // when clicked.
        // (A buffer committed just now is not yet the renderer's.)
        let drawn = with_renderer_surface_state(surface, |s| s.buffer().is_some()).unwrap_or(false)
            || with_states(surface, |states| {
                matches!(
                    states
                        .cached_state
                        .get::<SurfaceAttributes>()
                        .current()
                        .buffer,
                    Some(BufferAssignment::NewBuffer(_))
                )
            });
        if drawn && layer.user_data().insert_if_missing(|| Shown) {
            let state = layer.cached_state();
            if state.keyboard_interactivity == KeyboardInteractivity::OnDemand
                && ABOVE.contains(&state.layer)
            {
                layers_of(self.backend.output()).on_demand = Some(surface.clone());
            }
        }
        self.layers_changed();
    }

    /// Places every layer surface of the output: those with an exclusive
    /// zone first, front layer first, each taking its zone off the usable
    /// area; then the rest within that area (or the whole output for a
    /// zone of -1). A configured surface whose size changes is configured
    /// again.
    pub fn arrange_layers(&mut self) {
        let output = self.backend.output().clone();
        let full = self.output_rect();
        let mut layers = layers_of(&output);
        layers.placed.retain(|(l, _)| l.alive());
        let states: Vec<_> = layers
            .placed
            .iter()
            .map(|(l, _)| l.cached_state())
            .collect();
        let mut usable = full;
        let mut sizes = vec![Size::default(); states.len()];
        for exclusive in [true, false] {
            for layer in ALL {
                for (i, state) in states.iter().enumerate() {
                    let has_zone = matches!(state.exclusive_zone, ExclusiveZone::Exclusive(_));
                    if state.layer != layer || has_zone != exclusive {
                        continue;
                    }
                    let bounds = match state.exclusive_zone {
                        ExclusiveZone::DontCare => full,
                        _ => usable,
                    };
                    let (loc, size) = place(state, bounds);
                    layers.placed[i].1 = loc;
                    sizes[i] = size;
                    usable = take_zone(usable, state);
                }
            }
        }
        layers.usable = Some(usable);
        for ((layer, loc), size) in layers.placed.iter().zip(sizes) {
            enter_output(&output, layer);
            let surface = layer.layer_surface();
            surface.with_pending_state(|s| s.size = Some(size));
            if initial_configure_sent(layer.wl_surface())
                && surface.send_pending_configure().is_some()
            {
                debug!(
                    namespace = layer.namespace(),
                    ?loc,
                    ?size,
                    "layer surface configured again"
                );
            }
        }
    }

    /// Fits maximized windows to the area the layers leave, gives the
    /// keyboard to a layer that claims it (or back), and redraws.
    pub fn layers_changed(&mut self) {
        let stale: Vec<_> = self
            .layout
            .desktops()
            .iter()
            .flat_map(|d| d.all())
            .filter(|p| {
                let Some(content) = self.placement_area(&p.window, p.mode) else {
                    return false;
                };
                p.pos != (content.x, content.y)
                    || p.window.toplevel().is_some_and(|t| {
                        t.with_pending_state(|s| s.size)
                            .is_some_and(|s| (s.w, s.h) != (content.w, content.h))
                    })
            })
            .map(|p| (p.window.clone(), p.mode))
            .collect();
        for (window, mode) in stale {
            match mode {
                Mode::Snapped(side) => self.snap(&window, side),
                _ => self.set_maximized(&window, true),
            }
        }
        self.refresh_view();
    }

    /// The area windows may fill: the output less the layers' exclusive
    /// zones.
    pub fn usable_rect(&self) -> Rect {
        match usable_area(self.backend.output()) {
            Some(area) if area.w > 0 && area.h > 0 => area,
            _ => self.output_rect(),
        }
    }

    /// The layer surface holding the keyboard: the front one of the top or
    /// overlay layer that asked for exclusive keyboard interactivity, or
    /// else the on-demand one last shown or clicked (while it still asks
    /// for on-demand interactivity).
    pub fn layer_keyboard_focus(&self) -> Option<WlSurface> {
        let output = self.backend.output();
        let exclusive = ABOVE.iter().find_map(|layer| {
            placed_on(output, *layer)
                .into_iter()
                .find(|(l, _)| {
                    l.cached_state().keyboard_interactivity == KeyboardInteractivity::Exclusive
                })
                .map(|(l, _)| l.wl_surface().clone())
        });
        exclusive.or_else(|| {
            let layers = layers_of(output);
            let on_demand = layers.on_demand.as_ref()?;
            layers
                .placed
                .iter()
                .find(|(l, _)| {
                    l.wl_surface() == on_demand
                        && l.cached_state().keyboard_interactivity
                            == KeyboardInteractivity::OnDemand
                })
                .map(|(l, _)| l.wl_surface().clone())
        })
    }

    /// A button press at `pos`: whether it landed on a layer surface (or a
    /// popup of one) rather than a window. An on-demand surface clicked
    /// takes the keyboard; a click anywhere else gives it back.
    pub fn layer_clicked(&mut self, pos: Point<f64, Logical>) -> bool {
        let output = self.backend.output().clone();
        let hit = |layers: &[Layer]| {
            layers.iter().find_map(|layer| {
                placed_on(&output, *layer).into_iter().find_map(|(l, loc)| {
                    l.surface_under(pos - loc.to_f64(), WindowSurfaceType::ALL)
                        .map(|_| l)
                })
            })
        };
        let clicked = match hit(&ABOVE) {
            Some(l) => Some(l),
            None if self.window_under(pos).is_some() => None,
            None => hit(&BELOW),
        };
        let on_demand = clicked
            .as_ref()
            .filter(|l| l.cached_state().keyboard_interactivity == KeyboardInteractivity::OnDemand)
            .map(|l| l.wl_surface().clone());
        let mut layers = layers_of(&output);
        // A click on a layer surface without interactivity changes nothing.
        if on_demand.is_some() || clicked.is_none() {
            let changed = layers.on_demand != on_demand;
            layers.on_demand = on_demand;
            drop(layers);
            if changed {
                self.refresh_keyboard_focus();
            }
        }
        clicked.is_some()
    }

    /// The layer surface (or popup of one) of `layers` under `pos`, with
    /// its origin.
    pub fn layer_surface_under(
        &self,
        pos: Point<f64, Logical>,
        layers: &[Layer],
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        let output = self.backend.output();
        layers.iter().find_map(|layer| {
            placed_on(output, *layer).into_iter().find_map(|(l, loc)| {
                l.surface_under(pos - loc.to_f64(), WindowSurfaceType::ALL)
                    .map(|(s, p)| (s, (p + loc).to_f64()))
            })
        })
    }

    /// Sends frame callbacks to the layer surfaces.
    pub fn send_layer_frames(&self, now: Duration) {
        let output = self.backend.output();
        for layer in ALL {
            for (l, _) in placed_on(output, layer) {
                l.send_frame(output, now, Some(Duration::ZERO), |_, _| {
                    Some(output.clone())
                });
            }
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
        for (layer, _) in ALL.iter().flat_map(|l| placed_on(&output, *l)) {
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

#[cfg(test)]
mod tests {
    use smithay::wayland::shell::wlr_layer::Margins;

    use super::*;

    const OUT: Rect = Rect::new(0, 0, 1920, 1080);

    fn state(w: i32, h: i32, anchor: Anchor, zone: ExclusiveZone) -> LayerSurfaceCachedState {
        LayerSurfaceCachedState {
            size: (w, h).into(),
            anchor,
            exclusive_zone: zone,
            margin: Margins {
                top: 12,
                right: 9,
                bottom: 15,
                left: 6,
            },
            ..Default::default()
        }
    }

    #[test]
    fn zero_size_stretches_between_opposite_anchors_less_margins() {
        let s = state(0, 30, Anchor::LEFT | Anchor::RIGHT | Anchor::TOP, 0.into());
        let (loc, size) = place(&s, OUT);
        assert_eq!((loc.x, loc.y), (6, 12));
        assert_eq!((size.w, size.h), (1920 - 6 - 9, 30));
    }

    #[test]
    fn given_size_between_opposite_anchors_is_kept_and_centred() {
        let s = state(321, 218, Anchor::all(), 0.into());
        let (loc, size) = place(&s, OUT);
        assert_eq!((size.w, size.h), (321, 218));
        assert_eq!(loc.x, 6 + (1920 - 15 - 321) / 2);
        assert_eq!(loc.y, 12 + (1080 - 27 - 218) / 2);
    }

    #[test]
    fn one_anchor_keeps_its_margin_and_no_anchor_centres() {
        let s = state(200, 300, Anchor::RIGHT | Anchor::BOTTOM, 0.into());
        let (loc, _) = place(&s, OUT);
        assert_eq!((loc.x, loc.y), (1920 - 9 - 200, 1080 - 15 - 300));
        let s = state(200, 300, Anchor::empty(), 0.into());
        let (loc, _) = place(&s, OUT);
        assert_eq!((loc.x, loc.y), ((1920 - 200) / 2, (1080 - 300) / 2));
    }

    #[test]
    fn exclusive_zone_counts_only_on_an_attached_edge() {
        let top = state(0, 25, Anchor::LEFT | Anchor::RIGHT | Anchor::TOP, 25.into());
        assert_eq!(take_zone(OUT, &top), Rect::new(0, 37, 1920, 1080 - 37));
        let left = state(25, 0, Anchor::LEFT, 25.into());
        assert_eq!(take_zone(OUT, &left), Rect::new(31, 0, 1920 - 31, 1080));
        let bottom = state(25, 25, Anchor::BOTTOM, 25.into());
        assert_eq!(take_zone(OUT, &bottom), Rect::new(0, 0, 1920, 1080 - 40));
        for corner_or_both in [
            Anchor::TOP | Anchor::LEFT,
            Anchor::TOP | Anchor::BOTTOM,
            Anchor::all(),
            Anchor::empty(),
        ] {
            let s = state(25, 25, corner_or_both, 25.into());
            assert_eq!(take_zone(OUT, &s), OUT, "{corner_or_both:?}");
        }
    }
}

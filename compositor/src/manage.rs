//! Window management: maximize, fullscreen, snapping to a half of the
//! output, minimizing, switching windows with the keyboard (Alt+Tab), and
//! interactive move and resize (asked for by a client's title bar, or
//! Super + left / right drag). The geometry is decided in `layout` and
//! `frame`; this module tells the client and drives the pointer grabs.

use std::cell::RefCell;

use smithay::desktop::Window;
use smithay::input::pointer::{
    AxisFrame, ButtonEvent, Focus, GestureHoldBeginEvent, GestureHoldEndEvent,
    GesturePinchBeginEvent, GesturePinchEndEvent, GesturePinchUpdateEvent, GestureSwipeBeginEvent,
    GestureSwipeEndEvent, GestureSwipeUpdateEvent, GrabStartData, MotionEvent, PointerGrab,
    PointerInnerHandle, RelativeMotionEvent,
};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::{
    ResizeEdge, State as ToplevelState,
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::utils::{Logical, Point, Serial, Size};
use smithay::wayland::shell::xdg::{ToplevelState as PendingState, ToplevelSurface};

use crate::frame::maximized_content;
use crate::hotkeys::Mods;
use crate::layout::{Mode, Rect, Side};
use crate::render::decoration_of;
use crate::state::State;

/// The smallest content size a resize gives.
pub const MIN_SIZE: i32 = 32;

/// The content size a resize from `edges` gives, `delta` after it started
/// at `initial`; never below [`MIN_SIZE`].
pub fn resized(initial: (i32, i32), edges: ResizeEdge, delta: (i32, i32)) -> (i32, i32) {
    let (mut w, mut h) = initial;
    let (dx, dy) = delta;
    match edges {
        ResizeEdge::Left | ResizeEdge::TopLeft | ResizeEdge::BottomLeft => w -= dx,
        ResizeEdge::Right | ResizeEdge::TopRight | ResizeEdge::BottomRight => w += dx,
        _ => {}
    }
    match edges {
        ResizeEdge::Top | ResizeEdge::TopLeft | ResizeEdge::TopRight => h -= dy,
        ResizeEdge::Bottom | ResizeEdge::BottomLeft | ResizeEdge::BottomRight => h += dy,
        _ => {}
    }
    (w.max(MIN_SIZE), h.max(MIN_SIZE))
}

/// Where the content goes when a resize from `edges` makes it `size`: the
/// opposite edges stay put.
pub fn resized_position(
    initial_pos: (i32, i32),
    initial_size: (i32, i32),
    edges: ResizeEdge,
    size: (i32, i32),
) -> (i32, i32) {
    let (mut x, mut y) = initial_pos;
    if matches!(
        edges,
        ResizeEdge::Left | ResizeEdge::TopLeft | ResizeEdge::BottomLeft
    ) {
        x += initial_size.0 - size.0;
    }
    if matches!(
        edges,
        ResizeEdge::Top | ResizeEdge::TopLeft | ResizeEdge::TopRight
    ) {
        y += initial_size.1 - size.1;
    }
    (x, y)
}

/// A resize in progress (or whose last configure the client has not drawn yet).
#[derive(Debug, Clone, Copy)]
struct Resizing {
    edges: ResizeEdge,
    initial_pos: (i32, i32),
    initial_size: (i32, i32),
    ended: bool,
}

#[derive(Default)]
struct ResizeState(RefCell<Option<Resizing>>);

impl State {
    /// The output's rectangle in the layout's coordinates.
    pub fn output_rect(&self) -> Rect {
        let output = self.backend.output();
        self.space
            .output_geometry(output)
            .map(|g| Rect::new(g.loc.x, g.loc.y, g.size.w, g.size.h))
            .unwrap_or_else(|| {
                let size = output.current_mode().map_or((0, 0).into(), |m| m.size);
                Rect::new(0, 0, size.w, size.h)
            })
    }

    /// Where the content of `window` goes when it is maximized or snapped
    /// (`mode`): the usable area, or its half, less the frame.
    pub fn placement_area(&self, window: &Window, mode: Mode) -> Option<Rect> {
        let usable = self.usable_rect();
        let area = match mode {
            Mode::Maximized => usable,
            Mode::Snapped(side) => usable.half(side),
            Mode::Normal | Mode::Fullscreen => return None,
        };
        Some(maximized_content(area, decoration_of(window)))
    }

    /// Maximizes `window` (its frame fills the output) or brings it back.
    pub fn set_maximized(&mut self, window: &Window, on: bool) {
        let size = window.geometry().size;
        self.set_maximized_restoring(window, on, (size.w, size.h));
    }

    /// [`Self::set_maximized`], `restore` being the size the window gets
    /// back when it leaves (0×0: its own choice).
    fn set_maximized_restoring(&mut self, window: &Window, on: bool, restore: (i32, i32)) {
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        if on {
            let Some(area) = self.placement_area(window, Mode::Maximized) else {
                return;
            };
            self.layout
                .enter(window, Mode::Maximized, (area.x, area.y), restore);
            toplevel.with_pending_state(|s| {
                s.states.unset(ToplevelState::Fullscreen);
                set_tiled(s, false);
                s.states.set(ToplevelState::Maximized);
                s.size = Some(Size::from((area.w, area.h)));
            });
        } else {
            let restore = self.layout.leave(window);
            toplevel.with_pending_state(|s| {
                s.states.unset(ToplevelState::Maximized);
                s.size = restore.map(|r| Size::from(r.size));
            });
        }
        self.configure_and_refresh(&toplevel);
    }

    /// Makes `window` cover the output but for the label strip along its
    /// top edge, frame hidden, on top and focused; or brings it back.
    pub fn set_fullscreen(&mut self, window: &Window, on: bool) {
        let size = window.geometry().size;
        self.set_fullscreen_restoring(window, on, (size.w, size.h));
    }

    /// [`Self::set_fullscreen`], `restore` being the size the window gets
    /// back when it leaves (0×0: its own choice).
    fn set_fullscreen_restoring(&mut self, window: &Window, on: bool, restore: (i32, i32)) {
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        if on {
            // All the output but the owner's label strip along its top.
            let area = crate::frame::fullscreen_content(self.output_rect());
            self.layout
                .enter(window, Mode::Fullscreen, (area.x, area.y), restore);
            self.layout.focus(window);
            toplevel.with_pending_state(|s| {
                s.states.unset(ToplevelState::Maximized);
                set_tiled(s, false);
                s.states.set(ToplevelState::Fullscreen);
                s.size = Some(Size::from((area.w, area.h)));
            });
        } else {
            let restore = self.layout.leave(window);
            toplevel.with_pending_state(|s| {
                s.states.unset(ToplevelState::Fullscreen);
                s.size = restore.map(|r| Size::from(r.size));
            });
        }
        self.configure_and_refresh(&toplevel);
    }

    /// Fullscreen on or off for the focused window (Super+F).
    pub fn toggle_fullscreen_focused(&mut self) {
        let Some(window) = self.layout.focused().cloned() else {
            return;
        };
        let on = self.layout.mode(&window) != Some(Mode::Fullscreen);
        self.set_fullscreen(&window, on);
    }

    /// Fits `window` to the `side` half of the output, inside its frame,
    /// remembering where it was if it was normal.
    pub fn snap(&mut self, window: &Window, side: Side) {
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        let Some(area) = self.placement_area(window, Mode::Snapped(side)) else {
            return;
        };
        let size = window.geometry().size;
        self.layout.enter(
            window,
            Mode::Snapped(side),
            (area.x, area.y),
            (size.w, size.h),
        );
        toplevel.with_pending_state(|s| {
            s.states.unset(ToplevelState::Maximized);
            s.states.unset(ToplevelState::Fullscreen);
            set_tiled(s, true);
            s.size = Some(Size::from((area.w, area.h)));
        });
        self.configure_and_refresh(&toplevel);
    }

    /// Brings `window` back from maximized, snapped or fullscreen to where
    /// it was, at the size it had.
    pub fn unplace(&mut self, window: &Window) {
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        let restore = self.layout.leave(window);
        toplevel.with_pending_state(|s| {
            s.states.unset(ToplevelState::Maximized);
            s.states.unset(ToplevelState::Fullscreen);
            set_tiled(s, false);
            s.size = restore.map(|r| Size::from(r.size));
        });
        self.configure_and_refresh(&toplevel);
    }

    /// Super+Left / Super+Right: the focused window to that half of the
    /// output, or back where it was if it is there already.
    pub fn snap_focused(&mut self, side: Side) {
        let Some(window) = self.layout.focused().cloned() else {
            return;
        };
        if self.layout.mode(&window) == Some(Mode::Snapped(side)) {
            self.unplace(&window);
        } else {
            self.snap(&window, side);
        }
    }

    /// Super+Up: maximize the focused window, or bring it back.
    pub fn toggle_maximize_focused(&mut self) {
        let Some(window) = self.layout.focused().cloned() else {
            return;
        };
        if self.layout.mode(&window) == Some(Mode::Maximized) {
            self.unplace(&window);
        } else {
            self.set_maximized(&window, true);
        }
    }

    /// Super+M: hides the focused window; the focus goes to the window of
    /// the desktop used before it.
    pub fn minimize_focused(&mut self) {
        let Some(window) = self.layout.focused().cloned() else {
            return;
        };
        if !self.layout.minimize(&window) {
            return;
        }
        // Hidden windows are left out of `refresh_view`'s activation: it
        // is told here that it is no longer the active one.
        if window.set_activated(false) {
            if let Some(t) = window.toplevel() {
                t.send_pending_configure();
            }
        }
        self.refresh_view();
    }

    /// Super+Shift+M: brings back the window minimized last on the shown
    /// desktop, focused.
    pub fn restore_minimized(&mut self) {
        if self.layout.restore_minimized().is_some() {
            self.refresh_view();
        }
    }

    /// Alt+Tab / Alt+Shift+Tab: one step through the shown desktop's
    /// windows, most recently used first, the one chosen raised. The focus
    /// moves when the modifiers held now (but Shift, which turns the
    /// direction) are released: see [`State::key`]; at once if none is.
    pub fn cycle_windows(&mut self, forward: bool) {
        let held = self
            .seat
            .get_keyboard()
            .map(|k| k.modifier_state())
            .map(|m| Mods {
                logo: m.logo,
                ctrl: m.ctrl,
                alt: m.alt,
                shift: false,
            })
            .unwrap_or_default();
        if self.layout.cycle(forward).is_none() {
            return;
        }
        self.cycle_mods = held;
        if held == Mods::default() {
            self.end_window_cycle();
        } else {
            self.refresh_view();
        }
    }

    /// After a key event: ends a window switch whose modifiers are all
    /// released, focusing the window chosen.
    pub fn end_window_cycle_if_released(&mut self) {
        if !self.layout.is_cycling() {
            return;
        }
        let Some(now) = self.seat.get_keyboard().map(|k| k.modifier_state()) else {
            return;
        };
        let held = self.cycle_mods;
        let still = (held.logo && now.logo) || (held.ctrl && now.ctrl) || (held.alt && now.alt);
        if !still {
            self.end_window_cycle();
        }
    }

    /// Ends a window switch: the window chosen gets the focus.
    pub fn end_window_cycle(&mut self) {
        self.layout.end_cycle();
        self.refresh_view();
    }

    fn configure_and_refresh(&mut self, toplevel: &ToplevelSurface) {
        if toplevel.is_initial_configure_sent() {
            toplevel.send_pending_configure();
        }
        self.refresh_view();
    }

    /// A window that asked for maximized or fullscreen before it first drew
    /// is placed that way when it opens.
    pub fn apply_mode_on_map(&mut self, window: &Window) {
        let Some(toplevel) = window.toplevel() else {
            return;
        };
        // It has had no size of its own yet: leaving, it chooses one.
        let states = toplevel.with_pending_state(|s| s.states.clone());
        if states.contains(ToplevelState::Fullscreen) {
            self.set_fullscreen_restoring(window, true, (0, 0));
        } else if states.contains(ToplevelState::Maximized) {
            self.set_maximized_restoring(window, true, (0, 0));
        }
    }

    /// The window under the pointer on the shown desktop.
    fn window_under_pointer(&self) -> Option<(Window, Point<f64, Logical>)> {
        let pointer = self.seat.get_pointer()?;
        let location = pointer.current_location();
        // Through `window_under`: it finds X11 windows of an older
        // Xwayland too, which `Space::element_under` misses.
        self.window_under(location).map(|(w, _, _)| (w, location))
    }

    /// Super + left button moves, Super + right button resizes the window
    /// under the pointer. Returns whether a grab started (the click is then
    /// not the client's).
    pub fn begin_compositor_grab(&mut self, button: u32, serial: Serial) -> bool {
        let logo = self
            .seat
            .get_keyboard()
            .is_some_and(|k| k.modifier_state().logo);
        if !logo {
            return false;
        }
        let Some((window, location)) = self.window_under_pointer() else {
            return false;
        };
        let start = GrabStartData {
            focus: None,
            button,
            location,
        };
        match button {
            crate::input::BTN_LEFT => self.begin_move(window, start, serial),
            crate::input::BTN_RIGHT => {
                self.begin_resize(window, ResizeEdge::BottomRight, start, serial)
            }
            _ => false,
        }
    }

    /// A client's request to move its toplevel, from a click it got.
    pub fn move_request(&mut self, surface: &WlSurface, serial: Serial) {
        if let Some((window, start)) = self.client_grab_start(surface, serial) {
            self.begin_move(window, start, serial);
        }
    }

    /// A client's request to resize its toplevel from `edges`.
    pub fn resize_request(&mut self, surface: &WlSurface, serial: Serial, edges: ResizeEdge) {
        if let Some((window, start)) = self.client_grab_start(surface, serial) {
            self.begin_resize(window, edges, start, serial);
        }
    }

    /// The click a client's move or resize refers to, if the pointer is in
    /// that click's grab on one of the client's surfaces.
    fn client_grab_start(
        &self,
        surface: &WlSurface,
        serial: Serial,
    ) -> Option<(Window, GrabStartData<State>)> {
        let pointer = self.seat.get_pointer()?;
        if !pointer.has_grab(serial) {
            return None;
        }
        let start = pointer.grab_start_data()?;
        let (focus, _) = start.focus.as_ref()?;
        if !focus.id().same_client_as(&surface.id()) {
            return None;
        }
        let window = self.window_for_surface(surface)?;
        Some((window, start))
    }

    fn begin_move(&mut self, window: Window, start: GrabStartData<State>, serial: Serial) -> bool {
        if self.layout.mode(&window) != Some(Mode::Normal) {
            return false;
        }
        let Some(from) = self.layout.position(&window) else {
            return false;
        };
        let Some(pointer) = self.seat.get_pointer() else {
            return false;
        };
        if self.layout.focus(&window) {
            self.refresh_view();
        }
        pointer.set_grab(
            self,
            MoveGrab {
                start,
                window,
                from,
            },
            serial,
            Focus::Clear,
        );
        true
    }

    fn begin_resize(
        &mut self,
        window: Window,
        edges: ResizeEdge,
        start: GrabStartData<State>,
        serial: Serial,
    ) -> bool {
        if self.layout.mode(&window) != Some(Mode::Normal) {
            return false;
        }
        let Some(initial_pos) = self.layout.position(&window) else {
            return false;
        };
        let Some(pointer) = self.seat.get_pointer() else {
            return false;
        };
        let size = window.geometry().size;
        window.user_data().insert_if_missing(ResizeState::default);
        if let Some(state) = window.user_data().get::<ResizeState>() {
            *state.0.borrow_mut() = Some(Resizing {
                edges,
                initial_pos,
                initial_size: (size.w, size.h),
                ended: false,
            });
        }
        if self.layout.focus(&window) {
            self.refresh_view();
        }
        pointer.set_grab(
            self,
            ResizeGrab {
                start,
                window,
                edges,
                initial_size: (size.w, size.h),
            },
            serial,
            Focus::Clear,
        );
        true
    }

    /// After a commit: a window being resized from its left or top edge
    /// moves so that its opposite edges stay put.
    pub fn follow_resize(&mut self, surface: &WlSurface) {
        let Some(window) = self.window_for_surface(surface) else {
            return;
        };
        let Some(state) = window.user_data().get::<ResizeState>() else {
            return;
        };
        let Some(resizing) = *state.0.borrow() else {
            return;
        };
        let size = window.geometry().size;
        let pos = resized_position(
            resizing.initial_pos,
            resizing.initial_size,
            resizing.edges,
            (size.w, size.h),
        );
        let still = window
            .toplevel()
            .is_some_and(|t| t.current_state().states.contains(ToplevelState::Resizing));
        if resizing.ended && !still {
            *state.0.borrow_mut() = None;
        }
        if self.layout.position(&window) != Some(pos) {
            self.layout.move_to(&window, pos);
            self.refresh_view();
        }
    }
}

/// Marks (or unmarks) a toplevel as tiled on every edge: a snapped window
/// meets the output's edges and the other half, so it draws no shadows.
fn set_tiled(s: &mut PendingState, on: bool) {
    for edge in [
        ToplevelState::TiledLeft,
        ToplevelState::TiledRight,
        ToplevelState::TiledTop,
        ToplevelState::TiledBottom,
    ] {
        if on {
            s.states.set(edge);
        } else {
            s.states.unset(edge);
        }
    }
}

/// Moving a window with the pointer.
struct MoveGrab {
    start: GrabStartData<State>,
    window: Window,
    from: (i32, i32),
}

/// Resizing a window with the pointer.
struct ResizeGrab {
    start: GrabStartData<State>,
    window: Window,
    edges: ResizeEdge,
    initial_size: (i32, i32),
}

fn delta(start: &GrabStartData<State>, event: &MotionEvent) -> (i32, i32) {
    let d = event.location - start.location;
    (d.x.round() as i32, d.y.round() as i32)
}

/// The parts of a grab that only pass events on.
macro_rules! forward_the_rest {
    () => {
        fn relative_motion(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            _focus: Option<(WlSurface, Point<f64, Logical>)>,
            event: &RelativeMotionEvent,
        ) {
            handle.relative_motion(data, None, event);
        }

        fn axis(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            details: AxisFrame,
        ) {
            handle.axis(data, details);
        }

        fn frame(&mut self, data: &mut State, handle: &mut PointerInnerHandle<'_, State>) {
            handle.frame(data);
        }

        fn gesture_swipe_begin(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            event: &GestureSwipeBeginEvent,
        ) {
            handle.gesture_swipe_begin(data, event);
        }

        fn gesture_swipe_update(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            event: &GestureSwipeUpdateEvent,
        ) {
            handle.gesture_swipe_update(data, event);
        }

        fn gesture_swipe_end(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            event: &GestureSwipeEndEvent,
        ) {
            handle.gesture_swipe_end(data, event);
        }

        fn gesture_pinch_begin(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            event: &GesturePinchBeginEvent,
        ) {
            handle.gesture_pinch_begin(data, event);
        }

        fn gesture_pinch_update(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            event: &GesturePinchUpdateEvent,
        ) {
            handle.gesture_pinch_update(data, event);
        }

        fn gesture_pinch_end(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            event: &GesturePinchEndEvent,
        ) {
            handle.gesture_pinch_end(data, event);
        }

        fn gesture_hold_begin(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            event: &GestureHoldBeginEvent,
        ) {
            handle.gesture_hold_begin(data, event);
        }

        fn gesture_hold_end(
            &mut self,
            data: &mut State,
            handle: &mut PointerInnerHandle<'_, State>,
            event: &GestureHoldEndEvent,
        ) {
            handle.gesture_hold_end(data, event);
        }

        fn start_data(&self) -> &GrabStartData<State> {
            &self.start
        }
    };
}

impl PointerGrab<State> for MoveGrab {
    fn motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        _focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &MotionEvent,
    ) {
        // No client has the pointer while a window moves.
        handle.motion(data, None, event);
        let (dx, dy) = delta(&self.start, event);
        if data
            .layout
            .move_to(&self.window, (self.from.0 + dx, self.from.1 + dy))
        {
            data.refresh_view();
        }
    }

    fn button(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &ButtonEvent,
    ) {
        handle.button(data, event);
        if handle.current_pressed().is_empty() {
            handle.unset_grab(self, data, event.serial, event.time, true);
        }
    }

    forward_the_rest!();

    fn unset(&mut self, _data: &mut State) {}
}

impl PointerGrab<State> for ResizeGrab {
    fn motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        _focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &MotionEvent,
    ) {
        handle.motion(data, None, event);
        let size = resized(self.initial_size, self.edges, delta(&self.start, event));
        if let Some(toplevel) = self.window.toplevel() {
            toplevel.with_pending_state(|s| {
                s.states.set(ToplevelState::Resizing);
                s.size = Some(Size::from(size));
            });
            toplevel.send_pending_configure();
        }
    }

    fn button(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &ButtonEvent,
    ) {
        handle.button(data, event);
        if handle.current_pressed().is_empty() {
            handle.unset_grab(self, data, event.serial, event.time, true);
        }
    }

    forward_the_rest!();

    fn unset(&mut self, _data: &mut State) {
        if let Some(toplevel) = self.window.toplevel() {
            toplevel.with_pending_state(|s| s.states.unset(ToplevelState::Resizing));
            toplevel.send_pending_configure();
        }
        if let Some(state) = self.window.user_data().get::<ResizeState>() {
            if let Some(r) = state.0.borrow_mut().as_mut() {
                r.ended = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_from_an_edge_changes_only_that_edge() {
        let initial = (400, 300);
        let pos = (100, 100);
        let size = resized(initial, ResizeEdge::BottomRight, (50, -20));
        assert_eq!(size, (450, 280));
        assert_eq!(
            resized_position(pos, initial, ResizeEdge::BottomRight, size),
            pos
        );

        let size = resized(initial, ResizeEdge::TopLeft, (50, -20));
        assert_eq!(size, (350, 320));
        // The right and bottom edges stay where they were.
        let p = resized_position(pos, initial, ResizeEdge::TopLeft, size);
        assert_eq!((p.0 + size.0, p.1 + size.1), (pos.0 + 400, pos.1 + 300));

        assert_eq!(resized(initial, ResizeEdge::Top, (999, 0)), (400, 300));
        assert_eq!(resized(initial, ResizeEdge::Left, (5000, 0)).0, MIN_SIZE);
    }
}

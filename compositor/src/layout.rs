//! Desktops as plain values: one desktop per profile, which windows are on
//! which desktop, where they sit, stacking, focus and switching. No Wayland
//! types here, so every rule can be tested with integers.
//!
//! The rules this module keeps (checked after every operation by the
//! property tests below):
//! - a window is on exactly one desktop, the one it opened on, for its life;
//! - a desktop's remembered focus is one of its own windows, and it is empty
//!   only when the desktop has no window;
//! - the effective focus is the active desktop's, so it never lands on a
//!   hidden desktop;
//! - a minimized window is neither shown nor focused, and stays on its
//!   desktop;
//! - each desktop keeps its windows in the order they were last used, and
//!   focus falls back along that order.

/// A rectangle in logical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
}

impl Rect {
    /// A rectangle from its corner and size.
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect { x, y, w, h }
    }

    /// Whether the point lies inside.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w && y < self.y + self.h
    }
}

/// How a window is sized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Where the user or the cascade put it, at the size it chose.
    #[default]
    Normal,
    /// Filling the output inside its frame.
    Maximized,
    /// Covering the whole output, frame hidden.
    Fullscreen,
    /// Filling one half of the output inside its frame.
    Snapped(Side),
}

/// A half of the output a window snaps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The left half.
    Left,
    /// The right half.
    Right,
}

impl Rect {
    /// The `side` half of this rectangle (the left one gets the odd pixel).
    pub fn half(&self, side: Side) -> Rect {
        let left = self.w - self.w / 2;
        match side {
            Side::Left => Rect::new(self.x, self.y, left, self.h),
            Side::Right => Rect::new(self.x + left, self.y, self.w - left, self.h),
        }
    }
}

/// Where a window goes back to when it leaves maximized or fullscreen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restore {
    /// Its content position before.
    pub pos: (i32, i32),
    /// Its content size before.
    pub size: (i32, i32),
}

/// A window on a desktop and where its content's top-left corner sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed<W> {
    /// The window.
    pub window: W,
    /// Content position (x, y), frame excluded.
    pub pos: (i32, i32),
    /// How it is sized.
    pub mode: Mode,
    /// Where it was before it left [`Mode::Normal`].
    pub restore: Option<Restore>,
}

/// One profile's desktop.
#[derive(Debug, Clone)]
pub struct Desktop<W> {
    /// The profile's name.
    pub name: String,
    /// Windows shown, from bottom to top.
    windows: Vec<Placed<W>>,
    /// Windows minimized, the last minimized last.
    minimized: Vec<Placed<W>>,
    /// Every window of the desktop (shown or minimized), the most recently
    /// used first.
    recent: Vec<W>,
    /// The window that has focus whenever this desktop is shown.
    focus: Option<W>,
}

impl<W: Clone + PartialEq> Desktop<W> {
    /// Windows shown, from bottom to top.
    pub fn windows(&self) -> &[Placed<W>] {
        &self.windows
    }

    /// Windows minimized, the last minimized last.
    pub fn minimized(&self) -> &[Placed<W>] {
        &self.minimized
    }

    /// Every window, shown or minimized.
    pub fn all(&self) -> impl Iterator<Item = &Placed<W>> {
        self.windows.iter().chain(&self.minimized)
    }

    /// Every window (shown or minimized), the most recently used first.
    pub fn recent(&self) -> &[W] {
        &self.recent
    }

    fn holds(&self, w: &W) -> bool {
        self.recent.contains(w)
    }

    /// Puts `w` first in the order of use.
    fn used(&mut self, w: &W) {
        self.recent.retain(|r| r != w);
        self.recent.insert(0, w.clone());
    }

    /// The most recently used window shown: where focus falls back to.
    fn last_used_shown(&self) -> Option<W> {
        self.recent
            .iter()
            .find(|r| self.index_of(r).is_some())
            .cloned()
    }

    /// Puts the shown windows in the stacking order `order` (bottom to
    /// top); windows it does not name stay above, in their order.
    fn restack(&mut self, order: &[W]) {
        let mut rest = std::mem::take(&mut self.windows);
        let mut stacked = Vec::with_capacity(rest.len());
        for w in order {
            if let Some(i) = rest.iter().position(|p| &p.window == w) {
                stacked.push(rest.remove(i));
            }
        }
        stacked.extend(rest);
        self.windows = stacked;
    }

    /// The window focused when this desktop is shown.
    pub fn focus(&self) -> Option<&W> {
        self.focus.as_ref()
    }

    fn index_of(&self, w: &W) -> Option<usize> {
        self.windows.iter().position(|p| &p.window == w)
    }

    fn raise(&mut self, i: usize) {
        let placed = self.windows.remove(i);
        self.windows.push(placed);
    }
}

/// A window switch in progress (Alt+Tab held): the shown desktop's
/// windows in their order of use when it began, the one chosen so far
/// (raised, not yet focused) and the stacking to go back to.
#[derive(Debug, Clone)]
struct Cycle<W> {
    desktop: usize,
    order: Vec<W>,
    chosen: usize,
    stacking: Vec<W>,
}

/// All desktops and which one is shown.
#[derive(Debug, Clone)]
pub struct Layout<W> {
    desktops: Vec<Desktop<W>>,
    active: usize,
    cycle: Option<Cycle<W>>,
    /// Where cascading starts and how far each new window steps.
    cascade_origin: (i32, i32),
    /// While set (the user holds Super), fullscreen windows show their
    /// frame too: a game covering the screen cannot hide which profile it
    /// belongs to.
    pub reveal_frames: bool,
}

/// How far each new window is offset from the previous one on its desktop.
pub const CASCADE_STEP: i32 = 32;

impl<W: Clone + PartialEq> Layout<W> {
    /// One empty desktop per name, in order; the first is active. With no
    /// names at all there is a single desktop called `host`.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Layout<W> {
        let mut desktops: Vec<Desktop<W>> = names
            .into_iter()
            .map(|n| Desktop {
                name: n.into(),
                windows: Vec::new(),
                minimized: Vec::new(),
                recent: Vec::new(),
                focus: None,
            })
            .collect();
        if desktops.is_empty() {
            desktops.push(Desktop {
                name: "host".into(),
                windows: Vec::new(),
                minimized: Vec::new(),
                recent: Vec::new(),
                focus: None,
            });
        }
        Layout {
            desktops,
            active: 0,
            cycle: None,
            cascade_origin: (48, 64),
            reveal_frames: false,
        }
    }

    /// Sets where the first window of a desktop is placed.
    pub fn set_cascade_origin(&mut self, origin: (i32, i32)) {
        self.cascade_origin = origin;
    }

    /// All desktops, in order.
    pub fn desktops(&self) -> &[Desktop<W>] {
        &self.desktops
    }

    /// The index of the desktop shown.
    pub fn active(&self) -> usize {
        self.active
    }

    /// The desktop shown.
    pub fn active_desktop(&self) -> &Desktop<W> {
        &self.desktops[self.active]
    }

    /// The index of the desktop called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.desktops.iter().position(|d| d.name == name)
    }

    /// Which desktop holds `w` (shown or minimized).
    pub fn desktop_of(&self, w: &W) -> Option<usize> {
        self.desktops.iter().position(|d| d.holds(w))
    }

    /// Whether `w` is minimized.
    pub fn is_minimized(&self, w: &W) -> bool {
        self.desktops
            .iter()
            .any(|d| d.minimized.iter().any(|p| &p.window == w))
    }

    /// Whether `w` is on the desktop shown (minimized or not).
    pub fn is_visible(&self, w: &W) -> bool {
        self.desktop_of(w) == Some(self.active)
    }

    /// Windows of the desktop shown, bottom to top.
    pub fn visible(&self) -> &[Placed<W>] {
        &self.desktops[self.active].windows
    }

    /// The window with keyboard focus: always on the desktop shown.
    pub fn focused(&self) -> Option<&W> {
        self.desktops[self.active].focus.as_ref()
    }

    /// Opens `w` on desktop `desktop` (on top, focused there) at the next
    /// cascade position; returns the position, or `None` if there is no such
    /// desktop or `w` is already open.
    pub fn open(&mut self, desktop: usize, w: W) -> Option<(i32, i32)> {
        if desktop >= self.desktops.len() || self.desktop_of(&w).is_some() {
            return None;
        }
        let d = &mut self.desktops[desktop];
        // Cascade from the origin, wrapping after eight steps so windows stay
        // on a small output.
        let k = (d.windows.len() % 8) as i32;
        let pos = (
            self.cascade_origin.0 + k * CASCADE_STEP,
            self.cascade_origin.1 + k * CASCADE_STEP,
        );
        d.windows.push(Placed {
            window: w.clone(),
            pos,
            mode: Mode::Normal,
            restore: None,
        });
        d.used(&w);
        d.focus = Some(w);
        Some(pos)
    }

    /// Opens `w` on desktop `desktop` on top at `pos`, leaving focus where
    /// it was: for windows that place themselves (X11 menus and tooltips).
    /// Returns whether it opened.
    pub fn open_at(&mut self, desktop: usize, w: W, pos: (i32, i32)) -> bool {
        if desktop >= self.desktops.len() || self.desktop_of(&w).is_some() {
            return false;
        }
        let d = &mut self.desktops[desktop];
        // Never used: last in the order of use.
        d.recent.push(w.clone());
        d.windows.push(Placed {
            window: w,
            pos,
            mode: Mode::Normal,
            restore: None,
        });
        true
    }

    /// Closes `w`; its desktop's focus falls to the window shown there
    /// that was used last. Returns whether it was open.
    pub fn close(&mut self, w: &W) -> bool {
        let Some(di) = self.desktop_of(w) else {
            return false;
        };
        let d = &mut self.desktops[di];
        d.windows.retain(|p| &p.window != w);
        d.minimized.retain(|p| &p.window != w);
        d.recent.retain(|r| r != w);
        if d.focus.as_ref() == Some(w) {
            d.focus = d.last_used_shown();
        }
        if let Some(cycle) = &mut self.cycle {
            cycle.stacking.retain(|s| s != w);
        }
        true
    }

    /// Focuses and raises `w` if it is on the desktop shown (bringing it
    /// back if minimized); a window on a hidden desktop is refused.
    /// Returns whether focus moved to it.
    pub fn focus(&mut self, w: &W) -> bool {
        let d = &mut self.desktops[self.active];
        if let Some(i) = d.minimized.iter().position(|p| &p.window == w) {
            let placed = d.minimized.remove(i);
            d.windows.push(placed);
        }
        match d.index_of(w) {
            Some(i) => {
                d.raise(i);
                d.used(w);
                d.focus = Some(w.clone());
                true
            }
            None => false,
        }
    }

    /// Minimizes `w` if it is shown on the desktop shown: hidden, last in
    /// the order of use; the focus falls to the window used last. Returns
    /// whether it was minimized.
    pub fn minimize(&mut self, w: &W) -> bool {
        let d = &mut self.desktops[self.active];
        let Some(i) = d.index_of(w) else {
            return false;
        };
        let placed = d.windows.remove(i);
        d.minimized.push(placed);
        d.recent.retain(|r| r != w);
        d.recent.push(w.clone());
        if d.focus.as_ref() == Some(w) {
            d.focus = d.last_used_shown();
        }
        true
    }

    /// Brings back the window minimized last on the desktop shown, on top
    /// and focused; returns it.
    pub fn restore_minimized(&mut self) -> Option<W> {
        let w = self.desktops[self.active].minimized.last()?.window.clone();
        self.focus(&w);
        Some(w)
    }

    /// One step of a window switch on the desktop shown (`forward`: to
    /// windows used less recently), starting one if none is under way: the
    /// window chosen is raised, focus stays until [`Layout::end_cycle`].
    /// Returns the window chosen; `None` with fewer than two windows.
    pub fn cycle(&mut self, forward: bool) -> Option<W> {
        let active = self.active;
        if self.cycle.as_ref().is_some_and(|c| c.desktop != active) {
            self.cancel_cycle();
        }
        let d = &self.desktops[active];
        let cycle = self.cycle.get_or_insert_with(|| Cycle {
            desktop: active,
            order: d.recent.clone(),
            chosen: 0,
            stacking: d.windows.iter().map(|p| p.window.clone()).collect(),
        });
        // Windows closed since it began are passed over.
        let d = &mut self.desktops[active];
        let chosen = cycle.order.get(cycle.chosen).cloned();
        cycle.order.retain(|w| d.holds(w));
        cycle.chosen = chosen
            .and_then(|c| cycle.order.iter().position(|w| *w == c))
            .unwrap_or(0);
        let n = cycle.order.len();
        if n < 2 {
            self.cancel_cycle();
            return None;
        }
        cycle.chosen = if forward {
            (cycle.chosen + 1) % n
        } else {
            (cycle.chosen + n - 1) % n
        };
        let w = cycle.order[cycle.chosen].clone();
        d.restack(&cycle.stacking);
        if let Some(i) = d.index_of(&w) {
            d.raise(i);
        }
        Some(w)
    }

    /// Whether a window switch is under way.
    pub fn is_cycling(&self) -> bool {
        self.cycle.is_some()
    }

    /// Ends a window switch: the stacking is as before it, and the window
    /// chosen gets the focus (and comes back if minimized). Returns it.
    pub fn end_cycle(&mut self) -> Option<W> {
        let cycle = self.cycle.take()?;
        if cycle.desktop != self.active {
            return None;
        }
        self.desktops[cycle.desktop].restack(&cycle.stacking);
        let w = cycle.order.get(cycle.chosen)?.clone();
        self.focus(&w).then_some(w)
    }

    /// Drops a window switch: stacking and focus as before it.
    pub fn cancel_cycle(&mut self) {
        if let Some(cycle) = self.cycle.take() {
            self.desktops[cycle.desktop].restack(&cycle.stacking);
        }
    }

    /// Moves `w` to `pos` on its own desktop (a window never changes desktop).
    pub fn move_to(&mut self, w: &W, pos: (i32, i32)) -> bool {
        match self.placed_mut(w) {
            Some(p) => {
                p.pos = pos;
                true
            }
            None => false,
        }
    }

    /// How `w` is sized.
    pub fn mode(&self, w: &W) -> Option<Mode> {
        self.placed(w).map(|p| p.mode)
    }

    fn placed(&self, w: &W) -> Option<&Placed<W>> {
        self.desktops
            .iter()
            .find_map(|d| d.all().find(|p| &p.window == w))
    }

    fn placed_mut(&mut self, w: &W) -> Option<&mut Placed<W>> {
        self.desktops.iter_mut().find_map(|d| {
            d.windows
                .iter_mut()
                .chain(d.minimized.iter_mut())
                .find(|p| &p.window == w)
        })
    }

    /// Maximizes or fullscreens `w` with its content at `pos`, remembering
    /// where it was (of size `size`) if it was normal. Returns whether it is open.
    pub fn enter(&mut self, w: &W, mode: Mode, pos: (i32, i32), size: (i32, i32)) -> bool {
        let Some(p) = self.placed_mut(w) else {
            return false;
        };
        if p.mode == Mode::Normal {
            p.restore = Some(Restore { pos: p.pos, size });
        }
        p.mode = mode;
        p.pos = pos;
        true
    }

    /// Brings `w` back to normal where it was; returns where that is, if it
    /// was maximized or fullscreen.
    pub fn leave(&mut self, w: &W) -> Option<Restore> {
        let p = self.placed_mut(w)?;
        if p.mode == Mode::Normal {
            return None;
        }
        p.mode = Mode::Normal;
        let restore = p.restore.take()?;
        p.pos = restore.pos;
        Some(restore)
    }

    /// Where `w`'s content sits.
    pub fn position(&self, w: &W) -> Option<(i32, i32)> {
        self.placed(w).map(|p| p.pos)
    }

    /// Shows desktop `i`; returns whether the shown desktop changed. A
    /// window switch under way is dropped.
    pub fn switch_to(&mut self, i: usize) -> bool {
        if i >= self.desktops.len() || i == self.active {
            return false;
        }
        self.cancel_cycle();
        self.active = i;
        true
    }

    /// Shows the next desktop, wrapping around.
    pub fn switch_next(&mut self) -> bool {
        let n = self.desktops.len();
        self.switch_to((self.active + 1) % n)
    }

    /// Shows the previous desktop, wrapping around.
    pub fn switch_previous(&mut self) -> bool {
        let n = self.desktops.len();
        self.switch_to((self.active + n - 1) % n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn three() -> Layout<u32> {
        Layout::new(["work", "gaming", "personal"])
    }

    #[test]
    fn desktops_follow_config_order_and_first_is_shown() {
        let l = three();
        let names: Vec<&str> = l.desktops().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["work", "gaming", "personal"]);
        assert_eq!(l.active(), 0);
        assert_eq!(l.index_of("personal"), Some(2));
    }

    #[test]
    fn window_opened_on_hidden_desktop_does_not_take_focus() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.open(2, 2).unwrap();
        assert_eq!(l.focused(), Some(&1));
        assert!(!l.is_visible(&2));
        assert_eq!(l.visible().len(), 1);
        l.switch_to(2);
        assert_eq!(l.focused(), Some(&2));
        assert_eq!(l.visible()[0].window, 2);
    }

    #[test]
    fn focusing_a_window_on_a_hidden_desktop_is_refused() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.open(1, 2).unwrap();
        assert!(!l.focus(&2));
        assert_eq!(l.focused(), Some(&1));
    }

    #[test]
    fn switching_back_restores_each_desktops_focus() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.open(0, 2).unwrap();
        l.focus(&1);
        l.open(1, 3).unwrap();
        l.switch_to(1);
        assert_eq!(l.focused(), Some(&3));
        l.switch_to(0);
        assert_eq!(l.focused(), Some(&1));
        assert_eq!(l.visible().last().map(|p| p.window), Some(1));
    }

    #[test]
    fn closing_the_focused_window_focuses_the_topmost_left() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.open(0, 2).unwrap();
        l.open(0, 3).unwrap();
        l.focus(&2);
        assert!(l.close(&2));
        assert_eq!(l.focused(), Some(&3));
        assert!(!l.close(&2));
    }

    #[test]
    fn next_and_previous_wrap_around() {
        let mut l = three();
        assert!(l.switch_previous());
        assert_eq!(l.active(), 2);
        assert!(l.switch_next());
        assert_eq!(l.active(), 0);
        assert!(!l.switch_to(7));
        assert!(!l.switch_to(0));
    }

    #[test]
    fn new_windows_cascade_on_their_desktop() {
        let mut l = three();
        let a = l.open(1, 1).unwrap();
        let b = l.open(1, 2).unwrap();
        let c = l.open(0, 3).unwrap();
        assert_eq!(b.0 - a.0, CASCADE_STEP);
        assert_eq!(a, c);
        assert_eq!(l.open(1, 1), None, "a window opens once");
        assert_eq!(l.open(9, 4), None, "no such desktop");
    }

    #[test]
    fn leaving_maximized_or_fullscreen_goes_back_where_it_was() {
        let mut l = three();
        let start = l.open(0, 1).unwrap();
        assert_eq!(l.mode(&1), Some(Mode::Normal));
        assert!(l.enter(&1, Mode::Maximized, (4, 32), (800, 600)));
        assert_eq!(l.position(&1), Some((4, 32)));
        // Maximized, then fullscreen: leaving returns to the first place.
        assert!(l.enter(&1, Mode::Fullscreen, (0, 0), (792, 564)));
        assert_eq!(l.mode(&1), Some(Mode::Fullscreen));
        assert_eq!(
            l.leave(&1),
            Some(Restore {
                pos: start,
                size: (800, 600)
            })
        );
        assert_eq!(l.position(&1), Some(start));
        assert_eq!(l.mode(&1), Some(Mode::Normal));
        assert_eq!(l.leave(&1), None, "already normal");
        assert!(
            !l.enter(&9, Mode::Maximized, (0, 0), (1, 1)),
            "no such window"
        );
    }

    #[test]
    fn closing_the_focused_window_focuses_the_one_used_last() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.open(0, 2).unwrap();
        l.open(0, 3).unwrap();
        l.focus(&1);
        l.focus(&3);
        // 1 was used after 2, though 2 opened later.
        assert!(l.close(&3));
        assert_eq!(l.focused(), Some(&1));
    }

    #[test]
    fn minimized_windows_are_hidden_and_come_back_last_first() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.open(0, 2).unwrap();
        l.open(0, 3).unwrap();
        assert!(l.minimize(&3));
        assert_eq!(l.focused(), Some(&2));
        assert!(l.minimize(&1));
        assert_eq!(l.focused(), Some(&2));
        let shown: Vec<u32> = l.visible().iter().map(|p| p.window).collect();
        assert_eq!(shown, [2]);
        assert!(l.is_minimized(&1));
        assert_eq!(l.desktop_of(&1), Some(0), "still on its desktop");
        assert_eq!(l.restore_minimized(), Some(1));
        assert_eq!(l.focused(), Some(&1));
        assert_eq!(l.visible().last().map(|p| p.window), Some(1));
        assert_eq!(l.restore_minimized(), Some(3));
        assert_eq!(l.restore_minimized(), None);
        // Only the shown desktop's windows are minimized.
        l.open(1, 4).unwrap();
        assert!(!l.minimize(&4));
        assert!(!l.is_minimized(&4));
    }

    #[test]
    fn the_last_window_minimized_leaves_no_focus_until_one_comes_back() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.minimize(&1);
        assert_eq!(l.focused(), None);
        assert!(l.focus(&1), "focusing a minimized window brings it back");
        assert!(!l.is_minimized(&1));
        assert_eq!(l.focused(), Some(&1));
    }

    #[test]
    fn a_window_switch_goes_by_use_and_focuses_only_when_it_ends() {
        let mut l = three();
        for w in 1..=4 {
            l.open(0, w).unwrap();
        }
        l.focus(&2);
        // Used: 2, 4, 3, 1. Stacked: 1, 3, 4, 2.
        assert_eq!(l.cycle(true), Some(4));
        assert_eq!(l.focused(), Some(&2), "no focus while switching");
        assert_eq!(l.visible().last().map(|p| p.window), Some(4), "raised");
        assert_eq!(l.cycle(true), Some(3));
        assert_eq!(l.cycle(false), Some(4));
        assert_eq!(l.cycle(false), Some(2));
        assert_eq!(l.cycle(false), Some(1), "wraps around");
        assert_eq!(l.end_cycle(), Some(1));
        assert_eq!(l.focused(), Some(&1));
        let stack: Vec<u32> = l.visible().iter().map(|p| p.window).collect();
        assert_eq!(stack, [3, 4, 2, 1], "only the chosen one moved");
        // Once more: back to the window used before.
        assert_eq!(l.cycle(true), Some(2));
        assert_eq!(l.end_cycle(), Some(2));
        assert!(!l.is_cycling());
    }

    #[test]
    fn a_window_switch_never_leaves_the_shown_desktop() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.open(1, 2).unwrap();
        l.open(1, 3).unwrap();
        assert_eq!(l.cycle(true), None, "one window: nothing to switch to");
        assert_eq!(l.focused(), Some(&1));
        l.switch_to(1);
        assert_eq!(l.cycle(true), Some(2));
        // A desktop switch drops it.
        l.switch_to(0);
        assert!(!l.is_cycling());
        assert_eq!(l.end_cycle(), None);
        assert_eq!(l.focused(), Some(&1));
        assert_eq!(l.desktops()[1].focus(), Some(&3));
    }

    #[test]
    fn a_window_switch_brings_a_minimized_window_back() {
        let mut l = three();
        l.open(0, 1).unwrap();
        l.open(0, 2).unwrap();
        l.minimize(&1);
        assert_eq!(l.cycle(true), Some(1));
        assert_eq!(l.end_cycle(), Some(1));
        assert!(!l.is_minimized(&1));
        assert_eq!(l.focused(), Some(&1));
    }

    #[test]
    fn halves_split_a_rectangle_without_overlap() {
        let r = Rect::new(10, 20, 801, 600);
        let (a, b) = (r.half(Side::Left), r.half(Side::Right));
        assert_eq!(a, Rect::new(10, 20, 401, 600));
        assert_eq!(b, Rect::new(411, 20, 400, 600));
    }

    #[test]
    fn no_profiles_still_gives_one_desktop() {
        let l: Layout<u32> = Layout::new(Vec::<String>::new());
        assert_eq!(l.desktops().len(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Open(usize, u8),
        Close(u8),
        Focus(u8),
        Move(u8, i32, i32),
        Enter(u8, bool),
        Leave(u8),
        Switch(usize),
        Next,
        Previous,
        Minimize(u8),
        Restore,
        Cycle(bool),
        EndCycle,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0usize..4, 0u8..12).prop_map(|(d, w)| Op::Open(d, w)),
            (0u8..12).prop_map(Op::Close),
            (0u8..12).prop_map(Op::Focus),
            (0u8..12, -50i32..2000, -50i32..2000).prop_map(|(w, x, y)| Op::Move(w, x, y)),
            (0u8..12, any::<bool>()).prop_map(|(w, f)| Op::Enter(w, f)),
            (0u8..12).prop_map(Op::Leave),
            (0usize..4).prop_map(Op::Switch),
            Just(Op::Next),
            Just(Op::Previous),
            (0u8..12).prop_map(Op::Minimize),
            Just(Op::Restore),
            any::<bool>().prop_map(Op::Cycle),
            Just(Op::EndCycle),
        ]
    }

    fn check(l: &Layout<u8>, home: &std::collections::HashMap<u8, usize>) {
        let mut seen = std::collections::HashSet::new();
        for (i, d) in l.desktops().iter().enumerate() {
            for p in d.all() {
                assert!(seen.insert(p.window), "window on two desktops");
                assert_eq!(home.get(&p.window), Some(&i), "window changed desktop");
            }
            let mut used: Vec<u8> = d.recent().to_vec();
            let mut held: Vec<u8> = d.all().map(|p| p.window).collect();
            used.sort_unstable();
            held.sort_unstable();
            assert_eq!(used, held, "the order of use holds each window once");
            match d.focus() {
                Some(f) => {
                    assert!(d.windows().iter().any(|p| &p.window == f));
                    let first_shown = d
                        .recent()
                        .iter()
                        .find(|w| d.windows().iter().any(|p| &p.window == *w));
                    assert_eq!(first_shown, Some(f), "focus is the shown window used last");
                }
                None => assert!(d.windows().is_empty()),
            }
        }
        assert_eq!(seen.len(), home.len());
        if let Some(f) = l.focused() {
            assert!(l.is_visible(f), "focus on a hidden desktop");
        }
        assert!(l.active() < l.desktops().len());
    }

    proptest! {
        #[test]
        fn invariants_hold_after_every_operation(ops in proptest::collection::vec(op(), 0..60)) {
            let mut l: Layout<u8> = Layout::new(["work", "gaming", "personal"]);
            let mut home = std::collections::HashMap::new();
            for o in ops {
                match o {
                    Op::Open(d, w) => {
                        if l.open(d, w).is_some() {
                            home.insert(w, d);
                        }
                    }
                    Op::Close(w) => {
                        if l.close(&w) {
                            home.remove(&w);
                        }
                    }
                    Op::Focus(w) => {
                        let was_visible = l.is_visible(&w);
                        prop_assert_eq!(l.focus(&w), was_visible);
                    }
                    Op::Move(w, x, y) => {
                        l.move_to(&w, (x, y));
                    }
                    Op::Enter(w, fullscreen) => {
                        let mode = if fullscreen { Mode::Fullscreen } else { Mode::Maximized };
                        let before = l.position(&w);
                        l.enter(&w, mode, (0, 0), (10, 10));
                        if before.is_some() {
                            prop_assert_eq!(l.mode(&w), Some(mode));
                        }
                    }
                    Op::Leave(w) => {
                        l.leave(&w);
                        prop_assert_ne!(l.mode(&w), Some(Mode::Fullscreen));
                        prop_assert_ne!(l.mode(&w), Some(Mode::Maximized));
                    }
                    Op::Switch(d) => {
                        l.switch_to(d);
                    }
                    Op::Next => {
                        l.switch_next();
                    }
                    Op::Previous => {
                        l.switch_previous();
                    }
                    Op::Minimize(w) => {
                        let shown = l.is_visible(&w) && !l.is_minimized(&w);
                        prop_assert_eq!(l.minimize(&w), shown);
                        if shown {
                            prop_assert_ne!(l.focused(), Some(&w));
                        }
                    }
                    Op::Restore => {
                        if let Some(w) = l.restore_minimized() {
                            prop_assert_eq!(l.focused(), Some(&w));
                        }
                    }
                    Op::Cycle(forward) => {
                        let before = l.focused().copied();
                        if let Some(w) = l.cycle(forward) {
                            prop_assert!(l.is_visible(&w), "a switch stays on the shown desktop");
                        }
                        prop_assert_eq!(l.focused().copied(), before);
                    }
                    Op::EndCycle => {
                        if let Some(w) = l.end_cycle() {
                            prop_assert_eq!(l.focused(), Some(&w));
                        }
                    }
                }
                check(&l, &home);
            }
        }
    }
}

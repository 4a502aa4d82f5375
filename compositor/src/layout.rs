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
//!   hidden desktop.

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
    /// Windows from bottom to top.
    windows: Vec<Placed<W>>,
    /// The window that has focus whenever this desktop is shown.
    focus: Option<W>,
}

impl<W: Clone + PartialEq> Desktop<W> {
    /// Windows from bottom to top.
    pub fn windows(&self) -> &[Placed<W>] {
        &self.windows
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

/// All desktops and which one is shown.
#[derive(Debug, Clone)]
pub struct Layout<W> {
    desktops: Vec<Desktop<W>>,
    active: usize,
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
                focus: None,
            })
            .collect();
        if desktops.is_empty() {
            desktops.push(Desktop {
                name: "host".into(),
                windows: Vec::new(),
                focus: None,
            });
        }
        Layout {
            desktops,
            active: 0,
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

    /// Which desktop holds `w`.
    pub fn desktop_of(&self, w: &W) -> Option<usize> {
        self.desktops.iter().position(|d| d.index_of(w).is_some())
    }

    /// Whether `w` is on the desktop shown.
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
        self.desktops[desktop].windows.push(Placed {
            window: w,
            pos,
            mode: Mode::Normal,
            restore: None,
        });
        true
    }

    /// Closes `w`; its desktop's focus falls to the topmost window left.
    /// Returns whether it was open.
    pub fn close(&mut self, w: &W) -> bool {
        let Some(di) = self.desktop_of(w) else {
            return false;
        };
        let d = &mut self.desktops[di];
        if let Some(i) = d.index_of(w) {
            d.windows.remove(i);
        }
        if d.focus.as_ref() == Some(w) {
            d.focus = d.windows.last().map(|p| p.window.clone());
        }
        true
    }

    /// Focuses and raises `w` if it is on the desktop shown; a window on a
    /// hidden desktop is refused. Returns whether focus moved to it.
    pub fn focus(&mut self, w: &W) -> bool {
        let d = &mut self.desktops[self.active];
        match d.index_of(w) {
            Some(i) => {
                d.raise(i);
                d.focus = Some(w.clone());
                true
            }
            None => false,
        }
    }

    /// Moves `w` to `pos` on its own desktop (a window never changes desktop).
    pub fn move_to(&mut self, w: &W, pos: (i32, i32)) -> bool {
        for d in &mut self.desktops {
            if let Some(i) = d.index_of(w) {
                d.windows[i].pos = pos;
                return true;
            }
        }
        false
    }

    /// How `w` is sized.
    pub fn mode(&self, w: &W) -> Option<Mode> {
        self.placed(w).map(|p| p.mode)
    }

    fn placed(&self, w: &W) -> Option<&Placed<W>> {
        self.desktops
            .iter()
            .find_map(|d| d.index_of(w).map(|i| &d.windows[i]))
    }

    fn placed_mut(&mut self, w: &W) -> Option<&mut Placed<W>> {
        self.desktops
            .iter_mut()
            .find_map(|d| d.index_of(w).map(move |i| &mut d.windows[i]))
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
        self.desktops
            .iter()
            .find_map(|d| d.index_of(w).map(|i| d.windows[i].pos))
    }

    /// Shows desktop `i`; returns whether the shown desktop changed.
    pub fn switch_to(&mut self, i: usize) -> bool {
        if i >= self.desktops.len() || i == self.active {
            return false;
        }
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
        ]
    }

    fn check(l: &Layout<u8>, home: &std::collections::HashMap<u8, usize>) {
        let mut seen = std::collections::HashSet::new();
        for (i, d) in l.desktops().iter().enumerate() {
            for p in d.windows() {
                assert!(seen.insert(p.window), "window on two desktops");
                assert_eq!(home.get(&p.window), Some(&i), "window changed desktop");
            }
            match d.focus() {
                Some(f) => assert!(d.windows().iter().any(|p| &p.window == f)),
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
                }
                check(&l, &home);
            }
        }
    }
}

//! The udev backend's pure decisions, apart from the hardware so they can be
//! tested here: which mode a screen runs, where each screen sits, where a
//! relative pointer motion may go (the virtual-terminal chords are
//! [`crate::input_events::vt_chord`]).

/// What the choice of a mode needs to know about one of a connector's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeInfo {
    /// Width and height in pixels.
    pub size: (u16, u16),
    /// Vertical refresh in Hz.
    pub refresh: u32,
    /// The screen says this is its preferred (native) mode.
    pub preferred: bool,
}

/// The index of the mode to run: the preferred one (the first, if the
/// screen marks several), else the largest, at its highest refresh. `None`
/// for a connector without modes.
pub fn choose_mode(modes: &[ModeInfo]) -> Option<usize> {
    if let Some(i) = modes.iter().position(|m| m.preferred) {
        return Some(i);
    }
    modes
        .iter()
        .enumerate()
        // `max_by_key` keeps the last of equals: reverse so the first wins.
        .rev()
        .max_by_key(|(_, m)| (u32::from(m.size.0) * u32::from(m.size.1), m.refresh))
        .map(|(i, _)| i)
}

/// Where screens of the given widths go: left to right from (0, 0), tops
/// aligned, in the order given.
pub fn place_left_to_right(widths: &[i32]) -> Vec<(i32, i32)> {
    let mut x: i32 = 0;
    widths
        .iter()
        .map(|w| {
            let at = (x, 0);
            x = x.saturating_add((*w).max(0));
            at
        })
        .collect()
}

/// A rectangle in the global (logical) space: x, y, width, height.
pub type Area = (i32, i32, i32, i32);

/// Where the pointer goes when moved to `to`: there if that is on a screen,
/// else the nearest point of the nearest screen (so a mouse cannot take it
/// off the desktop, nor into a gap between screens of unequal heights).
/// Without screens the point is kept.
pub fn clamp_to_screens(to: (f64, f64), screens: &[Area]) -> (f64, f64) {
    let clamp = |(x, y, w, h): Area| {
        // Stay a fraction inside: the right and bottom edges belong to the
        // next screen (or to none).
        let right = f64::from(x) + f64::from(w.max(1)) - 0.001;
        let bottom = f64::from(y) + f64::from(h.max(1)) - 0.001;
        (
            to.0.clamp(f64::from(x), right),
            to.1.clamp(f64::from(y), bottom),
        )
    };
    screens
        .iter()
        .map(|s| clamp(*s))
        .min_by(|a, b| {
            let d = |p: (f64, f64)| (p.0 - to.0).powi(2) + (p.1 - to.1).powi(2);
            d(*a).total_cmp(&d(*b))
        })
        .unwrap_or(to)
}

/// The pointer's arrow, drawn by the compositor (clients' cursor images
/// are not shown yet): width, height and ARGB8888 pixels (little-endian:
/// B, G, R, A), white with a black outline, its tip at (0, 0).
pub fn arrow_cursor() -> (i32, i32, Vec<u8>) {
    const W: i32 = 12;
    const H: i32 = 18;
    let inside =
        |x: i32, y: i32| (0..W).contains(&x) && (0..H).contains(&y) && x <= y && x + y <= 21;
    let mut pixels = Vec::with_capacity((W * H * 4) as usize);
    for y in 0..H {
        for x in 0..W {
            let px: [u8; 4] = if !inside(x, y) {
                [0, 0, 0, 0]
            } else if [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                .iter()
                .all(|(nx, ny)| inside(*nx, *ny))
            {
                [0xff, 0xff, 0xff, 0xff]
            } else {
                [0, 0, 0, 0xff]
            };
            pixels.extend_from_slice(&px);
        }
    }
    (W, H, pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(w: u16, h: u16, refresh: u32, preferred: bool) -> ModeInfo {
        ModeInfo {
            size: (w, h),
            refresh,
            preferred,
        }
    }

    #[test]
    fn the_preferred_mode_wins_even_when_smaller() {
        let modes = [
            mode(3840, 2160, 30, false),
            mode(1920, 1080, 60, true),
            mode(1280, 720, 60, false),
        ];
        assert_eq!(choose_mode(&modes), Some(1));
    }

    #[test]
    fn without_a_preferred_mode_the_largest_at_its_highest_refresh_wins() {
        let modes = [
            mode(1280, 720, 60, false),
            mode(2560, 1440, 60, false),
            mode(2560, 1440, 144, false),
            mode(1920, 1080, 240, false),
        ];
        assert_eq!(choose_mode(&modes), Some(2));
        // Equal modes: the first listed (drivers list the best first).
        let twins = [mode(1920, 1080, 60, false), mode(1920, 1080, 60, false)];
        assert_eq!(choose_mode(&twins), Some(0));
        assert_eq!(choose_mode(&[]), None);
    }

    #[test]
    fn screens_are_placed_left_to_right() {
        assert_eq!(
            place_left_to_right(&[1920, 2560, 1280]),
            [(0, 0), (1920, 0), (4480, 0)]
        );
        assert_eq!(place_left_to_right(&[]), []);
        // A nonsense width does not move the next screen backwards.
        assert_eq!(place_left_to_right(&[-5, 800]), [(0, 0), (0, 0)]);
    }

    #[test]
    fn the_pointer_stays_on_the_screens() {
        let screens = [(0, 0, 1920, 1080), (1920, 0, 1280, 720)];
        // On a screen: unchanged.
        assert_eq!(clamp_to_screens((100.5, 20.0), &screens), (100.5, 20.0));
        assert_eq!(clamp_to_screens((2000.0, 700.0), &screens), (2000.0, 700.0));
        // Off the left and top edges.
        assert_eq!(clamp_to_screens((-50.0, -3.0), &screens), (0.0, 0.0));
        // Below the shorter right screen: onto its bottom edge.
        let (x, y) = clamp_to_screens((2500.0, 900.0), &screens);
        assert_eq!(x, 2500.0);
        assert!((719.0..720.0).contains(&y), "{y}");
        // Past the right end of everything.
        let (x, _) = clamp_to_screens((9000.0, 10.0), &screens);
        assert!((3199.0..3200.0).contains(&x), "{x}");
        // No screens: nothing to keep it on.
        assert_eq!(clamp_to_screens((-1.0, -1.0), &[]), (-1.0, -1.0));
    }

    #[test]
    fn the_arrow_is_white_inside_a_black_outline() {
        let (w, h, px) = arrow_cursor();
        assert_eq!(px.len(), (w * h * 4) as usize);
        let at = |x: i32, y: i32| {
            let i = ((y * w + x) * 4) as usize;
            [px[i], px[i + 1], px[i + 2], px[i + 3]]
        };
        // The tip is drawn (the hot spot), in the outline.
        assert_eq!(at(0, 0), [0, 0, 0, 0xff]);
        // Inside is white, right of the diagonal edge is see-through.
        assert_eq!(at(3, 8), [0xff, 0xff, 0xff, 0xff]);
        assert_eq!(at(9, 2)[3], 0);
        // The bottom right corner is past the arrow.
        assert_eq!(at(w - 1, h - 1)[3], 0);
    }
}

//! The trusted frame around each window, as rectangles: a title bar and a
//! border drawn by the compositor in the profile's colour, and for a
//! disposable sandbox's window a dashed inner band in a contrasting colour.
//! Every toplevel carries the compositor's label: a window that draws its
//! own title bar gets a thinner label band above it, and a fullscreen
//! window a label strip along the top edge of the screen.
//! Pure geometry; `render` turns the rectangles into solid-colour elements.

use zion_config::Colour;

use crate::layout::Rect;

/// Border width in logical pixels.
pub const BORDER: i32 = 4;
/// Title bar height in logical pixels.
pub const TITLE_HEIGHT: i32 = 24;
/// Height of the label band above a window that draws its own title bar,
/// and of the strip above a fullscreen window, in logical pixels.
pub const LABEL_HEIGHT: i32 = 18;

/// Width of the dashed band inside a disposable window's frame.
pub const BAND: i32 = 2;
/// Length of a dash of that band, and of the gap after it.
pub const DASH: i32 = 8;

/// Which frame a window gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoration {
    /// Title bar and border (server-side decorations, the default).
    Full,
    /// The client draws its own title bar (it refused server-side
    /// decorations, as Chromium does); the compositor's border and a
    /// thinner label band above the window still say whose it is, since
    /// whatever the client draws could claim anything.
    Labelled,
    /// Border only, no label: X11 menus and tooltips, which are not
    /// toplevels and sit over their own (labelled) window.
    BorderOnly,
}

impl Decoration {
    /// How far the frame reaches above the content.
    pub fn top(self) -> i32 {
        match self {
            Decoration::Full => TITLE_HEIGHT + BORDER,
            Decoration::Labelled => LABEL_HEIGHT + BORDER,
            Decoration::BorderOnly => BORDER,
        }
    }
}

/// The frame's pieces around `content` (the window's own area), title bar
/// first, then top, bottom, left and right border. Empty for an empty window.
pub fn pieces(content: Rect, decoration: Decoration) -> Vec<Rect> {
    if content.w <= 0 || content.h <= 0 {
        return Vec::new();
    }
    let outer = outer(content, decoration);
    let mut out = Vec::with_capacity(5);
    let top_of_content = content.y;
    out.push(Rect::new(outer.x, outer.y, outer.w, decoration.top()));
    out.push(Rect::new(outer.x, content.y + content.h, outer.w, BORDER));
    out.push(Rect::new(outer.x, top_of_content, BORDER, content.h));
    out.push(Rect::new(
        content.x + content.w,
        top_of_content,
        BORDER,
        content.h,
    ));
    out
}

/// The rectangle the framed window covers.
pub fn outer(content: Rect, decoration: Decoration) -> Rect {
    let top = decoration.top();
    Rect::new(
        content.x - BORDER,
        content.y - top,
        content.w + 2 * BORDER,
        content.h + top + BORDER,
    )
}

/// The content rectangle whose frame fills `outer` exactly: the inverse of
/// [`outer`]. A fullscreen window's frame, shown while Super is held, is
/// drawn this way, inside the screen and over the window.
pub fn inner(outer: Rect, decoration: Decoration) -> Rect {
    let top = decoration.top();
    Rect::new(
        outer.x + BORDER,
        outer.y + top,
        (outer.w - 2 * BORDER).max(0),
        (outer.h - top - BORDER).max(0),
    )
}

/// The dashes of a disposable window's frame: a band `BAND` wide right
/// around `content`, `DASH` on and `DASH` off, starting at each edge's
/// start (top and bottom from the band's left corner, the sides from the
/// content's top). It lies inside the frame whatever the decoration, so the
/// frame's outer edge keeps the profile's colour.
pub fn disposable_dashes(content: Rect) -> Vec<Rect> {
    if content.w <= 0 || content.h <= 0 {
        return Vec::new();
    }
    let left = content.x - BAND;
    let right = content.x + content.w;
    let width = content.w + 2 * BAND;
    let mut out = Vec::new();
    for x in (left..left + width).step_by(2 * DASH as usize) {
        let w = DASH.min(left + width - x);
        out.push(Rect::new(x, content.y - BAND, w, BAND));
        out.push(Rect::new(x, content.y + content.h, w, BAND));
    }
    for y in (content.y..content.y + content.h).step_by(2 * DASH as usize) {
        let h = DASH.min(content.y + content.h - y);
        out.push(Rect::new(left, y, BAND, h));
        out.push(Rect::new(right, y, BAND, h));
    }
    out
}

/// The colour of a disposable frame's dashes: near-black on a light
/// profile colour, near-white on a dark one.
pub fn contrast(c: Colour) -> Colour {
    // Rec. 601 luma, in 0..=255000.
    let luma = 299 * u32::from(c.r) + 587 * u32::from(c.g) + 114 * u32::from(c.b);
    if luma > 140_000 {
        Colour {
            r: 0x10,
            g: 0x10,
            b: 0x10,
        }
    } else {
        Colour {
            r: 0xf5,
            g: 0xf5,
            b: 0xf5,
        }
    }
}

/// A frame's label: `[work] title`, or `[work · disposable] title` for a
/// browser sandbox's window.
pub fn label(profile: &str, disposable: bool, title: &str) -> String {
    let kind = if disposable { " · disposable" } else { "" };
    if title.is_empty() {
        format!("[{profile}{kind}]")
    } else {
        format!("[{profile}{kind}] {title}")
    }
}

/// Where the label of a window framed with `decoration` around `content`
/// is written: the title bar, or the label band; `None` without a label.
pub fn label_bar(content: Rect, decoration: Decoration) -> Option<Rect> {
    if content.w <= 0 || content.h <= 0 || decoration == Decoration::BorderOnly {
        return None;
    }
    let o = outer(content, decoration);
    Some(Rect::new(o.x, o.y, o.w, decoration.top()))
}

/// The content rectangle of a fullscreen window on `output`: all of it but
/// the label strip along its top edge.
///
/// Fullscreen hides the frame, so a window could paint itself as another
/// profile's window or as a host prompt. The strip keeps the owner's
/// colour and label on screen at all times. The window is sized to leave
/// the strip free (nothing of the client is hidden under it), and the strip
/// is also drawn in front of every window (see `render`), so a client that
/// ignores the size it was given, or a subsurface reaching up, still cannot
/// cover it.
pub fn fullscreen_content(output: Rect) -> Rect {
    Rect::new(
        output.x,
        output.y + LABEL_HEIGHT,
        output.w,
        (output.h - LABEL_HEIGHT).max(1),
    )
}

/// The label strip above a fullscreen window's `content`.
pub fn fullscreen_strip(content: Rect) -> Rect {
    Rect::new(content.x, content.y - LABEL_HEIGHT, content.w, LABEL_HEIGHT)
}

/// The screen a fullscreen window's `content` and its strip fill together:
/// the inverse of [`fullscreen_content`].
pub fn fullscreen_screen(content: Rect) -> Rect {
    Rect::new(
        content.x,
        content.y - LABEL_HEIGHT,
        content.w,
        content.h + LABEL_HEIGHT,
    )
}

/// The content rectangle of a window maximized on `output`: its frame
/// fills the output exactly.
pub fn maximized_content(output: Rect, decoration: Decoration) -> Rect {
    let top = decoration.top();
    Rect::new(
        output.x + BORDER,
        output.y + top,
        (output.w - 2 * BORDER).max(1),
        (output.h - top - BORDER).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Decoration; 3] = [
        Decoration::Full,
        Decoration::Labelled,
        Decoration::BorderOnly,
    ];

    fn covered(pieces: &[Rect], x: i32, y: i32) -> usize {
        pieces.iter().filter(|r| r.contains(x, y)).count()
    }

    #[test]
    fn frame_surrounds_content_without_covering_it() {
        for deco in ALL {
            let content = Rect::new(100, 80, 250, 250);
            let p = pieces(content, deco);
            let o = outer(content, deco);
            for y in o.y..o.y + o.h {
                for x in o.x..o.x + o.w {
                    let expected = usize::from(!content.contains(x, y));
                    assert_eq!(covered(&p, x, y), expected, "{deco:?} at {x},{y}");
                }
            }
        }
    }

    #[test]
    fn full_frame_has_a_title_bar_above_the_content() {
        let content = Rect::new(100, 80, 250, 250);
        let o = outer(content, Decoration::Full);
        assert_eq!(content.y - o.y, TITLE_HEIGHT + BORDER);
        let b = outer(content, Decoration::BorderOnly);
        assert_eq!(content.y - b.y, BORDER);
    }

    #[test]
    fn a_maximized_windows_frame_fills_the_output() {
        let output = Rect::new(0, 0, 800, 600);
        for deco in ALL {
            assert_eq!(
                outer(maximized_content(output, deco), deco),
                output,
                "{deco:?}"
            );
        }
    }

    #[test]
    fn an_unmapped_window_has_no_frame() {
        assert!(pieces(Rect::new(0, 0, 0, 0), Decoration::Full).is_empty());
    }

    #[test]
    fn disposable_dashes_lie_in_the_frame_and_leave_its_outer_edge_alone() {
        let content = Rect::new(100, 80, 250, 101);
        let dashes = disposable_dashes(content);
        assert!(!dashes.is_empty());
        for deco in ALL {
            let frame = pieces(content, deco);
            let o = outer(content, deco);
            for d in &dashes {
                for y in d.y..d.y + d.h {
                    for x in d.x..d.x + d.w {
                        assert_eq!(covered(&frame, x, y), 1, "{deco:?} dash at {x},{y}");
                        assert!(!content.contains(x, y));
                    }
                }
            }
            for x in o.x..o.x + o.w {
                assert_eq!(covered(&dashes, x, o.y), 0);
                assert_eq!(covered(&dashes, x, o.y + o.h - 1), 0);
            }
        }
        // Dashes alternate along each edge: on at the start, off after DASH.
        assert_eq!(covered(&dashes, content.x - 1, content.y + 1), 1);
        assert_eq!(covered(&dashes, content.x - 1, content.y + DASH + 1), 0);
        assert_eq!(covered(&dashes, content.x - BAND, content.y - 1), 1);
        assert_eq!(covered(&dashes, content.x - BAND + DASH, content.y - 1), 0);
        // The last dash stops at the content's end.
        let bottom = content.y + content.h - 1;
        for d in dashes
            .iter()
            .filter(|d| d.x == content.x - BAND && d.w == BAND)
        {
            assert!(d.y + d.h <= content.y + content.h, "{d:?} below {bottom}");
        }
    }

    #[test]
    fn dashes_contrast_with_every_palette_colour() {
        for i in 0..6 {
            let c = zion_config::palette(i);
            let d = contrast(c);
            let diff = |a: u8, b: u8| i32::from(a.abs_diff(b));
            assert!(
                diff(c.r, d.r) + diff(c.g, d.g) + diff(c.b, d.b) > 200,
                "{c}"
            );
        }
    }

    #[test]
    fn a_disposable_label_says_so() {
        assert_eq!(label("work", false, "Mail"), "[work] Mail");
        assert_eq!(label("work", true, "Mail"), "[work · disposable] Mail");
        assert_eq!(label("work", true, ""), "[work · disposable]");
    }

    #[test]
    fn inner_is_the_inverse_of_outer() {
        let content = Rect::new(40, 60, 300, 200);
        for d in ALL {
            assert_eq!(inner(outer(content, d), d), content);
        }
        let screen = Rect::new(0, 0, 1280, 720);
        let framed = outer(inner(screen, Decoration::Full), Decoration::Full);
        assert_eq!(framed, screen, "the frame fills the screen exactly");
    }

    #[test]
    fn every_toplevel_frame_has_a_label_above_its_content() {
        let content = Rect::new(100, 80, 250, 250);
        for deco in [Decoration::Full, Decoration::Labelled] {
            let bar = label_bar(content, deco).expect("a label");
            let o = outer(content, deco);
            assert_eq!((bar.x, bar.y, bar.w), (o.x, o.y, o.w), "{deco:?}");
            assert_eq!(bar.y + bar.h, content.y, "{deco:?}");
            assert!(bar.h >= LABEL_HEIGHT, "{deco:?}");
        }
        assert_eq!(label_bar(content, Decoration::BorderOnly), None);
        assert_eq!(label_bar(Rect::new(0, 0, 0, 0), Decoration::Full), None);
    }

    #[test]
    fn a_fullscreen_window_leaves_the_strip_free_along_the_top_edge() {
        let screen = Rect::new(0, 0, 1280, 720);
        let content = fullscreen_content(screen);
        let strip = fullscreen_strip(content);
        assert_eq!(strip, Rect::new(0, 0, 1280, LABEL_HEIGHT));
        assert_eq!(fullscreen_screen(content), screen);
        for x in [0, 640, 1279] {
            for y in 0..LABEL_HEIGHT {
                assert!(strip.contains(x, y) && !content.contains(x, y));
            }
            assert!(content.contains(x, LABEL_HEIGHT) && content.contains(x, 719));
        }
    }
}

//! The trusted frame around each window, as rectangles: a title bar and a
//! border drawn by the compositor in the profile's colour. Pure geometry;
//! `render` turns the rectangles into solid-colour elements.

use crate::layout::Rect;

/// Border width in logical pixels.
pub const BORDER: i32 = 4;
/// Title bar height in logical pixels.
pub const TITLE_HEIGHT: i32 = 24;

/// Which frame a window gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoration {
    /// Title bar and border (server-side decorations, the default).
    Full,
    /// Border only: the client draws its own title bar, but the coloured
    /// border still says whose window it is.
    BorderOnly,
}

/// The frame's pieces around `content` (the window's own area), title bar
/// first, then top, bottom, left and right border. Empty for an empty window.
pub fn pieces(content: Rect, decoration: Decoration) -> Vec<Rect> {
    if content.w <= 0 || content.h <= 0 {
        return Vec::new();
    }
    let outer = outer(content, decoration);
    let mut out = Vec::with_capacity(5);
    let top_of_content = match decoration {
        Decoration::Full => {
            out.push(Rect::new(outer.x, outer.y, outer.w, TITLE_HEIGHT + BORDER));
            content.y
        }
        Decoration::BorderOnly => {
            out.push(Rect::new(outer.x, outer.y, outer.w, BORDER));
            content.y
        }
    };
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
    let top = match decoration {
        Decoration::Full => TITLE_HEIGHT + BORDER,
        Decoration::BorderOnly => BORDER,
    };
    Rect::new(
        content.x - BORDER,
        content.y - top,
        content.w + 2 * BORDER,
        content.h + top + BORDER,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(pieces: &[Rect], x: i32, y: i32) -> usize {
        pieces.iter().filter(|r| r.contains(x, y)).count()
    }

    #[test]
    fn frame_surrounds_content_without_covering_it() {
        for deco in [Decoration::Full, Decoration::BorderOnly] {
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
    fn an_unmapped_window_has_no_frame() {
        assert!(pieces(Rect::new(0, 0, 0, 0), Decoration::Full).is_empty());
    }
}

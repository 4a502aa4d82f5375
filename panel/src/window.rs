//! The list's window onto its rows: which rows a scroll offset shows, and
//! where to scroll so that a row is seen. Only those rows are built as
//! widgets; spacers of the right height stand for the rest, so ten thousand
//! items cost what thirty do. Plain numbers, tested without iced.

use std::ops::Range;

/// Every row's height in the list, in logical pixels (a row is one line of
/// name over one small line of countdown or "held", never more).
pub const ROW_HEIGHT: u32 = 46;

/// Rows built beyond each edge of what is seen, so that a small scroll
/// shows drawn rows before the next message rebuilds the list.
pub const OVERSCAN: usize = 4;

/// What the list's scrollable shows: its offset from the top and its
/// height, as its last `on_scroll` said, in whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    /// Pixels scrolled from the top.
    pub offset: u32,
    /// The visible height.
    pub height: u32,
}

impl Default for Viewport {
    /// Before the scrollable has said anything: the top of a tall window
    /// (a few rows too many are built for one frame; none are missing).
    fn default() -> Viewport {
        Viewport {
            offset: 0,
            height: 1200,
        }
    }
}

impl Viewport {
    /// A viewport from what the scrollable reported; a negative, infinite
    /// or NaN value (never sent by iced, but a float is a float) counts as 0.
    pub fn new(offset: f32, height: f32) -> Viewport {
        // `as` saturates: a huge offset is u32::MAX, which `rows` clamps.
        let sane = |v: f32| {
            if v.is_finite() && v > 0.0 {
                v.round() as u32
            } else {
                0
            }
        };
        Viewport {
            offset: sane(offset),
            height: sane(height),
        }
    }

    /// The rows of a list of `count` rows to build: those the viewport
    /// touches, plus [`OVERSCAN`] on each side, clamped to the list.
    pub fn rows(self, count: usize) -> Range<usize> {
        if count == 0 {
            return 0..0;
        }
        // An offset past the end (the list shrank under it, or a float
        // rounded up) shows the list's tail, as the scrollable will.
        let whole = u32::try_from(count)
            .unwrap_or(u32::MAX)
            .saturating_mul(ROW_HEIGHT);
        let offset = self.offset.min(whole.saturating_sub(self.height));
        let first = (offset / ROW_HEIGHT) as usize;
        let last = offset.saturating_add(self.height).div_ceil(ROW_HEIGHT) as usize;
        let start = first.saturating_sub(OVERSCAN).min(count);
        let end = last.saturating_add(OVERSCAN).min(count);
        start..end
    }

    /// The offset to scroll to so that row `index` is wholly seen, or
    /// `None` when it already is (the list does not jump needlessly).
    pub fn reveal(self, index: usize) -> Option<u32> {
        let top = u32::try_from(index)
            .unwrap_or(u32::MAX)
            .saturating_mul(ROW_HEIGHT);
        let bottom = top.saturating_add(ROW_HEIGHT);
        let to = if top < self.offset {
            top
        } else if bottom > self.offset.saturating_add(self.height) {
            // A viewport lower than a row shows the row's top.
            (bottom - self.height).min(top)
        } else {
            return None;
        };
        (to != self.offset).then_some(to)
    }
}

/// The height that `rows` rows take (a spacer's height).
pub fn height(rows: usize) -> f32 {
    rows as f32 * ROW_HEIGHT as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: f32 = ROW_HEIGHT as f32;

    fn at(offset: f32, height: f32) -> Viewport {
        Viewport::new(offset, height)
    }

    #[test]
    fn the_top_of_the_list_builds_the_rows_seen_and_a_few_below() {
        // 460 px show rows 0..10.
        assert_eq!(at(0.0, 460.0).rows(10_000), 0..10 + OVERSCAN);
        // A row cut at the bottom edge is built.
        assert_eq!(at(0.0, 470.0).rows(10_000), 0..11 + OVERSCAN);
    }

    #[test]
    fn a_scrolled_list_builds_only_the_rows_around_the_offset() {
        // Offset 4600 is row 100 exactly; 460 px later is row 110.
        let rows = at(4600.0, 460.0).rows(10_000);
        assert_eq!(rows, 100 - OVERSCAN..110 + OVERSCAN);
        // Half a row down: row 100 is cut at the top, row 110 at the bottom.
        let rows = at(4623.0, 460.0).rows(10_000);
        assert_eq!(rows, 100 - OVERSCAN..111 + OVERSCAN);
        assert!(
            rows.len() < 30,
            "ten thousand items, {} rows built",
            rows.len()
        );
    }

    #[test]
    fn the_end_of_the_list_is_clamped_and_a_short_list_is_built_whole() {
        assert_eq!(
            at(10_000.0 * H - 460.0, 460.0).rows(10_000),
            9990 - OVERSCAN..10_000
        );
        assert_eq!(at(0.0, 460.0).rows(3), 0..3);
        assert_eq!(at(0.0, 460.0).rows(0), 0..0);
    }

    #[test]
    fn an_offset_past_a_list_that_shrank_shows_its_tail_not_nothing() {
        // Scrolled to row 9000, then a search left 20 items.
        let rows = at(9000.0 * H, 460.0).rows(20);
        assert_eq!(rows, 6..20);
        assert!(!rows.is_empty());
        // Past the end of a long list: its last screenful, not a few rows.
        assert_eq!(at(1e9, 460.0).rows(10_000), 9990 - OVERSCAN..10_000);
    }

    #[test]
    fn nonsense_offsets_count_as_the_top() {
        for bad in [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -50.0] {
            assert_eq!(at(bad, 460.0).rows(100), 0..10 + OVERSCAN, "{bad}");
        }
        assert_eq!(at(0.0, f32::NAN).rows(100), 0..OVERSCAN);
    }

    #[test]
    fn reveal_scrolls_only_when_the_row_is_not_wholly_seen() {
        let v = at(4600.0, 460.0); // rows 100..110 seen
        assert_eq!(v.reveal(100), None);
        assert_eq!(v.reveal(109), None);
        assert_eq!(
            v.reveal(99),
            Some(99 * ROW_HEIGHT),
            "above: its top at the top"
        );
        assert_eq!(
            v.reveal(110),
            Some(111 * ROW_HEIGHT - 460),
            "below: its bottom at the bottom"
        );
        assert_eq!(
            at(0.0, 20.0).reveal(0),
            None,
            "a low viewport keeps the row's top"
        );
        assert_eq!(at(0.0, 20.0).reveal(1), Some(ROW_HEIGHT));
        assert_eq!(
            at(0.0, 460.0).reveal(usize::MAX),
            Some(u32::MAX - 460),
            "no overflow"
        );
    }

    #[test]
    fn spacers_and_rows_add_up_to_the_whole_list() {
        let count = 10_000;
        for offset in [0.0, 1234.5, 200_000.0, 459_540.0] {
            let rows = at(offset, 600.0).rows(count);
            let total = height(rows.start) + height(rows.len()) + height(count - rows.end);
            assert!((total - height(count)).abs() < 1.0, "{offset}: {total}");
        }
    }
}

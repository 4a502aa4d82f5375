//! Choosing many rows with the mouse, as file managers do: a click picks
//! one row, ctrl-click ticks or unticks it, shift-click ticks every row
//! from the last picked one to it. Pure functions of the list's order.

use std::collections::BTreeSet;

/// How a row was clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// A plain click: this row only (its detail opens).
    Only,
    /// Ctrl-click: tick or untick this row, keeping the others.
    Toggle,
    /// Shift-click: tick every row from the anchor to this one.
    Range,
}

impl Pick {
    /// The pick for a click with these modifiers (shift wins over ctrl).
    pub fn with(shift: bool, ctrl: bool) -> Pick {
        match (shift, ctrl) {
            (true, _) => Pick::Range,
            (false, true) => Pick::Toggle,
            (false, false) => Pick::Only,
        }
    }
}

/// The ids from `anchor` to `to` inclusive, in the list's `order` (either
/// may come first). Without an anchor, or with one the list no longer
/// shows, only `to`; nothing when `to` is not shown.
pub fn range(order: &[u64], anchor: Option<u64>, to: u64) -> Vec<u64> {
    let Some(end) = order.iter().position(|&id| id == to) else {
        return Vec::new();
    };
    let start = anchor
        .and_then(|a| order.iter().position(|&id| id == a))
        .unwrap_or(end);
    let (low, high) = if start <= end {
        (start, end)
    } else {
        (end, start)
    };
    order[low..=high].to_vec()
}

/// `marked` after a ctrl-click on `id`: ticked if it was not, unticked if it was.
pub fn toggle(marked: &mut BTreeSet<u64>, id: u64) {
    if !marked.remove(&id) {
        marked.insert(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_runs_from_the_anchor_either_way_in_the_shown_order() {
        let order = [7, 3, 9, 1, 4];
        assert_eq!(range(&order, Some(3), 1), vec![3, 9, 1]);
        assert_eq!(range(&order, Some(1), 3), vec![3, 9, 1], "upwards");
        assert_eq!(range(&order, Some(9), 9), vec![9]);
    }

    #[test]
    fn a_range_without_a_shown_anchor_is_the_clicked_row_and_a_hidden_row_is_nothing() {
        let order = [7, 3, 9];
        assert_eq!(range(&order, None, 9), vec![9]);
        assert_eq!(
            range(&order, Some(42), 9),
            vec![9],
            "the anchor was filtered out"
        );
        assert!(range(&order, Some(7), 42).is_empty());
    }

    #[test]
    fn a_range_over_ten_thousand_rows_takes_exactly_the_rows_between() {
        let order: Vec<u64> = (0..10_000).rev().collect();
        let picked = range(&order, Some(9000), 1000);
        assert_eq!(picked.len(), 8001);
        assert_eq!((picked[0], picked[8000]), (9000, 1000));
    }

    #[test]
    fn shift_wins_over_ctrl_and_toggle_flips() {
        assert_eq!(Pick::with(true, true), Pick::Range);
        assert_eq!(Pick::with(false, true), Pick::Toggle);
        assert_eq!(Pick::with(false, false), Pick::Only);
        let mut marked = BTreeSet::from([1, 2]);
        toggle(&mut marked, 2);
        toggle(&mut marked, 3);
        assert_eq!(marked, BTreeSet::from([1, 3]));
    }
}

//! The list's order: what it is sorted by and in which direction. Names
//! sort as people count (`n2` before `n10`), states in the order a person
//! deals with them.

use std::cmp::Ordering;

use zion_bus::quarantine::ItemInfo;

use super::format::Badge;

/// What the list is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// When it arrived: oldest first.
    #[default]
    Age,
    /// Its name in natural order: `n2` before `n10`.
    Name,
    /// Its size: smallest first.
    Size,
    /// Its state: what needs a decision (infected, unscannable) first.
    State,
}

impl SortKey {
    /// Every key, in the order the buttons show them.
    pub const ALL: [SortKey; 4] = [SortKey::Age, SortKey::Name, SortKey::Size, SortKey::State];

    /// The button's word.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Age => "Age",
            SortKey::Name => "Name",
            SortKey::Size => "Size",
            SortKey::State => "State",
        }
    }

    /// How `a` and `b` compare by this key, ascending; ties fall back to
    /// the id so the order never jumps between redraws.
    pub fn compare(self, a: &ItemInfo, b: &ItemInfo) -> Ordering {
        let by_key = match self {
            SortKey::Age => a.added.cmp(&b.added),
            SortKey::Name => {
                natord::compare_ignore_case(&a.name, &b.name).then_with(|| a.name.cmp(&b.name))
            }
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::State => state_rank(Badge::of(a)).cmp(&state_rank(Badge::of(b))),
        };
        by_key.then(a.id.cmp(&b.id))
    }
}

/// States in the order a person deals with them: the verdicts that need a
/// decision, then what waits for the scanner, then what is clean.
fn state_rank(badge: Badge) -> u8 {
    match badge {
        Badge::Infected => 0,
        Badge::Error => 1,
        Badge::TooLarge => 2,
        Badge::Scanning => 3,
        Badge::Clean => 4,
        Badge::Released => 5,
        Badge::Deleted => 6,
    }
}

/// The list's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sort {
    /// What it is sorted by.
    pub key: SortKey,
    /// Largest, newest-last or Z first instead.
    pub descending: bool,
}

impl Sort {
    /// How `a` and `b` compare in this order.
    pub fn compare(self, a: &ItemInfo, b: &ItemInfo) -> Ordering {
        let order = self.key.compare(a, b);
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(id: u64, name: &str) -> ItemInfo {
        ItemInfo {
            id,
            name: name.into(),
            safe_name: name.into(),
            source: String::new(),
            profile: String::new(),
            size: 0,
            sha256: String::new(),
            state: "clean".into(),
            verdict: String::new(),
            detail: String::new(),
            matches: Vec::new(),
            added: 0,
            changed: 0,
            destination: String::new(),
            held: false,
            origin: Default::default(),
        }
    }

    #[test]
    fn numbers_in_names_compare_as_numbers_and_case_does_not_split_them() {
        let by_name = |a, b| SortKey::Name.compare(&named(1, a), &named(2, b));
        assert_eq!(by_name("n2", "n10"), Ordering::Less);
        assert_eq!(by_name("N2", "n10"), Ordering::Less);
        assert_eq!(
            by_name("a", "a"),
            Ordering::Less,
            "ties fall back to the id"
        );
    }
}

//! Releasing many items at once: which ticked items a bulk release takes
//! (only clean ones), the one question it asks, and how far its calls got.

use std::collections::BTreeSet;

use zion_bus::quarantine::ItemInfo;

use super::format::{self, Badge};
use super::model::{destination_words, Notice};

/// "Release every clean selected item to one destination", waiting for its
/// one "yes".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRelease {
    /// The clean items released on "yes".
    pub ids: Vec<u64>,
    /// `shared` or `profile:NAME`.
    pub destination: String,
    /// Selected items left out because they are not clean (infected,
    /// unscannable, too large or not scanned yet).
    pub skipped: usize,
    /// The question, naming the count, the sources and the destination.
    pub question: String,
}

/// A bulk release under way: its calls' answers, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkProgress {
    /// `shared` or `profile:NAME`.
    pub destination: String,
    /// Calls not answered yet.
    pub waiting: BTreeSet<u64>,
    /// Items released so far.
    pub released: usize,
    /// Items the daemon refused, with its words.
    pub failed: Vec<String>,
    /// Selected items left out because they were not clean.
    pub skipped: usize,
}

impl BulkRelease {
    /// What releasing the `marked` items (those still in the quarantine) to
    /// `destination` does: the clean ones, and how many are left out.
    pub fn of(marked: &[&ItemInfo], destination: &str) -> BulkRelease {
        let clean: Vec<&ItemInfo> = marked
            .iter()
            .copied()
            .filter(|i| Badge::of(i) == Badge::Clean)
            .collect();
        let skipped = marked.len() - clean.len();
        // Where they came from, as the list's SOURCE column words it.
        let sources: BTreeSet<String> = clean.iter().map(|i| format::source(i)).collect();
        let count = items(clean.len(), "clean item");
        let from = match sources.len() {
            0 => String::new(),
            1..=3 => format!(
                " from {}",
                sources.into_iter().collect::<Vec<_>>().join(", ")
            ),
            n => format!(" from {n} sources"),
        };
        let mut question = format!(
            "Release {count}{from} to {}?",
            destination_words(destination)
        );
        match skipped {
            0 => {}
            1 => question.push_str(" 1 selected item is not clean and stays in quarantine."),
            n => question.push_str(&format!(
                " {n} selected items are not clean and stay in quarantine."
            )),
        }
        BulkRelease {
            ids: clean.iter().map(|i| i.id).collect(),
            destination: destination.to_owned(),
            skipped,
            question,
        }
    }
}

impl BulkProgress {
    /// The calls for `ids` are on their way.
    pub fn start(destination: &str, ids: &[u64], skipped: usize) -> BulkProgress {
        BulkProgress {
            destination: destination.to_owned(),
            waiting: ids.iter().copied().collect(),
            released: 0,
            failed: Vec::new(),
            skipped,
        }
    }

    /// Counts the answer for `id` (`Err` in words naming the item); false
    /// when that call is not part of this release.
    pub fn answer(&mut self, id: u64, result: Result<(), String>) -> bool {
        if !self.waiting.remove(&id) {
            return false;
        }
        match result {
            Ok(()) => self.released += 1,
            Err(e) => self.failed.push(e),
        }
        true
    }

    /// Every call is answered.
    pub fn is_done(&self) -> bool {
        self.waiting.is_empty()
    }

    /// How far it got, in words.
    pub fn notice(&self) -> Notice {
        let to = destination_words(&self.destination);
        let answered = self.released + self.failed.len();
        if !self.is_done() {
            return Notice::Info(match answered {
                0 => format!("Releasing {} to {to}…", items(self.waiting.len(), "item")),
                n => format!("Releasing to {to}… {n} done, {} to go", self.waiting.len()),
            });
        }
        let mut words = format!("Released {} to {to}", items(self.released, "item"));
        if self.skipped > 0 {
            words.push_str(&format!("; {} not clean, left in quarantine", self.skipped));
        }
        if self.failed.is_empty() {
            Notice::Info(words)
        } else {
            Notice::Error(format!(
                "{words}; {} failed: {}",
                self.failed.len(),
                self.failed.join("; ")
            ))
        }
    }
}

/// `1 item`, `3 items`.
fn items(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_call_is_named_in_the_final_notice() {
        let mut p = BulkProgress::start("shared", &[1, 2], 0);
        assert!(!p.answer(3, Ok(())), "not part of this release");
        assert!(p.answer(1, Ok(())));
        assert!(p.answer(2, Err("b.txt: the destination is full".into())));
        assert!(p.is_done());
        assert_eq!(
            p.notice(),
            Notice::Error(
                "Released 1 item to Shared; 1 failed: b.txt: the destination is full".into()
            )
        );
    }
}

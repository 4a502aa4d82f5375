//! Acting on many items at once: which ticked items a bulk action takes
//! (a release only clean ones), the one question it asks, and how far its
//! calls got.

use std::collections::BTreeSet;

use zion_bus::quarantine::ItemInfo;

use super::format::{self, Badge};
use super::model::{destination_words, Notice, Request};

/// What a bulk action does to each item it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// Release to `shared` or `profile:NAME` (clean items only).
    Release(String),
    /// Delete from the quarantine.
    Delete,
    /// Hold (`true`: the policy never releases them by itself) or let go.
    Hold(bool),
}

impl BulkAction {
    /// The call for item `id`.
    pub fn request(&self, id: u64) -> Request {
        match self {
            BulkAction::Release(destination) => Request::Release {
                id,
                destination: destination.clone(),
            },
            BulkAction::Delete => Request::Delete { id },
            BulkAction::Hold(held) => Request::Hold { id, held: *held },
        }
    }

    /// Whether `request` is one of this action's calls.
    pub fn made(&self, request: &Request) -> bool {
        *request == self.request(request.id())
    }

    /// Whether it takes `item` (a release only clean ones).
    pub fn takes(&self, item: &ItemInfo) -> bool {
        match self {
            BulkAction::Release(_) => Badge::of(item) == Badge::Clean,
            BulkAction::Delete | BulkAction::Hold(_) => Badge::of(item).is_waiting(),
        }
    }

    /// "Releasing 3 items to Shared" / "Released 3 items to Shared" (`count`
    /// may be "": "Releasing to Shared").
    fn words(&self, count: &str, done: bool) -> String {
        let c = if count.is_empty() {
            String::new()
        } else {
            format!(" {count}")
        };
        match (self, done) {
            (BulkAction::Release(d), false) => format!("Releasing{c} to {}", destination_words(d)),
            (BulkAction::Release(d), true) => format!("Released{c} to {}", destination_words(d)),
            (BulkAction::Delete, false) => format!("Deleting{c}"),
            (BulkAction::Delete, true) => format!("Deleted{c}"),
            (BulkAction::Hold(true), false) => format!("Holding{c}"),
            (BulkAction::Hold(true), true) => format!("Held{c}"),
            (BulkAction::Hold(false), false) => format!("Letting go of{c}"),
            (BulkAction::Hold(false), true) => format!("Let go of{c}"),
        }
    }
}

/// A bulk action on the ticked items, waiting for its one "yes".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRelease {
    /// The items acted on after "yes".
    pub ids: Vec<u64>,
    /// `shared` or `profile:NAME` for a release, "" otherwise.
    pub destination: String,
    /// Selected items left out (for a release: not clean).
    pub skipped: usize,
    /// The question, naming the count, the sources and the destination.
    pub question: String,
    /// What it does.
    pub action: BulkAction,
    /// The "yes" button's words.
    pub yes: String,
}

/// A bulk action under way: its calls' answers, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkProgress {
    /// What it does.
    pub action: BulkAction,
    /// Calls not answered yet.
    pub waiting: BTreeSet<u64>,
    /// Items done so far.
    pub released: usize,
    /// Items the daemon refused, with its words.
    pub failed: Vec<String>,
    /// Selected items left out because the action does not apply to them.
    pub skipped: usize,
}

impl BulkRelease {
    /// What releasing the `marked` items (those still in the quarantine) to
    /// `destination` does: the clean ones, and how many are left out.
    pub fn of(marked: &[&ItemInfo], destination: &str) -> BulkRelease {
        let action = BulkAction::Release(destination.to_owned());
        let clean: Vec<&ItemInfo> = marked.iter().copied().filter(|i| action.takes(i)).collect();
        let skipped = marked.len() - clean.len();
        let count = items(clean.len(), "clean item");
        let mut question = format!(
            "Release {count}{} to {}?",
            from_words(&clean),
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
            action,
            yes: "Release".to_owned(),
        }
    }

    /// What deleting the `marked` items does: all of them, after one question.
    pub fn delete(marked: &[&ItemInfo]) -> BulkRelease {
        let action = BulkAction::Delete;
        let taken: Vec<&ItemInfo> = marked.iter().copied().filter(|i| action.takes(i)).collect();
        let question = format!(
            "Delete {}{}? They are removed from the quarantine and cannot be recovered.",
            items(taken.len(), "selected item"),
            from_words(&taken)
        );
        BulkRelease {
            ids: taken.iter().map(|i| i.id).collect(),
            destination: String::new(),
            skipped: marked.len() - taken.len(),
            question,
            action,
            yes: "Delete".to_owned(),
        }
    }
}

/// ` from sandbox work #1`, ` from 5 sources`: where `items` came from, as
/// the list's SOURCE column words it.
fn from_words(items: &[&ItemInfo]) -> String {
    let sources: BTreeSet<String> = items.iter().map(|i| format::source(i)).collect();
    match sources.len() {
        0 => String::new(),
        1..=3 => format!(
            " from {}",
            sources.into_iter().collect::<Vec<_>>().join(", ")
        ),
        n => format!(" from {n} sources"),
    }
}

impl BulkProgress {
    /// The calls of `action` for `ids` are on their way.
    pub fn start(action: BulkAction, ids: &[u64], skipped: usize) -> BulkProgress {
        BulkProgress {
            action,
            waiting: ids.iter().copied().collect(),
            released: 0,
            failed: Vec::new(),
            skipped,
        }
    }

    /// Counts the answer for `id` (`Err` in words naming the item); false
    /// when that call is not part of this action.
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
        let answered = self.released + self.failed.len();
        if !self.is_done() {
            return Notice::Info(match answered {
                0 => format!(
                    "{}…",
                    self.action.words(&items(self.waiting.len(), "item"), false)
                ),
                n => format!(
                    "{}… {n} done, {} to go",
                    self.action.words("", false),
                    self.waiting.len()
                ),
            });
        }
        let mut words = self.action.words(&items(self.released, "item"), true);
        if self.skipped > 0 {
            words.push_str(&format!("; {} not clean, left in quarantine", self.skipped));
        }
        if self.failed.is_empty() {
            Notice::Info(words)
        } else {
            // Ten thousand refusals would make a notice no one reads: the first few.
            let shown: Vec<&str> = self.failed.iter().take(3).map(String::as_str).collect();
            let more = match self.failed.len().saturating_sub(shown.len()) {
                0 => String::new(),
                n => format!("; and {n} more"),
            };
            Notice::Error(format!(
                "{words}; {} failed: {}{more}",
                self.failed.len(),
                shown.join("; ")
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
        let mut p = BulkProgress::start(BulkAction::Release("shared".into()), &[1, 2], 0);
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

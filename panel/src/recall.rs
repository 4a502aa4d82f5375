//! Recalled items in the panel (issue 17): a released file that a rule
//! added later matched. Its detail says which rule, where every copy went
//! and where each stands, and offers one action — moving the copies that are
//! still the released file back into the quarantine — asked first, never
//! done by itself. Plain values, tested without iced.

use zion_bus::quarantine::ItemInfo;
use zion_bus::recall::RecallInfo;

use super::model::{Confirm, Notice, Request};

/// Keeps `recall` (replacing what was known of the same content).
pub fn keep(recalls: &mut Vec<RecallInfo>, recall: RecallInfo) {
    match recalls.iter_mut().find(|r| r.sha256 == recall.sha256) {
        Some(known) => *known = recall,
        None => recalls.push(recall),
    }
}

/// The recall item `id` is a copy of, or was moved back into.
pub fn of(recalls: &[RecallInfo], id: u64) -> Option<&RecallInfo> {
    recalls
        .iter()
        .find(|r| r.covers(id) || (r.returned_as != 0 && r.returned_as == id))
}

/// The section's title.
pub fn headline(recall: &RecallInfo) -> String {
    let rules: Vec<&str> = recall.matches.iter().map(|m| m.rule.as_str()).collect();
    format!(
        "Recalled: {} matched it after its release",
        rules.join(", ")
    )
}

fn place(destination: &str) -> String {
    match destination {
        "shared" => "Shared".into(),
        other => match other.strip_prefix("profile:") {
            Some(rest) => match rest.split_once("/incoming:") {
                Some((to, from)) => format!("{to} (Incoming/{from})"),
                None => rest.to_owned(),
            },
            None => other.to_owned(),
        },
    }
}

/// One line per rule author/description and per copy.
pub fn lines(recall: &RecallInfo) -> Vec<String> {
    let mut out = Vec::new();
    for m in &recall.matches {
        let mut line = m.rule.clone();
        if !m.description.is_empty() {
            line.push_str(&format!(": {}", m.description));
        }
        if !m.author.is_empty() {
            line.push_str(&format!(" (rule by {})", m.author));
        }
        out.push(line);
    }
    for c in &recall.copies {
        out.push(format!(
            "{} — {}: {}",
            place(&c.destination),
            c.path,
            c.detail
        ));
    }
    if recall.returned_as != 0 {
        out.push(format!("Held in quarantine as item {}", recall.returned_as));
    }
    out
}

/// The button's words.
pub fn action(recall: &RecallInfo) -> String {
    match recall.returnable() {
        1 => "Move the copy back into quarantine".into(),
        n => format!("Move the {n} copies back into quarantine"),
    }
}

/// The question before moving copies back; `None` when there is nothing to move.
pub fn confirm(recalls: &[RecallInfo], item: &ItemInfo, id: u64) -> Option<Confirm> {
    let recall = of(recalls, id)?;
    if recall.returnable() == 0 {
        return None;
    }
    let places: Vec<String> = recall
        .copies
        .iter()
        .filter(|c| c.status == "present")
        .map(|c| place(&c.destination))
        .collect();
    Some(Confirm {
        request: Request::MoveBack { id },
        question: format!(
            "Move {} back into the quarantine? The copies in {} are removed from there and held; copies changed since their release stay.",
            item.name,
            places.join(", ")
        ),
        yes: "Move back".into(),
    })
}

/// What the panel says once copies moved back.
pub fn moved_notice(recall: &RecallInfo) -> Notice {
    let back = recall
        .copies
        .iter()
        .filter(|c| c.status == "returned")
        .count();
    let left = recall
        .copies
        .iter()
        .filter(|c| c.status == "changed")
        .count();
    let mut text = format!(
        "{}: {back} {} moved back, held as item {}",
        recall.name,
        if back == 1 { "copy" } else { "copies" },
        recall.returned_as
    );
    if left > 0 {
        text.push_str(&format!("; {left} changed since release, left alone"));
    }
    Notice::Info(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Effect, Event, Outcome, Panel};
    use zion_bus::recall::CopyInfo;

    fn item(id: u64) -> ItemInfo {
        ItemInfo {
            id,
            name: "minutes.txt".into(),
            safe_name: "minutes.txt".into(),
            source: "profile:work".into(),
            profile: "work".into(),
            size: 10,
            sha256: "ab".repeat(32),
            state: "released".into(),
            verdict: "clean".into(),
            detail: "/d/shared/minutes.txt".into(),
            matches: vec![],
            added: 0,
            changed: 0,
            destination: "shared".into(),
            held: false,
            origin: Default::default(),
        }
    }

    fn recall(status: &str, returned_as: u64) -> RecallInfo {
        RecallInfo {
            sha256: "ab".repeat(32),
            name: "minutes.txt".into(),
            found: 0,
            matches: vec![],
            copies: vec![
                CopyInfo {
                    item: 3,
                    destination: "shared".into(),
                    profile: String::new(),
                    path: "/d/shared/minutes.txt".into(),
                    status: status.into(),
                    detail: "x".into(),
                },
                CopyInfo {
                    item: 4,
                    destination: "profile:work".into(),
                    profile: "work".into(),
                    path: "/d/profiles/work/home/minutes.txt".into(),
                    status: "changed".into(),
                    detail: "not recalled: edited".into(),
                },
            ],
            returned_as,
        }
    }

    #[test]
    fn moving_back_is_asked_first_then_called_and_the_answer_kept() {
        let mut panel = Panel::new(vec!["work".into()], None, 0);
        panel.update(Event::Listed(vec![item(3), item(4)]));
        panel.update(Event::Recalled(Box::new(recall("present", 0))));
        assert_eq!(of(&panel.recalls, 3).map(|r| r.returnable()), Some(1));

        // Asking only asks.
        let effects = panel.update(Event::Ask(Request::MoveBack { id: 3 }));
        assert!(effects.is_empty(), "{effects:?}");
        let question = panel.confirm.clone().expect("a question");
        assert!(
            question.question.contains("copies in Shared"),
            "{question:?}"
        );
        // "Yes" makes the call.
        assert_eq!(
            panel.update(Event::Confirm),
            vec![Effect::Call(Request::MoveBack { id: 3 })]
        );
        panel.update(Event::Done(
            Request::MoveBack { id: 3 },
            Ok(Outcome::MovedBack(Box::new(recall("returned", 9)))),
        ));
        assert_eq!(of(&panel.recalls, 9).map(|r| r.returned_as), Some(9));
        match &panel.notice {
            Some(Notice::Info(text)) => {
                assert!(text.contains("1 copy moved back, held as item 9"), "{text}");
                assert!(
                    text.contains("1 changed since release, left alone"),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Nothing left to move: no question.
        panel.update(Event::Ask(Request::MoveBack { id: 3 }));
        assert!(panel.confirm.is_none());
    }

    #[test]
    fn the_detail_says_where_each_copy_went() {
        let r = recall("present", 0);
        let lines = lines(&r);
        assert!(lines
            .iter()
            .any(|l| l.starts_with("Shared — /d/shared/minutes.txt")));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("work — ") && l.contains("edited")));
        assert_eq!(action(&r), "Move the copy back into quarantine");
    }
}

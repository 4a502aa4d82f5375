//! `zionctl quarantine`'s word on recalls (issue 17): released items a new
//! rule matched are marked in `list` and `show`, and `recall ID` moves their
//! copies back.

use zion_bus::quarantine::{utc, Quarantine1Proxy};
use zion_bus::recall::RecallInfo;

/// Every recall, or none from a daemon that predates them.
pub async fn recalls(proxy: &Quarantine1Proxy<'_>) -> Vec<RecallInfo> {
    proxy.recalls().await.unwrap_or_default()
}

/// Whether item `id` is a recalled copy still out there (shown without --all).
pub fn waiting(recalls: &[RecallInfo], id: u64) -> bool {
    recalls.iter().any(|r| {
        r.copies
            .iter()
            .any(|c| c.item == id && c.status == "present")
    })
}

/// What `list` adds to a recalled item's line.
pub fn mark(recalls: &[RecallInfo], id: u64) -> String {
    let Some(r) = recalls.iter().find(|r| r.covers(id)) else {
        return String::new();
    };
    let rules: Vec<&str> = r.matches.iter().map(|m| m.rule.as_str()).collect();
    let status = r
        .copies
        .iter()
        .find(|c| c.item == id)
        .map_or("", |c| c.status.as_str());
    match status {
        "present" => format!(
            "  RECALLED [{}]: `zionctl quarantine recall {id}` moves it back",
            rules.join(", ")
        ),
        "returned" | "returning" => format!(
            "  RECALLED [{}]: moved back as item {}",
            rules.join(", "),
            r.returned_as
        ),
        other => format!("  RECALLED [{}]: copy {other}", rules.join(", ")),
    }
}

/// The recall section of `show`.
pub fn show(r: &RecallInfo) -> String {
    let mut out = format!(
        "{:<12} {} (a rule matched it after its release)\n",
        "RECALLED",
        utc(r.found)
    );
    for m in &r.matches {
        out.push_str(&format!("  {:<12} {}", "rule", m.rule));
        if !m.author.is_empty() {
            out.push_str(&format!(" (by {})", m.author));
        }
        if !m.description.is_empty() {
            out.push_str(&format!(": {}", m.description));
        }
        out.push('\n');
    }
    for c in &r.copies {
        out.push_str(&format!(
            "  {:<12} item {} in {}: {} ({})\n",
            "copy", c.item, c.destination, c.path, c.detail
        ));
    }
    if r.returned_as != 0 {
        out.push_str(&format!("  {:<12} item {}\n", "held as", r.returned_as));
    }
    let n = r.returnable();
    if n > 0 {
        let first = r
            .copies
            .iter()
            .find(|c| c.status == "present")
            .map_or(0, |c| c.item);
        out.push_str(&format!(
            "  {n} {} still the released file: `zionctl quarantine recall {first}` moves {} back\n",
            if n == 1 { "copy is" } else { "copies are" },
            if n == 1 { "it" } else { "them" }
        ));
    }
    out
}

/// What `recall ID` did.
pub fn moved(r: &RecallInfo) -> String {
    let mut out = String::new();
    for c in &r.copies {
        let what = match c.status.as_str() {
            "returned" => "moved back",
            "changed" => "left alone",
            "missing" => "already gone",
            other => other,
        };
        out.push_str(&format!(
            "{what:<12} {} ({}): {}\n",
            c.path, c.destination, c.detail
        ));
    }
    out.push_str(&format!(
        "{} is held in quarantine as item {} (see `zionctl quarantine show {}`)\n",
        r.name, r.returned_as, r.returned_as
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zion_bus::recall::CopyInfo;

    fn recall(status: &str) -> RecallInfo {
        RecallInfo {
            sha256: "ab".repeat(32),
            name: "a.txt".into(),
            found: 0,
            matches: vec![],
            copies: vec![CopyInfo {
                item: 4,
                destination: "shared".into(),
                profile: String::new(),
                path: "/d/shared/a.txt".into(),
                status: status.into(),
                detail: "x".into(),
            }],
            returned_as: if status == "returned" { 9 } else { 0 },
        }
    }

    #[test]
    fn a_recalled_copy_is_marked_and_says_how_to_move_it_back() {
        let present = [recall("present")];
        assert!(waiting(&present, 4) && !waiting(&present, 5));
        assert!(mark(&present, 4).contains("zionctl quarantine recall 4"));
        assert_eq!(mark(&present, 5), "");
        let back = [recall("returned")];
        assert!(!waiting(&back, 4));
        assert!(mark(&back, 4).contains("moved back as item 9"));
        assert!(show(&present[0]).contains("1 copy is still the released file"));
        assert!(moved(&back[0]).contains("held in quarantine as item 9"));
    }
}

//! The quarantine's items as `org.zionos.Quarantine1` sends them: the store's
//! [`Item`] and [`RuleMatch`] written as `zion_bus::quarantine`'s wire
//! structs, with the detail each state needs said.

use std::time::{SystemTime, UNIX_EPOCH};

use zion_bus::quarantine::{ItemInfo, MatchInfo, OriginInfo};
use zion_quarantine::{Item, Origin, RuleMatch, State, Transfers, Verdict};

/// A rule match as it travels.
pub fn match_info(m: &RuleMatch) -> MatchInfo {
    MatchInfo {
        rule: m.rule.clone(),
        namespace: m.namespace.clone(),
        author: m.author().unwrap_or_default().to_owned(),
        description: m.description().unwrap_or_default().to_owned(),
        tags: m.tags.clone(),
        meta: m.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        member: zion_quarantine::member_path(&m.member),
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The verdict's word.
pub fn verdict_word(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Clean => "clean",
        Verdict::Infected { .. } => "infected",
        Verdict::Error { .. } => "error",
        Verdict::TooLarge { .. } => "too_large",
        Verdict::Unscannable { problem, .. } if problem.is_bomb() => "refused",
        Verdict::Unscannable { .. } => "unscannable",
    }
}

fn detail(item: &Item) -> String {
    match (&item.state, &item.verdict) {
        (State::Error { reason }, _) => reason.clone(),
        (State::TooLarge { size, limit }, _) => {
            format!("{size} bytes, larger than the scan limit of {limit} bytes")
        }
        (State::Releasing { destination, .. }, _) => format!("to {destination}"),
        (State::Released { path }, _) => path.display().to_string(),
        (_, Some(Verdict::Error { reason })) => reason.clone(),
        _ => String::new(),
    }
}

/// The item as `Quarantine1` shows it under `transfers`: a transfer names
/// where it goes and, once clean, why it waits if the policy holds it.
pub fn item_info_with_transfers(item: &Item, transfers: &Transfers) -> ItemInfo {
    let mut info = item_info(item);
    if let Some(transfer) = zion_quarantine::transfer::of_item(item) {
        if info.destination.is_empty() {
            info.destination = transfer.destination().to_string();
        }
        if matches!(item.state, State::Clean) && info.detail.is_empty() {
            info.detail = transfers.waiting_reason(&transfer).unwrap_or_default();
        }
    }
    info
}

/// Where an item came from, as it travels.
pub fn origin_info(origin: &Origin) -> OriginInfo {
    OriginInfo {
        url: origin.url.clone().unwrap_or_default(),
        referrer: origin.referrer.clone().unwrap_or_default(),
        provenance: origin.provenance.as_str().to_owned(),
        note: origin.note.clone().unwrap_or_default(),
    }
}

/// The item as it travels.
pub fn item_info(item: &Item) -> ItemInfo {
    let matches = match (&item.state, &item.verdict) {
        (State::Infected { matches }, _) => matches.iter().map(match_info).collect(),
        (_, Some(Verdict::Infected { matches })) => matches.iter().map(match_info).collect(),
        _ => Vec::new(),
    };
    ItemInfo {
        id: u64::try_from(item.id.0).unwrap_or_default(),
        name: item.original_name.to_string_lossy().into_owned(),
        safe_name: item.safe_name.clone(),
        source: item.source.clone(),
        profile: item.profile.clone().unwrap_or_default(),
        size: item.size,
        sha256: item.sha256_hex().unwrap_or_default(),
        state: item.state.kind().as_str().to_owned(),
        verdict: item
            .verdict
            .as_ref()
            .map(verdict_word)
            .unwrap_or_default()
            .to_owned(),
        detail: detail(item),
        matches,
        added: unix_seconds(item.added),
        changed: unix_seconds(item.changed),
        destination: item.destination.clone().unwrap_or_default(),
        held: item.held,
        origin: item.origin.as_ref().map(origin_info).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;
    use zion_quarantine::ItemId;

    fn infected() -> Item {
        let meta = BTreeMap::from([
            ("author".to_owned(), "Florian Roth".to_owned()),
            ("description".to_owned(), "EICAR test file".to_owned()),
        ]);
        let matches = vec![RuleMatch {
            rule: "EICAR_Test_File".into(),
            namespace: "default".into(),
            tags: vec!["test".into()],
            meta,
            member: Vec::new(),
        }];
        Item {
            id: ItemId(7),
            original_name: "eicar.com".into(),
            safe_name: "eicar.com".into(),
            inbox: "dl".into(),
            source: "sandbox:work/1".into(),
            profile: Some("work".into()),
            size: 68,
            sha256: Some([0xab; 32]),
            added: UNIX_EPOCH + Duration::from_secs(1000),
            changed: UNIX_EPOCH + Duration::from_secs(1001),
            state: State::Infected {
                matches: matches.clone(),
            },
            verdict: Some(Verdict::Infected { matches }),
            destination: None,
            held: false,
            origin: None,
        }
    }

    #[test]
    fn an_infected_item_carries_rule_author_and_description() {
        let info = item_info(&infected());
        assert_eq!(info.id, 7);
        assert_eq!(info.state, "infected");
        assert_eq!(info.verdict, "infected");
        assert_eq!(info.profile, "work");
        assert_eq!(info.sha256, "ab".repeat(32));
        assert_eq!(info.added, 1000);
        assert_eq!(info.matches.len(), 1);
        let m = &info.matches[0];
        assert_eq!(m.rule, "EICAR_Test_File");
        assert_eq!(m.author, "Florian Roth");
        assert_eq!(m.description, "EICAR test file");
        assert_eq!(m.tags, vec!["test".to_owned()]);
        assert_eq!(
            m.meta.get("author").map(String::as_str),
            Some("Florian Roth")
        );
    }

    #[test]
    fn archive_verdicts_travel_with_member_paths() {
        let mut item = infected();
        let mut matches = match &item.state {
            State::Infected { matches } => matches.clone(),
            _ => unreachable!(),
        };
        matches[0].member = vec!["inner.tar.gz".into(), "docs/readme.exe".into()];
        item.state = State::Infected { matches };
        let info = item_info(&item);
        assert_eq!(info.matches[0].member, "inner.tar.gz ▸ docs/readme.exe");

        let held = Verdict::Unscannable {
            problem: zion_quarantine::ArchiveProblem::Encrypted,
            member: vec!["secret.pdf".into()],
        };
        item.state = State::from_verdict(held.clone());
        item.verdict = Some(held);
        let info = item_info(&item);
        assert_eq!(info.state, "error");
        assert_eq!(info.verdict, "unscannable");
        assert_eq!(info.detail, "unscannable: encrypted: secret.pdf");
        let bomb = Verdict::Unscannable {
            problem: zion_quarantine::ArchiveProblem::Ratio { limit: 100 },
            member: vec![],
        };
        assert_eq!(verdict_word(&bomb), "refused");
    }

    #[test]
    fn an_origin_travels_with_who_claims_it() {
        let mut item = infected();
        assert!(item_info(&item).origin.is_empty());
        item.origin = Some(Origin {
            url: Some("https://example.org/a.zip".into()),
            referrer: None,
            provenance: zion_quarantine::Provenance::File,
            note: Some("referrer not recorded: not UTF-8 text".into()),
        });
        let origin = item_info(&item).origin;
        assert_eq!(origin.url, "https://example.org/a.zip");
        assert_eq!(origin.referrer, "");
        assert_eq!(origin.provenance, "file");
        assert_eq!(origin.note, "referrer not recorded: not UTF-8 text");
    }

    #[test]
    fn a_released_item_names_its_path() {
        let mut item = infected();
        item.state = State::Released {
            path: "/data/zion/shared/eicar.com".into(),
        };
        let info = item_info(&item);
        assert_eq!(info.state, "released");
        assert_eq!(info.detail, "/data/zion/shared/eicar.com");
        // The verdict it was released with still shows its matches.
        assert_eq!(info.matches.len(), 1);
    }
}

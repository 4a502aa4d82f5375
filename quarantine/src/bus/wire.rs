//! The quarantine as it travels over D-Bus: items and rule matches as plain
//! structs with fixed signatures, shared by the daemon and its clients.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Item, RuleMatch, State, Transfers, Verdict};
use serde::{Deserialize, Serialize};
use zbus::zvariant::Type;

/// One matched rule: `(rule, namespace, author, description, tags, meta)`.
/// `author` and `description` repeat the meta entries of those names ("" when
/// absent) because some rule licences (DRL 1.1) require the author in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct MatchInfo {
    /// The rule's identifier.
    pub rule: String,
    /// The namespace it was compiled into.
    pub namespace: String,
    /// Its `author` meta, or "".
    pub author: String,
    /// Its `description` meta, or "".
    pub description: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// All of its meta, as text.
    pub meta: HashMap<String, String>,
}

impl From<&RuleMatch> for MatchInfo {
    fn from(m: &RuleMatch) -> Self {
        MatchInfo {
            rule: m.rule.clone(),
            namespace: m.namespace.clone(),
            author: m.author().unwrap_or_default().to_owned(),
            description: m.description().unwrap_or_default().to_owned(),
            tags: m.tags.clone(),
            meta: m.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// One quarantine item. Text fields that do not apply are "", times are
/// seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ItemInfo {
    /// The item's id.
    pub id: u64,
    /// The name it arrived with (lossy UTF-8 if it was not UTF-8).
    pub name: String,
    /// The name it gets in storage.
    pub safe_name: String,
    /// Where it came from, e.g. `sandbox:work/3` or `profile:work`.
    pub source: String,
    /// The profile it belongs to, or "".
    pub profile: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 in hex, or "" before it is stored.
    pub sha256: String,
    /// Its state: ingesting, stored, scanning, clean, infected, error,
    /// too_large, releasing, released, deleted.
    pub state: String,
    /// The last scan's verdict: clean, infected, error, too_large, or "" if never scanned.
    pub verdict: String,
    /// What the state or verdict needs said: the error's reason, the size
    /// limit, the released path, the destination being released to.
    pub detail: String,
    /// The rules that matched (empty unless infected).
    pub matches: Vec<MatchInfo>,
    /// When it arrived.
    pub added: u64,
    /// When its state last changed.
    pub changed: u64,
    /// The destination last asked for (`shared`, `profile:NAME`), or "".
    pub destination: String,
    /// Held by the user: the policy does not release it automatically.
    pub held: bool,
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

impl ItemInfo {
    /// The item as `Quarantine1` shows it under `transfers`: a transfer
    /// names where it goes and, once clean, why it waits if the policy
    /// holds it.
    pub fn with_transfers(item: &Item, transfers: &Transfers) -> ItemInfo {
        let mut info = ItemInfo::from(item);
        if let Some(transfer) = crate::transfer::of_item(item) {
            if info.destination.is_empty() {
                info.destination = transfer.destination().to_string();
            }
            if matches!(item.state, State::Clean) && info.detail.is_empty() {
                info.detail = transfers.waiting_reason(&transfer).unwrap_or_default();
            }
        }
        info
    }
}

impl From<&Item> for ItemInfo {
    fn from(item: &Item) -> Self {
        let matches = match (&item.state, &item.verdict) {
            (State::Infected { matches }, _) => matches.iter().map(MatchInfo::from).collect(),
            (_, Some(Verdict::Infected { matches })) => {
                matches.iter().map(MatchInfo::from).collect()
            }
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
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the epoch (civil-from-days).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `68 B`, `1.5 KiB`, `10.0 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ItemId;
    use std::collections::BTreeMap;
    use std::time::Duration;

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
        }
    }

    #[test]
    fn an_infected_item_carries_rule_author_and_description() {
        let info = ItemInfo::from(&infected());
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
    fn signatures_are_fixed() {
        assert_eq!(MatchInfo::SIGNATURE.to_string(), "(ssssasa{ss})");
        assert_eq!(
            ItemInfo::SIGNATURE.to_string(),
            "(tsssstssssa(ssssasa{ss})ttsb)"
        );
    }

    #[test]
    fn a_released_item_names_its_path() {
        let mut item = infected();
        item.state = State::Released {
            path: "/data/zion/shared/eicar.com".into(),
        };
        let info = ItemInfo::from(&item);
        assert_eq!(info.state, "released");
        assert_eq!(info.detail, "/data/zion/shared/eicar.com");
        // The verdict it was released with still shows its matches.
        assert_eq!(info.matches.len(), 1);
    }
}

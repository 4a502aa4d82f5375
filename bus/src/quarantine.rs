//! `org.zionos.Quarantine1`, served by `zion-sandboxd`: the quarantine's
//! items and rule matches as they travel (structs with fixed signatures), the
//! interface's proxy and its item signals in order, and the two ways items'
//! times and sizes are written for people (zionctl and the panel alike).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use zbus::zvariant::Type;

/// The bus name, which is also the interface's name.
pub const NAME: &str = "org.zionos.Quarantine1";
/// The object path.
pub const PATH: &str = "/org/zionos/Quarantine1";
/// Between an archive and its member in every report (`a.zip ▸ b.exe`), as
/// `zion_quarantine::MEMBER_SEPARATOR` joins nested members.
pub const MEMBER_SEPARATOR: &str = " ▸ ";
/// The prefix of the interface's error names.
pub const ERROR_PREFIX: &str = "org.zionos.Quarantine1.Error";

/// One matched rule: `(rule, namespace, author, description, tags, meta,
/// member)`.
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
    /// Where inside the item it matched: the member path through nested
    /// archives joined with " ▸ " (`inner.tar.gz ▸ docs/readme.exe`), or ""
    /// for the item itself.
    pub member: String,
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
    /// Where it was downloaded from (issue 17). An archive's origin is every
    /// member's: members have none of their own.
    pub origin: OriginInfo,
}

/// Where an item was downloaded from: `(url, referrer, provenance, note)`,
/// each "" when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct OriginInfo {
    /// The download's URL: http, https, ftp, or data (cut short); never with
    /// a user name or password.
    pub url: String,
    /// The page the download was started from.
    pub referrer: String,
    /// Who says so: `host` (the host observed the download) or `file` (the
    /// file's own attributes claim it: whoever wrote the file chose it).
    pub provenance: String,
    /// What was not recorded and why, in Zion's words.
    pub note: String,
}

impl OriginInfo {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.url.is_empty() && self.referrer.is_empty() && self.note.is_empty()
    }

    /// Who says so, as people read it.
    pub fn provenance_text(&self) -> &'static str {
        match self.provenance.as_str() {
            "host" => "observed by the host",
            "file" => "claimed by the file (not verified)",
            _ => "unknown",
        }
    }

    /// The origin as `(label, text)` lines, for zionctl and the panel alike;
    /// `archive` adds that every member shares it.
    pub fn lines(&self, archive: bool) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        if !self.url.is_empty() {
            out.push(("from", self.url.clone()));
        }
        if !self.referrer.is_empty() {
            out.push(("referrer", self.referrer.clone()));
        }
        let mut said = self.provenance_text().to_owned();
        if archive {
            said.push_str("; every member of the archive shares it");
        }
        out.push(("origin", said));
        if !self.note.is_empty() {
            out.push(("", self.note.clone()));
        }
        out
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

/// A proxy for `org.zionos.Quarantine1`.
#[zbus::proxy(
    interface = "org.zionos.Quarantine1",
    default_service = "org.zionos.Quarantine1",
    default_path = "/org/zionos/Quarantine1"
)]
pub trait Quarantine1 {
    /// Every item, oldest first.
    fn list(&self) -> zbus::Result<Vec<ItemInfo>>;
    /// One item.
    fn get(&self, id: u64) -> zbus::Result<ItemInfo>;
    /// Releases a clean item to `shared` or `profile:NAME`.
    fn release(&self, id: u64, destination: &str) -> zbus::Result<ItemInfo>;
    /// Releases whatever the verdict (the user's override).
    fn release_override(&self, id: u64, destination: &str) -> zbus::Result<ItemInfo>;
    /// Deletes an item.
    fn delete(&self, id: u64) -> zbus::Result<()>;
    /// Scans an item again.
    fn rescan(&self, id: u64) -> zbus::Result<()>;
    /// Holds an item or lets it go.
    fn hold(&self, id: u64, held: bool) -> zbus::Result<()>;
    /// Makes a safe copy of a PDF or image item in a converter with no
    /// network: the new item's id, the isolation (`gvisor` or
    /// `runc-hardened`) and a summary.
    fn sanitise(&self, id: u64) -> zbus::Result<(u64, String, String)>;
    /// The audit log: chain intact, entries, breaks found ("TIME: what").
    fn audit_status(&self) -> zbus::Result<(bool, u64, Vec<String>)>;
    /// Every released content a rule matched after its release (issue 17).
    fn recalls(&self) -> zbus::Result<Vec<crate::recall::RecallInfo>>;
    /// The recall released item `id` is a copy of.
    fn recall(&self, id: u64) -> zbus::Result<crate::recall::RecallInfo>;
    /// Moves every copy of item `id`'s recalled content that is still that
    /// content back into the quarantine, as a held item.
    fn move_back(&self, id: u64) -> zbus::Result<crate::recall::RecallInfo>;
    /// A released content was recalled (or its copies moved back).
    #[zbus(signal)]
    fn item_recalled(&self, recall: crate::recall::RecallInfo) -> zbus::Result<()>;
    /// The audit log's chain was found broken.
    #[zbus(signal)]
    fn audit_broken(&self, problem: String) -> zbus::Result<()>;
    /// A new item.
    #[zbus(signal)]
    fn item_added(&self, item: ItemInfo) -> zbus::Result<()>;
    /// An item changed.
    #[zbus(signal)]
    fn item_changed(&self, item: ItemInfo) -> zbus::Result<()>;
}

/// What an item signal said.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemEvent {
    /// `ItemAdded`.
    Added(ItemInfo),
    /// `ItemChanged`.
    Changed(ItemInfo),
}

/// `ItemAdded` and `ItemChanged` in the order the daemon sent them.
///
/// Two signal streams merged afterwards may deliver an item's first change
/// before its addition; one subscription to the whole interface keeps the
/// bus's own order. Subscribe before listing, so that nothing is missed.
pub async fn item_events(
    proxy: &Quarantine1Proxy<'_>,
) -> zbus::Result<impl futures_util::Stream<Item = zbus::Result<ItemEvent>> + Unpin + use<>> {
    use futures_util::StreamExt;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(proxy.inner().interface().clone())?
        .path(proxy.inner().path().clone())?
        .build();
    let stream =
        zbus::MessageStream::for_match_rule(rule, proxy.inner().connection(), None).await?;
    Ok(stream.filter_map(|message| std::future::ready(item_event(message))))
}

/// The item event a message carries, if it is one.
fn item_event(message: zbus::Result<zbus::Message>) -> Option<zbus::Result<ItemEvent>> {
    let message = match message {
        Ok(message) => message,
        Err(e) => return Some(Err(e)),
    };
    let header = message.header();
    let item = || message.body().deserialize::<ItemInfo>();
    match header.member()?.as_str() {
        "ItemAdded" => Some(item().map(ItemEvent::Added)),
        "ItemChanged" => Some(item().map(ItemEvent::Changed)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_fixed() {
        // The member path (issue 17) is the match's last field; the
        // origin (issue 17) the item's.
        assert_eq!(MatchInfo::SIGNATURE.to_string(), "(ssssasa{ss}s)");
        assert_eq!(
            ItemInfo::SIGNATURE.to_string(),
            "(tsssstssssa(ssssasa{ss}s)ttsb(ssss))"
        );
    }

    #[test]
    fn an_origin_says_who_claims_it() {
        let claimed = OriginInfo {
            url: "https://example.org/a.zip".into(),
            referrer: String::new(),
            provenance: "file".into(),
            note: "referrer not recorded: not UTF-8 text".into(),
        };
        assert_eq!(
            claimed.lines(true),
            vec![
                ("from", "https://example.org/a.zip".to_owned()),
                (
                    "origin",
                    "claimed by the file (not verified); every member of the archive shares it"
                        .to_owned()
                ),
                ("", "referrer not recorded: not UTF-8 text".to_owned()),
            ]
        );
        assert!(OriginInfo::default().lines(false).is_empty());
        let seen = OriginInfo {
            provenance: "host".into(),
            ..claimed
        };
        assert_eq!(seen.lines(false)[1].1, "observed by the host");
    }

    #[test]
    fn times_and_sizes_read_as_people_write_them() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(human_size(68), "68 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MiB");
    }
}

//! How the panel words an item: its badge, where it came from, its size, its
//! age and the time left before the policy releases it. Pure functions.

use std::time::Duration;

use zion_bus::quarantine::ItemInfo;
use zion_config::quarantine::{AutoRelease, Policy};

/// The state an item shows as a badge in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Badge {
    /// Arriving, stored or being scanned: no verdict yet.
    Scanning,
    /// Scanned clean, waiting for a release.
    Clean,
    /// A rule matched.
    Infected,
    /// The scan failed.
    Error,
    /// Larger than the scan limit: not scanned.
    TooLarge,
    /// Released (or being released) into storage.
    Released,
    /// Deleted from the quarantine.
    Deleted,
}

impl Badge {
    /// The badge of an item's `state` as `Quarantine1` words it.
    pub fn of(item: &ItemInfo) -> Badge {
        match item.state.as_str() {
            "clean" => Badge::Clean,
            "infected" => Badge::Infected,
            "error" => Badge::Error,
            "too_large" => Badge::TooLarge,
            "releasing" | "released" => Badge::Released,
            "deleted" => Badge::Deleted,
            // ingesting, stored, scanning and anything newer than this panel.
            _ => Badge::Scanning,
        }
    }

    /// The word on the badge.
    pub fn label(self) -> &'static str {
        match self {
            Badge::Scanning => "scanning",
            Badge::Clean => "clean",
            Badge::Infected => "infected",
            Badge::Error => "error",
            Badge::TooLarge => "too large",
            Badge::Released => "released",
            Badge::Deleted => "deleted",
        }
    }

    /// Whether a release needs the user's override (the verdict is not clean).
    pub fn needs_override(self) -> bool {
        matches!(self, Badge::Infected | Badge::Error | Badge::TooLarge)
    }

    /// Whether the item is still in the quarantine (actions apply to it).
    pub fn is_waiting(self) -> bool {
        !matches!(self, Badge::Released | Badge::Deleted)
    }
}

/// Where an item came from, as a person reads it: `sandbox:work/3` is a
/// download in work's browser sandbox 3, `profile:work → personal` a file
/// sent from work's outbox to personal.
pub fn source(item: &ItemInfo) -> String {
    if let Some(rest) = item.source.strip_prefix("sandbox:") {
        return match rest.split_once('/') {
            Some((profile, id)) => format!("sandbox {profile} #{id}"),
            None => format!("sandbox {rest}"),
        };
    }
    if let Some(rest) = item.source.strip_prefix("profile:") {
        return format!("profile {rest}");
    }
    // A download folder the daemon found but no sandbox registered names
    // the item after the folder, `sandbox-<profile>-<id>`.
    if let Some((profile, id)) = item
        .source
        .strip_prefix("sandbox-")
        .and_then(|rest| rest.rsplit_once('-'))
    {
        return format!("sandbox {profile} #{id}");
    }
    item.source.clone()
}

/// Whether the item was sent from a profile's outbox (not downloaded).
pub fn is_transfer(item: &ItemInfo) -> bool {
    item.source.starts_with("profile:")
}

/// `68 B`, `1.5 KiB`, `10.0 MiB`.
pub use zion_bus::quarantine::human_size as size;

/// A duration to the minute, as the largest one or two units: `3m`, `2h 5m`,
/// `4d 1h`. The panel's clock ticks once a minute, so it shows no seconds.
pub fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match () {
        _ if d > 0 => format!("{d}d {h}h"),
        _ if h > 0 => format!("{h}h {m}m"),
        _ => format!("{m}m"),
    }
}

/// How long ago `then` was at `now` (seconds since the epoch), to the minute.
pub fn age(now: u64, then: u64) -> String {
    let secs = now.saturating_sub(then);
    if secs < 60 {
        return "just now".to_owned();
    }
    format!("{} ago", minutes(Duration::from_secs(secs)))
}

/// When the policy releases `item` on its own (seconds since the epoch), if
/// it will: a clean, unheld download when `auto_release` is on; a clean,
/// unheld transfer whose pair's rule is `scan` (the daemon says why a
/// transfer waits in `detail`, so an empty detail means it does not).
pub fn auto_release_at(item: &ItemInfo, policy: &Policy) -> Option<u64> {
    if Badge::of(item) != Badge::Clean || item.held {
        return None;
    }
    if is_transfer(item) {
        return item
            .detail
            .is_empty()
            .then(|| item.changed + policy.transfer_hold.0.as_secs());
    }
    match policy.auto_release {
        AutoRelease::After(delay) => Some(item.changed + delay.as_secs()),
        AutoRelease::Never => None,
    }
}

/// `released in 5m` (to the minute, rounded up), `releasing now`, or nothing
/// when it is not known.
pub fn time_left(item: &ItemInfo, policy: Option<&Policy>, now: u64) -> Option<String> {
    let at = auto_release_at(item, policy?)?;
    Some(if at > now {
        let left = at.saturating_sub(now).div_ceil(60) * 60;
        format!("released in {}", minutes(Duration::from_secs(left)))
    } else {
        "releasing now".to_owned()
    })
}

pub use zion_bus::quarantine::utc;

#[cfg(test)]
mod tests {
    use super::*;
    use zion_config::quarantine::Hold;

    fn item(state: &str, source: &str) -> ItemInfo {
        ItemInfo {
            id: 1,
            name: "report.pdf".into(),
            safe_name: "report.pdf".into(),
            source: source.into(),
            profile: "work".into(),
            size: 1536,
            sha256: String::new(),
            state: state.into(),
            verdict: String::new(),
            detail: String::new(),
            matches: Vec::new(),
            added: 1000,
            changed: 1000,
            destination: String::new(),
            held: false,
            origin: Default::default(),
        }
    }

    #[test]
    fn every_daemon_state_has_a_badge() {
        let badge = |s| Badge::of(&item(s, "sandbox:work/1")).label();
        assert_eq!(badge("ingesting"), "scanning");
        assert_eq!(badge("stored"), "scanning");
        assert_eq!(badge("scanning"), "scanning");
        assert_eq!(badge("clean"), "clean");
        assert_eq!(badge("infected"), "infected");
        assert_eq!(badge("error"), "error");
        assert_eq!(badge("too_large"), "too large");
        assert_eq!(badge("releasing"), "released");
        assert_eq!(badge("released"), "released");
    }

    #[test]
    fn sources_read_as_sandbox_or_profile() {
        assert_eq!(source(&item("clean", "sandbox:work/3")), "sandbox work #3");
        assert_eq!(source(&item("clean", "sandbox-work-1")), "sandbox work #1");
        assert_eq!(source(&item("clean", "profile:work")), "profile work");
        assert_eq!(
            source(&item("clean", "profile:work → personal")),
            "profile work → personal"
        );
    }

    #[test]
    fn sizes_and_ages_read_as_people_say_them() {
        assert_eq!(size(68), "68 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(10 << 20), "10.0 MiB");
        assert_eq!(age(1059, 1000), "just now");
        assert_eq!(age(1000 + 200, 1000), "3m ago");
        assert_eq!(age(1000 + 7500, 1000), "2h 5m ago");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn a_clean_download_counts_down_to_auto_release() {
        let policy = Policy {
            auto_release: AutoRelease::After(Duration::from_secs(600)),
            ..Policy::default()
        };
        let clean = item("clean", "sandbox:work/1");
        assert_eq!(
            time_left(&clean, Some(&policy), 1000 + 350).as_deref(),
            Some("released in 5m")
        );
        assert_eq!(
            time_left(&clean, Some(&policy), 5000).as_deref(),
            Some("releasing now")
        );
        // Held, infected, or no policy known: nothing to count down.
        let held = ItemInfo {
            held: true,
            ..clean.clone()
        };
        assert_eq!(time_left(&held, Some(&policy), 1000), None);
        assert_eq!(
            time_left(&item("infected", "sandbox:work/1"), Some(&policy), 1000),
            None
        );
        assert_eq!(time_left(&clean, None, 1000), None);
        assert_eq!(time_left(&clean, Some(&Policy::default()), 1000), None);
    }

    #[test]
    fn a_transfer_waiting_for_review_has_no_countdown() {
        let policy = Policy {
            transfer_hold: Hold(Duration::from_secs(60)),
            ..Policy::default()
        };
        let scan = item("clean", "profile:work");
        assert_eq!(
            time_left(&scan, Some(&policy), 1030).as_deref(),
            Some("released in 1m")
        );
        let review = ItemInfo {
            detail: "work -> shared is review: you release it".into(),
            ..scan
        };
        assert_eq!(time_left(&review, Some(&policy), 1030), None);
    }
}

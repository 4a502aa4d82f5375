//! The hold/release policy: what should happen next to an item, as a pure
//! function of the item, the time and the `[quarantine]` settings.

use std::time::SystemTime;

use zion_storage::Destination;

use crate::ingest::IngestLimits;
use crate::item::Item;
use crate::state::State;
use crate::transfer::{self, Rule};

/// The `[quarantine]` types live in `zion-config`, which reads them when
/// `zion.toml` loads; re-exported here so that the panel keeps its imports.
pub use zion_config::quarantine::{AutoRelease, ByteSize, Hold, Policy};

/// The ingest limits the store enforces under `policy`.
pub fn limits(policy: &Policy) -> IngestLimits {
    IngestLimits {
        quota: policy.quota.0,
        reserve: policy.reserve.0,
    }
}

/// What the daemon should do with an item now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Scan it ([`crate::Store::begin_scan`]).
    Scan,
    /// Mark it too large to scan ([`crate::Store::mark_too_large`]).
    MarkTooLarge {
        /// The limit it exceeds.
        limit: u64,
    },
    /// Release it on the policy's behalf.
    Release {
        /// Where to.
        destination: Destination,
    },
}

/// What is due for `item` at `now` under `policy`, if anything. Infected,
/// failed, too-large and held items are never released by the policy.
pub fn due(item: &Item, now: SystemTime, policy: &Policy) -> Option<Action> {
    match item.state {
        State::Stored if item.size > policy.max_size.0 => Some(Action::MarkTooLarge {
            limit: policy.max_size.0,
        }),
        State::Stored => Some(Action::Scan),
        State::Clean => {
            let at = release_at(item, policy)?;
            let destination = match transfer::of_item(item) {
                Some(transfer) => transfer.destination(),
                None => policy.default_destination.clone(),
            };
            (now >= at).then_some(Action::Release { destination })
        }
        _ => None,
    }
}

/// When the policy will release `item`: a clean, unheld download with
/// auto-release on, or a clean, unheld transfer whose pair's rule is `scan`.
pub fn release_at(item: &Item, policy: &Policy) -> Option<SystemTime> {
    if !matches!(item.state, State::Clean) || item.held {
        return None;
    }
    if let Some(transfer) = transfer::of_item(item) {
        return match policy.transfers.rule(&transfer).0 {
            Rule::Scan => Some(item.changed + policy.transfer_hold.0),
            Rule::Review | Rule::Deny => None,
        };
    }
    match policy.auto_release {
        AutoRelease::After(delay) => Some(item.changed + delay),
        AutoRelease::Never => None,
    }
}

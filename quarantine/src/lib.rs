//! Zion's quarantine: where downloads and transfers wait, are scanned, and are
//! released.

pub mod verdict;

pub use verdict::{RuleMatch, Verdict};

//! The scanner: YARA rules compiled once (and again when a rule file
//! changes), and objects scanned in `zion-scan-worker` processes that
//! Landlock and rlimits confine. A worker that crashes, hangs or talks
//! nonsense gives `Verdict::Error`, never `Clean`.
//!
//! Wiring: compile with [`CompiledRules::compile`] and [`CompiledRules::save`],
//! make a [`Scanner`] over the saved file, start a [`RuleWatcher`] whose
//! [`RulesEvent::Recompiled`] calls [`Scanner::reload`] and rescans held items.

mod client;
pub mod confine;
mod protocol;
mod rules;
#[doc(hidden)] // test-only behaviour of the worker
pub mod selftest;
mod watch;
#[doc(hidden)] // for the zion-scan-worker binary only
pub mod worker;

pub use client::{default_worker_exe, Scanner, ScannerConfig, ScannerError, WORKER_NAME};
pub use confine::{Confinement, LandlockEnforcement, Limits};
pub use rules::{
    is_rule_file, load_compiled, rule_files, CompiledRules, RuleDiagnostic, RuleFolder,
    RuleSources, RulesError, DEFAULT_NAMESPACE,
};
pub use watch::{RuleWatcher, RulesEvent};

//! The scanner: YARA rules (libyara's or YARA-X's, see [`Engine`]) compiled once (and again when a rule file
//! changes), and objects scanned in `zion-scan-worker` processes confined by
//! namespaces, rlimits, Landlock and a seccomp allow-list, one set of workers
//! per source (a worker never scans two sources' objects). A worker that crashes, hangs or talks
//! nonsense gives `Verdict::Error`, never `Clean`. Archives are unpacked in
//! the worker too ([`archive`]): every member is scanned and named by its
//! member path; bombs, encrypted and corrupt archives are never clean.
//!
//! Wiring: compile with [`CompiledRules::compile`] and [`CompiledRules::save`],
//! make a [`Scanner`] over the saved file, start a [`RuleWatcher`] whose
//! [`RulesEvent::Recompiled`] calls [`Scanner::reload`] and rescans held items.

pub mod archive;
mod client;
pub mod confine;
mod engine;
mod namespace;
mod protocol;
mod rules;
mod seccomp;
#[doc(hidden)] // test-only behaviour of the worker
pub mod selftest;
mod watch;
#[doc(hidden)] // for the zion-scan-worker binary only
pub mod worker;
#[cfg(feature = "yara-x")]
mod yarax;

pub use client::{
    default_worker_exe, Scanner, ScannerConfig, ScannerError, UNATTRIBUTED, WORKER_NAME,
};
pub use confine::{Confinement, LandlockEnforcement, Limits, Namespaces};
pub use engine::Engine;
pub use rules::{
    is_rule_file, load_compiled, rule_files, CompiledRules, RuleDiagnostic, RuleFolder,
    RuleSources, RulesError, DEFAULT_NAMESPACE,
};
pub use watch::{RuleWatcher, RulesEvent};

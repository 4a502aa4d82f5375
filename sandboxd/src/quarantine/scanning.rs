//! The scanner the pipeline calls: zion-scanner's YARA rules, compiled at
//! start and again when a rule file changes by the engine `[quarantine]
//! engine` names (libyara or YARA-X), scanned in confined `zion-scan-worker`
//! processes. A recompile rescans what the quarantine holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use zion_config::quarantine::{Archives, ScanEngine};
use zion_quarantine::{StateKind, Store};
use zion_scanner::archive::ArchiveLimits;
use zion_scanner::{
    default_worker_exe, CompiledRules, Engine, RuleSources, RuleWatcher, RulesEvent, Scanner,
    ScannerConfig,
};

use super::service::ScanFn;
use super::QuarantineArgs;
use crate::SessionPaths;

/// The scanner and what keeps its rules current.
pub struct Scanning {
    /// What the pipeline calls.
    pub scan: ScanFn,
    /// Recompiles on rule changes; stops when dropped.
    pub watcher: Option<RuleWatcher>,
    /// The scanner itself (the retro-hunt scans released copies with it).
    pub scanner: Arc<Scanner>,
    /// The rule folders.
    pub sources: RuleSources,
    /// A message after each recompile (the retro-hunt's cue).
    pub rules_changed: std::sync::mpsc::Receiver<()>,
}

/// Where the default rules are: `--rules`/`$ZION_RULES`, else the installed
/// ones, else those of a development checkout beside `target/`.
pub fn default_rules(args: &QuarantineArgs) -> PathBuf {
    if let Some(dir) = &args.rules {
        return dir.clone();
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    let mut candidates = vec![PathBuf::from("/usr/share/zion/rules")];
    if let Some(dir) = exe_dir {
        candidates.push(dir.join("../share/zion/rules"));
        candidates.push(dir.join("../../session-files/rules"));
    }
    candidates
        .iter()
        .find(|d| d.is_dir())
        .cloned()
        .unwrap_or_else(|| candidates[0].clone())
}

/// Compiles the rules (default folder plus the user's `$XDG_CONFIG_HOME/zion/rules`),
/// starts the first worker and the rule watcher. Blocking.
pub fn start(
    args: &QuarantineArgs,
    paths: &SessionPaths,
    store: Arc<Store>,
    archives: Archives,
    engine: ScanEngine,
) -> anyhow::Result<Scanning> {
    let engine = scan_engine(engine);
    let mut sources = RuleSources::new(default_rules(args)).with_engine(engine);
    if let Some(user_rules) = paths.user_rules() {
        sources = sources.with_user_dir(user_rules);
    }
    let rules_file = paths.quarantine().join("rules.compiled");
    let mut compiled = CompiledRules::compile(&sources)
        .with_context(|| format!("compiling the YARA rules with {engine}"))?;
    compiled
        .save(&rules_file)
        .context("saving the compiled rules")?;
    tracing::info!(
        "YARA rules: {} rules from {} files, engine {engine}",
        compiled.rule_count,
        compiled.files.len()
    );
    let mut config = ScannerConfig::new(&rules_file);
    config.engine = engine;
    config.worker_exe = args.scan_worker.clone().unwrap_or_else(default_worker_exe);
    config.max_idle_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    config.archive = archive_limits(archives);
    let scanner = Arc::new(Scanner::new(config).context("starting the scan worker")?);
    // The scanner logs the confinement its first worker reported.
    let reloaded = scanner.clone();
    let (rules_tx, rules_changed) = std::sync::mpsc::channel();
    let watcher = RuleWatcher::start(sources.clone(), rules_file, move |event| match event {
        RulesEvent::Recompiled { rule_count, files } => {
            reloaded.reload();
            tracing::info!(
                "rules changed ({rule_count} rules, {files} files): rescanning the quarantine"
            );
            rescan_all(&store);
            let _ = rules_tx.send(());
        }
        RulesEvent::Rejected(e) => tracing::warn!("{e}"),
    });
    let watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("rule changes will not be noticed until a restart: {e}");
            None
        }
    };
    // Each source gets its own workers: a file that exploited libyara sees
    // no other source's files and decides no other source's verdicts.
    let scanning = scanner.clone();
    let scan: ScanFn = Arc::new(move |source: &str, path: &Path| scanning.scan_for(source, path));
    Ok(Scanning {
        scan,
        watcher,
        scanner,
        sources,
        rules_changed,
    })
}

/// The scanner's engine for `[quarantine] engine`.
pub fn scan_engine(engine: ScanEngine) -> Engine {
    match engine {
        ScanEngine::Yara => Engine::Yara,
        ScanEngine::YaraX => Engine::YaraX,
    }
}

/// The scanner's archive limits from `[quarantine] archives` (the ratio's
/// floor stays the scanner's own).
pub fn archive_limits(a: Archives) -> ArchiveLimits {
    ArchiveLimits {
        max_depth: a.depth,
        max_members: a.members,
        max_unpacked: a.unpacked.0,
        max_ratio: a.ratio,
        ..ArchiveLimits::default()
    }
}

/// Sends every item that has a verdict back to be scanned with the new rules.
fn rescan_all(store: &Store) {
    let items = match store.list() {
        Ok(items) => items,
        Err(e) => {
            tracing::warn!("cannot rescan after a rule change: {e}");
            return;
        }
    };
    for item in items {
        if matches!(
            item.state.kind(),
            StateKind::Clean | StateKind::Infected | StateKind::Error
        ) {
            if let Err(e) = store.rescan(item.id) {
                tracing::warn!("quarantine item {}: no rescan: {e}", item.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_configured_engine_is_the_scanners_engine_of_the_same_name() {
        for engine in [ScanEngine::Yara, ScanEngine::YaraX] {
            assert_eq!(scan_engine(engine).as_str(), engine.as_str());
        }
        assert_eq!(scan_engine(ScanEngine::default()), Engine::default());
    }

    #[test]
    fn the_configured_archive_defaults_are_the_scanners_own() {
        assert_eq!(
            archive_limits(Archives::default()),
            ArchiveLimits::default()
        );
    }
}

//! Recompiling the rules when a rule file changes (notify), so that held items
//! can be rescanned with them. A change that breaks a file leaves the rules in
//! force untouched and is reported.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::rules::{is_rule_file, CompiledRules, RuleSources, RulesError};

/// Quiet time after the last change before recompiling (editors write a file
/// in several steps).
const SETTLE: Duration = Duration::from_millis(300);

/// What the watcher did after rule files changed.
#[derive(Debug)]
pub enum RulesEvent {
    /// The rules were recompiled and saved: reload the scanner and rescan
    /// held items.
    Recompiled {
        /// Rules now in force.
        rule_count: usize,
        /// Rule files they came from.
        files: usize,
    },
    /// The new rules do not compile (file, line, message); the saved rules
    /// are unchanged and stay in force.
    Rejected(RulesError),
}

/// Watches the rule folders and recompiles on change.
pub struct RuleWatcher {
    watcher: Option<RecommendedWatcher>,
    stop: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

enum Message {
    Changed(notify::Result<notify::Event>),
    Stop,
}

impl RuleWatcher {
    /// Starts watching `sources`; each recompile is saved to `rules_file` and
    /// reported to `on_event` (from the watcher's thread).
    pub fn start(
        sources: RuleSources,
        rules_file: PathBuf,
        mut on_event: impl FnMut(RulesEvent) + Send + 'static,
    ) -> Result<Self, RulesError> {
        let (tx, rx) = mpsc::channel();
        let events = tx.clone();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = events.send(Message::Changed(event));
        })
        .map_err(|e| watch_error(&sources.default_dir, e))?;
        let folders = std::iter::once(&sources.default_dir).chain(&sources.user_dirs);
        for dir in folders {
            if dir.is_dir() {
                watcher
                    .watch(dir, RecursiveMode::Recursive)
                    .map_err(|e| watch_error(dir, e))?;
            }
        }
        let thread = std::thread::Builder::new()
            .name("zion-rule-watcher".into())
            .spawn(move || loop {
                match rx.recv() {
                    Ok(Message::Changed(Ok(event))) if is_relevant(&event) => {
                        if !settle(&rx) {
                            return;
                        }
                        on_event(recompile(&sources, &rules_file));
                    }
                    Ok(Message::Changed(Ok(_))) => {}
                    Ok(Message::Changed(Err(e))) => {
                        tracing::warn!("rule watcher: {e}");
                    }
                    Ok(Message::Stop) | Err(_) => return,
                }
            })
            .map_err(|e| RulesError::Watch {
                path: PathBuf::new(),
                reason: format!("cannot start the watcher thread: {e}"),
            })?;
        Ok(RuleWatcher {
            watcher: Some(watcher),
            stop: tx,
            thread: Some(thread),
        })
    }
}

impl Drop for RuleWatcher {
    fn drop(&mut self) {
        self.watcher.take();
        let _ = self.stop.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits until no change arrived for [`SETTLE`]; false when told to stop.
fn settle(rx: &mpsc::Receiver<Message>) -> bool {
    loop {
        match rx.recv_timeout(SETTLE) {
            Ok(Message::Changed(_)) => continue,
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
            Err(RecvTimeoutError::Timeout) => return true,
        }
    }
}

fn recompile(sources: &RuleSources, rules_file: &Path) -> RulesEvent {
    let result = CompiledRules::compile(sources).and_then(|mut compiled| {
        compiled.save(rules_file)?;
        Ok(compiled)
    });
    match result {
        Ok(compiled) => {
            tracing::info!(
                "rules recompiled: {} rules from {} files",
                compiled.rule_count,
                compiled.files.len()
            );
            RulesEvent::Recompiled {
                rule_count: compiled.rule_count,
                files: compiled.files.len(),
            }
        }
        Err(e) => {
            tracing::warn!("rules not changed: {e}");
            RulesEvent::Rejected(e)
        }
    }
}

/// A change to a rule file or a folder; reads and opens are not changes.
fn is_relevant(event: &notify::Event) -> bool {
    let changes = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    changes
        && event
            .paths
            .iter()
            .any(|p| is_rule_file(p) || p.extension().is_none())
}

fn watch_error(dir: &Path, e: notify::Error) -> RulesError {
    RulesError::Watch {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    }
}

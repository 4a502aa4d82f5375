//! Recompiling the rules when a rule file changes (notify), so that held items
//! can be rescanned with them. A change that breaks a file leaves the rules in
//! force untouched and is reported. A rule folder that does not exist yet (the
//! user's, before they made it) is looked out for from its nearest existing
//! parent and watched as soon as it appears.

use std::collections::HashSet;
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
    stop: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

/// The rule folders and the watches on them, owned by the watcher's thread.
struct Folders {
    watcher: RecommendedWatcher,
    /// Every rule folder, and whether it is watched (recursively) now.
    dirs: Vec<(PathBuf, bool)>,
    /// Parents watched (not recursively) to see a missing rule folder appear.
    lookouts: HashSet<PathBuf>,
}

impl Folders {
    /// Watches each rule folder that exists and is not watched yet, forgets
    /// those that went away, and for each missing one watches its nearest
    /// existing parent. True when a rule folder appeared or went away.
    fn arm(&mut self) -> bool {
        let mut changed = false;
        for (dir, watched) in self.dirs.iter_mut() {
            let exists = dir.is_dir();
            if exists && !*watched {
                match self.watcher.watch(dir, RecursiveMode::Recursive) {
                    Ok(()) => {
                        tracing::info!("rule folder {} appeared; watching it", dir.display());
                        *watched = true;
                        changed = true;
                    }
                    Err(e) => tracing::warn!("cannot watch the rule folder {}: {e}", dir.display()),
                }
            } else if !exists && *watched {
                // Its watch died with it.
                let _ = self.watcher.unwatch(dir);
                *watched = false;
                changed = true;
            }
        }
        let missing: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|(_, watched)| !*watched)
            .map(|(dir, _)| dir.clone())
            .collect();
        for dir in &missing {
            let Some(parent) = dir.ancestors().skip(1).find(|a| a.is_dir()) else {
                continue;
            };
            // Inside a watched rule folder: its recursive watch sees it.
            let covered = self
                .dirs
                .iter()
                .any(|(d, watched)| *watched && parent.starts_with(d));
            if covered || !self.lookouts.insert(parent.to_path_buf()) {
                continue;
            }
            if let Err(e) = self.watcher.watch(parent, RecursiveMode::NonRecursive) {
                tracing::warn!(
                    "cannot watch {} for the rule folder {}: {e}",
                    parent.display(),
                    dir.display()
                );
                self.lookouts.remove(parent);
            }
        }
        // Every folder is there: stop listening to their parents (a removed
        // folder's own watch reports its removal, and a lookout returns).
        if missing.is_empty() {
            for parent in self.lookouts.drain() {
                let _ = self.watcher.unwatch(&parent);
            }
        }
        changed
    }

    /// Whether `event` changes the rules: a rule file or folder under a
    /// watched rule folder changed, or a rule folder appeared or went away.
    /// Anything else in a lookout parent (`~/.config`) is not a change.
    fn notice(&mut self, event: &notify::Event) -> bool {
        let on_the_way = event
            .paths
            .iter()
            .any(|p| self.dirs.iter().any(|(dir, _)| dir.starts_with(p)));
        let appeared_or_went = on_the_way && self.arm();
        let inside = event.paths.iter().any(|p| {
            self.dirs
                .iter()
                .any(|(dir, watched)| *watched && p.starts_with(dir))
        });
        appeared_or_went || (inside && is_relevant(event))
    }
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
        let mut dirs = Vec::new();
        for dir in std::iter::once(&sources.default_dir).chain(&sources.user_dirs) {
            let exists = dir.is_dir();
            if exists {
                watcher
                    .watch(dir, RecursiveMode::Recursive)
                    .map_err(|e| watch_error(dir, e))?;
            }
            dirs.push((dir.clone(), exists));
        }
        let mut folders = Folders {
            watcher,
            dirs,
            lookouts: HashSet::new(),
        };
        // Missing folders: look out for them. One made between the look at
        // start and the lookout's watch is found by the first event there.
        folders.arm();
        let thread = std::thread::Builder::new()
            .name("zion-rule-watcher".into())
            .spawn(move || loop {
                match rx.recv() {
                    Ok(Message::Changed(Ok(event))) => {
                        if !folders.notice(&event) {
                            continue;
                        }
                        if !settle(&rx, &mut folders) {
                            return;
                        }
                        // A folder made (and filled) while settling is in.
                        folders.arm();
                        on_event(recompile(&sources, &rules_file));
                    }
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
            stop: tx,
            thread: Some(thread),
        })
    }
}

impl Drop for RuleWatcher {
    fn drop(&mut self) {
        // The thread drops the notify watcher (and its watches) as it ends.
        let _ = self.stop.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits until no change arrived for [`SETTLE`], watching rule folders
/// that appear meanwhile; false when told to stop.
fn settle(rx: &mpsc::Receiver<Message>, folders: &mut Folders) -> bool {
    loop {
        match rx.recv_timeout(SETTLE) {
            Ok(Message::Changed(Ok(event))) => {
                folders.notice(&event);
            }
            Ok(Message::Changed(Err(_))) => continue,
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

//! Hot reload of `zion.toml`: what a new configuration changes against the
//! running one (a pure diff), and a watcher of the file's folder that says
//! when the file has settled after an edit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{INotifyWatcher, RecursiveMode, Watcher};
use zion_config::{Config, Profile};

/// What moving from one configuration to another does to the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Profiles new in the file: they are started.
    pub added: Vec<String>,
    /// Profiles gone from the file: they are stopped (their files are kept).
    pub removed: Vec<String>,
    /// Profiles whose changed fields apply at once: (profile, fields).
    pub live: Vec<(String, Vec<&'static str>)>,
    /// Profiles whose changed fields apply only when they restart: (profile,
    /// fields). These are not applied to the running container.
    pub needs_restart: Vec<(String, Vec<&'static str>)>,
    /// Session-wide sections that changed and apply at once (`hotkeys`,
    /// the desktop `order`).
    pub session_live: Vec<&'static str>,
    /// Session-wide sections that changed and need the daemon restarted
    /// (`quarantine`).
    pub daemon_restart: Vec<&'static str>,
}

impl ReloadPlan {
    /// Whether the new configuration changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &ReloadPlan::default()
    }

    /// What the user must do for the changes not applied: one line each,
    /// `needs restart: <profile>: <fields>`.
    pub fn pending(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .needs_restart
            .iter()
            .map(|(name, fields)| {
                format!(
                    "needs restart: {name}: {} (`zionctl profiles stop {name}` then `start {name}`)",
                    fields.join(", ")
                )
            })
            .collect();
        if !self.daemon_restart.is_empty() {
            out.push(format!(
                "needs restart: zion-sandboxd: [{}]",
                self.daemon_restart.join("], [")
            ));
        }
        out
    }

    /// One line for the log: what was added, removed and changed.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!("added {}", self.added.join(", ")));
        }
        if !self.removed.is_empty() {
            parts.push(format!("removed {}", self.removed.join(", ")));
        }
        for (name, fields) in &self.live {
            parts.push(format!("{name}: {} applied", fields.join(", ")));
        }
        if !self.session_live.is_empty() {
            parts.push(format!("{} applied", self.session_live.join(", ")));
        }
        parts.extend(self.pending());
        if parts.is_empty() {
            "no change".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// The fields of a profile that change the running session as soon as the
/// configuration is read again: frames, the idle timer, the next autostart,
/// the terminal, the hotkey and the restart policy.
fn live_fields(old: &Profile, new: &Profile) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |changed: bool, field: &'static str| {
        if changed {
            out.push(field);
        }
    };
    check(old.label != new.label, "label");
    check(old.colour != new.colour, "colour");
    check(old.autostart != new.autostart, "autostart");
    check(old.terminal != new.terminal, "terminal");
    check(
        old.hibernate_after != new.hibernate_after,
        "hibernate_after",
    );
    check(old.hotkey != new.hotkey, "hotkey");
    check(old.restart != new.restart, "restart");
    check(old.hibernate != new.hibernate, "hibernate");
    out
}

/// The fields that shape the container itself: they apply when the profile
/// is next started from a stopped state.
fn restart_fields(old: &Profile, new: &Profile) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |changed: bool, field: &'static str| {
        if changed {
            out.push(field);
        }
    };
    check(old.image != new.image, "image");
    check(old.cpus != new.cpus, "cpus");
    check(old.memory != new.memory, "memory");
    check(old.pids != new.pids, "pids");
    check(old.devices != new.devices, "devices");
    check(old.network != new.network, "network");
    check(old.capabilities != new.capabilities, "capabilities");
    check(old.binds != new.binds, "binds");
    out
}

/// What replacing `old` with `new` does. Pure.
pub fn plan(old: &Config, new: &Config) -> ReloadPlan {
    let before: HashMap<&str, &Profile> =
        old.profiles.iter().map(|p| (p.name.as_ref(), p)).collect();
    let after: HashMap<&str, &Profile> =
        new.profiles.iter().map(|p| (p.name.as_ref(), p)).collect();
    let mut plan = ReloadPlan::default();
    for p in &new.profiles {
        let name = p.name.as_ref();
        match before.get(name) {
            None => plan.added.push(name.to_owned()),
            Some(was) => {
                let live = live_fields(was, p);
                if !live.is_empty() {
                    plan.live.push((name.to_owned(), live));
                }
                let restart = restart_fields(was, p);
                if !restart.is_empty() {
                    plan.needs_restart.push((name.to_owned(), restart));
                }
            }
        }
    }
    plan.removed = old
        .profiles
        .iter()
        .map(|p| p.name.as_ref())
        .filter(|name| !after.contains_key(name))
        .map(str::to_owned)
        .collect();
    let kept_order = |c: &Config| -> Vec<String> {
        c.profiles
            .iter()
            .map(|p| p.name.to_string())
            .filter(|n| before.contains_key(n.as_str()) && after.contains_key(n.as_str()))
            .collect()
    };
    if kept_order(old) != kept_order(new) {
        plan.session_live.push("order");
    }
    if old.hotkeys != new.hotkeys {
        plan.session_live.push("hotkeys");
    }
    if old.quarantine != new.quarantine {
        plan.daemon_restart.push("quarantine");
    }
    // The pool, runtime and browser are read when the sandboxes start.
    if old.sandbox != new.sandbox {
        plan.daemon_restart.push("sandbox");
    }
    plan
}

/// How long the file must stay quiet after a change before it is read:
/// editors write in several steps (temporary file, rename, chmod).
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Watches the folder of a configuration file (so that editors that replace
/// the file, rather than write into it, are seen too) and reports each
/// settled change to that file.
pub struct ConfigWatcher {
    // Kept for its inotify watch; dropping it ends the watch.
    _watcher: INotifyWatcher,
    events: tokio::sync::mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    file: PathBuf,
}

impl ConfigWatcher {
    /// Starts watching `file`'s folder, creating the folder if it is missing
    /// (a session without a config file yet still sees one appear).
    pub fn new(file: &Path) -> anyhow::Result<ConfigWatcher> {
        use anyhow::Context;
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the config folder {}", dir.display()))?;
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let mut watcher = INotifyWatcher::new(
            move |event| {
                // The receiver gone means the daemon is ending.
                let _ = tx.send(event);
            },
            notify::Config::default(),
        )
        .context("starting inotify for the config file")?;
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("watching {} for config changes", dir.display()))?;
        Ok(ConfigWatcher {
            _watcher: watcher,
            events,
            file: file.to_owned(),
        })
    }

    /// Waits for the next change to the file, then for [`DEBOUNCE`] without
    /// another. `None` when the watch has ended.
    pub async fn changed(&mut self) -> Option<()> {
        loop {
            let event = self.events.recv().await?;
            if self.concerns_file(&event) {
                break;
            }
        }
        loop {
            match tokio::time::timeout(DEBOUNCE, self.events.recv()).await {
                Err(_) => return Some(()),
                Ok(None) => return None,
                Ok(Some(_)) => continue,
            }
        }
    }

    fn concerns_file(&self, event: &notify::Result<notify::Event>) -> bool {
        match event {
            Ok(event) => {
                !matches!(event.kind, notify::EventKind::Access(_))
                    && (event.need_rescan()
                        || event
                            .paths
                            .iter()
                            .any(|p| p.file_name() == self.file.file_name()))
            }
            Err(err) => {
                tracing::warn!("watching {}: {err}", self.file.display());
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zion_config::{HibernateAfter, Restart};

    fn config(text: &str) -> Config {
        match Config::parse(text, Path::new("zion.toml")) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    const BASE: &str = "[[profile]]\nname = \"work\"\n\n[[profile]]\nname = \"personal\"\n";

    #[test]
    fn the_same_file_changes_nothing() {
        let plan = plan(&config(BASE), &config(BASE));
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(plan.summary(), "no change");
    }

    #[test]
    fn a_new_profile_is_added_and_a_missing_one_removed() {
        let new = config("[[profile]]\nname = \"work\"\n\n[[profile]]\nname = \"gaming\"\n");
        let plan = plan(&config(BASE), &new);
        assert_eq!(plan.added, ["gaming"]);
        assert_eq!(plan.removed, ["personal"]);
        assert!(plan.live.is_empty() && plan.needs_restart.is_empty());
        assert!(plan.pending().is_empty());
    }

    #[test]
    fn frames_timers_apps_and_policy_apply_live() {
        let mut new = config(BASE);
        let work = &mut new.profiles[0];
        work.colour = "#ff0000".parse().expect("colour");
        work.label = "Job".into();
        work.hibernate_after = HibernateAfter::Never;
        work.autostart = vec![vec!["foot".into()]];
        work.restart = Restart::Never;
        let plan = plan(&config(BASE), &new);
        assert_eq!(
            plan.live,
            [(
                "work".to_owned(),
                vec!["label", "colour", "autostart", "hibernate_after", "restart"]
            )]
        );
        assert!(plan.needs_restart.is_empty(), "{plan:?}");
        assert!(plan.pending().is_empty());
    }

    #[test]
    fn container_fields_need_a_restart_and_say_so() {
        let new = config(
            "[[profile]]\nname = \"work\"\nimage = \"other:1\"\nmemory = \"1GiB\"\nnetwork = \"none\"\ndevices = [\"gpu\"]\n\n[[profile]]\nname = \"personal\"\ncpus = 2\n\n[[profile.binds]]\nhost = \"/srv\"\ntarget = \"/srv\"\n",
        );
        let plan = plan(&config(BASE), &new);
        assert_eq!(
            plan.needs_restart,
            [
                (
                    "work".to_owned(),
                    vec!["image", "memory", "devices", "network"]
                ),
                ("personal".to_owned(), vec!["cpus", "binds"]),
            ]
        );
        assert!(plan.live.is_empty());
        let pending = plan.pending();
        assert!(
            pending[0].starts_with("needs restart: work: image, memory, devices, network"),
            "{pending:?}"
        );
        assert!(pending[1].starts_with("needs restart: personal: cpus, binds"));
    }

    #[test]
    fn a_changed_sandbox_section_says_the_daemon_needs_a_restart() {
        let new = config(&format!("{BASE}\n[sandbox]\nruntime = \"gvisor\"\n"));
        let plan = plan(&config(BASE), &new);
        assert_eq!(plan.daemon_restart, ["sandbox"]);
        assert_eq!(plan.pending(), ["needs restart: zion-sandboxd: [sandbox]"]);
    }

    #[test]
    fn session_wide_sections_are_told_apart() {
        let new = config(
            "[[profile]]\nname = \"personal\"\n\n[[profile]]\nname = \"work\"\n\n[hotkeys]\n\"Super+W\" = \"none\"\n\n[quarantine]\nmax_size = \"1GiB\"\n",
        );
        let plan = plan(&config(BASE), &new);
        assert_eq!(plan.session_live, ["order", "hotkeys"]);
        assert_eq!(plan.daemon_restart, ["quarantine"]);
        assert_eq!(
            plan.pending(),
            ["needs restart: zion-sandboxd: [quarantine]"]
        );
    }
}

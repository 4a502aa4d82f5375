//! What the panel needs to know before it starts: which bus, where the
//! quarantine's objects are (to guess types), and from zion.toml the
//! profiles (release destinations) and the policy (auto-release countdowns).

use std::path::{Path, PathBuf};
use std::time::Duration;

use zion_config::quarantine::Policy;
use zion_config::SessionPaths;

/// The panel's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The bus address, or `None` for the session bus.
    pub bus_address: Option<String>,
    /// The store's `objects/` folder, read to guess MIME types.
    pub objects: Option<PathBuf>,
    /// The profiles zion.toml names.
    pub profiles: Vec<String>,
    /// zion.toml's `[quarantine]`, if it could be read.
    pub policy: Option<Policy>,
    /// Why zion.toml could not be used, if it could not (shown, not fatal).
    pub config_problem: Option<String>,
    /// How often to try again while the daemon is not there.
    pub retry: Duration,
    /// How long the daemon has to answer when the panel connects (to be
    /// listed); then the panel says it did not, and tries again.
    pub answer: Duration,
    /// An item to open once it is listed.
    pub select: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bus_address: None,
            objects: None,
            profiles: Vec::new(),
            policy: None,
            config_problem: None,
            retry: Duration::from_secs(3),
            answer: Duration::from_secs(10),
            select: None,
        }
    }
}

impl Config {
    /// Reads the environment as zion-sandboxd does (one path layout,
    /// `zion_config::SessionPaths`): zion.toml unless `config_file` is given,
    /// and the quarantine's objects under `XDG_DATA_HOME`.
    pub fn from_env(config_file: Option<&Path>) -> Config {
        let paths = SessionPaths::from_env();
        let file = config_file.map_or_else(|| paths.config_file.clone(), Path::to_path_buf);
        let mut config = Config {
            objects: Some(paths.store().objects),
            ..Config::default()
        };
        match std::fs::read_to_string(&file) {
            Ok(text) => config.apply(&text, &file),
            // No zion.toml is a valid setup: the daemon's defaults apply.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                config.apply_config(&zion_config::Config::defaults());
            }
            Err(e) => config.config_problem = Some(format!("cannot read {}: {e}", file.display())),
        }
        config
    }

    /// Takes the profiles and the policy from zion.toml's text, parsed and
    /// checked as every Zion process does; a file the daemon would refuse is
    /// reported (with its line), not fatal.
    pub fn apply(&mut self, text: &str, file: &Path) {
        match zion_config::Config::parse(text, file) {
            Ok(parsed) => self.apply_config(&parsed),
            Err(e) => self.config_problem = Some(e.to_string()),
        }
    }

    fn apply_config(&mut self, config: &zion_config::Config) {
        self.profiles = config.profiles.iter().map(|p| p.name.to_string()).collect();
        self.policy = Some(config.quarantine.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zion_config::quarantine::AutoRelease;

    const PROFILES: &str = "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\n\n\
                            [[profile]]\nname = \"personal\"\ncolour = \"#4e9a06\"\n\n";

    #[test]
    fn profiles_and_policy_come_from_zion_toml() {
        let mut config = Config::default();
        let text = format!("{PROFILES}[quarantine]\nauto_release = \"10m\"\n");
        config.apply(&text, Path::new("/c/zion.toml"));
        assert_eq!(config.config_problem, None);
        assert_eq!(config.profiles, vec!["work", "personal"]);
        assert_eq!(
            config.policy.map(|p| p.auto_release),
            Some(AutoRelease::After(Duration::from_secs(600)))
        );
    }

    #[test]
    fn a_bad_quarantine_table_is_reported_with_its_line_not_fatal() {
        let mut config = Config::default();
        let text = format!("{PROFILES}[quarantine]\nauto_release = \"soon\"\n");
        config.apply(&text, Path::new("/c/zion.toml"));
        assert!(config.policy.is_none());
        let problem = config.config_problem.unwrap_or_default();
        assert!(problem.starts_with("/c/zion.toml:10"), "{problem}");
        assert!(problem.contains("auto_release"), "{problem}");
    }
}

//! What the panel needs to know before it starts: which bus, where the
//! quarantine's objects are (to guess types), and from zion.toml the
//! profiles (release destinations) and the policy (auto-release countdowns).

use std::path::{Path, PathBuf};
use std::time::Duration;

use zion_quarantine::policy::Policy;

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
            select: None,
        }
    }
}

impl Config {
    /// Reads the environment as zion-sandboxd does: `XDG_CONFIG_HOME` (else
    /// `~/.config`) for zion.toml unless `config_file` is given,
    /// `XDG_DATA_HOME` (else `~/.local/share`) for the quarantine.
    pub fn from_env(config_file: Option<&Path>) -> Config {
        let var = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let home = var("HOME");
        let config_dir =
            var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
        let data_dir =
            var("XDG_DATA_HOME").or_else(|| home.as_ref().map(|h| h.join(".local/share")));
        let file = config_file
            .map(Path::to_path_buf)
            .or_else(|| config_dir.map(|d| d.join("zion/zion.toml")));
        let mut config = Config {
            objects: data_dir.map(|d| d.join("zion/quarantine/objects")),
            ..Config::default()
        };
        if let Some(file) = file {
            match std::fs::read_to_string(&file) {
                Ok(text) => config.apply(&text, &file),
                // No zion.toml is a valid setup: the daemon's defaults apply.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    config.policy = Some(Policy::default());
                }
                Err(e) => {
                    config.config_problem = Some(format!("cannot read {}: {e}", file.display()))
                }
            }
        }
        config
    }

    /// Takes the profiles and the policy from zion.toml's text.
    pub fn apply(&mut self, text: &str, file: &Path) {
        let (profiles, policy) = parse(text);
        self.profiles = profiles;
        match policy {
            Ok(policy) => self.policy = Some(policy),
            Err(e) => self.config_problem = Some(format!("{}: {e}", file.display())),
        }
    }
}

/// `[[profile]] name = …` and `[quarantine]` from zion.toml (pure).
fn parse(text: &str) -> (Vec<String>, Result<Policy, String>) {
    let value: toml::Table = match text.parse() {
        Ok(v) => v,
        Err(e) => return (Vec::new(), Err(e.to_string())),
    };
    let profiles = value
        .get("profile")
        .and_then(toml::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|p| p.get("name")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let policy = match value.get("quarantine") {
        None => Ok(Policy::default()),
        Some(table) => table
            .clone()
            .try_into::<Policy>()
            .map_err(|e| format!("[quarantine]: {e}")),
    };
    (profiles, policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zion_quarantine::policy::AutoRelease;

    #[test]
    fn profiles_and_policy_come_from_zion_toml() {
        let text = "[[profile]]\nname = \"work\"\n[[profile]]\nname = \"personal\"\n\n\
                    [quarantine]\nauto_release = \"10m\"\n";
        let (profiles, policy) = parse(text);
        assert_eq!(profiles, vec!["work", "personal"]);
        assert_eq!(
            policy.map(|p| p.auto_release),
            Ok(AutoRelease::After(Duration::from_secs(600)))
        );
    }

    #[test]
    fn a_bad_quarantine_table_is_reported_not_fatal() {
        let mut config = Config::default();
        config.apply(
            "[[profile]]\nname = \"work\"\n[quarantine]\nauto_release = \"soon\"\n",
            Path::new("/c/zion.toml"),
        );
        assert_eq!(config.profiles, vec!["work"]);
        assert!(config.policy.is_none());
        let problem = config.config_problem.unwrap_or_default();
        assert!(
            problem.starts_with("/c/zion.toml: [quarantine]"),
            "{problem}"
        );
    }
}

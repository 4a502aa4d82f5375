//! Where the session keeps its configuration, data and sockets. Every path
//! comes from the XDG variables and can be overridden, so that tests run in a
//! temporary folder and never touch the machine's own state.

use std::path::{Path, PathBuf};

/// The session's folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPaths {
    /// `zion.toml`.
    pub config_file: PathBuf,
    /// `$XDG_DATA_HOME/zion`: shared and private storage, the quarantine.
    pub data: PathBuf,
    /// `$XDG_RUNTIME_DIR`: per-profile socket folders go under `zion/`.
    pub runtime: PathBuf,
}

impl SessionPaths {
    /// The folders given by the environment (`XDG_CONFIG_HOME`,
    /// `XDG_DATA_HOME`, `XDG_RUNTIME_DIR`, falling back on `HOME`).
    pub fn from_env() -> SessionPaths {
        SessionPaths::from_vars(|name| std::env::var_os(name).map(PathBuf::from))
    }

    /// The same, reading variables through `var` (pure, for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<PathBuf>) -> SessionPaths {
        let absolute = |name: &str| var(name).filter(|p| p.is_absolute());
        let home = var("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let config = absolute("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        let data = absolute("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share"));
        let runtime = absolute("XDG_RUNTIME_DIR").unwrap_or_else(std::env::temp_dir);
        SessionPaths {
            config_file: config.join("zion").join("zion.toml"),
            data: data.join("zion"),
            runtime,
        }
    }

    /// The runtime folder Zion's sockets live in.
    pub fn zion_runtime(&self) -> PathBuf {
        self.runtime.join("zion")
    }

    /// Replaces the config file (`--config`).
    pub fn with_config(mut self, file: &Path) -> SessionPaths {
        file.clone_into(&mut self.config_file);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_variables_place_every_folder() {
        let paths = SessionPaths::from_vars(|name| match name {
            "XDG_CONFIG_HOME" => Some("/t/config".into()),
            "XDG_DATA_HOME" => Some("/t/data".into()),
            "XDG_RUNTIME_DIR" => Some("/t/run".into()),
            _ => None,
        });
        assert_eq!(paths.config_file, PathBuf::from("/t/config/zion/zion.toml"));
        assert_eq!(paths.data, PathBuf::from("/t/data/zion"));
        assert_eq!(paths.zion_runtime(), PathBuf::from("/t/run/zion"));
    }

    #[test]
    fn relative_xdg_variables_are_ignored_as_the_spec_says() {
        let paths = SessionPaths::from_vars(|name| match name {
            "XDG_DATA_HOME" => Some("relative".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        });
        assert_eq!(paths.data, PathBuf::from("/home/u/.local/share/zion"));
        assert_eq!(
            paths.config_file,
            PathBuf::from("/home/u/.config/zion/zion.toml")
        );
    }
}

//! Where Zion keeps its configuration, data and sockets, resolved in one
//! place so that the daemon, `zionctl` and the panel compute the same paths.
//! Every path comes from the XDG variables (a relative one is ignored, as the
//! XDG Base Directory specification says) and can be overridden, so that
//! tests run in a temporary folder and never touch the machine's own state.
//!
//! Hand-written: no XDG crate is in the lock file, and this is three
//! variables with one rule.

use std::path::{Path, PathBuf};

/// The compositor's host socket in the runtime folder: Zion's own clients
/// (the locker, the panel, the notification daemon) connect there.
pub const HOST_WAYLAND_SOCKET: &str = "wayland-zion";

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
        let xdg = Xdg::from_vars(&var);
        SessionPaths {
            config_file: xdg.config.join("zion").join("zion.toml"),
            data: xdg.data.join("zion"),
            runtime: xdg.runtime,
        }
    }

    /// The runtime folder Zion's sockets live in.
    pub fn zion_runtime(&self) -> PathBuf {
        self.runtime.join("zion")
    }

    /// The compositor's host socket, [`HOST_WAYLAND_SOCKET`] in the runtime
    /// folder.
    pub fn host_wayland_socket(&self) -> PathBuf {
        self.runtime.join(HOST_WAYLAND_SOCKET)
    }

    /// Replaces the config file (`--config`).
    pub fn with_config(mut self, file: &Path) -> SessionPaths {
        file.clone_into(&mut self.config_file);
        self
    }

    /// The hash-chained audit log of releases: `data/audit.log`.
    pub fn audit_log(&self) -> PathBuf {
        self.data.join("audit.log")
    }

    /// The quarantine's folder: `data/quarantine`.
    pub fn quarantine(&self) -> PathBuf {
        self.data.join("quarantine")
    }

    /// The quarantine store's files under [`SessionPaths::quarantine`].
    pub fn store(&self) -> StorePaths {
        StorePaths::under(self.quarantine())
    }

    /// The user's own YARA rules: `rules/` beside `zion.toml`.
    pub fn user_rules(&self) -> Option<PathBuf> {
        self.config_file.parent().map(|dir| dir.join("rules"))
    }
}

/// The three XDG base folders Zion uses.
struct Xdg {
    config: PathBuf,
    data: PathBuf,
    runtime: PathBuf,
}

impl Xdg {
    fn from_vars(var: &impl Fn(&str) -> Option<PathBuf>) -> Xdg {
        // "If an implementation encounters a relative path in any of these
        // variables it should consider the path invalid and ignore it."
        let absolute = |name: &str| var(name).filter(|p| p.is_absolute());
        let home = absolute("HOME").unwrap_or_else(|| PathBuf::from("/"));
        Xdg {
            config: absolute("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")),
            data: absolute("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share")),
            runtime: absolute("XDG_RUNTIME_DIR").unwrap_or_else(std::env::temp_dir),
        }
    }
}

/// Where the quarantine store keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePaths {
    /// One folder per source under it (`inbox/<source>/`).
    pub inbox: PathBuf,
    /// Objects by SHA-256 (`objects/<hex>`).
    pub objects: PathBuf,
    /// The SQLite journal.
    pub journal: PathBuf,
}

impl StorePaths {
    /// `dir/inbox`, `dir/objects`, `dir/quarantine.sqlite`.
    pub fn under(dir: impl AsRef<Path>) -> StorePaths {
        let dir = dir.as_ref();
        StorePaths {
            inbox: dir.join("inbox"),
            objects: dir.join("objects"),
            journal: dir.join("quarantine.sqlite"),
        }
    }

    /// The store of this session: [`SessionPaths::store`] from the environment.
    pub fn from_env() -> StorePaths {
        SessionPaths::from_env().store()
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
        assert_eq!(paths.audit_log(), PathBuf::from("/t/data/zion/audit.log"));
        assert_eq!(
            paths.store().journal,
            PathBuf::from("/t/data/zion/quarantine/quarantine.sqlite")
        );
        assert_eq!(
            paths.store().objects,
            PathBuf::from("/t/data/zion/quarantine/objects")
        );
        assert_eq!(
            paths.user_rules(),
            Some(PathBuf::from("/t/config/zion/rules"))
        );
    }

    #[test]
    fn relative_xdg_variables_are_ignored_as_the_spec_says() {
        let paths = SessionPaths::from_vars(|name| match name {
            "XDG_DATA_HOME" => Some("relative".into()),
            "XDG_CONFIG_HOME" => Some("conf".into()),
            "XDG_RUNTIME_DIR" => Some("run".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        });
        assert_eq!(paths.data, PathBuf::from("/home/u/.local/share/zion"));
        assert_eq!(
            paths.config_file,
            PathBuf::from("/home/u/.config/zion/zion.toml")
        );
        assert!(paths.runtime.is_absolute(), "{}", paths.runtime.display());
        assert_eq!(
            paths.store().inbox,
            PathBuf::from("/home/u/.local/share/zion/quarantine/inbox")
        );
    }

    #[test]
    fn a_relative_home_is_ignored_too() {
        let paths = SessionPaths::from_vars(|name| match name {
            "HOME" => Some("home/u".into()),
            _ => None,
        });
        assert_eq!(paths.config_file, PathBuf::from("/.config/zion/zion.toml"));
    }
}

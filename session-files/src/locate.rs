//! Finding the session's programs: on PATH, then beside the launcher.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// A program the session needs is nowhere to be found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name} not found: searched PATH ({}){}; install Zion (`make install PREFIX=…`) or add the folder holding {name} to PATH", Folders(.path), beside_text(.beside.as_deref()))]
pub struct NotFound {
    /// The program.
    pub name: String,
    /// The PATH folders searched, in order.
    pub path: Vec<PathBuf>,
    /// The launcher's own folder, searched last.
    pub beside: Option<PathBuf>,
}

struct Folders<'a>(&'a [PathBuf]);

impl fmt::Display for Folders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("PATH is empty");
        }
        for (i, dir) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{}", dir.display())?;
        }
        Ok(())
    }
}

fn beside_text(beside: Option<&Path>) -> String {
    beside
        .map(|dir| format!(" and {} (beside zion-session)", dir.display()))
        .unwrap_or_default()
}

/// Finds `name` in the folders of `path` (a PATH value), then in `beside`;
/// `is_program` says whether a candidate file is an executable.
pub fn find_program(
    name: &str,
    path: Option<&OsStr>,
    beside: Option<&Path>,
    is_program: impl Fn(&Path) -> bool,
) -> Result<PathBuf, NotFound> {
    let dirs: Vec<PathBuf> = path
        .map(|p| {
            std::env::split_paths(p)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    dirs.iter()
        .map(PathBuf::as_path)
        .chain(beside)
        .map(|dir| dir.join(name))
        .find(|candidate| is_program(candidate))
        .ok_or_else(|| NotFound {
            name: name.to_owned(),
            path: dirs.clone(),
            beside: beside.map(Path::to_path_buf),
        })
}

/// Whether `path` is a regular file someone may execute.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds `name` on this process's PATH or beside this executable.
pub fn find(name: &str) -> Result<PathBuf, NotFound> {
    let path = std::env::var_os("PATH");
    let own = std::env::current_exe().ok();
    let beside = own.as_deref().and_then(Path::parent);
    find_program(name, path.as_deref(), beside, is_executable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_folder_of_path_holding_the_program_wins() {
        let found = find_program(
            "zion-compositor",
            Some(OsStr::new("/a:/b:/c")),
            Some(Path::new("/own")),
            |p| p == Path::new("/b/zion-compositor") || p == Path::new("/c/zion-compositor"),
        );
        assert_eq!(found, Ok(PathBuf::from("/b/zion-compositor")));
    }

    #[test]
    fn the_launchers_folder_is_searched_after_path() {
        let found = find_program(
            "zion-sandboxd",
            Some(OsStr::new("/a")),
            Some(Path::new("/opt/zion/bin")),
            |p| p == Path::new("/opt/zion/bin/zion-sandboxd"),
        );
        assert_eq!(found, Ok(PathBuf::from("/opt/zion/bin/zion-sandboxd")));
    }

    #[test]
    fn a_missing_program_is_named_with_every_folder_searched() {
        let err = find_program(
            "zion-compositor",
            Some(OsStr::new("/usr/local/bin:/usr/bin")),
            Some(Path::new("/opt/zion/bin")),
            |_| false,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("zion-compositor not found"), "{text}");
        assert!(text.contains("PATH (/usr/local/bin:/usr/bin)"), "{text}");
        assert!(
            text.contains("/opt/zion/bin (beside zion-session)"),
            "{text}"
        );
        assert!(text.contains("make install"), "{text}");
    }

    #[test]
    fn an_unset_path_is_reported_as_empty() {
        let err = find_program("zion-sandboxd", None, None, |_| false).unwrap_err();
        assert!(err.to_string().contains("PATH (PATH is empty)"), "{err}");
    }
}

//! `[session]`: what the session runs for itself. `locker` is the command
//! (argv) the compositor starts on the host socket to lock the screen (the
//! `lock` hotkey, `Compositor1.Lock`); it must speak ext-session-lock-v1.

use serde::Deserialize;
use toml::Spanned;

use super::error::Source;
use super::ConfigError;

/// The keys of `[session]`.
pub(super) const SESSION_KEYS: [&str; 1] = ["locker"];

/// The locker when the configuration names none: Debian's swaylock,
/// daemonized once locked, on black.
pub const DEFAULT_LOCKER: [&str; 4] = ["swaylock", "-f", "-c", "000000"];

/// `[session]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The locker's argv: a program and its arguments, never empty.
    pub locker: Vec<String>,
}

impl Default for Session {
    fn default() -> Session {
        Session {
            locker: DEFAULT_LOCKER.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// `[session]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSession {
    locker: Option<Spanned<Vec<String>>>,
}

/// Checks `[session]` over the defaults.
pub(super) fn session(
    src: &Source,
    raw: Option<Spanned<RawSession>>,
) -> Result<Session, ConfigError> {
    let mut out = Session::default();
    let Some(locker) = raw.and_then(|r| r.into_inner().locker) else {
        return Ok(out);
    };
    let start = locker.span().start;
    let argv = locker.into_inner();
    if argv.first().is_none_or(|p| p.trim().is_empty()) {
        return Err(src.at(
            start,
            "locker in [session] names no program",
            "give the locker's command and arguments, e.g. locker = [\"swaylock\", \"-f\"]",
        ));
    }
    out.locker = argv;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("zion.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_locker_defaults_to_swaylock_and_takes_an_argv() {
        let base = "[[profile]]\nname = \"work\"\n";
        let default = parse(base).map(|c| c.session.locker);
        assert_eq!(
            default,
            Ok(vec![
                "swaylock".into(),
                "-f".into(),
                "-c".into(),
                "000000".into()
            ])
        );
        let given = parse(&format!(
            "{base}[session]\nlocker = [\"gtklock\", \"-d\"]\n"
        ));
        assert_eq!(
            given.map(|c| c.session.locker),
            Ok(vec!["gtklock".to_owned(), "-d".to_owned()])
        );
        let empty = parse(&format!("{base}[session]\nlocker = []\n")).expect_err("empty");
        assert!(empty.contains("names no program"), "{empty}");
        let typo = parse(&format!("{base}[session]\nlocke = [\"x\"]\n")).expect_err("typo");
        assert!(typo.contains("locker"), "{typo}");
    }
}

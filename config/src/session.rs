//! `[session]`: what the session runs for itself. `locker` is the command
//! (argv) the compositor starts on the host socket to lock the screen (the
//! `lock` hotkey, `Compositor1.Lock`); it must speak ext-session-lock-v1.
//! `idle` says when an idle session locks itself and turns its screens
//! off: `idle = { lock_after = "10m", screen_off_after = "15m" }`, each a
//! duration (the units of [`crate::parse_duration`]) or `"never"`. `bar`
//! says whether the compositor starts Zion's bar (`zion-bar`) along the top
//! of the screen (default `true`).
//! `notifications` is the notification daemon zion-sandboxd starts on the
//! host socket when none owns `org.freedesktop.Notifications` on the
//! session bus (the profiles' notifications are relayed to it); `[]` starts
//! none.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::Source;
use super::units::parse_duration;
use super::ConfigError;

/// The keys of `[session]`.
pub(super) const SESSION_KEYS: [&str; 4] = ["locker", "idle", "bar", "notifications"];

/// How long the session waits without input before it locks itself.
pub const DEFAULT_LOCK_AFTER: Duration = Duration::from_secs(10 * 60);

/// How long the session waits without input before its screens go off.
pub const DEFAULT_SCREEN_OFF_AFTER: Duration = Duration::from_secs(15 * 60);

/// The locker when the configuration names none: Debian's swaylock,
/// daemonized once locked, on black.
pub const DEFAULT_LOCKER: [&str; 4] = ["swaylock", "-f", "-c", "000000"];

/// The notification daemon when the configuration names none: Debian's
/// mako.
pub const DEFAULT_NOTIFICATIONS: [&str; 1] = ["mako"];

/// `[session]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The locker's argv: a program and its arguments, never empty.
    pub locker: Vec<String>,
    /// What an idle session does, and when.
    pub idle: Idle,
    /// Whether the compositor starts the bar.
    pub bar: bool,
    /// The notification daemon's argv, started when the session has none;
    /// empty: none is started.
    pub notifications: Vec<String>,
}

/// `[session] idle`: how long without input (and without a visible idle
/// inhibitor) before the session locks and before its screens go off;
/// `None` is "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idle {
    /// Lock the session (the configured locker) after this long.
    pub lock_after: Option<Duration>,
    /// Turn the screens off (DPMS) after this long.
    pub screen_off_after: Option<Duration>,
}

impl Default for Idle {
    fn default() -> Idle {
        Idle {
            lock_after: Some(DEFAULT_LOCK_AFTER),
            screen_off_after: Some(DEFAULT_SCREEN_OFF_AFTER),
        }
    }
}

impl Default for Session {
    fn default() -> Session {
        Session {
            locker: DEFAULT_LOCKER.iter().map(|s| (*s).to_owned()).collect(),
            idle: Idle::default(),
            bar: true,
            notifications: DEFAULT_NOTIFICATIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

/// `[session]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSession {
    locker: Option<Spanned<Vec<String>>>,
    idle: Option<RawIdle>,
    bar: Option<bool>,
    notifications: Option<Spanned<Vec<String>>>,
}

/// `[session] idle` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdle {
    lock_after: Option<Spanned<String>>,
    screen_off_after: Option<Spanned<String>>,
}

/// Reads `"never"` or a duration for `key` of `[session] idle`.
fn idle_delay(
    src: &Source,
    value: Spanned<String>,
    key: &str,
) -> Result<Option<Duration>, ConfigError> {
    let start = value.span().start;
    let text = value.into_inner();
    if text.trim() == "never" {
        return Ok(None);
    }
    parse_duration(&text).map(Some).map_err(|e| {
        src.at(
            start,
            format!("{key} in [session] idle: {e}"),
            "write \"never\" or a duration like \"10m\", \"90s\", \"1h\"",
        )
    })
}

/// Checks `[session]` over the defaults.
pub(super) fn session(
    src: &Source,
    raw: Option<Spanned<RawSession>>,
) -> Result<Session, ConfigError> {
    let mut out = Session::default();
    let Some(raw) = raw.map(Spanned::into_inner) else {
        return Ok(out);
    };
    if let Some(bar) = raw.bar {
        out.bar = bar;
    }
    if let Some(idle) = raw.idle {
        if let Some(v) = idle.lock_after {
            out.idle.lock_after = idle_delay(src, v, "lock_after")?;
        }
        if let Some(v) = idle.screen_off_after {
            out.idle.screen_off_after = idle_delay(src, v, "screen_off_after")?;
        }
    }
    if let Some(notifications) = raw.notifications {
        let start = notifications.span().start;
        let argv = notifications.into_inner();
        if argv.first().is_some_and(|p| p.trim().is_empty()) {
            return Err(src.at(
                start,
                "notifications in [session] names no program",
                "give the notification daemon's command, e.g. notifications = [\"mako\"], or [] for none",
            ));
        }
        out.notifications = argv;
    }
    let Some(locker) = raw.locker else {
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
    use crate::Config;
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

    #[test]
    fn the_bar_is_on_unless_turned_off() {
        let base = "[[profile]]\nname = \"work\"\n";
        assert_eq!(parse(base).map(|c| c.session.bar), Ok(true));
        let off = parse(&format!("{base}[session]\nbar = false\n"));
        assert_eq!(off.map(|c| c.session.bar), Ok(false));
        let bad = parse(&format!("{base}[session]\nbar = \"no\"\n")).expect_err("a string");
        assert!(bad.contains("bar"), "{bad}");
    }

    #[test]
    fn the_notification_daemon_defaults_to_mako_and_can_be_none() {
        let base = "[[profile]]\nname = \"work\"\n";
        let default = parse(base).map(|c| c.session.notifications);
        assert_eq!(default, Ok(vec!["mako".to_owned()]));
        let given = parse(&format!(
            "{base}[session]\nnotifications = [\"dunst\", \"-verbosity\", \"crit\"]\n"
        ));
        assert_eq!(
            given.map(|c| c.session.notifications),
            Ok(vec!["dunst".into(), "-verbosity".into(), "crit".into()])
        );
        let none = parse(&format!("{base}[session]\nnotifications = []\n"));
        assert_eq!(none.map(|c| c.session.notifications), Ok(vec![]));
        let blank =
            parse(&format!("{base}[session]\nnotifications = [\" \"]\n")).expect_err("blank");
        assert!(blank.contains("names no program"), "{blank}");
    }

    #[test]
    fn idle_defaults_to_lock_after_10m_and_screen_off_after_15m() {
        use super::Idle;
        use std::time::Duration;
        let base = "[[profile]]\nname = \"work\"\n";
        let default = parse(base).map(|c| c.session.idle);
        assert_eq!(
            default,
            Ok(Idle {
                lock_after: Some(Duration::from_secs(600)),
                screen_off_after: Some(Duration::from_secs(900)),
            })
        );
        let given = parse(&format!(
            "{base}[session]\nidle = {{ lock_after = \"1h30m\", screen_off_after = \"never\" }}\n"
        ));
        assert_eq!(
            given.map(|c| c.session.idle),
            Ok(Idle {
                lock_after: Some(Duration::from_secs(5400)),
                screen_off_after: None,
            })
        );
        let table = parse(&format!(
            "{base}[session.idle]\nscreen_off_after = \"90s\"\n"
        ));
        assert_eq!(
            table.map(|c| c.session.idle),
            Ok(Idle {
                lock_after: Some(Duration::from_secs(600)),
                screen_off_after: Some(Duration::from_secs(90)),
            })
        );
        for bad in ["\"10\"", "\"0s\"", "\"soon\""] {
            let e = parse(&format!(
                "{base}[session]\nidle = {{ lock_after = {bad} }}\n"
            ))
            .expect_err(bad);
            assert!(e.contains("lock_after"), "{bad}: {e}");
        }
        let typo =
            parse(&format!("{base}[session]\nidle = {{ lock = \"1m\" }}\n")).expect_err("typo");
        assert!(typo.contains("unknown key `lock`"), "{typo}");
    }
}

//! `[podman]`: how long Zion waits for Podman. A hung Podman makes a call
//! fail with an error naming the request and the limit, never hang.
//!
//! ```toml
//! [podman]
//! connect_timeout = "5s"    # reaching the socket
//! request_timeout = "1m"    # one ordinary request, to the end of its answer
//! long_timeout = "30m"      # image import, checkpoint, restore; or "never"
//! ```

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::Source;
use crate::units::parse_duration;
use crate::ConfigError;

/// The keys of `[podman]`.
pub(crate) const PODMAN_KEYS: [&str; 3] = ["connect_timeout", "request_timeout", "long_timeout"];

/// `[podman]`, validated: every limit is above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodmanSettings {
    /// Connecting to the socket (default 5 s).
    pub connect_timeout: Duration,
    /// One ordinary request, connection to the end of the answer (default
    /// 60 s): a stop waits for the container's grace period (10 s), a create
    /// or start under load takes seconds.
    pub request_timeout: Duration,
    /// Requests whose length grows with the data: image import, checkpoint
    /// and restore (default 30 min). `None` (`"never"`): no limit.
    pub long_timeout: Option<Duration>,
}

impl Default for PodmanSettings {
    fn default() -> PodmanSettings {
        PodmanSettings {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            long_timeout: Some(Duration::from_secs(30 * 60)),
        }
    }
}

/// `[podman]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPodman {
    connect_timeout: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    long_timeout: Option<Spanned<String>>,
}

/// Checks `[podman]` over the defaults.
pub(crate) fn podman(
    src: &Source,
    raw: Option<Spanned<RawPodman>>,
) -> Result<PodmanSettings, ConfigError> {
    let mut out = PodmanSettings::default();
    let Some(raw) = raw else {
        return Ok(out);
    };
    let raw = raw.into_inner();
    let limit = |value: &Spanned<String>, key: &str| -> Result<Duration, ConfigError> {
        parse_duration(value.get_ref()).map_err(|e| {
            src.at(
                value.span().start,
                format!("{e} in [podman] {key}"),
                format!(
                    "write a limit above zero like \"5s\", \"2m\" or \"1h\", e.g. {key} = \"30s\""
                ),
            )
        })
    };
    if let Some(v) = &raw.connect_timeout {
        out.connect_timeout = limit(v, "connect_timeout")?;
    }
    if let Some(v) = &raw.request_timeout {
        out.request_timeout = limit(v, "request_timeout")?;
    }
    if let Some(v) = &raw.long_timeout {
        out.long_timeout = match v.get_ref().as_str() {
            "never" => None,
            _ => Some(limit(v, "long_timeout")?),
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use std::path::Path;

    const PROFILE: &str = "[[profile]]\nname = \"work\"\n";

    fn parse(podman: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{PROFILE}\n{podman}"), Path::new("zion.toml"))
    }

    #[test]
    fn limits_default_to_five_seconds_a_minute_and_half_an_hour() {
        let c = parse("").expect("valid");
        assert_eq!(c.podman, PodmanSettings::default());
        assert_eq!(c.podman.connect_timeout, Duration::from_secs(5));
    }

    #[test]
    fn limits_are_read_in_the_units_grammar_and_written_back() {
        let c = parse("[podman]\nconnect_timeout = \"2s\"\nrequest_timeout = \"1m30s\"\nlong_timeout = \"never\"\n")
            .expect("valid");
        assert_eq!(
            c.podman,
            PodmanSettings {
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(90),
                long_timeout: None,
            }
        );
        let again = Config::parse(&c.to_toml(), Path::new("again.toml")).expect("round trip");
        assert_eq!(again.podman, c.podman);
    }

    #[test]
    fn a_zero_or_unitless_limit_is_refused_at_its_line() {
        for (value, wanted) in [
            ("\"0s\"", "it is zero"),
            ("\"5\"", "has no unit"),
            ("\"soon\"", "is not a duration"),
        ] {
            let err = parse(&format!("[podman]\nrequest_timeout = {value}\n")).expect_err(value);
            assert_eq!((err.line(), err.column()), (5, 19), "{err}");
            assert!(err.message().contains(wanted), "{err}");
            assert!(err.message().contains("[podman] request_timeout"), "{err}");
        }
        let err = parse("[podman]\nconnect_timout = \"5s\"\n").expect_err("typo");
        assert!(
            err.message()
                .contains("unknown key `connect_timout` in [podman]"),
            "{err}"
        );
        assert!(
            err.hint().is_some_and(|h| h.contains("connect_timeout")),
            "{err}"
        );
    }
}

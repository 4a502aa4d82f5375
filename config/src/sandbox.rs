//! `[sandbox]`: the disposable browsers. `pool` is how many sandboxes are
//! made ahead of time, so that Super+B opens one at once.

use serde::Deserialize;
use toml::Spanned;

use crate::error::Source;
use crate::ConfigError;

/// The keys of `[sandbox]`.
pub(super) const SANDBOX_KEYS: [&str; 1] = ["pool"];

/// Sandboxes kept ready when the configuration says nothing.
pub const DEFAULT_POOL: usize = 1;
/// At most this many: each holds memory.
pub const MAX_POOL: usize = 8;

/// `[sandbox]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Sandboxes kept ready, 0 to [`MAX_POOL`].
    pub pool: usize,
}

impl Default for SandboxSettings {
    fn default() -> SandboxSettings {
        SandboxSettings { pool: DEFAULT_POOL }
    }
}

/// `[sandbox]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSandbox {
    pool: Option<Spanned<i64>>,
}

/// Checks `[sandbox]` over the defaults.
pub(super) fn sandbox(
    src: &Source,
    raw: Option<Spanned<RawSandbox>>,
) -> Result<SandboxSettings, ConfigError> {
    let mut out = SandboxSettings::default();
    let Some(pool) = raw.and_then(|r| r.into_inner().pool) else {
        return Ok(out);
    };
    let value = *pool.get_ref();
    out.pool = usize::try_from(value)
        .ok()
        .filter(|n| *n <= MAX_POOL)
        .ok_or_else(|| {
            src.at(
                pool.span().start,
                format!("pool = {value} in [sandbox] is out of range"),
                format!(
                    "give how many sandboxes to keep ready, 0 to {MAX_POOL} (each holds a browser's memory)"
                ),
            )
        })?;
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
    fn the_pool_defaults_to_one_and_takes_zero_to_eight() {
        let base = "[[profile]]\nname = \"work\"\n";
        assert_eq!(parse(base).map(|c| c.sandbox.pool), Ok(1));
        let with = |n: &str| parse(&format!("{base}[sandbox]\npool = {n}\n"));
        assert_eq!(with("0").map(|c| c.sandbox.pool), Ok(0));
        assert_eq!(with("8").map(|c| c.sandbox.pool), Ok(8));
        let err = with("9").expect_err("too many");
        assert!(
            err.contains("zion.toml:4:8") && err.contains("0 to 8"),
            "{err}"
        );
        assert!(with("-1").is_err());
        let err = with("\"two\"").expect_err("not a number");
        assert!(err.contains("[sandbox]"), "{err}");
        let err = parse(&format!("{base}[sandbox]\npoll = 2\n")).expect_err("unknown key");
        assert!(err.contains("did you mean `pool`"), "{err}");
    }

    #[test]
    fn a_changed_pool_is_written_and_read_back() {
        let config = parse("[[profile]]\nname = \"work\"\n[sandbox]\npool = 3\n").expect("valid");
        let again = parse(&config.to_toml()).expect("written text parses");
        assert_eq!(again.sandbox.pool, 3);
        assert!(!Config::defaults().to_toml().contains("[sandbox]"));
    }
}

//! `[sandbox]`: the disposable browsers. `pool` is how many sandboxes are
//! made ahead of time, so that Super+B opens one at once; `runtime` is the
//! wall between the browser and the host kernel (`runc`, or gVisor's
//! `runsc` for a second kernel); `browser` is which browser runs in it.

use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use crate::error::Source;
use crate::ConfigError;

/// The keys of `[sandbox]`.
pub(super) const SANDBOX_KEYS: [&str; 3] = ["pool", "runtime", "browser"];

/// Sandboxes kept ready when the configuration says nothing.
pub const DEFAULT_POOL: usize = 1;
/// At most this many: each holds memory.
pub const MAX_POOL: usize = 8;

/// The OCI runtime a disposable browser runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxRuntime {
    /// runc, with every hardening: the browser shares the host kernel.
    #[default]
    Runc,
    /// gVisor's `runsc`: a second kernel between the page and the host's.
    /// Never replaced silently by runc where `runsc` is missing.
    Gvisor,
}

impl SandboxRuntime {
    /// As written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxRuntime::Runc => "runc",
            SandboxRuntime::Gvisor => "gvisor",
        }
    }
}

impl fmt::Display for SandboxRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The browser a disposable sandbox runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxBrowser {
    /// Chromium, from the `browser` image.
    #[default]
    Chromium,
    /// Firefox ESR, from the `firefox` image.
    Firefox,
}

impl SandboxBrowser {
    /// As written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxBrowser::Chromium => "chromium",
            SandboxBrowser::Firefox => "firefox",
        }
    }
}

impl fmt::Display for SandboxBrowser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[sandbox]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Sandboxes kept ready, 0 to [`MAX_POOL`].
    pub pool: usize,
    /// The runtime disposable browsers run under.
    pub runtime: SandboxRuntime,
    /// The browser they run.
    pub browser: SandboxBrowser,
}

impl Default for SandboxSettings {
    fn default() -> SandboxSettings {
        SandboxSettings {
            pool: DEFAULT_POOL,
            runtime: SandboxRuntime::default(),
            browser: SandboxBrowser::default(),
        }
    }
}

/// `[sandbox]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSandbox {
    pool: Option<Spanned<i64>>,
    runtime: Option<Spanned<String>>,
    browser: Option<Spanned<String>>,
}

/// Checks `[sandbox]` over the defaults.
pub(super) fn sandbox(
    src: &Source,
    raw: Option<Spanned<RawSandbox>>,
) -> Result<SandboxSettings, ConfigError> {
    let mut out = SandboxSettings::default();
    let Some(raw) = raw.map(Spanned::into_inner) else {
        return Ok(out);
    };
    if let Some(runtime) = raw.runtime {
        out.runtime = match runtime.get_ref().as_str() {
            "runc" => SandboxRuntime::Runc,
            "gvisor" => SandboxRuntime::Gvisor,
            other => {
                return Err(src.at(
                    runtime.span().start,
                    format!("runtime = {other:?} in [sandbox] is not a runtime Zion knows"),
                    "write runtime = \"runc\" (the host kernel, hardened) or runtime = \"gvisor\" (gVisor's second kernel; needs runsc)".to_owned(),
                ))
            }
        };
    }
    if let Some(browser) = raw.browser {
        out.browser = match browser.get_ref().as_str() {
            "chromium" => SandboxBrowser::Chromium,
            "firefox" => SandboxBrowser::Firefox,
            other => {
                return Err(src.at(
                    browser.span().start,
                    format!("browser = {other:?} in [sandbox] is not a browser Zion knows"),
                    "write browser = \"chromium\" or browser = \"firefox\"".to_owned(),
                ))
            }
        };
    }
    let Some(pool) = raw.pool else {
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

    #[test]
    fn runtime_and_browser_are_checked_and_written_back() {
        use crate::{SandboxBrowser, SandboxRuntime};
        let base = "[[profile]]\nname = \"work\"\n[sandbox]\n";
        let config = parse(base).expect("valid");
        assert_eq!(config.sandbox.runtime, SandboxRuntime::Runc);
        assert_eq!(config.sandbox.browser, SandboxBrowser::Chromium);
        let config = parse(&format!(
            "{base}runtime = \"gvisor\"\nbrowser = \"firefox\"\n"
        ))
        .expect("valid");
        assert_eq!(config.sandbox.runtime, SandboxRuntime::Gvisor);
        assert_eq!(config.sandbox.browser, SandboxBrowser::Firefox);
        assert_eq!(config.sandbox.pool, 1);
        let again = parse(&config.to_toml()).expect("written text parses");
        assert_eq!(again.sandbox, config.sandbox);
        let err = parse(&format!("{base}runtime = \"kata\"\n")).expect_err("unknown runtime");
        assert!(
            err.contains("zion.toml:4:11") && err.contains("runsc"),
            "{err}"
        );
        let err = parse(&format!("{base}browser = \"lynx\"\n")).expect_err("unknown browser");
        assert!(err.contains("\"lynx\"") && err.contains("firefox"), "{err}");
        let err = parse(&format!("{base}runtime = 1\n")).expect_err("not a string");
        assert!(err.contains("[sandbox]"), "{err}");
    }
}

//! The two scan engines: libyara (the `yara` crate, what Zion always used)
//! and YARA-X (VirusTotal's Rust re-implementation), chosen by
//! `[quarantine] engine`. Both compile the same rule folders into the same
//! namespaces and report matches the same way; the worker runs either under
//! the same confinement (see [`crate::confine`] and the seccomp module for
//! what YARA-X's WebAssembly runtime needs, and when).
//!
//! YARA-X is built only with the `yara-x` feature of this crate: its compiler
//! back end (wasmtime, cranelift) is a long build.

use std::fmt;
use std::str::FromStr;

/// Which engine compiles the rules and scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Engine {
    /// libyara 4.5, through the `yara` crate.
    #[default]
    Yara,
    /// YARA-X, through the `yara-x` crate: rules compiled to WebAssembly and
    /// run by wasmtime.
    YaraX,
}

impl Engine {
    /// Both engines, libyara first.
    pub const ALL: [Engine; 2] = [Engine::Yara, Engine::YaraX];

    /// The name used in `zion.toml` and on the worker's command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Yara => "yara",
            Engine::YaraX => "yara-x",
        }
    }

    /// Whether this build of Zion carries the engine (YARA-X needs the
    /// `yara-x` feature).
    pub fn is_built(self) -> bool {
        match self {
            Engine::Yara => true,
            Engine::YaraX => cfg!(feature = "yara-x"),
        }
    }

    /// Why the engine cannot be used in this build, if it cannot.
    pub fn unavailable(self) -> Option<String> {
        if self.is_built() {
            return None;
        }
        Some(format!(
            "the {self} engine is not in this build of Zion: build zion-scanner with its \
             `yara-x` feature (`make test-yara-x`, or `cargo build --features zion-scanner/yara-x`), \
             or set `[quarantine] engine = \"yara\"`"
        ))
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "yara" => Ok(Engine::Yara),
            "yara-x" => Ok(Engine::YaraX),
            other => Err(format!(
                "unknown scan engine {other:?}: expected \"yara\" (libyara) or \"yara-x\" (YARA-X)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Engine;

    #[test]
    fn engine_names_round_trip_and_unknown_ones_are_refused() {
        for engine in Engine::ALL {
            assert_eq!(engine.as_str().parse::<Engine>(), Ok(engine));
        }
        let err = "yarax".parse::<Engine>().expect_err("unknown");
        assert!(err.contains("yarax") && err.contains("\"yara-x\""), "{err}");
    }

    #[cfg(not(feature = "yara-x"))]
    #[test]
    fn compiling_for_yara_x_without_its_feature_says_how_to_build_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.yar"), "rule a { condition: true }\n").expect("rule");
        let sources = crate::RuleSources::new(dir.path()).with_engine(Engine::YaraX);
        let err = crate::CompiledRules::compile(&sources).expect_err("no YARA-X in this build");
        let text = err.to_string();
        assert!(
            matches!(err, crate::RulesError::EngineUnavailable(_))
                && text.contains("`yara-x` feature")
                && text.contains("engine = \"yara\""),
            "{text}"
        );
    }

    #[test]
    fn libyara_is_always_built_and_yara_x_with_its_feature() {
        assert!(Engine::Yara.unavailable().is_none());
        assert_eq!(
            Engine::YaraX.unavailable().is_none(),
            cfg!(feature = "yara-x")
        );
    }
}

//! `[focus]`: resources follow the shown desktop. The profile whose desktop
//! is shown gets a higher CPU weight, the others a lower one, so that a game
//! or a build in the front wins the CPU from whatever runs behind.
//!
//! Weights are on cgroup v2's `cpu.weight` scale: 1 to 10000, 100 being
//! what a container has when nobody says otherwise. They are relative: they
//! only matter while profiles compete for the CPU.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::error::Source;
use crate::ConfigError;

/// The weight a container has unless told otherwise.
pub const DEFAULT_WEIGHT: u32 = 100;
/// The lowest weight cgroups accept.
pub const WEIGHT_MIN: u32 = 1;
/// The highest weight cgroups accept.
pub const WEIGHT_MAX: u32 = 10_000;

/// The keys of `[focus]`.
pub(super) const FOCUS_KEYS: [&str; 3] = ["cpu", "active_weight", "background_weight"];

/// `[focus]`, validated: `active_weight` > `background_weight`, both in
/// [`WEIGHT_MIN`]..=[`WEIGHT_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Focus {
    /// Whether CPU weights follow the shown desktop (`cpu = false` turns it off).
    pub cpu: bool,
    /// The CPU weight of the shown desktop's profile.
    pub active_weight: u32,
    /// The CPU weight of every other running profile.
    pub background_weight: u32,
}

impl Default for Focus {
    /// On: the shown profile 400, the others 50 (8 to 1 under contention).
    fn default() -> Focus {
        Focus {
            cpu: true,
            active_weight: 400,
            background_weight: 50,
        }
    }
}

impl Focus {
    /// A weight on the cgroup v2 scale as Podman's `cpu.shares` (cgroup v1
    /// scale, 1024 the default; Podman turns it back into a weight on v2).
    pub fn shares(weight: u32) -> u64 {
        (u64::from(weight) * 1024 / u64::from(DEFAULT_WEIGHT)).clamp(2, 262_144)
    }
}

/// `[focus]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFocus {
    cpu: Option<bool>,
    active_weight: Option<Spanned<i64>>,
    background_weight: Option<Spanned<i64>>,
}

/// Checks `[focus]` over the defaults.
pub(super) fn focus(src: &Source, raw: Option<Spanned<RawFocus>>) -> Result<Focus, ConfigError> {
    let mut out = Focus::default();
    let Some(raw) = raw else {
        return Ok(out);
    };
    let section: Range<usize> = raw.span();
    let raw = raw.into_inner();
    if let Some(cpu) = raw.cpu {
        out.cpu = cpu;
    }
    let weight = |w: &Spanned<i64>, key: &str| -> Result<u32, ConfigError> {
        let value = *w.get_ref();
        u32::try_from(value)
            .ok()
            .filter(|v| (WEIGHT_MIN..=WEIGHT_MAX).contains(v))
            .ok_or_else(|| {
                src.at(
                    w.span().start,
                    format!("{key} = {value} in [focus] is out of range"),
                    format!(
                        "give a weight from {WEIGHT_MIN} to {WEIGHT_MAX}; {DEFAULT_WEIGHT} is a container's default"
                    ),
                )
            })
    };
    let mut at = section.start;
    if let Some(w) = &raw.active_weight {
        out.active_weight = weight(w, "active_weight")?;
        at = w.span().start;
    }
    if let Some(w) = &raw.background_weight {
        out.background_weight = weight(w, "background_weight")?;
        at = at.max(w.span().start);
    }
    if out.active_weight <= out.background_weight {
        return Err(src.at(
            at,
            format!(
                "active_weight ({}) in [focus] is not above background_weight ({})",
                out.active_weight, out.background_weight
            ),
            "the shown profile must weigh more than the others, e.g. active_weight = 400 and \
             background_weight = 50; to turn the feature off write cpu = false",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use std::path::Path;

    const PROFILE: &str = "[[profile]]\nname = \"work\"\n";

    fn parse(focus: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{PROFILE}\n{focus}"), Path::new("zion.toml"))
    }

    fn refused(focus: &str) -> String {
        match parse(focus) {
            Ok(c) => panic!("accepted: {:?}", c.focus),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn without_a_focus_section_cpu_follows_focus_at_400_to_50() {
        let c = parse("").expect("valid");
        assert_eq!(c.focus, Focus::default());
        assert!(c.focus.cpu);
        assert_eq!(
            (c.focus.active_weight, c.focus.background_weight),
            (400, 50)
        );
    }

    #[test]
    fn focus_keys_are_read_and_cpu_false_turns_it_off() {
        let c = parse("[focus]\ncpu = false\nactive_weight = 1000\nbackground_weight = 10\n")
            .expect("valid");
        assert_eq!(
            c.focus,
            Focus {
                cpu: false,
                active_weight: 1000,
                background_weight: 10
            }
        );
        let c = parse("[focus]\nbackground_weight = 1\n").expect("valid");
        assert_eq!(
            c.focus.active_weight, 400,
            "unwritten keys keep their default"
        );
        assert_eq!(c.focus.background_weight, 1);
    }

    #[test]
    fn a_weight_out_of_range_is_refused_at_its_line_with_the_range() {
        let e = refused("[focus]\nactive_weight = 10001\n");
        assert!(
            e.starts_with("zion.toml:5:17: active_weight = 10001 in [focus] is out of range"),
            "{e}"
        );
        assert!(e.contains("from 1 to 10000"), "{e}");
        let e = refused("[focus]\nbackground_weight = 0\n");
        assert!(
            e.contains("background_weight = 0 in [focus] is out of range"),
            "{e}"
        );
        let e = refused("[focus]\nbackground_weight = -5\n");
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn an_active_weight_not_above_the_background_is_refused() {
        let e = refused("[focus]\nactive_weight = 50\nbackground_weight = 50\n");
        assert!(
            e.contains("active_weight (50) in [focus] is not above background_weight (50)"),
            "{e}"
        );
        assert!(
            e.contains("cpu = false"),
            "the hint says how to turn it off: {e}"
        );
        // Against a default too.
        let e = refused("[focus]\nactive_weight = 20\n");
        assert!(e.contains("active_weight (20)"), "{e}");
    }

    #[test]
    fn unknown_and_mistyped_focus_keys_are_named_with_the_section() {
        let e = refused("[focus]\nactive_wieght = 300\n");
        assert_eq!(
            e,
            "zion.toml:5:1: unknown key `active_wieght` in [focus]\n  hint: did you mean `active_weight`?"
        );
        let e = refused("[focus]\ncpu = \"yes\"\n");
        assert!(
            e.contains("`cpu` in [focus] must be true or false, not a string"),
            "{e}"
        );
        let e = refused("[focus]\nactive_weight = 2.5\n");
        assert!(
            e.contains("`active_weight` in [focus] must be a whole number"),
            "{e}"
        );
        let e = refused("[focsu]\ncpu = true\n");
        assert!(e.contains("unknown section `focsu`"), "{e}");
        assert!(e.contains("did you mean `focus`?"), "{e}");
    }

    #[test]
    fn a_changed_focus_is_written_and_read_back_equal() {
        let c = parse("[focus]\ncpu = false\nactive_weight = 900\nbackground_weight = 20\n")
            .expect("valid");
        let text = c.to_toml();
        let back = Config::parse(&text, Path::new("written.toml")).expect("reads back");
        assert_eq!(back.focus, c.focus, "--- to_toml gave:\n{text}");
        assert!(
            !Config::defaults().to_toml().contains("[focus]"),
            "the defaults need no section"
        );
    }

    #[test]
    fn weights_become_podman_shares_with_100_as_the_default_1024() {
        assert_eq!(Focus::shares(DEFAULT_WEIGHT), 1024);
        assert_eq!(Focus::shares(400), 4096);
        assert_eq!(Focus::shares(50), 512);
        assert_eq!(Focus::shares(WEIGHT_MIN), 10);
        assert_eq!(Focus::shares(WEIGHT_MAX), 102_400);
    }
}

//! `[[output]]`: how a screen is set up, by its connector name.
//!
//! ```toml
//! [[output]]
//! name = "DP-1"            # as `wlr-randr` lists it
//! mode = "2560x1440@144"   # WIDTHxHEIGHT, @Hz optional (the best rate)
//! position = "1920,0"      # its top-left corner in the desktop, "x,y"
//! scale = 1.25             # fractional scales are fine
//! transform = "90"         # normal, 90, 180, 270, flipped, flipped-90 …
//! enabled = true
//! ```
//!
//! Every key but `name` is optional: what is left out stays as the screen
//! is. A name no screen has is kept (the screen may be plugged in later).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use toml::Spanned;

use super::error::Source;
use super::ConfigError;

/// The keys of an `[[output]]`.
pub(super) const OUTPUT_KEYS: [&str; 6] =
    ["name", "mode", "position", "scale", "transform", "enabled"];

/// The smallest scale accepted.
pub const MIN_SCALE: f64 = 0.25;
/// The largest scale accepted.
pub const MAX_SCALE: f64 = 10.0;

/// One `[[output]]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSettings {
    /// The connector name (`DP-1`, `eDP-1`, `headless-1`).
    pub name: String,
    /// The mode; `None` keeps the current one.
    pub mode: Option<OutputMode>,
    /// The top-left corner in the desktop's coordinates.
    pub position: Option<(i32, i32)>,
    /// The scale (fractional allowed).
    pub scale: Option<f64>,
    /// The rotation and flip.
    pub transform: Option<Transform>,
    /// Whether the screen is used.
    pub enabled: bool,
}

/// A mode as written: `1920x1080` or `1920x1080@59.94`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputMode {
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// Refresh rate in mHz; `None`: the best the screen has at that size.
    pub refresh_mhz: Option<i32>,
}

impl FromStr for OutputMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("`{}` is not a mode: {why}", s.escape_debug());
        let (size, refresh) = match s.trim().split_once('@') {
            Some((size, rate)) => (size, Some(rate)),
            None => (s.trim(), None),
        };
        let (w, h) = size
            .split_once('x')
            .ok_or_else(|| bad("write WIDTHxHEIGHT, e.g. 1920x1080"))?;
        let dim = |v: &str| {
            v.trim()
                .parse::<i32>()
                .ok()
                .filter(|n| (1..=16384).contains(n))
                .ok_or_else(|| bad("width and height are whole numbers from 1 to 16384"))
        };
        let refresh_mhz = match refresh {
            None => None,
            Some(rate) => {
                let hz = rate
                    .trim()
                    .trim_end_matches("Hz")
                    .parse::<f64>()
                    .ok()
                    .filter(|hz| (1.0..=1000.0).contains(hz))
                    .ok_or_else(|| bad("the rate after @ is in Hz, from 1 to 1000"))?;
                Some((hz * 1000.0).round() as i32)
            }
        };
        Ok(OutputMode {
            width: dim(w)?,
            height: dim(h)?,
            refresh_mhz,
        })
    }
}

impl fmt::Display for OutputMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)?;
        if let Some(mhz) = self.refresh_mhz {
            write!(f, "@{}", f64::from(mhz) / 1000.0)?;
        }
        Ok(())
    }
}

/// An output's rotation (counter-clockwise, as wl_output says) and flip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// As it is.
    Normal,
    /// Rotated 90°.
    Rotate90,
    /// Rotated 180°.
    Rotate180,
    /// Rotated 270°.
    Rotate270,
    /// Flipped around the vertical axis.
    Flipped,
    /// Flipped, then rotated 90°.
    Flipped90,
    /// Flipped, then rotated 180°.
    Flipped180,
    /// Flipped, then rotated 270°.
    Flipped270,
}

/// The transforms by name, in wl_output's order (the index is its value).
const TRANSFORMS: [(&str, Transform); 8] = [
    ("normal", Transform::Normal),
    ("90", Transform::Rotate90),
    ("180", Transform::Rotate180),
    ("270", Transform::Rotate270),
    ("flipped", Transform::Flipped),
    ("flipped-90", Transform::Flipped90),
    ("flipped-180", Transform::Flipped180),
    ("flipped-270", Transform::Flipped270),
];

impl FromStr for Transform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TRANSFORMS
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("`{}` is not a transform", s.escape_debug()))
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = TRANSFORMS
            .iter()
            .find(|(_, t)| t == self)
            .map_or("normal", |(name, _)| name);
        f.write_str(name)
    }
}

/// One `[[output]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    name: Spanned<String>,
    mode: Option<Spanned<String>>,
    position: Option<Spanned<String>>,
    scale: Option<Spanned<f64>>,
    transform: Option<Spanned<String>>,
    enabled: Option<bool>,
}

/// Reads `"x,y"`.
fn position(text: &str) -> Result<(i32, i32), String> {
    let bad = || format!("`{}` is not a position", text.escape_debug());
    let (x, y) = text.split_once(',').ok_or_else(bad)?;
    let coord = |v: &str| {
        v.trim()
            .parse::<i32>()
            .ok()
            .filter(|n| n.unsigned_abs() <= 1 << 20)
            .ok_or_else(bad)
    };
    Ok((coord(x)?, coord(y)?))
}

/// Checks the `[[output]]` tables: each with a name, no name twice.
pub(super) fn outputs(
    src: &Source,
    raw: Vec<Spanned<RawOutput>>,
) -> Result<Vec<OutputSettings>, ConfigError> {
    let mut out: Vec<OutputSettings> = Vec::new();
    for table in raw {
        let raw = table.into_inner();
        let name_at = raw.name.span().start;
        let name = raw.name.into_inner();
        let at = |start: usize, message: String, hint: &str| {
            src.at(start, format!("{message} in [[output]] `{name}`"), hint)
        };
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(src.at(
                name_at,
                "an [[output]] has an empty name",
                "write the connector's name as `wlr-randr` lists it, e.g. name = \"DP-1\"",
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(src.at(
                name_at,
                format!("[[output]] `{name}` is set up twice"),
                "merge the two tables into one",
            ));
        }
        let mode = match raw.mode {
            None => None,
            Some(m) => Some(m.get_ref().parse::<OutputMode>().map_err(|e| {
                at(
                    m.span().start,
                    format!("mode: {e}"),
                    "write e.g. mode = \"1920x1080\" or \"1920x1080@60\"",
                )
            })?),
        };
        let position = match raw.position {
            None => None,
            Some(p) => Some(position(p.get_ref()).map_err(|e| {
                at(
                    p.span().start,
                    format!("position: {e}"),
                    "write the top-left corner as \"x,y\", e.g. position = \"1920,0\"",
                )
            })?),
        };
        let scale = match raw.scale {
            None => None,
            Some(s) => {
                let v = *s.get_ref();
                if !(MIN_SCALE..=MAX_SCALE).contains(&v) {
                    return Err(at(
                        s.span().start,
                        format!("scale {v} is not between {MIN_SCALE} and {MAX_SCALE}"),
                        "write e.g. scale = 1, 1.25 or 2",
                    ));
                }
                Some(v)
            }
        };
        let transform = match raw.transform {
            None => None,
            Some(t) => Some(t.get_ref().parse::<Transform>().map_err(|e| {
                at(
                    t.span().start,
                    format!("transform: {e}"),
                    "write normal, 90, 180, 270, flipped, flipped-90, flipped-180 or flipped-270",
                )
            })?),
        };
        out.push(OutputSettings {
            name,
            mode,
            position,
            scale,
            transform,
            enabled: raw.enabled.unwrap_or(true),
        });
    }
    Ok(out)
}

/// The `[[output]]` tables as TOML.
pub(super) fn write(out: &mut String, outputs: &[OutputSettings]) {
    use std::fmt::Write;
    for o in outputs {
        let _ = writeln!(out, "\n[[output]]\nname = {:?}", o.name);
        if let Some(mode) = o.mode {
            let _ = writeln!(out, "mode = \"{mode}\"");
        }
        if let Some((x, y)) = o.position {
            let _ = writeln!(out, "position = \"{x},{y}\"");
        }
        if let Some(scale) = o.scale {
            let _ = writeln!(out, "scale = {scale:?}");
        }
        if let Some(t) = o.transform {
            let _ = writeln!(out, "transform = \"{t}\"");
        }
        if !o.enabled {
            let _ = writeln!(out, "enabled = false");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{OutputMode, OutputSettings, Transform};
    use crate::Config;
    use std::path::Path;

    const BASE: &str = "[[profile]]\nname = \"work\"\n";

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(&format!("{BASE}{text}"), Path::new("zion.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn output_tables_are_read_in_order() {
        let c = parse(
            "[[output]]\nname = \"DP-1\"\nmode = \"2560x1440@59.951\"\nposition = \"1920,-10\"\nscale = 1.25\ntransform = \"flipped-90\"\n\
             [[output]]\nname = \"eDP-1\"\nenabled = false\n",
        )
        .expect("parses");
        assert_eq!(
            c.outputs,
            vec![
                OutputSettings {
                    name: "DP-1".into(),
                    mode: Some(OutputMode {
                        width: 2560,
                        height: 1440,
                        refresh_mhz: Some(59951),
                    }),
                    position: Some((1920, -10)),
                    scale: Some(1.25),
                    transform: Some(Transform::Flipped90),
                    enabled: true,
                },
                OutputSettings {
                    name: "eDP-1".into(),
                    mode: None,
                    position: None,
                    scale: None,
                    transform: None,
                    enabled: false,
                },
            ]
        );
        assert!(parse("").expect("parses").outputs.is_empty());
        let no_rate = "1920x1080".parse::<OutputMode>().expect("a mode");
        assert_eq!(no_rate.refresh_mhz, None);
        assert_eq!(
            "1920x1080@60".parse::<OutputMode>().map(|m| m.refresh_mhz),
            Ok(Some(60000))
        );
    }

    #[test]
    fn bad_output_values_name_their_key_and_output() {
        for (text, key) in [
            ("mode = \"1920*1080\"", "mode"),
            ("mode = \"1920x1080@fast\"", "mode"),
            ("mode = \"0x1080\"", "mode"),
            ("position = \"10\"", "position"),
            ("position = \"a,b\"", "position"),
            ("scale = 0", "scale"),
            ("scale = 11.0", "scale"),
            ("transform = \"45\"", "transform"),
        ] {
            let e = parse(&format!("[[output]]\nname = \"DP-1\"\n{text}\n")).expect_err(text);
            assert!(e.contains(key) && e.contains("`DP-1`"), "{text}: {e}");
            assert!(e.starts_with("zion.toml:5:"), "{text}: names the line: {e}");
        }
        let twice =
            parse("[[output]]\nname = \"DP-1\"\n[[output]]\nname = \"DP-1\"\n").expect_err("twice");
        assert!(twice.contains("twice"), "{twice}");
        let nameless = parse("[[output]]\nscale = 2\n").expect_err("no name");
        assert!(nameless.contains("name"), "{nameless}");
        let typo = parse("[[output]]\nname = \"DP-1\"\nrotation = \"90\"\n").expect_err("typo");
        assert!(
            typo.contains("unknown key `rotation` in [output]"),
            "{typo}"
        );
    }

    #[test]
    fn outputs_are_written_back_as_read() {
        let c = parse(
            "[[output]]\nname = \"HDMI-A-1\"\nmode = \"1280x720@60\"\nposition = \"0,0\"\nscale = 1.5\ntransform = \"270\"\n\
             [[output]]\nname = \"DP-2\"\nenabled = false\n",
        )
        .expect("parses");
        let text = c.to_toml();
        let back = Config::parse(&text, Path::new("again.toml")).expect("written text parses");
        assert_eq!(back.outputs, c.outputs, "--- to_toml gave:\n{text}");
    }
}

//! From TOML text to a validated [`Config`]: private raw structs that keep
//! every value's position, then one checked conversion.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::error::{closest, line_column};
use super::units::{parse_capability, parse_size, Chord};
use super::{
    Bind, Colour, Config, ConfigError, Device, HibernateAfter, Hotkeys, Network, Profile,
    ProfileName, ACTIONS, DEFAULT_IMAGE, MEMORY_FLOOR, PIDS_FLOOR,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    profile: Vec<Spanned<RawProfile>>,
    #[serde(default)]
    hotkeys: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    quarantine: toml::Table,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Float(f64),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Spanned<String>,
    label: Option<Spanned<String>>,
    colour: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
    cpus: Option<Spanned<Number>>,
    memory: Option<Spanned<Size>>,
    pids: Option<Spanned<i64>>,
    #[serde(default)]
    devices: Vec<Spanned<String>>,
    network: Option<Spanned<String>>,
    #[serde(default)]
    capabilities: Vec<Spanned<String>>,
    #[serde(default)]
    binds: Vec<Spanned<RawBind>>,
    #[serde(default)]
    autostart: Vec<Spanned<Vec<String>>>,
    terminal: Option<Spanned<Vec<String>>>,
    hibernate_after: Option<Spanned<String>>,
    hotkey: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBind {
    host: Spanned<String>,
    target: Spanned<String>,
    #[serde(default = "yes")]
    read_only: bool,
}

fn yes() -> bool {
    true
}

const CONFIG_KEYS: [&str; 3] = ["profile", "hotkeys", "quarantine"];
const PROFILE_KEYS: [&str; 15] = [
    "name",
    "label",
    "colour",
    "image",
    "cpus",
    "memory",
    "pids",
    "devices",
    "network",
    "capabilities",
    "binds",
    "autostart",
    "terminal",
    "hibernate_after",
    "hotkey",
];
const BIND_KEYS: [&str; 3] = ["host", "target", "read_only"];

/// Error construction with positions.
struct Ctx<'a> {
    text: &'a str,
    origin: &'a Path,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) -> ConfigError {
        let (line, column) = line_column(self.text, span.start);
        ConfigError {
            file: self.origin.to_owned(),
            line,
            column,
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn toml(&self, err: toml::de::Error) -> ConfigError {
        let span = err.span().unwrap_or(0..0);
        let message = err.message().trim().to_owned();
        let hint = unknown_field_hint(&message)
            .or_else(|| Some("see `zionctl config defaults` for a valid file".to_owned()));
        self.err(span, message, hint)
    }
}

/// "unknown field `colr`, expected one of …" → "did you mean `colour`?"
fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let field = &rest[..rest.find('`')?];
    let known: Vec<&str> = [&CONFIG_KEYS[..], &PROFILE_KEYS[..], &BIND_KEYS[..]].concat();
    Some(match closest(field, &known) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!(
            "remove `{field}`; the keys a profile takes are: {}",
            PROFILE_KEYS.join(", ")
        ),
    })
}

pub(super) fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let ctx = Ctx { text, origin };
    let raw: RawConfig = toml::from_str(text).map_err(|e| ctx.toml(e))?;
    if raw.profile.is_empty() {
        return Err(ctx.err(
            0..0,
            "no profile is defined",
            Some(
                "add at least one [[profile]] with a name; `zionctl config defaults` shows three"
                    .to_owned(),
            ),
        ));
    }
    let mut profiles: Vec<Profile> = Vec::new();
    let mut hotkey_owner: BTreeMap<Chord, String> = BTreeMap::new();
    for raw_profile in raw.profile {
        let profile =
            convert_profile(&ctx, raw_profile.into_inner(), &profiles, &mut hotkey_owner)?;
        profiles.push(profile);
    }

    let mut bindings: BTreeMap<String, String> =
        super::Hotkeys::defaults().bindings.into_iter().collect();
    for (chord, action) in raw.hotkeys {
        let parsed: Chord = chord.get_ref().parse().map_err(|e: String| {
            ctx.err(
                chord.span(),
                e,
                Some("write a chord like \"Super+Return\"".to_owned()),
            )
        })?;
        let name = action.get_ref().as_str();
        if name == "none" {
            bindings.remove(&parsed.to_string());
            continue;
        }
        if !ACTIONS.contains(&name) {
            let hint = match closest(name, &ACTIONS) {
                Some(near) => format!("did you mean `{near}`? (or \"none\" to unbind)"),
                None => format!("the actions are: {}, or \"none\"", ACTIONS.join(", ")),
            };
            return Err(ctx.err(
                action.span(),
                format!("unknown action `{name}` for `{parsed}`"),
                Some(hint),
            ));
        }
        if let Some(owner) = hotkey_owner.get(&parsed) {
            return Err(ctx.err(
                chord.span(),
                format!("`{parsed}` is already the hotkey of profile `{owner}`"),
                Some("choose another chord for one of them".to_owned()),
            ));
        }
        bindings.insert(parsed.to_string(), name.to_owned());
    }
    // A profile's hotkey wins over a default binding of the same chord only
    // if the user did not bind it: defaults never clash with profiles.
    for chord in hotkey_owner.keys() {
        bindings.remove(&chord.to_string());
    }
    Ok(Config {
        profiles,
        hotkeys: Hotkeys {
            bindings: bindings.into_iter().collect(),
        },
        quarantine: raw.quarantine,
    })
}

fn convert_profile(
    ctx: &Ctx,
    raw: RawProfile,
    earlier: &[Profile],
    hotkey_owner: &mut BTreeMap<Chord, String>,
) -> Result<Profile, ConfigError> {
    let name: ProfileName = raw.name.get_ref().parse().map_err(|e: String| {
        ctx.err(
            raw.name.span(),
            e,
            Some(
                "use lower-case letters, digits, `-` and `_`, starting with a letter, at most 32"
                    .to_owned(),
            ),
        )
    })?;
    if earlier.iter().any(|p| p.name == name) {
        return Err(ctx.err(
            raw.name.span(),
            format!("profile `{name}` is defined twice"),
            Some("give each [[profile]] its own name".to_owned()),
        ));
    }
    let ctx_name = name.to_string();
    let in_profile = |m: String| format!("{m} in profile `{ctx_name}`");

    let label = match raw.label {
        Some(l) => {
            let text = l.get_ref();
            if text.trim().is_empty()
                || text.chars().count() > 64
                || text.chars().any(char::is_control)
            {
                return Err(ctx.err(
                    l.span(),
                    in_profile(
                        "the label must be 1 to 64 characters without control characters".into(),
                    ),
                    None,
                ));
            }
            text.clone()
        }
        None => name.to_string(),
    };
    let colour = match raw.colour {
        Some(c) => c.get_ref().parse::<Colour>().map_err(|e| {
            ctx.err(
                c.span(),
                in_profile(e),
                Some("write a colour as \"#rrggbb\" or \"#rgb\", e.g. \"#3465a4\"".into()),
            )
        })?,
        None => palette(earlier.len()),
    };
    let image = match raw.image {
        Some(i)
            if i.get_ref().trim().is_empty() || i.get_ref().chars().any(char::is_whitespace) =>
        {
            return Err(ctx.err(
                i.span(),
                in_profile("the image is not a valid reference".into()),
                None,
            ));
        }
        Some(i) => i.into_inner(),
        None => DEFAULT_IMAGE.to_owned(),
    };
    let cpus = match raw.cpus {
        Some(c) => {
            let value = match c.get_ref() {
                super::parse::Number::Int(i) => *i as f64,
                super::parse::Number::Float(f) => *f,
            };
            if !(value > 0.0 && value <= 1024.0) {
                return Err(ctx.err(
                    c.span(),
                    in_profile(format!("cpus = {value} is out of range")),
                    Some("give a number of CPUs above 0, e.g. 2 or 0.5".into()),
                ));
            }
            Some(value)
        }
        None => None,
    };
    let memory = match raw.memory {
        Some(m) => {
            let bytes = match m.get_ref() {
                Size::Bytes(b) if *b >= 0 => Ok(*b as u64),
                Size::Bytes(b) => Err(format!("`{b}` is not a size")),
                Size::Text(t) => parse_size(t),
            }
            .map_err(|e| {
                ctx.err(
                    m.span(),
                    in_profile(e),
                    Some("write a size like \"4GiB\" or \"512MiB\"".into()),
                )
            })?;
            if bytes < MEMORY_FLOOR {
                return Err(ctx.err(
                    m.span(),
                    in_profile(format!("memory {bytes} bytes is below the floor of 64MiB")),
                    Some(
                        "a desktop session needs at least \"64MiB\"; most want \"2GiB\" or more"
                            .into(),
                    ),
                ));
            }
            Some(bytes)
        }
        None => None,
    };
    let pids = match raw.pids {
        Some(p) => {
            let value = *p.get_ref();
            u32::try_from(value)
                .ok()
                .filter(|v| *v >= PIDS_FLOOR)
                .ok_or_else(|| {
                    ctx.err(
                        p.span(),
                        in_profile(format!("pids = {value} is out of range")),
                        Some(format!("give at least {PIDS_FLOOR}")),
                    )
                })?
        }
        None => 4096,
    };
    let mut devices = Vec::new();
    for d in raw.devices {
        let device = d.get_ref().parse::<Device>().map_err(|e| {
            ctx.err(
                d.span(),
                in_profile(e),
                Some("the devices are \"gpu\", \"webcam\", \"sound\" and \"gamepad\"".into()),
            )
        })?;
        if !devices.contains(&device) {
            devices.push(device);
        }
    }
    let network = match raw.network {
        Some(n) => n.get_ref().parse::<Network>().map_err(|e| {
            ctx.err(
                n.span(),
                in_profile(e),
                Some("network is \"none\" or \"full\"".into()),
            )
        })?,
        None => Network::Full,
    };
    let mut capabilities = Vec::new();
    for c in raw.capabilities {
        let cap = parse_capability(c.get_ref()).map_err(|e| {
            ctx.err(
                c.span(),
                in_profile(e),
                Some("name a capability as in capabilities(7), e.g. \"CAP_SYS_NICE\"".into()),
            )
        })?;
        if !capabilities.contains(&cap) {
            capabilities.push(cap);
        }
    }
    let mut binds = Vec::new();
    for b in raw.binds {
        let b = b.into_inner();
        let path = |s: &Spanned<String>, which: &str| -> Result<PathBuf, ConfigError> {
            let p = PathBuf::from(s.get_ref());
            if p.is_absolute() && !s.get_ref().contains('\0') {
                Ok(p)
            } else {
                Err(ctx.err(
                    s.span(),
                    in_profile(format!(
                        "bind {which} `{}` is not an absolute path",
                        s.get_ref()
                    )),
                    Some("write the path from /".into()),
                ))
            }
        };
        binds.push(Bind {
            host: path(&b.host, "host")?,
            target: path(&b.target, "target")?,
            read_only: b.read_only,
        });
    }
    let mut autostart = Vec::new();
    for a in raw.autostart {
        if a.get_ref().is_empty() || a.get_ref()[0].trim().is_empty() {
            return Err(ctx.err(
                a.span(),
                in_profile("an autostart app has an empty command".into()),
                Some("write the command as a list, e.g. [\"foot\"]".into()),
            ));
        }
        autostart.push(a.into_inner());
    }
    let terminal = match raw.terminal {
        Some(t) if t.get_ref().is_empty() || t.get_ref()[0].trim().is_empty() => {
            return Err(ctx.err(
                t.span(),
                in_profile("the terminal command is empty".into()),
                Some("e.g. terminal = [\"foot\"]".into()),
            ));
        }
        Some(t) => t.into_inner(),
        None => vec!["foot".to_owned()],
    };
    let hibernate_after = match raw.hibernate_after {
        Some(h) => h.get_ref().parse::<HibernateAfter>().map_err(|e| {
            ctx.err(
                h.span(),
                in_profile(e),
                Some("write \"never\" or a duration like \"10m\", \"90s\", \"1h\"".into()),
            )
        })?,
        None => HibernateAfter::After(std::time::Duration::from_secs(600)),
    };
    let hotkey = match raw.hotkey {
        Some(h) => {
            let chord: Chord = h.get_ref().parse().map_err(|e: String| {
                ctx.err(
                    h.span(),
                    in_profile(e),
                    Some("write a chord like \"Super+1\"".into()),
                )
            })?;
            if let Some(owner) = hotkey_owner.get(&chord) {
                return Err(ctx.err(
                    h.span(),
                    format!("hotkey `{chord}` of profile `{name}` is already the hotkey of profile `{owner}`"),
                    Some("give each profile its own hotkey".into()),
                ));
            }
            hotkey_owner.insert(chord.clone(), name.to_string());
            Some(chord)
        }
        None => None,
    };
    Ok(Profile {
        name,
        label,
        colour,
        image,
        cpus,
        memory,
        pids,
        devices,
        network,
        capabilities,
        binds,
        autostart,
        terminal,
        hibernate_after,
        hotkey,
    })
}

/// Colours for profiles that name none, distinct from one another.
fn palette(index: usize) -> Colour {
    const COLOURS: [(u8, u8, u8); 6] = [
        (0x34, 0x65, 0xa4),
        (0xcc, 0x00, 0x00),
        (0x4e, 0x9a, 0x06),
        (0x75, 0x50, 0x7b),
        (0xc4, 0xa0, 0x00),
        (0x06, 0x98, 0x9a),
    ];
    let (r, g, b) = COLOURS[index % COLOURS.len()];
    Colour { r, g, b }
}

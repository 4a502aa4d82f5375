//! From TOML text to a validated [`Config`]: private raw structs that keep
//! every value's position, then one checked conversion per value.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::action::Action;
use crate::capabilities::parse_capability;
use crate::chord::Chord;
use crate::defaults;
use crate::diagnose;
use crate::error::{closest, Source};
use crate::focus::{focus, RawFocus};
use crate::input::{input, RawInput};
use crate::outputs::{outputs, RawOutput};
use crate::podman::{podman, RawPodman};
use crate::quarantine::Policy;
use crate::sandbox::{sandbox, RawSandbox};
use crate::session::{session, RawSession};
use crate::units::parse_size;
use crate::{
    Bind, Colour, Config, ConfigError, Device, HibernateAfter, HibernateMode, Hotkeys, Network,
    Profile, ProfileName, Restart, MEMORY_FLOOR, PIDS_FLOOR,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    profile: Vec<Spanned<RawProfile>>,
    #[serde(default)]
    hotkeys: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    quarantine: Policy,
    focus: Option<Spanned<RawFocus>>,
    sandbox: Option<Spanned<RawSandbox>>,
    session: Option<Spanned<RawSession>>,
    podman: Option<Spanned<RawPodman>>,
    input: Option<Spanned<RawInput>>,
    #[serde(default)]
    output: Vec<Spanned<RawOutput>>,
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
    hibernate: Option<Spanned<String>>,
    hotkey: Option<Spanned<String>>,
    restart: Option<Spanned<String>>,
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

/// The sections of the file.
pub(super) const CONFIG_KEYS: [&str; 9] = [
    "profile",
    "hotkeys",
    "quarantine",
    "focus",
    "sandbox",
    "session",
    "podman",
    "input",
    "output",
];
/// The keys of a `[[profile]]`.
pub(super) const PROFILE_KEYS: [&str; 17] = [
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
    "hibernate",
    "hotkey",
    "restart",
];
/// The keys of a `[[profile.binds]]`.
pub(super) const BIND_KEYS: [&str; 3] = ["host", "target", "read_only"];

/// Errors inside one profile: the message names it.
struct InProfile<'a> {
    src: &'a Source<'a>,
    name: String,
}

impl InProfile<'_> {
    fn err(
        &self,
        span: Range<usize>,
        message: impl Display,
        hint: impl Into<String>,
    ) -> ConfigError {
        self.src.at(
            span.start,
            format!("{message} in profile `{}`", self.name),
            hint,
        )
    }
}

/// See [`Config::parse`].
pub(super) fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let src = Source { text, origin };
    let raw: RawConfig = toml::from_str(text).map_err(|e| diagnose::toml_error(&src, &e))?;
    if raw.profile.is_empty() {
        return Err(src.at(
            0,
            "no profile is defined",
            "add at least one [[profile]] with a name; `zionctl config defaults` shows three",
        ));
    }
    let mut profiles: Vec<Profile> = Vec::new();
    let mut hotkey_owner: BTreeMap<Chord, String> = BTreeMap::new();
    for raw_profile in raw.profile {
        let p = profile(&src, raw_profile.into_inner(), &profiles, &mut hotkey_owner)?;
        profiles.push(p);
    }
    let hotkeys = hotkeys(&src, raw.hotkeys, &hotkey_owner)?;
    let focus = focus(&src, raw.focus)?;
    let sandbox = sandbox(&src, raw.sandbox)?;
    let session = session(&src, raw.session)?;
    let podman = podman(&src, raw.podman)?;
    let input = input(&src, raw.input)?;
    let outputs = outputs(&src, raw.output)?;
    Ok(Config {
        profiles,
        hotkeys,
        quarantine: raw.quarantine,
        focus,
        sandbox,
        session,
        podman,
        input,
        outputs,
        source: None,
    })
}

/// The `[hotkeys]` table over the defaults: `"none"` unbinds a default, a
/// chord may appear once, and never as a profile's own hotkey. A default
/// binding the user did not write gives way to a profile's hotkey.
fn hotkeys(
    src: &Source,
    raw: BTreeMap<Spanned<String>, Spanned<String>>,
    hotkey_owner: &BTreeMap<Chord, String>,
) -> Result<Hotkeys, ConfigError> {
    let mut bindings: BTreeMap<Chord, Action> = defaults::hotkeys().bindings;
    for chord in hotkey_owner.keys() {
        bindings.remove(chord);
    }
    // In file order, so that a duplicate is reported at its second spelling.
    let mut entries: Vec<_> = raw.into_iter().collect();
    entries.sort_by_key(|(chord, _)| chord.span().start);
    let mut seen: BTreeMap<Chord, String> = BTreeMap::new();
    for (chord, action) in entries {
        let parsed: Chord = chord.get_ref().parse().map_err(|e: String| {
            src.at(
                chord.span().start,
                format!("{e} in [hotkeys]"),
                "write a chord as modifiers (Super, Ctrl, Alt, Shift) and one key, e.g. \"Super+Return\"",
            )
        })?;
        if let Some(first) = seen.get(&parsed) {
            return Err(src.at(
                chord.span().start,
                format!(
                    "`{}` is bound twice in [hotkeys] (first as `{first}`)",
                    chord.get_ref()
                ),
                "keep one binding per chord",
            ));
        }
        seen.insert(parsed.clone(), chord.get_ref().clone());
        let name = action.get_ref().as_str();
        if name == "none" {
            bindings.remove(&parsed);
            continue;
        }
        if let Some(owner) = hotkey_owner.get(&parsed) {
            return Err(src.at(
                chord.span().start,
                format!("`{parsed}` is already the hotkey of profile `{owner}`"),
                "choose another chord for one of them",
            ));
        }
        let Some(typed) = Action::parse(name) else {
            let names: Vec<&str> = Action::names().collect();
            let hint = match closest(name, &names) {
                Some(near) => format!("did you mean `{near}`? (or \"none\" to unbind)"),
                None => format!("the actions are: {}, or \"none\"", names.join(", ")),
            };
            return Err(src.at(
                action.span().start,
                format!("unknown action `{name}` for `{parsed}`"),
                hint,
            ));
        };
        bindings.insert(parsed, typed);
    }
    Ok(Hotkeys { bindings })
}

fn profile(
    src: &Source,
    raw: RawProfile,
    earlier: &[Profile],
    hotkey_owner: &mut BTreeMap<Chord, String>,
) -> Result<Profile, ConfigError> {
    let name: ProfileName = raw.name.get_ref().parse().map_err(|e: String| {
        src.at(
            raw.name.span().start,
            e,
            "use lower-case letters, digits, `-` and `_`, starting with a letter, at most 32 \
             characters: the name is also a folder name",
        )
    })?;
    if earlier.iter().any(|p| p.name == name) {
        return Err(src.at(
            raw.name.span().start,
            format!("profile `{name}` is defined twice"),
            "give each [[profile]] its own name",
        ));
    }
    let here = InProfile {
        src,
        name: name.to_string(),
    };
    let mut p = defaults::profile(name, defaults::palette(earlier.len()));
    if let Some(l) = raw.label {
        p.label = label(&here, l)?;
    }
    if let Some(c) = raw.colour {
        p.colour = c.get_ref().parse::<Colour>().map_err(|e| {
            here.err(
                c.span(),
                e,
                "write a colour as \"#rrggbb\" or \"#rgb\", e.g. \"#3465a4\"",
            )
        })?;
    }
    if let Some(i) = raw.image {
        let text = i.get_ref();
        if text.trim().is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(here.err(
                i.span(),
                format!("`{text}` is not an image reference"),
                "name an image like \"localhost/zion-profile:latest\"",
            ));
        }
        p.image = i.into_inner();
    }
    if let Some(c) = raw.cpus {
        p.cpus = Some(cpus(&here, c)?);
    }
    if let Some(m) = raw.memory {
        p.memory = Some(memory(&here, m)?);
    }
    if let Some(pids) = raw.pids {
        let value = *pids.get_ref();
        p.pids = u32::try_from(value)
            .ok()
            .filter(|v| *v >= PIDS_FLOOR)
            .ok_or_else(|| {
                here.err(
                    pids.span(),
                    format!("pids = {value} is out of range"),
                    format!("give at least {PIDS_FLOOR}; a desktop session wants 4096"),
                )
            })?;
    }
    for d in raw.devices {
        let device = d.get_ref().parse::<Device>().map_err(|e| {
            here.err(
                d.span(),
                e,
                "the devices are \"gpu\", \"webcam\", \"sound\", \"microphone\" and \"gamepad\"",
            )
        })?;
        if !p.devices.contains(&device) {
            p.devices.push(device);
        }
    }
    if let Some(n) = raw.network {
        p.network = n
            .get_ref()
            .parse::<Network>()
            .map_err(|e| here.err(n.span(), e, "network is \"none\" or \"full\""))?;
    }
    for c in raw.capabilities {
        let cap = parse_capability(c.get_ref()).map_err(|e| {
            here.err(
                c.span(),
                e,
                "name a capability as in capabilities(7), e.g. \"CAP_SYS_NICE\"",
            )
        })?;
        if !p.capabilities.contains(&cap) {
            p.capabilities.push(cap);
        }
    }
    for b in raw.binds {
        let b = bind(&here, b.into_inner())?;
        if let Some(same) = p.binds.iter().find(|x| x.target == b.bind.target) {
            return Err(here.err(
                b.target_span,
                format!("`{}` is bound twice", same.target.display()),
                "bind each folder of the container once",
            ));
        }
        p.binds.push(b.bind);
    }
    for a in raw.autostart {
        p.autostart.push(argv(
            &here,
            a,
            "an autostart app",
            "write each app as a list, e.g. autostart = [[\"foot\"], [\"firefox\", \"--new-window\"]]",
        )?);
    }
    if let Some(t) = raw.terminal {
        p.terminal = argv(&here, t, "the terminal", "e.g. terminal = [\"foot\"]")?;
    }
    if let Some(h) = raw.hibernate_after {
        p.hibernate_after = h.get_ref().parse::<HibernateAfter>().map_err(|e| {
            here.err(
                h.span(),
                e,
                "write \"never\" or a duration like \"10m\", \"90s\", \"1h\"",
            )
        })?;
    }
    if let Some(h) = raw.hibernate {
        p.hibernate = h.get_ref().parse::<HibernateMode>().map_err(|e| {
            here.err(
                h.span(),
                e,
                "hibernate is \"freeze\" (kept in memory) or \"disk\" (a CRIU checkpoint)",
            )
        })?;
    }
    if let Some(h) = raw.hotkey {
        let chord: Chord = h.get_ref().parse().map_err(|e: String| {
            here.err(
                h.span(),
                e,
                "write modifiers (Super, Ctrl, Alt, Shift) and one key, e.g. \"Super+1\"",
            )
        })?;
        if let Some(owner) = hotkey_owner.get(&chord) {
            return Err(here.err(
                h.span(),
                format!("hotkey `{chord}` is already the hotkey of profile `{owner}`"),
                "give each profile its own hotkey",
            ));
        }
        hotkey_owner.insert(chord.clone(), here.name.clone());
        p.hotkey = Some(chord);
    }
    if let Some(r) = raw.restart {
        p.restart = r.get_ref().parse::<Restart>().map_err(|e| {
            here.err(
                r.span(),
                e,
                "restart is \"never\", \"on-failure\" or \"always\"",
            )
        })?;
    }
    Ok(p)
}

fn label(here: &InProfile, l: Spanned<String>) -> Result<String, ConfigError> {
    let text = l.get_ref();
    if text.trim().is_empty() || text.chars().count() > 64 || text.chars().any(char::is_control) {
        return Err(here.err(
            l.span(),
            "the label must be 1 to 64 characters without control characters",
            "write a short name to show in window frames, e.g. label = \"Work\"",
        ));
    }
    Ok(l.into_inner())
}

fn cpus(here: &InProfile, c: Spanned<Number>) -> Result<f64, ConfigError> {
    let value = match c.get_ref() {
        Number::Int(i) => *i as f64,
        Number::Float(f) => *f,
    };
    if value > 0.0 && value <= 1024.0 {
        Ok(value)
    } else {
        Err(here.err(
            c.span(),
            format!("cpus = {value} is out of range"),
            "give a number of CPUs above 0 and at most 1024, e.g. 2 or 0.5",
        ))
    }
}

fn memory(here: &InProfile, m: Spanned<Size>) -> Result<u64, ConfigError> {
    let bytes = match m.get_ref() {
        Size::Bytes(b) => u64::try_from(*b).map_err(|_| format!("`{b}` is not a size")),
        Size::Text(t) => parse_size(t),
    }
    .map_err(|e| {
        here.err(
            m.span(),
            e,
            "write a size like \"4GiB\" or \"512MiB\", or a number of bytes",
        )
    })?;
    if bytes < MEMORY_FLOOR {
        return Err(here.err(
            m.span(),
            format!("memory of {bytes} bytes is below the floor of 64MiB"),
            "a desktop session needs at least \"64MiB\"; most want \"2GiB\" or more",
        ));
    }
    Ok(bytes)
}

/// A bind and where its target was written, for duplicate reports.
struct CheckedBind {
    bind: Bind,
    target_span: Range<usize>,
}

fn bind(here: &InProfile, raw: RawBind) -> Result<CheckedBind, ConfigError> {
    let path = |s: &Spanned<String>, which: &str| -> Result<PathBuf, ConfigError> {
        let text = s.get_ref();
        let p = PathBuf::from(text);
        let problem = if !p.is_absolute() {
            Some("is not an absolute path")
        } else if text.contains('\0') {
            Some("contains a NUL byte")
        } else if p.components().any(|c| c == Component::ParentDir) {
            Some("climbs out with `..`")
        } else if which == "target" && p.components().count() == 1 {
            Some("would cover the container's whole root")
        } else {
            None
        };
        match problem {
            None => Ok(p),
            Some(problem) => Err(here.err(
                s.span(),
                format!("bind {which} `{}` {problem}", text.replace('\0', "\\0")),
                "write the full path from /, without `..`, e.g. \"/srv/projects\"",
            )),
        }
    };
    Ok(CheckedBind {
        bind: Bind {
            host: path(&raw.host, "host")?,
            target: path(&raw.target, "target")?,
            read_only: raw.read_only,
        },
        target_span: raw.target.span(),
    })
}

fn argv(
    here: &InProfile,
    a: Spanned<Vec<String>>,
    what: &str,
    hint: &str,
) -> Result<Vec<String>, ConfigError> {
    let words = a.get_ref();
    if words.first().is_none_or(|w| w.trim().is_empty()) {
        return Err(here.err(a.span(), format!("{what} has an empty command"), hint));
    }
    if words.iter().any(|w| w.contains('\0')) {
        return Err(here.err(
            a.span(),
            format!("{what} has a NUL byte in its command"),
            hint,
        ));
    }
    Ok(a.into_inner())
}

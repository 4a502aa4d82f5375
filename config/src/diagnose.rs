//! toml's own errors (syntax, unknown keys, missing keys, wrong types)
//! restated for a person: which key, in which profile, and what to write.
//!
//! serde reports an unknown or mistyped key with a position but without the
//! enclosing profile, so the file is read a second time as a position-keeping
//! tree to find the path to that position.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{closest, Source};
use crate::focus::FOCUS_KEYS;
use crate::input::INPUT_KEYS;
use crate::outputs::OUTPUT_KEYS;
use crate::parse::{BIND_KEYS, CONFIG_KEYS, PROFILE_KEYS};
use crate::podman::PODMAN_KEYS;
use crate::quarantine::QUARANTINE_KEYS;
use crate::sandbox::SANDBOX_KEYS;
use crate::session::SESSION_KEYS;
use crate::ConfigError;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Where an error falls, as far as the structure of `zion.toml` goes.
#[derive(Debug, PartialEq)]
enum Place {
    /// A top-level key (section), or nowhere in particular when `None`.
    Top(Option<String>),
    /// Inside a `[[profile]]`, at `key` when known.
    Profile { who: String, key: Option<String> },
    /// Inside a `[[profile.binds]]`, at `key` when known.
    Bind { who: String, key: Option<String> },
    /// The binding of a chord in `[hotkeys]`.
    Hotkey(String),
    /// Inside a small section (`[focus]`, `[sandbox]`), at `key` when known.
    Section(&'static str, Option<String>),
}

/// The small sections whose keys are checked like a profile's.
const SECTIONS: [&str; 6] = [
    "focus",
    "sandbox",
    "quarantine",
    "podman",
    "session",
    "input",
];

fn section_keys(name: &str) -> &'static [&'static str] {
    match name {
        "sandbox" => &SANDBOX_KEYS,
        "quarantine" => &QUARANTINE_KEYS,
        "podman" => &PODMAN_KEYS,
        "session" => &SESSION_KEYS,
        "input" => &INPUT_KEYS,
        "output" => &OUTPUT_KEYS,
        _ => &FOCUS_KEYS,
    }
}

/// See the module documentation.
pub(super) fn toml_error(src: &Source, err: &toml::de::Error) -> ConfigError {
    let span = err.span().unwrap_or(0..0);
    let at = span.start;
    let raw = err.message().trim();
    let Ok(tree) = DeTable::parse(src.text) else {
        if raw.starts_with("duplicate key") {
            let key = src.text.get(span).unwrap_or_default().trim();
            return src.at(
                at,
                format!("duplicate key `{key}`"),
                "a key may appear once in a table; remove one of them",
            );
        }
        return src.at(
            at,
            raw,
            "fix the TOML syntax at this spot (see https://toml.io); \
             `zionctl config defaults` prints a valid file",
        );
    };
    let place = place(tree.get_ref(), at);
    let in_header = src
        .text
        .get(..at)
        .is_some_and(|before| before.trim_end_matches([' ', '\t']).ends_with('['));
    let (message, hint) = restate(raw, &place, in_header);
    src.at(at, message, hint)
}

/// `in_header`: the error is at a `[section]` name, not at a `key =`.
fn restate(raw: &str, place: &Place, in_header: bool) -> (String, String) {
    if let Some(field) = quoted_after(raw, "unknown field ") {
        let top = matches!(place, Place::Top(_));
        if top && !in_header && PROFILE_KEYS.contains(&field.as_str()) {
            return (
                format!("`{field}` is outside any [[profile]]"),
                "move it below the [[profile]] line of the profile it belongs to".to_owned(),
            );
        }
        let (message, keys): (String, &[&str]) = match place {
            Place::Profile { who, .. } => {
                (format!("unknown key `{field}` in {who}"), &PROFILE_KEYS)
            }
            Place::Bind { who, .. } => (
                format!("unknown key `{field}` in a bind of {who}"),
                &BIND_KEYS,
            ),
            Place::Section(name, _) => (
                format!("unknown key `{field}` in [{name}]"),
                section_keys(name),
            ),
            _ if in_header => (format!("unknown section `{field}`"), &CONFIG_KEYS),
            _ => (format!("unknown top-level key `{field}`"), &CONFIG_KEYS),
        };
        let hint = match closest(&field, keys) {
            Some(near) => format!("did you mean `{near}`?"),
            None if top => {
                "remove it; the sections are [[profile]], [hotkeys] and [quarantine], and optionally [focus], [sandbox], [session], [podman], [input] and [[output]]"
                    .to_owned()
            }
            None => format!("remove it; the keys here are: {}", keys.join(", ")),
        };
        return (message, hint);
    }
    if let Some(field) = quoted_after(raw, "missing field ") {
        let (_, example) = form(&field);
        return match place {
            Place::Bind { who, .. } => (
                format!("a bind of {who} has no `{field}`"),
                format!("a bind needs a host and a target; add {example}"),
            ),
            Place::Profile { who, .. } => {
                (format!("{who} has no `{field}`"), format!("add {example}"))
            }
            _ => (
                format!("a [[profile]] has no `{field}`"),
                format!("add {example}"),
            ),
        };
    }
    if raw.starts_with("invalid type") || raw.contains("did not match any variant") {
        let (key, who) = match place {
            Place::Profile { who, key } | Place::Bind { who, key } => {
                (key.clone(), format!(" in {who}"))
            }
            Place::Hotkey(chord) => (Some(chord.clone()), " in [hotkeys]".to_owned()),
            Place::Section(name, key) => (key.clone(), format!(" in [{name}]")),
            Place::Top(key) => (key.clone(), String::new()),
        };
        let key = key.unwrap_or_default();
        let (expected, example) = match place {
            Place::Hotkey(_) => (
                "an action name in a string",
                "\"Super+Return\" = \"terminal\"",
            ),
            _ => form(&key),
        };
        let found = found(raw).map(|f| format!(", not {f}")).unwrap_or_default();
        return (
            format!("`{key}`{who} must be {expected}{found}"),
            format!("write it like {example}"),
        );
    }
    let whereabouts = match place {
        Place::Profile { who, .. } => format!(" in {who}"),
        Place::Bind { who, .. } => format!(" in a bind of {who}"),
        Place::Hotkey(_) => " in [hotkeys]".to_owned(),
        Place::Section(name, _) => format!(" in [{name}]"),
        Place::Top(_) => String::new(),
    };
    (
        format!("{raw}{whereabouts}"),
        "compare with `zionctl config defaults`, which prints a valid file".to_owned(),
    )
}

/// What a key holds and how one writes it.
fn form(key: &str) -> (&'static str, &'static str) {
    match key {
        "name" => ("a string", "name = \"work\""),
        "label" => ("a string", "label = \"Work\""),
        "colour" => ("a string", "colour = \"#3465a4\""),
        "image" => ("a string", "image = \"localhost/zion-profile:latest\""),
        "cpus" => ("a number", "cpus = 2 or cpus = 0.5"),
        "memory" => (
            "a size in a string or a number of bytes",
            "memory = \"4GiB\"",
        ),
        "pids" => ("a whole number", "pids = 4096"),
        "devices" => ("a list of strings", "devices = [\"gpu\", \"sound\"]"),
        "network" => ("a string", "network = \"none\""),
        "capabilities" => ("a list of strings", "capabilities = [\"CAP_SYS_NICE\"]"),
        "binds" => (
            "a list of tables",
            "[[profile.binds]] with host = \"/srv/projects\" and target = \"/home/user/projects\"",
        ),
        "autostart" => (
            "a list of commands, each a list of strings",
            "autostart = [[\"foot\"], [\"firefox\", \"--new-window\"]]",
        ),
        "terminal" => ("a list of strings", "terminal = [\"foot\"]"),
        "hibernate_after" => ("a string", "hibernate_after = \"10m\""),
        "hibernate" => ("a string", "hibernate = \"freeze\""),
        "hotkey" => ("a string", "hotkey = \"Super+1\""),
        "restart" => ("a string", "restart = \"on-failure\""),
        "host" => ("a string", "host = \"/srv/projects\""),
        "target" => ("a string", "target = \"/home/user/projects\""),
        "read_only" => ("true or false", "read_only = false"),
        "profile" => (
            "a list of [[profile]] tables",
            "[[profile]] then name = \"work\"",
        ),
        "hotkeys" => ("a table", "[hotkeys] then \"Super+Return\" = \"terminal\""),
        "quarantine" => ("a table", "[quarantine]"),
        "focus" => ("a table", "[focus] then cpu = true"),
        "cpu" => ("true or false", "cpu = false"),
        "active_weight" => ("a whole number", "active_weight = 400"),
        "background_weight" => ("a whole number", "background_weight = 50"),
        "sandbox" => ("a table", "[sandbox] then pool = 1"),
        "pool" => ("a whole number", "pool = 1"),
        "runtime" => ("a string", "runtime = \"gvisor\""),
        "browser" => ("a string", "browser = \"firefox\""),
        "max_size" => (
            "a size in a string or a number of bytes",
            "max_size = \"2GiB\"",
        ),
        "auto_release" => ("a string", "auto_release = \"never\" or \"1h\""),
        "default_destination" => ("a string", "default_destination = \"shared\""),
        "transfer_hold" => ("a string", "transfer_hold = \"0s\""),
        "transfers" => (
            "a table",
            "[quarantine.transfers] then \"work -> personal\" = \"review\"",
        ),
        "quota" => (
            "a size in a string or a number of bytes",
            "quota = \"16GiB\"",
        ),
        "podman" => ("a table", "[podman] then request_timeout = \"1m\""),
        "connect_timeout" => ("a string", "connect_timeout = \"5s\""),
        "request_timeout" => ("a string", "request_timeout = \"1m\""),
        "long_timeout" => ("a string", "long_timeout = \"30m\" or \"never\""),
        "reserve" => (
            "a size in a string or a number of bytes",
            "reserve = \"2GiB\"",
        ),
        _ => (
            "of another type",
            "the file `zionctl config defaults` prints",
        ),
    }
}

/// "invalid type: string \"x\", expected i64" → "a string".
fn found(raw: &str) -> Option<&'static str> {
    let rest = raw.strip_prefix("invalid type: ")?;
    Some(match rest.split([' ', ',']).next()? {
        "string" => "a string",
        "integer" => "an integer",
        "floating" => "a float",
        "boolean" => "a boolean",
        "sequence" => "a list",
        "map" => "a table",
        _ => return None,
    })
}

/// The text between backticks after `prefix`.
fn quoted_after(raw: &str, prefix: &str) -> Option<String> {
    let rest = raw.strip_prefix(prefix)?.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_owned())
}

fn place(root: &DeTable, at: usize) -> Place {
    let mut best = Vec::new();
    deepest_in_table(root, at, &mut Vec::new(), &mut best);
    let profile_name = |i: usize| -> String {
        let name = root
            .get("profile")
            .and_then(|p| p.get_ref().get(i))
            .and_then(|p| p.get_ref().get("name"))
            .and_then(|n| n.get_ref().as_str());
        match name {
            Some(name) => format!("profile `{name}`"),
            None => format!("profile #{}", i + 1),
        }
    };
    let key = |step: Option<&Step>| match step {
        Some(Step::Key(k)) => Some(k.clone()),
        _ => None,
    };
    match best.as_slice() {
        [Step::Key(p), Step::Index(i), Step::Key(b), Step::Index(_), rest @ ..]
            if p == "profile" && b == "binds" =>
        {
            Place::Bind {
                who: profile_name(*i),
                key: key(rest.first()),
            }
        }
        [Step::Key(p), Step::Index(i), rest @ ..] if p == "profile" => Place::Profile {
            who: profile_name(*i),
            key: key(rest.first()),
        },
        [Step::Key(h), Step::Key(chord), ..] if h == "hotkeys" => Place::Hotkey(chord.clone()),
        [Step::Key(o), Step::Index(_), rest @ ..] if o == "output" => {
            Place::Section("output", key(rest.first()))
        }
        [Step::Key(s), rest @ ..] if !rest.is_empty() && SECTIONS.contains(&s.as_str()) => {
            let name = SECTIONS
                .iter()
                .find(|n| **n == s)
                .copied()
                .unwrap_or("focus");
            Place::Section(name, key(rest.first()))
        }
        [first, ..] => Place::Top(key(Some(first))),
        [] => Place::Top(None),
    }
}

fn covers(span: Range<usize>, at: usize) -> bool {
    span.start == at || span.contains(&at)
}

/// Records in `best` the longest path whose key or value covers `at`.
/// Every branch is searched: an array of tables is spread over the file,
/// so a parent's span says nothing about where its children are.
fn deepest_in_table(table: &DeTable, at: usize, path: &mut Vec<Step>, best: &mut Vec<Step>) {
    for (k, v) in table {
        path.push(Step::Key(k.get_ref().to_string()));
        if covers(k.span(), at) && path.len() > best.len() {
            *best = path.clone();
        }
        deepest_in_value(v, at, path, best);
        path.pop();
    }
}

fn deepest_in_value(
    value: &Spanned<DeValue>,
    at: usize,
    path: &mut Vec<Step>,
    best: &mut Vec<Step>,
) {
    if covers(value.span(), at) && path.len() > best.len() {
        *best = path.clone();
    }
    match value.get_ref() {
        DeValue::Table(t) => deepest_in_table(t, at, path, best),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                deepest_in_value(item, at, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place_of(text: &str, needle: &str) -> Place {
        let tree = DeTable::parse(text).expect("valid TOML");
        let at = text.find(needle).expect("needle in text");
        place(tree.get_ref(), at)
    }

    #[test]
    fn positions_map_to_the_profile_and_key_around_them() {
        let text = "[[profile]]\nname = \"work\"\n\n[[profile]]\nname = \"play\"\npids = \"x\"\n\n[[profile.binds]]\nhost = 1\n\n[hotkeys]\n\"Super+T\" = 3\n";
        assert_eq!(
            place_of(text, "\"x\""),
            Place::Profile {
                who: "profile `play`".into(),
                key: Some("pids".into())
            }
        );
        assert_eq!(
            place_of(text, "host"),
            Place::Bind {
                who: "profile `play`".into(),
                key: Some("host".into())
            }
        );
        assert_eq!(place_of(text, "3\n"), Place::Hotkey("Super+T".into()));
    }

    #[test]
    fn serde_wording_is_restated() {
        let who = "profile `work`".to_owned();
        let (m, h) = restate(
            "invalid type: string \"many\", expected i64",
            &Place::Profile {
                who,
                key: Some("pids".into()),
            },
            false,
        );
        assert_eq!(
            m,
            "`pids` in profile `work` must be a whole number, not a string"
        );
        assert!(h.contains("pids = 4096"), "{h}");
    }
}

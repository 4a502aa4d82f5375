//! Key chords (`Super+Shift+Return`): modifiers and one key, in one
//! canonical spelling so that two ways of writing a chord compare equal.

use std::fmt;
use std::str::FromStr;

use crate::values::serde_as_text;

/// A key chord such as `Super+Shift+Return`, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Chord(String);

const MODIFIERS: [&str; 4] = ["Super", "Ctrl", "Alt", "Shift"];
const NAMED_KEYS: [&str; 16] = [
    "Return",
    "Tab",
    "Escape",
    "Space",
    "BackSpace",
    "Delete",
    "Home",
    "End",
    "Left",
    "Right",
    "Up",
    "Down",
    "Page_Up",
    "Page_Down",
    "Print",
    "Insert",
];

impl FromStr for Chord {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('+').map(str::trim).collect();
        let (key, mods) = parts
            .split_last()
            .ok_or_else(|| format!("`{s}` is not a key chord"))?;
        let mut canonical = Vec::new();
        for m in MODIFIERS {
            if mods.iter().any(|x| x.eq_ignore_ascii_case(m)) {
                canonical.push(m.to_owned());
            }
        }
        if let Some(unknown) = mods
            .iter()
            .find(|x| !MODIFIERS.iter().any(|m| x.eq_ignore_ascii_case(m)))
        {
            return Err(format!("`{unknown}` in `{s}` is not a modifier"));
        }
        if canonical.len() != mods.len() {
            return Err(format!("`{s}` repeats a modifier"));
        }
        let key = if key.chars().count() == 1 && key.chars().all(|c| c.is_ascii_alphanumeric()) {
            key.to_ascii_uppercase()
        } else if let Some(named) = NAMED_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) {
            (*named).to_owned()
        } else if key.len() <= 3
            && key.starts_with(['F', 'f'])
            && key[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n))
        {
            key.to_ascii_uppercase()
        } else {
            return Err(format!("`{key}` in `{s}` is not a key"));
        };
        if canonical.is_empty() {
            return Err(format!(
                "`{s}` has no modifier; a hotkey needs one (Super, Ctrl, Alt or Shift)"
            ));
        }
        canonical.push(key);
        Ok(Chord(canonical.join("+")))
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_text!(Chord);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chords_are_canonical() {
        assert_eq!(
            "shift+super+return".parse::<Chord>().unwrap().to_string(),
            "Super+Shift+Return"
        );
        assert_eq!("Super+b".parse::<Chord>().unwrap().to_string(), "Super+B");
        assert_eq!(
            "Ctrl+Alt+F2".parse::<Chord>().unwrap().to_string(),
            "Ctrl+Alt+F2"
        );
        for bad in [
            "B",
            "Super+",
            "Hyper+1",
            "Super+Super+1",
            "Super+Enterr",
            "Super+F13",
        ] {
            assert!(bad.parse::<Chord>().is_err(), "{bad}");
        }
    }
}

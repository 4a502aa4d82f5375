//! The on-disk layout of storage (`shared/`, `profiles/<name>/home/`) and the
//! destinations a release can go to.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustix::fs::Mode;
use serde::{Deserialize, Serialize};

use crate::beneath;
use crate::error::StorageError;

/// Longest profile or sender name, in bytes.
const MAX_SEGMENT: usize = 32;

/// Mode of every directory private to a profile.
const PRIVATE_DIR: u32 = 0o700;

/// Mode of the shared directory.
const SHARED_DIR: u32 = 0o755;

/// The storage tree under one root (by default `$XDG_DATA_HOME/zion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`; nothing is touched until [`Layout::create`].
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// The root of the storage tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Storage shared by all profiles: `root/shared`.
    pub fn shared(&self) -> PathBuf {
        self.root.join("shared")
    }

    /// A profile's private home: `root/profiles/<profile>/home`.
    pub fn profile_home(&self, profile: &str) -> PathBuf {
        self.root.join("profiles").join(profile).join("home")
    }

    /// Creates the root, `shared/` and each profile's home (mode 0700), refusing
    /// symlinks on the way; existing directories are kept.
    pub fn create(&self, profiles: &[&str]) -> Result<(), StorageError> {
        for profile in profiles {
            check_segment(profile).map_err(|reason| StorageError::InvalidDestination {
                input: format!("profile:{profile}"),
                reason,
            })?;
        }
        std::fs::create_dir_all(&self.root)
            .map_err(|e| StorageError::io("creating the storage root", &self.root, e))?;
        let root = beneath::open_root(&self.root)?;
        beneath::open_dir(
            &self.root,
            &root,
            &["shared"],
            Some(Mode::from_raw_mode(SHARED_DIR)),
        )?;
        let private = Some(Mode::from_raw_mode(PRIVATE_DIR));
        beneath::open_dir(&self.root, &root, &["profiles"], private)?;
        for profile in profiles {
            let dir = beneath::open_dir(&self.root, &root, &["profiles", profile], private)?;
            beneath::enforce_mode(&dir, PRIVATE_DIR, &self.root.join("profiles").join(profile))?;
            let home =
                beneath::open_dir(&self.root, &root, &["profiles", profile, "home"], private)?;
            beneath::enforce_mode(&home, PRIVATE_DIR, &self.profile_home(profile))?;
        }
        Ok(())
    }

    /// The directory a destination stands for (not checked, not created).
    pub fn destination_dir(&self, d: &Destination) -> PathBuf {
        self.root.join(d.components().join("/"))
    }
}

/// Where a release goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Destination {
    /// `root/shared`, seen read-only by every profile.
    Shared,
    /// A profile's home.
    Profile {
        /// The profile.
        name: String,
    },
    /// `<profile home>/Incoming/<from>/`: sent by another profile, created on demand.
    Incoming {
        /// The receiving profile.
        profile: String,
        /// The sending profile.
        from: String,
    },
}

impl Destination {
    /// Checks that every name in the destination is a safe path segment.
    pub fn validate(&self) -> Result<(), StorageError> {
        let check = |name: &str| {
            check_segment(name).map_err(|reason| StorageError::InvalidDestination {
                input: self.to_string(),
                reason,
            })
        };
        match self {
            Destination::Shared => Ok(()),
            Destination::Profile { name } => check(name),
            Destination::Incoming { profile, from } => check(profile).and_then(|()| check(from)),
        }
    }

    /// The path segments under the layout root.
    pub(crate) fn components(&self) -> Vec<&str> {
        match self {
            Destination::Shared => vec!["shared"],
            Destination::Profile { name } => vec!["profiles", name, "home"],
            Destination::Incoming { profile, from } => {
                vec!["profiles", profile, "home", "Incoming", from]
            }
        }
    }

    /// How many leading components must already exist (the rest is created on demand).
    pub(crate) fn existing_prefix(&self) -> usize {
        match self {
            Destination::Shared => 1,
            Destination::Profile { .. } | Destination::Incoming { .. } => 3,
        }
    }
}

impl FromStr for Destination {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| StorageError::InvalidDestination {
            input: s.to_owned(),
            reason,
        };
        if s == "shared" {
            return Ok(Destination::Shared);
        }
        let Some(rest) = s.strip_prefix("profile:") else {
            return Err(invalid(
                "expected \"shared\", \"profile:NAME\" or \"profile:NAME/incoming:FROM\"".into(),
            ));
        };
        let (profile, tail) = match rest.split_once('/') {
            None => (rest, None),
            Some((profile, tail)) => (profile, Some(tail)),
        };
        check_segment(profile).map_err(|r| invalid(format!("profile name: {r}")))?;
        let from = match tail {
            None => None,
            Some(tail) => match tail.strip_prefix("incoming:") {
                Some(from) => Some(from),
                None => {
                    return Err(invalid(format!(
                        "after \"profile:{profile}/\" expected \"incoming:FROM\", found {tail:?}"
                    )))
                }
            },
        };
        match from {
            None => Ok(Destination::Profile {
                name: profile.to_owned(),
            }),
            Some(from) => {
                check_segment(from).map_err(|r| invalid(format!("incoming sender name: {r}")))?;
                Ok(Destination::Incoming {
                    profile: profile.to_owned(),
                    from: from.to_owned(),
                })
            }
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Shared => f.write_str("shared"),
            Destination::Profile { name } => write!(f, "profile:{name}"),
            Destination::Incoming { profile, from } => {
                write!(f, "profile:{profile}/incoming:{from}")
            }
        }
    }
}

/// Whether `name` is a safe path segment: `[a-z0-9][a-z0-9_-]{0,31}`.
pub fn is_safe_segment(name: &str) -> bool {
    check_segment(name).is_ok()
}

/// Says what is wrong with `name` as a profile or sender name.
fn check_segment(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    match bytes.next() {
        None => return Err("is empty".into()),
        Some(b) if !(b.is_ascii_lowercase() || b.is_ascii_digit()) => {
            return Err(format!(
                "{name:?} must start with a lower-case letter or a digit"
            ))
        }
        Some(_) => {}
    }
    if name.len() > MAX_SEGMENT {
        return Err(format!("{name:?} is longer than {MAX_SEGMENT} bytes"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "{name:?} contains {c:?}; only a-z, 0-9, '_' and '-' are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_round_trip_through_text() {
        for text in ["shared", "profile:work", "profile:gaming-2/incoming:work_1"] {
            let d: Destination = text.parse().expect("valid destination");
            assert_eq!(d.to_string(), text);
        }
        assert_eq!(
            "profile:work/incoming:personal".parse::<Destination>().ok(),
            Some(Destination::Incoming {
                profile: "work".into(),
                from: "personal".into()
            })
        );
    }

    #[test]
    fn bad_destinations_say_what_was_wrong() {
        let cases = [
            ("", "expected \"shared\""),
            ("Shared", "expected \"shared\""),
            ("profile:", "is empty"),
            ("profile:../etc", "must start with"),
            ("profile:Work", "must start with"),
            ("profile:wo/rk", "expected \"incoming:FROM\""),
            ("profile:w.rk", "contains '.'"),
            ("profile:work/incoming:", "sender name: is empty"),
            ("profile:work/incoming:a/b", "contains '/'"),
            ("profile:work\n", "contains '\\n'"),
        ];
        for (input, wanted) in cases {
            let err = input
                .parse::<Destination>()
                .expect_err(&format!("{input:?} must be refused"))
                .to_string();
            assert!(err.contains(wanted), "{input:?}: {err}");
        }
        let long = format!("profile:{}", "a".repeat(33));
        let err = long
            .parse::<Destination>()
            .expect_err("too long")
            .to_string();
        assert!(err.contains("longer than 32"), "{err}");
        assert!(format!("profile:{}", "a".repeat(32))
            .parse::<Destination>()
            .is_ok());
    }

    #[test]
    fn destination_dirs_are_where_the_design_says() {
        let layout = Layout::new("/data/zion");
        assert_eq!(
            layout.destination_dir(&Destination::Shared),
            Path::new("/data/zion/shared")
        );
        assert_eq!(
            layout.destination_dir(&Destination::Profile {
                name: "work".into()
            }),
            layout.profile_home("work")
        );
        assert_eq!(
            layout.destination_dir(&Destination::Incoming {
                profile: "work".into(),
                from: "gaming".into()
            }),
            Path::new("/data/zion/profiles/work/home/Incoming/gaming")
        );
    }

    #[test]
    fn constructed_destinations_with_unsafe_names_do_not_validate() {
        let d = Destination::Profile { name: "..".into() };
        assert!(d.validate().is_err());
        let d = Destination::Incoming {
            profile: "work".into(),
            from: "../../x".into(),
        };
        assert!(d.validate().is_err());
    }
}

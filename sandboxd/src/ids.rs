//! Which host ids each container's user namespace maps under rootful Podman
//! (issue 18, finding 3): uid 0 inside is never uid 0 outside. A profile
//! keeps its slot for good, persisted in `<data>/profiles/id-slots`, so that
//! the files in its home keep their owner when its container is made anew;
//! a sandbox takes a free slot of its own for its short life.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use zion_profiles::spec::IdRange;

/// Slots `0..PROFILE_SLOTS` are profiles'; the rest are sandboxes'.
pub const PROFILE_SLOTS: u32 = 2048;

/// The slots file: one `name slot` line per profile.
pub fn slots_file(data: &Path) -> PathBuf {
    data.join("profiles").join("id-slots")
}

/// Reads a slots file's text; lines that do not parse are skipped (and
/// their slots are then free: a profile never shares a slot, at worst it
/// gets a new one).
pub fn parse(text: &str) -> BTreeMap<String, u32> {
    text.lines()
        .filter_map(|line| {
            let (name, slot) = line.trim().split_once(' ')?;
            let slot: u32 = slot.trim().parse().ok()?;
            (slot < PROFILE_SLOTS).then(|| (name.to_owned(), slot))
        })
        .collect()
}

/// The text of a slots file.
pub fn render(slots: &BTreeMap<String, u32>) -> String {
    slots
        .iter()
        .map(|(name, slot)| format!("{name} {slot}\n"))
        .collect()
}

/// The slot of `profile`: the one it has, else the lowest free one (added
/// to `slots`). `None` when every profile slot is taken. Pure.
pub fn assign(slots: &mut BTreeMap<String, u32>, profile: &str) -> Option<u32> {
    if let Some(slot) = slots.get(profile) {
        return Some(*slot);
    }
    let taken: std::collections::BTreeSet<u32> = slots.values().copied().collect();
    let free = (0..PROFILE_SLOTS).find(|s| !taken.contains(s))?;
    slots.insert(profile.to_owned(), free);
    Some(free)
}

/// The lowest sandbox slot not in `used`. Pure.
pub fn sandbox_slot(used: &[u32]) -> Option<u32> {
    (PROFILE_SLOTS..IdRange::SLOTS).find(|s| !used.contains(s))
}

/// The range of `profile`, assigning and persisting its slot on first use.
/// The caller serialises calls (one daemon, one lock).
pub fn profile_range(data: &Path, profile: &str) -> io::Result<IdRange> {
    let file = slots_file(data);
    let mut slots = match std::fs::read_to_string(&file) {
        Ok(text) => parse(&text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    let known = slots.contains_key(profile);
    let slot = assign(&mut slots, profile).ok_or_else(|| {
        io::Error::other(format!(
            "no user-namespace range is left for profile `{profile}` ({PROFILE_SLOTS} profiles at most)"
        ))
    })?;
    if !known {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Written aside and renamed: a crash leaves the old file or the new.
        let partial = file.with_extension("partial");
        std::fs::write(&partial, render(&slots))?;
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, &file)?;
    }
    IdRange::slot(slot).ok_or_else(|| io::Error::other("slot out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_keeps_its_slot_and_new_ones_take_the_lowest_free() {
        let mut slots = parse("work 0\ngaming 2\nbroken line\nfar 99999\n");
        assert_eq!(assign(&mut slots, "work"), Some(0));
        assert_eq!(assign(&mut slots, "personal"), Some(1));
        assert_eq!(assign(&mut slots, "new"), Some(3));
        assert_eq!(parse(&render(&slots)), slots);
    }

    #[test]
    fn the_slot_survives_the_daemon() {
        let data = tempfile::tempdir().expect("tempdir");
        let first = profile_range(data.path(), "work").expect("work");
        let other = profile_range(data.path(), "personal").expect("personal");
        assert_ne!(first, other);
        assert_eq!(profile_range(data.path(), "work").expect("again"), first);
        assert_eq!(first, IdRange::slot(0).expect("slot 0"));
    }

    #[test]
    fn sandboxes_take_slots_apart_from_profiles() {
        assert_eq!(sandbox_slot(&[]), Some(PROFILE_SLOTS));
        assert_eq!(
            sandbox_slot(&[PROFILE_SLOTS, PROFILE_SLOTS + 1]),
            Some(PROFILE_SLOTS + 2)
        );
    }
}

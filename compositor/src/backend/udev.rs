//! The udev backend (DRM/KMS on a seat, input from libinput) is not built
//! yet. What is here tells a user why `--backend udev` cannot start on this
//! machine: no login seat, no DRM device, or, with both, that the backend
//! itself is missing.

use std::path::{Path, PathBuf};

/// Why the udev backend cannot start, from the environment (`env` reads a
/// variable) and the DRM cards found (`/dev/dri/card*`).
pub fn refusal(env: impl Fn(&str) -> Option<String>, cards: &[PathBuf]) -> String {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let mut problems = Vec::new();
    if !set("XDG_SEAT") || !(set("XDG_SESSION_ID") || set("XDG_SESSION_TYPE")) {
        problems.push(
            "there is no login seat (XDG_SEAT and XDG_SESSION_ID are not set: this is not a \
             session started by logind on a virtual terminal)",
        );
    }
    if cards.is_empty() {
        problems.push("there is no DRM device (no /dev/dri/card*: no GPU or no KMS driver)");
    }
    if problems.is_empty() {
        "the udev (DRM/KMS) backend is not built yet in this version of zion-compositor; \
         use --backend winit inside a desktop or --backend headless"
            .to_owned()
    } else {
        // Both are said: what this machine lacks, and that the backend
        // would not run even with them.
        format!(
            "the udev backend cannot start: {}; besides, the udev (DRM/KMS) backend is not \
             built yet in this version: use --backend winit inside a desktop or --backend \
             headless",
            problems.join(", and ")
        )
    }
}

/// The DRM cards under `dri` (normally `/dev/dri`).
pub fn drm_cards(dri: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dri) else {
        return Vec::new();
    };
    let mut cards: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("card"))
        .map(|e| e.path())
        .collect();
    cards.sort();
    cards
}

/// Fails with the reason the udev backend cannot start here.
pub fn start() -> anyhow::Result<super::Backend> {
    let cards = drm_cards(Path::new("/dev/dri"));
    anyhow::bail!("{}", refusal(|name| std::env::var(name).ok(), &cards))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn without_seat_or_gpu_both_reasons_are_given() {
        let why = refusal(env_of(&[]), &[]);
        assert!(why.contains("no login seat"), "{why}");
        assert!(why.contains("no DRM device"), "{why}");
        assert!(why.contains("--backend headless"), "{why}");
    }

    #[test]
    fn a_seat_without_a_gpu_names_the_missing_device_only() {
        let seat = [("XDG_SEAT", "seat0"), ("XDG_SESSION_ID", "2")];
        let why = refusal(env_of(&seat), &[]);
        assert!(!why.contains("no login seat"), "{why}");
        assert!(why.contains("no DRM device"), "{why}");
    }

    #[test]
    fn with_seat_and_gpu_the_missing_backend_is_admitted() {
        let seat = [("XDG_SEAT", "seat0"), ("XDG_SESSION_ID", "2")];
        let why = refusal(env_of(&seat), &[PathBuf::from("/dev/dri/card0")]);
        assert!(why.contains("not built yet"), "{why}");
    }

    #[test]
    fn only_cards_count_as_drm_devices() {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(dir.path().join("renderD128"), "").expect("write");
        assert!(drm_cards(dir.path()).is_empty());
        std::fs::write(dir.path().join("card1"), "").expect("write");
        assert_eq!(drm_cards(dir.path()), [dir.path().join("card1")]);
        assert!(drm_cards(&dir.path().join("missing")).is_empty());
    }
}

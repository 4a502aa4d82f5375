//! Profile images from recipes: a recipe is Debian minbase plus a list of
//! packages (`session-files/images/NAME.packages`), built into a root file
//! system and imported into Podman as `localhost/zion-NAME:<recipe hash>`,
//! so that a changed recipe gives a new image and an unchanged one is built
//! once. As root the root file system is built by debootstrap; as an
//! ordinary user by `mmdebstrap --mode=unshare`, which needs no privilege
//! beyond the user's subuid/subgid range ([`Builder`]).
//!
//! debootstrap's progress comes from its own machine-readable channel, the
//! one Debian's installer draws its progress bar from
//! (`--debian-installer`: `P: now end PHASE` and `I:`/`W:`/`E:` lines on
//! file descriptor 3); mmdebstrap's from the steps it names on stderr
//! (`I: downloading packages with apt...`, [`MmdebstrapReader`]).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// Bumped when the way images are built changes, to invalidate old tags.
const BUILDER_VERSION: &str = "1";

/// A Debian image recipe: minbase plus packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// The Debian suite.
    pub suite: &'static str,
    /// Extra packages.
    pub packages: Vec<String>,
}

impl Recipe {
    /// Reads a package list: one package a line, `#` starts a comment.
    pub fn parse(text: &str) -> Recipe {
        let packages = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        Recipe {
            suite: "bookworm",
            packages,
        }
    }

    /// Reads the recipe file at `path`.
    pub fn load(path: &Path) -> Result<Recipe, ImageError> {
        let text = fs::read_to_string(path).map_err(|source| ImageError::Io {
            what: "reading the recipe",
            path: path.to_owned(),
            source,
        })?;
        let recipe = Recipe::parse(&text);
        if let Some(bad) = recipe.packages.iter().find(|p| !is_package_name(p)) {
            return Err(ImageError::Recipe {
                path: path.to_owned(),
                message: format!("`{bad}` is not a Debian package name"),
            });
        }
        Ok(recipe)
    }

    /// The tag: the first 12 hex digits of the recipe's SHA-256.
    pub fn tag(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(BUILDER_VERSION);
        hash.update(self.suite);
        for p in &self.packages {
            hash.update([0]);
            hash.update(p);
        }
        hex::encode(&hash.finalize()[..6])
    }
}

/// Debian's rule: lower-case letters, digits, `+ - .`, at least two
/// characters, starting with a letter or digit.
fn is_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

/// The disposable browser's image repository, built from the `browser` recipe.
pub const BROWSER_IMAGE_NAME: &str = "localhost/zion-browser";
/// The disposable Firefox's image repository (`[sandbox] browser =
/// "firefox"`), built from the `firefox` recipe.
pub const FIREFOX_IMAGE_NAME: &str = "localhost/zion-firefox";

/// The recipe name of an image Zion builds: `localhost/zion-NAME[:tag]`
/// gives `NAME`; any other image is pulled, not built.
pub fn recipe_name(image: &str) -> Option<&str> {
    let repository = image.strip_prefix("localhost/")?;
    let repository = repository.split_once(':').map_or(repository, |(r, _)| r);
    repository
        .strip_prefix("zion-")
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

/// The repository of an image reference: `localhost/zion-profile:latest`
/// gives `localhost/zion-profile`.
pub fn repository(image: &str) -> &str {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => image,
    }
}

/// What can go wrong building an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file or folder could not be used.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A recipe is malformed.
    #[error("{}: {message}", path.display())]
    Recipe {
        /// The recipe file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A program the build needs is not installed.
    #[error("`{program}` is needed to build images and is not installed ({hint})")]
    Missing {
        /// The program.
        program: &'static str,
        /// How to get it.
        hint: &'static str,
    },
    /// mmdebstrap failed.
    #[error("mmdebstrap failed: {message}\n(its full log: {})", log.display())]
    Mmdebstrap {
        /// Its last error, or the end of its log.
        message: String,
        /// Its log file.
        log: PathBuf,
    },
    /// debootstrap failed.
    #[error("debootstrap failed: {message}\n(its full log: {})", log.display())]
    Debootstrap {
        /// Its last error, or the end of its log.
        message: String,
        /// Its log file.
        log: PathBuf,
    },
    /// Packing the root file system failed.
    #[error("packing the root file system into {}: {message}", tarball.display())]
    Pack {
        /// The archive.
        tarball: PathBuf,
        /// tar's message.
        message: String,
    },
}

/// The phases of a build, in order, with the share of the whole each takes
/// (measured on a minbase build: downloading and unpacking dominate).
const PHASES: [(&str, f64); 13] = [
    ("DOWNREL", 1.0),
    ("DOWNRELSIG", 1.0),
    ("DOWNPKGS", 3.0),
    ("DOWNMAINPKGS", 3.0),
    ("SIZEDEBS", 2.0),
    ("DOWNDEBS", 30.0),
    ("EXTRACTPKGS", 8.0),
    ("INSTCORE", 5.0),
    ("UNPACKREQ", 10.0),
    ("CONFREQ", 8.0),
    ("UNPACKBASE", 8.0),
    ("CONFBASE", 6.0),
    (PACK_PHASE, 15.0),
];

/// The last phase, Zion's own: packing and importing the image.
pub const PACK_PHASE: &str = "IMPORT";

/// Where a build is.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// How far the whole build is, 0 to 1.
    pub fraction: f64,
    /// What is being done, in debootstrap's words ("Downloading packages").
    pub doing: String,
}

/// Reads debootstrap's `--debian-installer` channel line by line.
#[derive(Debug, Default)]
pub struct ProgressReader {
    phase: Option<usize>,
    now: f64,
    end: f64,
    doing: String,
    /// The arguments of the message being read (`IA:`/`EA:` lines).
    args: Vec<String>,
    /// The last error debootstrap reported, formatted.
    pub error: Option<String>,
    /// Warnings, formatted.
    pub warnings: Vec<String>,
}

impl ProgressReader {
    /// Takes one line; returns the new progress when it moved.
    pub fn feed(&mut self, line: &str) -> Option<Progress> {
        let (kind, rest) = line.split_once(": ").unwrap_or((line, ""));
        match kind {
            "P" => {
                let mut words = rest.split_whitespace();
                let now = words.next()?.parse::<f64>().ok()?;
                let end = words.next()?.parse::<f64>().ok()?;
                if let Some(name) = words.next() {
                    self.phase = PHASES.iter().position(|(n, _)| *n == name).or(self.phase);
                }
                self.now = now;
                self.end = end;
                self.args.clear();
                Some(self.progress())
            }
            "PF" => {
                self.doing = format_message(rest, &self.args);
                self.args.clear();
                Some(self.progress())
            }
            "PA" | "IA" | "WA" | "EA" => {
                self.args.push(rest.to_owned());
                None
            }
            "I" | "W" | "E" => {
                self.args.clear();
                None
            }
            "WF" => {
                self.warnings.push(format_message(rest, &self.args));
                self.args.clear();
                None
            }
            "EF" => {
                self.error = Some(format_message(rest, &self.args));
                self.args.clear();
                None
            }
            _ => None,
        }
    }

    /// Where the build is now.
    pub fn progress(&self) -> Progress {
        let Some(phase) = self.phase else {
            return Progress {
                fraction: 0.0,
                doing: self.doing.clone(),
            };
        };
        let within = if self.end > 0.0 {
            (self.now / self.end).clamp(0.0, 1.0)
        } else {
            0.0
        };
        Progress {
            fraction: phase_fraction(phase, within),
            doing: self.doing.clone(),
        }
    }
}

/// How far the whole build is when phase `phase` is `within` done.
pub fn phase_fraction(phase: usize, within: f64) -> f64 {
    let total: f64 = PHASES.iter().map(|(_, w)| w).sum();
    let before: f64 = PHASES[..phase].iter().map(|(_, w)| w).sum();
    ((before + PHASES[phase].1 * within) / total).clamp(0.0, 1.0)
}

/// The index of Zion's own import phase.
pub fn pack_phase() -> usize {
    PHASES.len() - 1
}

/// Fills a printf format of debootstrap's (`%s` only, in practice) with its
/// arguments.
fn format_message(fmt: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('%') => out.push('%'),
                Some(_) => out.push_str(args.next().map_or("", String::as_str)),
                None => out.push('%'),
            }
        } else if c == '\\' && chars.peek() == Some(&'n') {
            chars.next();
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

/// Which program builds the root file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    /// debootstrap into a folder, then packed with tar: needs root (it
    /// creates device files and runs chroot).
    Debootstrap,
    /// `mmdebstrap --mode=unshare` straight into a tar archive: runs as an
    /// ordinary user inside a user namespace of the user's subuid/subgid
    /// range.
    Mmdebstrap,
}

impl Builder {
    /// debootstrap for root, mmdebstrap for everyone else. Pure.
    pub fn for_user(is_root: bool) -> Builder {
        if is_root {
            Builder::Debootstrap
        } else {
            Builder::Mmdebstrap
        }
    }
}

/// mmdebstrap's arguments for `recipe` into the tar archive `tarball` from
/// `mirror`: the same Debian minbase and packages debootstrap installs. Pure.
pub fn mmdebstrap_args(recipe: &Recipe, tarball: &Path, mirror: &str) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "--mode=unshare".into(),
        "--variant=minbase".into(),
        "--format=tar".into(),
    ];
    if !recipe.packages.is_empty() {
        args.push(format!("--include={}", recipe.packages.join(",")).into());
    }
    args.push(recipe.suite.into());
    args.push(tarball.into());
    args.push(mirror.into());
    args
}

/// mmdebstrap's steps as it names them on stderr (`I: <step>...`), what
/// they are shown as, and the share of the build before the import each
/// takes (measured like [`PHASES`]: downloading dominates).
const MMDEBSTRAP_STEPS: [(&str, &str, f64); 7] = [
    (
        "running apt-get update",
        "Downloading the package lists",
        5.0,
    ),
    (
        "downloading packages with apt",
        "Downloading packages",
        35.0,
    ),
    ("extracting archives", "Extracting packages", 8.0),
    (
        "installing essential packages",
        "Installing the essential packages",
        15.0,
    ),
    (
        "installing remaining packages inside the chroot",
        "Installing the recipe's packages",
        17.0,
    ),
    ("cleaning package lists and apt cache", "Cleaning up", 2.0),
    ("creating tarball", "Packing the image", 3.0),
];

/// Reads mmdebstrap's stderr line by line: its steps become the same
/// [`Progress`] debootstrap's channel gives, ending where the import
/// ([`PACK_PHASE`]) begins.
#[derive(Debug, Default)]
pub struct MmdebstrapReader {
    step: Option<usize>,
    /// The last error mmdebstrap reported (`E:`).
    pub error: Option<String>,
    /// Its warnings (`W:`).
    pub warnings: Vec<String>,
}

impl MmdebstrapReader {
    /// Takes one line; returns the new progress when a step began.
    pub fn feed(&mut self, line: &str) -> Option<Progress> {
        if let Some(message) = line.strip_prefix("E: ") {
            self.error = Some(message.trim().to_owned());
            return None;
        }
        if let Some(message) = line.strip_prefix("W: ") {
            self.warnings.push(message.trim().to_owned());
            return None;
        }
        let message = line.strip_prefix("I: ")?;
        let step = MMDEBSTRAP_STEPS
            .iter()
            .position(|(said, _, _)| message.starts_with(said))?;
        self.step = Some(step);
        let before: f64 = MMDEBSTRAP_STEPS[..step].iter().map(|(_, _, w)| w).sum();
        let total: f64 = MMDEBSTRAP_STEPS.iter().map(|(_, _, w)| w).sum();
        Some(Progress {
            fraction: phase_fraction(pack_phase(), 0.0) * before / total,
            doing: MMDEBSTRAP_STEPS[step].1.to_owned(),
        })
    }
}

/// Builds `recipe`'s root file system straight into the tar archive
/// `tarball` with `mmdebstrap --mode=unshare` from `mirror`, as the user
/// running it, its full output in `log`, calling `on_progress` as it goes.
/// Needs the user's subuid/subgid range (`/etc/subuid`, `/etc/subgid`) and
/// `newuidmap`, as rootless Podman does.
pub fn mmdebstrap(
    recipe: &Recipe,
    tarball: &Path,
    mirror: &str,
    log: &Path,
    mut on_progress: impl FnMut(&Progress),
) -> Result<(), ImageError> {
    require("mmdebstrap", "install Debian's mmdebstrap package")?;
    require(
        "newuidmap",
        "install Debian's uidmap package and give the user a range in /etc/subuid and /etc/subgid",
    )?;
    let mut log_file = fs::File::create(log).map_err(|source| ImageError::Io {
        what: "creating the build log",
        path: log.to_owned(),
        source,
    })?;
    let log_out = log_file.try_clone().map_err(|source| ImageError::Io {
        what: "opening the build log",
        path: log.to_owned(),
        source,
    })?;
    let mut child = Command::new("mmdebstrap")
        .args(mmdebstrap_args(recipe, tarball, mirror))
        .stdin(Stdio::null())
        .stdout(log_out)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ImageError::Io {
            what: "starting mmdebstrap for",
            path: tarball.to_owned(),
            source,
        })?;
    let mut reader = MmdebstrapReader::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            // The log keeps everything; a full disk costs the log, not the build.
            let _ = writeln!(log_file, "{line}");
            if let Some(p) = reader.feed(&line) {
                on_progress(&p);
            }
        }
    }
    let status = child.wait().map_err(|source| ImageError::Io {
        what: "waiting for mmdebstrap building",
        path: tarball.to_owned(),
        source,
    })?;
    if status.success() {
        return Ok(());
    }
    let message = reader
        .error
        .unwrap_or_else(|| format!("{status}; the end of its log: {}", tail(log, 5)));
    Err(ImageError::Mmdebstrap {
        message,
        log: log.to_owned(),
    })
}

/// Builds `recipe`'s root file system into `target` (an empty or missing
/// folder) with debootstrap from `mirror`, its full output in `log`, calling
/// `on_progress` as it goes. Needs root, as debootstrap does.
pub fn debootstrap(
    recipe: &Recipe,
    target: &Path,
    mirror: &str,
    log: &Path,
    mut on_progress: impl FnMut(&Progress),
) -> Result<(), ImageError> {
    require("debootstrap", "install Debian's debootstrap package")?;
    require("perl", "install Debian's perl-base package")?;
    let log_file = fs::File::create(log).map_err(|source| ImageError::Io {
        what: "creating the build log",
        path: log.to_owned(),
        source,
    })?;
    let log_err = log_file.try_clone().map_err(|source| ImageError::Io {
        what: "opening the build log",
        path: log.to_owned(),
        source,
    })?;
    let (reader, writer) = std::io::pipe().map_err(|source| ImageError::Io {
        what: "creating a pipe for debootstrap's progress",
        path: log.to_owned(),
        source,
    })?;
    let writer: OwnedFd = writer.into();
    let channel = writer.as_raw_fd();
    let mut cmd = Command::new("debootstrap");
    cmd.arg("--debian-installer").arg("--variant=minbase");
    if !recipe.packages.is_empty() {
        cmd.arg(format!("--include={}", recipe.packages.join(",")));
    }
    cmd.arg(recipe.suite)
        .arg(target)
        .arg(mirror)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    // SAFETY: only dup2, which is async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc_dup2(channel, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| ImageError::Io {
        what: "starting debootstrap for",
        path: target.to_owned(),
        source,
    })?;
    // Our copy of the writing end must go, or the reader never ends.
    drop(cmd);
    drop(writer);
    let mut progress = ProgressReader::default();
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        if let Some(p) = progress.feed(&line) {
            on_progress(&p);
        }
    }
    let status = child.wait().map_err(|source| ImageError::Io {
        what: "waiting for debootstrap building",
        path: target.to_owned(),
        source,
    })?;
    if status.success() {
        return Ok(());
    }
    let message = progress
        .error
        .unwrap_or_else(|| format!("{status}; the end of its log: {}", tail(log, 5)));
    Err(ImageError::Debootstrap {
        message,
        log: log.to_owned(),
    })
}

/// Makes `from` the child's descriptor `to`, open across exec.
fn libc_dup2(from: i32, to: i32) -> i32 {
    const F_SETFD: i32 = 2;
    // SAFETY: dup2 and fcntl on descriptors this process owns; a descriptor
    // duplicated onto itself keeps its close-on-exec flag, which is cleared.
    unsafe {
        if from == to {
            fcntl(to, F_SETFD, 0)
        } else {
            dup2(from, to)
        }
    }
}

unsafe extern "C" {
    fn dup2(oldfd: i32, newfd: i32) -> i32;
    fn fcntl(fd: i32, cmd: i32, arg: i32) -> i32;
}

/// Drops downloaded packages (no use inside an image) and packs `rootfs`
/// into the tar archive `tarball`.
pub fn pack(rootfs: &Path, tarball: &Path) -> Result<(), ImageError> {
    if let Ok(entries) = fs::read_dir(rootfs.join("var/cache/apt/archives")) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "deb") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    require("tar", "install Debian's tar package")?;
    let out = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg(tarball)
        .arg(".")
        .output()
        .map_err(|source| ImageError::Io {
            what: "running tar for",
            path: tarball.to_owned(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ImageError::Pack {
            tarball: tarball.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

fn require(program: &'static str, hint: &'static str) -> Result<(), ImageError> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    if found {
        Ok(())
    } else {
        Err(ImageError::Missing { program, hint })
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_ignores_comments_and_blank_lines() {
        let r = Recipe::parse("# a comment\nweston\n\n foot # the terminal\n");
        assert_eq!(r.packages, vec!["weston", "foot"]);
    }

    #[test]
    fn a_changed_recipe_gets_a_new_tag() {
        let a = Recipe::parse("weston\n");
        let b = Recipe::parse("weston\nfoot\n");
        assert_ne!(a.tag(), b.tag());
        assert_eq!(a.tag(), Recipe::parse("# same\nweston").tag());
        assert_eq!(a.tag().len(), 12);
    }

    #[test]
    fn zion_images_name_their_recipe_and_others_do_not() {
        assert_eq!(
            recipe_name("localhost/zion-profile:latest"),
            Some("profile")
        );
        assert_eq!(recipe_name("localhost/zion-browser"), Some("browser"));
        assert_eq!(recipe_name("docker.io/library/debian:12"), None);
        assert_eq!(recipe_name("localhost/other:1"), None);
        assert_eq!(recipe_name("localhost/zion-:1"), None);
        assert_eq!(
            repository("localhost/zion-profile:latest"),
            "localhost/zion-profile"
        );
        assert_eq!(
            repository("localhost:5000/zion-profile"),
            "localhost:5000/zion-profile"
        );
    }

    #[test]
    fn package_names_follow_debian_rules() {
        assert!(is_package_name("libstdc++6"));
        assert!(is_package_name("fonts-dejavu-core"));
        assert!(!is_package_name("Foot"));
        assert!(!is_package_name("foot;rm"));
        assert!(!is_package_name("f"));
    }

    #[test]
    fn progress_follows_the_installer_channel() {
        let mut r = ProgressReader::default();
        assert_eq!(r.feed("I: MAINPKGS"), None);
        let start = r.feed("P: 0 100 DOWNREL").map(|p| p.fraction);
        assert_eq!(start, Some(0.0));
        let p = r
            .feed("PF: Downloading Release file")
            .expect("a description");
        assert_eq!(p.doing, "Downloading Release file");
        let half = r.feed("P: 50 100 DOWNDEBS").expect("progress").fraction;
        let later = r.feed("P: 1 1 CONFBASE").expect("progress").fraction;
        assert!(half > 0.0 && half < later && later < 1.0, "{half} {later}");
        // The import that follows debootstrap ends the build.
        assert_eq!(phase_fraction(pack_phase(), 1.0), 1.0);
    }

    #[test]
    fn wget_progress_without_a_phase_name_stays_in_its_phase() {
        let mut r = ProgressReader::default();
        r.feed("P: 0 1000 DOWNDEBS");
        let a = r.feed("P: 500 1000").expect("progress").fraction;
        assert_eq!(a, phase_fraction(5, 0.5));
    }

    #[test]
    fn root_builds_with_debootstrap_and_a_user_with_mmdebstrap() {
        assert_eq!(Builder::for_user(true), Builder::Debootstrap);
        assert_eq!(Builder::for_user(false), Builder::Mmdebstrap);
    }

    #[test]
    fn mmdebstrap_builds_the_same_recipe_into_a_tarball_in_a_user_namespace() {
        let recipe = Recipe::parse("weston\nfoot\n");
        let args = mmdebstrap_args(
            &recipe,
            Path::new("/var/tmp/zion-image-x/root.tar"),
            "http://deb.debian.org/debian",
        );
        assert_eq!(
            args,
            [
                "--mode=unshare",
                "--variant=minbase",
                "--format=tar",
                "--include=weston,foot",
                "bookworm",
                "/var/tmp/zion-image-x/root.tar",
                "http://deb.debian.org/debian",
            ]
        );
        let bare = mmdebstrap_args(&Recipe::parse(""), Path::new("o.tar"), "m");
        assert!(
            !bare
                .iter()
                .any(|a| a.to_string_lossy().starts_with("--include")),
            "minbase alone: {bare:?}"
        );
    }

    #[test]
    fn mmdebstrap_steps_move_the_bar_up_to_the_import() {
        let mut r = MmdebstrapReader::default();
        assert_eq!(r.feed("I: automatically chosen format: tar"), None);
        let update = r.feed("I: running apt-get update...").expect("a step");
        assert_eq!(update.fraction, 0.0);
        let download = r
            .feed("I: downloading packages with apt...")
            .expect("a step");
        assert_eq!(download.doing, "Downloading packages");
        let tar = r.feed("I: creating tarball...").expect("a step");
        assert!(
            0.0 < download.fraction
                && download.fraction < tar.fraction
                && tar.fraction < phase_fraction(pack_phase(), 0.0),
            "{download:?} {tar:?}"
        );
        assert_eq!(
            r.feed("Get:1 http://deb.debian.org bookworm InRelease"),
            None
        );
        r.feed("W: something odd");
        r.feed("E: unshare: no subuid range for user zion");
        assert_eq!(r.warnings, ["something odd"]);
        assert_eq!(
            r.error.as_deref(),
            Some("unshare: no subuid range for user zion")
        );
    }

    #[test]
    fn errors_and_warnings_are_formatted_with_their_arguments() {
        let mut r = ProgressReader::default();
        for line in [
            "W: RETRYING",
            "WA: http://deb.debian.org/x.deb",
            "WF: Retrying failed download of %s",
            "E: COULDNTDL",
            "EA: nosuchpackage",
            "EF: Couldn't find package %s",
        ] {
            r.feed(line);
        }
        assert_eq!(
            r.warnings,
            vec!["Retrying failed download of http://deb.debian.org/x.deb"]
        );
        assert_eq!(
            r.error.as_deref(),
            Some("Couldn't find package nosuchpackage")
        );
    }
}

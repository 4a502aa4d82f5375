//! `zionctl image build [PROFILE]`: builds the images the profiles (and the
//! disposable browser) run from their recipes, with a progress bar, into the
//! Podman the session uses.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Subcommand;
use podman_api::opts::ImageTagOpts;
use zion_config::Config;
use zion_config::SandboxBrowser;
use zion_config::SessionPaths;
use zion_profiles::image::{BROWSER_IMAGE_NAME, FIREFOX_IMAGE_NAME};
/// The sanitiser's converter image (issue 17), built from sanitiser.packages.
const SANITISER_IMAGE_NAME: &str = "localhost/zion-sanitiser";
use zion_profiles::image::{self, phase_fraction, Builder, Progress, Recipe};
use zion_profiles::podman::{self, PodmanCandidates};
use zion_profiles::{PodmanClient, Timeouts};

/// What `zionctl image` does.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Builds a profile's image (every profile's when none is named) from its
    /// recipe, `NAME.packages` for an image `localhost/zion-NAME`: Debian
    /// minbase and the packages listed, by debootstrap as root or by
    /// `mmdebstrap --mode=unshare` as an ordinary user (with a subuid/subgid
    /// range), imported into the session's Podman (the user's own, rootless,
    /// for an ordinary user). An image built from the same recipe is kept.
    Build {
        /// The profile, as in zion.toml.
        profile: Option<String>,
        /// Also build the disposable browser's image: localhost/zion-browser
        /// (Chromium), or localhost/zion-firefox with `[sandbox] browser =
        /// "firefox"` in zion.toml.
        #[arg(long)]
        browser: bool,
        /// Also build the sanitiser's converter image
        /// (localhost/zion-sanitiser: poppler, Pillow and LibreOffice).
        #[arg(long)]
        sanitiser: bool,
        /// The configuration file [default: $XDG_CONFIG_HOME/zion/zion.toml,
        /// else the built-in profiles].
        #[arg(long)]
        config: Option<PathBuf>,
        /// The folder of recipes [default: $XDG_DATA_HOME/zion/images, then
        /// zion/images under each of $XDG_DATA_DIRS].
        #[arg(long)]
        recipes: Option<PathBuf>,
        /// The Debian mirror [default: $ZION_DEBIAN_MIRROR, else
        /// http://deb.debian.org/debian].
        #[arg(long)]
        mirror: Option<String>,
        /// Build even when an image of the same recipe is there.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a `zionctl image` command.
pub fn run(command: ImageCommand) -> ExitCode {
    let ImageCommand::Build {
        profile,
        browser,
        sanitiser,
        config,
        recipes,
        mirror,
        force,
    } = command;
    let options = BuildOptions {
        recipes: recipes.map_or_else(recipe_folders, |r| vec![r]),
        mirror: mirror
            .or_else(|| std::env::var("ZION_DEBIAN_MIRROR").ok())
            .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned()),
        force,
    };
    crate::bus::run(async move {
        let config = load_config(config)?;
        let mut wanted = wanted_images(&config, profile.as_deref(), browser)?;
        if sanitiser {
            wanted.push(Wanted {
                image: SANITISER_IMAGE_NAME.to_owned(),
                recipe: "sanitiser".to_owned(),
                users: vec!["the sanitiser".to_owned()],
            });
        }
        let podman = podman::connect(
            &PodmanCandidates::from_env(),
            Timeouts::from(&config.podman),
        )
        .await
        .map_err(|e| format!("{e:#}"))?;
        for want in &wanted {
            build_one(&podman, want, &options).await?;
        }
        Ok(())
    })
}

struct BuildOptions {
    recipes: Vec<PathBuf>,
    mirror: String,
    force: bool,
}

/// One image to build and who uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    /// The reference as configured, `localhost/zion-profile:latest`.
    image: String,
    /// Its recipe's name, `profile`.
    recipe: String,
    /// The profiles that run it (or "the disposable browser").
    users: Vec<String>,
}

fn load_config(explicit: Option<PathBuf>) -> Result<Config, String> {
    let file = explicit.unwrap_or_else(|| SessionPaths::from_env().config_file);
    if file.exists() {
        Config::load(&file).map_err(|e| e.to_string())
    } else {
        Ok(Config::defaults())
    }
}

/// The images to build: the named profile's, or every profile's, each once;
/// an image Zion does not build (not `localhost/zion-NAME`) is an error when
/// its profile is named and left to Podman's pull otherwise.
fn wanted_images(
    config: &Config,
    profile: Option<&str>,
    browser: bool,
) -> Result<Vec<Wanted>, String> {
    let chosen: Vec<_> = match profile {
        Some(name) => {
            let p = config.profile(name).ok_or_else(|| {
                let names: Vec<String> =
                    config.profiles.iter().map(|p| p.name.to_string()).collect();
                format!(
                    "there is no profile `{name}`; the profiles are {}",
                    names.join(", ")
                )
            })?;
            if image::recipe_name(&p.image).is_none() {
                return Err(format!(
                    "profile `{name}` runs {}, which Zion does not build (it builds \
                     localhost/zion-NAME images from NAME.packages): `podman pull` it instead",
                    p.image
                ));
            }
            vec![p]
        }
        None => config.profiles.iter().collect(),
    };
    let mut wanted: Vec<Wanted> = Vec::new();
    for p in chosen {
        let Some(recipe) = image::recipe_name(&p.image) else {
            eprintln!(
                "zionctl: {}: {} is pulled by Podman, not built",
                p.name, p.image
            );
            continue;
        };
        if wanted.iter().any(|w| w.image == p.image) {
            continue;
        }
        // Every profile running the image is told, named or not.
        let users = config
            .profiles
            .iter()
            .filter(|q| q.image == p.image)
            .map(|q| q.name.to_string())
            .collect();
        wanted.push(Wanted {
            image: p.image.clone(),
            recipe: recipe.to_owned(),
            users,
        });
    }
    if browser {
        // The image of the browser `[sandbox] browser` names.
        let (image, recipe) = match config.sandbox.browser {
            SandboxBrowser::Chromium => (BROWSER_IMAGE_NAME, "browser"),
            SandboxBrowser::Firefox => (FIREFOX_IMAGE_NAME, "firefox"),
        };
        wanted.push(Wanted {
            image: image.to_owned(),
            recipe: recipe.to_owned(),
            users: vec![format!(
                "the disposable browser ({})",
                config.sandbox.browser
            )],
        });
    }
    Ok(wanted)
}

/// `$XDG_DATA_HOME/zion/images`, then `zion/images` under each of
/// `$XDG_DATA_DIRS` (default `/usr/local/share:/usr/share`).
fn recipe_folders() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let home = var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    let dirs = var("XDG_DATA_DIRS")
        .map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
        .unwrap_or_else(|| vec!["/usr/local/share".into(), "/usr/share".into()]);
    home.into_iter()
        .chain(dirs)
        .map(|d| d.join("zion").join("images"))
        .collect()
}

fn find_recipe(folders: &[PathBuf], name: &str) -> Result<PathBuf, String> {
    let file = format!("{name}.packages");
    folders
        .iter()
        .map(|d| d.join(&file))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let looked: Vec<String> = folders.iter().map(|d| d.display().to_string()).collect();
            format!(
                "no recipe {file}; looked in {} (give the folder with --recipes)",
                looked.join(", ")
            )
        })
}

async fn build_one(
    podman: &PodmanClient,
    want: &Wanted,
    options: &BuildOptions,
) -> Result<(), String> {
    let recipe_path = find_recipe(&options.recipes, &want.recipe)?;
    let recipe = Recipe::load(&recipe_path).map_err(|e| e.to_string())?;
    let repository = image::repository(&want.image).to_owned();
    let built = format!("{repository}:{}", recipe.tag());
    let wanted_tag = want
        .image
        .strip_prefix(&format!("{repository}:"))
        .unwrap_or("latest");
    let images = podman.api().images();
    let exists = podman
        .timed(
            &format!("GET /libpod/images/{built}/exists"),
            images.get(built.as_str()).exists(),
        )
        .await
        .unwrap_or(false);
    if exists && !options.force {
        tag(podman, &built, &repository, wanted_tag).await?;
        println!(
            "{built} is up to date (recipe {} unchanged); used by {}",
            recipe_path.display(),
            want.users.join(", ")
        );
        return Ok(());
    }
    let euid = rustix::process::geteuid();
    let builder = Builder::for_user(euid.is_root());
    println!(
        "building {built} from {} (Debian minbase and {}, by {}) for {}",
        recipe_path.display(),
        match recipe.packages.len() {
            0 => "nothing else".to_owned(),
            1 => "1 package".to_owned(),
            n => format!("{n} packages"),
        },
        match builder {
            Builder::Debootstrap => "debootstrap",
            Builder::Mmdebstrap => "mmdebstrap in a user namespace",
        },
        want.users.join(", ")
    );
    let started = Instant::now();
    let base = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let work = tempfile::Builder::new()
        .prefix("zion-image-")
        .tempdir_in(&base)
        .map_err(|e| format!("creating a build folder in {}: {e}", base.display()))?;
    // Each user's own log: in the shared /var/tmp another user's is not
    // theirs to overwrite.
    let log = if euid.is_root() {
        base.join(format!("zion-image-{}.log", want.recipe))
    } else {
        base.join(format!("zion-image-{}-{}.log", want.recipe, euid.as_raw()))
    };
    let tarball = work.path().join("root.tar");
    let mut bar = Bar::new();
    let result = match builder {
        Builder::Debootstrap => {
            let rootfs = work.path().join("root");
            image::debootstrap(&recipe, &rootfs, &options.mirror, &log, |p| bar.show(p)).and_then(
                |()| {
                    bar.show(&Progress {
                        fraction: phase_fraction(image::pack_phase(), 0.0),
                        doing: "Packing the image".to_owned(),
                    });
                    image::pack(&rootfs, &tarball)
                },
            )
        }
        // Straight into the archive, in the user's own user namespace.
        Builder::Mmdebstrap => {
            image::mmdebstrap(&recipe, &tarball, &options.mirror, &log, |p| bar.show(p))
        }
    };
    if let Err(e) = result {
        bar.finish();
        return Err(e.to_string());
    }
    let imported = podman
        .import_image(&tarball, &built, |sent, total| {
            bar.show(&Progress {
                fraction: phase_fraction(image::pack_phase(), sent as f64 / total.max(1) as f64),
                doing: "Importing into Podman".to_owned(),
            });
        })
        .await;
    bar.finish();
    imported.map_err(|e| e.to_string())?;
    tag(podman, &built, &repository, wanted_tag).await?;
    let size = std::fs::metadata(&tarball).map_or(0, |m| m.len());
    println!(
        "built {built} ({}) in {:.0} s; tagged {repository}:{wanted_tag}",
        zion_bus::quarantine::human_size(size),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn tag(
    podman: &PodmanClient,
    built: &str,
    repository: &str,
    tag: &str,
) -> Result<(), String> {
    let image = podman.api().images().get(built);
    let opts = ImageTagOpts::builder().repo(repository).tag(tag).build();
    podman
        .timed(
            &format!("POST /libpod/images/{built}/tag"),
            image.tag(&opts),
        )
        .await
        .map_err(|e| format!("tagging {built} as {repository}:{tag}: {e}"))
}

/// The progress bar: redrawn in place on a terminal, one line per step
/// otherwise (a log keeps every step, not every percent).
struct Bar {
    terminal: bool,
    /// The step last seen, and whether it was printed.
    last: Option<((u32, String), bool)>,
    latest: Option<Progress>,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            terminal: std::io::stderr().is_terminal(),
            last: None,
            latest: None,
        }
    }

    fn show(&mut self, p: &Progress) {
        if p.doing.is_empty() {
            return;
        }
        let percent = (p.fraction * 100.0).floor() as u32;
        let step = (percent, p.doing.clone());
        if self.last.as_ref().is_some_and(|(s, _)| *s == step) {
            return;
        }
        let new_doing = self
            .last
            .as_ref()
            .is_none_or(|((_, doing), _)| *doing != p.doing);
        let mut err = std::io::stderr().lock();
        let printed = if self.terminal {
            let _ = write!(err, "\r{}\x1b[K", render(p, 30));
            true
        } else if new_doing {
            let _ = writeln!(err, "{}", render(p, 30));
            true
        } else {
            false
        };
        let _ = err.flush();
        self.last = Some((step, printed));
        self.latest = Some(p.clone());
    }

    /// Ends the bar's line; in a log, prints where it ended if that was not
    /// printed yet.
    fn finish(&mut self) {
        match (&self.last, &self.latest) {
            (Some(_), _) if self.terminal => eprintln!(),
            (Some((_, false)), Some(p)) => eprintln!("{}", render(p, 30)),
            _ => {}
        }
        self.last = None;
        self.latest = None;
    }
}

/// `[############··················]  40%  Downloading packages`.
fn render(p: &Progress, width: usize) -> String {
    let fraction = p.fraction.clamp(0.0, 1.0);
    let filled = (fraction * width as f64).round() as usize;
    format!(
        "[{}{}] {:>3}%  {}",
        "#".repeat(filled),
        "·".repeat(width - filled),
        (fraction * 100.0).floor() as u32,
        p.doing
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("zion.toml")).expect("a valid configuration")
    }

    #[test]
    fn the_bar_fills_with_the_fraction() {
        let p = |fraction| Progress {
            fraction,
            doing: "Downloading packages".into(),
        };
        assert_eq!(
            render(&p(0.0), 10),
            "[··········]   0%  Downloading packages"
        );
        assert_eq!(
            render(&p(0.5), 10),
            "[#####·····]  50%  Downloading packages"
        );
        assert_eq!(
            render(&p(1.0), 10),
            "[##########] 100%  Downloading packages"
        );
    }

    #[test]
    fn profiles_sharing_an_image_build_it_once() {
        let c = config(
            "[[profile]]\nname = \"work\"\n[[profile]]\nname = \"gaming\"\n\
             [[profile]]\nname = \"ext\"\nimage = \"docker.io/library/debian:12\"\n",
        );
        let all = wanted_images(&c, None, true).expect("images");
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0].recipe, "profile");
        assert_eq!(all[0].users, vec!["work", "gaming"]);
        let one = wanted_images(&c, Some("gaming"), false).expect("images");
        assert_eq!(one.len(), 1);
        assert_eq!(
            one[0].users,
            vec!["work", "gaming"],
            "all its users are told"
        );
        assert_eq!(all[1].image, BROWSER_IMAGE_NAME);
        let err = wanted_images(&c, Some("ext"), false).expect_err("not built by Zion");
        assert!(err.contains("podman pull"), "{err}");
        let err = wanted_images(&c, Some("nope"), false).expect_err("no such profile");
        assert!(err.contains("work, gaming, ext"), "{err}");
    }

    #[test]
    fn the_browser_image_is_the_one_sandbox_browser_names() {
        let chromium =
            wanted_images(&config("[[profile]]\nname = \"work\"\n"), None, true).expect("images");
        assert_eq!(chromium[1].image, BROWSER_IMAGE_NAME);
        assert_eq!(chromium[1].recipe, "browser");
        let firefox = wanted_images(
            &config("[sandbox]\nbrowser = \"firefox\"\n\n[[profile]]\nname = \"work\"\n"),
            None,
            true,
        )
        .expect("images");
        assert_eq!(firefox[1].image, FIREFOX_IMAGE_NAME);
        assert_eq!(firefox[1].recipe, "firefox");
        assert!(firefox[1].users[0].contains("firefox"), "{firefox:?}");
    }

    #[test]
    fn a_missing_recipe_names_the_folders_looked_in() {
        let err = find_recipe(&["/a".into(), "/b".into()], "profile").expect_err("none");
        assert!(
            err.contains("profile.packages") && err.contains("/a, /b"),
            "{err}"
        );
    }
}

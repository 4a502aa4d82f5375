//! The test images, built once with debootstrap and kept in a Podman image
//! store that every test's private service reads as an additional, read-only
//! store. The tag is a hash of the recipe, so a changed recipe builds a new
//! image; a file lock makes parallel tests (and parallel test binaries) build
//! each image once.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rustix::fs::{flock, FlockOperation};
use sha2::{Digest, Sha256};
use zion_profiles::image;
pub use zion_profiles::image::Recipe;

use crate::process::{require_program, run};
use crate::HarnessError;

/// The images tests can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestImage {
    /// Debian minbase: `localhost/zion-test-base`.
    Base,
    /// Minbase plus weston's clients and foot: `localhost/zion-test-wayland`.
    Wayland,
    /// Minbase plus Debian's Chromium: `localhost/zion-browser`, the
    /// disposable browser's image (issue 6).
    Browser,
    /// Minbase plus Debian's Firefox ESR: `localhost/zion-firefox`, the
    /// disposable browser's image with `[sandbox] browser = "firefox"`
    /// (issue 15).
    Firefox,
    /// Minbase plus poppler and Pillow: `localhost/zion-sanitiser`, the
    /// converter that makes safe copies of PDFs and images (issue 17).
    Sanitiser,
}

impl TestImage {
    /// The image's repository name (without tag).
    pub fn name(self) -> &'static str {
        match self {
            TestImage::Base => "localhost/zion-test-base",
            TestImage::Wayland => "localhost/zion-test-wayland",
            TestImage::Browser => "localhost/zion-browser",
            TestImage::Firefox => "localhost/zion-firefox",
            TestImage::Sanitiser => "localhost/zion-sanitiser",
        }
    }

    /// The recipe: the package list shipped in `session-files/images/`.
    pub fn recipe(self) -> Recipe {
        let text = match self {
            TestImage::Base => include_str!("../../session-files/images/base.packages"),
            TestImage::Wayland => include_str!("../../session-files/images/wayland.packages"),
            TestImage::Browser => include_str!("../../session-files/images/browser.packages"),
            TestImage::Firefox => include_str!("../../session-files/images/firefox.packages"),
            TestImage::Sanitiser => {
                include_str!("../../session-files/images/sanitiser.packages")
            }
        };
        Recipe::parse(text)
    }

    /// The full reference, tagged with the recipe's hash.
    pub fn reference(self) -> String {
        format!("{}:{}", self.name(), self.recipe().tag())
    }
}

/// The image cache: a Podman storage root plus a lock file.
#[derive(Debug, Clone)]
pub struct ImageCache {
    dir: PathBuf,
}

impl ImageCache {
    /// The cache at `$ZION_TEST_CACHE`, else `target/zion-test-cache` of this
    /// workspace.
    pub fn default_location() -> ImageCache {
        let dir = std::env::var_os("ZION_TEST_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/zion-test-cache")
            });
        ImageCache { dir }
    }

    /// The Podman storage root that holds the images.
    pub fn store(&self) -> PathBuf {
        self.dir.join("storage")
    }

    /// Creates the cache's folders (an empty store is a valid one).
    pub fn create(&self) -> Result<(), HarnessError> {
        for dir in [self.store(), self.dir.join("tmp")] {
            fs::create_dir_all(&dir).map_err(HarnessError::io("creating the image cache", &dir))?;
        }
        Ok(())
    }

    /// Makes sure `image` is in the cache, building it if needed, and returns
    /// its reference.
    pub fn ensure(&self, image: TestImage) -> Result<String, HarnessError> {
        let reference = image.reference();
        self.create()?;
        let _lock = self.lock()?;
        if self.has(&reference)? {
            return Ok(reference);
        }
        eprintln!(
            "zion-tests: building test image {reference} with debootstrap (once; cached in {})",
            self.dir.display()
        );
        build(&self.dir, &self.store(), &image.recipe(), &reference)?;
        Ok(reference)
        // The lock is released when `_lock` is dropped.
    }

    /// Loads `reference` (already in the cache) into `podman`'s own store
    /// unless it is there: for a rootless service, which cannot use the
    /// cache's store directly. The image is saved from the cache once, as
    /// an archive kept beside it, and streamed to the service from there.
    pub fn load_into(
        &self,
        reference: &str,
        podman: &crate::PodmanService,
    ) -> Result<(), HarnessError> {
        let exists = podman
            .cli()
            .args(["image", "exists", reference])
            .status()
            .map_err(HarnessError::io("running podman image exists", "podman"))?;
        if exists.success() {
            return Ok(());
        }
        let archive = self.archive(reference)?;
        let file = fs::File::open(&archive)
            .map_err(HarnessError::io("opening a saved test image", &archive))?;
        run(podman.cli().args(["load", "--quiet"]).stdin(file))?;
        Ok(())
    }

    /// `reference` saved as a docker archive beside the cache's store,
    /// once (under the cache's lock).
    fn archive(&self, reference: &str) -> Result<PathBuf, HarnessError> {
        let dir = self.dir.join("archives");
        fs::create_dir_all(&dir).map_err(HarnessError::io("creating the archive folder", &dir))?;
        let archive = dir.join(format!("{}.tar", reference.replace(['/', ':'], "_")));
        let _lock = self.lock()?;
        if archive.exists() {
            return Ok(archive);
        }
        let partial = archive.with_extension("tar.partial");
        let _ = fs::remove_file(&partial);
        run(self
            .podman()
            .args(["save", "--format", "docker-archive", "--output"])
            .arg(&partial)
            .arg(reference))?;
        fs::rename(&partial, &archive)
            .map_err(HarnessError::io("keeping a saved test image", &archive))?;
        Ok(archive)
    }

    /// The cache's lock, held until the file is dropped.
    fn lock(&self) -> Result<fs::File, HarnessError> {
        let lock_path = self.dir.join("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(HarnessError::io("opening the image cache lock", &lock_path))?;
        flock(&lock, FlockOperation::LockExclusive).map_err(|e| HarnessError::Io {
            what: "locking the image cache",
            path: lock_path,
            source: e.into(),
        })?;
        Ok(lock)
    }

    fn has(&self, reference: &str) -> Result<bool, HarnessError> {
        let out = self
            .podman()
            .args(["image", "exists", reference])
            .output()
            .map_err(HarnessError::io("running podman image exists", "podman"))?;
        Ok(out.status.success())
    }

    fn podman(&self) -> Command {
        podman_on_store(&self.dir, &self.store())
    }
}

fn podman_on_store(dir: &Path, store: &Path) -> Command {
    let mut cmd = Command::new("podman");
    cmd.arg("--root")
        .arg(store)
        .arg("--runroot")
        .arg(short_runroot(dir))
        .arg("--storage-driver")
        .arg("overlay")
        .env("TMPDIR", dir.join("tmp"));
    cmd
}

/// Podman refuses a run root longer than 50 characters, and the cache may
/// sit deep in a checkout: its run root (transient state only) goes in the
/// temporary folder under a name derived from the cache's path.
fn short_runroot(dir: &Path) -> PathBuf {
    let id = hex::encode(&Sha256::digest(dir.as_os_str().as_encoded_bytes())[..6]);
    PathBuf::from("/tmp").join(format!("zion-img-{id}"))
}

/// The Debian mirror debootstrap uses: `$ZION_DEBIAN_MIRROR`, else Debian's
/// own redirector.
pub fn debian_mirror() -> String {
    std::env::var("ZION_DEBIAN_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".to_owned())
}

/// Builds a root file system for `recipe` with debootstrap and imports it as
/// `reference` into the storage at `store`. `make run` builds the profile
/// image from the same kind of recipe (`zionctl image build`).
pub fn build(
    dir: &Path,
    store: &Path,
    recipe: &Recipe,
    reference: &str,
) -> Result<(), HarnessError> {
    require_program("podman")?;
    fs::create_dir_all(dir.join("tmp")).map_err(HarnessError::io(
        "creating the image build folder",
        dir.join("tmp"),
    ))?;
    let rootfs = tempfile::Builder::new()
        .prefix("rootfs-")
        .tempdir_in(dir)
        .map_err(HarnessError::io("creating the image build folder", dir))?;
    let log = dir.join("tmp").join("debootstrap.log");
    image::debootstrap(recipe, rootfs.path(), &debian_mirror(), &log, |_| {})?;
    let tarball = dir
        .join("tmp")
        .join(format!("{}.tar", reference.replace(['/', ':'], "_")));
    image::pack(rootfs.path(), &tarball)?;
    let imported = run(podman_on_store(dir, store)
        .args(["import", "--change", "CMD=/bin/sh"])
        .arg(&tarball)
        .arg(reference));
    let _ = fs::remove_file(&tarball);
    imported.map(|_| ())
}

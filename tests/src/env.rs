//! The test environment: one temporary folder holding XDG folders, a private
//! Podman service and a private session bus.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::images::{ImageCache, TestImage};
use crate::{cleanup, DbusBus, HarnessError, PodmanService};

/// Temporary XDG folders for the code under test.
#[derive(Debug, Clone)]
pub struct XdgDirs {
    /// `XDG_CONFIG_HOME`.
    pub config: PathBuf,
    /// `XDG_DATA_HOME`.
    pub data: PathBuf,
    /// `XDG_RUNTIME_DIR` (mode 0700).
    pub runtime: PathBuf,
    /// `XDG_CACHE_HOME`.
    pub cache: PathBuf,
    /// `XDG_STATE_HOME`.
    pub state: PathBuf,
}

impl XdgDirs {
    fn create(root: &Path) -> Result<XdgDirs, HarnessError> {
        let dirs = XdgDirs {
            config: root.join("config"),
            data: root.join("data"),
            runtime: root.join("runtime"),
            cache: root.join("cache"),
            state: root.join("state"),
        };
        for dir in [
            &dirs.config,
            &dirs.data,
            &dirs.runtime,
            &dirs.cache,
            &dirs.state,
        ] {
            fs::create_dir_all(dir).map_err(HarnessError::io("creating an XDG folder", dir))?;
        }
        fs::set_permissions(&dirs.runtime, fs::Permissions::from_mode(0o700)).map_err(
            HarnessError::io("setting XDG_RUNTIME_DIR's mode", &dirs.runtime),
        )?;
        Ok(dirs)
    }
}

/// A private world for one test. Dropping it removes every container, stops
/// every process it started, unmounts and deletes its folder.
pub struct TestEnv {
    /// XDG folders inside the environment.
    pub xdg: XdgDirs,
    images: ImageCache,
    // Field order is drop order: services go before their folder.
    podman: PodmanService,
    dbus: DbusBus,
    root: tempfile::TempDir,
}

impl TestEnv {
    /// Starts a Podman service and a session bus in a new temporary folder.
    pub fn new() -> Result<TestEnv, HarnessError> {
        cleanup::reap_stale();
        let root = tempfile::Builder::new()
            .prefix(cleanup::PREFIX)
            .tempdir_in(cleanup::BASE)
            .map_err(HarnessError::io("creating the test folder", cleanup::BASE))?;
        let owner = root.path().join("owner.pid");
        fs::write(&owner, std::process::id().to_string())
            .map_err(HarnessError::io("writing the owner file", &owner))?;
        let xdg = XdgDirs::create(root.path())?;
        let images = ImageCache::default_location();
        images.create()?;
        let podman = PodmanService::start(&root.path().join("podman"), &images.store())?;
        let dbus = DbusBus::start(&root.path().join("dbus"))?;
        Ok(TestEnv {
            xdg,
            images,
            podman,
            dbus,
            root,
        })
    }

    /// The environment's folder.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The private Podman service.
    pub fn podman(&self) -> &PodmanService {
        &self.podman
    }

    /// The private session bus.
    pub fn dbus(&self) -> &DbusBus {
        &self.dbus
    }

    /// Makes sure a test image exists (building it once) and returns its
    /// reference, usable with this environment's Podman.
    pub fn image(&self, image: TestImage) -> Result<String, HarnessError> {
        self.images.ensure(image)
    }

    /// The environment variables that point a program at this environment.
    pub fn vars(&self) -> Vec<(String, String)> {
        let path = |p: &Path| p.display().to_string();
        vec![
            ("XDG_CONFIG_HOME".into(), path(&self.xdg.config)),
            ("XDG_DATA_HOME".into(), path(&self.xdg.data)),
            ("XDG_RUNTIME_DIR".into(), path(&self.xdg.runtime)),
            ("XDG_CACHE_HOME".into(), path(&self.xdg.cache)),
            ("XDG_STATE_HOME".into(), path(&self.xdg.state)),
            (
                "DBUS_SESSION_BUS_ADDRESS".into(),
                self.dbus.address().to_owned(),
            ),
            ("CONTAINER_HOST".into(), self.podman.uri()),
        ]
    }

    /// A command for `program` with this environment's variables set.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.vars());
        cmd
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Containers first (their mounts live under the folder), then
        // whatever else a test mounted there; the folder itself goes last,
        // when the fields drop.
        self.podman.shutdown();
        cleanup::unmount_all(self.root.path());
    }
}

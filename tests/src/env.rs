//! The test environment: one temporary folder holding XDG folders, a private
//! Podman service and a private session bus.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::images::{ImageCache, TestImage};
use crate::user::TestUser;
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
    /// The account everything runs as, and its `HOME`; `None`: root.
    user: Option<(TestUser, PathBuf)>,
    // Field order is drop order: services go before their folder.
    podman: PodmanService,
    dbus: DbusBus,
    root: tempfile::TempDir,
}

impl TestEnv {
    /// Starts a Podman service and a session bus in a new temporary folder.
    pub fn new() -> Result<TestEnv, HarnessError> {
        let root = TestEnv::folder()?;
        let xdg = XdgDirs::create(root.path())?;
        let images = ImageCache::default_location();
        images.create()?;
        let podman = PodmanService::start(&root.path().join("podman"), &images.store())?;
        let dbus = DbusBus::start(&root.path().join("dbus"))?;
        Ok(TestEnv {
            xdg,
            images,
            user: None,
            podman,
            dbus,
            root,
        })
    }

    /// The session as the unprivileged account `user` runs it: the XDG
    /// folders and a `HOME` (`<root>/home`) are the account's, Podman is
    /// the account's own rootless Podman (its own store, into which
    /// [`TestEnv::image`] loads the test images), and the bus lets every
    /// user connect, so the test (root) talks on it too. Programs started
    /// with [`TestEnv::command`] and [`TestEnv::wrap`] run as the account.
    pub fn for_user(user: &TestUser) -> Result<TestEnv, HarnessError> {
        let root = TestEnv::folder()?;
        // The account passes through the folder to what is its own in it.
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o711))
            .map_err(HarnessError::io("opening the test folder", root.path()))?;
        let xdg = XdgDirs::create(root.path())?;
        let home = root.path().join("home");
        fs::create_dir_all(&home).map_err(HarnessError::io("creating HOME", &home))?;
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700))
            .map_err(HarnessError::io("setting HOME's mode", &home))?;
        for dir in [
            &xdg.config,
            &xdg.data,
            &xdg.runtime,
            &xdg.cache,
            &xdg.state,
            &home,
        ] {
            user.give(dir, true)?;
        }
        let images = ImageCache::default_location();
        images.create()?;
        let podman =
            PodmanService::start_rootless(&root.path().join("podman"), user, &home, &xdg.runtime)?;
        let dbus = DbusBus::start_open_to_all_users(&root.path().join("dbus"))?;
        Ok(TestEnv {
            xdg,
            images,
            user: Some((user.clone(), home)),
            podman,
            dbus,
            root,
        })
    }

    /// A new test folder, with the owner file the reaper reads.
    fn folder() -> Result<tempfile::TempDir, HarnessError> {
        cleanup::reap_stale();
        let root = tempfile::Builder::new()
            .prefix(cleanup::PREFIX)
            .tempdir_in(cleanup::BASE)
            .map_err(HarnessError::io("creating the test folder", cleanup::BASE))?;
        let owner = root.path().join("owner.pid");
        fs::write(&owner, std::process::id().to_string())
            .map_err(HarnessError::io("writing the owner file", &owner))?;
        Ok(root)
    }

    /// `path` (a program, or a folder of rules, say) where the
    /// environment's account can reach it: unchanged for root; for an
    /// account, a copy in `<root>/bin` (the checkout, and so the build,
    /// may sit in a folder only root may enter, as `/root` is). Programs
    /// copied into the same folder still find each other beside themselves.
    pub fn expose(&self, path: &Path) -> Result<PathBuf, HarnessError> {
        if self.user.is_none() {
            return Ok(path.to_owned());
        }
        let bin = self.root().join("bin");
        fs::create_dir_all(&bin).map_err(HarnessError::io("creating the program folder", &bin))?;
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755))
            .map_err(HarnessError::io("opening the program folder", &bin))?;
        let name = path.file_name().ok_or_else(|| HarnessError::Io {
            what: "exposing a path without a name",
            path: path.to_owned(),
            source: std::io::ErrorKind::InvalidInput.into(),
        })?;
        let copy = bin.join(name);
        if !copy.exists() {
            crate::process::run(
                Command::new("cp")
                    .arg("-R")
                    .arg("--no-preserve=ownership")
                    .arg(path)
                    .arg(&copy),
            )?;
            crate::process::run(Command::new("chmod").args(["-R", "a+rX"]).arg(&copy))?;
        }
        Ok(copy)
    }

    /// The account the session runs as, and its `HOME` (`None`: root).
    pub fn user(&self) -> Option<(&TestUser, &Path)> {
        self.user.as_ref().map(|(u, h)| (u, h.as_path()))
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
        let reference = self.images.ensure(image)?;
        if self.user.is_some() {
            self.images.load_into(&reference, &self.podman)?;
        }
        Ok(reference)
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

    /// A command for `program` with this environment's variables set,
    /// run as the environment's account (see [`TestEnv::for_user`]).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.vars());
        self.wrap(cmd)
    }

    /// `cmd` as the environment's account runs it (unchanged when the
    /// environment runs as root). Set its standard streams afterwards:
    /// wrapping keeps program, arguments, variables and folder only.
    pub fn wrap(&self, cmd: Command) -> Command {
        match &self.user {
            Some((user, home)) => user.wrap(home, &cmd),
            None => cmd,
        }
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

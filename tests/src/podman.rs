//! A private Podman API service: its own storage, run and temporary folders,
//! file locks, and the runtime settings this kind of machine needs. Nothing it
//! does touches the machine's own containers or images.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::process::{require_program, run, start_service, stop_group};
use crate::user::TestUser;
use crate::HarnessError;

/// `containers.conf` for test services. These settings suit the test
/// machines (hybrid cgroups, where crun fails; runc's rlimit checks); a normal
/// desktop needs none of them, so they live here and not in Zion's defaults.
/// `zion-gvisor` (gVisor with no network, the sanitiser's runtime) is
/// registered as the installed session's
/// `/etc/containers/containers.conf.d/zion-gvisor.conf` does, from the
/// checkout.
const CONTAINERS_CONF: &str = concat!(
    r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
exit_command_delay = 5
lock_type = "file"
cgroup_manager = "cgroupfs"
events_logger = "file"

[engine.runtimes]
zion-gvisor = [""#,
    env!("CARGO_MANIFEST_DIR"),
    r#"/../session-files/containers/zion-gvisor"]
zion-gvisor-browser = [""#,
    env!("CARGO_MANIFEST_DIR"),
    r#"/../session-files/containers/zion-gvisor-browser"]
"#
);

/// A running private Podman API service.
pub struct PodmanService {
    dir: PathBuf,
    socket: PathBuf,
    child: Child,
    stopped: bool,
}

impl PodmanService {
    /// Starts a service whose state lives under `dir`, reading images also
    /// from the read-only image store at `image_store` (the shared image cache).
    pub fn start(dir: &Path, image_store: &Path) -> Result<PodmanService, HarnessError> {
        prepare(dir)?;
        write_configs(dir, Some(image_store))?;
        PodmanService::serve("the Podman API service", dir, Command::new("podman"))
    }

    /// The rootless Podman of the unprivileged account `user` (with `HOME`
    /// at `home` and `XDG_RUNTIME_DIR` at `runtime`), as a person's session
    /// has it: the service runs as the account, its state lives under `dir`
    /// (made the account's). It has no shared image store: a rootless store
    /// can only use layers its own user owns, so images are loaded into it
    /// (`ImageCache::load_into`).
    pub fn start_rootless(
        dir: &Path,
        user: &TestUser,
        home: &Path,
        runtime: &Path,
    ) -> Result<PodmanService, HarnessError> {
        require_program("slirp4netns")?;
        prepare(dir)?;
        write_configs(dir, None)?;
        user.give(dir, true)?;
        let mut podman = user.command(home, "podman");
        podman.env("XDG_RUNTIME_DIR", runtime);
        PodmanService::serve("the rootless Podman API service", dir, podman)
    }

    /// Runs `podman` (a command for the program, as whoever runs it) as the
    /// API service of the configuration in `dir`.
    fn serve(
        what: &'static str,
        dir: &Path,
        mut podman: Command,
    ) -> Result<PodmanService, HarnessError> {
        let socket = dir.join("podman.sock");
        podman
            .args(["--log-level", "warn", "system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .envs(config_env(dir));
        let child = start_service(
            what,
            podman,
            dir,
            "podman",
            &socket,
            Duration::from_secs(30),
        )?;
        Ok(PodmanService {
            dir: dir.to_owned(),
            socket,
            child,
            stopped: false,
        })
    }

    /// The service's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The service's address, as `CONTAINER_HOST` takes it.
    pub fn uri(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A `podman-api` client of this service.
    pub fn client(&self) -> podman_api::Podman {
        podman_api::Podman::unix(&self.socket)
    }

    /// A `podman --remote` command talking to this service.
    pub fn cli(&self) -> Command {
        let mut cmd = Command::new("podman");
        cmd.arg("--remote").arg("--url").arg(self.uri());
        cmd
    }

    /// Removes every container and pod, then stops the service and every
    /// process it started.
    pub fn shutdown(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let _ = run(self
            .cli()
            .args(["pod", "rm", "--all", "--force", "--time", "0"]));
        if let Err(err) =
            run(self
                .cli()
                .args(["rm", "--all", "--force", "--time", "0", "--volumes"]))
        {
            tracing::warn!("removing test containers: {err}");
        }
        stop_group(&mut self.child, Duration::from_secs(5));
        // A rootless service's tmp_dir (see write_configs).
        crate::cleanup::kill_pause_process(&self.dir.join("tmp"));
        crate::cleanup::reap_dir(&self.dir);
    }
}

/// A second API service on a [`PodmanService`]'s store and configuration
/// whose containers run under gVisor (`podman --runtime zion-gvisor`), as
/// the session's sanitiser Podman does: Podman 4.3 ignores the runtime a
/// container's spec asks for (`oci_runtime`), so the runtime is chosen per
/// service. Stopped when dropped; its containers go with the main service's.
pub struct GvisorService {
    socket: PathBuf,
    child: Child,
}

impl GvisorService {
    /// The service's address, as `ZION_SANITISE_PODMAN` takes it.
    pub fn uri(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for GvisorService {
    fn drop(&mut self) {
        stop_group(&mut self.child, Duration::from_secs(5));
    }
}

impl PodmanService {
    /// Starts a [`GvisorService`] beside this (rootful) service.
    pub fn start_gvisor(&self) -> Result<GvisorService, HarnessError> {
        self.start_gvisor_runtime("zion-gvisor", "podman-gvisor")
    }

    /// Starts a [`GvisorService`] for disposable browsers beside this
    /// (rootful) service, as the session's browser Podman
    /// (`zion-browser-podman.service`, runtime `zion-gvisor-browser`) is.
    pub fn start_gvisor_browser(&self) -> Result<GvisorService, HarnessError> {
        self.start_gvisor_runtime("zion-gvisor-browser", "podman-gvisor-browser")
    }

    fn start_gvisor_runtime(
        &self,
        runtime: &str,
        name: &'static str,
    ) -> Result<GvisorService, HarnessError> {
        require_program("runsc")?;
        let socket = self.dir.join(format!("{name}.sock"));
        let mut podman = Command::new("podman");
        podman
            .args(["--log-level", "warn", "--runtime", runtime])
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .envs(config_env(&self.dir))
            // runsc leaves an `oom` file in its working folder when a
            // container runs out of memory: the test's, not the checkout.
            .current_dir(&self.dir);
        let child = start_service(
            "the gVisor Podman API service",
            podman,
            &self.dir,
            name,
            &socket,
            Duration::from_secs(30),
        )?;
        Ok(GvisorService { socket, child })
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Checks for Podman and runc and makes the service's folders under `dir`.
fn prepare(dir: &Path) -> Result<(), HarnessError> {
    require_program("podman")?;
    require_program("runc")?;
    for sub in ["root", "runroot", "tmp", "networks"] {
        fs::create_dir_all(dir.join(sub))
            .map_err(HarnessError::io("creating Podman folder", dir.join(sub)))?;
    }
    Ok(())
}

/// The environment that points Podman at `dir`'s configuration.
pub(crate) fn config_env(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("CONTAINERS_CONF", dir.join("containers.conf")),
        ("CONTAINERS_STORAGE_CONF", dir.join("storage.conf")),
        ("TMPDIR", dir.join("tmp")),
    ]
}

/// The service's configuration under `dir`. A rootful service reads images
/// also from the shared `image_store`. A rootless one (`None`) has no shared
/// store (it could use only layers its own user owns): its store is given
/// as `rootless_storage_path` (a rootless Podman ignores `graphroot`), and
/// its temporary files, the pause process's pid among them, go under
/// `dir/tmp`.
fn write_configs(dir: &Path, image_store: Option<&Path>) -> Result<(), HarnessError> {
    let engine = match image_store {
        Some(_) => CONTAINERS_CONF.to_owned(),
        None => CONTAINERS_CONF.replace(
            "[engine]\n",
            &format!("[engine]\ntmp_dir = \"{}\"\n", dir.join("tmp").display()),
        ),
    };
    let conf = format!(
        "{engine}\n[network]\nnetwork_config_dir = \"{}\"\n",
        dir.join("networks").display()
    );
    fs::write(dir.join("containers.conf"), conf).map_err(HarnessError::io(
        "writing containers.conf",
        dir.join("containers.conf"),
    ))?;
    // The graph root is given here, not with --root: Podman ignores the
    // additional image stores of storage.conf when --root is passed.
    let root = dir.join("root");
    let mut storage = format!(
        "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
        root.display(),
        dir.join("runroot").display(),
    );
    match image_store {
        Some(store) => storage.push_str(&format!(
            "\n[storage.options]\nadditionalimagestores = [\"{}\"]\n",
            store.display()
        )),
        None => storage.push_str(&format!("rootless_storage_path = \"{}\"\n", root.display())),
    }
    fs::write(dir.join("storage.conf"), storage).map_err(HarnessError::io(
        "writing storage.conf",
        dir.join("storage.conf"),
    ))
}

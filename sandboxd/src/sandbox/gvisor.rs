//! The isolation dial (issue 15): with `[sandbox] runtime = "gvisor"`, a
//! disposable browser runs under gVisor's `runsc`, a second kernel between
//! the page and the host's.
//!
//! Podman 4.3 ignores the runtime a container's own spec names, so gVisor
//! comes from the session's browser Podman: a second Podman service on the
//! same store started with `--runtime zion-gvisor-browser`
//! (`zion-browser-podman.service`; `runsc --network=host --host-uds=open`
//! in the container's own network namespace). Every container made there
//! is checked to be gVisor's by Podman's own inspection; where `runsc` or
//! that Podman is missing, opening is refused with the reason, never done
//! under runc instead.
//!
//! A browser under gVisor cannot share memory buffers with the host's
//! compositor, so its Wayland traffic crosses through `waypipe`: a
//! `waypipe client` on the host, connected to the sandbox's own Wayland
//! socket, listens on a socket in a folder of its own bound read-only into
//! the container; `waypipe server` inside runs the browser on a display of
//! its own and forwards to it. The compositor still sees the sandbox's
//! socket, and so frames the window as that sandbox's. The host's client
//! parses what the sandbox sends: it runs confined
//! ([`super::confine_waypipe`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use zion_profiles::spec::{Mount, CONTAINER_WAYLAND, WAYLAND_SOCKET};
use zion_profiles::{PodmanClient, Timeouts};

use zion_config::Profile;

use super::confine_waypipe::WaypipeJail;
use super::spec::{SandboxPaths, SandboxSpec};
use super::SandboxError;

/// The runtime the browser Podman runs its containers under (its name in
/// `containers.conf`, or the file `--runtime` names).
pub const RUNTIME: &str = "zion-gvisor-browser";
/// Where waypipe's socket folder is bound in the sandbox.
pub const CONTAINER_WAYPIPE: &str = "/run/zion-waypipe";
/// waypipe's socket in its folder.
pub const WAYPIPE_SOCKET: &str = "waypipe.sock";
/// How long the host's waypipe client may take to make its socket.
const WAYPIPE_READY: Duration = Duration::from_secs(5);

/// Where the daemon finds gVisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GvisorSettings {
    /// The browser Podman (`unix:///…`), whose runtime is gVisor.
    pub podman: String,
    /// `runsc`: a path, or a name looked up on `PATH`.
    pub runsc: PathBuf,
    /// `waypipe` on the host: a path, or a name looked up on `PATH`.
    pub waypipe: PathBuf,
    /// How long Podman calls may take.
    pub timeouts: Timeouts,
}

impl GvisorSettings {
    /// The session's: the browser Podman at
    /// `$XDG_RUNTIME_DIR/zion/podman-gvisor-browser.sock` unless `podman`
    /// is given, `runsc` and `waypipe` from `PATH`.
    pub fn standard(podman: Option<String>, runsc: Option<PathBuf>, timeouts: Timeouts) -> Self {
        let podman = podman.unwrap_or_else(|| {
            let runtime = std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_else(|| "/run".into());
            let socket = Path::new(&runtime).join("zion/podman-gvisor-browser.sock");
            format!("unix://{}", socket.display())
        });
        GvisorSettings {
            podman,
            runsc: runsc.unwrap_or_else(|| "runsc".into()),
            waypipe: "waypipe".into(),
            timeouts,
        }
    }
}

/// gVisor for the session's sandboxes: its Podman, once found, and the
/// host's waypipe clients, one per sandbox with a window.
pub struct Gvisor {
    settings: GvisorSettings,
    podman: tokio::sync::OnceCell<PodmanClient>,
    waypipes: Mutex<HashMap<String, tokio::process::Child>>,
}

impl Gvisor {
    /// gVisor as `settings` say; nothing is checked yet.
    pub fn new(settings: GvisorSettings) -> Gvisor {
        Gvisor {
            settings,
            podman: tokio::sync::OnceCell::new(),
            waypipes: Mutex::new(HashMap::new()),
        }
    }

    /// The browser Podman, once [`Gvisor::ready`] found it.
    pub fn podman(&self) -> Option<&PodmanClient> {
        self.podman.get()
    }

    /// Checks that gVisor can run a sandbox here (`runsc` and `waypipe`
    /// installed, the browser Podman answering) and connects to its
    /// Podman; the error says what is missing and what to do.
    pub async fn ready(&self) -> Result<&PodmanClient, SandboxError> {
        let refused = |why: String| {
            SandboxError::Failed(format!(
                "zion.toml's [sandbox] runtime = \"gvisor\" asks for gVisor, and {why}; no browser is opened under runc instead. {}",
                "Install gVisor (`apt install runsc waypipe`, then `systemctl --user start zion-browser-podman`) or write runtime = \"runc\""
            ))
        };
        if find_program(&self.settings.runsc).is_none() {
            return Err(refused(format!(
                "gVisor's runsc is not installed (`{}` not found)",
                self.settings.runsc.display()
            )));
        }
        self.podman
            .get_or_try_init(|| async {
                if find_program(&self.settings.waypipe).is_none() {
                    return Err(refused(format!(
                        "waypipe, which carries a gVisor browser's window to the screen, is not installed (`{}` not found)",
                        self.settings.waypipe.display()
                    )));
                }
                let uri = &self.settings.podman;
                let client = PodmanClient::new(uri)
                    .map_err(|e| refused(format!("the browser Podman {uri} is unusable: {e}")))?
                    .with_timeouts(self.settings.timeouts);
                client.ping().await.map_err(|e| {
                    refused(format!(
                        "the browser Podman (zion-browser-podman.service, {uri}) does not answer: {e}"
                    ))
                })?;
                Ok(client)
            })
            .await
    }

    /// Checks, from Podman's own inspection, that `container` runs under
    /// gVisor: a browser Podman started with another runtime is refused.
    pub async fn check(&self, podman: &PodmanClient, container: &str) -> Result<(), SandboxError> {
        let c = podman.api().containers().get(container);
        let data = podman
            .timed(
                &format!("GET /libpod/containers/{container}/json"),
                c.inspect(),
            )
            .await
            .map_err(|e| {
                SandboxError::Failed(format!("inspecting sandbox container {container}: {e}"))
            })?;
        let runtime = data.oci_runtime.unwrap_or_default();
        if is_gvisor(&runtime) {
            Ok(())
        } else {
            Err(SandboxError::Failed(format!(
                "the browser Podman ({}) made the sandbox under `{runtime}`, not gVisor ({RUNTIME}); it was removed. Start that Podman with `--runtime {RUNTIME}` (zion-browser-podman.service)",
                self.settings.podman
            )))
        }
    }

    /// The container of sandbox `id` of `profile` under gVisor (see
    /// [`confine`]), with the host's waypipe client started on its Wayland
    /// socket, listening in `waypipe` (made here), when it has one.
    pub async fn sandbox_spec(
        &self,
        profile: &Profile,
        id: &str,
        paths: &SandboxPaths,
        image: &str,
        waypipe: &Path,
    ) -> Result<SandboxSpec, SandboxError> {
        if let Some(wayland) = &paths.wayland {
            let source = super::spec::source_name(profile.name.as_ref(), id);
            self.start_waypipe(&source, waypipe, wayland).await?;
        }
        let unbound = SandboxPaths {
            wayland: None,
            ..paths.clone()
        };
        let spec = super::spec::sandbox_spec(profile, id, &unbound, image);
        Ok(confine(spec, paths.wayland.as_ref().map(|_| waypipe)))
    }

    /// Starts the host's waypipe client of sandbox `source` on its Wayland
    /// socket folder `wayland`, listening in `dir` (made here); returns once
    /// its socket is there.
    pub async fn start_waypipe(
        &self,
        source: &str,
        dir: &Path,
        wayland: &Path,
    ) -> Result<(), SandboxError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            SandboxError::Failed(format!(
                "sandbox {source}: {what} waypipe's socket folder {}: {e}",
                dir.display()
            ))
        };
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| failed("making", &e))?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(|e| failed("closing", &e))?;
        let socket = dir.join(WAYPIPE_SOCKET);
        // It parses what the sandbox sends: confined (see confine_waypipe),
        // ended with the daemon, even killed.
        let program = find_program(&self.settings.waypipe).ok_or_else(|| {
            SandboxError::Failed(format!(
                "sandbox {source}: waypipe (`{}`) not found",
                self.settings.waypipe.display()
            ))
        })?;
        let mut jail = WaypipeJail::prepare(&program, dir, wayland).map_err(|e| {
            SandboxError::Failed(format!(
                "sandbox {source}: preparing waypipe's confinement: {e}"
            ))
        })?;
        let mut command = tokio::process::Command::new(jail.program());
        // Named as before (`ps`, bench-sandbox find it by it).
        command.arg0(&self.settings.waypipe);
        // SAFETY: between fork and exec the closure only makes system calls,
        // allocating nothing (everything was prepared above).
        unsafe {
            command.pre_exec(move || jail.enter());
        }
        let mut child = command
            .args(waypipe_client_args(&socket))
            .env("WAYLAND_DISPLAY", wayland.join(WAYLAND_SOCKET))
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                SandboxError::Failed(format!(
                    "sandbox {source}: waypipe ({}) does not start confined (its own user, network and mount namespaces need user namespaces; then Landlock and seccomp): {e}",
                    program.display()
                ))
            })?;
        if let Some(stderr) = child.stderr.take() {
            let source = source.to_owned();
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!("sandbox {source} waypipe: {line}");
                }
            });
        }
        let started = std::time::Instant::now();
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(SandboxError::Failed(format!(
                    "sandbox {source}: waypipe's client exited ({status}) before making its socket"
                )));
            }
            if started.elapsed() > WAYPIPE_READY {
                return Err(SandboxError::Failed(format!(
                    "sandbox {source}: waypipe's client made no socket within {WAYPIPE_READY:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // gVisor judges access by mode bits and owners alone (no ACLs): the
        // folder is searchable and the socket usable by any id. Nothing but
        // the sandbox reaches them: they lie in the session's own runtime
        // folder (0700).
        for (path, mode) in [(dir, 0o711), (socket.as_path(), 0o666)] {
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .map_err(|e| failed("opening", &e))?;
        }
        self.waypipes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(source.to_owned(), child);
        Ok(())
    }

    /// Stops sandbox `source`'s waypipe client and removes its folder `dir`.
    pub fn stop_waypipe(&self, source: &str, dir: &Path) {
        let child = self
            .waypipes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(source);
        if let Some(mut child) = child {
            let _ = child.start_kill();
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        if let Err(e) = std::fs::remove_dir_all(dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("removing {}: {e}", dir.display());
            }
        }
    }
}

/// Whether Podman's `OCIRuntime` (a name or the file `--runtime` named) is
/// gVisor's.
pub fn is_gvisor(runtime: &str) -> bool {
    let name = runtime.rsplit('/').next().unwrap_or(runtime);
    name == RUNTIME || name == "runsc"
}

/// The host's waypipe client: on `socket`, no GPU (no DMA buffers cross),
/// no compression (the two ends share a machine).
pub fn waypipe_client_args(socket: &Path) -> Vec<String> {
    vec![
        "--socket".into(),
        socket.display().to_string(),
        "--no-gpu".into(),
        "--compress".into(),
        "none".into(),
        "client".into(),
    ]
}

/// The sandbox's container under gVisor: as `spec` is made without a
/// Wayland socket, plus waypipe's socket folder `waypipe` (read-only),
/// when there is one.
pub fn confine(mut spec: SandboxSpec, waypipe: Option<&Path>) -> SandboxSpec {
    let container = &mut spec.container;
    // The compositor's socket never enters: a gVisor browser could not use
    // it, and waypipe carries its window.
    container
        .mounts
        .retain(|m| m.destination != CONTAINER_WAYLAND);
    container.env.remove("WAYLAND_DISPLAY");
    if let Some(dir) = waypipe {
        container
            .mounts
            .push(Mount::sockets(dir, CONTAINER_WAYPIPE));
    }
    // gVisor refuses to open a FIFO for writing on a read-only mount (the
    // host's kernel allows it): the DevTools folder is bound writable. The
    // daemon holds both FIFOs open before the browser starts, so whatever
    // the sandbox makes or unlinks there changes nothing it reads; runsc
    // lets it open host FIFOs and sockets, never make one
    // (`--host-fifo=open --host-uds=open`).
    for mount in container
        .mounts
        .iter_mut()
        .filter(|m| m.destination == super::devtools::CONTAINER_DEVTOOLS)
    {
        for option in &mut mount.options {
            if option == "ro" {
                *option = "rw".into();
            }
        }
    }
    // gVisor judges access by mode bits and owners alone (no ACLs): the
    // inbox folder is made the browser's own by Podman (`U`: chown to the
    // container's user, as Podman maps it) so that it can save there.
    let downloads = super::spec::container_downloads();
    for mount in container
        .mounts
        .iter_mut()
        .filter(|m| m.destination == downloads)
    {
        mount.options.push("U".into());
    }
    // runsc takes tmpfs options one by one, and Podman refuses `uid=` and
    // `gid=` given apart: the browser's folders are made its own by
    // Podman's `U` (chown to the container's user) instead.
    for mount in container.mounts.iter_mut().filter(|m| m.kind == "tmpfs") {
        let mut own = false;
        let mut options = Vec::new();
        for option in mount.options.drain(..) {
            for part in option.split(',') {
                if part.starts_with("uid=") || part.starts_with("gid=") {
                    own = true;
                } else {
                    options.push(part.to_owned());
                }
            }
        }
        if own {
            options.push("U".into());
        }
        mount.options = options;
    }
    // runsc (2022) cannot set up its sandbox in a user namespace Podman
    // maps ("error converting mounts: operation not permitted"); gVisor's
    // own kernel is the wall, its sentry running in a user namespace of
    // its own as nobody.
    container.userns = None;
    container.idmappings = None;
    spec
}

/// The browser's command `argv` run through waypipe's server, which gives
/// it a Wayland display of its own inside the sandbox and forwards to the
/// host's client over the bound socket.
pub fn through_waypipe(argv: Vec<String>) -> Vec<String> {
    let mut out = vec![
        "waypipe".to_owned(),
        "--socket".into(),
        format!("{CONTAINER_WAYPIPE}/{WAYPIPE_SOCKET}"),
        "--no-gpu".into(),
        "--compress".into(),
        "none".into(),
        "server".into(),
        "--".into(),
    ];
    out.extend(argv);
    out
}

/// `program` as a path, or looked up on `PATH` when it is a bare name.
fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return is_executable(program).then(|| program.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::spec::{sandbox_spec, SandboxPaths};
    use zion_config::Config;

    fn spec() -> SandboxSpec {
        let config = Config::parse(
            "[[profile]]\nname = \"work\"\nnetwork = \"full\"\n",
            Path::new("zion.toml"),
        )
        .expect("config");
        let mut paths = SandboxPaths::standard(Path::new("/d/zion"), "work", "7");
        paths.wayland = Some("/run/user/1/zion/sandboxes/work/7".into());
        paths.ids = zion_profiles::spec::IdRange::slot(2048);
        paths.devtools = Some("/run/user/1/zion/devtools/sandbox-work-7".into());
        sandbox_spec(&config.profiles[0], "7", &paths, "img")
    }

    #[test]
    fn under_gvisor_only_waypipes_socket_folder_is_bound_never_the_compositors() {
        let confined = confine(spec(), Some(Path::new("/run/user/1/zion/waypipe/s")));
        let c = &confined.container;
        assert!(!c.mounts.iter().any(|m| m.destination == CONTAINER_WAYLAND));
        assert!(!c.env.contains_key("WAYLAND_DISPLAY"));
        let waypipe = c
            .mounts
            .iter()
            .find(|m| m.destination == CONTAINER_WAYPIPE)
            .expect("waypipe's folder");
        assert_eq!(waypipe.source, "/run/user/1/zion/waypipe/s");
        assert!(waypipe.options.contains(&"ro".to_owned()), "{waypipe:?}");
        // Everything else of the runc sandbox stays: the inbox, no caps.
        assert!(c
            .mounts
            .iter()
            .any(|m| m.destination == "/home/zion/Downloads"));
        assert_eq!(c.cap_drop, vec!["ALL".to_owned()]);
        assert!(confined.remove);
        // The home: mode apart, owned through Podman's `U`.
        let home = c
            .mounts
            .iter()
            .find(|m| m.destination == "/home/zion")
            .expect("home");
        assert_eq!(home.options, ["rw", "nosuid", "nodev", "mode=0700", "U"]);
        let tmp = c
            .mounts
            .iter()
            .find(|m| m.destination == "/tmp")
            .expect("tmp");
        assert_eq!(tmp.options, ["rw", "nosuid", "nodev", "mode=1777"]);
        assert!(c.userns.is_none() && c.idmappings.is_none());
        let inbox = c
            .mounts
            .iter()
            .find(|m| m.destination == "/home/zion/Downloads")
            .expect("the inbox");
        assert_eq!(inbox.source, "/d/zion/quarantine/inbox/sandbox-work-7");
        assert!(inbox.options.contains(&"U".to_owned()), "{inbox:?}");
        let devtools = c
            .mounts
            .iter()
            .find(|m| m.destination == crate::sandbox::devtools::CONTAINER_DEVTOOLS)
            .expect("the DevTools folder");
        assert!(devtools.options.contains(&"rw".to_owned()), "{devtools:?}");
        assert!(
            devtools.options.contains(&"noexec".to_owned()),
            "{devtools:?}"
        );
        // Headless: no folder at all.
        let headless = confine(spec(), None);
        assert!(!headless
            .container
            .mounts
            .iter()
            .any(|m| m.destination == CONTAINER_WAYPIPE || m.destination == CONTAINER_WAYLAND));
    }

    #[test]
    fn the_browser_runs_under_waypipes_server_after_a_double_dash() {
        let argv = through_waypipe(vec!["chromium".into(), "--".into(), "http://h/".into()]);
        assert_eq!(argv[0], "waypipe");
        assert_eq!(argv[2], "/run/zion-waypipe/waypipe.sock");
        let server = argv.iter().position(|a| a == "server").expect("server");
        assert_eq!(argv[server + 1], "--");
        assert_eq!(argv[server + 2], "chromium");
        assert!(argv.contains(&"--no-gpu".to_owned()));
        let client = waypipe_client_args(Path::new("/r/w.sock"));
        assert_eq!(client.last().map(String::as_str), Some("client"));
        assert!(client.contains(&"/r/w.sock".to_owned()));
    }

    #[test]
    fn only_gvisors_runtime_counts_as_gvisor() {
        assert!(is_gvisor("zion-gvisor-browser"));
        assert!(is_gvisor("/usr/lib/zion/zion-gvisor-browser"));
        assert!(is_gvisor("runsc"));
        assert!(!is_gvisor("runc"));
        assert!(!is_gvisor("/usr/bin/crun"));
        assert!(!is_gvisor(""));
    }

    #[test]
    fn a_missing_program_is_not_found_and_a_present_one_is() {
        assert!(find_program(Path::new("/nonexistent/runsc")).is_none());
        assert!(find_program(Path::new("zion-no-such-program-here")).is_none());
        assert!(find_program(Path::new("sh")).is_some());
    }
}

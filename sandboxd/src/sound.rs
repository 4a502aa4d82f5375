//! Runs each profile's own sound server ([`zion_profiles::sound`]): a box
//! of PipeWire, WirePlumber and `pipewire-pulse` confined in its own
//! namespaces, and the tunnel that plays (and, with `microphone`, records)
//! through the user's server. A profile container gets the box's public
//! folder, never the user's socket.

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zion_profiles::sound::{tunnel_conf, SoundBox, BOX_SH, SOCKET};

/// How long a sound server gets to open its socket.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A profile's sound server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SoundError {
    /// Preparing its folder failed.
    #[error("preparing the sound server's folder {path}: {source}")]
    Folder {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A program could not be started.
    #[error("starting `{program}` for the sound server: {source} (are pipewire, wireplumber, pipewire-pulse and util-linux installed?)")]
    Spawn {
        /// The program.
        program: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A part of it exited while it was coming up (the tunnel does when
    /// the user's server cannot be reached).
    #[error("the sound server's {what} exited while starting; its logs are in {dir}")]
    Exited {
        /// Which part: the box or the tunnel.
        what: &'static str,
        /// Its folder.
        dir: PathBuf,
    },
    /// It did not come up.
    #[error("the sound server did not open {what} within {timeout:?}; its logs are in {dir}")]
    NotReady {
        /// What was waited for.
        what: String,
        /// How long.
        timeout: Duration,
        /// Its folder.
        dir: PathBuf,
    },
}

/// One running server: the box (an `unshare` whose death ends the box's
/// PID namespace and all in it) and the tunnel.
struct Running {
    microphone: bool,
    host_pulse: PathBuf,
    boxed: Child,
    tunnel: Child,
}

impl Running {
    fn alive(&mut self) -> bool {
        matches!(self.boxed.try_wait(), Ok(None)) && matches!(self.tunnel.try_wait(), Ok(None))
    }

    fn kill(&mut self) {
        for child in [&mut self.tunnel, &mut self.boxed] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The sound servers of a session's profiles, under `<runtime>/zion-sound`.
pub struct SoundServers {
    runtime: PathBuf,
    running: std::sync::Mutex<HashMap<String, Running>>,
}

impl SoundServers {
    /// Servers whose folders live under `runtime` (the user's runtime
    /// folder: private to the user, never mounted into a container whole).
    pub fn new(runtime: &Path) -> SoundServers {
        SoundServers {
            runtime: runtime.to_owned(),
            running: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Makes sure `profile`'s server runs, recording only when
    /// `microphone`, playing into the user's PulseAudio server at
    /// `host_pulse`; returns the folder to mount into its container
    /// (blocking: it waits for the server's socket).
    pub fn ensure(
        &self,
        profile: &str,
        microphone: bool,
        host_pulse: &Path,
    ) -> Result<PathBuf, SoundError> {
        let sound_box = SoundBox::of(&self.runtime, profile);
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = running.get_mut(profile) {
            if r.alive() && r.microphone == microphone && r.host_pulse == host_pulse {
                return Ok(sound_box.public());
            }
            r.kill();
            running.remove(profile);
        }
        let r = start(&sound_box, microphone, host_pulse)?;
        running.insert(profile.to_owned(), r);
        tracing::info!(
            "profile `{profile}`: its own sound server runs ({}); the container gets {}",
            if microphone {
                "playback and the microphone"
            } else {
                "playback only"
            },
            sound_box.public().display()
        );
        Ok(sound_box.public())
    }

    /// Stops `profile`'s server, if it runs.
    pub fn stop(&self, profile: &str) {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(mut r) = running.remove(profile) {
            r.kill();
        }
    }
}

impl Drop for SoundServers {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for r in running.values_mut() {
            r.kill();
        }
    }
}

fn folder_err(path: &Path) -> impl FnOnce(std::io::Error) -> SoundError + '_ {
    move |source| SoundError::Folder {
        path: path.to_owned(),
        source,
    }
}

/// Lays the box's folder out afresh and starts the box, then the tunnel.
fn start(b: &SoundBox, microphone: bool, host_pulse: &Path) -> Result<Running, SoundError> {
    let private = |dir: &Path| -> Result<(), SoundError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(folder_err(dir))
    };
    private(&b.dir)?;
    std::fs::set_permissions(&b.dir, std::fs::Permissions::from_mode(0o700))
        .map_err(folder_err(&b.dir))?;
    // The run folder is the box's to write: whatever an earlier box left
    // there (links included) is removed, never followed, and written anew.
    let run = b.run();
    if run.exists() {
        std::fs::remove_dir_all(&run).map_err(folder_err(&run))?;
    }
    let public = b.public();
    if public.exists() {
        std::fs::remove_dir_all(&public).map_err(folder_err(&public))?;
    }
    for dir in [b.root(), run.clone(), public.clone()] {
        private(&dir)?;
    }
    // The container's uid must reach the socket through this folder.
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o755))
        .map_err(folder_err(&public))?;
    for (name, text) in b.files(microphone) {
        let path = run.join(name);
        if let Some(parent) = path.parent() {
            private(parent)?;
        }
        std::fs::write(&path, text).map_err(folder_err(&path))?;
    }
    // Outside the run folder: the box cannot change what the tunnel loads.
    let tunnel_file = b.dir.join("tunnel.conf");
    std::fs::write(&tunnel_file, tunnel_conf(host_pulse, microphone))
        .map_err(folder_err(&tunnel_file))?;

    let mut boxed = Command::new("unshare")
        .args([
            "--map-root-user",
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "--",
            "sh",
            "-c",
            BOX_SH,
            "sh",
        ])
        .arg(&b.dir)
        .args(["sh", "/run/zion-sound/start.sh"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(&b.dir.join("box.log"))?)
        .spawn()
        .map_err(|source| SoundError::Spawn {
            program: "unshare",
            source,
        })?;
    if let Err(err) = wait_for(&run.join("pipewire-0"), &mut [("box", &mut boxed)], b) {
        let _ = boxed.kill();
        let _ = boxed.wait();
        return Err(err);
    }
    let tunnel = Command::new("pipewire")
        .arg("-c")
        .arg(&tunnel_file)
        .env("PIPEWIRE_RUNTIME_DIR", &run)
        .env("PIPEWIRE_REMOTE", "pipewire-0")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("PULSE_SERVER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(&b.dir.join("tunnel.log"))?)
        .spawn();
    let mut running = match tunnel {
        Ok(tunnel) => Running {
            microphone,
            host_pulse: host_pulse.to_owned(),
            boxed,
            tunnel,
        },
        Err(source) => {
            let _ = boxed.kill();
            let _ = boxed.wait();
            return Err(SoundError::Spawn {
                program: "pipewire",
                source,
            });
        }
    };
    // The box opens it once the tunnel's nodes are in its graph.
    let ready = wait_for(
        &public.join(SOCKET),
        &mut [("box", &mut running.boxed), ("tunnel", &mut running.tunnel)],
        b,
    );
    if let Err(err) = ready {
        running.kill();
        return Err(err);
    }
    Ok(running)
}

fn log_file(path: &Path) -> Result<std::fs::File, SoundError> {
    std::fs::File::create(path).map_err(folder_err(path))
}

/// Waits until `socket` exists, or one of `parts` has exited, or the time
/// is up.
fn wait_for(
    socket: &Path,
    parts: &mut [(&'static str, &mut Child)],
    b: &SoundBox,
) -> Result<(), SoundError> {
    let end = Instant::now() + START_TIMEOUT;
    while Instant::now() < end {
        if socket.exists() {
            return Ok(());
        }
        for (what, child) in parts.iter_mut() {
            if !matches!(child.try_wait(), Ok(None)) {
                return Err(SoundError::Exited {
                    what,
                    dir: b.dir.clone(),
                });
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(SoundError::NotReady {
        what: socket.display().to_string(),
        timeout: START_TIMEOUT,
        dir: b.dir.clone(),
    })
}

//! One Xwayland per profile. X11 lets every client see and read every other
//! client's windows, so each profile gets its own X server: its Wayland
//! connection is tagged with the profile's [`Origin`] (its windows open on
//! that profile's desktop, in its frame, with its clipboard), and it has its
//! own X11 window manager.
//!
//! **Socket.** The compositor binds the profile's X11 socket itself, as
//! `X0` in the profile's folder `$XDG_RUNTIME_DIR/zion/<profile>/X11/`: that
//! folder is bind-mounted as `/tmp/.X11-unix` in the profile's container,
//! where `DISPLAY=:0`. The name is the same for every profile, so the
//! container needs nothing from the compositor but the folder, and the
//! folder outlives a compositor restart. The container has its own network
//! namespace, so the host's abstract X sockets are out of its reach.
//!
//! **On demand.** No server runs until a client connects: the socket's
//! first waiting connection starts Xwayland, which is handed the socket
//! (`-listenfd`) and accepts that connection itself. Smithay 0.7 starts
//! Xwayland only with sockets it binds itself (in `/tmp/.X11-unix`), so the
//! program it runs is a small script in `$XDG_RUNTIME_DIR/zion/.xwayland/`
//! named `Xwayland` that adds the profile's socket to the real server's
//! arguments; Smithay's own socket file is removed at once, leaving the
//! profile's folder the only way in.
//!
//! **Idle stop.** When a server has had no X11 window (managed or not) for
//! [`Xwaylands::idle_after`], it is stopped; the socket stays and the next
//! client starts a new one. A server that exits by itself is noticed the
//! same way (its window manager's connection closes).

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use smithay::delegate_xwayland_shell;
use smithay::desktop::Window;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{
    EventLoop, Interest, LoopHandle, Mode, PostAction, RegistrationToken,
};
use smithay::reexports::rustix;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::xwayland_shell::{XWaylandShellHandler, XWaylandShellState};
use smithay::xwayland::xwm::{Reorder, ResizeEdge, XwmId};
use smithay::xwayland::{X11Surface, X11Wm, XWayland, XWaylandEvent, XwmHandler};
use tracing::{debug, info, warn};
use zion_config::ProfileName;

use crate::identity::Origin;
use crate::state::{OpensOn, State};

/// The folder, in a profile's socket folder, holding its X11 socket.
pub const X11_FOLDER: &str = "X11";

/// The display number clients of a profile use (`DISPLAY=:0` in its
/// container): the socket is named after it.
pub const DISPLAY_NUMBER: u32 = 0;

/// How long a server with no X11 window is kept before it is stopped.
pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(60);

/// Where the X11 socket of `profile` goes.
pub fn socket_path(runtime_dir: &Path, profile: &str) -> PathBuf {
    runtime_dir
        .join("zion")
        .join(profile)
        .join(X11_FOLDER)
        .join(format!("X{DISPLAY_NUMBER}"))
}

/// The `Xwayland` executable on `PATH`, if any.
pub fn executable() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("Xwayland"))
        .find(|file| {
            std::fs::metadata(file)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether an `Xwayland` executable is on `PATH`.
pub fn installed() -> bool {
    executable().is_some()
}

/// The Xwayland servers and their shared state.
pub struct Xwaylands {
    /// `xwayland_shell_v1`, seen only by Xwayland's own connections.
    pub shell: XWaylandShellState,
    /// One per profile whose X11 socket is open.
    pub instances: Vec<Instance>,
    /// How long a server with no X11 window runs on; `None`: until the
    /// compositor stops.
    pub idle_after: Option<Duration>,
    /// Window managers of servers that were stopped, kept until their
    /// connection reports closed: Smithay may still hand them events.
    retired: Vec<X11Wm>,
    /// The real `Xwayland` and the folder of the script that runs it with
    /// a profile's socket, once written.
    launcher: Option<(PathBuf, PathBuf)>,
    /// The loop the window managers run in (see [`State::wm_loop`]), and
    /// its source in the compositor's loop.
    wm_loop: Option<(LoopHandle<'static, State>, RegistrationToken)>,
}

impl Xwaylands {
    /// The shell global; no socket yet.
    pub fn new(dh: &DisplayHandle) -> Xwaylands {
        Xwaylands {
            shell: XWaylandShellState::new::<State>(dh),
            instances: Vec::new(),
            idle_after: Some(DEFAULT_IDLE_AFTER),
            retired: Vec::new(),
            launcher: None,
            wm_loop: None,
        }
    }

    /// The instance of `profile`, if its socket is open.
    pub fn of(&self, profile: &str) -> Option<&Instance> {
        self.instances
            .iter()
            .find(|i| i.profile.as_ref() == profile)
    }

    fn of_mut(&mut self, profile: &str) -> Option<&mut Instance> {
        self.instances
            .iter_mut()
            .find(|i| i.profile.as_ref() == profile)
    }

    fn by_wm(&mut self, id: XwmId) -> Option<&mut Instance> {
        self.instances
            .iter_mut()
            .find(|i| i.wm.as_ref().is_some_and(|w| w.id() == id))
    }
}

/// One profile's X11 socket and, while it runs, its Xwayland.
pub struct Instance {
    /// Whose it is.
    pub profile: ProfileName,
    /// Its X11 socket, `X0` in the profile's folder.
    pub socket: PathBuf,
    /// The socket, listening (handed to each server started).
    listener: UnixListener,
    /// The source waiting for a first connection (disabled while a server
    /// runs).
    waiting: RegistrationToken,
    /// The running server, if any.
    pub server: Option<Server>,
    /// Its window manager, once the server is ready.
    pub wm: Option<X11Wm>,
}

impl Instance {
    /// Whether a server runs and its window manager is ready.
    pub fn ready(&self) -> bool {
        self.server.is_some() && self.wm.is_some()
    }
}

/// A running Xwayland.
pub struct Server {
    /// The display number Smithay gave it (its lock in `/tmp`); clients do
    /// not use it: they come through the profile's socket.
    pub display: u32,
    /// Its Wayland connection.
    pub client: Client,
    /// The X11 windows it has (managed and override-redirect).
    pub windows: usize,
    /// How many servers this profile has started, this one included.
    pub generation: u64,
    /// Its process, found among the compositor's children.
    pub pid: Option<i32>,
    /// The server's event source (dropping it stops the server).
    token: RegistrationToken,
    /// The idle stop armed while it has no window.
    idle: Option<RegistrationToken>,
}

/// How to find the surface of an X11 window that an Xwayland older than
/// 23.1 (Debian 12's) names by `WL_SURFACE_ID`, which Smithay 0.7 records
/// but does not resolve: the server's connection, kept on the window.
struct SurfaceLookup {
    dh: DisplayHandle,
    client: Client,
}

/// The Wayland surface showing X11 window `window`: the one Smithay
/// associated (Xwayland 23.1 and later), else the one Xwayland named by
/// id. `None` for Wayland windows and X11 windows without a surface yet.
pub fn surface_of(window: &Window) -> Option<WlSurface> {
    let x11 = window.x11_surface()?;
    if let Some(surface) = x11.wl_surface() {
        return Some(surface);
    }
    #[allow(deprecated)] // the only way with Xwayland before 23.1
    let id = x11.wl_surface_id()?;
    let lookup = window.user_data().get::<SurfaceLookup>()?;
    lookup
        .client
        .object_from_protocol_id::<WlSurface>(&lookup.dh, id)
        .ok()
}

/// The surface of `window` if it is an X11 window whose surface Smithay
/// does not know (so does not draw, nor send frames to): the caller does.
pub fn legacy_surface(window: &Window) -> Option<WlSurface> {
    window
        .x11_surface()
        .filter(|x| x.wl_surface().is_none())
        .and_then(|_| surface_of(window))
}

/// The script Smithay runs as `Xwayland`: the real server listening on the
/// profile's socket only. Smithay's own sockets (`-listenfd` arguments) are
/// left out, so nothing on the host reaches the server but through the
/// profile's socket, whose ACL lets in exactly the container's ids; and so
/// X's own access control is off (`-ac`): Xwayland lets in only its own
/// uid otherwise, and a container in a user namespace connects as another
/// (0x70000000 + slot * 65536 outside), which X refuses ("Authorization
/// required"). The file's access is the X server's access, as for the
/// Wayland socket.
const LAUNCHER: &str = "#!/bin/sh\n\
# Written by zion-compositor: runs Xwayland on the profile's X11 socket\n\
# (bound by the compositor) only, without the sockets Smithay passes.\n\
fd=\"$ZION_X11_LISTENFD\"\n\
exe=\"$ZION_XWAYLAND\"\n\
unset ZION_X11_LISTENFD ZION_XWAYLAND\n\
n=$#\n\
while [ \"$n\" -gt 0 ]; do\n\
  a=\"$1\"; shift; n=$((n - 1))\n\
  if [ \"$a\" = -listenfd ] && [ \"$n\" -gt 0 ]; then\n\
    shift; n=$((n - 1)); continue\n\
  fi\n\
  set -- \"$@\" \"$a\"\n\
done\n\
exec \"$exe\" \"$@\" -ac -listenfd \"$fd\"\n";

impl State {
    /// Opens `profile`'s X11 socket; the first client to connect starts its
    /// Xwayland. Returns the socket's path.
    pub fn open_x11_socket(&mut self, profile: &ProfileName) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(
            self.xwayland.of(profile.as_ref()).is_none(),
            "the X11 socket of profile {profile} is open already"
        );
        let socket = socket_path(&self.runtime_dir, profile.as_ref());
        let listener = bind_socket(&self.runtime_dir, &socket)?;
        listener
            .set_nonblocking(true)
            .context("error making the X11 socket non-blocking")?;
        let watched = listener
            .as_fd()
            .try_clone_to_owned()
            .context("error duplicating the X11 socket")?;
        let name = profile.clone();
        let waiting = self
            .loop_handle
            .insert_source(
                Generic::new(watched, Interest::READ, Mode::Level),
                move |_, _, state| {
                    // Someone connects: start the server, which accepts.
                    if let Err(err) = state.start_xwayland(&name) {
                        warn!("{err:#}; X11 programs of profile {name} cannot start");
                        state.refuse_waiting_x11_clients(&name);
                        return Ok(PostAction::Continue);
                    }
                    Ok(PostAction::Disable)
                },
            )
            .map_err(|e| anyhow::anyhow!("error adding the X11 socket of {profile}: {e}"))?;
        info!(profile = %profile, socket = %socket.display(), "X11 socket open; Xwayland starts on the first client");
        self.xwayland.instances.push(Instance {
            profile: profile.clone(),
            socket: socket.clone(),
            listener,
            waiting,
            server: None,
            wm: None,
        });
        Ok(socket)
    }

    /// Opens the X11 socket of every profile; logs once and goes on if
    /// `Xwayland` is not installed.
    pub fn open_x11_sockets_all(&mut self) {
        if !installed() {
            info!("Xwayland is not installed (Debian package xwayland): X11 programs will not run");
            return;
        }
        let profiles: Vec<ProfileName> = self
            .config
            .profiles
            .iter()
            .map(|p| p.name.clone())
            .collect();
        for profile in profiles {
            if let Err(err) = self.open_x11_socket(&profile) {
                warn!("{err:#}");
            }
        }
    }

    /// Starts `profile`'s Xwayland on its socket.
    fn start_xwayland(&mut self, profile: &ProfileName) -> anyhow::Result<()> {
        let (real, launcher_dir) = self.launcher()?;
        let dh = self.display_handle.clone();
        let instance = self
            .xwayland
            .of_mut(profile.as_ref())
            .context("no X11 socket for this profile")?;
        anyhow::ensure!(
            instance.server.is_none(),
            "Xwayland of {profile} runs already"
        );
        ensure_x11_unix()?;
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut search = vec![launcher_dir];
        search.extend(std::env::split_paths(&path));
        let search = std::env::join_paths(search).context("PATH holds a folder with a colon")?;
        let fd = instance.listener.as_raw_fd();
        let tag = Origin::Profile(profile.clone());
        // The socket must survive into Xwayland, and only there: its
        // close-on-exec flag is lifted for the spawn alone (the compositor
        // starts processes from this thread only).
        set_inherited(&instance.listener, true)?;
        let spawned = XWayland::spawn(
            &dh,
            None,
            [
                ("PATH".to_owned(), search.to_string_lossy().into_owned()),
                ("ZION_XWAYLAND".to_owned(), real.display().to_string()),
                ("ZION_X11_LISTENFD".to_owned(), fd.to_string()),
            ],
            false,
            Stdio::null(),
            Stdio::null(),
            move |data| {
                data.insert_if_missing_threadsafe(|| tag);
            },
        );
        set_inherited(&instance.listener, false)?;
        let (xwayland, client) = spawned.with_context(|| {
            format!(
                "error starting Xwayland for profile {profile} ({})",
                real.display()
            )
        })?;
        let number = xwayland.display_number();
        // Smithay's own socket would be a second way into this profile's
        // server, open to anyone on the host: only the profile's stays.
        let smithay_socket = Path::new(X11_UNIX).join(format!("X{number}"));
        if let Err(err) = std::fs::remove_file(&smithay_socket) {
            debug!("error removing {}: {err}", smithay_socket.display());
        }
        let name = profile.clone();
        let wm_client = client.clone();
        let token = self
            .loop_handle
            .insert_source(xwayland, move |event, _, state| match event {
                XWaylandEvent::Ready { x11_socket, .. } => {
                    state.xwayland_ready(&name, x11_socket, wm_client.clone())
                }
                XWaylandEvent::Error => {
                    warn!(
                        profile = %name,
                        "Xwayland exited while starting; run `Xwayland -version` to check it"
                    );
                    state.stop_xwayland(&name);
                    state.refuse_waiting_x11_clients(&name);
                }
            })
            .map_err(|e| anyhow::anyhow!("error adding Xwayland of {profile} to the loop: {e}"))?;
        let instance = self
            .xwayland
            .of_mut(profile.as_ref())
            .context("no X11 socket for this profile")?;
        let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        instance.server = Some(Server {
            display: number,
            client,
            windows: 0,
            generation,
            pid: child_serving(number),
            token,
            idle: None,
        });
        info!(profile = %profile, display = number, "Xwayland started for a waiting X11 client");
        Ok(())
    }

    /// `profile`'s server is up: its window manager starts, and the idle
    /// stop is armed until a window appears.
    fn xwayland_ready(&mut self, profile: &ProfileName, x11_socket: UnixStream, client: Client) {
        let started = self.wm_loop().and_then(|handle| {
            X11Wm::start_wm(handle, x11_socket, client).map_err(|e| anyhow::anyhow!("{e}"))
        });
        match started {
            Ok(wm) => {
                info!(profile = %profile, "Xwayland ready");
                if let Some(instance) = self.xwayland.of_mut(profile.as_ref()) {
                    instance.wm = Some(wm);
                    // Not found at the spawn if it was caught between the
                    // launcher and Xwayland (its command line is empty while
                    // it execs); ready, it is Xwayland for good.
                    if let Some(server) = instance.server.as_mut().filter(|s| s.pid.is_none()) {
                        server.pid = child_serving(server.display);
                    }
                }
                // What the profile copied before its server ran.
                self.x11_selection_ready(profile);
                self.arm_idle_stop(profile);
            }
            Err(err) => {
                warn!(
                    profile = %profile,
                    "error starting the X11 window manager: {err:#}; Xwayland of this profile \
                     is stopped"
                );
                self.stop_xwayland(profile);
            }
        }
    }

    /// The real `Xwayland` and the folder of the script that runs it with
    /// a profile's socket; the script is written once.
    fn launcher(&mut self) -> anyhow::Result<(PathBuf, PathBuf)> {
        if let Some(launcher) = &self.xwayland.launcher {
            return Ok(launcher.clone());
        }
        let real = executable().context("Xwayland is not installed (Debian package xwayland)")?;
        let dir = self.runtime_dir.join("zion").join(".xwayland");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("error creating {}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("error setting the mode of {}", dir.display()))?;
        let script = dir.join("Xwayland");
        let partial = dir.join(".Xwayland.new");
        std::fs::write(&partial, LAUNCHER)
            .with_context(|| format!("error writing {}", partial.display()))?;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("error setting the mode of {}", partial.display()))?;
        std::fs::rename(&partial, &script)
            .with_context(|| format!("error writing {}", script.display()))?;
        self.xwayland.launcher = Some((real.clone(), dir.clone()));
        Ok((real, dir))
    }

    /// Stops `profile`'s server, if one runs; its socket stays open and
    /// the next client starts another.
    pub fn stop_xwayland(&mut self, profile: &ProfileName) {
        let Some(instance) = self.xwayland.of_mut(profile.as_ref()) else {
            return;
        };
        let wm = instance.wm.take();
        let server = instance.server.take();
        let waiting = instance.waiting;
        let mut pid_gone = None;
        if let Some(wm) = wm {
            self.xwayland.retired.push(wm);
        }
        if let Some(server) = server {
            if let Some(idle) = server.idle {
                self.loop_handle.remove(idle);
            }
            // Dropping the source disconnects the server's Wayland
            // connection: Xwayland exits. It is killed as well, and the
            // socket is watched again only once it is gone: a dying server
            // still holds the socket and would accept, then drop, a client
            // connecting meanwhile.
            self.loop_handle.remove(server.token);
            let ours = server.pid.filter(|&pid| serves(pid, server.display));
            if let Some(pid) = ours.and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            info!(profile = %profile, display = server.display, "Xwayland stopped");
            pid_gone = ours;
        }
        let gone: Vec<Window> = self
            .layout
            .desktops()
            .iter()
            .flat_map(|d| d.all())
            .filter(|p| {
                p.window.x11_surface().is_some()
                    && crate::render::origin_of_window(&p.window)
                        .is_some_and(|o| o.profile() == Some(profile.as_ref()))
            })
            .map(|p| p.window.clone())
            .collect();
        for window in &gone {
            self.layout.close(window);
        }
        if !gone.is_empty() {
            self.refresh_view();
        }
        self.watch_x11_socket_when_gone(profile, waiting, pid_gone);
    }

    /// Watches `profile`'s socket again once process `pid` (its last
    /// server) has exited, checking every few milliseconds for up to two
    /// seconds; at once if there is no process to wait for.
    fn watch_x11_socket_when_gone(
        &mut self,
        profile: &ProfileName,
        waiting: RegistrationToken,
        pid: Option<i32>,
    ) {
        let name = profile.clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let watch = move |state: &mut State| {
            if let Err(err) = state.loop_handle.enable(&waiting) {
                warn!("error watching the X11 socket of {name} again: {err}");
            }
        };
        let Some(pid) = pid.filter(|&pid| process_alive(pid)) else {
            watch(self);
            return;
        };
        let timer = self.loop_handle.insert_source(
            Timer::from_duration(Duration::from_millis(2)),
            move |_, _, state| {
                if process_alive(pid) && std::time::Instant::now() < deadline {
                    return TimeoutAction::ToDuration(Duration::from_millis(5));
                }
                watch(state);
                TimeoutAction::Drop
            },
        );
        if let Err(err) = timer {
            warn!("error waiting for Xwayland of {profile} to exit: {err}");
        }
    }

    /// Turns away the clients waiting on `profile`'s socket when no server
    /// can start for them (they see the connection closed, not a hang).
    fn refuse_waiting_x11_clients(&mut self, profile: &ProfileName) {
        if let Some(instance) = self.xwayland.of(profile.as_ref()) {
            while let Ok((stream, _)) = instance.listener.accept() {
                drop(stream);
            }
        }
    }

    /// Stops `profile`'s server after [`Xwaylands::idle_after`] unless a
    /// window appears meanwhile.
    fn arm_idle_stop(&mut self, profile: &ProfileName) {
        let Some(after) = self.xwayland.idle_after else {
            return;
        };
        let Some(server) = self
            .xwayland
            .of(profile.as_ref())
            .and_then(|i| i.server.as_ref())
        else {
            return;
        };
        if server.windows > 0 || server.idle.is_some() {
            return;
        }
        let generation = server.generation;
        let name = profile.clone();
        let timer =
            self.loop_handle
                .insert_source(Timer::from_duration(after), move |_, _, state| {
                    let idle = state
                        .xwayland
                        .of_mut(name.as_ref())
                        .and_then(|i| i.server.as_mut())
                        .filter(|s| s.generation == generation);
                    if let Some(server) = idle {
                        server.idle = None;
                        if server.windows == 0 {
                            info!(profile = %name, "Xwayland idle (no X11 window): stopping it");
                            state.stop_xwayland(&name);
                        }
                    }
                    TimeoutAction::Drop
                });
        match timer {
            Ok(token) => {
                if let Some(server) = self
                    .xwayland
                    .of_mut(profile.as_ref())
                    .and_then(|i| i.server.as_mut())
                {
                    server.idle = Some(token);
                }
            }
            Err(err) => warn!("error arming the idle stop of Xwayland: {err}"),
        }
    }

    /// Counts an X11 window of the server `xwm`; `created` false: one gone.
    fn count_x11_window(&mut self, xwm: XwmId, created: bool) {
        let Some(instance) = self.xwayland.by_wm(xwm) else {
            return;
        };
        let profile = instance.profile.clone();
        let Some(server) = instance.server.as_mut() else {
            return;
        };
        if created {
            server.windows += 1;
            if let Some(idle) = server.idle.take() {
                self.loop_handle.remove(idle);
            }
        } else {
            server.windows = server.windows.saturating_sub(1);
            if server.windows == 0 {
                self.arm_idle_stop(&profile);
            }
        }
    }

    /// The loop the X11 window managers run in: a loop of its own, run
    /// inside the compositor's. Smithay's window manager keeps a handle to
    /// the loop it is given inside a source of that loop and never removes
    /// that source, a cycle that would keep everything in the loop (the
    /// display, the sockets) alive after the compositor stops; in a loop of
    /// its own, only the window managers' sources are kept.
    fn wm_loop(&mut self) -> anyhow::Result<LoopHandle<'static, State>> {
        if let Some((handle, _)) = &self.xwayland.wm_loop {
            return Ok(handle.clone());
        }
        let mut inner: EventLoop<'static, State> =
            EventLoop::try_new().context("error creating the X11 window managers' loop")?;
        let handle = inner.handle();
        let fd = inner
            .as_fd()
            .try_clone_to_owned()
            .context("error duplicating the X11 window managers' loop's descriptor")?;
        let token = self
            .loop_handle
            .insert_source(
                Generic::new(fd, Interest::READ, Mode::Level),
                move |_, _, state| {
                    if let Err(err) = inner.dispatch(Some(Duration::ZERO), state) {
                        warn!("error dispatching the X11 window managers: {err}");
                    }
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| anyhow::anyhow!("error adding the X11 window managers' loop: {e}"))?;
        self.xwayland.wm_loop = Some((handle.clone(), token));
        Ok(handle)
    }

    /// Stops every Xwayland and closes and removes every X11 socket (their
    /// folders stay: they are mounted in the profiles' containers).
    pub fn stop_xwayland_all(&mut self) {
        let profiles: Vec<ProfileName> = self
            .xwayland
            .instances
            .iter()
            .map(|i| i.profile.clone())
            .collect();
        for profile in &profiles {
            self.stop_xwayland(profile);
        }
        if let Some((_, token)) = self.xwayland.wm_loop.take() {
            self.loop_handle.remove(token);
        }
        self.xwayland.retired.clear();
        for instance in std::mem::take(&mut self.xwayland.instances) {
            self.loop_handle.remove(instance.waiting);
            if let Err(err) = std::fs::remove_file(&instance.socket) {
                if err.kind() != std::io::ErrorKind::NotFound {
                    warn!(
                        "error removing X11 socket {}: {err}",
                        instance.socket.display()
                    );
                }
            }
        }
    }

    fn x11_window(&self, surface: &X11Surface) -> Option<Window> {
        self.layout.desktops().iter().find_map(|d| {
            d.all()
                .find(|p| p.window.x11_surface() == Some(surface))
                .map(|p| p.window.clone())
        })
    }

    fn profile_of_wm(&mut self, id: XwmId) -> Option<ProfileName> {
        self.xwayland.by_wm(id).map(|i| i.profile.clone())
    }

    /// A window for X11 surface `surface` of server `xwm`, marked with its
    /// origin and desktop, and with what finds its surface on an Xwayland
    /// before 23.1.
    fn new_x11_window(
        &mut self,
        xwm: XwmId,
        surface: &X11Surface,
        origin: &Origin,
        desktop: usize,
    ) -> Window {
        let window = Window::new_x11_window(surface.clone());
        if let Some(client) = self
            .xwayland
            .by_wm(xwm)
            .and_then(|i| i.server.as_ref())
            .map(|s| s.client.clone())
        {
            let dh = self.display_handle.clone();
            window
                .user_data()
                .insert_if_missing(|| SurfaceLookup { dh, client });
        }
        window.user_data().insert_if_missing(|| origin.clone());
        window.user_data().insert_if_missing(|| OpensOn(desktop));
        window
    }

    fn remove_x11_window(&mut self, surface: &X11Surface) {
        if let Some(window) = self.x11_window(surface) {
            self.layout.close(&window);
            self.refresh_view();
        }
    }
}

/// Numbers the servers started, so a timer of a stopped one does nothing.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Binds the X11 socket at `socket` (under `runtime_dir`), in a folder only
/// its owner enters, made without following links (a link where the folder
/// belongs is replaced: the folder is a mount source of the profile's
/// container). A socket left there by a compositor that did not stop
/// cleanly is replaced; one that answers belongs to a running compositor
/// and is an error.
fn bind_socket(runtime_dir: &Path, socket: &Path) -> anyhow::Result<UnixListener> {
    let dir = socket.parent().context("the X11 socket has no folder")?;
    let rel = dir
        .strip_prefix(runtime_dir)
        .context("the X11 socket is outside the runtime folder")?;
    zion_storage::access::ensure_dir(runtime_dir, rel, 0o700)
        .with_context(|| format!("error creating {}", dir.display()))?;
    let name = socket
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    zion_storage::access::remove_links_in(dir, &[&name])
        .with_context(|| format!("error checking {}", dir.display()))?;
    if socket.exists() {
        anyhow::ensure!(
            UnixStream::connect(socket).is_err(),
            "{} is in use by a running X server (is another zion-compositor running?)",
            socket.display()
        );
        std::fs::remove_file(socket)
            .with_context(|| format!("error removing the stale {}", socket.display()))?;
    }
    // Bound under a name of its own and then renamed: an X server unlinks
    // the name its listening socket was bound to when it exits, which
    // would take the profile's socket away with each server stopped. The
    // name it unlinks is this one, gone by then.
    let bound = dir.join(format!(".X{DISPLAY_NUMBER}-{}", std::process::id()));
    let _ = std::fs::remove_file(&bound);
    let listener =
        UnixListener::bind(&bound).with_context(|| format!("error binding {}", bound.display()))?;
    std::fs::rename(&bound, socket)
        .with_context(|| format!("error moving {} to {}", bound.display(), socket.display()))?;
    // The ids the daemon let into the profile's folder may use it.
    if let Some(profile_dir) = dir.parent() {
        if let Err(err) = zion_storage::access::share_sockets(profile_dir) {
            warn!(
                "error sharing {} with its container: {err}",
                socket.display()
            );
        }
    }
    Ok(listener)
}

/// The compositor's child process serving X display `display` (Smithay
/// gives Xwayland its display number as its first argument, `:N`).
fn child_serving(display: u32) -> Option<i32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            serves(pid, display).then_some(pid)
        })
}

/// Whether process `pid` is a child of the compositor serving X display
/// `display`: checked again before a signal, as a server that exited by
/// itself has been reaped and its number may be another process's now.
fn serves(pid: i32, display: u32) -> bool {
    let me = std::process::id().to_string();
    let wanted = format!(":{display}");
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // pid (comm) state ppid ...: comm may hold spaces, so after the ')'.
    let ppid = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned));
    if ppid.as_deref() != Some(me.as_str()) {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == wanted.as_bytes())
    })
}

/// Whether process `pid` still runs (not gone, not a zombie).
fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// Lifts (`true`) or sets (`false`) the close-on-exec flag of `listener`.
fn set_inherited(listener: &UnixListener, inherited: bool) -> anyhow::Result<()> {
    let flags = if inherited {
        rustix::io::FdFlags::empty()
    } else {
        rustix::io::FdFlags::CLOEXEC
    };
    rustix::io::fcntl_setfd(listener, flags)
        .context("error setting the close-on-exec flag of the X11 socket")
}

/// Creates `/tmp/.X11-unix` (sticky, world-writable, as X servers make it)
/// if it is missing: Smithay binds its socket there and does not create it.
fn ensure_x11_unix() -> anyhow::Result<()> {
    let dir = Path::new(X11_UNIX);
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))
            .with_context(|| format!("error setting the mode of {X11_UNIX}")),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("error creating {X11_UNIX}")),
    }
}

/// Where Smithay binds X11 sockets.
const X11_UNIX: &str = "/tmp/.X11-unix";

impl XWaylandShellHandler for State {
    fn xwayland_shell_state(&mut self) -> &mut XWaylandShellState {
        &mut self.xwayland.shell
    }

    fn surface_associated(&mut self, _xwm: XwmId, _surface: WlSurface, window: X11Surface) {
        debug!(window = window.window_id(), "X11 window has its surface");
        if let Some(w) = self.x11_window(&window) {
            w.on_commit();
        }
        self.backend.schedule_render();
    }
}
delegate_xwayland_shell!(State);

impl XwmHandler for State {
    fn xwm_state(&mut self, xwm: XwmId) -> &mut X11Wm {
        let xw = &mut self.xwayland;
        let running = xw
            .instances
            .iter()
            .position(|i| i.wm.as_ref().is_some_and(|w| w.id() == xwm));
        let wm = match running {
            Some(i) => xw.instances[i].wm.as_mut(),
            None => xw.retired.iter_mut().find(|w| w.id() == xwm),
        };
        match wm {
            Some(wm) => wm,
            // Events only come from a window manager that is stored: a
            // stopped server's is kept until its connection closes.
            None => unreachable!("an event from an X11 window manager that is gone"),
        }
    }

    fn new_window(&mut self, xwm: XwmId, _window: X11Surface) {
        self.count_x11_window(xwm, true);
    }

    fn new_override_redirect_window(&mut self, xwm: XwmId, _window: X11Surface) {
        self.count_x11_window(xwm, true);
    }

    fn map_window_request(&mut self, xwm: XwmId, surface: X11Surface) {
        let Some(profile) = self.profile_of_wm(xwm) else {
            return;
        };
        let origin = Origin::Profile(profile);
        let Some(desktop) = self.desktop_for(&origin) else {
            warn!(
                ?origin,
                "an X11 window of a profile with no desktop: not shown"
            );
            return;
        };
        if let Err(err) = surface.set_mapped(true) {
            warn!("error mapping an X11 window: {err}");
            return;
        }
        let window = self.new_x11_window(xwm, &surface, &origin, desktop);
        let Some(pos) = self.layout.open(desktop, window) else {
            return;
        };
        let size = surface.geometry().size;
        if let Err(err) = surface.configure(Rectangle::<i32, Logical>::new(pos.into(), size)) {
            warn!("error placing an X11 window: {err}");
        }
        info!(?origin, desktop, title = %surface.title(), "X11 window mapped");
        self.refresh_view();
    }

    fn mapped_override_redirect_window(&mut self, xwm: XwmId, surface: X11Surface) {
        // Menus and tooltips place themselves, over their program's
        // windows, on their profile's desktop; they get the profile's
        // border like every window (an unframed X11 window could pass for
        // another profile's), no title bar, and take no focus.
        let Some(profile) = self.profile_of_wm(xwm) else {
            return;
        };
        let origin = Origin::Profile(profile);
        let Some(desktop) = self.desktop_for(&origin) else {
            return;
        };
        let window = self.new_x11_window(xwm, &surface, &origin, desktop);
        let loc = surface.geometry().loc;
        if self.layout.open_at(desktop, window, (loc.x, loc.y)) {
            debug!(?origin, desktop, "X11 override-redirect window mapped");
            self.refresh_view();
        }
    }

    fn unmapped_window(&mut self, _xwm: XwmId, surface: X11Surface) {
        self.remove_x11_window(&surface);
        if !surface.is_override_redirect() {
            if let Err(err) = surface.set_mapped(false) {
                debug!("error unmapping an X11 window: {err}");
            }
        }
    }

    fn destroyed_window(&mut self, xwm: XwmId, surface: X11Surface) {
        self.remove_x11_window(&surface);
        self.count_x11_window(xwm, false);
    }

    fn configure_request(
        &mut self,
        _xwm: XwmId,
        surface: X11Surface,
        _x: Option<i32>,
        _y: Option<i32>,
        w: Option<u32>,
        h: Option<u32>,
        _reorder: Option<Reorder>,
    ) {
        // The size is the client's to choose; the place is the layout's.
        let mut geometry = surface.geometry();
        if let Some(pos) = self
            .x11_window(&surface)
            .and_then(|win| self.layout.position(&win))
        {
            geometry.loc = pos.into();
        }
        if let Some(w) = w {
            geometry.size.w = i32::try_from(w).unwrap_or(i32::MAX);
        }
        if let Some(h) = h {
            geometry.size.h = i32::try_from(h).unwrap_or(i32::MAX);
        }
        if let Err(err) = surface.configure(geometry) {
            debug!("error configuring an X11 window: {err}");
        }
    }

    fn configure_notify(
        &mut self,
        _xwm: XwmId,
        surface: X11Surface,
        geometry: Rectangle<i32, Logical>,
        _above: Option<u32>,
    ) {
        // A menu or tooltip moves itself; managed windows are placed here.
        if surface.is_override_redirect() {
            if let Some(window) = self.x11_window(&surface) {
                self.layout
                    .move_to(&window, (geometry.loc.x, geometry.loc.y));
                self.refresh_view();
            }
        }
        self.backend.schedule_render();
    }

    fn resize_request(
        &mut self,
        _xwm: XwmId,
        _window: X11Surface,
        _button: u32,
        _resize_edge: ResizeEdge,
    ) {
    }

    fn move_request(&mut self, _xwm: XwmId, _window: X11Surface, _button: u32) {}

    fn disconnected(&mut self, xwm: XwmId) {
        // A stopped server's window manager: nothing more will come.
        self.xwayland.retired.retain(|w| w.id() != xwm);
        let Some(profile) = self.profile_of_wm(xwm) else {
            return;
        };
        // The server went away by itself (it crashed or was killed): the
        // socket waits for the next client, which starts a new one.
        warn!(profile = %profile, "Xwayland exited; the next X11 client starts it again");
        self.stop_xwayland(&profile);
        self.xwayland.retired.retain(|w| w.id() != xwm);
    }

    fn allow_selection_access(
        &mut self,
        xwm: XwmId,
        selection: smithay::wayland::selection::SelectionTarget,
    ) -> bool {
        self.x11_allow_selection_access(xwm, selection)
    }

    fn new_selection(
        &mut self,
        xwm: XwmId,
        selection: smithay::wayland::selection::SelectionTarget,
        mime_types: Vec<String>,
    ) {
        let wm_loop = self.wm_loop().ok();
        self.x11_new_selection(xwm, selection, mime_types, wm_loop);
    }

    fn cleared_selection(
        &mut self,
        xwm: XwmId,
        selection: smithay::wayland::selection::SelectionTarget,
    ) {
        self.x11_cleared_selection(xwm, selection);
    }

    fn send_selection(
        &mut self,
        xwm: XwmId,
        selection: smithay::wayland::selection::SelectionTarget,
        mime_type: String,
        fd: std::os::fd::OwnedFd,
    ) {
        self.x11_send_selection(xwm, selection, mime_type, fd);
    }
}

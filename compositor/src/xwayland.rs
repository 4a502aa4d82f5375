//! One Xwayland per profile. X11 lets every client see and read every other
//! client's windows, so each profile gets its own X server: its Wayland
//! connection is tagged with the profile's [`Origin`] (its windows open on
//! that profile's desktop, in its frame, with its clipboard), its X11 socket
//! lives in the profile's folder `$XDG_RUNTIME_DIR/zion/<profile>/X11/` (to
//! be bind-mounted as `/tmp/.X11-unix` in the profile's container), and it
//! has its own X11 window manager.
//!
//! Smithay 0.7 binds the X11 socket itself, in `/tmp/.X11-unix`, before it
//! starts Xwayland, so the server cannot be started lazily on a client's
//! first connection; it is started with the compositor instead, and its
//! socket is moved into the profile's folder at once (a bound Unix socket
//! keeps working under its new name). Where that folder is on another file
//! system than `/tmp` the move fails, the socket stays in `/tmp/.X11-unix`,
//! and a warning says so.

use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use smithay::delegate_xwayland_shell;
use smithay::desktop::Window;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{
    EventLoop, Interest, LoopHandle, Mode, PostAction, RegistrationToken,
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::xwayland_shell::{XWaylandShellHandler, XWaylandShellState};
use smithay::xwayland::xwm::{Reorder, ResizeEdge, XwmId};
use smithay::xwayland::{X11Surface, X11Wm, XWayland, XWaylandEvent, XwmHandler};
use tracing::{debug, info, warn};
use zion_profiles::config::ProfileName;

use crate::identity::Origin;
use crate::state::{OpensOn, State};

/// The folder, in a profile's socket folder, holding its X11 socket.
pub const X11_FOLDER: &str = "X11";

/// Where the X11 socket of `profile`'s Xwayland on display `display` goes.
pub fn socket_path(runtime_dir: &Path, profile: &str, display: u32) -> PathBuf {
    runtime_dir
        .join("zion")
        .join(profile)
        .join(X11_FOLDER)
        .join(format!("X{display}"))
}

/// Whether an `Xwayland` executable is on `PATH`.
pub fn installed() -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join("Xwayland"))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The Xwayland servers and their shared state.
pub struct Xwaylands {
    /// `xwayland_shell_v1`, seen only by Xwayland's own connections.
    pub shell: XWaylandShellState,
    /// One per profile started.
    pub instances: Vec<Instance>,
    /// The loop the window managers run in (see [`State::wm_loop`]), and
    /// its source in the compositor's loop.
    wm_loop: Option<(LoopHandle<'static, State>, RegistrationToken)>,
}

impl Xwaylands {
    /// The shell global; no server yet.
    pub fn new(dh: &DisplayHandle) -> Xwaylands {
        Xwaylands {
            shell: XWaylandShellState::new::<State>(dh),
            instances: Vec::new(),
            wm_loop: None,
        }
    }

    /// The instance of `profile`, if started.
    pub fn of(&self, profile: &str) -> Option<&Instance> {
        self.instances
            .iter()
            .find(|i| i.profile.as_ref() == profile)
    }

    fn by_wm(&mut self, id: XwmId) -> Option<&mut Instance> {
        self.instances
            .iter_mut()
            .find(|i| i.wm.as_ref().is_some_and(|w| w.id() == id))
    }
}

/// One profile's Xwayland.
pub struct Instance {
    /// Whose it is.
    pub profile: ProfileName,
    /// Its display number (`DISPLAY=:N` where its folder is `/tmp/.X11-unix`).
    pub display: u32,
    /// Its X11 socket.
    pub socket: PathBuf,
    /// Its Wayland connection.
    pub client: Client,
    /// Its window manager, once the server is ready.
    pub wm: Option<X11Wm>,
    /// The server's event source (dropping it stops the server).
    token: RegistrationToken,
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

impl State {
    /// Starts Xwayland for `profile`. Returns the path of its X11 socket
    /// (clients can connect at once; they are served once it is ready).
    pub fn start_xwayland(&mut self, profile: &ProfileName) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(
            self.xwayland.of(profile.as_ref()).is_none(),
            "Xwayland of profile {profile} is running already"
        );
        ensure_x11_unix()?;
        let tag = Origin::Profile(profile.clone());
        let (xwayland, client) = XWayland::spawn(
            &self.display_handle,
            None,
            std::iter::empty::<(String, String)>(),
            false,
            Stdio::null(),
            Stdio::null(),
            move |data| {
                data.insert_if_missing_threadsafe(|| tag);
            },
        )
        .with_context(|| {
            format!("error starting Xwayland for profile {profile} (is Xwayland installed?)")
        })?;
        let number = xwayland.display_number();
        let socket = move_socket(&self.runtime_dir, profile.as_ref(), number);
        let name = profile.clone();
        let wm_client = client.clone();
        let token = self
            .loop_handle
            .insert_source(xwayland, move |event, _, state| match event {
                XWaylandEvent::Ready { x11_socket, .. } => {
                    let started = state.wm_loop().and_then(|handle| {
                        X11Wm::start_wm(handle, x11_socket, wm_client.clone())
                            .map_err(|e| anyhow::anyhow!("{e}"))
                    });
                    match started {
                        Ok(wm) => {
                            info!(profile = %name, display = number, "Xwayland ready");
                            if let Some(i) = state
                                .xwayland
                                .instances
                                .iter_mut()
                                .find(|i| i.profile == name)
                            {
                                i.wm = Some(wm);
                            }
                        }
                        Err(err) => warn!(
                            profile = %name,
                            "error starting the X11 window manager: {err:#}; X11 windows of \
                             this profile will not be shown"
                        ),
                    }
                }
                XWaylandEvent::Error => warn!(
                    profile = %name,
                    "Xwayland exited while starting; run `Xwayland -version` to check it"
                ),
            })
            .map_err(|e| anyhow::anyhow!("error adding Xwayland of {profile} to the loop: {e}"))?;
        info!(profile = %profile, display = number, socket = %socket.display(), "Xwayland started");
        self.xwayland.instances.push(Instance {
            profile: profile.clone(),
            display: number,
            socket: socket.clone(),
            client,
            wm: None,
            token,
        });
        Ok(socket)
    }

    /// Starts Xwayland for every profile; logs once and goes on if
    /// `Xwayland` is not installed.
    pub fn start_xwayland_all(&mut self) {
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
            if let Err(err) = self.start_xwayland(&profile) {
                warn!("{err:#}");
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

    /// Stops every Xwayland and removes its socket.
    pub fn stop_xwayland_all(&mut self) {
        if let Some((_, token)) = self.xwayland.wm_loop.take() {
            self.loop_handle.remove(token);
        }
        for mut instance in std::mem::take(&mut self.xwayland.instances) {
            instance.wm = None;
            self.loop_handle.remove(instance.token);
            if let Err(err) = std::fs::remove_file(&instance.socket) {
                if err.kind() != std::io::ErrorKind::NotFound {
                    warn!(
                        "error removing X11 socket {}: {err}",
                        instance.socket.display()
                    );
                }
            }
            if let Some(folder) = instance.socket.parent().filter(|f| f.ends_with(X11_FOLDER)) {
                // Empty now, unless something else was put there: then kept.
                let _ = std::fs::remove_dir(folder);
            }
        }
    }

    fn x11_window(&self, surface: &X11Surface) -> Option<Window> {
        self.layout.desktops().iter().find_map(|d| {
            d.windows()
                .iter()
                .find(|p| p.window.x11_surface() == Some(surface))
                .map(|p| p.window.clone())
        })
    }

    fn profile_of_wm(&mut self, id: XwmId) -> Option<ProfileName> {
        self.xwayland.by_wm(id).map(|i| i.profile.clone())
    }

    fn remove_x11_window(&mut self, surface: &X11Surface) {
        if let Some(window) = self.x11_window(surface) {
            self.layout.close(&window);
            self.refresh_view();
        }
    }
}

/// Creates `/tmp/.X11-unix` (sticky, world-writable, as X servers make it)
/// if it is missing: Smithay binds the socket there and does not create it.
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

/// Moves the socket Smithay bound in `/tmp/.X11-unix` into the profile's
/// folder; returns where the socket is.
fn move_socket(runtime_dir: &Path, profile: &str, display: u32) -> PathBuf {
    let bound = Path::new(X11_UNIX).join(format!("X{display}"));
    let target = socket_path(runtime_dir, profile, display);
    let moved = (|| -> anyhow::Result<()> {
        let dir = target.parent().context("the X11 socket has no folder")?;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("error creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("error setting the mode of {}", dir.display()))?;
        std::fs::rename(&bound, &target)
            .with_context(|| format!("error moving {} to {}", bound.display(), target.display()))
    })();
    match moved {
        Ok(()) => target,
        Err(err) => {
            warn!(
                "{err:#}; the X11 socket of profile {profile} stays at {} (put \
                 $XDG_RUNTIME_DIR on the same file system as /tmp)",
                bound.display()
            );
            bound
        }
    }
}

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
        match self.xwayland.by_wm(xwm).and_then(|i| i.wm.as_mut()) {
            Some(wm) => wm,
            // Events only come from a window manager that is stored.
            None => unreachable!("an event from an X11 window manager that is gone"),
        }
    }

    fn new_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

    fn new_override_redirect_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

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
        let window = Window::new_x11_window(surface.clone());
        if let Some(client) = self.xwayland.by_wm(xwm).map(|i| i.client.clone()) {
            let dh = self.display_handle.clone();
            window
                .user_data()
                .insert_if_missing(|| SurfaceLookup { dh, client });
        }
        window.user_data().insert_if_missing(|| origin.clone());
        window.user_data().insert_if_missing(|| OpensOn(desktop));
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

    fn mapped_override_redirect_window(&mut self, _xwm: XwmId, _window: X11Surface) {
        // Menus and tooltips place themselves; they are not shown yet.
    }

    fn unmapped_window(&mut self, _xwm: XwmId, surface: X11Surface) {
        self.remove_x11_window(&surface);
        if !surface.is_override_redirect() {
            if let Err(err) = surface.set_mapped(false) {
                debug!("error unmapping an X11 window: {err}");
            }
        }
    }

    fn destroyed_window(&mut self, _xwm: XwmId, surface: X11Surface) {
        self.remove_x11_window(&surface);
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
        _surface: X11Surface,
        _geometry: Rectangle<i32, Logical>,
        _above: Option<u32>,
    ) {
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
        if let Some(instance) = self.xwayland.by_wm(xwm) {
            warn!(profile = %instance.profile, "lost the connection to Xwayland");
            instance.wm = None;
        }
    }
}

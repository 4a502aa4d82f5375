//! The listening sockets: `wayland-zion` for the host,
//! `zion/<profile>/wayland-0` for each profile and, opened on request,
//! `zion/sandboxes/<profile>/<instance>/wayland-0` for disposable browser
//! sandboxes, all under one runtime folder. Each socket is its own event
//! source, and each accepted client is tagged with the origin of the socket
//! that accepted it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction, RegistrationToken};
use smithay::reexports::wayland_server::backend::{ClientId, DisconnectReason};
use smithay::reexports::wayland_server::{DisplayHandle, ListeningSocket};
use tracing::{info, warn};
use zion_storage::access;

use crate::identity::{ClientState, Origin};
use crate::state::State;

/// The host socket's file name in the runtime folder.
pub const HOST_SOCKET: &str = zion_config::HOST_WAYLAND_SOCKET;

/// The folder under `$XDG_RUNTIME_DIR/zion` holding the sandboxes' sockets.
pub const SANDBOXES: &str = "sandboxes";

/// Where the socket of `origin` lives under `runtime_dir`.
pub fn socket_path(runtime_dir: &Path, origin: &Origin) -> PathBuf {
    match origin {
        Origin::Host => runtime_dir.join(HOST_SOCKET),
        Origin::Profile(p) => runtime_dir.join("zion").join(p.as_ref()).join("wayland-0"),
        Origin::Sandbox { profile, instance } => runtime_dir
            .join("zion")
            .join(SANDBOXES)
            .join(profile.as_ref())
            .join(instance.as_ref())
            .join("wayland-0"),
    }
}

/// A socket the compositor listens on.
#[derive(Debug)]
pub struct Listener {
    /// Whose socket it is.
    pub origin: Origin,
    /// Its path.
    pub path: PathBuf,
    /// Its event source.
    pub token: RegistrationToken,
    /// The clients it accepted (some may have gone since).
    pub clients: Vec<ClientId>,
}

/// Binds the socket of `origin` under `runtime_dir` and accepts its clients
/// on the event loop, each tagged with `origin`.
pub fn listen(
    handle: &LoopHandle<'static, State>,
    runtime_dir: &Path,
    origin: Origin,
) -> anyhow::Result<Listener> {
    let path = socket_path(runtime_dir, &origin);
    if let Some(dir) = path.parent() {
        // The folder is bind-mounted (read-only) into the profile's
        // container or the sandbox; only its owner may enter it, nor the
        // folders above a sandbox's, which hold other sandboxes. Walked
        // without following links: a link planted where a folder belongs
        // (by a container of an older layout, or anyone) is replaced.
        let rel = dir.strip_prefix(runtime_dir).unwrap_or(Path::new(""));
        access::ensure_dir(runtime_dir, rel, 0o700)
            .with_context(|| format!("error creating socket folder {}", dir.display()))?;
        // A link where the lock file or the socket goes would be followed
        // by the bind below (the lock is opened with O_CREAT|O_TRUNC).
        let names: Vec<String> = [path.file_name(), path.with_extension("lock").file_name()]
            .into_iter()
            .flatten()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        access::remove_links_in(dir, &names)
            .with_context(|| format!("error checking socket folder {}", dir.display()))?;
    }
    let socket = ListeningSocket::bind_absolute(path.clone())
        .with_context(|| format!("error binding Wayland socket {}", path.display()))?;
    if origin != Origin::Host {
        // The ids the daemon let into the folder (a container's, under
        // rootful Podman) may use the socket made anew, and only they.
        if let Some(dir) = path.parent() {
            if let Err(err) = access::share_sockets(dir) {
                warn!("error sharing {} with its container: {err}", path.display());
            }
        }
    }
    let tag = origin.clone();
    let token = handle
        .insert_source(
            Generic::new(socket, Interest::READ, Mode::Level),
            move |_, socket, state| {
                loop {
                    match socket.accept() {
                        Ok(Some(stream)) => {
                            let data = Arc::new(ClientState::new(tag.clone()));
                            match state.display_handle.insert_client(stream, data) {
                                Ok(client) => state.note_client(&tag, client.id()),
                                Err(err) => warn!("error adding a Wayland client: {err:?}"),
                            }
                        }
                        Ok(None) => break,
                        Err(err) => {
                            warn!("error accepting a Wayland client: {err:?}");
                            break;
                        }
                    }
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("error adding socket {} to the loop: {e}", path.display()))?;
    info!(path = %path.display(), ?origin, "listening");
    Ok(Listener {
        origin,
        path,
        token,
        clients: Vec::new(),
    })
}

impl State {
    /// Records that the socket of `origin` accepted `client`, forgetting
    /// the clients that have gone.
    fn note_client(&mut self, origin: &Origin, client: ClientId) {
        let dh = &self.display_handle;
        if let Some(listener) = self.listeners.iter_mut().find(|l| &l.origin == origin) {
            listener
                .clients
                .retain(|c| dh.backend_handle().get_client_data(c.clone()).is_ok());
            listener.clients.push(client);
        }
    }

    /// Opens the socket of a sandbox `origin`; fails if it is open already.
    pub fn open_sandbox_socket(&mut self, origin: Origin) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(origin.is_disposable(), "{origin:?} is not a sandbox");
        anyhow::ensure!(
            !self.listeners.iter().any(|l| l.origin == origin),
            "{origin:?} is open already"
        );
        let listener = listen(&self.loop_handle, &self.runtime_dir, origin)?;
        let path = listener.path.clone();
        self.listeners.push(listener);
        Ok(path)
    }

    /// Closes the socket of a sandbox `origin`: removes the socket and its
    /// folder and disconnects its clients. Returns those clients (their
    /// windows go when the display next dispatches them), or `None` if the
    /// socket was not open.
    pub fn close_sandbox_socket(
        &mut self,
        origin: &Origin,
    ) -> anyhow::Result<Option<Vec<ClientId>>> {
        let Some(i) = self
            .listeners
            .iter()
            .position(|l| &l.origin == origin && origin.is_disposable())
        else {
            return Ok(None);
        };
        let listener = self.listeners.remove(i);
        // Dropping the source drops the socket, which unlinks it.
        self.loop_handle.remove(listener.token);
        disconnect(&self.display_handle, &listener.clients);
        // A later sandbox of the same name starts with an empty clipboard.
        self.forget_clipboards_of(&crate::clipboard::Domain::of(origin));
        remove_sandbox_folder(&listener.path)?;
        info!(path = %listener.path.display(), ?origin, "closed");
        Ok(Some(listener.clients))
    }

    /// Removes the folders of all open sandbox sockets (when stopping).
    pub fn remove_sandbox_folders(&mut self) {
        for listener in self.listeners.iter().filter(|l| l.origin.is_disposable()) {
            if let Err(err) = remove_sandbox_folder(&listener.path) {
                warn!("{err:?}");
            }
        }
    }
}

/// Disconnects `clients`; their objects (windows) are destroyed at the
/// display's next dispatch.
pub fn disconnect(dh: &DisplayHandle, clients: &[ClientId]) {
    let handle = dh.backend_handle();
    for client in clients {
        handle.kill_client(client.clone(), DisconnectReason::ConnectionClosed);
    }
}

/// Removes the instance folder of the sandbox socket at `socket`, and its
/// profile's folder once empty.
fn remove_sandbox_folder(socket: &Path) -> anyhow::Result<()> {
    let Some(dir) = socket.parent() else {
        return Ok(());
    };
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("error removing socket folder {}", dir.display()))
        }
    }
    if let Some(profile_dir) = dir.parent() {
        // Still in use by another instance, or gone: either is fine.
        let _ = std::fs::remove_dir(profile_dir);
    }
    Ok(())
}

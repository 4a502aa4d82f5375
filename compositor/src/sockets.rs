//! The listening sockets: `wayland-zion` for the host and
//! `zion/<profile>/wayland-0` for each profile, all under one runtime folder.
//! Each socket is its own event source, and each accepted client is tagged
//! with the origin of the socket that accepted it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction, RegistrationToken};
use smithay::reexports::wayland_server::ListeningSocket;
use tracing::{info, warn};

use crate::identity::{ClientState, Origin};
use crate::state::State;

/// The host socket's file name in the runtime folder.
pub const HOST_SOCKET: &str = "wayland-zion";

/// Where the socket of `origin` lives under `runtime_dir`.
pub fn socket_path(runtime_dir: &Path, origin: &Origin) -> PathBuf {
    match origin {
        Origin::Host => runtime_dir.join(HOST_SOCKET),
        Origin::Profile(p) => runtime_dir.join("zion").join(p.as_ref()).join("wayland-0"),
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
        std::fs::create_dir_all(dir)
            .with_context(|| format!("error creating socket folder {}", dir.display()))?;
        if dir != runtime_dir {
            // The folder is bind-mounted into the profile's container; only
            // its owner may enter it.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("error setting the mode of {}", dir.display()))?;
        }
    }
    let socket = ListeningSocket::bind_absolute(path.clone())
        .with_context(|| format!("error binding Wayland socket {}", path.display()))?;
    let tag = origin.clone();
    let token = handle
        .insert_source(
            Generic::new(socket, Interest::READ, Mode::Level),
            move |_, socket, state| {
                loop {
                    match socket.accept() {
                        Ok(Some(stream)) => {
                            let data = Arc::new(ClientState::new(tag.clone()));
                            if let Err(err) = state.display_handle.insert_client(stream, data) {
                                warn!("error adding a Wayland client: {err:?}");
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
    })
}

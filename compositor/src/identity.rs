//! Who a client is: fixed by the socket it connected through, stored in its
//! client data when it is accepted, and never changed by anything it sends.

use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::Client;
use smithay::wayland::compositor::CompositorClientState;
use zion_profiles::config::ProfileName;

/// The socket a client came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The host socket: the panel, zionctl, trusted session tools.
    Host,
    /// A profile's socket.
    Profile(ProfileName),
}

impl Origin {
    /// The profile's name, or `None` for the host.
    pub fn profile(&self) -> Option<&str> {
        match self {
            Origin::Host => None,
            Origin::Profile(p) => Some(p.as_ref()),
        }
    }
}

/// The data the compositor keeps for each client.
#[derive(Debug)]
pub struct ClientState {
    /// Smithay's per-client compositor state.
    pub compositor: CompositorClientState,
    origin: Origin,
}

impl ClientState {
    /// The state of a client accepted on the socket of `origin`.
    pub fn new(origin: Origin) -> ClientState {
        ClientState {
            compositor: CompositorClientState::default(),
            origin,
        }
    }

    /// Where the client came from; there is no setter.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, _client_id: ClientId, reason: DisconnectReason) {
        tracing::debug!(origin = ?self.origin, ?reason, "client disconnected");
    }
}

/// The origin of `client`, if it was accepted by this compositor.
pub fn origin_of(client: &Client) -> Option<&Origin> {
    client.get_data::<ClientState>().map(ClientState::origin)
}

//! Who a client is: fixed by the socket it connected through, stored in its
//! client data when it is accepted, and never changed by anything it sends.

use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::Client;
use smithay::wayland::compositor::CompositorClientState;
use zion_config::ProfileName;

/// The socket a client came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The host socket: the panel, zionctl, trusted session tools.
    Host,
    /// A profile's socket.
    Profile(ProfileName),
    /// A disposable browser sandbox's socket, opened over D-Bus for one
    /// instance within a profile: on the profile's desktop, in a frame
    /// marked as disposable, with a clipboard of its own.
    Sandbox {
        /// The profile the sandbox belongs to.
        profile: ProfileName,
        /// The sandbox instance.
        instance: InstanceName,
    },
}

impl Origin {
    /// The profile's name (a sandbox's profile too), or `None` for the host.
    pub fn profile(&self) -> Option<&str> {
        match self {
            Origin::Host => None,
            Origin::Profile(p) | Origin::Sandbox { profile: p, .. } => Some(p.as_ref()),
        }
    }

    /// Whether this is a disposable sandbox.
    pub fn is_disposable(&self) -> bool {
        matches!(self, Origin::Sandbox { .. })
    }
}

/// The name of a sandbox instance: 1 to 64 of `A-Z a-z 0-9 _ -`, so that it
/// is a safe folder name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceName(String);

/// The longest instance name.
pub const INSTANCE_MAX: usize = 64;

impl std::str::FromStr for InstanceName {
    type Err = String;
    fn from_str(s: &str) -> Result<InstanceName, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if s.is_empty() {
            return Err("a sandbox instance name cannot be empty".to_owned());
        }
        if s.len() > INSTANCE_MAX {
            return Err(format!(
                "the sandbox instance name `{}…` is {} bytes long; at most {INSTANCE_MAX} are allowed",
                s.chars().take(16).collect::<String>().escape_debug(),
                s.len()
            ));
        }
        if let Some(c) = s.chars().find(|c| !allowed(*c)) {
            return Err(format!(
                "the sandbox instance name `{}` has `{}`; only A-Z, a-z, 0-9, `_` and `-` are allowed",
                s.escape_debug(),
                c.escape_debug()
            ));
        }
        Ok(InstanceName(s.to_owned()))
    }
}

impl AsRef<str> for InstanceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for InstanceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
    client
        .get_data::<ClientState>()
        .map(ClientState::origin)
        // Xwayland's own connection, tagged when it is started.
        .or_else(|| {
            client
                .get_data::<smithay::xwayland::XWaylandClientData>()
                .and_then(|d| d.user_data().get::<Origin>())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_safe_folder_names() {
        for ok in ["a", "tab-1", "A_b-9", &"x".repeat(INSTANCE_MAX)] {
            let name: InstanceName = ok.parse().expect(ok);
            assert_eq!(name.as_ref(), ok);
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "tab.1",
            "é",
            "a\0",
            &"x".repeat(INSTANCE_MAX + 1),
        ] {
            assert!(bad.parse::<InstanceName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_sandbox_belongs_to_its_profile_but_is_not_the_profile() {
        let work: ProfileName = "work".parse().expect("valid");
        let sandbox = Origin::Sandbox {
            profile: work.clone(),
            instance: "tab-1".parse().expect("valid"),
        };
        assert_eq!(sandbox.profile(), Some("work"));
        assert!(sandbox.is_disposable());
        assert_ne!(sandbox, Origin::Profile(work.clone()));
        assert!(!Origin::Profile(work).is_disposable());
        assert_eq!(Origin::Host.profile(), None);
    }
}

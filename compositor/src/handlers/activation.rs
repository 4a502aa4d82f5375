//! xdg-activation-v1: a client asks for a token (often for an app it
//! starts), and the window given the token asks to be activated with it.
//! A token remembers the origin of the client that asked for it; what it
//! may do is decided by [`decide`]: a profile's token only focuses a window
//! of that same profile, on the desktop shown, and never switches desktops;
//! a host token may activate anything (the desktop switches to it). Nothing
//! is activated while the session is locked.

use std::time::Duration;

use smithay::delegate_xdg_activation;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::xdg_activation::{
    XdgActivationHandler, XdgActivationState, XdgActivationToken, XdgActivationTokenData,
};
use smithay::xwayland::XWaylandClientData;
use tracing::{info, warn};

use crate::identity::{ClientState, Origin};
use crate::state::State;

/// How long a token may be used after it was made.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(30);

/// What an activation request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Raise and focus the window on the desktop shown.
    Focus,
    /// Show the window's desktop, then raise and focus it.
    SwitchAndFocus,
    /// Nothing, for this reason.
    Refused(&'static str),
}

/// What a token made by a client of `issuer` (`None`: unknown) does for a
/// window of `target`, which is on the desktop shown or not.
pub fn decide(issuer: Option<&Origin>, target: &Origin, shown: bool) -> Activation {
    match issuer {
        None => Activation::Refused("a token of unknown origin"),
        Some(Origin::Host) if shown => Activation::Focus,
        Some(Origin::Host) => Activation::SwitchAndFocus,
        Some(issuer) if issuer.profile() != target.profile() => {
            Activation::Refused("a token of another profile")
        }
        Some(_) if !shown => Activation::Refused("a window on a desktop not shown"),
        Some(_) => Activation::Focus,
    }
}

impl XdgActivationHandler for State {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.policy.activation
    }

    fn token_created(&mut self, _token: XdgActivationToken, data: XdgActivationTokenData) -> bool {
        let origin = data.client_id.as_ref().and_then(|id| {
            let client = self
                .display_handle
                .backend_handle()
                .get_client_data(id.clone())
                .ok()?;
            client
                .downcast_ref::<ClientState>()
                .map(|c| c.origin().clone())
                // Xwayland's own connection, tagged when it is started.
                .or_else(|| {
                    client
                        .downcast_ref::<XWaylandClientData>()
                        .and_then(|d| d.user_data().get::<Origin>().cloned())
                })
        });
        let Some(origin) = origin else {
            warn!("an activation token asked for by a client of unknown origin: refused");
            return false;
        };
        data.user_data.insert_if_missing_threadsafe(|| origin);
        // Old tokens go, so that the table stays small.
        self.policy
            .activation
            .retain_tokens(|_, d| d.timestamp.elapsed() < TOKEN_LIFETIME);
        true
    }

    fn request_activation(
        &mut self,
        token: XdgActivationToken,
        token_data: XdgActivationTokenData,
        surface: WlSurface,
    ) {
        // A token works once.
        self.policy.activation.remove_token(&token);
        if self.lock.is_locked() {
            warn!("activation refused: the session is locked");
            return;
        }
        let Some(window) = self.window_for_surface(&surface) else {
            // Not drawn yet: a new window gets the focus of its desktop
            // when it opens anyway.
            return;
        };
        let Some(target) = window.user_data().get::<Origin>().cloned() else {
            return;
        };
        if self
            .layout
            .desktop_of(&window)
            .is_some_and(|d| self.desktop_covered(d))
        {
            warn!(
                ?target,
                "activation refused: the window's desktop is locked"
            );
            return;
        }
        let issuer = token_data.user_data.get::<Origin>();
        let decision = if token_data.timestamp.elapsed() >= TOKEN_LIFETIME {
            Activation::Refused("an expired token")
        } else {
            decide(issuer, &target, self.layout.is_visible(&window))
        };
        match decision {
            Activation::Refused(why) => {
                warn!(?issuer, ?target, "activation refused: {why}");
            }
            Activation::Focus => {
                info!(?target, "window activated");
                if self.layout.focus(&window) {
                    self.refresh_view();
                }
            }
            Activation::SwitchAndFocus => {
                let Some(desktop) = self.layout.desktop_of(&window) else {
                    return;
                };
                info!(
                    ?target,
                    desktop, "window activated by the host: desktop shown"
                );
                self.layout.switch_to(desktop);
                self.layout.focus(&window);
                self.refresh_view();
                self.render_soon();
            }
        }
    }
}
delegate_xdg_activation!(State);

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Origin {
        Origin::Profile(name.parse().expect("valid name"))
    }

    #[test]
    fn a_profiles_token_focuses_only_its_own_windows_on_the_shown_desktop() {
        let (work, gaming) = (profile("work"), profile("gaming"));
        assert_eq!(decide(Some(&work), &work, true), Activation::Focus);
        assert!(matches!(
            decide(Some(&work), &gaming, true),
            Activation::Refused(_)
        ));
        assert!(matches!(
            decide(Some(&work), &gaming, false),
            Activation::Refused(_)
        ));
        // Its own window on a hidden desktop: no desktop switch.
        assert!(matches!(
            decide(Some(&gaming), &gaming, false),
            Activation::Refused(_)
        ));
        // Nor a host window.
        assert!(matches!(
            decide(Some(&work), &Origin::Host, true),
            Activation::Refused(_)
        ));
        assert!(matches!(decide(None, &work, true), Activation::Refused(_)));
    }

    #[test]
    fn a_host_token_activates_anything() {
        let gaming = profile("gaming");
        assert_eq!(
            decide(Some(&Origin::Host), &gaming, true),
            Activation::Focus
        );
        assert_eq!(
            decide(Some(&Origin::Host), &gaming, false),
            Activation::SwitchAndFocus
        );
        assert_eq!(
            decide(Some(&Origin::Host), &Origin::Host, true),
            Activation::Focus
        );
    }

    #[test]
    fn a_sandbox_token_counts_as_its_profiles() {
        let work = profile("work");
        let tab = Origin::Sandbox {
            profile: "work".parse().expect("valid"),
            instance: "tab-1".parse().expect("valid"),
        };
        assert_eq!(decide(Some(&tab), &work, true), Activation::Focus);
        assert!(matches!(
            decide(Some(&tab), &profile("personal"), true),
            Activation::Refused(_)
        ));
    }
}

//! The clipboard and primary selection of X11 programs: each profile's X
//! server takes part in its profile's selections, and in no other's.
//!
//! - An X11 client of profile P that takes CLIPBOARD (or PRIMARY) makes that
//!   P's selection: the compositor reads its text and image formats into
//!   P's kept copy (as it does a Wayland client's, see
//!   `handlers/selection.rs`), and P's Wayland clients are offered that
//!   copy. P's other X11 clients paste from the owner through their X
//!   server, as X11 does.
//! - When a Wayland client of P sets a selection (or the transfer slot is
//!   pasted into P), P's X11 window manager takes the X selection in the
//!   compositor's name, and serves P's X11 clients from the compositor:
//!   P's kept copy, or the Wayland client's live source.
//! - When the X11 client owning P's selection gives it up or exits, P keeps
//!   the copy, and its X11 clients are served that copy.
//!
//! Another profile's X server is never told: it holds its own profile's
//! selection only. So X11 clients may always read their X server's
//! selection (`allow_selection_access`), focused or not: `xclip -o` from a
//! terminal works, and what it reads is its own profile's.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use smithay::reexports::calloop::LoopHandle;
use smithay::wayland::selection::data_device::request_data_device_client_selection;
use smithay::wayland::selection::primary_selection::request_primary_client_selection;
use smithay::wayland::selection::SelectionTarget;
use smithay::xwayland::xwm::XwmId;
use smithay::xwayland::{X11Surface, X11Wm};
use tracing::{debug, warn};
use zion_config::ProfileName;

use crate::clipboard::{kept_formats, Domain, Kind, Snapshot, MAX_FORMATS};
use crate::handlers::selection::{kind_of, Offered};
use crate::state::State;

/// Whom a selection's data is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The Wayland client whose source the seat holds.
    Seat,
    /// The X11 client owning the selection on this window manager's server.
    X11(XwmId),
}

/// Which profiles' selections are owned by one of their X11 clients now.
#[derive(Default)]
pub struct X11Selections {
    /// The generation of each X11-owned selection.
    owned: HashMap<(ProfileName, Kind), u64>,
    /// The loop the X11 window managers run in: a transfer from an X11
    /// client is watched there, as the window manager resumes it there.
    wm_loop: Option<LoopHandle<'static, State>>,
}

impl std::fmt::Debug for X11Selections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Selections")
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

fn target_of(kind: Kind) -> SelectionTarget {
    match kind {
        Kind::Clipboard => SelectionTarget::Clipboard,
        Kind::Primary => SelectionTarget::Primary,
    }
}

/// The text names X11 programs and Wayland programs ask for, all
/// answered with the UTF-8 text an X11 selection was read as.
const TEXT_ALIASES: [&str; 3] = ["text/plain;charset=utf-8", "text/plain", "UTF8_STRING"];

/// `snapshot` of an X11 selection, also offered under the other names of
/// UTF-8 text (Xwayland's window manager reads only `UTF8_STRING` as
/// `text/plain;charset=utf-8`; Wayland programs may ask for `text/plain`).
pub fn with_text_aliases(snapshot: Snapshot) -> Snapshot {
    let Some(text) = snapshot.get(TEXT_ALIASES[0]) else {
        return snapshot;
    };
    let mut formats: Vec<(String, Arc<[u8]>)> = snapshot
        .mime_types()
        .into_iter()
        .filter_map(|m| snapshot.get(&m).map(|d| (m, d)))
        .collect();
    for alias in TEXT_ALIASES {
        if formats.len() < MAX_FORMATS && !formats.iter().any(|(m, _)| m == alias) {
            formats.push((alias.to_owned(), text.clone()));
        }
    }
    Snapshot::new(snapshot.from.clone(), formats)
}

impl State {
    /// The profile whose X server window manager `xwm` runs.
    fn profile_of_xwm(&self, xwm: XwmId) -> Option<ProfileName> {
        self.xwayland
            .instances
            .iter()
            .find(|i| i.wm.as_ref().is_some_and(|w| w.id() == xwm))
            .map(|i| i.profile.clone())
    }

    /// `profile`'s X11 window manager, if its server runs and is ready.
    fn xwm_of(&mut self, profile: &ProfileName) -> Option<&mut X11Wm> {
        self.xwayland
            .instances
            .iter_mut()
            .find(|i| &i.profile == profile)
            .and_then(|i| i.wm.as_mut())
    }

    /// Whether an X11 client may read the selection its X server's window
    /// manager holds: always, as that is its own profile's (see the module
    /// documentation); never for a window manager of no profile.
    pub fn x11_allow_selection_access(&mut self, xwm: XwmId, _target: SelectionTarget) -> bool {
        self.profile_of_xwm(xwm).is_some()
    }

    /// An X11 client took a selection on `xwm`'s server: it becomes its
    /// profile's selection. `wm_loop` is the loop the window manager runs
    /// in (its data is read there).
    pub fn x11_new_selection(
        &mut self,
        xwm: XwmId,
        target: SelectionTarget,
        mime_types: Vec<String>,
        wm_loop: Option<LoopHandle<'static, State>>,
    ) {
        let Some(profile) = self.profile_of_xwm(xwm) else {
            return;
        };
        if wm_loop.is_some() {
            self.selection_owners.x11.wm_loop = wm_loop;
        }
        let kind = kind_of(target);
        let domain = Domain::Profile(profile.clone());
        debug!(%profile, ?kind, ?mime_types, "new X11 selection");
        self.replace_selection_of(&domain, kind);
        let generation = self.selection_owners.next_generation();
        self.selection_owners
            .x11
            .owned
            .insert((profile, kind), generation);
        let formats = kept_formats(&mime_types);
        if formats.is_empty() {
            debug!(%domain, ?kind, "the X11 selection has no format that is kept");
        } else {
            self.start_reading(kind, generation, domain, formats, ReadFrom::X11(xwm));
        }
        self.update_selection_focus();
    }

    /// The selection of an X11 client on `xwm`'s server ended (it gave it
    /// up, or exited). Its profile keeps the copy, served to its X11
    /// clients from now on (once read, if still being read).
    pub fn x11_cleared_selection(&mut self, xwm: XwmId, target: SelectionTarget) {
        let Some(profile) = self.profile_of_xwm(xwm) else {
            return;
        };
        let kind = kind_of(target);
        // Not an X11 client's (the window manager gave up the compositor's).
        if self
            .selection_owners
            .x11
            .owned
            .remove(&(profile.clone(), kind))
            .is_none()
        {
            return;
        }
        debug!(%profile, ?kind, "X11 selection cleared; its copy is kept");
        let domain = Domain::Profile(profile.clone());
        if let Some(copy) = self.selection_owners.clipboards.get(&domain, kind).cloned() {
            self.x11_offer(&profile, kind, Some(copy.mime_types()));
        }
    }

    /// An X11 client on `xwm`'s server reads the selection the window
    /// manager holds for its profile: written into `fd` from the profile's
    /// kept copy, else from the profile's Wayland client's live source.
    pub fn x11_send_selection(
        &mut self,
        xwm: XwmId,
        target: SelectionTarget,
        mime_type: String,
        fd: OwnedFd,
    ) {
        let Some(profile) = self.profile_of_xwm(xwm) else {
            return;
        };
        let kind = kind_of(target);
        let domain = Domain::Profile(profile.clone());
        let kept = self
            .selection_owners
            .clipboards
            .get(&domain, kind)
            .and_then(|c| c.get(&mime_type));
        if let Some(data) = kept {
            debug!(%profile, ?kind, mime_type, bytes = data.len(), "serving an X11 client");
            if let Err(err) = self.serve(fd, data) {
                warn!(
                    "error sending {profile}'s selection ({mime_type}) to an X11 client: {err:#}"
                );
            }
            return;
        }
        let live = matches!(
            self.selection_owners.offered(kind),
            Offered::Live { domain: d, .. } if *d == domain
        );
        if !live {
            // Dropping `fd` ends the transfer empty.
            debug!(%profile, ?kind, mime_type, "an X11 client asked for a selection the profile does not have");
            return;
        }
        let sent = match kind {
            Kind::Clipboard => {
                request_data_device_client_selection(&self.seat, mime_type.clone(), fd)
                    .map_err(|e| e.to_string())
            }
            Kind::Primary => request_primary_client_selection(&self.seat, mime_type.clone(), fd)
                .map_err(|e| e.to_string()),
        };
        if let Err(err) = sent {
            debug!("{profile}'s selection cannot be sent to an X11 client as {mime_type}: {err}");
        }
    }

    /// Tells `profile`'s X server (if it runs) that the profile has a new
    /// `kind` selection of `mime_types` served by the compositor, or none.
    pub fn x11_offer(
        &mut self,
        profile: &ProfileName,
        kind: Kind,
        mime_types: Option<Vec<String>>,
    ) {
        self.selection_owners
            .x11
            .owned
            .remove(&(profile.clone(), kind));
        debug!(%profile, ?kind, ?mime_types, "offering a selection to the profile's X11 clients");
        let Some(wm) = self.xwm_of(profile) else {
            return;
        };
        if let Err(err) = wm.new_selection(target_of(kind), mime_types) {
            warn!("error offering {profile}'s {kind:?} selection to its X11 clients: {err}");
        }
        // Smithay 0.7 leaves the new owner in the connection's buffer until
        // the next X event; an X11 client pasting meanwhile would find no
        // owner. Restacking nothing sends it now (the only public flush).
        if let Err(err) = wm.update_stacking_order_upwards(std::iter::empty::<&X11Surface>()) {
            warn!("error sending {profile}'s {kind:?} selection to its X server: {err}");
        }
    }

    /// `profile`'s X server has just become ready: it is offered the
    /// profile's kept selections, so that its X11 clients paste what the
    /// profile copied before it ran.
    pub fn x11_selection_ready(&mut self, profile: &ProfileName) {
        let domain = Domain::Profile(profile.clone());
        for kind in [Kind::Clipboard, Kind::Primary] {
            if let Some(copy) = self.selection_owners.clipboards.get(&domain, kind).cloned() {
                self.x11_offer(profile, kind, Some(copy.mime_types()));
            }
        }
    }

    /// Asks the X11 client owning `kind` on `xwm`'s server for `mime`,
    /// written into `fd`.
    pub(crate) fn request_x11_format(
        &mut self,
        xwm: XwmId,
        kind: Kind,
        mime: &str,
        fd: OwnedFd,
    ) -> anyhow::Result<()> {
        let handle = self
            .selection_owners
            .x11
            .wm_loop
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the X11 window managers' loop is not known"))?;
        let wm = self
            .xwayland
            .instances
            .iter_mut()
            .find_map(|i| i.wm.as_mut().filter(|w| w.id() == xwm))
            .ok_or_else(|| anyhow::anyhow!("the X11 window manager is gone"))?;
        wm.send_selection(target_of(kind), mime.to_owned(), fd, handle)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// An X11 selection of `domain` was read completely. If its X11 owner
    /// has let go of it meanwhile, the compositor serves the copy to the
    /// profile's X11 clients.
    pub(crate) fn x11_selection_kept(&mut self, domain: &Domain, kind: Kind, generation: u64) {
        let Domain::Profile(profile) = domain else {
            return;
        };
        let owned = self
            .selection_owners
            .x11
            .owned
            .get(&(profile.clone(), kind))
            .copied();
        if owned == Some(generation) {
            return;
        }
        if let Some(copy) = self.selection_owners.clipboards.get(domain, kind).cloned() {
            self.x11_offer(profile, kind, Some(copy.mime_types()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x11_text_is_offered_under_every_text_name() {
        let from = Domain::Profile("work".parse().expect("valid profile name"));
        let snapshot = Snapshot::new(
            from,
            vec![(
                "text/plain;charset=utf-8".to_owned(),
                Arc::from(&b"hello"[..]),
            )],
        );
        let aliased = with_text_aliases(snapshot);
        assert_eq!(aliased.mime_types(), TEXT_ALIASES);
        for alias in TEXT_ALIASES {
            assert_eq!(aliased.get(alias).as_deref(), Some(&b"hello"[..]));
        }
    }
}

//! tearing-control (`wp_tearing_control_manager_v1`, staging, version 1):
//! a client (a game) hints per surface whether its frames may be shown
//! with tearing (`async`) or only in step with the display (`vsync`, the
//! default). The global is for every client.
//!
//! The hint is double-buffered like the rest of the surface state: it is
//! kept in Smithay's cached state of the surface, so `set_presentation_hint`
//! takes effect on the next `wl_surface.commit` (or on the parent's commit
//! for a synchronized subsurface), and destroying the object reverts it to
//! vsync on the next commit. A second object for the same surface is the
//! protocol error `tearing_control_exists`; once the surface is gone the
//! object is inert.
//!
//! [`wants_tearing`] is what a DRM backend would read to flip a fullscreen
//! surface's frames asynchronously. Smithay 0.7's DRM compositor cannot
//! flip asynchronously, so nothing calls it to flip yet: the hint is
//! stored, logged at debug level, and honoured by nobody.

use std::sync::Mutex;

use smithay::reexports::wayland_protocols::wp::tearing_control::v1::server::{
    wp_tearing_control_manager_v1::{self, WpTearingControlManagerV1},
    wp_tearing_control_v1::{self, PresentationHint, WpTearingControlV1},
};
use smithay::reexports::wayland_server::backend::{ClientId, GlobalId};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum, Weak,
};
use smithay::wayland::compositor::{with_states, Cacheable};
use tracing::{debug, warn};

use crate::state::State;

/// The version of `wp_tearing_control_manager_v1` offered.
pub const VERSION: u32 = 1;

/// The `wp_tearing_control_manager_v1` global.
#[derive(Debug)]
pub struct TearingControlState {
    global: GlobalId,
}

impl TearingControlState {
    /// Creates the global, for every client.
    pub fn new(dh: &DisplayHandle) -> TearingControlState {
        let global = dh.create_global::<State, WpTearingControlManagerV1, _>(VERSION, ());
        TearingControlState { global }
    }

    /// The global's id.
    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }
}

/// The presentation hint of a surface, double-buffered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TearingHint {
    /// Whether frames may be shown with tearing (`async`).
    pub asynchronous: bool,
}

impl Cacheable for TearingHint {
    fn commit(&mut self, _dh: &DisplayHandle) -> Self {
        *self
    }

    fn merge_into(self, into: &mut Self, _dh: &DisplayHandle) {
        *into = self;
    }
}

/// Whether a surface has a `wp_tearing_control_v1` object (at most one).
#[derive(Debug, Default)]
struct Controlled(Mutex<bool>);

/// The surface a `wp_tearing_control_v1` object extends.
#[derive(Debug)]
pub struct TearingControlData {
    surface: Weak<WlSurface>,
}

/// Whether the committed content of `surface` may be shown with tearing
/// (its client set the `async` hint and committed it).
pub fn wants_tearing(surface: &WlSurface) -> bool {
    with_states(surface, |states| {
        states
            .cached_state
            .get::<TearingHint>()
            .current()
            .asynchronous
    })
}

/// Sets the pending hint of `surface` (applied on its next commit).
fn set_pending(surface: &WlSurface, asynchronous: bool) {
    with_states(surface, |states| {
        states
            .cached_state
            .get::<TearingHint>()
            .pending()
            .asynchronous = asynchronous;
    });
}

/// Forgets the object of `surface`: the hint goes back to vsync on the next
/// commit, and a new object may be made.
fn release(data: &TearingControlData) {
    let Ok(surface) = data.surface.upgrade() else {
        return;
    };
    set_pending(&surface, false);
    with_states(&surface, |states| {
        if let Some(c) = states.data_map.get::<Controlled>() {
            *c.0.lock().unwrap_or_else(|e| e.into_inner()) = false;
        }
    });
}

impl GlobalDispatch<WpTearingControlManagerV1, ()> for State {
    fn bind(
        _state: &mut State,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<WpTearingControlManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<WpTearingControlManagerV1, ()> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        manager: &WpTearingControlManagerV1,
        request: wp_tearing_control_manager_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            wp_tearing_control_manager_v1::Request::GetTearingControl { id, surface } => {
                let taken = with_states(&surface, |states| {
                    states
                        .data_map
                        .insert_if_missing_threadsafe(Controlled::default);
                    let controlled = states
                        .data_map
                        .get::<Controlled>()
                        .map(|c| c.0.lock().map(|mut c| std::mem::replace(&mut *c, true)));
                    matches!(controlled, Some(Ok(true)))
                });
                if taken {
                    manager.post_error(
                        wp_tearing_control_manager_v1::Error::TearingControlExists,
                        format!(
                            "wl_surface@{} already has a wp_tearing_control_v1 object",
                            surface.id().protocol_id()
                        ),
                    );
                    return;
                }
                data_init.init(
                    id,
                    TearingControlData {
                        surface: surface.downgrade(),
                    },
                );
            }
            wp_tearing_control_manager_v1::Request::Destroy => {}
            _ => {}
        }
    }
}

impl Dispatch<WpTearingControlV1, TearingControlData> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _object: &WpTearingControlV1,
        request: wp_tearing_control_v1::Request,
        data: &TearingControlData,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            wp_tearing_control_v1::Request::SetPresentationHint { hint } => {
                // Inert once the surface is gone.
                let Ok(surface) = data.surface.upgrade() else {
                    return;
                };
                let asynchronous = match hint {
                    WEnum::Value(PresentationHint::Async) => true,
                    WEnum::Value(PresentationHint::Vsync) => false,
                    other => {
                        warn!(?other, "tearing control: unknown presentation hint ignored");
                        return;
                    }
                };
                debug!(
                    surface = surface.id().protocol_id(),
                    asynchronous, "tearing control: presentation hint (applied on commit)"
                );
                set_pending(&surface, asynchronous);
            }
            // `destroyed` follows and releases the surface.
            wp_tearing_control_v1::Request::Destroy => {}
            _ => {}
        }
    }

    fn destroyed(
        _state: &mut State,
        _client: ClientId,
        _object: &WpTearingControlV1,
        data: &TearingControlData,
    ) {
        // Also when the client goes away without destroying it.
        release(data);
    }
}

//! wlr-output-management (`zwlr_output_manager_v1`, version 4): host
//! clients (`wlr-randr`, `kanshi`, display settings) list the screens and
//! change their mode, position, scale and transform. Smithay 0.7 has no
//! helper for it, so this is the server side of the protocol, on
//! `wayland-protocols-wlr`.
//!
//! The global is host only (the filter is [`crate::handlers::policy`]'s
//! `is_host`): a profile's client must not move, resize or blank the
//! screens of the whole session.
//!
//! Each manager is told every output as a head (its modes, the current
//! one, enabled, position, transform, scale), then `done` with a serial.
//! Whenever an output changes (an `apply`, an `[[output]]` reload, a
//! window resized, a screen plugged) every manager is told what changed
//! and a new `done` serial. A configuration made against an older serial
//! is `cancelled`; one that [`crate::outputs::plan`] refuses is `failed`
//! and changes nothing; otherwise `succeeded` (for `test`: nothing is
//! changed either way).

use std::sync::Mutex;

use smithay::output::{Mode, Output};
use smithay::reexports::wayland_protocols_wlr::output_management::v1::server::{
    zwlr_output_configuration_head_v1::{self, ZwlrOutputConfigurationHeadV1},
    zwlr_output_configuration_v1::{self, ZwlrOutputConfigurationV1},
    zwlr_output_head_v1::{self, ZwlrOutputHeadV1},
    zwlr_output_manager_v1::{self, ZwlrOutputManagerV1},
    zwlr_output_mode_v1::{self, ZwlrOutputModeV1},
};
use smithay::reexports::wayland_server::backend::{ClientId, GlobalId};
use smithay::reexports::wayland_server::protocol::wl_output;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};
use smithay::utils::Transform;
use tracing::{debug, info, warn};

use crate::outputs::{ModeWanted, OutputChange};
use crate::state::State;

/// The version of `zwlr_output_manager_v1` offered.
pub const VERSION: u32 = 4;

/// Who may bind the global.
type Filter = Box<dyn Fn(&Client) -> bool + Send + Sync>;

/// The global's data: its filter.
pub struct ManagerGlobalData {
    filter: Filter,
}

/// An output as a head shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadState {
    /// Connector name.
    pub name: String,
    /// Make, model and connector.
    pub description: String,
    /// Size in millimetres.
    pub physical_size: (i32, i32),
    /// Make.
    pub make: String,
    /// Model.
    pub model: String,
    /// Every mode it has.
    pub modes: Vec<Mode>,
    /// The mode it prefers.
    pub preferred: Option<Mode>,
    /// The mode it shows.
    pub current: Option<Mode>,
    /// On: part of the desktop.
    pub enabled: bool,
    /// Top-left corner in the desktop.
    pub position: (i32, i32),
    /// Rotation and flip.
    pub transform: Transform,
    /// Scale, fractional.
    pub scale: f64,
}

impl HeadState {
    /// The state of `output`, on (`enabled`) or off.
    pub fn of(output: &Output, enabled: bool) -> HeadState {
        let physical = output.physical_properties();
        let at = output.current_location();
        HeadState {
            name: output.name(),
            description: output.description(),
            physical_size: (physical.size.w, physical.size.h),
            make: physical.make,
            model: physical.model,
            modes: output.modes(),
            preferred: output.preferred_mode(),
            current: output.current_mode(),
            enabled,
            position: (at.x, at.y),
            transform: output.current_transform(),
            scale: output.current_scale().fractional_scale(),
        }
    }
}

/// One head of one manager, and what it was last told.
#[derive(Debug)]
struct Head {
    resource: ZwlrOutputHeadV1,
    modes: Vec<(Mode, ZwlrOutputModeV1)>,
    sent: HeadState,
}

/// One bound manager.
#[derive(Debug)]
struct Manager {
    resource: ZwlrOutputManagerV1,
    heads: Vec<Head>,
}

/// The global, the managers bound and the serial of the outputs' state.
pub struct OutputManagementState {
    global: GlobalId,
    managers: Vec<Manager>,
    serial: u32,
    last: Vec<HeadState>,
    /// The wl_output globals Zion can take away when an output is turned
    /// off (the headless outputs it adds).
    pub(crate) globals: Vec<(String, GlobalId)>,
}

impl std::fmt::Debug for OutputManagementState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputManagementState")
            .field("managers", &self.managers.len())
            .field("serial", &self.serial)
            .finish()
    }
}

impl OutputManagementState {
    /// Creates the global, visible to the clients `filter` accepts.
    pub fn new<F>(dh: &DisplayHandle, filter: F) -> OutputManagementState
    where
        F: Fn(&Client) -> bool + Send + Sync + 'static,
    {
        let data = ManagerGlobalData {
            filter: Box::new(filter),
        };
        let global = dh.create_global::<State, ZwlrOutputManagerV1, _>(VERSION, data);
        OutputManagementState {
            global,
            managers: Vec::new(),
            serial: 1,
            last: Vec::new(),
            globals: Vec::new(),
        }
    }

    /// The global's id.
    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }

    /// The serial of the outputs' state the managers were last told.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Takes `outputs` as the state of serial 1: the outputs as the
    /// compositor starts, before any client was told anything.
    pub fn starting_with(&mut self, heads: Vec<HeadState>) {
        self.last = heads;
    }

    /// How many managers are bound.
    pub fn managers(&self) -> usize {
        self.managers.len()
    }
}

/// A head's user data: the output it stands for.
#[derive(Debug)]
pub struct HeadData {
    name: String,
}

/// A mode's user data.
#[derive(Debug)]
pub struct ModeData {
    output: String,
    mode: Mode,
}

/// A configuration's user data: the serial it was made against and what
/// it holds so far.
#[derive(Debug)]
pub struct ConfigurationData {
    serial: u32,
    progress: Mutex<Progress>,
}

#[derive(Debug, Default)]
struct Progress {
    enabled: Vec<(String, ZwlrOutputConfigurationHeadV1)>,
    disabled: Vec<String>,
    used: bool,
}

/// A configuration head's user data: the output and what is asked of it.
#[derive(Debug)]
pub struct ConfigurationHeadData {
    name: String,
    asked: Mutex<Asked>,
}

#[derive(Debug, Default, Clone)]
struct Asked {
    mode: Option<ModeWanted>,
    position: Option<(i32, i32)>,
    transform: Option<Transform>,
    scale: Option<f64>,
    /// Adaptive sync was asked on: not supported, so the apply fails.
    adaptive_sync_on: bool,
}

fn wl_transform(t: Transform) -> wl_output::Transform {
    t.into()
}

/// Sends `head` what differs between `old` (`None`: everything) and `new`;
/// new modes get objects, modes gone are finished.
fn send_head(
    dh: &DisplayHandle,
    client: &Client,
    head: &ZwlrOutputHeadV1,
    modes: &mut Vec<(Mode, ZwlrOutputModeV1)>,
    old: Option<&HeadState>,
    new: &HeadState,
) {
    let version = head.version();
    if old.is_none() {
        head.name(new.name.clone());
        head.description(new.description.clone());
        if new.physical_size.0 > 0 && new.physical_size.1 > 0 {
            head.physical_size(new.physical_size.0, new.physical_size.1);
        }
        if version >= 2 {
            head.make(new.make.clone());
            head.model(new.model.clone());
        }
    }
    // Modes gone, then modes new.
    modes.retain(|(m, resource)| {
        let keep = new.modes.contains(m);
        if !keep {
            resource.finished();
        }
        keep
    });
    for mode in &new.modes {
        if modes.iter().any(|(m, _)| m == mode) {
            continue;
        }
        let data = ModeData {
            output: new.name.clone(),
            mode: *mode,
        };
        let Ok(resource) = client.create_resource::<ZwlrOutputModeV1, _, State>(dh, version, data)
        else {
            warn!("error creating an output mode object");
            continue;
        };
        head.mode(&resource);
        resource.size(mode.size.w, mode.size.h);
        if mode.refresh > 0 {
            resource.refresh(mode.refresh);
        }
        if new.preferred == Some(*mode) {
            resource.preferred();
        }
        modes.push((*mode, resource));
    }
    if old.is_none_or(|o| o.enabled != new.enabled) {
        head.enabled(i32::from(new.enabled));
    }
    if !new.enabled {
        return;
    }
    // Turned on again: everything is told anew.
    let old = old.filter(|o| o.enabled);
    if old.is_none_or(|o| o.current != new.current || o.modes != new.modes) {
        if let Some((_, resource)) = modes.iter().find(|(m, _)| Some(*m) == new.current) {
            head.current_mode(resource);
        }
    }
    if old.is_none_or(|o| o.position != new.position) {
        head.position(new.position.0, new.position.1);
    }
    if old.is_none_or(|o| o.transform != new.transform) {
        head.transform(wl_transform(new.transform));
    }
    if old.is_none_or(|o| o.scale != new.scale) {
        head.scale(new.scale);
    }
    if version >= 4 && old.is_none() {
        head.adaptive_sync(zwlr_output_head_v1::AdaptiveSyncState::Disabled);
    }
}

impl State {
    /// Every output as a head shows it.
    pub fn head_states(&self) -> Vec<HeadState> {
        self.backend
            .outputs()
            .iter()
            .map(|o| HeadState::of(o, self.output_enabled(o)))
            .collect()
    }

    /// Tells every manager what changed in the outputs since it was last
    /// told (heads new, gone or changed), with a new `done` serial; does
    /// nothing when nothing changed. Called after each dispatch, so any
    /// change (an apply, a reload, a resized window, a screen plugged) is
    /// announced.
    pub fn outputs_changed(&mut self) {
        let now: Vec<HeadState> = self.head_states();
        let mgmt = &mut self.output_management;
        if now == mgmt.last {
            return;
        }
        mgmt.last = now.clone();
        mgmt.serial = mgmt.serial.wrapping_add(1);
        let dh = self.display_handle.clone();
        for manager in &mut mgmt.managers {
            let Some(client) = manager.resource.client() else {
                continue;
            };
            manager.heads.retain(|h| {
                let keep = now.iter().any(|s| s.name == h.sent.name);
                if !keep {
                    for (_, m) in &h.modes {
                        m.finished();
                    }
                    h.resource.finished();
                }
                keep
            });
            for state in &now {
                match manager.heads.iter_mut().find(|h| h.sent.name == state.name) {
                    Some(head) => {
                        send_head(
                            &dh,
                            &client,
                            &head.resource,
                            &mut head.modes,
                            Some(&head.sent),
                            state,
                        );
                        head.sent = state.clone();
                    }
                    None => {
                        if let Some(head) = new_head(&dh, &client, &manager.resource, state) {
                            manager.heads.push(head);
                        }
                    }
                }
            }
            manager.resource.done(mgmt.serial);
        }
        debug!(serial = mgmt.serial, "outputs announced");
    }
}

/// Makes a head for `state` on `manager` and tells it everything.
fn new_head(
    dh: &DisplayHandle,
    client: &Client,
    manager: &ZwlrOutputManagerV1,
    state: &HeadState,
) -> Option<Head> {
    let data = HeadData {
        name: state.name.clone(),
    };
    let resource = client
        .create_resource::<ZwlrOutputHeadV1, _, State>(dh, manager.version(), data)
        .map_err(|e| warn!("error creating an output head object: {e}"))
        .ok()?;
    manager.head(&resource);
    let mut modes = Vec::new();
    send_head(dh, client, &resource, &mut modes, None, state);
    Some(Head {
        resource,
        modes,
        sent: state.clone(),
    })
}

impl GlobalDispatch<ZwlrOutputManagerV1, ManagerGlobalData> for State {
    fn bind(
        state: &mut State,
        dh: &DisplayHandle,
        client: &Client,
        resource: New<ZwlrOutputManagerV1>,
        _global_data: &ManagerGlobalData,
        data_init: &mut DataInit<'_, State>,
    ) {
        let manager = data_init.init(resource, ());
        // Announce any change first, so the serial is that of what the new
        // manager is told.
        state.outputs_changed();
        let outputs: Vec<HeadState> = state.head_states();
        let heads = outputs
            .iter()
            .filter_map(|s| new_head(dh, client, &manager, s))
            .collect();
        manager.done(state.output_management.serial);
        state.output_management.managers.push(Manager {
            resource: manager,
            heads,
        });
    }

    fn can_view(client: Client, global_data: &ManagerGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl Dispatch<ZwlrOutputManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        manager: &ZwlrOutputManagerV1,
        request: zwlr_output_manager_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            zwlr_output_manager_v1::Request::CreateConfiguration { id, serial } => {
                data_init.init(
                    id,
                    ConfigurationData {
                        serial,
                        progress: Mutex::new(Progress::default()),
                    },
                );
            }
            zwlr_output_manager_v1::Request::Stop => {
                manager.finished();
                forget_manager(state, manager);
            }
            _ => {}
        }
    }

    fn destroyed(state: &mut State, _client: ClientId, manager: &ZwlrOutputManagerV1, _data: &()) {
        forget_manager(state, manager);
    }
}

fn forget_manager(state: &mut State, manager: &ZwlrOutputManagerV1) {
    state
        .output_management
        .managers
        .retain(|m| m.resource != *manager);
}

impl Dispatch<ZwlrOutputHeadV1, HeadData> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _head: &ZwlrOutputHeadV1,
        _request: zwlr_output_head_v1::Request,
        _data: &HeadData,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        // `release` only: the object goes.
    }
}

impl Dispatch<ZwlrOutputModeV1, ModeData> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _mode: &ZwlrOutputModeV1,
        _request: zwlr_output_mode_v1::Request,
        _data: &ModeData,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        // `release` only.
    }
}

impl Dispatch<ZwlrOutputConfigurationV1, ConfigurationData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        config: &ZwlrOutputConfigurationV1,
        request: zwlr_output_configuration_v1::Request,
        data: &ConfigurationData,
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        use zwlr_output_configuration_v1::{Error, Request};
        let Ok(mut progress) = data.progress.lock() else {
            return;
        };
        let configured = |p: &Progress, name: &str| {
            p.enabled.iter().any(|(n, _)| n == name) || p.disabled.iter().any(|n| n == name)
        };
        match request {
            Request::EnableHead { id, head } => {
                let name = head_name(&head);
                let resource = data_init.init(
                    id,
                    ConfigurationHeadData {
                        name: name.clone(),
                        asked: Mutex::new(Asked::default()),
                    },
                );
                if configured(&progress, &name) {
                    config.post_error(Error::AlreadyConfiguredHead, "head configured twice");
                    return;
                }
                progress.enabled.push((name, resource));
            }
            Request::DisableHead { head } => {
                let name = head_name(&head);
                if configured(&progress, &name) {
                    config.post_error(Error::AlreadyConfiguredHead, "head configured twice");
                    return;
                }
                progress.disabled.push(name);
            }
            Request::Apply | Request::Test => {
                let test_only = matches!(request, Request::Test);
                if progress.used {
                    config.post_error(
                        Error::AlreadyUsed,
                        "configuration already applied or tested",
                    );
                    return;
                }
                progress.used = true;
                if data.serial != state.output_management.serial {
                    info!(
                        asked = data.serial,
                        now = state.output_management.serial,
                        "output configuration made against an old state: cancelled"
                    );
                    config.cancelled();
                    return;
                }
                let names: Vec<String> = state.backend.outputs().iter().map(Output::name).collect();
                if let Some(missing) = names.iter().find(|n| !configured(&progress, n)) {
                    config.post_error(
                        Error::UnconfiguredHead,
                        format!("head {missing} is neither enabled nor disabled"),
                    );
                    return;
                }
                let (changes, adaptive_sync) = changes_of(&progress);
                drop(progress);
                let result = if adaptive_sync {
                    Err("adaptive sync is not supported".to_owned())
                } else {
                    state
                        .apply_output_changes(&changes, test_only)
                        .map_err(|e| e.to_string())
                };
                match result {
                    Ok(()) => {
                        info!(test_only, "output configuration succeeded");
                        config.succeeded();
                    }
                    Err(err) => {
                        warn!(test_only, "output configuration failed: {err}");
                        config.failed();
                    }
                }
                state.outputs_changed();
            }
            Request::Destroy => {}
            _ => {}
        }
    }
}

/// The output a head object stands for ("" for a head of a dead client).
fn head_name(head: &ZwlrOutputHeadV1) -> String {
    head.data::<HeadData>()
        .map(|d| d.name.clone())
        .unwrap_or_default()
}

/// The changes a configuration asks for, one per head, and whether it
/// asks adaptive sync on somewhere.
fn changes_of(progress: &Progress) -> (Vec<OutputChange>, bool) {
    let mut adaptive_sync = false;
    let mut changes: Vec<OutputChange> = progress
        .enabled
        .iter()
        .map(|(name, resource)| {
            let asked = resource
                .data::<ConfigurationHeadData>()
                .and_then(|d| d.asked.lock().ok().map(|a| a.clone()))
                .unwrap_or_default();
            adaptive_sync |= asked.adaptive_sync_on;
            OutputChange {
                name: name.clone(),
                enabled: true,
                mode: asked.mode,
                position: asked.position,
                scale: asked.scale,
                transform: asked.transform,
            }
        })
        .collect();
    changes.extend(progress.disabled.iter().map(|name| OutputChange {
        name: name.clone(),
        enabled: false,
        mode: None,
        position: None,
        scale: None,
        transform: None,
    }));
    (changes, adaptive_sync)
}

impl Dispatch<ZwlrOutputConfigurationHeadV1, ConfigurationHeadData> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        head: &ZwlrOutputConfigurationHeadV1,
        request: zwlr_output_configuration_head_v1::Request,
        data: &ConfigurationHeadData,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        use zwlr_output_configuration_head_v1::{Error, Request};
        let Ok(mut asked) = data.asked.lock() else {
            return;
        };
        let already = |head: &ZwlrOutputConfigurationHeadV1| {
            head.post_error(Error::AlreadySet, "property already set");
        };
        match request {
            Request::SetMode { mode } => {
                if asked.mode.is_some() {
                    return already(head);
                }
                match mode.data::<ModeData>() {
                    Some(m) if m.output == data.name => {
                        asked.mode = Some(ModeWanted::Listed(m.mode))
                    }
                    _ => head.post_error(Error::InvalidMode, "mode of another head"),
                }
            }
            Request::SetCustomMode {
                width,
                height,
                refresh,
            } => {
                if asked.mode.is_some() {
                    return already(head);
                }
                if width <= 0 || height <= 0 || refresh < 0 {
                    return head
                        .post_error(Error::InvalidCustomMode, "mode size or rate out of range");
                }
                asked.mode = Some(ModeWanted::Custom {
                    width,
                    height,
                    refresh: (refresh > 0).then_some(refresh),
                });
            }
            Request::SetPosition { x, y } => {
                if asked.position.is_some() {
                    return already(head);
                }
                asked.position = Some((x, y));
            }
            Request::SetTransform { transform } => {
                if asked.transform.is_some() {
                    return already(head);
                }
                match transform {
                    WEnum::Value(t) => asked.transform = Some(t.into()),
                    WEnum::Unknown(_) => {
                        head.post_error(Error::InvalidTransform, "no such transform")
                    }
                }
            }
            Request::SetScale { scale } => {
                if asked.scale.is_some() {
                    return already(head);
                }
                if scale <= 0.0 || !scale.is_finite() {
                    return head.post_error(Error::InvalidScale, "scale must be positive");
                }
                asked.scale = Some(scale);
            }
            Request::SetAdaptiveSync { state } => {
                // Adaptive sync is always off: asking it on fails at apply.
                match state {
                    WEnum::Value(zwlr_output_head_v1::AdaptiveSyncState::Enabled) => {
                        asked.adaptive_sync_on = true;
                    }
                    WEnum::Value(_) => {}
                    WEnum::Unknown(_) => {
                        head.post_error(Error::InvalidAdaptiveSyncState, "no such state")
                    }
                }
            }
            _ => {}
        }
    }
}

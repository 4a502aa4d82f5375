//! Clipboard and primary selection, one of each per profile, one per
//! disposable sandbox (not shared with its profile: see
//! [`crate::clipboard::Domain`]) and one for the host. The seat holds one selection of each kind at a time; what it
//! holds is either a client's own (live) source, or a copy the compositor
//! kept of a domain's last selection and offers itself.
//!
//! - When a client sets a selection, its source becomes the seat's, and the
//!   compositor reads the text and image formats of it into memory (at most
//!   16 MiB, see [`crate::clipboard`]) as its domain's selection.
//! - When the keyboard focus moves to a client, it is offered its own
//!   domain's selection: the live source if the seat holds its domain's,
//!   else the kept copy (set as a compositor-owned selection, which ends the
//!   other domain's live source: its data is kept already). A client whose
//!   domain has nothing kept is given no selection focus, so it is offered
//!   nothing, and the other domain's live source lives on.
//! - Selection focus is taken away before the seat's selection is replaced,
//!   so a new selection is never sent to a client of another domain.
//!
//! Drags between clients are cancelled as soon as they start.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use smithay::delegate_data_device;
use smithay::delegate_primary_selection;
use smithay::input::Seat;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{Interest, Mode, PostAction, RegistrationToken};
use smithay::reexports::rustix;
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_data_source::WlDataSource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, Resource};
use smithay::utils::SERIAL_COUNTER;
use smithay::wayland::selection::data_device::{
    clear_data_device_selection, request_data_device_client_selection, set_data_device_focus,
    set_data_device_selection, ClientDndGrabHandler, DataDeviceHandler, DataDeviceState,
    ServerDndGrabHandler,
};
use smithay::wayland::selection::primary_selection::{
    clear_primary_selection, request_primary_client_selection, set_primary_focus,
    set_primary_selection, PrimarySelectionHandler, PrimarySelectionState,
};
use smithay::wayland::selection::{SelectionHandler, SelectionSource, SelectionTarget};
use tracing::{debug, warn};

use crate::clipboard::{kept_formats, Clipboards, Domain, Kind, Reading, Snapshot, READ_TIMEOUT};
use crate::identity::{origin_of, Origin};
use crate::state::State;
use crate::xwayland_selection::{ReadFrom, X11Selections};

/// Bytes moved per read or write of selection data.
const CHUNK: usize = 64 * 1024;

/// The seat's selections and every domain's kept copy.
#[derive(Debug, Default)]
pub struct SelectionOwners {
    /// The origin of the clipboard the seat offers now, `None` when empty.
    pub clipboard: Option<Origin>,
    /// The origin of the primary selection the seat offers now.
    pub primary: Option<Origin>,
    /// Each domain's kept selections, and the transfer slot.
    pub clipboards: Clipboards,
    offered: [Offered; 2],
    /// The client of each live selection, to notice it has gone.
    setters: [Option<ClientId>; 2],
    readings: HashMap<u64, ActiveReading>,
    generation: u64,
    /// Which profiles' selections an X11 client of theirs owns now.
    pub(crate) x11: X11Selections,
}

impl SelectionOwners {
    /// Whether `domain`'s `kind` selection is kept now (read completely).
    pub fn is_kept(&self, domain: &Domain, kind: Kind) -> bool {
        self.clipboards.get(domain, kind).is_some()
    }

    pub(crate) fn offered(&self, kind: Kind) -> &Offered {
        &self.offered[index(kind)]
    }

    fn set_offered(&mut self, kind: Kind, offered: Offered) {
        let origin = offered.domain().map(Domain::origin);
        match kind {
            Kind::Clipboard => self.clipboard = origin,
            Kind::Primary => self.primary = origin,
        }
        self.offered[index(kind)] = offered;
    }

    /// A new selection's number.
    pub(crate) fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Whether the live selection of generation `generation` is still
    /// being read.
    fn reading(&self, generation: u64) -> bool {
        self.readings.contains_key(&generation)
    }
}

/// Whether `source` was set through data-control. Smithay 0.7 keeps the
/// provider of a [`SelectionSource`] private; its `Debug` text names it.
fn from_data_control(source: &SelectionSource) -> bool {
    format!("{source:?}").contains("DataControl")
}

pub(crate) fn index(kind: Kind) -> usize {
    match kind {
        Kind::Clipboard => 0,
        Kind::Primary => 1,
    }
}

pub(crate) fn kind_of(ty: SelectionTarget) -> Kind {
    match ty {
        SelectionTarget::Clipboard => Kind::Clipboard,
        SelectionTarget::Primary => Kind::Primary,
    }
}

/// What the seat holds as one kind of selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Offered {
    /// Nothing.
    #[default]
    Nothing,
    /// A client's own source.
    Live {
        /// The client's domain.
        domain: Domain,
        /// The selection's number.
        generation: u64,
    },
    /// A source set by a client the compositor cannot place: offered to
    /// nobody until replaced.
    Unowned,
    /// The compositor's copy of a domain's selection.
    Copy {
        /// Whose it is.
        domain: Domain,
    },
}

impl Offered {
    pub(crate) fn domain(&self) -> Option<&Domain> {
        match self {
            Offered::Live { domain, .. } | Offered::Copy { domain } => Some(domain),
            Offered::Nothing | Offered::Unowned => None,
        }
    }
}

/// What to do with the selection focus when a client of `focused`'s domain
/// gets the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Give nobody selection focus: the client is offered nothing.
    Nobody,
    /// Give the client selection focus: what the seat holds is its own.
    Focus,
    /// Offer the client its domain's kept copy.
    OfferCopy,
}

/// The pure rule: a client is only ever offered its own domain's selection.
/// `has_copy` tells whether its domain has a kept copy; `reading` whether
/// the seat's live selection is still being read (it is not ended before
/// its copy is complete).
pub fn decide(
    offered: &Offered,
    focused: Option<&Domain>,
    has_copy: bool,
    reading: bool,
) -> Decision {
    let Some(focused) = focused else {
        return Decision::Nobody;
    };
    match offered {
        o if o.domain() == Some(focused) => Decision::Focus,
        Offered::Live { .. } if reading => Decision::Nobody,
        _ if has_copy => Decision::OfferCopy,
        Offered::Nothing => Decision::Focus,
        _ => Decision::Nobody,
    }
}

/// A selection being read from its client into memory.
#[derive(Debug)]
struct ActiveReading {
    kind: Kind,
    from: ReadFrom,
    reading: Reading,
    sources: Vec<Option<RegistrationToken>>,
    timer: Option<RegistrationToken>,
}

impl State {
    /// Gives the keyboard-focused client the selection focus for each
    /// selection it may see, and nobody the others.
    pub fn update_selection_focus(&mut self) {
        let focus = self.seat.get_keyboard().and_then(|k| k.current_focus());
        self.selection_focus_to(focus.as_ref());
    }

    /// As `update_selection_focus`, with the keyboard focus given (from
    /// within the keyboard's own focus change, where it cannot be asked).
    pub fn selection_focus_to(&mut self, focus: Option<&WlSurface>) {
        let client = focus.and_then(|s| self.display_handle.get_client(s.id()).ok());
        let domain = client.as_ref().and_then(origin_of).map(Domain::of);
        for kind in [Kind::Clipboard, Kind::Primary] {
            self.forget_gone_source(kind);
            let owners = &self.selection_owners;
            let offered = owners.offered(kind);
            let reading = match offered {
                Offered::Live { generation, .. } => owners.reading(*generation),
                _ => false,
            };
            let copy = domain
                .as_ref()
                .and_then(|d| owners.clipboards.get(d, kind))
                .cloned();
            match decide(offered, domain.as_ref(), copy.is_some(), reading) {
                Decision::Nobody => self.set_selection_focus(kind, None),
                Decision::Focus => self.set_selection_focus(kind, client.clone()),
                Decision::OfferCopy => {
                    if let Some(copy) = copy {
                        self.offer_copy(kind, copy);
                        self.set_selection_focus(kind, client.clone());
                    }
                }
            }
        }
    }

    /// A live source whose client has disconnected offers nothing any more.
    fn forget_gone_source(&mut self, kind: Kind) {
        if let Offered::Live { .. } = self.selection_owners.offered(kind) {
            // A data-control source's client is not known: Smithay drops
            // it when it dies.
            let gone = self.selection_owners.setters[index(kind)]
                .clone()
                .is_some_and(|id| {
                    self.display_handle
                        .backend_handle()
                        .get_client_data(id)
                        .is_err()
                });
            if gone {
                self.selection_owners.set_offered(kind, Offered::Nothing);
            }
        }
    }

    /// `domain` has a new `kind` selection not set through the seat (an
    /// X11 client's): whatever it had is forgotten, and the seat, if it
    /// holds the domain's old one, holds nothing (so that no client is
    /// offered it any more).
    pub(crate) fn replace_selection_of(&mut self, domain: &Domain, kind: Kind) {
        self.abort_readings_of(domain, kind);
        self.selection_owners.clipboards.forget(domain, kind);
        if self.selection_owners.offered(kind).domain() == Some(domain) {
            self.set_selection_focus(kind, None);
            let dh = self.display_handle.clone();
            match kind {
                Kind::Clipboard => clear_data_device_selection(&dh, &self.seat),
                Kind::Primary => clear_primary_selection(&dh, &self.seat),
            }
            self.selection_owners.set_offered(kind, Offered::Nothing);
        }
    }

    fn set_selection_focus(&mut self, kind: Kind, client: Option<Client>) {
        let dh = self.display_handle.clone();
        match kind {
            Kind::Clipboard => set_data_device_focus(&dh, &self.seat, client),
            Kind::Primary => set_primary_focus(&dh, &self.seat, client),
        }
    }

    /// Makes `copy` the seat's selection, offered by the compositor. Nobody
    /// has selection focus while it changes, so it is sent to nobody yet.
    fn offer_copy(&mut self, kind: Kind, copy: Arc<Snapshot>) {
        self.set_selection_focus(kind, None);
        let dh = self.display_handle.clone();
        let mime_types = copy.mime_types();
        let domain = copy.from.clone();
        debug!(?kind, %domain, "offering the kept selection");
        match kind {
            Kind::Clipboard => set_data_device_selection(&dh, &self.seat, mime_types, copy),
            Kind::Primary => set_primary_selection(&dh, &self.seat, mime_types, copy),
        }
        self.selection_owners
            .set_offered(kind, Offered::Copy { domain });
    }

    /// Asks the owner of selection `generation` (the client of the seat's
    /// live selection, or an X11 client) for each of `formats`, reading
    /// them in the loop.
    pub(crate) fn start_reading(
        &mut self,
        kind: Kind,
        generation: u64,
        domain: Domain,
        formats: Vec<String>,
        from: ReadFrom,
    ) {
        if from == ReadFrom::Seat {
            match self.selection_owners.offered(kind) {
                Offered::Live { generation: g, .. } if *g == generation => {}
                // Replaced before it could be read: it is gone.
                _ => return,
            }
        }
        let mut requested = Vec::new();
        let mut sources = Vec::new();
        for mime in &formats {
            match self.request_format(kind, generation, requested.len(), mime, from) {
                Ok(token) => {
                    requested.push(mime.clone());
                    sources.push(Some(token));
                }
                // An X11 selection may offer a format Xwayland's window
                // manager cannot ask for: the others are kept.
                Err(err) if from != ReadFrom::Seat => {
                    debug!("{domain}'s X11 {kind:?} selection cannot be read as {mime}: {err:#}");
                }
                Err(err) => {
                    warn!("error reading {domain}'s {kind:?} selection as {mime}: {err:#}; it is not kept");
                    for token in sources.into_iter().flatten() {
                        self.loop_handle.remove(token);
                    }
                    self.loop_handle
                        .insert_idle(|state| state.update_selection_focus());
                    return;
                }
            }
        }
        if requested.is_empty() {
            debug!(%domain, ?kind, "no format of the selection could be read; it is not kept");
            return;
        }
        let reading = Reading::new(domain.clone(), generation, &requested);
        let mut active = ActiveReading {
            kind,
            from,
            reading,
            sources,
            timer: None,
        };
        let timer = self
            .loop_handle
            .insert_source(Timer::from_duration(READ_TIMEOUT), move |_, _, state| {
                if let Some(active) = state.selection_owners.readings.get_mut(&generation) {
                    active.timer = None;
                    warn!(
                        "{}'s {:?} selection was not handed over within {READ_TIMEOUT:?}; it is not kept",
                        active.reading.from, active.kind
                    );
                    state.abort_reading(generation);
                }
                TimeoutAction::Drop
            });
        match timer {
            Ok(token) => active.timer = Some(token),
            Err(err) => warn!("error adding the selection read timer: {err}"),
        }
        self.selection_owners.readings.insert(generation, active);
    }

    /// Asks the seat's live selection for `mime` through a new pipe whose
    /// read end the loop watches.
    fn request_format(
        &mut self,
        kind: Kind,
        generation: u64,
        index: usize,
        mime: &str,
        from: ReadFrom,
    ) -> anyhow::Result<RegistrationToken> {
        let (reader, writer) = std::io::pipe()?;
        let reader = OwnedFd::from(reader);
        rustix::io::ioctl_fionbio(&reader, true)?;
        let writer = OwnedFd::from(writer);
        match (from, kind) {
            (ReadFrom::X11(xwm), _) => self.request_x11_format(xwm, kind, mime, writer)?,
            (ReadFrom::Seat, Kind::Clipboard) => {
                request_data_device_client_selection(&self.seat, mime.to_owned(), writer)?
            }
            (ReadFrom::Seat, Kind::Primary) => {
                request_primary_client_selection(&self.seat, mime.to_owned(), writer)?
            }
        }
        let source = Generic::new(File::from(reader), Interest::READ, Mode::Level);
        self.loop_handle
            .insert_source(source, move |_, file, state| {
                Ok(state.read_format(generation, index, file.as_ref()))
            })
            .map_err(|e| anyhow::anyhow!("error watching the selection pipe: {e}"))
    }

    /// Reads what is ready of one format; at its end, or on any failure,
    /// the source is removed.
    fn read_format(&mut self, generation: u64, index: usize, mut file: &File) -> PostAction {
        let Some(active) = self.selection_owners.readings.get_mut(&generation) else {
            return PostAction::Remove;
        };
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf) {
            Ok(0) => {
                if let Some(token) = active.sources.get_mut(index) {
                    *token = None;
                }
                if let Some(snapshot) = active.reading.finish(index) {
                    self.complete_reading(generation, snapshot);
                }
                PostAction::Remove
            }
            Ok(n) => match active.reading.add(index, &buf[..n]) {
                Ok(()) => PostAction::Continue,
                Err(err) => {
                    warn!("{err}");
                    if let Some(token) = active.sources.get_mut(index) {
                        *token = None;
                    }
                    self.abort_reading(generation);
                    PostAction::Remove
                }
            },
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                PostAction::Continue
            }
            Err(err) => {
                warn!(
                    "error reading {}'s selection: {err}; it is not kept",
                    active.reading.from
                );
                if let Some(token) = active.sources.get_mut(index) {
                    *token = None;
                }
                self.abort_reading(generation);
                PostAction::Remove
            }
        }
    }

    fn complete_reading(&mut self, generation: u64, snapshot: Snapshot) {
        let Some(active) = self.selection_owners.readings.remove(&generation) else {
            return;
        };
        if let Some(timer) = active.timer {
            self.loop_handle.remove(timer);
        }
        let snapshot = match active.from {
            ReadFrom::X11(_) => crate::xwayland_selection::with_text_aliases(snapshot),
            ReadFrom::Seat => snapshot,
        };
        debug!(kind = ?active.kind, from = %snapshot.from, bytes = snapshot.size(), "selection kept");
        let domain = snapshot.from.clone();
        self.selection_owners
            .clipboards
            .keep(active.kind, Arc::new(snapshot));
        if let ReadFrom::X11(_) = active.from {
            self.x11_selection_kept(&domain, active.kind, generation);
        }
        // A focus change may have waited for this copy.
        self.update_selection_focus();
    }

    /// Stops reading selection `generation`: nothing of it is kept.
    fn abort_reading(&mut self, generation: u64) {
        let Some(active) = self.selection_owners.readings.remove(&generation) else {
            return;
        };
        for token in active.sources.into_iter().flatten() {
            self.loop_handle.remove(token);
        }
        if let Some(timer) = active.timer {
            self.loop_handle.remove(timer);
        }
        // A focus change may have waited for this reading.
        self.loop_handle
            .insert_idle(|state| state.update_selection_focus());
    }

    /// Forgets everything `domain` copied (a sandbox whose socket closed),
    /// and ends the seat's selection if it is the domain's.
    pub fn forget_clipboards_of(&mut self, domain: &Domain) {
        for kind in [Kind::Clipboard, Kind::Primary] {
            self.replace_selection_of(domain, kind);
        }
        self.selection_owners.clipboards.forget_domain(domain);
    }

    /// Stops reading any selection of `domain`'s of `kind` (it was replaced).
    pub(crate) fn abort_readings_of(&mut self, domain: &Domain, kind: Kind) {
        let stale: Vec<u64> = self
            .selection_owners
            .readings
            .iter()
            .filter(|(_, a)| a.kind == kind && &a.reading.from == domain)
            .map(|(g, _)| *g)
            .collect();
        for generation in stale {
            self.abort_reading(generation);
        }
    }

    /// Super+Shift+C: the shown profile's clipboard into the transfer slot;
    /// when the focused window is one of its disposable sandboxes, that
    /// sandbox's clipboard (a sandbox's own domain is left only this way).
    pub fn copy_to_transfer(&mut self) {
        let Some(profile) = self.active_profile().map(|p| p.name.clone()) else {
            self.notice("no profile's desktop is shown: no clipboard to copy".into());
            return;
        };
        let domain = match self.focused_origin() {
            Some(Origin::Sandbox {
                profile: p,
                instance,
            }) if p == profile => Domain::Sandbox {
                profile: p,
                instance,
            },
            _ => Domain::Profile(profile),
        };
        match self.selection_owners.clipboards.copy_to_transfer(&domain) {
            Some(copy) => self.notice(format!(
                "copied {domain}'s clipboard ({}) to the transfer slot; Super+Shift+V pastes it once into the focused window's profile",
                copy.describe()
            )),
            None => self.notice(format!(
                "nothing copied to the transfer slot: {domain}'s clipboard is empty (or holds no text or image, or is over {} MiB); copy something in {domain} first",
                crate::clipboard::MAX_BYTES >> 20
            )),
        }
    }

    /// The origin of the shown desktop's focused window.
    fn focused_origin(&self) -> Option<Origin> {
        let focused = self.layout.focused();
        // An X11 window carries its profile; a Wayland one is its client's.
        let x11_origin = focused
            .as_ref()
            .filter(|w| w.x11_surface().is_some())
            .and_then(|w| w.user_data().get::<Origin>().cloned());
        x11_origin.or_else(|| {
            focused
                .and_then(|w| w.toplevel().map(|t| t.wl_surface().clone()))
                .and_then(|s| self.origin_of_surface(&s))
        })
    }

    /// Super+Shift+V: the transfer slot, once, into the focused window's
    /// clipboard domain (its profile's, or its sandbox's own).
    pub fn paste_transfer(&mut self) {
        let Some(origin) = self.focused_origin() else {
            self.notice(
                "the transfer slot was not pasted: no window is focused; click the window to paste into first".into(),
            );
            return;
        };
        let domain = Domain::of(&origin);
        let Some(taken) = self.selection_owners.clipboards.paste_transfer(&domain) else {
            self.notice(format!(
                "nothing pasted into {domain}: the transfer slot is empty (Super+Shift+C copies the shown profile's clipboard into it; each copy is pasted once)"
            ));
            return;
        };
        self.abort_readings_of(&domain, Kind::Clipboard);
        // Re-offer: the domain's clipboard is new even if the seat holds it.
        if self.selection_owners.offered(Kind::Clipboard).domain() == Some(&domain) {
            self.set_selection_focus(Kind::Clipboard, None);
            self.selection_owners
                .set_offered(Kind::Clipboard, Offered::Nothing);
        }
        if let Domain::Profile(profile) = &domain {
            // The profile's X11 clients paste it too.
            self.x11_offer(profile, Kind::Clipboard, Some(taken.mime_types()));
        }
        self.notice(format!(
            "pasted the transfer slot ({}, copied from {}) into {domain}'s clipboard; the slot is now empty",
            taken.describe(),
            taken.from
        ));
        self.update_selection_focus();
    }
}

impl SelectionHandler for State {
    type SelectionUserData = Arc<Snapshot>;

    fn new_selection(
        &mut self,
        ty: SelectionTarget,
        source: Option<SelectionSource>,
        _seat: Seat<Self>,
    ) {
        let kind = kind_of(ty);
        // A data-control source comes from a host clipboard tool (the
        // global is host-only) that needs no focus. Through the core and
        // primary protocols, Smithay lets only the keyboard-focused client
        // set a selection, so the setter is the focused client.
        let (setter, origin) = if source.as_ref().is_some_and(from_data_control) {
            (None, Some(Origin::Host))
        } else {
            let setter = self
                .seat
                .get_keyboard()
                .and_then(|k| k.current_focus())
                .and_then(|s| self.display_handle.get_client(s.id()).ok());
            let origin = setter.as_ref().and_then(origin_of).cloned();
            (setter, origin)
        };
        let domain = origin.as_ref().map(Domain::of);
        let generation = self.selection_owners.next_generation();
        let mime_types = source.as_ref().map(|s| s.mime_types());
        debug!(?kind, ?origin, set = source.is_some(), "new selection");
        if let Some(domain) = &domain {
            // Whatever the domain had of this kind is replaced.
            self.abort_readings_of(domain, kind);
            self.selection_owners.clipboards.forget(domain, kind);
        }
        if let Some(Domain::Profile(profile)) = &domain {
            // The profile's X11 clients paste it too (and only theirs).
            self.x11_offer(profile, kind, mime_types);
        }
        let offered = match (&source, domain) {
            (None, _) => Offered::Nothing,
            (Some(source), Some(domain)) => {
                let formats = kept_formats(&source.mime_types());
                if formats.is_empty() {
                    debug!(%domain, "the selection has no format that is kept");
                } else {
                    let d = domain.clone();
                    // Smithay makes the source the seat's once this returns.
                    self.loop_handle.insert_idle(move |state| {
                        state.start_reading(kind, generation, d, formats, ReadFrom::Seat);
                    });
                }
                self.selection_owners.setters[index(kind)] = setter.map(|c| c.id());
                Offered::Live { domain, generation }
            }
            (Some(_), None) => Offered::Unowned,
        };
        self.selection_owners.set_offered(kind, offered);
        // Smithay offers the new selection to whoever holds selection focus
        // after this returns: the setter if it already did, else nobody.
        // Moving focus now would first offer it the old owner's selection,
        // so focus moves once the new selection is in place.
        self.loop_handle
            .insert_idle(|state| state.update_selection_focus());
    }

    fn send_selection(
        &mut self,
        ty: SelectionTarget,
        mime_type: String,
        fd: OwnedFd,
        _seat: Seat<Self>,
        copy: &Arc<Snapshot>,
    ) {
        let Some(data) = copy.get(&mime_type) else {
            return;
        };
        debug!(?ty, from = %copy.from, mime_type, bytes = data.len(), "serving a kept selection");
        if let Err(err) = self.serve(fd, data) {
            warn!("error sending a kept selection ({mime_type}) to a client: {err:#}");
        }
    }
}

impl State {
    /// Writes `data` into `fd` as the reader takes it, from the loop.
    pub(crate) fn serve(&mut self, fd: OwnedFd, data: Arc<[u8]>) -> anyhow::Result<()> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        let mut offset = 0;
        let source = Generic::new(File::from(fd), Interest::WRITE, Mode::Level);
        self.loop_handle
            .insert_source(source, move |_, file, _| {
                let mut file: &File = file.as_ref();
                while offset < data.len() {
                    let end = data.len().min(offset + CHUNK);
                    match file.write(&data[offset..end]) {
                        Ok(n) => offset += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            return Ok(PostAction::Continue);
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(err) => {
                            // The reader went away: nothing more to do.
                            debug!("a client stopped reading a selection: {err}");
                            return Ok(PostAction::Remove);
                        }
                    }
                }
                Ok(PostAction::Remove)
            })
            .map_err(|e| anyhow::anyhow!("error watching the selection pipe: {e}"))?;
        Ok(())
    }
}

impl DataDeviceHandler for State {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.data_device_state
    }
}

impl PrimarySelectionHandler for State {
    fn primary_selection_state(&self) -> &PrimarySelectionState {
        &self.primary_selection_state
    }
}

impl ClientDndGrabHandler for State {
    fn started(
        &mut self,
        _source: Option<WlDataSource>,
        _icon: Option<WlSurface>,
        seat: Seat<Self>,
    ) {
        debug!("drag and drop is not allowed yet: cancelling the drag");
        self.loop_handle.insert_idle(move |state| {
            if let Some(pointer) = seat.get_pointer() {
                let time = state.clock.now().as_millis();
                pointer.unset_grab(state, SERIAL_COUNTER.next_serial(), time);
            }
        });
    }
}

impl ServerDndGrabHandler for State {}

delegate_data_device!(State);
delegate_primary_selection!(State);

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Domain {
        Domain::Profile(name.parse().expect("valid profile name"))
    }

    fn copy(domain: Domain) -> Offered {
        Offered::Copy { domain }
    }

    #[test]
    fn a_client_is_offered_only_its_own_domains_selection() {
        let work = profile("work");
        let personal = profile("personal");
        // The seat holds work's: a work client sees it, others get their
        // own copy or nothing.
        let held = copy(work.clone());
        assert_eq!(decide(&held, Some(&work), true, false), Decision::Focus);
        assert_eq!(decide(&held, Some(&work), false, false), Decision::Focus);
        assert_eq!(
            decide(&held, Some(&personal), true, false),
            Decision::OfferCopy
        );
        assert_eq!(
            decide(&held, Some(&personal), false, false),
            Decision::Nobody
        );
        assert_eq!(
            decide(&held, Some(&Domain::Host), false, false),
            Decision::Nobody
        );
        assert_eq!(decide(&held, None, true, false), Decision::Nobody);
    }

    #[test]
    fn an_empty_seat_may_focus_anyone_and_an_unplaced_source_nobody() {
        let work = profile("work");
        assert_eq!(
            decide(&Offered::Nothing, Some(&work), false, false),
            Decision::Focus
        );
        assert_eq!(
            decide(&Offered::Nothing, Some(&work), true, false),
            Decision::OfferCopy
        );
        assert_eq!(
            decide(&Offered::Unowned, Some(&work), false, false),
            Decision::Nobody
        );
    }

    #[test]
    fn a_live_selection_is_not_ended_before_it_is_kept() {
        let work = profile("work");
        let personal = profile("personal");
        let live = Offered::Live {
            domain: work.clone(),
            generation: 3,
        };
        assert_eq!(decide(&live, Some(&work), false, true), Decision::Focus);
        assert_eq!(
            decide(&live, Some(&personal), true, true),
            Decision::Nobody,
            "work's copy is still being read"
        );
        assert_eq!(
            decide(&live, Some(&personal), true, false),
            Decision::OfferCopy
        );
    }
}

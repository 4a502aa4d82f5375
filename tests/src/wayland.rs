//! A small real Wayland client for tests and benches: connects to a socket
//! (or takes one end of a socket pair), binds globals, opens xdg toplevels
//! showing an shm buffer of one colour, locks the session
//! (ext-session-lock-v1, a lock surface of one colour per output), sets the
//! clipboard, inhibits shortcuts (keyboard-shortcuts-inhibit), asks for and
//! uses activation tokens (xdg-activation), exports and imports windows
//! (xdg-foreign), and records what the compositor
//! sends (configures, keyboard, pointer, confinement, layer-shell,
//! session-lock, screencopy, inhibitor and activation events, frame
//! callbacks).
//!
//! It is driven two ways: [`Client::roundtrip`] blocks, for a compositor in
//! another process or thread; [`Client::dispatch`] with a zero timeout never
//! does, for a compositor dispatched by the same thread (see
//! `compositor::Fixture::roundtrip`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::RangeInclusive;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use wayland_client::protocol::{
    wl_buffer, wl_callback, wl_compositor, wl_data_device, wl_data_device_manager, wl_data_offer,
    wl_data_source, wl_keyboard, wl_output, wl_pointer, wl_registry, wl_seat, wl_shm, wl_shm_pool,
    wl_surface,
};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum};
use wayland_protocols::ext::idle_notify::v1::client::{
    ext_idle_notification_v1, ext_idle_notifier_v1,
};
use wayland_protocols::ext::session_lock::v1::client::{
    ext_session_lock_manager_v1, ext_session_lock_surface_v1, ext_session_lock_v1,
};
use wayland_protocols::wp::content_type::v1::client::{
    wp_content_type_manager_v1, wp_content_type_v1,
};
use wayland_protocols::wp::cursor_shape::v1::client::{
    wp_cursor_shape_device_v1, wp_cursor_shape_manager_v1,
};
use wayland_protocols::wp::fractional_scale::v1::client::{
    wp_fractional_scale_manager_v1, wp_fractional_scale_v1,
};
use wayland_protocols::wp::idle_inhibit::zv1::client::{
    zwp_idle_inhibit_manager_v1, zwp_idle_inhibitor_v1,
};
use wayland_protocols::wp::keyboard_shortcuts_inhibit::zv1::client::{
    zwp_keyboard_shortcuts_inhibit_manager_v1, zwp_keyboard_shortcuts_inhibitor_v1,
};
use wayland_protocols::wp::pointer_constraints::zv1::client::{
    zwp_confined_pointer_v1, zwp_pointer_constraints_v1,
};
use wayland_protocols::wp::pointer_gestures::zv1::client::{
    zwp_pointer_gesture_swipe_v1, zwp_pointer_gestures_v1,
};
use wayland_protocols::wp::tearing_control::v1::client::{
    wp_tearing_control_manager_v1, wp_tearing_control_v1,
};
use wayland_protocols::xdg::activation::v1::client::{xdg_activation_token_v1, xdg_activation_v1};
use wayland_protocols::xdg::foreign::zv2::client::{
    zxdg_exported_v2, zxdg_exporter_v2, zxdg_imported_v2, zxdg_importer_v2,
};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};
use wayland_protocols_wlr::layer_shell::v1::client::{zwlr_layer_shell_v1, zwlr_layer_surface_v1};
use wayland_protocols_wlr::output_management::v1::client::zwlr_output_manager_v1;
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1, zwlr_screencopy_manager_v1,
};

/// What went wrong on the client's side: the step and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub String);

fn err(what: &str) -> impl FnOnce(&dyn std::fmt::Display) -> ClientError + '_ {
    move |e| ClientError(format!("{what}: {e}"))
}

/// Which callback a `wl_callback` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// A `wl_display.sync` numbered by the client.
    Sync(u64),
    /// A `wl_surface.frame`.
    Frame,
}

/// What a screencopy frame has told the client.
#[derive(Debug, Default, Clone)]
pub struct Screencopy {
    /// `buffer`: format, width, height, stride.
    pub buffer: Option<(WEnum<wl_shm::Format>, u32, u32, u32)>,
    /// `buffer_done` came.
    pub buffer_done: bool,
    /// `flags` came.
    pub flags: bool,
    /// `ready`: seconds and nanoseconds.
    pub ready: Option<(u64, u32)>,
    /// `failed` came.
    pub failed: bool,
}

/// Everything the client has been told, for tests to look at.
#[derive(Debug, Default)]
pub struct Seen {
    /// The globals announced: (name, interface, version).
    pub globals: Vec<(u32, String, u32)>,
    /// How many `xdg_surface.configure`s came (each is acknowledged, and
    /// the window drawn, as it comes).
    pub configured: u32,
    /// The windows drawn on configure.
    windows: Vec<Drawn>,
    /// The last `xdg_toplevel.configure` size.
    pub toplevel_size: Option<(i32, i32)>,
    /// Every `xdg_toplevel.configure`, in order: the toplevel, its size
    /// and states (see [`Seen::last_configure`]).
    pub toplevel_configures: Vec<(xdg_toplevel::XdgToplevel, ToplevelConfigure)>,
    /// The surface with the keyboard (from `wl_keyboard.enter` until its
    /// `leave`).
    pub keyboard_focus: Option<wl_surface::WlSurface>,
    /// The surface the pointer is over, and where on it.
    pub pointer: Option<(wl_surface::WlSurface, f64, f64)>,
    /// How many `wl_pointer.enter`s came.
    pub pointer_enters: u32,
    /// How many `wl_pointer.leave`s came.
    pub pointer_leaves: u32,
    /// The `wl_pointer.axis` values, in order (either axis).
    pub axis: Vec<f64>,
    /// The `wl_pointer.axis_value120` values, in order.
    pub axis_v120: Vec<i32>,
    /// How many `wl_keyboard.enter`s came.
    pub keyboard_enters: u32,
    /// How many `wl_keyboard.leave`s came.
    pub keyboard_leaves: u32,
    /// The keys pressed (evdev codes), in order.
    pub keys: Vec<u32>,
    /// The serial of the last keyboard or pointer enter or key, for
    /// requests that need one (setting the selection).
    pub input_serial: u32,
    /// `ext_session_lock_v1.locked` came.
    pub locked: bool,
    /// `ext_session_lock_v1.finished` came (the lock was refused or ended).
    pub finished: bool,
    /// Lock surfaces configured, acknowledged and drawn.
    pub lock_surfaces_drawn: u32,
    /// Why a lock surface could not be drawn, if it could not.
    pub lock_error: Option<ClientError>,
    /// How often the pointer was confined, and released.
    pub confined: u32,
    /// How often a confinement ended.
    pub unconfined: u32,
    /// The last `zwlr_layer_surface_v1.configure`: serial, width, height.
    pub layer_configure: Option<(u32, u32, u32)>,
    /// The layer surface was closed.
    pub layer_closed: bool,
    /// The screencopy frame's events.
    pub screencopy: Screencopy,
    /// When the last frame callback asked for came (reset on asking).
    pub frame_done: Option<Instant>,
    /// The highest `wl_display.sync` answered.
    pub synced: u64,
    /// The last `zwp_keyboard_shortcuts_inhibitor_v1` event: `active`
    /// (true) or `inactive` (false).
    pub shortcuts_inhibited: Option<bool>,
    /// The activation tokens received (`xdg_activation_token_v1.done`), in
    /// order.
    pub activation_tokens: Vec<String>,
    /// The serial of the last `wl_pointer.enter` (for cursor requests).
    pub pointer_serial: u32,
    /// The touchpad swipe events received, in order.
    pub swipes: Vec<Swipe>,
    /// `ext_idle_notification_v1.idled` events received.
    pub idled: u32,
    /// `ext_idle_notification_v1.resumed` events received.
    pub resumed: u32,
    /// The keymaps `wl_keyboard.keymap` sent (xkb text), in order.
    pub keymaps: Vec<String>,
    /// The last `wl_keyboard.repeat_info`: (rate, delay in ms).
    pub repeat_info: Option<(i32, i32)>,
    /// What `wl_output` said, as of its last `done`.
    pub output: OutputSeen,
    /// The last `wp_fractional_scale_v1.preferred_scale`, in 120ths.
    pub preferred_scale: Option<u32>,
    /// The handles of windows exported (`zxdg_exported_v2.handle`), in
    /// order.
    pub exported_handles: Vec<String>,
    /// `zxdg_imported_v2.destroyed` events received (an import refused or
    /// revoked).
    pub imports_destroyed: u32,
}

/// A `wl_output`'s state as its events gave it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputSeen {
    /// `geometry`: x, y and transform.
    pub geometry: Option<(i32, i32, WEnum<wl_output::Transform>)>,
    /// The current `mode`: width and height.
    pub mode: Option<(i32, i32)>,
    /// `scale` (an integer: wl_output rounds a fractional scale up).
    pub scale: Option<i32>,
    /// How many `done`s came.
    pub done: u32,
    /// Events since the last `done`.
    pending: Option<Box<OutputSeen>>,
}

/// A `zwp_pointer_gesture_swipe_v1` event.
#[derive(Debug, Clone, PartialEq)]
pub enum Swipe {
    /// It began with this many fingers.
    Begin(u32),
    /// It moved by (dx, dy).
    Update(f64, f64),
    /// It ended (true: cancelled).
    End(bool),
}

/// One `xdg_toplevel.configure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToplevelConfigure {
    /// The size asked for (0: the client chooses).
    pub size: (i32, i32),
    /// The states.
    pub states: Vec<xdg_toplevel::State>,
}

impl Seen {
    /// The last configure of `toplevel`.
    pub fn last_configure(
        &self,
        toplevel: &xdg_toplevel::XdgToplevel,
    ) -> Option<&ToplevelConfigure> {
        self.toplevel_configures
            .iter()
            .rev()
            .find(|(t, _)| t == toplevel)
            .map(|(_, c)| c)
    }
}

/// What a window draws on each configure.
#[derive(Debug)]
struct Drawn {
    xdg: xdg_surface::XdgSurface,
    surface: wl_surface::WlSurface,
    buffer: wl_buffer::WlBuffer,
    size: (i32, i32),
}

impl Drawn {
    fn draw(&self) {
        let (w, h) = self.size;
        self.surface.attach(Some(&self.buffer), 0, 0);
        self.surface.damage_buffer(0, 0, w, h);
        self.surface.commit();
    }
}

/// A connection to a compositor with one event queue.
pub struct Client {
    conn: Connection,
    /// The client's end of the connection, to hang up as a killed client
    /// would ([`Client::hang_up`]).
    socket: UnixStream,
    /// The seat's data device and its manager, once [`Client::seat`] bound
    /// them.
    data_device: Option<(
        wl_data_device::WlDataDevice,
        wl_data_device_manager::WlDataDeviceManager,
    )>,
    /// The seat's pointer, once [`Client::seat`] asked for it.
    pointer: Option<wl_pointer::WlPointer>,
    queue: EventQueue<Seen>,
    registry: wl_registry::WlRegistry,
    syncs: u64,
    /// Handle for creating objects.
    pub qh: QueueHandle<Seen>,
    /// What the compositor told it.
    pub seen: Seen,
}

impl Client {
    /// Connects to the socket at `socket` and waits (blocking) for its
    /// globals: for a compositor that runs elsewhere.
    pub fn connect(socket: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(socket)
            .map_err(|e| ClientError(format!("connecting to {}: {e}", socket.display())))?;
        let mut client = Client::new(stream)?;
        client.roundtrip()?;
        Ok(client)
    }

    /// A client on `stream`, its registry asked for but not yet read.
    pub fn new(stream: UnixStream) -> Result<Client, ClientError> {
        let socket = stream
            .try_clone()
            .map_err(|e| err("duplicating the socket")(&e))?;
        let conn = Connection::from_socket(stream).map_err(|e| err("connection")(&e))?;
        let queue = conn.new_event_queue();
        let qh = queue.handle();
        let registry = conn.display().get_registry(&qh, ());
        Ok(Client {
            conn,
            socket,
            data_device: None,
            pointer: None,
            queue,
            registry,
            syncs: 0,
            qh,
            seen: Seen::default(),
        })
    }

    /// Sends the requests made so far.
    pub fn flush(&self) -> Result<(), ClientError> {
        self.conn.flush().map_err(|e| err("sending requests")(&e))
    }

    /// Asks for a `wl_display.sync`; returns its number for [`Client::synced`].
    pub fn sync(&mut self) -> u64 {
        self.syncs += 1;
        self.conn
            .display()
            .sync(&self.qh, Callback::Sync(self.syncs));
        self.syncs
    }

    /// Whether sync `n` has been answered.
    pub fn synced(&self, n: u64) -> bool {
        self.seen.synced >= n
    }

    /// A blocking round trip.
    pub fn roundtrip(&mut self) -> Result<(), ClientError> {
        self.queue
            .roundtrip(&mut self.seen)
            .map(|_| ())
            .map_err(|e| err("roundtrip")(&e))
    }

    /// Blocking round trips until `done` holds, for up to `limit`.
    pub fn roundtrip_until(
        &mut self,
        limit: Duration,
        done: impl Fn(&Seen) -> bool,
    ) -> Result<(), ClientError> {
        let end = Instant::now() + limit;
        while !done(&self.seen) {
            self.roundtrip()?;
            if Instant::now() > end {
                return Err(ClientError("timed out".into()));
            }
        }
        Ok(())
    }

    /// Sends what is queued, reads what arrives within `timeout` (zero: only
    /// what is there) and handles it.
    pub fn dispatch(&mut self, timeout: Duration) -> Result<(), ClientError> {
        self.queue
            .dispatch_pending(&mut self.seen)
            .map_err(|e| err("handling events")(&e))?;
        self.flush()?;
        if let Some(guard) = self.queue.prepare_read() {
            let ready = {
                let fd = guard.connection_fd();
                let mut fds = [rustix::event::PollFd::new(
                    &fd,
                    rustix::event::PollFlags::IN,
                )];
                let timeout = rustix::event::Timespec {
                    tv_sec: timeout.as_secs() as i64,
                    tv_nsec: i64::from(timeout.subsec_nanos()),
                };
                rustix::event::poll(&mut fds, Some(&timeout))
                    .map_err(|e| err("waiting for the compositor")(&e))?
            };
            if ready > 0 {
                guard
                    .read()
                    .map_err(|e| err("reading from the compositor")(&e))?;
            }
        }
        self.queue
            .dispatch_pending(&mut self.seen)
            .map_err(|e| err("handling events")(&e))?;
        Ok(())
    }

    /// The protocol error the compositor ended the connection with:
    /// (interface, code).
    pub fn protocol_error(&self) -> Option<(String, u32)> {
        self.conn
            .protocol_error()
            .map(|e| (e.object_interface, e.code))
    }

    /// Binds the global of interface `I` in `versions`.
    pub fn bind<I>(&self, versions: RangeInclusive<u32>) -> Result<I, ClientError>
    where
        I: Proxy + 'static,
        Seen: Dispatch<I, ()>,
    {
        let name = I::interface().name;
        let (id, _, version) = self
            .seen
            .globals
            .iter()
            .find(|(_, interface, _)| interface == name)
            .ok_or_else(|| ClientError(format!("{name}: not offered")))?;
        if version < versions.start() {
            return Err(ClientError(format!(
                "{name}: version {version} is below {}",
                versions.start()
            )));
        }
        let version = (*version).min(*versions.end());
        Ok(self.registry.bind(*id, version, &self.qh, ()))
    }

    /// Whether the compositor offers a global of interface `name`.
    pub fn offers(&self, name: &str) -> bool {
        self.seen.globals.iter().any(|(_, i, _)| i == name)
    }

    /// An shm buffer of `size` filled with `xrgb` (XRGB8888).
    pub fn shm_buffer(&self, size: (i32, i32), xrgb: u32) -> Result<ShmBuffer, ClientError> {
        let shm: wl_shm::WlShm = self.bind(1..=1)?;
        shm_buffer(&shm, &self.qh, size, xrgb)
    }

    /// Binds the seat and asks for its keyboard, its pointer and its data
    /// device: from now on keys, enters, leaves and scrolls are recorded in
    /// [`Seen`], and [`Client::set_selection`] works.
    pub fn seat(&mut self) -> Result<(), ClientError> {
        let seat: wl_seat::WlSeat = self.bind(8..=9)?;
        let manager: wl_data_device_manager::WlDataDeviceManager = self.bind(3..=3)?;
        seat.get_keyboard(&self.qh, ());
        self.pointer = Some(seat.get_pointer(&self.qh, ()));
        let device = manager.get_data_device(&seat, &self.qh, ());
        self.data_device = Some((device, manager));
        Ok(())
    }

    /// Offers text as the clipboard selection, with the last input serial
    /// (needs [`Client::seat`] first).
    pub fn set_selection(&mut self) -> Result<(), ClientError> {
        let (device, manager) = self
            .data_device
            .as_ref()
            .ok_or_else(|| ClientError("set_selection: no data device bound".into()))?;
        let source = manager.create_data_source(&self.qh, ());
        source.offer("text/plain;charset=utf-8".into());
        device.set_selection(Some(&source), self.seen.input_serial);
        Ok(())
    }

    /// Locks the session (ext-session-lock-v1) with one lock surface per
    /// output, each drawn in `xrgb` at the size its configure gives (see
    /// [`Seen::locked`], [`Seen::finished`], [`Seen::lock_surfaces_drawn`]).
    /// Unlock with `unlock_and_destroy` on the lock returned.
    pub fn lock(
        &mut self,
        xrgb: u32,
    ) -> Result<ext_session_lock_v1::ExtSessionLockV1, ClientError> {
        let manager: ext_session_lock_manager_v1::ExtSessionLockManagerV1 = self.bind(1..=1)?;
        let compositor: wl_compositor::WlCompositor = self.bind(4..=4)?;
        let shm: wl_shm::WlShm = self.bind(1..=1)?;
        let outputs: Vec<(u32, u32)> = self
            .seen
            .globals
            .iter()
            .filter(|(_, interface, _)| interface == wl_output::WlOutput::interface().name)
            .map(|(name, _, version)| (*name, *version))
            .collect();
        if outputs.is_empty() {
            return Err(ClientError("wl_output: not offered".into()));
        }
        let lock = manager.lock(&self.qh, ());
        for (name, version) in outputs {
            let output: wl_output::WlOutput =
                self.registry.bind(name, version.min(4), &self.qh, ());
            let surface = compositor.create_surface(&self.qh, ());
            let drawn = LockSurface {
                surface: surface.clone(),
                shm: shm.clone(),
                xrgb,
            };
            lock.get_lock_surface(&surface, &output, &self.qh, drawn);
        }
        Ok(lock)
    }

    /// Closes the connection without a word, as a killed client's would.
    pub fn hang_up(self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }

    /// A toplevel titled `title` of exactly `size` (its minimum and
    /// maximum) with an shm buffer in `xrgb`, committed without a buffer:
    /// the compositor answers with a configure, which the client
    /// acknowledges and answers by drawing the buffer.
    pub fn window(
        &mut self,
        title: &str,
        size: (i32, i32),
        xrgb: u32,
    ) -> Result<TestWindow, ClientError> {
        let compositor: wl_compositor::WlCompositor = self.bind(4..=4)?;
        let base: xdg_wm_base::XdgWmBase = self.bind(1..=1)?;
        let surface = compositor.create_surface(&self.qh, ());
        let xdg = base.get_xdg_surface(&surface, &self.qh, ());
        let toplevel = xdg.get_toplevel(&self.qh, ());
        toplevel.set_title(title.into());
        toplevel.set_min_size(size.0, size.1);
        toplevel.set_max_size(size.0, size.1);
        surface.commit();
        let buffer = self.shm_buffer(size, xrgb)?;
        self.seen.windows.push(Drawn {
            xdg: xdg.clone(),
            surface: surface.clone(),
            buffer: buffer.buffer.clone(),
            size,
        });
        Ok(TestWindow {
            surface,
            xdg,
            toplevel,
            buffer,
        })
    }

    /// Inhibits the compositor's shortcuts while `surface` has the
    /// keyboard (keyboard-shortcuts-inhibit); the answer comes as
    /// [`Seen::shortcuts_inhibited`].
    pub fn inhibit_shortcuts(
        &mut self,
        surface: &wl_surface::WlSurface,
    ) -> Result<zwp_keyboard_shortcuts_inhibitor_v1::ZwpKeyboardShortcutsInhibitorV1, ClientError>
    {
        let manager: zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1 =
            self.bind(1..=1)?;
        let seat: wl_seat::WlSeat = self.bind(1..=9)?;
        Ok(manager.inhibit_shortcuts(surface, &seat, &self.qh, ()))
    }

    /// Asks for an activation token (xdg-activation), naming `surface` as
    /// the one asking if given; it comes in [`Seen::activation_tokens`].
    pub fn request_activation_token(
        &mut self,
        surface: Option<&wl_surface::WlSurface>,
    ) -> Result<(), ClientError> {
        let activation: xdg_activation_v1::XdgActivationV1 = self.bind(1..=1)?;
        let token = activation.get_activation_token(&self.qh, ());
        if let Some(surface) = surface {
            token.set_surface(surface);
        }
        token.commit();
        Ok(())
    }

    /// Asks the compositor to activate `surface` with `token`.
    pub fn activate(
        &mut self,
        token: &str,
        surface: &wl_surface::WlSurface,
    ) -> Result<(), ClientError> {
        let activation: xdg_activation_v1::XdgActivationV1 = self.bind(1..=1)?;
        activation.activate(token.to_owned(), surface);
        Ok(())
    }

    /// The seat's pointer (needs [`Client::seat`] first).
    fn pointer(&self) -> Result<&wl_pointer::WlPointer, ClientError> {
        self.pointer
            .as_ref()
            .ok_or_else(|| ClientError("no pointer: call seat() first".into()))
    }

    /// Asks for the cursor `shape` (cursor-shape-v1), with the serial of
    /// the last pointer enter.
    pub fn set_cursor_shape(
        &mut self,
        shape: wp_cursor_shape_device_v1::Shape,
    ) -> Result<(), ClientError> {
        let manager: wp_cursor_shape_manager_v1::WpCursorShapeManagerV1 = self.bind(1..=1)?;
        let device = manager.get_pointer(self.pointer()?, &self.qh, ());
        device.set_shape(self.seen.pointer_serial, shape);
        Ok(())
    }

    /// Tells the compositor what `surface` shows (content-type-v1), on its
    /// next commit (made here).
    pub fn set_content_type(
        &mut self,
        surface: &wl_surface::WlSurface,
        kind: wp_content_type_v1::Type,
    ) -> Result<(), ClientError> {
        let manager: wp_content_type_manager_v1::WpContentTypeManagerV1 = self.bind(1..=1)?;
        let content = manager.get_surface_content_type(surface, &self.qh, ());
        content.set_content_type(kind);
        surface.commit();
        Ok(())
    }

    /// Asks for the touchpad swipes of the seat's pointer
    /// (pointer-gestures); they come as [`Seen::swipes`].
    pub fn swipe_gestures(&mut self) -> Result<(), ClientError> {
        let gestures: zwp_pointer_gestures_v1::ZwpPointerGesturesV1 = self.bind(1..=3)?;
        gestures.get_swipe_gesture(self.pointer()?, &self.qh, ());
        Ok(())
    }

    /// Asks to hear when the seat has had no input for `timeout_ms`
    /// (ext-idle-notify): [`Seen::idled`] and [`Seen::resumed`] count the
    /// events.
    pub fn idle_notification(
        &mut self,
        timeout_ms: u32,
    ) -> Result<ext_idle_notification_v1::ExtIdleNotificationV1, ClientError> {
        let notifier: ext_idle_notifier_v1::ExtIdleNotifierV1 = self.bind(1..=1)?;
        let seat: wl_seat::WlSeat = self.bind(1..=9)?;
        Ok(notifier.get_idle_notification(timeout_ms, &seat, &self.qh, ()))
    }

    /// Keeps the session from idling while `surface` is visible
    /// (zwp-idle-inhibit-manager-v1); destroy the inhibitor to stop.
    pub fn inhibit_idle(
        &mut self,
        surface: &wl_surface::WlSurface,
    ) -> Result<zwp_idle_inhibitor_v1::ZwpIdleInhibitorV1, ClientError> {
        let manager: zwp_idle_inhibit_manager_v1::ZwpIdleInhibitManagerV1 = self.bind(1..=1)?;
        Ok(manager.create_inhibitor(surface, &self.qh, ()))
    }

    /// Exports `surface`'s toplevel (xdg-foreign); its handle comes in
    /// [`Seen::exported_handles`].
    pub fn export_toplevel(
        &mut self,
        surface: &wl_surface::WlSurface,
    ) -> Result<zxdg_exported_v2::ZxdgExportedV2, ClientError> {
        let exporter: zxdg_exporter_v2::ZxdgExporterV2 = self.bind(1..=1)?;
        Ok(exporter.export_toplevel(surface, &self.qh, ()))
    }

    /// Imports the window exported as `handle` (xdg-foreign); a refused
    /// import is told `destroyed` ([`Seen::imports_destroyed`]).
    pub fn import_toplevel(
        &mut self,
        handle: &str,
    ) -> Result<zxdg_imported_v2::ZxdgImportedV2, ClientError> {
        let importer: zxdg_importer_v2::ZxdgImporterV2 = self.bind(1..=1)?;
        Ok(importer.import_toplevel(handle.to_owned(), &self.qh, ()))
    }

    /// Binds the global `name` as interface `I` at `version`, whether this
    /// client was offered it or not (an attacker guessing another
    /// client's global names).
    pub fn bind_name<I>(&self, name: u32, version: u32) -> I
    where
        I: Proxy + 'static,
        Seen: Dispatch<I, ()>,
    {
        self.registry.bind(name, version, &self.qh, ())
    }

    /// Asks for `surface`'s preferred fractional scale
    /// ([`Seen::preferred_scale`]).
    pub fn fractional_scale(
        &mut self,
        surface: &wl_surface::WlSurface,
    ) -> Result<wp_fractional_scale_v1::WpFractionalScaleV1, ClientError> {
        let manager: wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1 =
            self.bind(1..=1)?;
        Ok(manager.get_fractional_scale(surface, &self.qh, ()))
    }

    /// Asks for a frame callback on `surface` ([`Seen::frame_done`]).
    pub fn request_frame(&mut self, surface: &wl_surface::WlSurface) {
        self.seen.frame_done = None;
        surface.frame(&self.qh, Callback::Frame);
    }
}

/// An shm buffer of `size` filled with `xrgb` (XRGB8888), from a new pool
/// of `shm`.
fn shm_buffer(
    shm: &wl_shm::WlShm,
    qh: &QueueHandle<Seen>,
    size: (i32, i32),
    xrgb: u32,
) -> Result<ShmBuffer, ClientError> {
    let (w, h) = size;
    let stride = w * 4;
    let mut file: File = tempfile::tempfile().map_err(|e| err("shm file")(&e))?;
    let pixels: Vec<u8> = (0..w * h).flat_map(|_| xrgb.to_le_bytes()).collect();
    file.write_all(&pixels)
        .map_err(|e| err("filling the shm buffer")(&e))?;
    let pool = shm.create_pool(file.as_fd(), stride * h, qh, ());
    let buffer = pool.create_buffer(0, w, h, stride, wl_shm::Format::Xrgb8888, qh, ());
    pool.destroy();
    Ok(ShmBuffer { buffer, file, size })
}

/// What a lock surface draws on each configure.
#[derive(Debug)]
pub struct LockSurface {
    surface: wl_surface::WlSurface,
    shm: wl_shm::WlShm,
    xrgb: u32,
}

/// An shm buffer and the file behind it.
pub struct ShmBuffer {
    /// The buffer.
    pub buffer: wl_buffer::WlBuffer,
    /// Its pixels.
    pub file: File,
    /// Its size.
    pub size: (i32, i32),
}

impl ShmBuffer {
    /// The first pixel, as the compositor left it (XRGB8888).
    pub fn first_pixel(&mut self) -> Result<u32, ClientError> {
        let mut first = [0u8; 4];
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| err("shm seek")(&e))?;
        self.file
            .read_exact(&mut first)
            .map_err(|e| err("shm read")(&e))?;
        Ok(u32::from_le_bytes(first))
    }
}

/// An xdg toplevel with its buffer.
pub struct TestWindow {
    /// Its surface.
    pub surface: wl_surface::WlSurface,
    /// Its xdg surface.
    pub xdg: xdg_surface::XdgSurface,
    /// Its toplevel.
    pub toplevel: xdg_toplevel::XdgToplevel,
    /// What it shows.
    pub buffer: ShmBuffer,
}

impl TestWindow {
    /// Attaches, damages and commits its buffer.
    pub fn draw(&self) {
        let (w, h) = self.buffer.size;
        self.surface.attach(Some(&self.buffer.buffer), 0, 0);
        self.surface.damage_buffer(0, 0, w, h);
        self.surface.commit();
    }
}

impl Dispatch<wl_registry::WlRegistry, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_registry::Event::Global {
                name,
                interface,
                version,
            } => seen.globals.push((name, interface, version)),
            wl_registry::Event::GlobalRemove { name } => {
                seen.globals.retain(|(n, _, _)| *n != name)
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_callback::WlCallback, Callback> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        which: &Callback,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            match which {
                Callback::Sync(n) => seen.synced = seen.synced.max(*n),
                Callback::Frame => seen.frame_done = Some(Instant::now()),
            }
        }
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for Seen {
    fn event(
        _: &mut Self,
        base: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            base.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for Seen {
    fn event(
        seen: &mut Self,
        surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            surface.ack_configure(serial);
            seen.configured += 1;
            if let Some(window) = seen.windows.iter().find(|w| &w.xdg == surface) {
                window.draw();
            }
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for Seen {
    fn event(
        seen: &mut Self,
        toplevel: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Configure {
            width,
            height,
            states,
        } = event
        {
            seen.toplevel_size = Some((width, height));
            let states = states
                .chunks_exact(4)
                .filter_map(|b| {
                    let raw = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                    xdg_toplevel::State::try_from(raw).ok()
                })
                .collect();
            seen.toplevel_configures.push((
                toplevel.clone(),
                ToplevelConfigure {
                    size: (width, height),
                    states,
                },
            ));
        }
    }
}

impl Dispatch<wl_pointer::WlPointer, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_pointer::WlPointer,
        event: wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_pointer::Event::Enter {
                serial,
                surface,
                surface_x,
                surface_y,
            } => {
                seen.pointer = Some((surface, surface_x, surface_y));
                seen.pointer_enters += 1;
                seen.input_serial = serial;
                seen.pointer_serial = serial;
            }
            wl_pointer::Event::Leave { .. } => {
                seen.pointer = None;
                seen.pointer_leaves += 1;
            }
            wl_pointer::Event::Axis { value, .. } => seen.axis.push(value),
            wl_pointer::Event::AxisValue120 { value120, .. } => seen.axis_v120.push(value120),
            wl_pointer::Event::Motion {
                surface_x,
                surface_y,
                ..
            } => {
                if let Some((_, x, y)) = &mut seen.pointer {
                    (*x, *y) = (surface_x, surface_y);
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<wp_fractional_scale_v1::WpFractionalScaleV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &wp_fractional_scale_v1::WpFractionalScaleV1,
        event: wp_fractional_scale_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_fractional_scale_v1::Event::PreferredScale { scale } = event {
            seen.preferred_scale = Some(scale);
        }
    }
}

impl Dispatch<wl_output::WlOutput, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_output::WlOutput,
        event: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let out = &mut seen.output;
        if let wl_output::Event::Done = event {
            let done = out.done + 1;
            if let Some(p) = out.pending.take() {
                *out = *p;
            }
            out.done = done;
            return;
        }
        if out.pending.is_none() {
            out.pending = Some(Box::new(out.clone()));
        }
        let Some(pending) = out.pending.as_mut() else {
            return;
        };
        match event {
            wl_output::Event::Geometry {
                x, y, transform, ..
            } => {
                pending.geometry = Some((x, y, transform));
            }
            wl_output::Event::Mode {
                flags: WEnum::Value(flags),
                width,
                height,
                ..
            } if flags.contains(wl_output::Mode::Current) => {
                pending.mode = Some((width, height));
            }
            wl_output::Event::Scale { factor } => pending.scale = Some(factor),
            _ => {}
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Enter {
                serial, surface, ..
            } => {
                seen.keyboard_enters += 1;
                seen.input_serial = serial;
                seen.keyboard_focus = Some(surface);
            }
            wl_keyboard::Event::Leave { .. } => {
                seen.keyboard_leaves += 1;
                seen.keyboard_focus = None;
            }
            wl_keyboard::Event::Keymap { fd, size, .. } => {
                // Read at offset 0 without moving a file offset the
                // compositor's other clients may share.
                use std::os::unix::fs::FileExt;
                let file = File::from(fd);
                let mut text = vec![0; size as usize];
                if file.read_exact_at(&mut text, 0).is_ok() {
                    let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
                    seen.keymaps
                        .push(String::from_utf8_lossy(&text[..end]).into_owned());
                }
            }
            wl_keyboard::Event::RepeatInfo { rate, delay } => {
                seen.repeat_info = Some((rate, delay));
            }
            wl_keyboard::Event::Key {
                serial, key, state, ..
            } => {
                seen.input_serial = serial;
                if state == WEnum::Value(wl_keyboard::KeyState::Pressed) {
                    seen.keys.push(key);
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<ext_session_lock_v1::ExtSessionLockV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &ext_session_lock_v1::ExtSessionLockV1,
        event: ext_session_lock_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            ext_session_lock_v1::Event::Locked => seen.locked = true,
            ext_session_lock_v1::Event::Finished => seen.finished = true,
            _ => {}
        }
    }
}

impl Dispatch<ext_session_lock_surface_v1::ExtSessionLockSurfaceV1, LockSurface> for Seen {
    fn event(
        seen: &mut Self,
        lock_surface: &ext_session_lock_surface_v1::ExtSessionLockSurfaceV1,
        event: ext_session_lock_surface_v1::Event,
        drawn: &LockSurface,
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let ext_session_lock_surface_v1::Event::Configure {
            serial,
            width,
            height,
        } = event
        {
            lock_surface.ack_configure(serial);
            // The configure's size is the output's: a buffer of another
            // size is a protocol error, so each configure gets a new one.
            let size = (width as i32, height as i32);
            match shm_buffer(&drawn.shm, qh, size, drawn.xrgb) {
                Ok(buffer) => {
                    drawn.surface.attach(Some(&buffer.buffer), 0, 0);
                    drawn.surface.damage_buffer(0, 0, size.0, size.1);
                    drawn.surface.commit();
                    seen.lock_surfaces_drawn += 1;
                }
                Err(e) => seen.lock_error = Some(e),
            }
        }
    }
}

impl Dispatch<wl_data_device::WlDataDevice, ()> for Seen {
    fn event(
        _: &mut Self,
        _: &wl_data_device::WlDataDevice,
        _: wl_data_device::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }

    wayland_client::event_created_child!(Seen, wl_data_device::WlDataDevice, [
        wl_data_device::EVT_DATA_OFFER_OPCODE => (wl_data_offer::WlDataOffer, ()),
    ]);
}

impl Dispatch<zwp_confined_pointer_v1::ZwpConfinedPointerV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &zwp_confined_pointer_v1::ZwpConfinedPointerV1,
        event: zwp_confined_pointer_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_confined_pointer_v1::Event::Confined => seen.confined += 1,
            zwp_confined_pointer_v1::Event::Unconfined => seen.unconfined += 1,
            _ => {}
        }
    }
}

impl Dispatch<zwlr_layer_surface_v1::ZwlrLayerSurfaceV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &zwlr_layer_surface_v1::ZwlrLayerSurfaceV1,
        event: zwlr_layer_surface_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwlr_layer_surface_v1::Event::Configure {
                serial,
                width,
                height,
            } => seen.layer_configure = Some((serial, width, height)),
            zwlr_layer_surface_v1::Event::Closed => seen.layer_closed = true,
            _ => {}
        }
    }
}

impl Dispatch<zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_screencopy_frame_v1::Event;
        let copy = &mut seen.screencopy;
        match event {
            Event::Buffer {
                format,
                width,
                height,
                stride,
            } => copy.buffer = Some((format, width, height, stride)),
            Event::BufferDone => copy.buffer_done = true,
            Event::Flags { .. } => copy.flags = true,
            Event::Ready {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
            } => copy.ready = Some(((u64::from(tv_sec_hi) << 32) | u64::from(tv_sec_lo), tv_nsec)),
            Event::Failed => copy.failed = true,
            _ => {}
        }
    }
}

impl Dispatch<zwp_keyboard_shortcuts_inhibitor_v1::ZwpKeyboardShortcutsInhibitorV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &zwp_keyboard_shortcuts_inhibitor_v1::ZwpKeyboardShortcutsInhibitorV1,
        event: zwp_keyboard_shortcuts_inhibitor_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_keyboard_shortcuts_inhibitor_v1::Event::Active => {
                seen.shortcuts_inhibited = Some(true)
            }
            zwp_keyboard_shortcuts_inhibitor_v1::Event::Inactive => {
                seen.shortcuts_inhibited = Some(false)
            }
            _ => {}
        }
    }
}

impl Dispatch<xdg_activation_token_v1::XdgActivationTokenV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &xdg_activation_token_v1::XdgActivationTokenV1,
        event: xdg_activation_token_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_activation_token_v1::Event::Done { token } = event {
            seen.activation_tokens.push(token);
        }
    }
}

impl Dispatch<zwp_pointer_gesture_swipe_v1::ZwpPointerGestureSwipeV1, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &zwp_pointer_gesture_swipe_v1::ZwpPointerGestureSwipeV1,
        event: zwp_pointer_gesture_swipe_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwp_pointer_gesture_swipe_v1::Event;
        match event {
            Event::Begin { fingers, .. } => seen.swipes.push(Swipe::Begin(fingers)),
            Event::Update { dx, dy, .. } => seen.swipes.push(Swipe::Update(dx, dy)),
            Event::End { cancelled, .. } => seen.swipes.push(Swipe::End(cancelled != 0)),
            _ => {}
        }
    }
}

wayland_client::delegate_noop!(Seen: ignore wl_compositor::WlCompositor);
wayland_client::delegate_noop!(Seen: ignore ext_idle_notifier_v1::ExtIdleNotifierV1);
wayland_client::delegate_noop!(Seen: ignore zwp_idle_inhibit_manager_v1::ZwpIdleInhibitManagerV1);
wayland_client::delegate_noop!(Seen: ignore zwp_idle_inhibitor_v1::ZwpIdleInhibitorV1);

impl Dispatch<ext_idle_notification_v1::ExtIdleNotificationV1, ()> for Seen {
    fn event(
        seen: &mut Seen,
        _: &ext_idle_notification_v1::ExtIdleNotificationV1,
        event: ext_idle_notification_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Seen>,
    ) {
        match event {
            ext_idle_notification_v1::Event::Idled => seen.idled += 1,
            ext_idle_notification_v1::Event::Resumed => seen.resumed += 1,
            _ => {}
        }
    }
}
wayland_client::delegate_noop!(Seen: ignore wp_cursor_shape_manager_v1::WpCursorShapeManagerV1);
wayland_client::delegate_noop!(Seen: ignore wp_cursor_shape_device_v1::WpCursorShapeDeviceV1);
wayland_client::delegate_noop!(Seen: ignore wp_content_type_manager_v1::WpContentTypeManagerV1);
wayland_client::delegate_noop!(Seen: ignore wp_content_type_v1::WpContentTypeV1);
wayland_client::delegate_noop!(Seen: ignore zwp_pointer_gestures_v1::ZwpPointerGesturesV1);
wayland_client::delegate_noop!(Seen: ignore zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1);
wayland_client::delegate_noop!(Seen: ignore xdg_activation_v1::XdgActivationV1);
wayland_client::delegate_noop!(Seen: ignore wl_surface::WlSurface);
wayland_client::delegate_noop!(Seen: ignore wl_shm::WlShm);
wayland_client::delegate_noop!(Seen: ignore wl_shm_pool::WlShmPool);
wayland_client::delegate_noop!(Seen: ignore wl_buffer::WlBuffer);
wayland_client::delegate_noop!(Seen: ignore wl_seat::WlSeat);
wayland_client::delegate_noop!(Seen: ignore wl_data_device_manager::WlDataDeviceManager);
wayland_client::delegate_noop!(Seen: ignore wl_data_source::WlDataSource);
wayland_client::delegate_noop!(Seen: ignore wl_data_offer::WlDataOffer);
wayland_client::delegate_noop!(Seen: ignore ext_session_lock_manager_v1::ExtSessionLockManagerV1);
wayland_client::delegate_noop!(Seen: ignore zwp_pointer_constraints_v1::ZwpPointerConstraintsV1);
wayland_client::delegate_noop!(Seen: ignore wp_tearing_control_manager_v1::WpTearingControlManagerV1);
wayland_client::delegate_noop!(Seen: ignore wp_tearing_control_v1::WpTearingControlV1);
wayland_client::delegate_noop!(Seen: ignore zwlr_layer_shell_v1::ZwlrLayerShellV1);
wayland_client::delegate_noop!(Seen: ignore wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1);
// Only ever bound by a client that may not (a profile's): refused, so it
// never gets a head.
wayland_client::delegate_noop!(Seen: ignore zwlr_output_manager_v1::ZwlrOutputManagerV1);
wayland_client::delegate_noop!(Seen: ignore zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1);

wayland_client::delegate_noop!(Seen: ignore zxdg_exporter_v2::ZxdgExporterV2);
wayland_client::delegate_noop!(Seen: ignore zxdg_importer_v2::ZxdgImporterV2);

impl Dispatch<zxdg_exported_v2::ZxdgExportedV2, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &zxdg_exported_v2::ZxdgExportedV2,
        event: zxdg_exported_v2::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zxdg_exported_v2::Event::Handle { handle } = event {
            seen.exported_handles.push(handle);
        }
    }
}

impl Dispatch<zxdg_imported_v2::ZxdgImportedV2, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &zxdg_imported_v2::ZxdgImportedV2,
        event: zxdg_imported_v2::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zxdg_imported_v2::Event::Destroyed = event {
            seen.imports_destroyed += 1;
        }
    }
}

//! Small real Wayland clients for the lock and input-path tests, each run on
//! a thread of its own against the in-process compositor's sockets:
//!
//! - a window client (what a profile's app is): one xdg toplevel, its
//!   keyboard and pointer recorded, and on request an attempt to set the
//!   clipboard;
//! - a lock client (what swaylock is): `ext_session_lock_v1`, one lock
//!   surface per output in a solid colour, and on request unlock.
//!
//! Dropping a client's [`Handle`] without unlocking closes its connection,
//! as a killed process's would.

#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{
    wl_buffer, wl_compositor, wl_data_device, wl_data_device_manager, wl_data_offer,
    wl_data_source, wl_keyboard, wl_output, wl_pointer, wl_registry, wl_seat, wl_shm, wl_shm_pool,
    wl_surface,
};
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::ext::session_lock::v1::client::{
    ext_session_lock_manager_v1, ext_session_lock_surface_v1, ext_session_lock_v1,
};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

/// The window client's size.
pub const WINDOW: (i32, i32) = (200, 100);
/// The window client's colour (XRGB).
pub const WINDOW_RGB: u32 = 0x0080_8080;
/// The lock client's colour (XRGB): pure blue.
pub const LOCK_RGB: u32 = 0x0000_00ff;

/// What a client has seen, shared with the test.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Interface names the registry listed.
    pub globals: Vec<String>,
    /// wl_keyboard.enter events.
    pub keyboard_enters: u32,
    /// wl_keyboard.leave events.
    pub keyboard_leaves: u32,
    /// Key codes pressed (evdev).
    pub keys: Vec<u32>,
    /// wl_pointer.enter events.
    pub pointer_enters: u32,
    /// wl_pointer.leave events.
    pub pointer_leaves: u32,
    /// wl_pointer.axis values (vertical and horizontal).
    pub axis: Vec<f64>,
    /// wl_pointer.axis_value120 values.
    pub axis_v120: Vec<i32>,
    /// ext_session_lock_v1.locked arrived.
    pub locked: bool,
    /// ext_session_lock_v1.finished arrived (refused or ended).
    pub finished: bool,
    /// Lock surfaces drawn (configured, acked, committed with a buffer).
    pub lock_surfaces_drawn: u32,
    /// The client's error, if it stopped on one.
    pub error: Option<String>,
}

/// What a test asks a running client to do.
#[derive(Debug, Default)]
struct Asks {
    stop: AtomicBool,
    set_selection: AtomicBool,
    unlock: AtomicBool,
}

/// A running client.
pub struct Handle {
    /// What it has seen.
    pub seen: Arc<Mutex<Seen>>,
    asks: Arc<Asks>,
    /// The client's end of its connection, to close it from outside: the
    /// client's thread may be waiting on a compositor that the test's
    /// thread (this one) dispatches.
    socket: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl Handle {
    /// A copy of what it has seen.
    pub fn seen(&self) -> Seen {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
    /// Asks the window client to set the clipboard (with its last serial).
    pub fn set_selection(&self) {
        self.asks.set_selection.store(true, Ordering::Relaxed);
    }
    /// Asks the lock client to unlock (`unlock_and_destroy`).
    pub fn unlock(&self) {
        self.asks.unlock.store(true, Ordering::Relaxed);
    }
    /// Closes its connection without a word (as if killed) and waits.
    pub fn kill(mut self) {
        self.stop_now();
    }
    fn stop_now(&mut self) {
        self.asks.stop.store(true, Ordering::Relaxed);
        if let Some(socket) = self.socket.take() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Which client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Window,
    Lock,
    /// Lists the globals and stays idle.
    Registry,
}

/// A window client on `socket`.
pub fn window(socket: PathBuf) -> Handle {
    start(socket, Role::Window)
}

/// A lock client on `socket`: locks at once.
pub fn lock(socket: PathBuf) -> Handle {
    start(socket, Role::Lock)
}

/// A client that only lists the globals of `socket`.
pub fn registry(socket: PathBuf) -> Handle {
    start(socket, Role::Registry)
}

fn start(socket: PathBuf, role: Role) -> Handle {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let asks = Arc::new(Asks::default());
    let stream = UnixStream::connect(&socket)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()));
    let outside = stream.try_clone().expect("duplicate the client socket");
    let thread = {
        let (seen, asks) = (seen.clone(), asks.clone());
        std::thread::spawn(move || {
            if let Err(e) = run(stream, role, seen.clone(), asks) {
                if let Ok(mut s) = seen.lock() {
                    s.error = Some(e);
                }
            }
        })
    };
    Handle {
        seen,
        asks,
        socket: Some(outside),
        thread: Some(thread),
    }
}

struct Client {
    seen: Arc<Mutex<Seen>>,
    configured: Vec<(xdg_surface::XdgSurface, u32)>,
    lock_configured: Vec<(
        ext_session_lock_surface_v1::ExtSessionLockSurfaceV1,
        u32,
        u32,
        u32,
    )>,
    serial: u32,
}

impl Client {
    fn update(&self, f: impl FnOnce(&mut Seen)) {
        if let Ok(mut seen) = self.seen.lock() {
            f(&mut seen);
        }
    }
}

/// A buffer of `w`×`h` in `rgb`, from a fresh shm pool.
fn buffer(
    qh: &QueueHandle<Client>,
    shm: &wl_shm::WlShm,
    w: i32,
    h: i32,
    rgb: u32,
) -> Result<wl_buffer::WlBuffer, String> {
    let mut file: File = tempfile::tempfile().map_err(|e| format!("shm file: {e}"))?;
    let bytes: Vec<u8> = (0..w * h).flat_map(|_| rgb.to_le_bytes()).collect();
    file.write_all(&bytes)
        .map_err(|e| format!("shm write: {e}"))?;
    let pool = shm.create_pool(file.as_fd(), w * h * 4, qh, ());
    let buffer = pool.create_buffer(0, w, h, w * 4, wl_shm::Format::Xrgb8888, qh, ());
    pool.destroy();
    Ok(buffer)
}

fn run(
    stream: UnixStream,
    role: Role,
    seen: Arc<Mutex<Seen>>,
    asks: Arc<Asks>,
) -> Result<(), String> {
    let conn = Connection::from_socket(stream).map_err(|e| format!("connection: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<Client>(&conn).map_err(|e| format!("registry: {e}"))?;
    let qh = queue.handle();
    let names: Vec<String> = globals
        .contents()
        .clone_list()
        .into_iter()
        .map(|g| g.interface)
        .collect();
    let mut client = Client {
        seen,
        configured: Vec::new(),
        lock_configured: Vec::new(),
        serial: 0,
    };
    client.update(|s| s.globals = names);
    let compositor: wl_compositor::WlCompositor = globals
        .bind(&qh, 4..=4, ())
        .map_err(|e| format!("wl_compositor: {e}"))?;
    let shm: wl_shm::WlShm = globals
        .bind(&qh, 1..=1, ())
        .map_err(|e| format!("wl_shm: {e}"))?;

    let mut window = None;
    let mut data_device = None;
    let mut lock = None;
    match role {
        Role::Registry => {}
        Role::Window => {
            let base: xdg_wm_base::XdgWmBase = globals
                .bind(&qh, 1..=1, ())
                .map_err(|e| format!("xdg_wm_base: {e}"))?;
            let seat: wl_seat::WlSeat = globals
                .bind(&qh, 8..=9, ())
                .map_err(|e| format!("wl_seat: {e}"))?;
            let devices: wl_data_device_manager::WlDataDeviceManager = globals
                .bind(&qh, 3..=3, ())
                .map_err(|e| format!("wl_data_device_manager: {e}"))?;
            seat.get_keyboard(&qh, ());
            seat.get_pointer(&qh, ());
            data_device = Some((devices.get_data_device(&seat, &qh, ()), devices));
            let surface = compositor.create_surface(&qh, ());
            let xdg = base.get_xdg_surface(&surface, &qh, ());
            let toplevel = xdg.get_toplevel(&qh, ());
            toplevel.set_title("profile app".into());
            let (w, h) = WINDOW;
            toplevel.set_min_size(w, h);
            toplevel.set_max_size(w, h);
            surface.commit();
            let buffer = buffer(&qh, &shm, w, h, WINDOW_RGB)?;
            window = Some((surface, xdg, toplevel, buffer, base));
        }
        Role::Lock => {
            let manager: ext_session_lock_manager_v1::ExtSessionLockManagerV1 = globals
                .bind(&qh, 1..=1, ())
                .map_err(|e| format!("ext_session_lock_manager_v1: {e}"))?;
            let output: wl_output::WlOutput = globals
                .bind(&qh, 1..=4, ())
                .map_err(|e| format!("wl_output: {e}"))?;
            let session = manager.lock(&qh, ());
            let surface = compositor.create_surface(&qh, ());
            let _lock_surface = session.get_lock_surface(&surface, &output, &qh, ());
            lock = Some((session, surface, _lock_surface));
        }
    }

    while !asks.stop.load(Ordering::Relaxed) {
        queue
            .roundtrip(&mut client)
            .map_err(|e| format!("roundtrip: {e}"))?;
        for (xdg, serial) in std::mem::take(&mut client.configured) {
            xdg.ack_configure(serial);
            if let Some((surface, _, _, buffer, _)) = &window {
                surface.attach(Some(buffer), 0, 0);
                surface.damage_buffer(0, 0, WINDOW.0, WINDOW.1);
                surface.commit();
            }
        }
        for (lock_surface, serial, w, h) in std::mem::take(&mut client.lock_configured) {
            lock_surface.ack_configure(serial);
            if let Some((_, surface, _)) = &lock {
                let b = buffer(&qh, &shm, w as i32, h as i32, LOCK_RGB)?;
                surface.attach(Some(&b), 0, 0);
                surface.damage_buffer(0, 0, w as i32, h as i32);
                surface.commit();
                client.update(|s| s.lock_surfaces_drawn += 1);
            }
        }
        if asks.set_selection.swap(false, Ordering::Relaxed) {
            if let Some((device, manager)) = &data_device {
                let source = manager.create_data_source(&qh, ());
                source.offer("text/plain;charset=utf-8".into());
                device.set_selection(Some(&source), client.serial);
            }
        }
        if asks.unlock.swap(false, Ordering::Relaxed) {
            if let Some((session, _, _)) = lock.take() {
                session.unlock_and_destroy();
                conn.flush().map_err(|e| format!("flush: {e}"))?;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Client {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for Client {
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

impl Dispatch<xdg_surface::XdgSurface, ()> for Client {
    fn event(
        client: &mut Self,
        surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            client.configured.push((surface.clone(), serial));
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for Client {
    fn event(
        client: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Enter { serial, .. } => {
                client.serial = serial;
                client.update(|s| s.keyboard_enters += 1);
            }
            wl_keyboard::Event::Leave { .. } => client.update(|s| s.keyboard_leaves += 1),
            wl_keyboard::Event::Key {
                serial, key, state, ..
            } => {
                client.serial = serial;
                if state == WEnum::Value(wl_keyboard::KeyState::Pressed) {
                    client.update(|s| s.keys.push(key));
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_pointer::WlPointer, ()> for Client {
    fn event(
        client: &mut Self,
        _: &wl_pointer::WlPointer,
        event: wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_pointer::Event::Enter { serial, .. } => {
                client.serial = serial;
                client.update(|s| s.pointer_enters += 1);
            }
            wl_pointer::Event::Leave { .. } => client.update(|s| s.pointer_leaves += 1),
            wl_pointer::Event::Axis { value, .. } => client.update(|s| s.axis.push(value)),
            wl_pointer::Event::AxisValue120 { value120, .. } => {
                client.update(|s| s.axis_v120.push(value120))
            }
            _ => {}
        }
    }
}

impl Dispatch<ext_session_lock_v1::ExtSessionLockV1, ()> for Client {
    fn event(
        client: &mut Self,
        _: &ext_session_lock_v1::ExtSessionLockV1,
        event: ext_session_lock_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            ext_session_lock_v1::Event::Locked => client.update(|s| s.locked = true),
            ext_session_lock_v1::Event::Finished => client.update(|s| s.finished = true),
            _ => {}
        }
    }
}

impl Dispatch<ext_session_lock_surface_v1::ExtSessionLockSurfaceV1, ()> for Client {
    fn event(
        client: &mut Self,
        surface: &ext_session_lock_surface_v1::ExtSessionLockSurfaceV1,
        event: ext_session_lock_surface_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let ext_session_lock_surface_v1::Event::Configure {
            serial,
            width,
            height,
        } = event
        {
            client
                .lock_configured
                .push((surface.clone(), serial, width, height));
        }
    }
}

impl Dispatch<wl_data_device::WlDataDevice, ()> for Client {
    fn event(
        _: &mut Self,
        _: &wl_data_device::WlDataDevice,
        _: wl_data_device::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }

    wayland_client::event_created_child!(Client, wl_data_device::WlDataDevice, [
        wl_data_device::EVT_DATA_OFFER_OPCODE => (wl_data_offer::WlDataOffer, ()),
    ]);
}

wayland_client::delegate_noop!(Client: ignore wl_compositor::WlCompositor);
wayland_client::delegate_noop!(Client: ignore wl_surface::WlSurface);
wayland_client::delegate_noop!(Client: ignore wl_shm::WlShm);
wayland_client::delegate_noop!(Client: ignore wl_shm_pool::WlShmPool);
wayland_client::delegate_noop!(Client: ignore wl_buffer::WlBuffer);
wayland_client::delegate_noop!(Client: ignore wl_seat::WlSeat);
wayland_client::delegate_noop!(Client: ignore wl_output::WlOutput);
wayland_client::delegate_noop!(Client: ignore xdg_toplevel::XdgToplevel);
wayland_client::delegate_noop!(Client: ignore wl_data_device_manager::WlDataDeviceManager);
wayland_client::delegate_noop!(Client: ignore wl_data_source::WlDataSource);
wayland_client::delegate_noop!(Client: ignore wl_data_offer::WlDataOffer);
wayland_client::delegate_noop!(Client: ignore ext_session_lock_manager_v1::ExtSessionLockManagerV1);

//! Zion's compositor as a WLCS integration: a `cdylib` that the Wayland
//! Conformance Test Suite runner (`/usr/lib/x86_64-linux-gnu/wlcs/wlcs`)
//! loads. Each test starts the real compositor (`zion_compositor::Compositor`,
//! headless backend, no profiles: one plain desktop) on a thread of its own,
//! hands it the test clients as host clients, and drives its pointer and
//! touch through the same input functions a backend uses.
//!
//! Every hook waits until the compositor has handled it, so that a test's
//! next roundtrip sees the effect (the runner's clients and the compositor
//! run on different threads).

mod server;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};

use wayland_sys::client::{wayland_client_handle, wl_display, wl_proxy};
use wayland_sys::common::{wl_fixed_t, wl_fixed_to_double};
use wayland_sys::ffi_dispatch;
use wlcs::ffi_display_server_api::{
    WlcsExtensionDescriptor, WlcsIntegrationDescriptor, WlcsServerIntegration,
};
use wlcs::ffi_wrappers::wlcs_server;
use wlcs::{extension_list, wlcs_server_integration, Wlcs};

pub use server::{Request, Server};

wlcs_server_integration!(ZionWlcs);

/// The protocols (and versions) the runner may test: those Zion offers every
/// client. Layer-shell and the other host-only protocols are left out: the
/// compositor does not draw layer surfaces yet, so their tests are skipped
/// rather than counted against it.
static EXTENSIONS: &[WlcsExtensionDescriptor] = extension_list!(
    ("wl_compositor", 5),
    ("wl_subcompositor", 1),
    ("wl_shm", 2),
    ("wl_data_device_manager", 3),
    ("wl_seat", 9),
    ("wl_output", 4),
    ("xdg_wm_base", 6),
    ("zxdg_output_manager_v1", 3),
    ("zwp_primary_selection_device_manager_v1", 1),
    ("wp_viewporter", 1),
);

static DESCRIPTOR: WlcsIntegrationDescriptor = WlcsIntegrationDescriptor {
    version: 1,
    num_extensions: EXTENSIONS.len(),
    supported_extensions: EXTENSIONS.as_ptr(),
};

/// Pointer and touch devices get distinct ids; a touch device's id is its
/// touch slot.
static NEXT_DEVICE: AtomicU32 = AtomicU32::new(0);

/// The integration's handle, one per test.
pub struct ZionWlcs {
    server: Option<Server>,
}

impl Wlcs for ZionWlcs {
    type Pointer = PointerDevice;
    type Touch = TouchDevice;

    fn new() -> ZionWlcs {
        ZionWlcs { server: None }
    }

    fn start(&mut self) {
        match Server::start() {
            Ok(server) => self.server = Some(server),
            // The runner's API has no error path here: the test fails at its
            // first client instead, with this on stderr.
            Err(err) => eprintln!("zion-wlcs: the compositor did not start: {err:#}"),
        }
    }

    fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }

    fn create_client_socket(&self) -> io::Result<OwnedFd> {
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "compositor not running"))?;
        let (client, compositor) = UnixStream::pair()?;
        server.call(Request::NewClient {
            stream: compositor,
            fd: client.as_raw_fd(),
        })?;
        Ok(client.into())
    }

    // The trait (from the runner's C API) takes raw pointers in a safe fn;
    // they are only handed back to libwayland-client, which owns them.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn position_window_absolute(
        &self,
        display: *mut wl_display,
        surface: *mut wl_proxy,
        x: i32,
        y: i32,
    ) {
        // SAFETY: the runner passes its live client display and surface
        // proxy; both calls only read them.
        let fd = unsafe { ffi_dispatch!(wayland_client_handle(), wl_display_get_fd, display) };
        // SAFETY: as above.
        let surface_id =
            unsafe { ffi_dispatch!(wayland_client_handle(), wl_proxy_get_id, surface) };
        if let Some(server) = &self.server {
            server.send(Request::PositionWindow {
                fd,
                surface_id,
                x,
                y,
            });
        }
    }

    fn create_pointer(&mut self) -> Option<PointerDevice> {
        let server = self.server.as_ref()?;
        Some(PointerDevice {
            server: server.clone(),
        })
    }

    fn create_touch(&mut self) -> Option<TouchDevice> {
        let server = self.server.as_ref()?;
        Some(TouchDevice {
            server: server.clone(),
            slot: NEXT_DEVICE.fetch_add(1, Ordering::Relaxed),
        })
    }

    fn get_descriptor(&self) -> &WlcsIntegrationDescriptor {
        &DESCRIPTOR
    }
}

fn fixed(v: wl_fixed_t) -> f64 {
    wl_fixed_to_double(v)
}

/// WLCS 1.5 passes touch coordinates as whole pixels in its `wl_fixed_t`
/// parameters (`Touch::down_at(int, int)` forwards the ints as they are),
/// unlike the pointer's, which it converts with `wl_fixed_from_int`.
fn touch_coordinate(v: wl_fixed_t) -> f64 {
    f64::from(v)
}

/// A pointer the runner moves and clicks.
pub struct PointerDevice {
    server: Server,
}

impl wlcs::Pointer for PointerDevice {
    fn move_absolute(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        self.server.send(Request::PointerTo {
            x: fixed(x),
            y: fixed(y),
        });
    }

    fn move_relative(&mut self, dx: wl_fixed_t, dy: wl_fixed_t) {
        self.server.send(Request::PointerBy {
            dx: fixed(dx),
            dy: fixed(dy),
        });
    }

    fn button_up(&mut self, button: i32) {
        self.server.send(Request::Button {
            button: button as u32,
            pressed: false,
        });
    }

    fn button_down(&mut self, button: i32) {
        self.server.send(Request::Button {
            button: button as u32,
            pressed: true,
        });
    }
}

/// A touch screen with one touch point, its slot the device's id.
pub struct TouchDevice {
    server: Server,
    slot: u32,
}

impl wlcs::Touch for TouchDevice {
    fn touch_down(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        self.server.send(Request::TouchDown {
            slot: self.slot,
            x: touch_coordinate(x),
            y: touch_coordinate(y),
        });
    }

    fn touch_move(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        self.server.send(Request::TouchMove {
            slot: self.slot,
            x: touch_coordinate(x),
            y: touch_coordinate(y),
        });
    }

    fn touch_up(&mut self) {
        self.server.send(Request::TouchUp { slot: self.slot });
    }
}

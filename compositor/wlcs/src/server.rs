//! The compositor thread: Zion's real `Compositor` (headless, no profiles)
//! and the requests the runner's hooks send it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use smithay::backend::input::TouchSlot;
use smithay::desktop::Window;
use smithay::input::touch::{DownEvent, MotionEvent, UpEvent};
use smithay::reexports::calloop::channel::{self, Channel, Event};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::Resource;
use smithay::utils::{Point, SERIAL_COUNTER};
use zion_compositor::identity::{ClientState, Origin};
use zion_compositor::{BackendKind, Compositor, Options, State};
use zion_config::Config;

/// The output WLCS tests place their windows on.
pub const OUTPUT_SIZE: (i32, i32) = (1920, 1080);

/// How long a hook waits for the compositor before giving up (a hung
/// compositor then fails the test instead of hanging the suite).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the runner asks of the compositor.
#[derive(Debug)]
pub enum Request {
    /// Accept a client on `stream`; the runner knows it by `fd`, the number
    /// of its end of the socket pair.
    NewClient {
        /// The compositor's end.
        stream: UnixStream,
        /// The client's end, as the runner's `wl_display_get_fd` gives it.
        fd: i32,
    },
    /// Move the toplevel whose `wl_surface` has `surface_id` in the client
    /// known by `fd` so that its window geometry starts at (x, y).
    PositionWindow {
        /// The client's socket.
        fd: i32,
        /// The surface's protocol id.
        surface_id: u32,
        /// Left edge.
        x: i32,
        /// Top edge.
        y: i32,
    },
    /// Pointer to (x, y).
    PointerTo {
        /// x
        x: f64,
        /// y
        y: f64,
    },
    /// Pointer moved by (dx, dy).
    PointerBy {
        /// dx
        dx: f64,
        /// dy
        dy: f64,
    },
    /// Button (evdev code) pressed or released.
    Button {
        /// The code.
        button: u32,
        /// Pressed or released.
        pressed: bool,
    },
    /// A touch point goes down.
    TouchDown {
        /// Its slot.
        slot: u32,
        /// x
        x: f64,
        /// y
        y: f64,
    },
    /// A touch point moves.
    TouchMove {
        /// Its slot.
        slot: u32,
        /// x
        x: f64,
        /// y
        y: f64,
    },
    /// A touch point lifts.
    TouchUp {
        /// Its slot.
        slot: u32,
    },
    /// Stop the compositor.
    Stop,
}

/// A request and where to say it was handled.
type Call = (Request, mpsc::Sender<()>);

/// The running compositor, as the hooks see it.
#[derive(Clone)]
pub struct Server {
    sender: channel::Sender<Call>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Server {
    /// Starts the compositor on its own thread; returns once it listens.
    pub fn start() -> Result<Server, String> {
        init_logging();
        let (sender, requests) = channel::channel::<Call>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("zion-compositor".into())
            .spawn(move || run(requests, ready_tx))
            .map_err(|e| format!("error starting the compositor thread: {e}"))?;
        match ready_rx.recv_timeout(REPLY_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(err),
            Err(_) => return Err("the compositor thread did not start in time".into()),
        }
        Ok(Server {
            sender,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// Sends `request` and waits until the compositor has handled it.
    pub fn call(&self, request: Request) -> io::Result<()> {
        let (done, wait) = mpsc::channel();
        self.sender
            .send((request, done))
            .map_err(|_| io::Error::new(io::ErrorKind::ConnectionReset, "compositor is gone"))?;
        wait.recv_timeout(REPLY_TIMEOUT).map_err(|e| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the compositor did not handle the request: {e}"),
            )
        })
    }

    /// As `call`, for hooks that cannot report an error: says it on stderr.
    pub fn send(&self, request: Request) {
        if let Err(err) = self.call(request) {
            eprintln!("zion-wlcs: {err}");
        }
    }

    /// Stops the compositor and waits for its thread.
    pub fn stop(self) {
        let _ = self.call(Request::Stop);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            if thread.join().is_err() {
                eprintln!("zion-wlcs: the compositor thread panicked");
            }
        }
    }
}

fn init_logging() {
    // `ZION_WLCS_LOG=debug` shows the compositor's log; quiet otherwise.
    let filter = std::env::var("ZION_WLCS_LOG").unwrap_or_else(|_| "error".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

/// What the loop keeps besides the compositor's state.
#[derive(Default)]
struct Runner {
    /// Clients by the runner's fd for them.
    clients: HashMap<i32, ClientId>,
    /// Positions asked for toplevels that have not mapped yet.
    pending: Vec<(ClientId, u32, (i32, i32))>,
    running: bool,
}

fn run(requests: Channel<Call>, ready: mpsc::Sender<Result<(), String>>) {
    let runtime = match tempfile::Builder::new().prefix("zion-wlcs-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            let _ = ready.send(Err(format!("error creating a runtime folder: {e}")));
            return;
        }
    };
    // No profiles: one desktop, every client a host client, as on a plain
    // desktop, which is what the tests expect.
    let config = Config {
        profiles: Vec::new(),
        ..Config::defaults()
    };
    let options = Options {
        backend: BackendKind::Headless,
        size: OUTPUT_SIZE,
        runtime_dir: runtime.path().to_owned(),
    };
    let mut compositor = match Compositor::new(config, &options) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(format!("{e:#}")));
            return;
        }
    };
    compositor.state.seat.add_touch();
    let runner = Rc::new(RefCell::new(Runner {
        running: true,
        ..Runner::default()
    }));
    let r = runner.clone();
    let inserted = compositor
        .state
        .loop_handle
        .insert_source(requests, move |event, _, state| match event {
            Event::Msg((request, done)) => {
                handle(&mut r.borrow_mut(), state, request);
                let _ = done.send(());
            }
            Event::Closed => r.borrow_mut().running = false,
        });
    if let Err(e) = inserted {
        let _ = ready.send(Err(format!(
            "error adding the WLCS requests to the loop: {e}"
        )));
        return;
    }
    let _ = ready.send(Ok(()));
    while runner.borrow().running {
        if let Err(err) = compositor.dispatch(Duration::from_millis(16)) {
            eprintln!("zion-wlcs: {err:#}");
            break;
        }
        place_pending(&mut runner.borrow_mut(), &mut compositor.state);
    }
}

fn handle(runner: &mut Runner, state: &mut State, request: Request) {
    match request {
        Request::NewClient { stream, fd } => {
            let data = Arc::new(ClientState::new(Origin::Host));
            match state.display_handle.insert_client(stream, data) {
                Ok(client) => {
                    runner.clients.insert(fd, client.id());
                }
                Err(err) => eprintln!("zion-wlcs: error adding a client: {err}"),
            }
        }
        Request::PositionWindow {
            fd,
            surface_id,
            x,
            y,
        } => {
            let Some(client) = runner.clients.get(&fd).cloned() else {
                eprintln!("zion-wlcs: position_window_absolute for an unknown client");
                return;
            };
            if place(state, &client, surface_id, (x, y)) {
                state.refresh_pointer_focus();
            } else {
                runner.pending.push((client, surface_id, (x, y)));
            }
        }
        Request::PointerTo { x, y } => state.pointer_motion_absolute(x, y),
        Request::PointerBy { dx, dy } => {
            let at = state
                .seat
                .get_pointer()
                .map(|p| p.current_location())
                .unwrap_or_default();
            state.pointer_motion(at.x + dx, at.y + dy);
        }
        Request::Button { button, pressed } => state.pointer_button(button, pressed),
        Request::TouchDown { slot, x, y } => touch_down(state, slot, (x, y).into()),
        Request::TouchMove { slot, x, y } => {
            let Some(touch) = state.seat.get_touch() else {
                return;
            };
            let location = Point::from((x, y));
            let under = state.surface_under(location);
            let event = MotionEvent {
                slot: TouchSlot::from(Some(slot)),
                location,
                time: state.clock.now().as_millis(),
            };
            touch.motion(state, under, &event);
            touch.frame(state);
        }
        Request::TouchUp { slot } => {
            let Some(touch) = state.seat.get_touch() else {
                return;
            };
            let event = UpEvent {
                slot: TouchSlot::from(Some(slot)),
                serial: SERIAL_COUNTER.next_serial(),
                time: state.clock.now().as_millis(),
            };
            touch.up(state, &event);
            touch.frame(state);
        }
        Request::Stop => runner.running = false,
    }
}

fn touch_down(state: &mut State, slot: u32, location: Point<f64, smithay::utils::Logical>) {
    let Some(touch) = state.seat.get_touch() else {
        return;
    };
    // A touch focuses the window touched, as a click does.
    let window = state.space.element_under(location).map(|(w, _)| w.clone());
    if let Some(window) = window {
        if state.layout.focus(&window) {
            state.refresh_view();
        }
    }
    let under = state.surface_under(location);
    let event = DownEvent {
        slot: TouchSlot::from(Some(slot)),
        location,
        serial: SERIAL_COUNTER.next_serial(),
        time: state.clock.now().as_millis(),
    };
    touch.down(state, under, &event);
    touch.frame(state);
}

/// The toplevel window of `client` whose surface has `surface_id`.
fn window_of(state: &State, client: &ClientId, surface_id: u32) -> Option<Window> {
    state.layout.desktops().iter().find_map(|d| {
        d.windows().iter().map(|p| &p.window).find_map(|w| {
            let surface = w.toplevel()?.wl_surface().clone();
            let owner = state.display_handle.get_client(surface.id()).ok()?;
            (owner.id() == *client && surface.id().protocol_id() == surface_id).then(|| w.clone())
        })
    })
}

/// Moves the window if it is mapped; returns whether it was.
fn place(state: &mut State, client: &ClientId, surface_id: u32, pos: (i32, i32)) -> bool {
    let Some(window) = window_of(state, client, surface_id) else {
        return false;
    };
    state.layout.move_to(&window, pos);
    state.refresh_view();
    true
}

/// Places windows that were positioned before they mapped, once they have.
fn place_pending(runner: &mut Runner, state: &mut State) {
    if runner.pending.is_empty() {
        return;
    }
    let pending = std::mem::take(&mut runner.pending);
    for (client, surface_id, pos) in pending {
        let alive = state
            .display_handle
            .backend_handle()
            .get_client_data(client.clone())
            .is_ok();
        if alive && !place(state, &client, surface_id, pos) {
            runner.pending.push((client, surface_id, pos));
        }
    }
}

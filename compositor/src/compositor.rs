//! The running compositor: the event loop, the Wayland display, the sockets
//! and the frame clock, with a small API that `main` and tests drive.

use std::cell::RefCell;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{channel, EventLoop, Interest, Mode, PostAction};
use smithay::reexports::wayland_server::Display;
use tracing::{info, warn};
use zion_config::Config;

use crate::backend::{self, Backend, BackendKind, Headless, Winit};
use crate::dbus;
use crate::identity::Origin;
use crate::screenshot::Screenshot;
use crate::sockets;
use crate::state::State;

/// How often the headless output is redrawn when something changed.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// How the compositor starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// The backend.
    pub backend: BackendKind,
    /// Output size: the headless image, the winit window's first size.
    pub size: (i32, i32),
    /// The folder holding the sockets (normally `$XDG_RUNTIME_DIR`).
    pub runtime_dir: PathBuf,
}

/// A compositor with its event loop.
pub struct Compositor {
    event_loop: EventLoop<'static, State>,
    /// Shared with the sources that dispatch clients: the display's own and
    /// the D-Bus requests' (a closed socket's clients go at once).
    display: Rc<RefCell<Display<State>>>,
    /// Its state.
    pub state: State,
}

impl Compositor {
    /// Starts a compositor for `config`: the display, the globals, the host
    /// socket and one socket per profile.
    pub fn new(config: Config, options: &Options) -> anyhow::Result<Compositor> {
        let event_loop: EventLoop<'static, State> =
            EventLoop::try_new().context("error creating the event loop")?;
        let handle = event_loop.handle();
        let backend = match options.backend {
            BackendKind::Headless => {
                Backend::Headless(Headless::new(options.size.0, options.size.1)?)
            }
            BackendKind::Winit => {
                let (winit, events) = Winit::new(options.size.0, options.size.1)?;
                handle
                    .insert_source(events, |event, _, state| {
                        backend::winit::handle_event(state, event)
                    })
                    .map_err(|e| {
                        anyhow::anyhow!("error adding the window's events to the loop: {e}")
                    })?;
                Backend::Winit(winit)
            }
            BackendKind::Udev => backend::udev::start(&handle)?,
        };
        let display: Display<State> = Display::new().context("error creating the display")?;
        let display_handle = display.handle();
        let poll_fd = display
            .as_fd()
            .try_clone_to_owned()
            .context("error duplicating the display's file descriptor")?;
        let display = Rc::new(RefCell::new(display));
        let dispatched = display.clone();
        handle
            .insert_source(
                Generic::new(poll_fd, Interest::READ, Mode::Level),
                move |_, _, state| {
                    dispatch_clients(&dispatched, state);
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| anyhow::anyhow!("error adding the display to the loop: {e}"))?;
        handle
            .insert_source(Timer::from_duration(FRAME_INTERVAL), |_, _, state| {
                state.render_frame();
                TimeoutAction::ToDuration(FRAME_INTERVAL)
            })
            .map_err(|e| anyhow::anyhow!("error adding the frame timer: {e}"))?;

        let mut state = State::new(
            config,
            options.runtime_dir.clone(),
            display_handle,
            handle.clone(),
            event_loop.get_signal(),
            backend,
        )?;
        let mut origins = vec![Origin::Host];
        origins.extend(
            state
                .config
                .profiles
                .iter()
                .map(|p| Origin::Profile(p.name.clone())),
        );
        for origin in origins {
            let listener = sockets::listen(&handle, &options.runtime_dir, origin)?;
            state.listeners.push(listener);
        }
        Ok(Compositor {
            event_loop,
            display,
            state,
        })
    }

    /// Serves `org.zionos.Compositor1` on the bus at `address`; fails (and
    /// the compositor goes on without it) if the name cannot be owned.
    pub fn serve_bus(&mut self, address: &str) -> anyhow::Result<()> {
        let desktops = dbus::desktops(&self.state);
        let active = self.state.layout.active_desktop().name.clone();
        let (link, requests) = dbus::serve(address, desktops, active)?;
        let display = self.display.clone();
        self.state
            .loop_handle
            .insert_source(requests, move |event, _, state| {
                if let channel::Event::Msg(request) = event {
                    let gone = state.handle_request(request);
                    // Clients disconnected by a request leave now (their
                    // windows with them), not at some other client's next
                    // event: the display only cleans up a client it
                    // dispatches.
                    let mut display = display.borrow_mut();
                    for client in gone {
                        // A dead client has nothing to read: the error is
                        // expected, the cleanup after it is what counts.
                        let _ = display.backend().dispatch_single_client(state, client);
                    }
                }
            })
            .map_err(|e| anyhow::anyhow!("error adding the D-Bus requests to the loop: {e}"))?;
        self.state.bus = Some(link);
        Ok(())
    }

    /// Opens one X11 socket per profile; each profile's Xwayland starts on
    /// its first client (see [`crate::xwayland`]). Logs once and goes on if
    /// Xwayland is not installed.
    pub fn open_x11_sockets(&mut self) {
        self.state.open_x11_sockets_all();
    }

    /// Runs one round of the loop, waiting up to `timeout` for events.
    pub fn dispatch(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.event_loop
            .dispatch(Some(timeout), &mut self.state)
            .context("error dispatching the event loop")?;
        self.state.announce_active();
        self.state.outputs_changed();
        self.state.space.refresh();
        self.state.refresh_pointer_focus();
        self.state
            .display_handle
            .flush_clients()
            .context("error flushing Wayland clients")?;
        Ok(())
    }

    /// Runs until `done` holds or `timeout` passes; returns whether it held.
    pub fn dispatch_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&mut State) -> bool,
    ) -> anyhow::Result<bool> {
        let end = Instant::now() + timeout;
        loop {
            if done(&mut self.state) {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= end {
                return Ok(false);
            }
            self.dispatch((end - now).min(FRAME_INTERVAL))?;
        }
    }

    /// Draws now (if anything changed) and returns the output as shown.
    pub fn screenshot(&mut self) -> anyhow::Result<Screenshot> {
        self.state.render_frame();
        self.state.backend.screenshot()
    }

    /// Stops the loop (so `run` returns and the process can exit 0) on the
    /// signals caught by [`catch_stop_signals`].
    pub fn stop_on_signals(&mut self, reader: UnixStream) -> anyhow::Result<()> {
        let stop = self.state.loop_signal.clone();
        self.state
            .loop_handle
            .insert_source(
                Generic::new(reader, Interest::READ, Mode::Level),
                move |_, reader, _| {
                    let mut buf = [0u8; 16];
                    // Drain what the handler wrote (`&UnixStream` reads).
                    let mut reader: &UnixStream = reader;
                    while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
                    info!("stopping on a signal");
                    stop.stop();
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| anyhow::anyhow!("error adding the signal socket to the loop: {e}"))?;
        Ok(())
    }

    /// Runs until stopped (`State::loop_signal`) or, with `until`, until then.
    pub fn run(&mut self, until: Option<Instant>) -> anyhow::Result<()> {
        let signal = self.state.loop_signal.clone();
        if let Some(until) = until {
            let left = until.saturating_duration_since(Instant::now());
            self.state
                .loop_handle
                .insert_source(Timer::from_duration(left), move |_, _, _| {
                    signal.stop();
                    TimeoutAction::Drop
                })
                .map_err(|e| anyhow::anyhow!("error adding the exit timer: {e}"))?;
        }
        self.event_loop
            .run(FRAME_INTERVAL, &mut self.state, |state| {
                state.announce_active();
                state.outputs_changed();
                state.space.refresh();
                state.refresh_pointer_focus();
                if let Err(err) = state.display_handle.flush_clients() {
                    warn!("error flushing Wayland clients: {err:?}");
                }
            })
            .context("error running the event loop")
    }
}

/// Catches SIGTERM and SIGINT (a session manager stopping the compositor,
/// Ctrl-C) from now on, instead of dying by them; returns the socket they
/// are written to, for [`Compositor::stop_on_signals`]. Called before the
/// sockets exist, so no client can see a compositor that dies by a signal.
pub fn catch_stop_signals() -> anyhow::Result<UnixStream> {
    let (reader, writer) =
        UnixStream::pair().context("error creating the socket pair for signals")?;
    reader
        .set_nonblocking(true)
        .context("error making the signal socket non-blocking")?;
    for signal in [SIGTERM, SIGINT] {
        let writer = writer
            .try_clone()
            .context("error duplicating the signal socket")?;
        signal_hook::low_level::pipe::register(signal, writer)
            .with_context(|| format!("error handling signal {signal}"))?;
    }
    Ok(reader)
}

impl Drop for Compositor {
    fn drop(&mut self) {
        self.state.remove_sandbox_folders();
        self.state.stop_xwayland_all();
    }
}

fn dispatch_clients(display: &RefCell<Display<State>>, state: &mut State) {
    if let Err(err) = display.borrow_mut().dispatch_clients(state) {
        warn!("error dispatching Wayland clients: {err:?}");
    }
}

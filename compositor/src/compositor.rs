//! The running compositor: the event loop, the Wayland display, the sockets
//! and the frame clock, with a small API that `main` and tests drive.

use std::cell::RefCell;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{channel, EventLoop, Interest, Mode, PostAction};
use smithay::reexports::wayland_server::Display;
use tracing::warn;
use zion_profiles::config::Config;

use crate::backend::{Backend, BackendKind, Headless};
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
    /// Output size for the headless backend.
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
        let backend = match options.backend {
            BackendKind::Headless => {
                Backend::Headless(Headless::new(options.size.0, options.size.1)?)
            }
            BackendKind::Winit | BackendKind::Udev => anyhow::bail!(
                "the {:?} backend is not built yet; run with --backend headless",
                options.backend
            ),
        };
        let event_loop: EventLoop<'static, State> =
            EventLoop::try_new().context("error creating the event loop")?;
        let display: Display<State> = Display::new().context("error creating the display")?;
        let display_handle = display.handle();
        let poll_fd = display
            .as_fd()
            .try_clone_to_owned()
            .context("error duplicating the display's file descriptor")?;
        let display = Rc::new(RefCell::new(display));
        let handle = event_loop.handle();
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

    /// Runs one round of the loop, waiting up to `timeout` for events.
    pub fn dispatch(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.event_loop
            .dispatch(Some(timeout), &mut self.state)
            .context("error dispatching the event loop")?;
        self.state.announce_active();
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
                state.space.refresh();
                state.refresh_pointer_focus();
                if let Err(err) = state.display_handle.flush_clients() {
                    warn!("error flushing Wayland clients: {err:?}");
                }
            })
            .context("error running the event loop")
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        self.state.remove_sandbox_folders();
    }
}

fn dispatch_clients(display: &RefCell<Display<State>>, state: &mut State) {
    if let Err(err) = display.borrow_mut().dispatch_clients(state) {
        warn!("error dispatching Wayland clients: {err:?}");
    }
}

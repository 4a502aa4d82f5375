//! `zion-bar`: the bar as a Wayland layer-shell client on the host socket.
//! The Wayland side runs on a calloop loop in the main thread; the session
//! bus is watched from a tokio thread that hands snapshots over a channel.

use std::num::NonZeroU32;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use smithay_client_toolkit::compositor::{CompositorHandler, CompositorState};
use smithay_client_toolkit::output::{OutputHandler, OutputState};
use smithay_client_toolkit::reexports::calloop::channel::{self, Event};
use smithay_client_toolkit::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay_client_toolkit::reexports::calloop::EventLoop;
use smithay_client_toolkit::reexports::calloop_wayland_source::WaylandSource;
use smithay_client_toolkit::registry::{ProvidesRegistryState, RegistryState};
use smithay_client_toolkit::seat::pointer::{
    PointerEvent, PointerEventKind, PointerHandler, BTN_LEFT,
};
use smithay_client_toolkit::seat::{Capability, SeatHandler, SeatState};
use smithay_client_toolkit::shell::wlr_layer::{
    Anchor, KeyboardInteractivity, Layer, LayerShell, LayerShellHandler, LayerSurface,
    LayerSurfaceConfigure,
};
use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shm::slot::SlotPool;
use smithay_client_toolkit::shm::{Shm, ShmHandler};
use smithay_client_toolkit::{
    delegate_compositor, delegate_layer, delegate_output, delegate_pointer, delegate_registry,
    delegate_seat, delegate_shm, registry_handlers,
};
use tracing::{info, warn};
use wayland_client::globals::registry_queue_init;
use wayland_client::protocol::{wl_output, wl_pointer, wl_seat, wl_shm, wl_surface};
use wayland_client::{Connection, QueueHandle};
use zion_bar::draw::{to_argb8888, Painter};
use zion_bar::model::{self, Chip, Snapshot, Target, HEIGHT};
use zion_bar::watch::{self, Request};

/// Zion's bar: the desktops, the profiles' states, the quarantine and a
/// clock along the top of the screen.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The program a click on the quarantine opens.
    #[arg(long, env = "ZION_BAR_PANEL", default_value = "zion-panel")]
    panel: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let conn = Connection::connect_to_env().context("connecting to the Wayland display")?;
    let (globals, mut queue) = registry_queue_init(&conn).context("reading the Wayland globals")?;
    let qh = queue.handle();
    let compositor = CompositorState::bind(&globals, &qh).context("wl_compositor")?;
    let layer_shell = LayerShell::bind(&globals, &qh)
        .context("the compositor offers no layer shell (the bar must run as a host client)")?;
    let shm = Shm::bind(&globals, &qh).context("wl_shm")?;

    let surface = compositor.create_surface(&qh);
    let layer = layer_shell.create_layer_surface(&qh, surface, Layer::Top, Some("zion-bar"), None);
    layer.set_anchor(Anchor::TOP | Anchor::LEFT | Anchor::RIGHT);
    layer.set_size(0, HEIGHT);
    layer.set_exclusive_zone(HEIGHT as i32);
    layer.set_keyboard_interactivity(KeyboardInteractivity::None);

    let mut event_loop: EventLoop<Bar> = EventLoop::try_new().context("an event loop")?;
    let handle = event_loop.handle();

    // The bus thread: snapshots in, requests out.
    let (snapshots, snapshot_rx) = channel::channel::<Snapshot>();
    let (requests, request_rx) = tokio::sync::mpsc::channel::<Request>(8);
    std::thread::Builder::new()
        .name("bus".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return warn!("no runtime for the bus: {e}"),
            };
            runtime.block_on(async move {
                let bus = match zbus::Connection::session().await {
                    Ok(c) => c,
                    Err(e) => return warn!("no session bus: {e}; the bar shows only the clock"),
                };
                let publish = |s: Snapshot| snapshots.send(s).is_ok();
                if let Err(e) = watch::run(bus, request_rx, publish).await {
                    warn!("watching the session bus: {e}");
                }
            });
        })
        .context("starting the bus thread")?;
    handle
        .insert_source(snapshot_rx, |event, _, bar: &mut Bar| {
            if let Event::Msg(snapshot) = event {
                bar.snapshot = snapshot;
                bar.draw();
            }
        })
        .map_err(|e| anyhow::anyhow!("watching the bus thread: {e}"))?;
    // The clock: redrawn when the minute turns.
    handle
        .insert_source(
            Timer::from_duration(until_next_minute()),
            |_, _, bar: &mut Bar| {
                bar.draw();
                TimeoutAction::ToDuration(until_next_minute())
            },
        )
        .map_err(|e| anyhow::anyhow!("the clock's timer: {e}"))?;

    let mut bar = Bar {
        registry: RegistryState::new(&globals),
        seats: SeatState::new(&globals, &qh),
        outputs: OutputState::new(&globals, &qh),
        pool: SlotPool::new((HEIGHT * 1920 * 4) as usize, &shm).context("a shared-memory pool")?,
        shm,
        layer,
        pointer: None,
        width: 0,
        painter: Painter::new(),
        snapshot: Snapshot::default(),
        chips: Vec::new(),
        drawn: None,
        requests,
        panel: args.panel,
        closed: false,
    };
    // The seat's pointer first, the surface after: a pointer made while
    // its surface already has the pointer gets no enter (and so no clicks)
    // until the pointer leaves and comes back.
    queue
        .roundtrip(&mut bar)
        .context("the seat's capabilities")?;
    bar.layer.commit();
    WaylandSource::new(conn.clone(), queue)
        .insert(handle.clone())
        .map_err(|e| anyhow::anyhow!("watching the Wayland connection: {e}"))?;
    info!("zion-bar started");
    while !bar.closed {
        event_loop
            .dispatch(None, &mut bar)
            .context("the event loop")?;
    }
    Ok(())
}

/// The time until the local clock's next minute.
fn until_next_minute() -> Duration {
    let now = chrono::Local::now();
    let into = u64::from(chrono::Timelike::second(&now)) * 1000
        + u64::from(chrono::Timelike::nanosecond(&now) / 1_000_000).min(999);
    Duration::from_millis(60_000 - into.min(59_999))
}

struct Bar {
    registry: RegistryState,
    seats: SeatState,
    outputs: OutputState,
    shm: Shm,
    pool: SlotPool,
    layer: LayerSurface,
    pointer: Option<wl_pointer::WlPointer>,
    /// The surface's width from the last configure; 0 before the first.
    width: u32,
    painter: Painter,
    snapshot: Snapshot,
    chips: Vec<Chip>,
    /// What the last frame showed, to draw only on change.
    drawn: Option<(Snapshot, String, u32)>,
    requests: tokio::sync::mpsc::Sender<Request>,
    panel: std::path::PathBuf,
    closed: bool,
}

impl Bar {
    /// Draws the strip when what it shows changed since the last frame.
    fn draw(&mut self) {
        if self.width == 0 {
            return;
        }
        let clock = model::clock_text(&chrono::Local::now());
        let now = (self.snapshot.clone(), clock.clone(), self.width);
        if self.drawn.as_ref() == Some(&now) {
            return;
        }
        let painter = &mut self.painter;
        self.chips = model::layout(&self.snapshot, &clock, self.width, |t| painter.measure(t));
        let pixmap = self.painter.draw(&self.snapshot, &self.chips, self.width);
        let (w, h) = (pixmap.width() as i32, pixmap.height() as i32);
        let (buffer, canvas) = match self
            .pool
            .create_buffer(w, h, w * 4, wl_shm::Format::Argb8888)
        {
            Ok(b) => b,
            Err(e) => return warn!("no buffer for the bar: {e}"),
        };
        to_argb8888(&pixmap, canvas);
        let surface = self.layer.wl_surface();
        surface.damage_buffer(0, 0, w, h);
        if let Err(e) = buffer.attach_to(surface) {
            return warn!("attaching the bar's buffer: {e}");
        }
        self.layer.commit();
        info!(
            shown = %self.snapshot.shown,
            chips = ?self.chips.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
            "drawn"
        );
        self.drawn = Some(now);
    }

    fn clicked(&mut self, x: f64) {
        let Some(chip) = model::hit(&self.chips, x) else {
            return;
        };
        match &chip.target {
            Target::Desktop(name) => {
                if self.requests.try_send(Request::Show(name.clone())).is_err() {
                    warn!("the bus thread is busy or gone; {name} not shown");
                }
            }
            Target::Quarantine => self.open_panel(),
            Target::Clock => {}
        }
    }

    fn open_panel(&self) {
        match Command::new(&self.panel).spawn() {
            // Reaped by a thread of its own, so no zombie stays behind.
            Ok(mut child) => {
                std::thread::spawn(move || child.wait());
            }
            Err(e) => warn!("opening the panel ({}): {e}", self.panel.display()),
        }
    }
}

impl CompositorHandler for Bar {
    fn scale_factor_changed(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: i32,
    ) {
    }
    fn transform_changed(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: wl_output::Transform,
    ) {
    }
    fn frame(&mut self, _: &Connection, _: &QueueHandle<Self>, _: &wl_surface::WlSurface, _: u32) {}
    fn surface_enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: &wl_output::WlOutput,
    ) {
    }
    fn surface_leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: &wl_output::WlOutput,
    ) {
    }
}

impl OutputHandler for Bar {
    fn output_state(&mut self) -> &mut OutputState {
        &mut self.outputs
    }
    fn new_output(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
    fn update_output(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
    fn output_destroyed(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
}

impl LayerShellHandler for Bar {
    fn closed(&mut self, _: &Connection, _: &QueueHandle<Self>, _: &LayerSurface) {
        info!("the compositor closed the bar");
        self.closed = true;
    }

    fn configure(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &LayerSurface,
        configure: LayerSurfaceConfigure,
        _: u32,
    ) {
        self.width = NonZeroU32::new(configure.new_size.0).map_or(800, NonZeroU32::get);
        self.drawn = None;
        self.draw();
    }
}

impl SeatHandler for Bar {
    fn seat_state(&mut self) -> &mut SeatState {
        &mut self.seats
    }
    fn new_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}
    fn new_capability(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        seat: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Pointer && self.pointer.is_none() {
            match self.seats.get_pointer(qh, &seat) {
                Ok(p) => {
                    tracing::debug!("pointer bound");
                    self.pointer = Some(p);
                }
                Err(e) => warn!("no pointer: {e}"),
            }
        }
    }
    fn remove_capability(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Pointer {
            if let Some(p) = self.pointer.take() {
                p.release();
            }
        }
    }
    fn remove_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}
}

impl PointerHandler for Bar {
    fn pointer_frame(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_pointer::WlPointer,
        events: &[PointerEvent],
    ) {
        for event in events {
            tracing::debug!(kind = ?event.kind, position = ?event.position, "pointer");
            if &event.surface != self.layer.wl_surface() {
                continue;
            }
            if let PointerEventKind::Press {
                button: BTN_LEFT, ..
            } = event.kind
            {
                self.clicked(event.position.0);
            }
        }
    }
}

impl ShmHandler for Bar {
    fn shm_state(&mut self) -> &mut Shm {
        &mut self.shm
    }
}

impl ProvidesRegistryState for Bar {
    fn registry(&mut self) -> &mut RegistryState {
        &mut self.registry
    }
    registry_handlers![OutputState, SeatState];
}

delegate_compositor!(Bar);
delegate_output!(Bar);
delegate_shm!(Bar);
delegate_seat!(Bar);
delegate_pointer!(Bar);
delegate_layer!(Bar);
delegate_registry!(Bar);

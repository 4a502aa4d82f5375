//! The winit backend: the output is a window inside another desktop (Wayland
//! or X11), drawn with OpenGL ES. Resizing the window resizes the output;
//! closing it stops the compositor.

use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::gles::GlesRenderer;
use smithay::backend::winit::{self, WinitEvent, WinitEventLoop, WinitGraphicsBackend};
use smithay::desktop::Window;
use smithay::output::{Mode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::calloop::{EventSource, Poll, PostAction, Readiness, Token, TokenFactory};
use smithay::reexports::winit::dpi::LogicalSize;
use smithay::reexports::winit::window::Window as WinitWindow;
use smithay::utils::{Physical, Size, Transform};
use tracing::info;
use zion_profiles::config::Colour;

use crate::identity::Origin;
use crate::layout::Layout;
use crate::lock::LockScene;
use crate::render::{output_elements, DesktopElement, BACKGROUND};
use crate::screenshot::Screenshot;
use crate::state::State;

/// A window in the host desktop, drawn with GLES.
pub struct Winit {
    backend: WinitGraphicsBackend<GlesRenderer>,
    damage: OutputDamageTracker,
    output: Output,
    /// The elements of the last frame, kept for screenshots (drawn again
    /// offscreen: the window's buffers cannot be read back once shown).
    last: Vec<DesktopElement<GlesRenderer>>,
    /// Frames left to draw whole (after a resize, buffers hold old sizes).
    full_redraws: u8,
    needs_render: bool,
}

impl Winit {
    /// Opens a window of `width`×`height` in the desktop named by
    /// WAYLAND_DISPLAY or DISPLAY; returns it and the source of its events.
    pub fn new(width: i32, height: i32) -> anyhow::Result<(Winit, WinitEvents)> {
        anyhow::ensure!(
            (1..=16384).contains(&width) && (1..=16384).contains(&height),
            "a window of {width}x{height} pixels is not possible"
        );
        let attributes = WinitWindow::default_attributes()
            .with_inner_size(LogicalSize::new(f64::from(width), f64::from(height)))
            .with_title("Zion")
            .with_visible(true);
        let (backend, events) =
            winit::init_from_attributes::<GlesRenderer>(attributes).map_err(|e| {
                anyhow::anyhow!(
                    "error opening a window for the winit backend (WAYLAND_DISPLAY={:?}, \
                     DISPLAY={:?}): {e}; run inside a Wayland or X11 desktop with working \
                     EGL (Mesa), or use --backend headless",
                    std::env::var("WAYLAND_DISPLAY").unwrap_or_default(),
                    std::env::var("DISPLAY").unwrap_or_default(),
                )
            })?;
        let output = Output::new(
            "winit-1".to_owned(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "Zion".into(),
                model: "Window".into(),
            },
        );
        let size = backend.window_size();
        info!("winit window of {}x{}", size.w, size.h);
        let mut winit = Winit {
            damage: OutputDamageTracker::new(size, 1.0, Transform::Flipped180),
            backend,
            output,
            last: Vec::new(),
            full_redraws: 0,
            needs_render: true,
        };
        winit.set_size(size);
        Ok((winit, WinitEvents(events)))
    }

    /// The output.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// The window was resized: the output takes its size.
    pub fn set_size(&mut self, size: Size<i32, Physical>) {
        let mode = Mode {
            size,
            refresh: 60_000,
        };
        // Clients see a normal output; only drawing into the GL window is
        // flipped (its rows go bottom-up).
        self.output.change_current_state(
            Some(mode),
            Some(Transform::Normal),
            None,
            Some((0, 0).into()),
        );
        self.output.set_preferred(mode);
        self.damage = OutputDamageTracker::new(size, 1.0, Transform::Flipped180);
        self.full_redraws = 4;
        self.needs_render = true;
    }

    /// The output's size in pixels.
    pub fn size(&self) -> Size<i32, Physical> {
        self.output
            .current_mode()
            .map_or_else(|| self.backend.window_size(), |m| m.size)
    }

    /// Asks for a frame.
    pub fn schedule_render(&mut self) {
        self.needs_render = true;
    }

    /// Whether a frame is wanted.
    pub fn needs_render(&self) -> bool {
        self.needs_render
    }

    /// Draws the shown desktop into the window and shows it.
    pub fn render(
        &mut self,
        layout: &Layout<Window>,
        colour: impl Fn(Option<&Origin>) -> Colour,
        mut lock: Option<LockScene<'_>>,
    ) -> anyhow::Result<()> {
        self.needs_render = false;
        let age = if self.full_redraws > 0 {
            self.full_redraws -= 1;
            0
        } else {
            self.backend.buffer_age().unwrap_or(0)
        };
        let damage = {
            let (renderer, mut target) = self
                .backend
                .bind()
                .map_err(|e| anyhow::anyhow!("error binding the window: {e:?}"))?;
            let elements = output_elements(renderer, &self.output, layout, colour, lock.as_mut());
            let result = self
                .damage
                .render_output(renderer, &mut target, age, &elements, BACKGROUND)
                .map_err(|e| anyhow::anyhow!("error rendering the output: {e:?}"))?;
            let damage = result.damage.cloned();
            self.last = elements;
            damage
        };
        if let Some(damage) = damage {
            self.backend
                .submit(Some(&damage))
                .map_err(|e| anyhow::anyhow!("error showing the frame in the window: {e:?}"))?;
        }
        Ok(())
    }

    /// The last frame, drawn again offscreen and read back as RGBA.
    pub fn screenshot(&mut self) -> anyhow::Result<Screenshot> {
        let size = self.size();
        super::gles_screenshot(self.backend.renderer(), size, &self.last)
    }
}

/// The window's events, as a loop source that also says when the window is
/// gone (`None`): closed by the user or its desktop went away.
pub struct WinitEvents(WinitEventLoop);

impl EventSource for WinitEvents {
    type Event = Option<WinitEvent>;
    type Metadata = ();
    type Ret = ();
    type Error = std::io::Error;

    const NEEDS_EXTRA_LIFECYCLE_EVENTS: bool = true;

    fn before_sleep(&mut self) -> smithay::reexports::calloop::Result<Option<(Readiness, Token)>> {
        self.0.before_sleep()
    }

    fn before_handle_events(&mut self, events: smithay::reexports::calloop::EventIterator<'_>) {
        self.0.before_handle_events(events);
    }

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, Self::Error>
    where
        F: FnMut(Self::Event, &mut Self::Metadata) -> Self::Ret,
    {
        let action = self
            .0
            .process_events(readiness, token, |event, meta| callback(Some(event), meta))?;
        if action == PostAction::Remove {
            callback(None, &mut ());
        }
        Ok(action)
    }

    fn register(
        &mut self,
        poll: &mut Poll,
        factory: &mut TokenFactory,
    ) -> smithay::reexports::calloop::Result<()> {
        self.0.register(poll, factory)
    }

    fn reregister(
        &mut self,
        poll: &mut Poll,
        factory: &mut TokenFactory,
    ) -> smithay::reexports::calloop::Result<()> {
        self.0.reregister(poll, factory)
    }

    fn unregister(&mut self, poll: &mut Poll) -> smithay::reexports::calloop::Result<()> {
        self.0.unregister(poll)
    }
}

/// What the compositor does with one of the window's events.
pub fn handle_event(state: &mut State, event: Option<WinitEvent>) {
    match event {
        None => {
            info!("the winit window is gone: stopping");
            state.loop_signal.stop();
        }
        Some(WinitEvent::CloseRequested) => {
            info!("the winit window was closed: stopping");
            state.loop_signal.stop();
        }
        Some(WinitEvent::Resized { size, .. }) => {
            if let super::Backend::Winit(w) = &mut state.backend {
                w.set_size(size);
            }
            // The output moved under the space's feet: map it again.
            let output = state.backend.output().clone();
            state.space.map_output(&output, (0, 0));
        }
        Some(WinitEvent::Redraw) | Some(WinitEvent::Focus(_)) => state.backend.schedule_render(),
        Some(WinitEvent::Input(event)) => state.process_input_event(event),
    }
}

//! The headless backend: one output, drawn by Pixman into an image in
//! memory. It offers a few common modes besides its starting size, so that
//! output management (`wlr-randr --mode`) can be tried headless.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::desktop::Window;
use smithay::output::{Mode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::pixman;
use smithay::utils::{Buffer, Rectangle, Size, Transform};
use zion_config::Colour;

use crate::identity::Origin;
use crate::layout::Layout;
use crate::lock::LockScene;
use crate::render::{output_elements, BACKGROUND};
use crate::screenshot::Screenshot;

/// The modes offered besides the starting size.
pub const EXTRA_MODES: [(i32, i32); 4] = [(640, 480), (800, 600), (1280, 720), (1920, 1080)];

/// Pixman rendering into memory.
pub struct Headless {
    renderer: PixmanRenderer,
    buffer: pixman::Image<'static, 'static>,
    damage: OutputDamageTracker,
    output: Output,
    /// Outputs after the first (tests of several screens): placed and
    /// announced, never drawn.
    extra: Vec<Output>,
    size: (i32, i32),
    needs_render: bool,
}

/// A headless output called `name` of `width`×`height` at 60 Hz, offering
/// [`EXTRA_MODES`] too.
fn headless_output(name: String, width: i32, height: i32) -> Output {
    let output = Output::new(
        name,
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "Zion".into(),
            model: "Headless".into(),
        },
    );
    let mode = Mode {
        size: (width, height).into(),
        refresh: 60_000,
    };
    // The other modes first, the current one last: wl_output sends them in
    // this order, and some clients (WLCS's among them) take the last mode
    // as the output's size whatever its flags say.
    for (w, h) in EXTRA_MODES {
        if (w, h) != (width, height) {
            output.add_mode(Mode {
                size: (w, h).into(),
                refresh: 60_000,
            });
        }
    }
    output.change_current_state(
        Some(mode),
        Some(Transform::Normal),
        None,
        Some((0, 0).into()),
    );
    output.set_preferred(mode);
    output
}

impl Headless {
    /// An output of `width`×`height` pixels.
    pub fn new(width: i32, height: i32) -> anyhow::Result<Headless> {
        anyhow::ensure!(
            (1..=16384).contains(&width) && (1..=16384).contains(&height),
            "an output of {width}x{height} pixels is not possible"
        );
        let mut renderer = PixmanRenderer::new()
            .map_err(|e| anyhow::anyhow!("error creating the Pixman renderer: {e}"))?;
        let buffer = renderer
            .create_buffer(Fourcc::Abgr8888, Size::<i32, Buffer>::from((width, height)))
            .map_err(|e| anyhow::anyhow!("error creating a {width}x{height} image: {e}"))?;
        let output = headless_output("headless-1".to_owned(), width, height);
        let damage = OutputDamageTracker::from_output(&output);
        Ok(Headless {
            renderer,
            buffer,
            damage,
            output,
            extra: Vec::new(),
            size: (width, height),
            needs_render: true,
        })
    }

    /// Adds an output of `width`×`height` (`headless-2`, `headless-3` …),
    /// at (0, 0) until placed; it is announced but not drawn.
    pub fn add_output(&mut self, width: i32, height: i32) -> Output {
        let name = format!("headless-{}", self.extra.len() + 2);
        let output = headless_output(name, width, height);
        self.extra.push(output.clone());
        output
    }

    /// Every output, the drawn one first.
    pub fn outputs(&self) -> Vec<Output> {
        std::iter::once(self.output.clone())
            .chain(self.extra.iter().cloned())
            .collect()
    }

    /// The output.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// Switches `output` to `mode`: for the drawn output, a new image of
    /// its size.
    pub fn set_mode(&mut self, output: &Output, mode: Mode) -> anyhow::Result<()> {
        if *output != self.output {
            return Ok(());
        }
        let (width, height) = (mode.size.w, mode.size.h);
        self.buffer = self
            .renderer
            .create_buffer(Fourcc::Abgr8888, Size::<i32, Buffer>::from((width, height)))
            .map_err(|e| anyhow::anyhow!("error creating a {width}x{height} image: {e}"))?;
        self.size = (width, height);
        self.needs_render = true;
        Ok(())
    }

    /// The output's mode, scale or transform changed: damage is tracked
    /// anew for it.
    pub fn output_changed(&mut self) {
        self.damage = OutputDamageTracker::from_output(&self.output);
        self.needs_render = true;
    }

    /// Asks for a frame.
    pub fn schedule_render(&mut self) {
        self.needs_render = true;
    }

    /// Whether a frame is wanted.
    pub fn needs_render(&self) -> bool {
        self.needs_render
    }

    /// Draws the shown desktop into the image.
    pub fn render(
        &mut self,
        layout: &Layout<Window>,
        colour: impl Fn(Option<&Origin>) -> Colour,
        mut lock: Option<LockScene<'_>>,
    ) -> anyhow::Result<()> {
        self.needs_render = false;
        let elements = output_elements(
            &mut self.renderer,
            &self.output,
            layout,
            colour,
            lock.as_mut(),
        );
        let mut target = self
            .renderer
            .bind(&mut self.buffer)
            .map_err(|e| anyhow::anyhow!("error binding the output image: {e}"))?;
        // The image keeps the previous frame, so its age is 1.
        self.damage
            .render_output(&mut self.renderer, &mut target, 1, &elements, BACKGROUND)
            .map_err(|e| anyhow::anyhow!("error rendering the output: {e:?}"))?;
        Ok(())
    }

    /// The image as last drawn, as RGBA.
    pub fn screenshot(&mut self) -> anyhow::Result<Screenshot> {
        let (w, h) = self.size;
        let target = self
            .renderer
            .bind(&mut self.buffer)
            .map_err(|e| anyhow::anyhow!("error binding the output image: {e}"))?;
        let region = Rectangle::from_size(Size::<i32, Buffer>::from((w, h)));
        let mapping = self
            .renderer
            .copy_framebuffer(&target, region, Fourcc::Abgr8888)
            .map_err(|e| anyhow::anyhow!("error copying the output image: {e}"))?;
        let bytes = self
            .renderer
            .map_texture(&mapping)
            .map_err(|e| anyhow::anyhow!("error reading the output image: {e}"))?;
        super::opaque_screenshot(w, h, bytes)
    }
}

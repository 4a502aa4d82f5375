//! Backends: where frames go and input comes from. One enum, dispatched by
//! `match`; only the headless backend exists so far.

pub mod headless;

use smithay::desktop::{Space, Window};
use smithay::output::Output;
use zion_profiles::config::Colour;

use crate::identity::Origin;
use crate::layout::Layout;
use crate::screenshot::Screenshot;

pub use headless::Headless;

/// Which backend to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Pixman into memory: tests, CI, screenshots.
    Headless,
    /// A window inside another desktop (not built yet).
    Winit,
    /// DRM/KMS on a real seat (not built yet).
    Udev,
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "headless" => Ok(BackendKind::Headless),
            "winit" => Ok(BackendKind::Winit),
            "udev" => Ok(BackendKind::Udev),
            _ => Err(format!(
                "`{s}` is not a backend (choose headless, winit or udev)"
            )),
        }
    }
}

/// The running backend.
pub enum Backend {
    /// Pixman into memory.
    Headless(Headless),
}

impl Backend {
    /// The output frames are drawn for.
    pub fn output(&self) -> &Output {
        match self {
            Backend::Headless(h) => h.output(),
        }
    }

    /// Places the backend's outputs in `space`.
    pub fn map_outputs(&self, space: &mut Space<Window>) {
        space.map_output(self.output(), (0, 0));
    }

    /// Asks for a frame at the next tick.
    pub fn schedule_render(&mut self) {
        match self {
            Backend::Headless(h) => h.schedule_render(),
        }
    }

    /// Whether a frame is wanted.
    pub fn needs_render(&self) -> bool {
        match self {
            Backend::Headless(h) => h.needs_render(),
        }
    }

    /// Draws the shown desktop.
    pub fn render(
        &mut self,
        layout: &Layout<Window>,
        colour: impl Fn(Option<&Origin>) -> Colour,
    ) -> anyhow::Result<()> {
        match self {
            Backend::Headless(h) => h.render(layout, colour),
        }
    }

    /// The output as last drawn.
    pub fn screenshot(&mut self) -> anyhow::Result<Screenshot> {
        match self {
            Backend::Headless(h) => h.screenshot(),
        }
    }
}

//! Backends: where frames go and input comes from. One enum, dispatched by
//! `match`: headless (Pixman into memory), winit (a window in another
//! desktop) and udev (DRM/KMS screens, libinput and a libseat session: the
//! compositor as the session itself; see [`udev`]).

pub mod headless;
pub mod injected;
pub mod udev;
pub mod winit;

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::RenderElement;
use smithay::backend::renderer::gles::{GlesRenderbuffer, GlesRenderer};
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::desktop::{Space, Window};
use smithay::output::Output;
use smithay::utils::{Buffer, Physical, Rectangle, Size, Transform};
use zion_config::Colour;

use crate::identity::Origin;
use crate::layout::Layout;
use crate::lock::LockScene;
use crate::render::BACKGROUND;
use crate::screenshot::Screenshot;

pub use headless::Headless;
pub use udev::Udev;
pub use winit::Winit;

/// Which backend to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Pixman into memory: tests, CI, screenshots.
    Headless,
    /// A window inside another desktop (Wayland or X11), drawn with GLES.
    Winit,
    /// DRM/KMS on a login seat (libseat), input from libinput: the
    /// compositor runs the screens. Refused with the reason where there is
    /// no seat or no GPU.
    Udev,
}

impl BackendKind {
    /// The backend to run when none is asked for, from the environment
    /// (`env` reads a variable), with the reason for the log: a window
    /// inside another desktop, udev in a login session on a seat, headless
    /// otherwise.
    pub fn default_for(env: impl Fn(&str) -> Option<String>) -> (BackendKind, &'static str) {
        let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        if set("WAYLAND_DISPLAY") || set("DISPLAY") {
            (
                BackendKind::Winit,
                "WAYLAND_DISPLAY or DISPLAY is set: a window inside that desktop",
            )
        } else if set("XDG_SEAT") && (set("XDG_SESSION_ID") || set("XDG_SESSION_TYPE")) {
            (
                BackendKind::Udev,
                "a login session on a seat (XDG_SEAT and XDG_SESSION_ID/XDG_SESSION_TYPE)",
            )
        } else {
            (
                BackendKind::Headless,
                "no display and no login seat: headless",
            )
        }
    }
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
// One per process, made once and never moved on a hot path: the size of
// the winit variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// Pixman into memory.
    Headless(Headless),
    /// A window in another desktop.
    Winit(Winit),
    /// DRM/KMS screens on a seat.
    Udev(Udev),
}

impl Backend {
    /// The output frames are drawn for (under udev, the first screen:
    /// the one the layout uses).
    pub fn output(&self) -> &Output {
        match self {
            Backend::Headless(h) => h.output(),
            Backend::Winit(w) => w.output(),
            Backend::Udev(u) => u.output(),
        }
    }

    /// Every output (under udev, left to right).
    pub fn outputs(&self) -> Vec<Output> {
        match self {
            Backend::Udev(u) => u.outputs().to_vec(),
            Backend::Headless(h) => h.outputs(),
            Backend::Winit(_) => vec![self.output().clone()],
        }
    }

    /// Whether `output`'s mode can be switched: headless and udev (DRM);
    /// a winit window's output follows its window.
    pub fn can_set_mode(&self, _output: &Output) -> bool {
        matches!(self, Backend::Headless(_) | Backend::Udev(_))
    }

    /// Switches `output` to `mode` (see [`Backend::can_set_mode`]).
    pub fn set_mode(&mut self, output: &Output, mode: smithay::output::Mode) -> anyhow::Result<()> {
        match self {
            Backend::Headless(h) => h.set_mode(output, mode),
            Backend::Udev(u) => u.set_mode(output, mode),
            Backend::Winit(_) => {
                anyhow::ensure!(
                    output.current_mode() == Some(mode),
                    "this backend cannot switch modes"
                );
                Ok(())
            }
        }
    }

    /// `output`'s mode, scale, transform or place changed.
    pub fn output_changed(&mut self, _output: &Output) {
        match self {
            Backend::Headless(h) => h.output_changed(),
            _ => self.schedule_render(),
        }
    }

    /// Places the backend's outputs in `space`.
    pub fn map_outputs(&self, space: &mut Space<Window>) {
        match self {
            Backend::Udev(u) => u.map_outputs(space),
            _ => space.map_output(self.output(), (0, 0)),
        }
    }

    /// Asks for a frame at the next tick.
    pub fn schedule_render(&mut self) {
        match self {
            Backend::Headless(h) => h.schedule_render(),
            Backend::Winit(w) => w.schedule_render(),
            Backend::Udev(u) => u.schedule_render(),
        }
    }

    /// Whether a frame is wanted.
    pub fn needs_render(&self) -> bool {
        match self {
            Backend::Headless(h) => h.needs_render(),
            Backend::Winit(w) => w.needs_render(),
            Backend::Udev(u) => u.needs_render(),
        }
    }

    /// Draws the shown desktop, or only the lock while locked (`lock`).
    pub fn render(
        &mut self,
        layout: &Layout<Window>,
        colour: impl Fn(Option<&Origin>) -> Colour,
        lock: Option<LockScene<'_>>,
    ) -> anyhow::Result<()> {
        match self {
            Backend::Headless(h) => h.render(layout, colour, lock),
            Backend::Winit(w) => w.render(layout, colour, lock),
            Backend::Udev(u) => u.render(layout, colour, lock),
        }
    }

    /// The output as last drawn.
    pub fn screenshot(&mut self) -> anyhow::Result<Screenshot> {
        match self {
            Backend::Headless(h) => h.screenshot(),
            Backend::Winit(w) => w.screenshot(),
            Backend::Udev(u) => u.screenshot(),
        }
    }
}

/// A screenshot from `bytes` read back from a renderer (RGBA rows, top
/// first), opaque whatever clients put in their alpha channel.
fn opaque_screenshot(width: i32, height: i32, bytes: &[u8]) -> anyhow::Result<Screenshot> {
    let row = width as usize * 4;
    anyhow::ensure!(
        bytes.len() >= row * height as usize,
        "the output image is {} bytes, short of {width}x{height}",
        bytes.len()
    );
    let mut rgba = bytes[..row * height as usize].to_vec();
    for px in rgba.chunks_exact_mut(4) {
        px[3] = 0xff;
    }
    Ok(Screenshot {
        width: width as u32,
        height: height as u32,
        rgba,
    })
}

/// `elements` (a frame's, kept by a GLES backend) drawn again offscreen at
/// `size` and read back: the screenshot of a GPU-drawn output.
pub fn gles_screenshot<E>(
    renderer: &mut GlesRenderer,
    size: Size<i32, Physical>,
    elements: &[E],
) -> anyhow::Result<Screenshot>
where
    E: RenderElement<GlesRenderer>,
{
    let (w, h) = (size.w, size.h);
    let mut buffer: GlesRenderbuffer = renderer
        .create_buffer(Fourcc::Abgr8888, Size::<i32, Buffer>::from((w, h)))
        .map_err(|e| anyhow::anyhow!("error creating a {w}x{h} offscreen buffer: {e}"))?;
    let mut target = renderer
        .bind(&mut buffer)
        .map_err(|e| anyhow::anyhow!("error binding the offscreen buffer: {e}"))?;
    let mut damage = OutputDamageTracker::new(size, 1.0, Transform::Normal);
    damage
        .render_output(renderer, &mut target, 0, elements, BACKGROUND)
        .map_err(|e| anyhow::anyhow!("error rendering the screenshot: {e:?}"))?;
    let region = Rectangle::from_size(Size::<i32, Buffer>::from((w, h)));
    let mapping = renderer
        .copy_framebuffer(&target, region, Fourcc::Abgr8888)
        .map_err(|e| anyhow::anyhow!("error copying the offscreen buffer: {e}"))?;
    let bytes = renderer
        .map_texture(&mapping)
        .map_err(|e| anyhow::anyhow!("error reading the offscreen buffer: {e}"))?;
    opaque_screenshot(w, h, bytes)
}

/// A variable lookup over `vars`: for tests of what is chosen from the
/// environment.
#[cfg(test)]
pub(crate) fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::{env_of, BackendKind};

    #[test]
    fn inside_a_wayland_or_x11_desktop_the_default_is_a_window() {
        let wayland = [("WAYLAND_DISPLAY", "wayland-0")];
        assert_eq!(
            BackendKind::default_for(env_of(&wayland)).0,
            BackendKind::Winit
        );
        let x11 = [("DISPLAY", ":0")];
        assert_eq!(BackendKind::default_for(env_of(&x11)).0, BackendKind::Winit);
        // A desktop on a seat still gets a window: the seat is taken.
        let nested = [
            ("DISPLAY", ":0"),
            ("XDG_SEAT", "seat0"),
            ("XDG_SESSION_ID", "3"),
        ];
        assert_eq!(
            BackendKind::default_for(env_of(&nested)).0,
            BackendKind::Winit
        );
    }

    #[test]
    fn a_login_session_on_a_seat_without_a_display_gets_udev() {
        let tty = [("XDG_SEAT", "seat0"), ("XDG_SESSION_ID", "3")];
        assert_eq!(BackendKind::default_for(env_of(&tty)).0, BackendKind::Udev);
        let typed = [("XDG_SEAT", "seat0"), ("XDG_SESSION_TYPE", "tty")];
        assert_eq!(
            BackendKind::default_for(env_of(&typed)).0,
            BackendKind::Udev
        );
    }

    #[test]
    fn without_display_or_seat_the_default_is_headless() {
        assert_eq!(
            BackendKind::default_for(env_of(&[])).0,
            BackendKind::Headless
        );
        // A session without a seat (ssh) is not a place for DRM.
        let ssh = [("XDG_SESSION_ID", "7"), ("XDG_SESSION_TYPE", "tty")];
        assert_eq!(
            BackendKind::default_for(env_of(&ssh)).0,
            BackendKind::Headless
        );
        // Empty variables count as unset.
        let empty = [("WAYLAND_DISPLAY", ""), ("DISPLAY", "")];
        assert_eq!(
            BackendKind::default_for(env_of(&empty)).0,
            BackendKind::Headless
        );
    }
}

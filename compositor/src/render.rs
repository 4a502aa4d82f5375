//! What the output shows: the windows of the shown desktop, top to bottom,
//! each inside its trusted frame. Hidden desktops contribute nothing.

use std::cell::RefCell;

use smithay::backend::renderer::element::solid::{SolidColorBuffer, SolidColorRenderElement};
use smithay::backend::renderer::element::surface::WaylandSurfaceRenderElement;
use smithay::backend::renderer::element::{AsRenderElements, Kind};
use smithay::backend::renderer::{ImportAll, ImportMem, Renderer};
use smithay::desktop::Window;
use smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode;
use smithay::utils::{Point, Scale};
use zion_profiles::config::Colour;

use crate::frame::{self, Decoration};
use crate::identity::Origin;
use crate::layout::{self, Layout, Rect};

/// The background of the output.
pub const BACKGROUND: [f32; 4] = [0.1, 0.1, 0.12, 1.0];

smithay::backend::renderer::element::render_elements! {
    /// One element of the output: part of a window or of its frame.
    pub DesktopElement<R> where R: ImportAll + ImportMem;
    Surface=WaylandSurfaceRenderElement<R>,
    Frame=SolidColorRenderElement,
}

/// The solid-colour buffers of a window's frame, kept with the window so
/// that the damage tracker sees the same elements frame after frame.
#[derive(Default)]
struct FrameBuffers(RefCell<Vec<SolidColorBuffer>>);

/// The frame a window gets: server-side unless it negotiated client-side.
pub fn decoration_of(window: &Window) -> Decoration {
    match window
        .toplevel()
        .and_then(|t| t.current_state().decoration_mode)
    {
        Some(Mode::ClientSide) => Decoration::BorderOnly,
        _ => Decoration::Full,
    }
}

/// The origin recorded on a window when it opened.
pub fn origin_of_window(window: &Window) -> Option<&Origin> {
    window.user_data().get::<Origin>()
}

/// Where the window's content sits on the output.
pub fn content_rect(window: &Window, pos: (i32, i32)) -> Rect {
    let size = window.geometry().size;
    Rect::new(pos.0, pos.1, size.w, size.h)
}

fn rgba(c: Colour) -> [f32; 4] {
    [
        f32::from(c.r) / 255.0,
        f32::from(c.g) / 255.0,
        f32::from(c.b) / 255.0,
        1.0,
    ]
}

/// The elements of the shown desktop, front to back; `colour` gives each
/// window's frame colour from its origin.
pub fn desktop_elements<R>(
    renderer: &mut R,
    layout: &Layout<Window>,
    colour: impl Fn(Option<&Origin>) -> Colour,
) -> Vec<DesktopElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Clone + 'static,
{
    let scale = Scale::from(1.0);
    let mut out = Vec::new();
    for placed in layout.visible().iter().rev() {
        let window = &placed.window;
        let geometry = window.geometry();
        let render_loc = Point::from(placed.pos) - geometry.loc;
        out.extend(window.render_elements::<DesktopElement<R>>(
            renderer,
            render_loc.to_physical(1),
            scale,
            1.0,
        ));

        // Fullscreen hides the frame: the window is all the user sees.
        if placed.mode == layout::Mode::Fullscreen {
            continue;
        }
        let content = content_rect(window, placed.pos);
        let origin = origin_of_window(window);
        let base = colour(origin);
        // A disposable sandbox's dashes go in front of the frame they mark.
        let mut paint: Vec<(Rect, [f32; 4])> = Vec::new();
        if origin.is_some_and(Origin::is_disposable) {
            let dash = rgba(frame::contrast(base));
            paint.extend(
                frame::disposable_dashes(content)
                    .into_iter()
                    .map(|r| (r, dash)),
            );
        }
        let base = rgba(base);
        paint.extend(
            frame::pieces(content, decoration_of(window))
                .into_iter()
                .map(|r| (r, base)),
        );
        window.user_data().insert_if_missing(FrameBuffers::default);
        if let Some(buffers) = window.user_data().get::<FrameBuffers>() {
            let mut buffers = buffers.0.borrow_mut();
            buffers.resize_with(paint.len(), SolidColorBuffer::default);
            for (buffer, (rect, colour)) in buffers.iter_mut().zip(&paint) {
                buffer.update((rect.w, rect.h), *colour);
                out.push(DesktopElement::Frame(SolidColorRenderElement::from_buffer(
                    buffer,
                    (rect.x, rect.y),
                    scale,
                    1.0,
                    Kind::Unspecified,
                )));
            }
        }
    }
    out
}

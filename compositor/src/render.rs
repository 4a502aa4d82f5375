//! What the output shows: the windows of the shown desktop, top to bottom,
//! each inside its trusted frame. Hidden desktops contribute nothing.

use std::cell::RefCell;

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::solid::{SolidColorBuffer, SolidColorRenderElement};
use smithay::backend::renderer::element::surface::{
    render_elements_from_surface_tree, WaylandSurfaceRenderElement,
};
use smithay::backend::renderer::element::{AsRenderElements, Kind};
use smithay::backend::renderer::{ImportAll, ImportMem, Renderer};
use smithay::desktop::Window;
use smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode;
use smithay::utils::{Point, Scale, Transform};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::XdgToplevelSurfaceData;
use zion_config::Colour;

use crate::frame::{self, Decoration};
use crate::identity::Origin;
use crate::layout::{self, Layout, Rect};
use crate::lock::LockScene;
use crate::title;

/// The background of the output.
pub const BACKGROUND: [f32; 4] = [0.1, 0.1, 0.12, 1.0];

smithay::backend::renderer::element::render_elements! {
    /// One element of the output: part of a window or of its frame.
    pub DesktopElement<R> where R: ImportAll + ImportMem;
    Surface=WaylandSurfaceRenderElement<R>,
    Frame=SolidColorRenderElement,
    Title=MemoryRenderBufferRenderElement<R>,
}

/// The solid-colour buffers of a window's frame, kept with the window so
/// that the damage tracker sees the same elements frame after frame.
#[derive(Default)]
struct FrameBuffers(RefCell<Vec<SolidColorBuffer>>);

/// The title text drawn last for a window: (label, width, height, buffer).
#[derive(Default)]
struct TitleBuffer(RefCell<Option<(String, i32, i32, MemoryRenderBuffer)>>);

/// The title the client set, if any.
pub fn title_of(window: &Window) -> String {
    window
        .toplevel()
        .and_then(|t| {
            with_states(t.wl_surface(), |states| {
                states
                    .data_map
                    .get::<XdgToplevelSurfaceData>()
                    .and_then(|d| d.lock().ok().and_then(|d| d.title.clone()))
            })
        })
        .or_else(|| window.x11_surface().map(|x| x.title()))
        .unwrap_or_default()
}

/// The label in a window's title bar: `[work] title`, `[work · disposable]
/// title`, `[host] title`.
pub fn label_of(window: &Window) -> String {
    let origin = origin_of_window(window);
    let profile = origin.and_then(Origin::profile).unwrap_or("host");
    let disposable = origin.is_some_and(Origin::is_disposable);
    frame::label(profile, disposable, &title_of(window))
}

/// The title text element over `bar`, in `colour`, rasterized again only
/// when the label or the width changed.
fn title_element<R>(
    renderer: &mut R,
    window: &Window,
    bar: Rect,
    colour: Colour,
) -> Option<MemoryRenderBufferRenderElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Clone + Send + 'static,
{
    let font = title::font()?;
    let text = title::fit(
        font,
        title::TEXT_PX,
        &label_of(window),
        (bar.w - 2 * title::PADDING) as f32,
    );
    window.user_data().insert_if_missing(TitleBuffer::default);
    let cache = window.user_data().get::<TitleBuffer>()?;
    let mut cache = cache.0.borrow_mut();
    let stale = cache
        .as_ref()
        .is_none_or(|(t, w, h, _)| *t != text || *w != bar.w || *h != bar.h);
    if stale {
        let pixels = title::rasterize(font, &text, colour, bar.w, bar.h);
        let buffer = MemoryRenderBuffer::from_slice(
            &pixels,
            Fourcc::Argb8888,
            (bar.w, bar.h),
            1,
            Transform::Normal,
            None,
        );
        *cache = Some((text, bar.w, bar.h, buffer));
    }
    let (_, _, _, buffer) = cache.as_ref()?;
    MemoryRenderBufferRenderElement::from_buffer(
        renderer,
        (f64::from(bar.x), f64::from(bar.y)),
        buffer,
        None,
        None,
        None,
        Kind::Unspecified,
    )
    .ok()
}

/// The frame a window gets: a title bar unless it negotiated client-side
/// decorations, then a label band over its own title bar.
pub fn decoration_of(window: &Window) -> Decoration {
    // X11 menus and tooltips: the profile's border, no title bar.
    if window
        .x11_surface()
        .is_some_and(|x| x.is_override_redirect())
    {
        return Decoration::BorderOnly;
    }
    decoration_for(
        window
            .toplevel()
            .and_then(|t| t.current_state().decoration_mode),
    )
}

/// The frame of a toplevel that negotiated `mode` (`None`: nothing).
pub fn decoration_for(mode: Option<Mode>) -> Decoration {
    match mode {
        Some(Mode::ClientSide) => Decoration::Labelled,
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
fn desktop_elements<R>(
    renderer: &mut R,
    layout: &Layout<Window>,
    colour: impl Fn(Option<&Origin>) -> Colour,
) -> Vec<DesktopElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Clone + Send + 'static,
{
    let scale = Scale::from(1.0);
    let mut out = Vec::new();
    // Fullscreen windows' strips, in front of every window of the desktop.
    let mut front = Vec::new();
    for placed in layout.visible().iter().rev() {
        let window = &placed.window;
        let geometry = window.geometry();
        let render_loc = Point::from(placed.pos) - geometry.loc;
        let surfaces: Vec<DesktopElement<R>> = match crate::xwayland::legacy_surface(window) {
            // An X11 window of an older Xwayland: Smithay cannot draw it.
            Some(surface) => render_elements_from_surface_tree(
                renderer,
                &surface,
                render_loc.to_physical(1),
                scale,
                1.0,
                Kind::Unspecified,
            ),
            None => window.render_elements(renderer, render_loc.to_physical(1), scale, 1.0),
        };

        let decoration = decoration_of(window);
        let mut content = content_rect(window, placed.pos);
        let origin = origin_of_window(window);
        let base = colour(origin);
        let ink = frame::contrast(base);
        // Rectangles to paint, with their colour, front to back.
        let mut paint: Vec<(Rect, [f32; 4])> = Vec::new();
        let mut label: Option<Rect> = None;
        // Where this window's frame goes: with its window, or (a
        // fullscreen window's strip) in front of every window.
        let mut in_front = false;
        if placed.mode == layout::Mode::Fullscreen {
            let screen = frame::fullscreen_screen(content);
            if layout.reveal_frames {
                // Super held: the whole frame, inside the screen, over the
                // window.
                content = frame::inner(screen, decoration);
            } else {
                // Fullscreen hides the frame but not the strip along the
                // top edge: the owner's colour and label, which no client
                // can paint over (see `frame::fullscreen_content`).
                let strip = frame::fullscreen_strip(content);
                label = Some(strip);
                paint.push((strip, rgba(base)));
                in_front = true;
            }
        }
        if !in_front {
            // A disposable sandbox's dashes go in front of the frame they mark.
            if origin.is_some_and(Origin::is_disposable) {
                let dash = rgba(ink);
                paint.extend(
                    frame::disposable_dashes(content)
                        .into_iter()
                        .map(|r| (r, dash)),
                );
            }
            label = frame::label_bar(content, decoration);
            let base = rgba(base);
            paint.extend(
                frame::pieces(content, decoration)
                    .into_iter()
                    .map(|r| (r, base)),
            );
        }
        let target = if in_front { &mut front } else { &mut out };
        if let Some(bar) = label {
            if let Some(text) = title_element(renderer, window, bar, ink) {
                target.push(DesktopElement::Title(text));
            }
        }
        window.user_data().insert_if_missing(FrameBuffers::default);
        if let Some(buffers) = window.user_data().get::<FrameBuffers>() {
            let mut buffers = buffers.0.borrow_mut();
            buffers.resize_with(paint.len(), SolidColorBuffer::default);
            for (buffer, (rect, colour)) in buffers.iter_mut().zip(&paint) {
                buffer.update((rect.w, rect.h), *colour);
                target.push(DesktopElement::Frame(SolidColorRenderElement::from_buffer(
                    buffer,
                    (rect.x, rect.y),
                    scale,
                    1.0,
                    Kind::Unspecified,
                )));
            }
        }
        // The frame goes in front of the window's own surfaces: a client's
        // shadow or subsurface reaching past its geometry never covers
        // the trusted frame.
        out.extend(surfaces);
    }
    front.extend(out);
    front
}

/// The layer surfaces on `layers` of `output` (front to back), as elements.
pub fn layer_elements<R>(
    renderer: &mut R,
    output: &smithay::output::Output,
    layers: &[smithay::wayland::shell::wlr_layer::Layer],
) -> Vec<DesktopElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Clone + Send + 'static,
{
    let mut out = Vec::new();
    for layer in layers {
        for (surface, loc) in crate::layers::placed_on(output, *layer) {
            out.extend(surface.render_elements::<DesktopElement<R>>(
                renderer,
                loc.to_physical(1),
                Scale::from(1.0),
                1.0,
            ));
        }
    }
    out
}

/// What a locked `output` shows, front to back: its lock surface over the
/// plain lock colour, nothing of any other client; or a locked profile's
/// cover under the host's layer surfaces, nothing of the desktop's windows.
pub fn lock_elements<R>(
    renderer: &mut R,
    output: &smithay::output::Output,
    lock: &mut LockScene<'_>,
) -> Vec<DesktopElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Clone + Send + 'static,
{
    let area = crate::lock::output_rect(output);
    let mut out: Vec<DesktopElement<R>> = match lock.surface_on(output) {
        Some(surface) => render_elements_from_surface_tree(
            renderer,
            surface,
            area.loc.to_physical(1),
            Scale::from(1.0),
            1.0,
            Kind::Unspecified,
        ),
        None => Vec::new(),
    };
    if lock.host_layers {
        out.extend(layer_elements(renderer, output, &crate::layers::ABOVE));
    }
    lock.cover.update((area.size.w, area.size.h), lock.colour);
    out.push(DesktopElement::Frame(SolidColorRenderElement::from_buffer(
        lock.cover,
        area.loc.to_physical(1),
        Scale::from(1.0),
        1.0,
        Kind::Unspecified,
    )));
    out
}

/// Everything on `output`, front to back: the overlay and top layers, the
/// shown desktop's windows in their frames, the bottom and background
/// layers; while the session is locked (`lock`), only the lock.
pub fn output_elements<R>(
    renderer: &mut R,
    output: &smithay::output::Output,
    layout: &Layout<Window>,
    colour: impl Fn(Option<&Origin>) -> Colour,
    lock: Option<&mut LockScene<'_>>,
) -> Vec<DesktopElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Clone + Send + 'static,
{
    if let Some(lock) = lock {
        return lock_elements(renderer, output, lock);
    }
    let mut out = layer_elements(renderer, output, &crate::layers::ABOVE);
    out.extend(desktop_elements(renderer, layout, colour));
    out.extend(layer_elements(renderer, output, &crate::layers::BELOW));
    out
}

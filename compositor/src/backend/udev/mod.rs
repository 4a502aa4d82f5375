//! The udev backend: the compositor runs the screens itself, on a login seat
//! taken through libseat (logind or seatd), drawing with GLES into DRM/KMS
//! and reading input from libinput.
//!
//! - One GPU: the seat's primary one (udev's `boot_vga`), else the first
//!   card. Every screen connected at start gets a CRTC, its preferred mode
//!   and a [`DrmCompositor`]; screens sit left to right in connector order.
//!   The first one is the output the layout and layer surfaces use.
//! - A frame is drawn when one is asked for ([`Udev::schedule_render`]) and
//!   no page flip is pending on that screen; the VBlank of a flip lets the
//!   next one be drawn, so clients get their frame callbacks once per
//!   refresh.
//! - Frames are composed with [`FrameFlags::DEFAULT`]: a fullscreen client's
//!   dmabuf is scanned out directly on the primary plane (no copy) when its
//!   format, size and modifiers suit the hardware; `linux-dmabuf` is offered
//!   with the renderer's formats so GPU clients (games) can hand dmabufs.
//! - Page flips are always synchronous: Smithay 0.7's [`DrmCompositor`] has
//!   no asynchronous (tearing) page flip, so a client's tearing hint
//!   (wp_tearing_control) cannot be honoured here yet; frames wait for the
//!   vertical blank.
//! - Session switches (Ctrl+Alt+F1..F12 or another session taking the seat)
//!   pause the DRM device and libinput, and resume both when the seat comes
//!   back.
//! - The pointer is a built-in arrow (on the cursor plane when there is
//!   one); clients' own cursor images, and hiding it, are not followed yet.
//! - Not done: connector hot-plug (a screen plugged in after start is not
//!   used until a restart; one unplugged stays an output), several GPUs.
//!   A GPU removed at run time stops drawing (logged), without a panic.
//!
//! Not tested on hardware: the machine this was written on has no seat and
//! no `/dev/dri`; there it refuses to start with the reason.

mod dmabuf;
mod input;
pub mod logic;

use std::path::{Path, PathBuf};

use anyhow::Context;
use smithay::backend::allocator::gbm::{GbmAllocator, GbmBufferFlags, GbmDevice};
use smithay::backend::allocator::Fourcc;
use smithay::backend::drm::compositor::{DrmCompositor, FrameFlags};
use smithay::backend::drm::exporter::gbm::GbmFramebufferExporter;
use smithay::backend::drm::{DrmDevice, DrmDeviceFd, DrmEvent, DrmNode, NodeType};
use smithay::backend::egl::{EGLContext, EGLDisplay};
use smithay::backend::libinput::{LibinputInputBackend, LibinputSessionInterface};
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::utils::{Relocate, RelocateRenderElement};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::gles::GlesRenderer;
use smithay::backend::renderer::{ImportDma, ImportMemWl};
use smithay::backend::session::libseat::{LibSeatSession, LibSeatSessionNotifier};
use smithay::backend::session::{Event as SessionEvent, Session};
use smithay::backend::udev::{all_gpus, primary_gpu, UdevBackend, UdevEvent};
use smithay::desktop::{Space, Window};
use smithay::output::{Mode, Output, PhysicalProperties};
use smithay::reexports::calloop::{LoopHandle, RegistrationToken};
use smithay::reexports::drm::control::{connector, crtc, Device as _, ModeTypeFlags};
use smithay::reexports::input::Libinput;
use smithay::reexports::rustix::fs::{Dev, OFlags};
use smithay::utils::{DeviceFd, Logical, Point, Transform};
use smithay::wayland::dmabuf::{DmabufFeedbackBuilder, DmabufGlobal};
use tracing::{error, info, warn};
use zion_config::Colour;

use crate::identity::Origin;
use crate::layout::Layout;
use crate::lock::LockScene;
use crate::render::{output_elements, DesktopElement, BACKGROUND};
use crate::screenshot::Screenshot;
use crate::state::State;

use logic::ModeInfo;

/// Why the udev backend cannot start, from the environment (`env` reads a
/// variable), the DRM cards found (`/dev/dri/card*`) and what `failed`
/// (taking the seat, opening the device...).
pub fn refusal(env: impl Fn(&str) -> Option<String>, cards: &[PathBuf], failed: &str) -> String {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let mut problems = Vec::new();
    if !set("XDG_SEAT") || !(set("XDG_SESSION_ID") || set("XDG_SESSION_TYPE")) {
        problems.push(
            "there is no login seat (XDG_SEAT and XDG_SESSION_ID are not set: this is not a \
             session started by logind on a virtual terminal)",
        );
    }
    if cards.is_empty() {
        problems.push("there is no DRM device (no /dev/dri/card*: no GPU or no KMS driver)");
    }
    let advice = "start it from a virtual terminal of a machine with a GPU, or use --backend \
                  winit inside a desktop or --backend headless";
    if problems.is_empty() {
        format!("the udev backend cannot start: {failed}; {advice}")
    } else {
        format!(
            "the udev backend cannot start: {} ({failed}); {advice}",
            problems.join(", and ")
        )
    }
}

/// The DRM cards under `dri` (normally `/dev/dri`).
pub fn drm_cards(dri: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dri) else {
        return Vec::new();
    };
    let mut cards: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("card"))
        .map(|e| e.path())
        .collect();
    cards.sort();
    cards
}

/// Takes the seat, opens the GPU and its screens and input, and adds their
/// events to `handle`'s loop; fails with what failed and why, and what this
/// machine lacks for it.
pub fn start(handle: &LoopHandle<'static, State>) -> anyhow::Result<super::Backend> {
    let why = |failed: &str| {
        let cards = drm_cards(Path::new("/dev/dri"));
        refusal(|name| std::env::var(name).ok(), &cards, failed)
    };
    let (session, notifier) = LibSeatSession::new().map_err(|e| {
        anyhow::anyhow!(
            "{}",
            why(&format!(
                "no seat could be taken through libseat (logind or seatd): {e}"
            ))
        )
    })?;
    match Udev::open(handle, session, notifier) {
        Ok(udev) => Ok(super::Backend::Udev(udev)),
        Err(err) => anyhow::bail!("{}", why(&format!("{err:#}"))),
    }
}

/// What frames are drawn into: a relocated desktop element (screens right
/// of the first see the desktop shifted by their place).
type UdevElement = RelocateRenderElement<DesktopElement<GlesRenderer>>;

type GbmDrmCompositor =
    DrmCompositor<GbmAllocator<DrmDeviceFd>, GbmFramebufferExporter<DrmDeviceFd>, (), DrmDeviceFd>;

/// One screen: a CRTC driving a connector.
struct Screen {
    crtc: crtc::Handle,
    output: Output,
    compositor: GbmDrmCompositor,
    /// The connector's modes (output management switches among them).
    modes: Vec<smithay::reexports::drm::control::Mode>,
    /// A frame is wanted.
    dirty: bool,
    /// A frame was queued and its VBlank has not come yet.
    flip_pending: bool,
}

/// The opened GPU. Fields drop in order: the screens before the device
/// they were made from.
struct Gpu {
    screens: Vec<Screen>,
    renderer: GlesRenderer,
    drm: DrmDevice,
    /// The card's device number (to notice its removal).
    dev_id: Dev,
    /// The render node, for dmabuf feedback.
    render_node: DrmNode,
    path: PathBuf,
    /// The DRM device's events in the loop.
    token: RegistrationToken,
}

/// DRM/KMS screens on a seat, with libinput.
pub struct Udev {
    session: LibSeatSession,
    libinput: Libinput,
    /// `None` once the GPU was removed.
    gpu: Option<Gpu>,
    /// The outputs, left to right; never empty.
    outputs: Vec<Output>,
    /// The elements last drawn on the first screen (for screenshots).
    last: Vec<UdevElement>,
    /// `linux-dmabuf`, once announced.
    dmabuf_global: Option<DmabufGlobal>,
    /// The pointer's arrow and where it is (global coordinates).
    cursor: MemoryRenderBuffer,
    pointer_at: Point<f64, Logical>,
}

impl Udev {
    fn open(
        handle: &LoopHandle<'static, State>,
        mut session: LibSeatSession,
        notifier: LibSeatSessionNotifier,
    ) -> anyhow::Result<Udev> {
        let seat = session.seat();
        let udev = UdevBackend::new(&seat)
            .with_context(|| format!("error watching the seat {seat}'s devices through udev"))?;
        let path = primary_gpu(&seat)
            .ok()
            .flatten()
            .or_else(|| all_gpus(&seat).ok()?.into_iter().next())
            .or_else(|| drm_cards(Path::new("/dev/dri")).into_iter().next())
            .with_context(|| format!("udev knows no GPU on the seat {seat}"))?;
        info!("udev backend on seat {seat}, GPU {}", path.display());

        let fd = session
            .open(
                &path,
                OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            )
            .map_err(|e| {
                anyhow::anyhow!(
                    "error opening {} through the seat: {e} (is this session the active one on \
                     its virtual terminal?)",
                    path.display()
                )
            })?;
        let fd = DrmDeviceFd::new(DeviceFd::from(fd));
        let dev_id = fd.dev_id().map_err(|e| {
            anyhow::anyhow!("error reading {}'s device number: {e}", path.display())
        })?;
        let render_node = DrmNode::from_dev_id(dev_id)
            .ok()
            .and_then(|n| n.node_with_type(NodeType::Render).and_then(Result::ok))
            .or_else(|| DrmNode::from_dev_id(dev_id).ok())
            .with_context(|| format!("{} is not a DRM node", path.display()))?;
        let (mut drm, drm_events) = DrmDevice::new(fd.clone(), true)
            .map_err(|e| anyhow::anyhow!("error opening {} for KMS: {e}", path.display()))?;
        let gbm = GbmDevice::new(fd.clone()).map_err(|e| {
            anyhow::anyhow!("error creating a GBM device on {}: {e}", path.display())
        })?;
        // SAFETY: the display owns its clone of the GBM device, a valid
        // native display for as long as the EGL display lives.
        let egl = unsafe { EGLDisplay::new(gbm.clone()) }.map_err(|e| {
            anyhow::anyhow!("error creating an EGL display on {}: {e}", path.display())
        })?;
        let context = EGLContext::new(&egl).map_err(|e| {
            anyhow::anyhow!("error creating an EGL context on {}: {e}", path.display())
        })?;
        // SAFETY: the context is new and used by this renderer only.
        let renderer = unsafe { GlesRenderer::new(context) }.map_err(|e| {
            anyhow::anyhow!("error creating a GLES renderer on {}: {e}", path.display())
        })?;

        let screens = open_screens(&mut drm, &gbm, &renderer, render_node)
            .with_context(|| format!("error setting up the screens of {}", path.display()))?;
        anyhow::ensure!(
            !screens.is_empty(),
            "no screen is connected to {} (or none could be driven)",
            path.display()
        );
        let outputs: Vec<Output> = screens.iter().map(|s| s.output.clone()).collect();

        let mut libinput = Libinput::new_with_udev::<LibinputSessionInterface<LibSeatSession>>(
            session.clone().into(),
        );
        libinput
            .udev_assign_seat(&seat)
            .map_err(|()| anyhow::anyhow!("libinput could not take the seat {seat}'s devices"))?;

        // Everything opened: the events go into the loop.
        let token = handle
            .insert_source(drm_events, |event, _, state| match event {
                DrmEvent::VBlank(crtc) => on_vblank(state, crtc),
                DrmEvent::Error(err) => warn!("error from the DRM device: {err}"),
            })
            .map_err(|e| {
                anyhow::anyhow!("error adding the DRM device's events to the loop: {e}")
            })?;
        handle
            .insert_source(notifier, |event, _, state| on_session(state, event))
            .map_err(|e| anyhow::anyhow!("error adding the seat's events to the loop: {e}"))?;
        handle
            .insert_source(
                LibinputInputBackend::new(libinput.clone()),
                |event, _, state| input::handle(state, event),
            )
            .map_err(|e| anyhow::anyhow!("error adding libinput's events to the loop: {e}"))?;
        handle
            .insert_source(udev, |event, _, state| on_udev(state, event))
            .map_err(|e| anyhow::anyhow!("error adding udev's events to the loop: {e}"))?;
        // The display exists once the backend is made: globals after that.
        handle.insert_idle(announce_globals);

        Ok(Udev {
            session,
            libinput,
            gpu: Some(Gpu {
                screens,
                renderer,
                drm,
                dev_id,
                render_node,
                path,
                token,
            }),
            outputs,
            last: Vec::new(),
            dmabuf_global: None,
            cursor: {
                let (w, h, pixels) = logic::arrow_cursor();
                MemoryRenderBuffer::from_slice(
                    &pixels,
                    Fourcc::Argb8888,
                    (w, h),
                    1,
                    Transform::Normal,
                    None,
                )
            },
            pointer_at: Point::from((0.0, 0.0)),
        })
    }

    /// The first screen's output (the layout's).
    pub fn output(&self) -> &Output {
        // `open` refuses a GPU without screens, and outputs are never
        // removed, so there is a first.
        &self.outputs[0]
    }

    /// All outputs, left to right.
    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    /// Drives `output`'s screen with its connector's mode that is `mode`
    /// (output management, `[[output]]`). Untested without a GPU.
    pub fn set_mode(&mut self, output: &Output, mode: Mode) -> anyhow::Result<()> {
        let screen = self
            .gpu
            .as_mut()
            .and_then(|g| g.screens.iter_mut().find(|s| s.output == *output))
            .ok_or_else(|| anyhow::anyhow!("{} is not driven", output.name()))?;
        let drm_mode = screen
            .modes
            .iter()
            .copied()
            .find(|m| Mode::from(*m) == mode)
            .ok_or_else(|| anyhow::anyhow!("{} has no mode {mode:?}", output.name()))?;
        screen
            .compositor
            .use_mode(drm_mode)
            .map_err(|e| anyhow::anyhow!("error setting the mode of {}: {e}", output.name()))?;
        screen.dirty = true;
        Ok(())
    }

    /// Places every output in `space` where it sits.
    pub fn map_outputs(&self, space: &mut Space<Window>) {
        for output in &self.outputs {
            space.map_output(output, output.current_location());
        }
    }

    /// Asks for a frame on every screen.
    pub fn schedule_render(&mut self) {
        if let Some(gpu) = &mut self.gpu {
            for screen in &mut gpu.screens {
                screen.dirty = true;
            }
        }
    }

    /// The pointer moved to `at`: its arrow is drawn there.
    pub fn pointer_moved(&mut self, at: Point<f64, Logical>) {
        if at != self.pointer_at {
            self.pointer_at = at;
            self.schedule_render();
        }
    }

    /// Whether a screen wants a frame and can take one now.
    pub fn needs_render(&self) -> bool {
        self.session.is_active()
            && self
                .gpu
                .as_ref()
                .is_some_and(|g| g.screens.iter().any(|s| s.dirty && !s.flip_pending))
    }

    /// Draws the shown desktop on every screen that wants a frame and has
    /// no flip pending, and queues the frames.
    pub fn render(
        &mut self,
        layout: &Layout<Window>,
        colour: impl Fn(Option<&Origin>) -> Colour,
        mut lock: Option<LockScene<'_>>,
    ) -> anyhow::Result<()> {
        if !self.session.is_active() {
            return Ok(());
        }
        let Some(gpu) = &mut self.gpu else {
            return Ok(());
        };
        let mut failures = Vec::new();
        for (i, screen) in gpu.screens.iter_mut().enumerate() {
            if !screen.dirty || screen.flip_pending {
                continue;
            }
            screen.dirty = false;
            let at = screen.output.current_location();
            // The arrow in front of everything (on the cursor plane when
            // the hardware has one).
            let arrow = MemoryRenderBufferRenderElement::from_buffer(
                &mut gpu.renderer,
                self.pointer_at.to_physical(1.0),
                &self.cursor,
                None,
                None,
                None,
                Kind::Cursor,
            )
            .map_err(|e| warn!("error drawing the pointer: {e}"))
            .ok()
            .map(DesktopElement::Title);
            let elements: Vec<UdevElement> = arrow
                .into_iter()
                .chain(output_elements(
                    &mut gpu.renderer,
                    &screen.output,
                    layout,
                    &colour,
                    lock.as_mut(),
                ))
                .map(|e| RelocateRenderElement::from_element(e, (-at.x, -at.y), Relocate::Relative))
                .collect();
            let queued = match screen.compositor.render_frame(
                &mut gpu.renderer,
                &elements,
                BACKGROUND,
                FrameFlags::DEFAULT,
            ) {
                Ok(frame) if frame.is_empty => Ok(false),
                Ok(_) => screen
                    .compositor
                    .queue_frame(())
                    .map(|()| true)
                    .map_err(|e| {
                        anyhow::anyhow!("error queueing the frame of {}: {e}", screen.output.name())
                    }),
                Err(e) => Err(anyhow::anyhow!(
                    "error composing the frame of {}: {e}",
                    screen.output.name()
                )),
            };
            match queued {
                Ok(flip) => screen.flip_pending = flip,
                Err(err) => failures.push(format!("{err:#}")),
            }
            if i == 0 {
                self.last = elements;
            }
        }
        anyhow::ensure!(failures.is_empty(), "{}", failures.join("; "));
        Ok(())
    }

    /// The first screen's last frame, drawn again offscreen, as RGBA.
    pub fn screenshot(&mut self) -> anyhow::Result<Screenshot> {
        let Some(gpu) = &mut self.gpu else {
            anyhow::bail!("no screenshot: the GPU was removed");
        };
        let size = self.outputs[0]
            .current_mode()
            .map(|m| m.size)
            .context("the first screen has no mode")?;
        super::gles_screenshot(&mut gpu.renderer, size, &self.last)
    }

    /// Imports a client's dmabuf into the renderer; whether it worked.
    fn import_dmabuf(&mut self, dmabuf: &smithay::backend::allocator::dmabuf::Dmabuf) -> bool {
        let Some(gpu) = &mut self.gpu else {
            return false;
        };
        match gpu.renderer.import_dmabuf(dmabuf, None) {
            Ok(_) => true,
            Err(err) => {
                warn!("a client's dmabuf could not be imported: {err}");
                false
            }
        }
    }

    /// Switches to virtual terminal `vt`.
    pub fn change_vt(&mut self, vt: i32) {
        info!("switching to virtual terminal {vt}");
        if let Err(err) = self.session.change_vt(vt) {
            warn!("error switching to virtual terminal {vt}: {err}");
        }
    }
}

/// Sets up every connected connector of `drm`: a free CRTC, its mode, an
/// output placed right of the previous one, and a compositor.
fn open_screens(
    drm: &mut DrmDevice,
    gbm: &GbmDevice<DrmDeviceFd>,
    renderer: &GlesRenderer,
    render_node: DrmNode,
) -> anyhow::Result<Vec<Screen>> {
    let resources = drm
        .resource_handles()
        .context("error listing the connectors and CRTCs")?;
    let mut connected = Vec::new();
    let mut used: Vec<crtc::Handle> = Vec::new();
    for handle in resources.connectors() {
        let info = match drm.get_connector(*handle, true) {
            Ok(info) => info,
            Err(err) => {
                warn!("skipping connector {handle:?}: {err}");
                continue;
            }
        };
        if info.state() != connector::State::Connected {
            continue;
        }
        let name = format!("{}-{}", info.interface().as_str(), info.interface_id());
        let crtc = info
            .encoders()
            .iter()
            .filter_map(|e| drm.get_encoder(*e).ok())
            .flat_map(|e| resources.filter_crtcs(e.possible_crtcs()))
            .find(|c| !used.contains(c));
        let Some(crtc) = crtc else {
            warn!("{name} is connected but no CRTC is left for it: not used");
            continue;
        };
        let modes: Vec<ModeInfo> = info
            .modes()
            .iter()
            .map(|m| ModeInfo {
                size: m.size(),
                refresh: m.vrefresh(),
                preferred: m.mode_type().contains(ModeTypeFlags::PREFERRED),
            })
            .collect();
        let Some(mode) = logic::choose_mode(&modes).map(|i| info.modes()[i]) else {
            warn!("{name} is connected but has no mode: not used");
            continue;
        };
        used.push(crtc);
        connected.push((info, name, crtc, mode));
    }
    let widths: Vec<i32> = connected
        .iter()
        .map(|(_, _, _, m)| i32::from(m.size().0))
        .collect();
    let places = logic::place_left_to_right(&widths);
    let renderer_formats = renderer.egl_context().dmabuf_render_formats().clone();
    let mut screens = Vec::new();
    for ((info, name, crtc, mode), place) in connected.into_iter().zip(places) {
        let surface = match drm.create_surface(crtc, mode, &[info.handle()]) {
            Ok(surface) => surface,
            Err(err) => {
                warn!("{name}: error driving it with CRTC {crtc:?}: {err}; not used");
                continue;
            }
        };
        let (mm_w, mm_h) = info.size().unwrap_or((0, 0));
        let output = Output::new(
            name.clone(),
            PhysicalProperties {
                size: (mm_w as i32, mm_h as i32).into(),
                subpixel: info.subpixel().into(),
                make: "Unknown".into(),
                model: name.clone(),
            },
        );
        let wl_mode = Mode::from(mode);
        for m in info.modes() {
            output.add_mode(Mode::from(*m));
        }
        output.set_preferred(wl_mode);
        output.change_current_state(
            Some(wl_mode),
            Some(Transform::Normal),
            None,
            Some(place.into()),
        );
        let allocator = GbmAllocator::new(
            gbm.clone(),
            GbmBufferFlags::RENDERING | GbmBufferFlags::SCANOUT,
        );
        let exporter = GbmFramebufferExporter::new(gbm.clone(), Some(render_node));
        let compositor = match DrmCompositor::new(
            &output,
            surface,
            None,
            allocator,
            exporter,
            [Fourcc::Argb8888, Fourcc::Xrgb8888, Fourcc::Abgr8888],
            renderer_formats.clone(),
            drm.cursor_size(),
            Some(gbm.clone()),
        ) {
            Ok(compositor) => compositor,
            Err(err) => {
                warn!("{name}: error setting up its compositor: {err}; not used");
                continue;
            }
        };
        info!(
            "{name}: {}x{}@{}Hz at {:?}",
            mode.size().0,
            mode.size().1,
            mode.vrefresh(),
            place
        );
        screens.push(Screen {
            crtc,
            output,
            compositor,
            modes: info.modes().to_vec(),
            dirty: true,
            flip_pending: false,
        });
    }
    Ok(screens)
}

/// A page flip completed on `crtc`: its buffer is on screen, the next
/// frame may be drawn.
fn on_vblank(state: &mut State, crtc: crtc::Handle) {
    let super::Backend::Udev(udev) = &mut state.backend else {
        return;
    };
    let Some(screen) = udev
        .gpu
        .as_mut()
        .and_then(|g| g.screens.iter_mut().find(|s| s.crtc == crtc))
    else {
        return;
    };
    if let Err(err) = screen.compositor.frame_submitted() {
        warn!("error finishing a frame of {}: {err}", screen.output.name());
    }
    screen.flip_pending = false;
    state.render_frame();
}

/// The seat was taken away (another session, a VT switch) or given back.
fn on_session(state: &mut State, event: SessionEvent) {
    let super::Backend::Udev(udev) = &mut state.backend else {
        return;
    };
    match event {
        SessionEvent::PauseSession => {
            info!("the seat is paused: input and screens are released");
            udev.libinput.suspend();
            if let Some(gpu) = &mut udev.gpu {
                gpu.drm.pause();
            }
        }
        SessionEvent::ActivateSession => {
            info!("the seat is back: input and screens resume");
            if udev.libinput.resume().is_err() {
                warn!("libinput could not resume: input devices may stay silent");
            }
            if let Some(gpu) = &mut udev.gpu {
                if let Err(err) = gpu.drm.activate(false) {
                    warn!("error resuming {}: {err}", gpu.path.display());
                }
                for screen in &mut gpu.screens {
                    // Whatever was shown meanwhile, draw everything again.
                    if let Err(err) = screen.compositor.reset_state() {
                        warn!("error resetting {}: {err}", screen.output.name());
                    }
                    screen.flip_pending = false;
                    screen.dirty = true;
                }
            }
            state.render_frame();
        }
    }
}

/// A device of the seat came, changed or went.
fn on_udev(state: &mut State, event: UdevEvent) {
    let super::Backend::Udev(udev) = &mut state.backend else {
        return;
    };
    match event {
        UdevEvent::Added { path, .. } => {
            info!("{} appeared: other GPUs are not used", path.display());
        }
        UdevEvent::Changed { device_id } => {
            if udev.gpu.as_ref().is_some_and(|g| g.dev_id == device_id) {
                info!(
                    "the GPU's connectors changed: screens plugged in or out are not followed \
                     (restart the compositor to use them)"
                );
            }
        }
        UdevEvent::Removed { device_id } => {
            if let Some(gpu) = udev.gpu.take_if(|g| g.dev_id == device_id) {
                error!(
                    "the GPU {} was removed: nothing is drawn any more; restart the compositor \
                     once a GPU is back",
                    gpu.path.display()
                );
                state.loop_handle.remove(gpu.token);
                if let Some(global) = udev.dmabuf_global.take() {
                    state
                        .dmabuf_state
                        .disable_global::<State>(&state.display_handle, &global);
                }
                udev.last.clear();
            }
        }
    }
}

/// Announces what needs the display: the outputs after the first (the
/// first is announced with the state) and `linux-dmabuf`.
fn announce_globals(state: &mut State) {
    let State {
        backend,
        display_handle,
        dmabuf_state,
        shm_state,
        ..
    } = state;
    let super::Backend::Udev(udev) = backend else {
        return;
    };
    for output in udev.outputs.iter().skip(1) {
        let _ = output.create_global::<State>(display_handle);
    }
    let Some(gpu) = &mut udev.gpu else {
        return;
    };
    shm_state.update_formats(gpu.renderer.shm_formats());
    let formats = gpu.renderer.dmabuf_formats();
    match DmabufFeedbackBuilder::new(gpu.render_node.dev_id(), formats).build() {
        Ok(feedback) => {
            let global = dmabuf_state
                .create_global_with_default_feedback::<State>(display_handle, &feedback);
            udev.dmabuf_global = Some(global);
            info!("linux-dmabuf offered for {}", gpu.render_node);
        }
        Err(err) => warn!(
            "linux-dmabuf is not offered (GPU clients will copy through shared memory): {err}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::env_of;

    #[test]
    fn without_seat_or_gpu_both_reasons_are_given() {
        let why = refusal(env_of(&[]), &[], "no seat could be taken through libseat");
        assert!(why.contains("no login seat"), "{why}");
        assert!(why.contains("no DRM device"), "{why}");
        assert!(why.contains("libseat"), "{why}");
        assert!(why.contains("--backend headless"), "{why}");
    }

    #[test]
    fn a_seat_without_a_gpu_names_the_missing_device_only() {
        let seat = [("XDG_SEAT", "seat0"), ("XDG_SESSION_ID", "2")];
        let why = refusal(env_of(&seat), &[], "udev knows no GPU on the seat seat0");
        assert!(!why.contains("no login seat"), "{why}");
        assert!(why.contains("no DRM device"), "{why}");
    }

    #[test]
    fn with_seat_and_gpu_the_failure_itself_is_said() {
        let seat = [("XDG_SEAT", "seat0"), ("XDG_SESSION_ID", "2")];
        let failed = "error opening /dev/dri/card0 through the seat: Permission denied";
        let why = refusal(env_of(&seat), &[PathBuf::from("/dev/dri/card0")], failed);
        assert!(why.contains(failed), "{why}");
        assert!(!why.contains("no login seat"), "{why}");
        assert!(!why.contains("no DRM device"), "{why}");
        assert!(!why.contains("not built"), "{why}");
        assert!(why.contains("--backend headless"), "{why}");
    }

    #[test]
    fn only_cards_count_as_drm_devices() {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(dir.path().join("renderD128"), "").expect("write");
        assert!(drm_cards(dir.path()).is_empty());
        std::fs::write(dir.path().join("card1"), "").expect("write");
        assert_eq!(drm_cards(dir.path()), [dir.path().join("card1")]);
        assert!(drm_cards(&dir.path().join("missing")).is_empty());
    }
}

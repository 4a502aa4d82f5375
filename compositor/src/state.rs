//! The compositor's state: everything the event loop's callbacks reach, and
//! the few operations that keep the Wayland side in step with the layout.

use std::path::PathBuf;
use std::time::Duration;

use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::desktop::{PopupManager, Space, Window};
use smithay::input::keyboard::KeyboardTarget;
use smithay::input::{Seat, SeatState};
use smithay::reexports::calloop::{LoopHandle, LoopSignal};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::utils::{Clock, Monotonic, SERIAL_COUNTER};
use smithay::wayland::compositor::CompositorState;
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::seat::WaylandFocus;
use smithay::wayland::selection::data_device::DataDeviceState;
use smithay::wayland::selection::primary_selection::PrimarySelectionState;
use smithay::wayland::shell::xdg::decoration::XdgDecorationState;
use smithay::wayland::shell::xdg::XdgShellState;
use smithay::wayland::shm::ShmState;
use tracing::{info, warn};
use zion_config::{Colour, Config, Profile};

use crate::backend::Backend;
use crate::calls::Call;
use crate::handlers::policy::PolicyGlobals;
use crate::handlers::selection::SelectionOwners;
use crate::hotkeys::Action;
use crate::identity::{origin_of, Origin};
use crate::layout::{Layout, Side};
use crate::sockets::Listener;

/// The frame colour of host windows (trusted session tools).
pub const HOST_COLOUR: Colour = Colour {
    r: 0xd3,
    g: 0xd7,
    b: 0xcf,
};

/// The desktop a window opens on, fixed when its toplevel is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpensOn(pub usize);

/// Everything the compositor holds.
pub struct State {
    /// The configuration: profiles (desktops) and hotkeys.
    pub config: Config,
    /// The runtime folder holding the sockets.
    pub runtime_dir: PathBuf,
    /// Handle to the Wayland display.
    pub display_handle: DisplayHandle,
    /// Handle to the event loop.
    pub loop_handle: LoopHandle<'static, State>,
    /// Stops the event loop.
    pub loop_signal: LoopSignal,
    /// The compositor's clock (frame callbacks).
    pub clock: Clock<Monotonic>,
    /// Desktops, windows and focus: the truth.
    pub layout: Layout<Window>,
    /// Toplevels that have not drawn yet: not on any desktop, no focus.
    pub unmapped: Vec<Window>,
    /// The windows of the shown desktop, mapped for hit-testing and output
    /// enter/leave; rebuilt from `layout` by `refresh_view`.
    pub space: Space<Window>,
    /// Popups of all windows.
    pub popups: PopupManager,
    /// Rendering and outputs.
    pub backend: Backend,
    /// The sockets listened on.
    pub listeners: Vec<Listener>,
    /// Messages for actions that could not be done (shown to the user later).
    pub notices: Vec<String>,

    /// wl_compositor and wl_subcompositor.
    pub compositor_state: CompositorState,
    /// xdg_wm_base.
    pub xdg_shell_state: XdgShellState,
    /// zxdg_decoration_manager_v1.
    pub xdg_decoration_state: XdgDecorationState,
    /// wl_shm.
    pub shm_state: ShmState,
    /// wl_output and xdg-output.
    pub output_manager_state: OutputManagerState,
    /// wl_data_device_manager (selections stay within their origin).
    pub data_device_state: DataDeviceState,
    /// zwp_primary_selection_device_manager_v1 (same isolation).
    pub primary_selection_state: PrimarySelectionState,
    /// The origin of the client that set each selection.
    pub selection_owners: SelectionOwners,
    /// The globals of the protocol policy (host-only and harmless ones).
    pub policy: PolicyGlobals,
    /// Seats.
    pub seat_state: SeatState<State>,
    /// The one seat, with keyboard and pointer.
    pub seat: Seat<State>,
    /// Keys whose press was a hotkey: their release is not forwarded.
    pub suppressed_keys: Vec<u32>,
    /// The link to `org.zionos.Compositor1`, when it is served.
    pub bus: Option<crate::dbus::Link>,
    /// Frames drawn so far (the sequence of presentation feedback).
    pub frames_shown: u64,
    /// One Xwayland per profile, when started.
    pub xwayland: crate::xwayland::Xwaylands,
    /// linux-dmabuf (its global is made by the udev backend only).
    pub dmabuf_state: smithay::wayland::dmabuf::DmabufState,
    /// The session lock (ext-session-lock-v1, host clients only).
    pub lock: crate::lock::SessionLock,
    /// The covered profiles' desktops (per-profile locks).
    pub profile_locks: crate::profile_lock::ProfileLocks,
    /// xdg-foreign's exported windows (imported within their origin only).
    pub foreign: crate::foreign::Foreign,
    /// Idleness: idle-notify (host only), idle inhibitors, the idle lock
    /// and screens off.
    pub idle: crate::idle::Idle,
    /// The modifiers of the chord that started the window switch under
    /// way (Alt for Alt+Tab): it ends when they are released.
    pub cycle_mods: crate::hotkeys::Mods,
    /// The cursor the client under the pointer asked for (a surface of its
    /// own, or a named shape through cursor-shape).
    pub cursor_image: smithay::input::pointer::CursorImageStatus,
    /// Shortcut inhibitors of clients (keyboard-shortcuts-inhibit), each
    /// active only while its surface has the keyboard.
    pub shortcut_inhibitors:
        Vec<smithay::wayland::keyboard_shortcuts_inhibit::KeyboardShortcutsInhibitor>,
    /// libinput's devices (udev backend), set up from `[input]`.
    pub input_devices: crate::input_settings::InputDevices,
    /// wlr-output-management (host only): the heads each manager was told.
    pub output_management: crate::output_management::OutputManagementState,
}

impl State {
    /// Creates the globals, the seat and an empty layout with one desktop per
    /// profile of `config`.
    pub fn new(
        config: Config,
        runtime_dir: PathBuf,
        display_handle: DisplayHandle,
        loop_handle: LoopHandle<'static, State>,
        loop_signal: LoopSignal,
        backend: Backend,
    ) -> anyhow::Result<State> {
        let dh = &display_handle;
        let compositor_state = CompositorState::new::<State>(dh);
        let xdg_shell_state = XdgShellState::new::<State>(dh);
        let xdg_decoration_state = XdgDecorationState::new::<State>(dh);
        let shm_state = ShmState::new::<State>(dh, vec![]);
        let output_manager_state = OutputManagerState::new_with_xdg_output::<State>(dh);
        let data_device_state = DataDeviceState::new::<State>(dh);
        let primary_selection_state = PrimarySelectionState::new::<State>(dh);
        let policy = PolicyGlobals::new(dh, &primary_selection_state);
        let xwayland = crate::xwayland::Xwaylands::new(dh);
        let lock = crate::lock::SessionLock::new();
        let foreign = crate::foreign::Foreign::new(dh);
        let idle = crate::idle::Idle::new(dh, loop_handle.clone());
        let output_management = crate::output_management::OutputManagementState::new(
            dh,
            crate::handlers::policy::is_host,
        );
        let mut seat_state = SeatState::new();
        let mut seat = seat_state.new_wl_seat(dh, "seat0");
        let keymap_refused = crate::input_settings::add_keyboard(&mut seat, &config.input)?;
        seat.add_pointer();

        let layout = Layout::new(config.profiles.iter().map(|p| p.name.to_string()));
        let mut space = Space::default();
        backend.map_outputs(&mut space);
        let _ = backend.output().create_global::<State>(dh);

        let mut state = State {
            config,
            runtime_dir,
            display_handle,
            loop_handle,
            loop_signal,
            clock: Clock::new(),
            layout,
            unmapped: Vec::new(),
            space,
            popups: PopupManager::default(),
            backend,
            listeners: Vec::new(),
            notices: Vec::new(),
            compositor_state,
            xdg_shell_state,
            xdg_decoration_state,
            shm_state,
            output_manager_state,
            data_device_state,
            primary_selection_state,
            selection_owners: SelectionOwners::default(),
            policy,
            seat_state,
            seat,
            suppressed_keys: Vec::new(),
            bus: None,
            frames_shown: 0,
            xwayland,
            dmabuf_state: smithay::wayland::dmabuf::DmabufState::new(),
            lock,
            profile_locks: Default::default(),
            foreign,
            idle,
            cycle_mods: crate::hotkeys::Mods::default(),
            shortcut_inhibitors: Vec::new(),
            cursor_image: smithay::input::pointer::CursorImageStatus::default_named(),
            input_devices: Default::default(),
            output_management,
        };
        state.arm_idle_timer();
        if let Some(err) = keymap_refused {
            state.notice(format!("{err}; xkb's default keymap is used"));
        }
        state.apply_output_settings_at_start();
        Ok(state)
    }

    /// The origin of the client owning `surface`.
    pub fn origin_of_surface(&self, surface: &WlSurface) -> Option<Origin> {
        let client = self.display_handle.get_client(surface.id()).ok()?;
        origin_of(&client).cloned()
    }

    /// The desktop a new toplevel of `origin` opens on: its profile's; the
    /// shown one for the host. A profile the config does not know gets none.
    pub fn desktop_for(&self, origin: &Origin) -> Option<usize> {
        match origin {
            Origin::Host => Some(self.layout.active()),
            Origin::Profile(p) | Origin::Sandbox { profile: p, .. } => {
                self.layout.index_of(p.as_ref())
            }
        }
    }

    /// The frame colour of windows of `origin`.
    pub fn colour_of(&self, origin: &Origin) -> Colour {
        origin
            .profile()
            .and_then(|p| self.config.profile(p))
            .map_or(HOST_COLOUR, |p| p.colour)
    }

    /// The window whose toplevel surface is `surface`.
    pub fn window_for_surface(&self, surface: &WlSurface) -> Option<Window> {
        self.layout.desktops().iter().find_map(|d| {
            d.all()
                .find(|p| p.window.wl_surface().is_some_and(|s| *s == *surface))
                .map(|p| p.window.clone())
        })
    }

    /// On a commit of a toplevel not yet shown: sends its first configure,
    /// and once it has drawn a buffer puts it on its desktop (on top, with
    /// that desktop's focus).
    pub fn map_if_drawn(&mut self, surface: &WlSurface) {
        let Some(i) = self
            .unmapped
            .iter()
            .position(|w| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
        else {
            return;
        };
        let window = self.unmapped[i].clone();
        let Some(toplevel) = window.toplevel() else {
            return;
        };
        if !toplevel.is_initial_configure_sent() {
            toplevel.send_configure();
            // A client that commits its first buffer before the configure
            // (WLCS's clients do) is shown at once, not left waiting.
        }
        let drawn = with_renderer_surface_state(surface, |s| s.buffer().is_some()).unwrap_or(false);
        if !drawn {
            return;
        }
        self.unmapped.remove(i);
        window.on_commit();
        let desktop = window.user_data().get::<OpensOn>().map_or(0, |d| d.0);
        info!(origin = ?self.origin_of_surface(surface), desktop, "window mapped");
        self.layout.open(desktop, window.clone());
        self.refresh_view();
        self.apply_mode_on_map(&window);
    }

    /// Makes the mapped windows and keyboard focus match the layout: only
    /// the shown desktop's windows are mapped, and focus is its focus.
    pub fn refresh_view(&mut self) {
        // A covered desktop's windows are not mapped: nothing finds them
        // under the pointer, and they get no frames.
        let covered = self.shown_desktop_covered();
        let visible: Vec<(Window, (i32, i32))> = self
            .layout
            .visible()
            .iter()
            .filter(|_| !covered)
            .map(|p| (p.window.clone(), p.pos))
            .collect();
        let stale: Vec<Window> = self
            .space
            .elements()
            .filter(|w| !visible.iter().any(|(v, _)| v == *w))
            .cloned()
            .collect();
        for w in stale {
            self.space.unmap_elem(&w);
        }
        for (w, pos) in visible {
            self.space.map_element(w, pos, false);
        }
        self.space.refresh();

        let focused = self.layout.focused().cloned();
        for w in self.space.elements() {
            let active = Some(w) == focused.as_ref();
            if w.set_activated(active) {
                if let Some(t) = w.toplevel() {
                    if t.is_initial_configure_sent() {
                        t.send_pending_configure();
                    }
                }
            }
        }
        self.refresh_keyboard_focus();
        self.backend.schedule_render();
        // An idle inhibitor counts only while its window is shown.
        self.refresh_idle_inhibit();
    }

    /// Gives the keyboard to the shown desktop's focused window, or to a
    /// layer surface claiming it (a lock or launcher). An X11 window's
    /// keyboard is its surface's; its X server is also told which window
    /// has the focus (X delivers keys to that window only), and the window
    /// is raised among the server's windows. Xwayland before 23.1 names a
    /// window's surface after mapping it, with no event: the pointer's
    /// refresh calls this, so the focus follows once the surface is known.
    pub fn refresh_keyboard_focus(&mut self) {
        // A covered desktop's focused window gets no keys.
        let focused = self
            .layout
            .focused()
            .filter(|_| !self.shown_desktop_covered())
            .cloned();
        let target = focused.as_ref().and_then(|w| {
            w.wl_surface()
                .map(|s| s.into_owned())
                .or_else(|| crate::xwayland::surface_of(w))
        });
        let target = self.layer_keyboard_focus().or(target);
        // Locked: the lock surface or nobody, whatever the layout says.
        let target = if self.lock.is_locked() {
            self.lock.keyboard_target()
        } else {
            target
        };
        let Some(keyboard) = self.seat.get_keyboard() else {
            return;
        };
        let current = keyboard.current_focus();
        if current == target {
            return;
        }
        let serial = SERIAL_COUNTER.next_serial();
        let seat = self.seat.clone();
        // X focus is set directly only for a window whose surface Smithay
        // does not know: for the others its X11Surface would also send the
        // Wayland enter and leave, which the keyboard sends below.
        let old = current.as_ref().and_then(|surface| {
            self.layout.desktops().iter().find_map(|d| {
                d.windows().iter().find_map(|p| {
                    crate::xwayland::legacy_surface(&p.window)
                        .filter(|s| s == surface)
                        .and(p.window.x11_surface().cloned())
                })
            })
        });
        if let Some(old) = old {
            KeyboardTarget::<State>::leave(&old, &seat, self, serial);
        }
        keyboard.set_focus(self, target.clone(), serial);
        // Smithay reports a focus to `focus_changed`, but not its loss.
        self.inhibitors_follow(target.as_ref());
        // The focused window has the keyboard (no layer surface took it).
        let Some(x11) = focused
            .filter(|w| target.is_some() && target == crate::xwayland::surface_of(w))
            .and_then(|w| w.x11_surface().cloned())
        else {
            return;
        };
        if x11.wl_surface().is_none() {
            KeyboardTarget::<State>::enter(&x11, &seat, self, Vec::new(), serial);
        }
        let wm = x11.xwm_id().and_then(|id| {
            self.xwayland
                .instances
                .iter_mut()
                .find_map(|i| i.wm.as_mut().filter(|wm| wm.id() == id))
        });
        if let Some(wm) = wm {
            if let Err(err) = wm.raise_window(&x11) {
                warn!("error raising an X11 window: {err}");
            }
        }
    }

    /// Performs `action` (the one place hotkeys take effect).
    pub fn do_action(&mut self, action: Action) {
        if self.lock.is_locked() && !crate::lock::allowed_while_locked(action) {
            info!(?action, "the session is locked: hotkey ignored");
            return;
        }
        if self.shown_desktop_covered() && !crate::profile_lock::allowed_on_covered_desktop(action)
        {
            info!(?action, "the shown desktop is locked: hotkey ignored");
            return;
        }
        info!(?action, "hotkey");
        match action {
            Action::SwitchTo(i) => {
                if self.layout.switch_to(i) {
                    self.refresh_view();
                    self.render_soon();
                }
            }
            Action::NextProfile => {
                if self.layout.switch_next() {
                    self.refresh_view();
                    self.render_soon();
                }
            }
            Action::PreviousProfile => {
                if self.layout.switch_previous() {
                    self.refresh_view();
                    self.render_soon();
                }
            }
            Action::CloseWindow => {
                if let Some(t) = self.layout.focused().and_then(|w| w.toplevel()) {
                    t.send_close();
                } else if let Some(x) = self.layout.focused().and_then(|w| w.x11_surface()) {
                    if let Err(err) = x.close() {
                        warn!("error closing an X11 window: {err}");
                    }
                }
            }
            Action::ToggleFullscreen => self.toggle_fullscreen_focused(),
            Action::Terminal => match self.active_profile() {
                Some(profile) => {
                    let argv = profile.terminal.clone();
                    let profile = profile.name.to_string();
                    self.call_daemon(Call::Run { profile, argv });
                }
                None => self.notice("no profile's desktop is shown: no terminal to open".into()),
            },
            Action::Browser => match self.active_profile() {
                Some(profile) => {
                    let profile = profile.name.to_string();
                    self.call_daemon(Call::OpenBrowser { profile });
                }
                None => self.notice("no profile's desktop is shown: no browser to open".into()),
            },
            Action::Panel => self.open_panel(),
            Action::CopyToTransfer => self.copy_to_transfer(),
            Action::PasteTransfer => self.paste_transfer(),
            Action::Lock => self.start_locker(),
            Action::LockProfile => self.toggle_shown_profile_lock(),
            Action::Launcher => self.open_launcher(),
            Action::SwitchVt(vt) => match &mut self.backend {
                Backend::Udev(udev) => udev.change_vt(i32::from(vt)),
                // Only a compositor that is the session has terminals.
                _ => info!(vt, "no virtual terminals on this backend: ignored"),
            },
            Action::CycleWindows => self.cycle_windows(true),
            Action::CycleWindowsBack => self.cycle_windows(false),
            Action::SnapLeft => self.snap_focused(Side::Left),
            Action::SnapRight => self.snap_focused(Side::Right),
            Action::ToggleMaximize => self.toggle_maximize_focused(),
            Action::MinimizeWindow => self.minimize_focused(),
            Action::RestoreWindow => self.restore_minimized(),
        }
    }

    /// The profile whose desktop is shown, if it is a profile's.
    pub fn active_profile(&self) -> Option<&Profile> {
        self.config.profile(&self.layout.active_desktop().name)
    }

    /// Starts the quarantine panel as a host client (Super+Q): `zion-panel`
    /// beside this program, else on PATH.
    pub fn open_panel(&mut self) {
        self.spawn_host_program("zion-panel", &[], "opening the quarantine panel");
    }

    /// The launcher: `zionctl launcher` shows every profile's applications
    /// in a menu on the host socket and starts the one chosen in its profile.
    pub fn open_launcher(&mut self) {
        self.spawn_host_program("zionctl", &["launcher"], "opening the launcher");
    }

    /// The bar (`[session] bar`): `zion-bar` on the host socket, reading
    /// the session bus.
    pub fn start_bar(&mut self) {
        self.spawn_host_program("zion-bar", &[], "starting the bar");
    }

    /// Runs one of Zion's own programs (beside the compositor, else on
    /// PATH) as a host client: on the host socket, never an X11 display.
    fn spawn_host_program(&mut self, name: &str, args: &[&str], what: &str) {
        let beside = std::env::current_exe()
            .ok()
            .map(|exe| exe.with_file_name(name))
            .filter(|p| p.exists());
        let program = beside.unwrap_or_else(|| PathBuf::from(name));
        let spawned = std::process::Command::new(&program)
            .args(args)
            .env("WAYLAND_DISPLAY", crate::sockets::HOST_SOCKET)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env_remove("DISPLAY")
            .spawn();
        match spawned {
            Ok(mut child) => {
                // Reap it when it exits, without blocking the loop.
                std::thread::spawn(move || child.wait());
            }
            Err(err) => self.notice(format!(
                "{what} failed: cannot run {}: {err}",
                program.display()
            )),
        }
    }

    /// Draws a frame as soon as this round of events is handled, not at
    /// the next tick of the frame timer: a desktop switch shows at once.
    pub fn render_soon(&mut self) {
        self.backend.schedule_render();
        self.loop_handle.insert_idle(|state| state.render_frame());
    }

    /// Draws a frame if one is wanted, then lets the shown windows draw
    /// their next one.
    pub fn render_frame(&mut self) {
        if !self.backend.needs_render() {
            return;
        }
        let State {
            backend,
            layout,
            config,
            lock,
            profile_locks,
            ..
        } = self;
        let colour = |origin: Option<&Origin>| {
            origin
                .and_then(Origin::profile)
                .and_then(|p| config.profile(p))
                .map_or(HOST_COLOUR, |p| p.colour)
        };
        // The session lock, else the shown desktop's cover if it is locked.
        let shown = &layout.active_desktop().name;
        let scene = lock.scene().or_else(|| {
            let profile = config.profile(shown).map_or(HOST_COLOUR, |p| p.colour);
            profile_locks.scene(shown, profile)
        });
        if let Err(err) = backend.render(layout, colour, scene) {
            warn!("error drawing a frame: {err:?}");
        } else {
            self.send_presentation_feedback();
        }
        self.send_frames();
        self.popups.cleanup();
    }

    /// Sends frame callbacks to the windows shown; hidden desktops get none,
    /// so their clients stop drawing.
    pub fn send_frames(&mut self) {
        let output = self.backend.output().clone();
        let now = self.clock.now();
        for w in self.space.elements() {
            w.send_frame(&output, now, Some(Duration::ZERO), |_, _| {
                Some(output.clone())
            });
            if let Some(surface) = crate::xwayland::legacy_surface(w) {
                smithay::desktop::utils::send_frames_surface_tree(
                    &surface,
                    &output,
                    now,
                    Some(Duration::ZERO),
                    |_, _| Some(output.clone()),
                );
            }
        }
        self.send_layer_frames(now.into());
    }
}

//! The compositor fixture: Zion's compositor run headless in the test's own
//! process, with its host and per-profile sockets in a temporary runtime
//! folder, driven by the test thread (no compositor thread, no sleeps: each
//! wait dispatches the event loop until a condition on its state holds).
//!
//! Clients reach it two ways:
//! - real programs (`weston-simple-shm`, `foot`, `wl-copy`, `grim`) on its
//!   sockets, started with [`Fixture::spawn`] or [`programs`];
//! - the harness's own [`crate::wayland::Client`], inserted over a socket
//!   pair with a profile's identity ([`Fixture::add_client`]) and driven by
//!   [`Fixture::roundtrip`] in the same thread.
//!
//! The fixture dereferences to the [`Compositor`], so `fixture.state` and
//! `fixture.dispatch_until(…)` read as on the compositor itself.

pub mod programs;
pub mod x11;

use std::ops::{Deref, DerefMut};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smithay::desktop::Window;
use zion_compositor::identity::ClientState;
use zion_compositor::input::keys;
use zion_compositor::layout::Rect;
use zion_compositor::render::content_rect;
use zion_compositor::sockets::socket_path;
use zion_compositor::{Action, BackendKind, Compositor, Options, Origin, Screenshot};
use zion_config::{Colour, Config};

use crate::wayland::{Client, ClientError};

pub use programs::Running;

/// How long a wait on the compositor may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// How a fixture starts.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The configuration.
    pub config: Config,
    /// The output's size.
    pub size: (i32, i32),
    /// The runtime folder; a new temporary one when `None`.
    pub runtime: Option<PathBuf>,
    /// Where the temporary runtime folder goes (default: the system's).
    pub temp_parent: Option<PathBuf>,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            config: Config::defaults(),
            size: (800, 600),
            runtime: None,
            temp_parent: None,
        }
    }
}

/// A headless compositor in this process, its runtime folder, and the client
/// programs started on it (killed when it is dropped).
pub struct Fixture {
    // Dropped first: the clients go before the compositor and its folder.
    clients: Vec<Running>,
    compositor: Compositor,
    runtime: PathBuf,
    _temporary: Option<tempfile::TempDir>,
}

impl Deref for Fixture {
    type Target = Compositor;
    fn deref(&self) -> &Compositor {
        &self.compositor
    }
}

impl DerefMut for Fixture {
    fn deref_mut(&mut self) -> &mut Compositor {
        &mut self.compositor
    }
}

impl Fixture {
    /// The built-in profiles on an 800x600 output.
    pub fn new() -> Fixture {
        Fixture::start(Setup::default())
    }

    /// The built-in profiles on an output of `size`.
    pub fn with_size(size: (i32, i32)) -> Fixture {
        Fixture::start(Setup {
            size,
            ..Setup::default()
        })
    }

    /// A compositor as `setup` says. Its sockets are listening when this
    /// returns (they are bound before `Compositor::new` returns).
    pub fn start(setup: Setup) -> Fixture {
        let (runtime, temporary) = match setup.runtime {
            Some(dir) => (dir, None),
            None => {
                let mut builder = tempfile::Builder::new();
                builder.prefix("zion-compositor-test");
                let dir = match &setup.temp_parent {
                    Some(parent) => builder.tempdir_in(parent),
                    None => builder.tempdir(),
                }
                .expect("temporary runtime folder");
                (dir.path().to_owned(), Some(dir))
            }
        };
        let options = Options {
            backend: BackendKind::Headless,
            size: setup.size,
            runtime_dir: runtime.clone(),
        };
        let compositor = Compositor::new(setup.config, &options).expect("compositor starts");
        Fixture {
            clients: Vec::new(),
            compositor,
            runtime,
            _temporary: temporary,
        }
    }

    /// The runtime folder holding the sockets.
    pub fn runtime(&self) -> &Path {
        &self.runtime
    }

    /// The host socket.
    pub fn host_socket(&self) -> PathBuf {
        socket_path(&self.runtime, &Origin::Host)
    }

    /// The socket of profile `profile`.
    pub fn profile_socket(&self, profile: &str) -> PathBuf {
        socket_path(&self.runtime, &Origin::Profile(profile_name(profile)))
    }

    /// Opens a sandbox's socket the way `OpenSandboxSocket` over D-Bus does.
    pub fn open_sandbox(&mut self, origin: &Origin) -> PathBuf {
        self.compositor
            .state
            .open_sandbox_socket(origin.clone())
            .expect("sandbox socket opens")
    }

    /// Starts `program args` on `socket`, kept until the fixture goes;
    /// returns its number for [`Fixture::kill`].
    pub fn spawn(&mut self, socket: &Path, program: &str, args: &[&str]) -> usize {
        let mut command = programs::command(socket, program);
        command.args(args);
        self.keep(command)
    }

    /// Starts `command`, kept until the fixture goes; returns its number
    /// for [`Fixture::kill`].
    pub fn keep(&mut self, mut command: Command) -> usize {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?} starts: {e}"));
        self.clients.push(Running(child));
        self.clients.len() - 1
    }

    /// Kills every client program started so far.
    pub fn kill_all(&mut self) {
        self.clients.clear();
    }

    /// Kills client program `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        let child = &mut self.clients[i].0;
        child.kill().expect("kill");
        child.wait().expect("reap");
    }

    /// Dispatches until `done` holds; fails the test with `what` after
    /// [`WAIT`].
    pub fn wait(&mut self, what: &str, done: impl FnMut(&mut zion_compositor::State) -> bool) {
        let held = self
            .compositor
            .dispatch_until(WAIT, done)
            .expect("event loop runs");
        assert!(held, "{what}: not within {WAIT:?}");
    }

    /// Lets a few frames pass, so what clients drew is on screen.
    pub fn settle(&mut self) {
        settle(&mut self.compositor);
    }

    /// Waits until desktop `desktop` holds `count` windows that have drawn.
    pub fn wait_for_windows(&mut self, desktop: usize, count: usize) -> Vec<Window> {
        let ok = self
            .compositor
            .dispatch_until(WAIT, |s| {
                let windows = s.layout.desktops()[desktop].windows();
                windows.len() == count && windows.iter().all(|p| p.window.geometry().size.w > 0)
            })
            .expect("event loop runs");
        assert!(ok, "desktop {desktop} did not get {count} drawn window(s)");
        self.settle();
        self.windows(desktop)
    }

    /// The windows of desktop `desktop`.
    pub fn windows(&self, desktop: usize) -> Vec<Window> {
        self.compositor.state.layout.desktops()[desktop]
            .windows()
            .iter()
            .map(|p| p.window.clone())
            .collect()
    }

    /// Waits until desktop `desktop` holds a window that has drawn and
    /// `ready` says it is as wanted; returns it.
    pub fn wait_for_window(
        &mut self,
        desktop: usize,
        ready: impl Fn(&zion_compositor::State, &Window) -> bool,
    ) -> Window {
        let found = self
            .compositor
            .dispatch_until(WAIT, |s| {
                s.layout.desktops()[desktop]
                    .windows()
                    .iter()
                    .any(|p| p.window.geometry().size.w > 0 && ready(s, &p.window))
            })
            .expect("event loop runs");
        assert!(found, "desktop {desktop} got no window as expected");
        self.settle();
        let state = &self.compositor.state;
        state.layout.desktops()[desktop]
            .windows()
            .iter()
            .map(|p| p.window.clone())
            .find(|w| ready(state, w))
            .expect("the window is still there")
    }

    /// Where `window`'s content is on the output.
    pub fn content(&self, window: &Window) -> Rect {
        let pos = self
            .compositor
            .state
            .layout
            .position(window)
            .expect("window is placed");
        content_rect(window, pos)
    }

    /// The output as shown now.
    pub fn shot(&mut self) -> Screenshot {
        self.compositor.screenshot().expect("screenshot")
    }

    /// The index of `profile`'s desktop.
    pub fn desktop(&self, profile: &str) -> usize {
        self.compositor
            .state
            .layout
            .index_of(profile)
            .expect("desktop exists")
    }

    /// Shows `profile`'s desktop.
    pub fn show(&mut self, profile: &str) {
        let i = self.desktop(profile);
        self.compositor.state.do_action(Action::SwitchTo(i));
    }

    /// Presses and releases `key` with `modifiers` held (evdev codes), then
    /// lets the frames pass.
    pub fn press(&mut self, modifiers: &[u32], key: u32) {
        press(&mut self.compositor, modifiers, key);
        self.settle();
    }

    /// Presses and releases Super+`key`.
    pub fn super_key(&mut self, key: u32) {
        self.press(&[keys::LEFT_META], key);
    }

    /// A wayland-client of the harness with `origin`'s identity, inserted
    /// over a socket pair (as the socket of `origin` would have accepted it)
    /// and with the globals it may see read.
    pub fn add_client(&mut self, origin: Origin) -> Client {
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        self.compositor
            .state
            .display_handle
            .insert_client(theirs, Arc::new(ClientState::new(origin)))
            .expect("client inserted");
        let mut client = Client::new(ours).expect("client connects");
        self.roundtrip(&mut client)
            .expect("the client gets its globals");
        client
    }

    /// A wayland-client of the harness connected to the socket at `socket`
    /// (so the compositor gives it that socket's identity), with the
    /// globals it may see read.
    pub fn connect(&mut self, socket: &Path) -> Client {
        let stream = UnixStream::connect(socket)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()));
        let mut client = Client::new(stream).expect("client connects");
        self.roundtrip(&mut client)
            .expect("the client gets its globals");
        client
    }

    /// A round trip of `client` while this thread dispatches the compositor:
    /// every request sent before has been handled and every event it caused
    /// handled by the client.
    pub fn roundtrip(&mut self, client: &mut Client) -> Result<(), ClientError> {
        let n = client.sync();
        let end = Instant::now() + WAIT;
        while !client.synced(n) {
            if Instant::now() > end {
                return Err(ClientError(format!("no round trip within {WAIT:?}")));
            }
            client.flush()?;
            self.compositor
                .dispatch(Duration::from_millis(1))
                .expect("event loop runs");
            client.dispatch(Duration::ZERO)?;
        }
        Ok(())
    }

    /// Round trips of `client` until `done` holds on what it has seen and
    /// on the compositor's state; false after [`WAIT`].
    pub fn roundtrip_until(
        &mut self,
        client: &mut Client,
        mut done: impl FnMut(&crate::wayland::Seen, &mut zion_compositor::State) -> bool,
    ) -> Result<bool, ClientError> {
        let end = Instant::now() + WAIT;
        loop {
            self.roundtrip(client)?;
            if done(&client.seen, &mut self.compositor.state) {
                return Ok(true);
            }
            if Instant::now() > end {
                return Ok(false);
            }
            self.compositor
                .dispatch(Duration::from_millis(1))
                .expect("event loop runs");
        }
    }

    /// Round trips of `client` until `done` holds on what it has seen;
    /// fails the test, naming `what` and what the client saw, otherwise.
    pub fn wait_seen(
        &mut self,
        client: &mut Client,
        what: &str,
        done: impl Fn(&crate::wayland::Seen) -> bool,
    ) {
        let ok = self
            .roundtrip_until(client, |seen, _| done(seen))
            .unwrap_or_else(|e| panic!("{what}: the client stopped: {e}"));
        let seen = &client.seen;
        assert!(ok && done(seen), "{what}: {seen:?}");
    }

    /// Lets the compositor settle, then a round trip of `client`, so that
    /// it has read everything the compositor sent.
    pub fn settle_client(&mut self, client: &mut Client) {
        self.settle();
        self.roundtrip(client).expect("the client runs");
    }
}

impl Default for Fixture {
    fn default() -> Fixture {
        Fixture::new()
    }
}

/// Lets a few frames of `compositor` pass, so what clients drew is shown.
pub fn settle(compositor: &mut Compositor) {
    for _ in 0..5 {
        compositor
            .dispatch(zion_compositor::compositor::FRAME_INTERVAL)
            .expect("event loop runs");
    }
}

/// Presses and releases `key` with `modifiers` held, on `compositor`'s seat.
pub fn press(compositor: &mut Compositor, modifiers: &[u32], key: u32) {
    let s = &mut compositor.state;
    for m in modifiers {
        s.key(*m, true);
    }
    s.key(key, true);
    s.key(key, false);
    for m in modifiers.iter().rev() {
        s.key(*m, false);
    }
}

/// Presses and releases Super+Shift+`key` (the transfer hotkeys).
pub fn press_super_shift(compositor: &mut Compositor, key: u32) {
    press(compositor, &[keys::LEFT_META, keys::LEFT_SHIFT], key);
}

/// A profile name the test knows is valid.
pub fn profile_name(name: &str) -> zion_config::ProfileName {
    name.parse().expect("a valid profile name")
}

/// The origin of a disposable sandbox of `profile`.
pub fn sandbox(profile: &str, instance: &str) -> Origin {
    Origin::Sandbox {
        profile: profile_name(profile),
        instance: instance.parse().expect("instance name"),
    }
}

/// The colour of a built-in profile.
pub fn colour(profile: &str) -> Colour {
    Config::defaults()
        .profile(profile)
        .expect("a default profile")
        .colour
}

/// A colour as the (r, g, b) a screenshot gives.
pub fn rgb(c: Colour) -> (u8, u8, u8) {
    (c.r, c.g, c.b)
}

/// Keeps `shot` as `$CARGO_TARGET_TMPDIR/<folder>/NAME.png` (`target_tmp`
/// is the test's `env!("CARGO_TARGET_TMPDIR")`), for the record.
pub fn keep_png(shot: &Screenshot, target_tmp: &str, folder: &str, name: &str) -> PathBuf {
    let dir = Path::new(target_tmp).join(folder);
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let path = dir.join(format!("{name}.png"));
    shot.write_png(&path).expect("screenshot written");
    eprintln!("screenshot: {}", path.display());
    path
}

/// A PNG file (as grim or the compositor writes it) as a [`Screenshot`].
pub fn read_png(path: &Path) -> Screenshot {
    let file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("no PNG at {}: {e}", path.display()));
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("the PNG header reads");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("the PNG pixels read");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("a {other:?} PNG at {}", path.display()),
    };
    let rgba = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2], 0xff])
        .collect();
    Screenshot {
        width: info.width,
        height: info.height,
        rgba,
    }
}

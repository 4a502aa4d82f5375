//! `org.zionos.Compositor1` at `/org/zionos/Compositor1`: the desktops and
//! which one is shown (a property with change signals), switching, sockets
//! for disposable browser sandboxes, and screenshots.
//!
//! The compositor is synchronous, so the bus lives on its own thread (a
//! small current-thread tokio runtime). Each method call becomes a
//! [`Request`] sent into the event loop over a calloop channel, answered
//! over a oneshot; the decisions are the pure functions below.
//!
//! Only the session user's own processes on the host may call a method
//! (zionctl, zion-sandboxd, the panel); a container that reached the bus is
//! refused with `AccessDenied` before its call reaches the event loop (see
//! [`zion_caller::Gate`]). `ActiveDesktop` stays readable by any peer: its
//! changes are broadcast as signals anyway.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use smithay::reexports::calloop::channel;
use smithay::reexports::wayland_server::backend::ClientId;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};
use zbus::interface;
use zbus::message::Header;
use zion_caller::{Gate, Guarded};
use zion_config::Config;

use crate::calls::{self, Call};
use crate::hotkeys::Action;
use crate::identity::{InstanceName, Origin};
use crate::screenshot::Screenshot;
use crate::sockets::SANDBOXES;
use crate::state::{State, HOST_COLOUR};

/// The bus name.
pub const NAME: &str = zion_bus::compositor::NAME;
/// The object path.
pub const PATH: &str = zion_bus::compositor::PATH;

/// How long the compositor waits for the bus at start before going on
/// without it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The errors the interface returns, named `org.zionos.Compositor1.Error.*`.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.zionos.Compositor1.Error")]
pub enum CompositorError {
    /// A D-Bus failure.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// No desktop (profile) has this name.
    UnknownDesktop(String),
    /// An argument is malformed (instance name, path).
    InvalidArgument(String),
    /// This sandbox socket is open already.
    AlreadyOpen(String),
    /// No sandbox socket of this name is open.
    NoSuchSocket(String),
    /// Anything else: the message says what and where.
    Failed(String),
}

/// The answer to a request, sent back to the bus thread.
pub type Reply<T> = oneshot::Sender<Result<T, CompositorError>>;

/// A method call for the event loop.
#[derive(Debug)]
pub enum Request {
    /// Show the desktop called `name`.
    SwitchTo {
        /// The desktop (profile) name.
        name: String,
        /// Where the answer goes.
        reply: Reply<()>,
    },
    /// Open a sandbox socket; the answer is its path.
    OpenSocket {
        /// The profile.
        profile: String,
        /// The instance.
        instance: String,
        /// Where the answer goes.
        reply: Reply<PathBuf>,
    },
    /// Close a sandbox socket and disconnect its clients.
    CloseSocket {
        /// The profile.
        profile: String,
        /// The instance.
        instance: String,
        /// Where the answer goes.
        reply: Reply<()>,
    },
    /// The output as shown.
    Screenshot {
        /// Where the answer goes.
        reply: Reply<Screenshot>,
    },
    /// Lock the session (start the locker).
    Lock {
        /// Where the answer goes.
        reply: Reply<()>,
    },
    /// Cover a profile's desktop.
    LockProfile {
        /// The profile.
        name: String,
        /// Where the answer goes.
        reply: Reply<()>,
    },
    /// Ask to uncover a profile's desktop (the locker authenticates).
    UnlockProfile {
        /// The profile.
        name: String,
        /// Where the answer goes.
        reply: Reply<()>,
    },
    /// A call to the session daemon failed: tell the user.
    Notice(String),
}

/// The desktop called `name` among `names` (config order), or an error
/// listing them.
pub fn find_desktop<'a>(
    names: impl IntoIterator<Item = &'a str> + Clone,
    name: &str,
) -> Result<usize, CompositorError> {
    names
        .clone()
        .into_iter()
        .position(|n| n == name)
        .ok_or_else(|| {
            let known: Vec<&str> = names.into_iter().collect();
            CompositorError::UnknownDesktop(format!(
                "there is no desktop `{}`; the desktops are: {}",
                name.escape_debug(),
                known.join(", ")
            ))
        })
}

/// The origin of sandbox `instance` of `profile` under `config`: the
/// profile must exist and the instance name be a safe folder name.
pub fn sandbox_origin(
    config: &Config,
    profile: &str,
    instance: &str,
) -> Result<Origin, CompositorError> {
    let names = config.profiles.iter().map(|p| p.name.as_ref());
    let i = find_desktop(names, profile)?;
    // A profile called `sandboxes` would have every sandbox socket inside
    // the socket folder bind-mounted into its container.
    if config.profile(SANDBOXES).is_some() {
        return Err(CompositorError::Failed(format!(
            "a profile is called `{SANDBOXES}`, whose socket folder would hold every sandbox's \
             socket; rename that profile in zion.toml to open sandbox sockets"
        )));
    }
    let instance: InstanceName = instance
        .parse()
        .map_err(|e: String| CompositorError::InvalidArgument(e))?;
    Ok(Origin::Sandbox {
        profile: config.profiles[i].name.clone(),
        instance,
    })
}

/// A screenshot's path from the caller: it must be absolute (the
/// compositor's working folder means nothing to the caller).
pub fn screenshot_path(path: &str) -> Result<PathBuf, CompositorError> {
    let p = Path::new(path);
    if path.is_empty() || !p.is_absolute() {
        return Err(CompositorError::InvalidArgument(format!(
            "the screenshot path `{}` is not absolute; give a full path such as /tmp/shot.png",
            path.escape_debug()
        )));
    }
    Ok(p.to_owned())
}

/// The desktops as `ListDesktops` gives them: name and frame colour.
pub fn desktops(state: &State) -> Vec<(String, String)> {
    state
        .layout
        .desktops()
        .iter()
        .map(|d| {
            let colour = state
                .config
                .profile(&d.name)
                .map_or(HOST_COLOUR, |p| p.colour);
            (d.name.clone(), colour.to_string())
        })
        .collect()
}

/// The event loop's end of the bus: what `ActiveDesktop` and
/// `LockedProfiles` read, and a nudge to the bus thread to signal a change.
#[derive(Debug)]
pub struct Link {
    active: Arc<Mutex<String>>,
    locked: Arc<Mutex<Vec<String>>>,
    changed: mpsc::UnboundedSender<Changed>,
    calls: mpsc::UnboundedSender<Call>,
}

/// Which property changed.
#[derive(Debug, Clone, Copy)]
enum Changed {
    ActiveDesktop,
    LockedProfiles,
}

impl State {
    /// Makes `ActiveDesktop` the shown desktop, signalling if it changed.
    /// Called after every round of the event loop and before answering a
    /// `SwitchTo`, so a hotkey's switch is announced as a call's is.
    pub fn announce_active(&mut self) {
        let Some(bus) = &self.bus else {
            return;
        };
        let name = &self.layout.active_desktop().name;
        let mut active = bus.active.lock().unwrap_or_else(|e| e.into_inner());
        if *active != *name {
            active.clone_from(name);
            // The bus thread may have gone (it logged why); nothing to do.
            let _ = bus.changed.send(Changed::ActiveDesktop);
        }
    }

    /// Makes `LockedProfiles` the covered profiles, signalling if it
    /// changed.
    pub fn announce_locked_profiles(&mut self) {
        let Some(bus) = &self.bus else {
            return;
        };
        let now = self.profile_locks.locked();
        let mut locked = bus.locked.lock().unwrap_or_else(|e| e.into_inner());
        if *locked != now {
            *locked = now;
            let _ = bus.changed.send(Changed::LockedProfiles);
        }
    }

    /// Asks the session daemon to do `call` (from the bus thread); a
    /// failure comes back as a notice.
    pub fn call_daemon(&mut self, call: Call) {
        let sent = match &self.bus {
            Some(bus) => bus.calls.send(call.clone()).is_ok(),
            None => false,
        };
        if !sent {
            self.notice(format!(
                "{} failed: the compositor is not on a session bus, so it cannot reach zion-sandboxd (start it with zion-session)",
                call.describe()
            ));
        }
    }

    /// Tells the user something went wrong (logged; kept for the panel).
    pub fn notice(&mut self, message: String) {
        warn!("{message}");
        self.notices.push(message);
    }

    /// Does what `request` asks and answers it. Returns the clients it
    /// disconnected, for the caller to dispatch so that their windows go.
    pub fn handle_request(&mut self, request: Request) -> Vec<ClientId> {
        match request {
            Request::SwitchTo { name, reply } => {
                let names = self.layout.desktops().iter().map(|d| d.name.as_str());
                let result = find_desktop(names, &name).map(|i| {
                    self.do_action(Action::SwitchTo(i));
                    self.announce_active();
                });
                let _ = reply.send(result);
                Vec::new()
            }
            Request::OpenSocket {
                profile,
                instance,
                reply,
            } => {
                let _ = reply.send(self.open_socket(&profile, &instance));
                Vec::new()
            }
            Request::CloseSocket {
                profile,
                instance,
                reply,
            } => match self.close_socket(&profile, &instance) {
                Ok(gone) => {
                    let _ = reply.send(Ok(()));
                    gone
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                    Vec::new()
                }
            },
            Request::Notice(message) => {
                self.notice(message);
                Vec::new()
            }
            Request::Lock { reply } => {
                self.do_action(Action::Lock);
                let _ = reply.send(Ok(()));
                Vec::new()
            }
            Request::LockProfile { name, reply } => {
                let _ = reply.send(self.lock_profile(&name));
                Vec::new()
            }
            Request::UnlockProfile { name, reply } => {
                let _ = reply.send(self.unlock_profile(&name));
                Vec::new()
            }
            Request::Screenshot { reply } => {
                self.render_frame();
                let shot = self
                    .backend
                    .screenshot()
                    .map_err(|e| CompositorError::Failed(format!("{e:#}")));
                let _ = reply.send(shot);
                Vec::new()
            }
        }
    }

    fn open_socket(&mut self, profile: &str, instance: &str) -> Result<PathBuf, CompositorError> {
        let origin = sandbox_origin(&self.config, profile, instance)?;
        if self.listeners.iter().any(|l| l.origin == origin) {
            return Err(CompositorError::AlreadyOpen(format!(
                "the sandbox socket {profile}/{instance} is open already; close it first \
                 (CloseSocket) or pick another instance name"
            )));
        }
        let path = self
            .open_sandbox_socket(origin)
            .map_err(|e| CompositorError::Failed(format!("{e:#}")))?;
        std::path::absolute(&path)
            .map_err(|e| CompositorError::Failed(format!("{}: {e}", path.display())))
    }

    fn close_socket(
        &mut self,
        profile: &str,
        instance: &str,
    ) -> Result<Vec<ClientId>, CompositorError> {
        let origin = sandbox_origin(&self.config, profile, instance)?;
        match self.close_sandbox_socket(&origin) {
            Ok(Some(gone)) => Ok(gone),
            Ok(None) => {
                let open: Vec<String> = self
                    .listeners
                    .iter()
                    .filter_map(|l| match &l.origin {
                        Origin::Sandbox { profile, instance } => {
                            Some(format!("{profile}/{instance}"))
                        }
                        _ => None,
                    })
                    .collect();
                Err(CompositorError::NoSuchSocket(format!(
                    "no sandbox socket {profile}/{instance} is open; open ones: {}",
                    if open.is_empty() {
                        "none".to_owned()
                    } else {
                        open.join(", ")
                    }
                )))
            }
            Err(e) => Err(CompositorError::Failed(format!("{e:#}"))),
        }
    }
}

/// The interface: thin, every decision is made in the event loop.
struct Compositor1 {
    desktops: Vec<(String, String)>,
    active: Arc<Mutex<String>>,
    locked: Arc<Mutex<Vec<String>>>,
    requests: channel::Sender<Request>,
    gate: Gate,
}

impl Compositor1 {
    async fn ask<T>(
        &self,
        request: impl FnOnce(Reply<T>) -> Request,
    ) -> Result<T, CompositorError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .map_err(|_| CompositorError::Failed("the compositor is stopping".to_owned()))?;
        answer.await.map_err(|_| {
            CompositorError::Failed("the compositor stopped before answering".to_owned())
        })?
    }
}

#[interface(name = "org.zionos.Compositor1")]
impl Compositor1 {
    /// The desktops in config order: (profile name, frame colour `#rrggbb`).
    async fn list_desktops(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
    ) -> Result<Vec<(String, String)>, Guarded<CompositorError>> {
        self.gate.check(bus, &header).await?;
        Ok(self.desktops.clone())
    }

    /// The desktop shown.
    #[zbus(property)]
    fn active_desktop(&self) -> String {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Shows the desktop called `name`.
    async fn switch_to(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: String,
    ) -> Result<(), Guarded<CompositorError>> {
        self.gate.check(bus, &header).await?;
        self.ask(|reply| Request::SwitchTo { name, reply })
            .await
            .map_err(Guarded::Failed)
    }

    /// Opens a Wayland socket for a disposable browser sandbox of `profile`
    /// and returns its path, `$XDG_RUNTIME_DIR/zion/sandboxes/<profile>/<instance>/wayland-0`.
    async fn open_socket(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        profile: String,
        instance: String,
    ) -> Result<String, Guarded<CompositorError>> {
        self.gate.check(bus, &header).await?;
        let path = self
            .ask(|reply| Request::OpenSocket {
                profile,
                instance,
                reply,
            })
            .await
            .map_err(Guarded::Failed)?;
        path.into_os_string().into_string().map_err(|p| {
            Guarded::Failed(CompositorError::Failed(format!(
                "the socket path {} is not UTF-8: set XDG_RUNTIME_DIR to a UTF-8 path",
                Path::new(&p).display()
            )))
        })
    }

    /// Closes a sandbox socket: removes it and its folder, and disconnects
    /// its clients.
    async fn close_socket(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        profile: String,
        instance: String,
    ) -> Result<(), Guarded<CompositorError>> {
        self.gate.check(bus, &header).await?;
        self.ask(|reply| Request::CloseSocket {
            profile,
            instance,
            reply,
        })
        .await
        .map_err(Guarded::Failed)
    }

    /// Writes a PNG of the output as shown to `path` (absolute). The
    /// compositor writes it with its own rights: that is why only the
    /// session user's own processes may ask.
    async fn screenshot(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        path: String,
    ) -> Result<(), Guarded<CompositorError>> {
        self.gate.check(bus, &header).await?;
        let path = screenshot_path(&path).map_err(Guarded::Failed)?;
        let shot = self
            .ask(|reply| Request::Screenshot { reply })
            .await
            .map_err(Guarded::Failed)?;
        tokio::task::spawn_blocking(move || shot.write_png(&path))
            .await
            .map_err(|e| CompositorError::Failed(format!("the screenshot task failed: {e}")))
            .and_then(|written| written.map_err(|e| CompositorError::Failed(format!("{e:#}"))))
            .map_err(Guarded::Failed)
    }

    /// Locks the session: starts the session's locker on the host socket.
    async fn lock(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
    ) -> Result<(), Guarded<CompositorError>> {
        self.gate.check(bus, &header).await?;
        self.ask(|reply| Request::Lock { reply })
            .await
            .map_err(Guarded::Failed)
    }

    /// Covers profile `name`'s desktop: its windows hidden, its clients
    /// given no input, while the other desktops run.
    async fn lock_profile(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: String,
    ) -> Result<(), Guarded<CompositorError>> {
        self.gate.check(bus, &header).await?;
        self.ask(|reply| Request::LockProfile { name, reply })
            .await
            .map_err(Guarded::Failed)
    }

    /// Asks to uncover profile `name`'s desktop: starts the session's
    /// locker, and uncovers it when that lock is released (the person
    /// authenticated).
    async fn unlock_profile(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        name: String,
    ) -> Result<(), Guarded<CompositorError>> {
        self.gate.check(bus, &header).await?;
        self.ask(|reply| Request::UnlockProfile { name, reply })
            .await
            .map_err(Guarded::Failed)
    }

    /// The profiles whose desktops are covered, sorted.
    #[zbus(property)]
    fn locked_profiles(&self) -> Vec<String> {
        self.locked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Serves the interface on the bus at `address` from a thread of its own,
/// and returns once the name is owned (or with why not). Requests arrive on
/// the returned channel; the [`Link`] goes into the state.
pub fn serve(
    address: &str,
    desktops: Vec<(String, String)>,
    active: String,
) -> anyhow::Result<(Link, channel::Channel<Request>)> {
    let (requests, channel) = channel::channel();
    let notices = requests.clone();
    let (changed, mut changes) = mpsc::unbounded_channel();
    let (calls, mut outgoing) = mpsc::unbounded_channel::<Call>();
    let active = Arc::new(Mutex::new(active));
    let locked = Arc::new(Mutex::new(Vec::new()));
    let iface = Compositor1 {
        desktops,
        active: active.clone(),
        locked: locked.clone(),
        requests,
        gate: Gate::new(),
    };
    let (ready, started) = std::sync::mpsc::channel::<anyhow::Result<()>>();
    let address = address.to_owned();
    std::thread::Builder::new()
        .name("zion-dbus".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready.send(Err(e).context("error creating the D-Bus thread's runtime"));
                    return;
                }
            };
            runtime.block_on(async move {
                let connection = async {
                    zbus::connection::Builder::address(address.as_str())?
                        .serve_at(PATH, iface)?
                        .name(NAME)?
                        // A second compositor must not take the name from
                        // the one running, nor have its own taken.
                        .allow_name_replacements(false)
                        .replace_existing_names(false)
                        .build()
                        .await
                }
                .await;
                let connection = match connection {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready.send(Err(e).with_context(|| {
                            format!("error owning {NAME} on the session bus {address}")
                        }));
                        return;
                    }
                };
                let iface = match connection
                    .object_server()
                    .interface::<_, Compositor1>(PATH)
                    .await
                {
                    Ok(i) => i,
                    Err(e) => {
                        let _ = ready.send(Err(e).context("error finding the served interface"));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                info!("serving {NAME} on the session bus");
                // Until the compositor drops its link.
                loop {
                    tokio::select! {
                        change = changes.recv() => {
                            let Some(change) = change else {
                                break;
                            };
                            let served = iface.get().await;
                            let emitter = iface.signal_emitter();
                            let sent = match change {
                                Changed::ActiveDesktop => {
                                    served.active_desktop_changed(emitter).await
                                }
                                Changed::LockedProfiles => {
                                    served.locked_profiles_changed(emitter).await
                                }
                            };
                            if let Err(e) = sent {
                                warn!("could not signal the change of {change:?}: {e}");
                            }
                        }
                        Some(call) = outgoing.recv() => {
                            let (bus, notices) = (connection.clone(), notices.clone());
                            tokio::spawn(async move {
                                if let Err(message) = calls::perform(&bus, &call).await {
                                    let _ = notices.send(Request::Notice(message));
                                }
                            });
                        }
                    }
                }
            });
        })
        .context("error starting the D-Bus thread")?;
    started
        .recv_timeout(CONNECT_TIMEOUT)
        .context("the session bus did not answer in time")??;
    Ok((
        Link {
            active,
            locked,
            changed,
            calls,
        },
        channel,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> [&'static str; 3] {
        ["work", "personal", "gaming"]
    }

    #[test]
    fn a_desktop_is_found_by_name_in_config_order() {
        assert_eq!(find_desktop(names(), "work").ok(), Some(0));
        assert_eq!(find_desktop(names(), "gaming").ok(), Some(2));
    }

    #[test]
    fn an_unknown_desktop_is_refused_with_the_list() {
        match find_desktop(names(), "Work") {
            Err(CompositorError::UnknownDesktop(m)) => {
                assert!(m.contains("`Work`"), "{m}");
                assert!(m.contains("work, personal, gaming"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_sandbox_needs_a_known_profile_and_a_safe_instance_name() {
        let config = Config::defaults();
        match sandbox_origin(&config, "work", "tab-1") {
            Ok(Origin::Sandbox { profile, instance }) => {
                assert_eq!(profile.as_ref(), "work");
                assert_eq!(instance.as_ref(), "tab-1");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            sandbox_origin(&config, "nope", "tab-1"),
            Err(CompositorError::UnknownDesktop(_))
        ));
        for bad in ["", "../x", "a b", "x/y", ".", &"a".repeat(65)] {
            assert!(
                matches!(
                    sandbox_origin(&config, "work", bad),
                    Err(CompositorError::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_profile_called_sandboxes_blocks_sandbox_sockets() {
        let text = r##"
[[profile]]
name = "sandboxes"
label = "S"
colour = "#3465a4"
"##;
        let config = Config::parse(text, Path::new("zion.toml")).expect("a valid configuration");
        assert!(matches!(
            sandbox_origin(&config, "sandboxes", "x"),
            Err(CompositorError::Failed(_))
        ));
    }

    #[test]
    fn screenshots_need_an_absolute_path() {
        assert_eq!(
            screenshot_path("/tmp/a.png").ok(),
            Some(PathBuf::from("/tmp/a.png"))
        );
        for bad in ["", "a.png", "./a.png", "~/a.png"] {
            assert!(
                matches!(
                    screenshot_path(bad),
                    Err(CompositorError::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
    }
}

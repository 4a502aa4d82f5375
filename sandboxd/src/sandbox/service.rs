//! The sandboxes of a session: made (ahead of time, in the warm pool, or on
//! demand), handed out with a browser exec'd into them, watched until the
//! browser exits, and removed with everything they wrote but their
//! downloads, which the quarantine takes from their inbox folder.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use podman_api::conn::TtyChunk;
use podman_api::opts::{
    ContainerDeleteOpts, ContainerListFilter, ContainerListOpts, ExecCreateOpts, ExecStartOpts,
};
use tokio::sync::broadcast;
use zion_config::{Focus, Network, SandboxBrowser, DEFAULT_WEIGHT};
use zion_profiles::network::sandbox_network;
use zion_quarantine::{Source, Store};

use super::compositor::Compositor;
use super::devtools::{make_pipes, Observer};
use super::gvisor::{self, Gvisor, GvisorSettings};
use super::settle;
use super::spec::{
    browser_command_observed, check_url, container_name, sandbox_spec, source_label, source_name,
    SandboxPaths, BROWSER_UID, LABEL_SANDBOX, LABEL_SANDBOX_PROFILE,
};
use super::state::{next_id, pool_plan, SandboxState, Step};
use super::warm;
use crate::session::Made;
use crate::Session;
use zion_profiles::spec::IdRange;

/// How long an emptied inbox folder is waited for after a sandbox closed:
/// the quarantine takes its files, then the folder goes. A folder still
/// holding something after that (a download cut short) stays.
const INBOX_DRAIN: Duration = Duration::from_secs(300);
/// How long after an open the warm pool is refilled.
const REFILL_DELAY: Duration = Duration::from_secs(2);
/// The warm pool stops refilling after this many sandboxes in a row could
/// not be frozen (something is wrong with Podman, not with one container).
const MAX_UNFROZEN: u32 = 3;

/// What can go wrong with a sandbox; the message says what and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// No such profile in zion.toml.
    #[error("no profile `{profile}` in zion.toml (profiles: {known})")]
    UnknownProfile {
        /// The name asked for.
        profile: String,
        /// The profiles there are.
        known: String,
    },
    /// The URL is not one a browser should be given.
    #[error("{0}")]
    InvalidUrl(String),
    /// No sandbox has this id.
    #[error("no sandbox `{id}` is open (open: {open})")]
    NoSuchSandbox {
        /// The id asked for.
        id: String,
        /// The ids open.
        open: String,
    },
    /// The quarantine is not running, so downloads would have nowhere safe to go.
    #[error("the quarantine is not running, and a sandbox's downloads go only there; see the daemon's log for why it did not start")]
    NoQuarantine,
    /// Podman, the quarantine or the file system failed.
    #[error("{0}")]
    Failed(String),
}

/// Something the sandboxes tell their listeners (the D-Bus signals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxEvent {
    /// A sandbox was handed out and its browser started.
    Opened {
        /// Its id.
        id: String,
        /// Its profile.
        profile: String,
    },
    /// A sandbox ended.
    Closed {
        /// Its id.
        id: String,
        /// Why, as a user reads it.
        reason: String,
    },
}

/// One sandbox.
#[derive(Debug, Clone)]
struct Entry {
    profile: String,
    container: String,
    wayland: Option<PathBuf>,
    state: SandboxState,
    /// Pooled (and frozen, where freezing works): it can be handed out.
    ready: bool,
    /// Paused by the pool: thawed when taken.
    frozen: bool,
    /// `Opened` was signalled, so `Closed` will be.
    opened: bool,
    /// Its user-namespace slot (rootful Podman), apart from every other
    /// live sandbox's and every profile's.
    slot: Option<u32>,
    /// What follows its browser's downloads (issue 17), when it could start.
    devtools: Option<Observer>,
    /// Its browser runs already, with no window (issue 15).
    warm: bool,
}

/// The sandbox service's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The browser image.
    pub image: String,
    /// Sandboxes kept ready.
    pub pool: usize,
    /// Pooled sandboxes hold a browser started with no window (issue 15).
    pub warm_browser: bool,
    /// The browser the image holds.
    pub browser: SandboxBrowser,
    /// Under gVisor (`[sandbox] runtime = "gvisor"`), where to find it;
    /// `None`: runc.
    pub gvisor: Option<GvisorSettings>,
}

/// The session's sandboxes.
pub struct Sandboxes {
    session: Arc<Session>,
    store: Option<Arc<Store>>,
    compositor: Compositor,
    settings: Settings,
    gvisor: Option<Gvisor>,
    entries: Mutex<Entries>,
    refilling: tokio::sync::Mutex<()>,
    /// Set when the daemon stops: nothing more is made.
    stopping: std::sync::atomic::AtomicBool,
    events: broadcast::Sender<SandboxEvent>,
}

#[derive(Debug, Default)]
struct Entries {
    all: BTreeMap<u64, Entry>,
    last_id: u64,
    /// The profile the pool holds sandboxes of.
    pool_profile: Option<String>,
}

impl Sandboxes {
    /// Sandboxes of `session`'s profiles; downloads go to `store`'s inbox,
    /// windows to the compositor when there is one.
    pub fn new(
        session: Arc<Session>,
        store: Option<Arc<Store>>,
        compositor: Compositor,
        settings: Settings,
    ) -> Sandboxes {
        let (events, _) = broadcast::channel(64);
        Sandboxes {
            session,
            store,
            compositor,
            gvisor: settings.gvisor.clone().map(Gvisor::new),
            settings,
            entries: Mutex::new(Entries::default()),
            refilling: tokio::sync::Mutex::new(()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            events,
        }
    }

    /// Listens to openings and closings.
    pub fn subscribe(&self) -> broadcast::Receiver<SandboxEvent> {
        self.events.subscribe()
    }

    fn entries<T>(&self, f: impl FnOnce(&mut Entries) -> T) -> T {
        f(&mut self.entries.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn podman(&self) -> &podman_api::Podman {
        self.session.lifecycle().client().api()
    }

    /// The Podman client: its `timed` puts each podman-api call under a limit.
    /// Under gVisor, the browser Podman (once found: [`Gvisor::ready`]).
    fn client(&self) -> &zion_profiles::PodmanClient {
        match self.gvisor.as_ref().and_then(Gvisor::podman) {
            Some(podman) => podman,
            None => self.session.lifecycle().client(),
        }
    }

    /// waypipe's socket folder of sandbox `source` (under gVisor).
    fn waypipe_dir(&self, source: &str) -> PathBuf {
        self.session.paths().runtime.join("waypipe").join(source)
    }

    /// Every sandbox handed out: (id, profile, state), by id.
    pub fn list(&self) -> Vec<(String, String, String)> {
        self.entries(|e| {
            e.all
                .iter()
                .filter(|(_, s)| s.state != SandboxState::Pooled)
                .map(|(id, s)| (id.to_string(), s.profile.clone(), s.state.word().to_owned()))
                .collect()
        })
    }

    /// Removes every sandbox container a previous run left (a crash), and
    /// their sockets.
    pub async fn remove_leftovers(&self) {
        // Their DevTools FIFOs and waypipe sockets too (no sandbox of this
        // run has any yet).
        for folder in ["devtools", "waypipe"] {
            let dir = self.session.paths().runtime.join(folder);
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!("removing {}: {e}", dir.display());
                }
            }
        }
        // gVisor's containers are removed by the Podman that runs them.
        if let Some(gvisor) = &self.gvisor {
            if let Err(e) = gvisor.ready().await {
                tracing::warn!("{e}");
            }
        }
        let opts = ContainerListOpts::builder()
            .all(true)
            .filter([ContainerListFilter::LabelKey(LABEL_SANDBOX.into())])
            .build();
        let list = match self
            .client()
            .timed(
                "GET /libpod/containers/json",
                self.podman().containers().list(&opts),
            )
            .await
        {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!("looking for sandboxes a previous run left: {e}");
                return;
            }
        };
        for c in list {
            let Some(container) = c.id.clone() else {
                continue;
            };
            let labels = c.labels.unwrap_or_default();
            let id = labels.get(LABEL_SANDBOX).cloned().unwrap_or_default();
            let profile = labels
                .get(LABEL_SANDBOX_PROFILE)
                .cloned()
                .unwrap_or_default();
            self.delete_container(&container).await;
            self.compositor.close_socket(&profile, &id).await;
            tracing::info!("removed sandbox {profile}/{id}, left by a previous run");
            if let Some(dir) = self.inbox_dir(&profile, &id) {
                tokio::spawn(drain_then_remove(dir));
            }
        }
    }

    fn inbox_dir(&self, profile: &str, id: &str) -> Option<PathBuf> {
        if profile.is_empty() || id.is_empty() {
            return None;
        }
        Some(SandboxPaths::standard(&self.session.paths().data, profile, id).downloads)
    }

    /// Opens a browser on `url` in a new sandbox of `profile`; returns its id.
    pub async fn open(self: &Arc<Self>, profile: &str, url: &str) -> Result<String, SandboxError> {
        let started = Instant::now();
        self.known(profile)?;
        check_url(url).map_err(SandboxError::InvalidUrl)?;
        let (mut id, mut pooled) = match self.take_pooled(profile).await {
            Some(id) => (id, true),
            None => (self.make(profile, SandboxState::Starting).await?, false),
        };
        let ready = started.elapsed();
        // The pool follows the profile last used.
        self.entries(|e| e.pool_profile = Some(profile.to_owned()));
        let vanished = |id| SandboxError::Failed(format!("sandbox {id} vanished while opening"));
        let mut entry = self
            .entries(|e| e.all.get(&id).cloned())
            .ok_or_else(|| vanished(id))?;
        let mut launched = if entry.warm {
            self.open_warm(id, &entry, url).await
        } else {
            self.launch(id, &entry, url).await
        };
        if let (Err(err), true) = (&launched, entry.warm) {
            // A warm browser that does not answer costs the user its wait,
            // never the window: a sandbox made now takes its place.
            tracing::warn!("sandbox {profile}/{id}: its warm browser failed ({err}); opening a new sandbox instead");
            self.close_entry(id, &format!("its warm browser failed: {err}"))
                .await;
            (id, pooled) = (self.make(profile, SandboxState::Starting).await?, false);
            entry = self
                .entries(|e| e.all.get(&id).cloned())
                .ok_or_else(|| vanished(id))?;
            launched = self.launch(id, &entry, url).await;
        }
        if let Err(err) = launched {
            self.close_entry(id, &format!("its browser could not start: {err}"))
                .await;
            return Err(err);
        }
        let running = self.step(id, Step::Started).is_some();
        self.entries(|e| {
            if let Some(entry) = e.all.get_mut(&id) {
                entry.opened = true;
            }
        });
        tracing::info!(
            "sandbox {profile}/{id} opened ({}; container running after {ready:?}, browser launched after {:?}){}",
            match (pooled, entry.warm) {
                (true, true) => "from the warm pool, its browser warm",
                (true, false) => "from the warm pool",
                _ => "made now",
            },
            started.elapsed(),
            if entry.wayland.is_some() { "" } else { ", headless: no Wayland socket" }
        );
        let _ = self.events.send(SandboxEvent::Opened {
            id: id.to_string(),
            profile: profile.to_owned(),
        });
        if !running {
            // The browser ended before it was seen running: say so too.
            let _ = self.events.send(SandboxEvent::Closed {
                id: id.to_string(),
                reason: "the browser exited at once".into(),
            });
        }
        // The next pooled sandbox is made once this browser has had the CPU
        // to its first window, so that the two do not start together.
        self.clone().refill_after(REFILL_DELAY);
        Ok(id.to_string())
    }

    fn known(&self, profile: &str) -> Result<(), SandboxError> {
        if self.session.profile(profile).is_some() {
            return Ok(());
        }
        let config = self.session.config();
        let known: Vec<String> = config.profiles.iter().map(|p| p.name.to_string()).collect();
        Err(SandboxError::UnknownProfile {
            profile: profile.to_owned(),
            known: known.join(", "),
        })
    }

    fn step(&self, id: u64, step: Step) -> Option<SandboxState> {
        self.entries(|e| {
            let entry = e.all.get_mut(&id)?;
            let next = entry.state.next(step)?;
            entry.state = next;
            Some(next)
        })
    }

    /// Takes a pooled sandbox of `profile` and thaws it.
    async fn take_pooled(&self, profile: &str) -> Option<u64> {
        loop {
            let (id, container, frozen) = self.entries(|e| {
                let (id, entry) = e.all.iter_mut().find(|(_, s)| {
                    s.state == SandboxState::Pooled && s.ready && s.profile == profile
                })?;
                entry.state = entry.state.next(Step::Open)?;
                Some((*id, entry.container.clone(), entry.frozen))
            })?;
            if !frozen {
                return Some(id);
            }
            let thaw = self.podman().containers().get(&container);
            match self
                .client()
                .timed(
                    &format!("POST /libpod/containers/{container}/unpause"),
                    thaw.unpause(),
                )
                .await
            {
                Ok(()) => return Some(id),
                Err(e) => {
                    // It died while it waited: try the next one, or make one.
                    tracing::warn!(
                        "pooled sandbox {profile}/{id} could not be thawed ({e}); discarding it"
                    );
                    self.close_entry(id, "it could not be thawed").await;
                }
            }
        }
    }

    /// Makes a sandbox of `profile` in `state` (pooled, or starting when
    /// made for an `OpenBrowser`), running its waiting process; returns its id.
    async fn make(&self, profile: &str, state: SandboxState) -> Result<u64, SandboxError> {
        let ending = || SandboxError::Failed("the session is ending".into());
        if self.stopping() {
            return Err(ending());
        }
        let store = self.store.as_ref().ok_or(SandboxError::NoQuarantine)?;
        // Under gVisor or not at all: refused before anything is made.
        if let Some(gvisor) = &self.gvisor {
            gvisor.ready().await?;
        }
        let config = self
            .session
            .profile(profile)
            .ok_or_else(|| SandboxError::UnknownProfile {
                profile: profile.to_owned(),
                known: String::new(),
            })?;
        // Its profile's sandboxes' own network, made before anything else
        // of the sandbox so that a failure leaves nothing behind.
        if config.network == Network::Full {
            let network = sandbox_network(profile);
            self.session
                .ensure_network(&network)
                .await
                .map_err(|e| SandboxError::Failed(format!("a sandbox of `{profile}`: {e:#}")))?;
        }
        let id = self.allocate_id(store).await?;
        let ids = id.to_string();
        let source = Source {
            name: source_name(profile, &ids),
            label: source_label(profile, &ids),
            profile: Some(profile.to_owned()),
        };
        let store2 = store.clone();
        let downloads = tokio::task::spawn_blocking(move || store2.add_source(&source))
            .await
            .map_err(|e| SandboxError::Failed(format!("registering the download folder: {e}")))?
            .map_err(|e| {
                SandboxError::Failed(format!(
                    "registering the download folder of sandbox {profile}/{id} in the quarantine: {e}"
                ))
            })?;
        let wayland = self.compositor.open_socket(profile, &ids).await;
        // The host follows its downloads through DevTools FIFOs of its own;
        // without them, the files' own claims are all there is.
        let devtools_dir = self
            .session
            .paths()
            .runtime
            .join("devtools")
            .join(source_name(profile, &ids));
        let pipes = match self.settings.browser {
            SandboxBrowser::Chromium => Some(make_pipes(&devtools_dir).and_then(|()| {
                Observer::start(&devtools_dir, source_name(profile, &ids), store.clone())
            })),
            // Firefox has no DevTools over a pipe (see `firefox`): the host
            // observes nothing of its downloads.
            SandboxBrowser::Firefox => None,
        };
        let devtools = match pipes {
            None => None,
            Some(Ok(observer)) => Some(observer),
            Some(Err(e)) => {
                tracing::warn!(
                    "sandbox {profile}/{id}: its downloads' URLs will not be seen by the host: {}: {e}",
                    devtools_dir.display()
                );
                let _ = std::fs::remove_dir_all(&devtools_dir);
                None
            }
        };
        let rootless = self.session.rootless();
        let slot = self.entries(|e| {
            let slot = if rootless {
                None
            } else {
                let used: Vec<u32> = e.all.values().filter_map(|x| x.slot).collect();
                crate::ids::sandbox_slot(&used)
            };
            e.all.insert(
                id,
                Entry {
                    profile: profile.to_owned(),
                    container: container_name(profile, &ids),
                    wayland: wayland.clone(),
                    state,
                    ready: false,
                    opened: false,
                    slot,
                    frozen: false,
                    devtools: devtools.clone(),
                    warm: false,
                },
            );
            slot
        });
        let range = slot.and_then(IdRange::slot);
        if !rootless && range.is_none() {
            self.close_entry(id, "no user-namespace range was free")
                .await;
            return Err(SandboxError::Failed(format!(
                "sandbox {profile}/{id}: every user-namespace range for sandboxes is in use; close one"
            )));
        }
        // The browser's uid on the host: in the sandbox's own range
        // (rootful), or one of the user's subordinate ids (rootless).
        let browser = match range {
            Some(range) => Some(range.host(BROWSER_UID)),
            None => self.session.uid_map().host(BROWSER_UID),
        };
        if rootless && browser.is_none() {
            tracing::warn!(
                "sandbox {profile}/{id}: rootless Podman's uid map does not hold the browser's uid {BROWSER_UID}; its window and downloads will be refused"
            );
        }
        if let Some(browser) = browser {
            if let Err(e) = open_to_browser(&downloads, wayland.as_deref(), browser) {
                self.close_entry(id, "its folders could not be opened to it")
                    .await;
                return Err(SandboxError::Failed(format!(
                    "sandbox {profile}/{id}: opening its folders to its browser's user: {e}"
                )));
            }
        }
        let paths = SandboxPaths {
            downloads,
            devtools: devtools.as_ref().map(|_| devtools_dir.clone()),
            wayland,
            ids: range,
        };
        let spec = match &self.gvisor {
            None => sandbox_spec(&config, &ids, &paths, &self.settings.image),
            Some(gvisor) => {
                let source = source_name(profile, &ids);
                let dir = self.waypipe_dir(&source);
                let spec = gvisor
                    .sandbox_spec(&config, &ids, &paths, &self.settings.image, &dir)
                    .await;
                match spec {
                    Ok(spec) => spec,
                    Err(err) => {
                        self.close_entry(id, "waypipe could not start").await;
                        return Err(err);
                    }
                }
            }
        };
        let made = async {
            let created = self
                .client()
                .create_container(&spec.to_json())
                .await
                .map_err(|e| {
                    SandboxError::Failed(format!(
                        "sandbox {profile}/{id}: {e}; is the browser image {} there? (`zionctl image build --browser`)",
                        self.settings.image
                    ))
                })?;
            // Podman makes it even where it ignores its limits: said, not dropped.
            for warning in &created.warnings {
                tracing::warn!(
                    "profile `{profile}`: Podman, creating disposable sandbox {id}: {warning}"
                );
            }
            self.session
                .note_warnings(profile, Made::Sandbox, &created.warnings);
            let container = created.id;
            self.entries(|e| {
                if let Some(entry) = e.all.get_mut(&id) {
                    entry.container.clone_from(&container);
                }
            });
            if let Some(gvisor) = &self.gvisor {
                gvisor.check(self.client(), &container).await?;
            }
            let made = self.podman().containers().get(&container);
            self.client()
                .timed(
                    &format!("POST /libpod/containers/{container}/start"),
                    made.start(None),
                )
                .await
                .map_err(|e| {
                    SandboxError::Failed(format!(
                        "sandbox {profile}/{id}: Podman could not start its container: {e}"
                    ))
                })
        };
        if let Err(err) = made.await {
            self.close_entry(id, "it could not be made").await;
            return Err(err);
        }
        // Made while the daemon began to stop: closed here, as no one else
        // will (the soak found such sandboxes left running).
        if self.stopping() {
            self.close_entry(id, "the session is ending").await;
            return Err(ending());
        }
        Ok(id)
    }

    fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn allocate_id(&self, store: &Arc<Store>) -> Result<u64, SandboxError> {
        let store = store.clone();
        let sources = tokio::task::spawn_blocking(move || store.sources())
            .await
            .map_err(|e| SandboxError::Failed(format!("reading the quarantine's sources: {e}")))?
            .map_err(|e| SandboxError::Failed(format!("reading the quarantine's sources: {e}")))?;
        Ok(self.entries(|e| {
            let live = e
                .all
                .keys()
                .next_back()
                .copied()
                .unwrap_or(0)
                .max(e.last_id);
            let id = next_id(sources.iter().map(|s| s.name.as_str()), live);
            e.last_id = id;
            id
        }))
    }

    /// Starts the browser in sandbox `id` and watches it: when it exits,
    /// the sandbox closes.
    async fn launch(
        self: &Arc<Self>,
        id: u64,
        entry: &Entry,
        url: &str,
    ) -> Result<(), SandboxError> {
        let mut argv = match self.settings.browser {
            SandboxBrowser::Chromium => {
                browser_command_observed(url, entry.wayland.is_some(), entry.devtools.is_some())
            }
            SandboxBrowser::Firefox => {
                super::firefox::firefox_command(url, entry.wayland.is_some())
            }
        };
        if self.gvisor.is_some() && entry.wayland.is_some() {
            argv = gvisor::through_waypipe(argv);
        }
        self.exec_browser(id, entry, &argv).await
    }

    /// Starts a pooled sandbox's browser with no window and waits for it
    /// to answer on its DevTools pipe (issue 15); `false` where it has no
    /// Wayland socket or DevTools pipe, or warm browsers are turned off.
    async fn warm_up(self: &Arc<Self>, id: u64) -> Result<bool, SandboxError> {
        let Some(entry) = self.entries(|e| e.all.get(&id).cloned()) else {
            return Ok(false);
        };
        let devtools = match &entry.devtools {
            // Not under gVisor: its window goes through waypipe, untried warm.
            Some(d)
                if self.settings.warm_browser
                    && entry.wayland.is_some()
                    && self.gvisor.is_none() =>
            {
                d
            }
            _ => return Ok(false),
        };
        let failed = |e: warm::WarmError| {
            SandboxError::Failed(format!("pooled sandbox {}/{id}: {e}", entry.profile))
        };
        // Buffered in the FIFO until the browser reads it, after the
        // observer's own set-up.
        warm::send(devtools.dir(), &warm::allow_downloads()).map_err(failed)?;
        warm::send(devtools.dir(), &warm::discover_targets()).map_err(failed)?;
        // Its start yields the CPU to the desktop, the browsers in use first.
        self.cpu_weight(&entry.container, warm::STARTING_WEIGHT)
            .await;
        self.exec_browser(id, &entry, &warm::warm_browser_command())
            .await?;
        warm::answered(
            &mut devtools.replies(),
            warm::DISCOVER_ID,
            warm::START_LIMIT,
        )
        .await
        .map_err(failed)?;
        // Its network service up, then its start-up over: one frozen
        // before that came back stalled or with that service dead.
        warm::send(devtools.dir(), &warm::probe_network()).map_err(failed)?;
        warm::answered(&mut devtools.replies(), warm::NETWORK_ID, warm::START_LIMIT)
            .await
            .map_err(failed)?;
        self.cpu_weight(&entry.container, DEFAULT_WEIGHT).await;
        self.settle(&entry).await;
        self.entries(|e| {
            if let Some(entry) = e.all.get_mut(&id) {
                entry.warm = true;
            }
        });
        Ok(true)
    }

    /// Waits until a pooled sandbox's browser has fallen quiet (see
    /// [`settle`]); one whose CPU time cannot be read, or that stays busy,
    /// is frozen anyway, and that is logged.
    async fn settle(&self, entry: &Entry) {
        let container = self.podman().containers().get(&entry.container);
        let endpoint = format!("GET /libpod/containers/{}/json", entry.container);
        let pid = match self.client().timed(&endpoint, container.inspect()).await {
            Ok(c) => c
                .state
                .and_then(|s| s.pid)
                .and_then(|p| u32::try_from(p).ok()),
            Err(e) => {
                tracing::debug!("sandbox container {}: {e}", entry.container);
                None
            }
        };
        let Some(clock) = pid
            .filter(|p| *p > 0)
            .and_then(settle::CpuClock::of_process)
        else {
            tracing::warn!(
                "sandbox container {}: its CPU time cannot be read; its browser is frozen without waiting for it to settle",
                entry.container
            );
            return;
        };
        match settle::until_quiet(&clock).await {
            Some(took) => tracing::debug!(
                "sandbox container {}: its browser settled in {took:?}",
                entry.container
            ),
            None => tracing::warn!(
                "sandbox container {}: its browser was still busy after {:?}; frozen anyway",
                entry.container,
                settle::LIMIT
            ),
        }
    }

    /// Sets a sandbox's CPU weight where the machine has CPU weights; a
    /// failure costs only the priority.
    async fn cpu_weight(&self, container: &str, weight: u32) {
        if !self.session.capabilities().cpu_weights.is_available() {
            return;
        }
        if let Err(e) = self
            .client()
            .update_cpu_shares(container, Focus::shares(weight))
            .await
        {
            tracing::debug!("sandbox container {container}: CPU weight {weight} not set: {e}");
        }
    }

    /// Opens the window of a thawed warm browser on `url`; its sandbox
    /// closes when its last page does (DevTools keeps the browser alive).
    async fn open_warm(
        self: &Arc<Self>,
        id: u64,
        entry: &Entry,
        url: &str,
    ) -> Result<(), SandboxError> {
        let failed =
            |e: warm::WarmError| SandboxError::Failed(format!("sandbox {}: {e}", entry.container));
        let Some(devtools) = &entry.devtools else {
            return Err(SandboxError::Failed(format!(
                "sandbox {}: a warm browser without its DevTools pipe",
                entry.container
            )));
        };
        let mut replies = devtools.replies();
        warm::send(devtools.dir(), &warm::open_window(url)).map_err(failed)?;
        warm::answered(&mut replies, warm::WINDOW_ID, warm::WINDOW_LIMIT)
            .await
            .map_err(failed)?;
        let mut pages = devtools.pages();
        let me = self.clone();
        tokio::spawn(async move {
            // `Some(0)` only after a page was opened and closed; the wait
            // ends with the observer too.
            if pages.wait_for(|n| *n == Some(0)).await.is_ok() {
                me.close_entry(id, "its last window closed").await;
            }
        });
        Ok(())
    }

    /// Execs `argv` (a browser) in sandbox `id` and watches it: when it
    /// exits, the sandbox closes.
    async fn exec_browser(
        self: &Arc<Self>,
        id: u64,
        entry: &Entry,
        argv: &[String],
    ) -> Result<(), SandboxError> {
        let opts = ExecCreateOpts::builder()
            .command(argv)
            .attach_stdout(true)
            .attach_stderr(true)
            .build();
        let failed = |what: &str, e: podman_api::Error| {
            SandboxError::Failed(format!(
                "sandbox {}/{id}: Podman could not {what} its browser: {e}",
                entry.profile
            ))
        };
        let container = self.podman().containers().get(&entry.container);
        let exec = self
            .client()
            .timed(
                &format!("POST /libpod/containers/{}/exec", entry.container),
                container.create_exec(&opts),
            )
            .await
            .map_err(|e| failed("create", e))?;
        let (started, is_started) = tokio::sync::oneshot::channel();
        let me = self.clone();
        tokio::spawn(async move {
            let mut tail = Vec::new();
            // Starting is under the request limit; the browser's output
            // then streams for as long as it runs.
            let start = ExecStartOpts::default();
            let endpoint = format!("POST /libpod/exec/{}/start", exec.id());
            match me.client().timed(&endpoint, exec.start(&start)).await {
                Ok(Some(mut stream)) => {
                    let _ = started.send(Ok(()));
                    while let Some(chunk) = stream.next().await {
                        if let Ok(TtyChunk::StdOut(b) | TtyChunk::StdErr(b)) = chunk {
                            tracing::debug!(
                                "sandbox {id} browser: {}",
                                String::from_utf8_lossy(&b).trim_end()
                            );
                            tail = b;
                        }
                    }
                }
                Ok(None) => {
                    let _ = started.send(Ok(()));
                }
                Err(e) => {
                    let _ = started.send(Err(e));
                    return;
                }
            }
            let code = exec
                .inspect()
                .await
                .ok()
                .and_then(|v| v["ExitCode"].as_i64());
            let last = String::from_utf8_lossy(&tail).trim().to_owned();
            let reason = match code {
                Some(0) => "the browser exited".to_owned(),
                Some(code) => format!("the browser exited with code {code}: {last}"),
                None => "the browser ended".to_owned(),
            };
            me.close_entry(id, &reason).await;
        });
        match is_started.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(failed("start", e)),
            Err(_) => Err(SandboxError::Failed(format!(
                "sandbox {}/{id}: its browser did not start",
                entry.profile
            ))),
        }
    }

    /// Closes sandbox `id` at the user's request.
    pub async fn close(&self, id: &str) -> Result<(), SandboxError> {
        let number = id.parse::<u64>().ok().filter(|n| {
            self.entries(|e| {
                e.all
                    .get(n)
                    .is_some_and(|s| s.state != SandboxState::Pooled)
            })
        });
        let Some(number) = number else {
            let open: Vec<String> = self.list().into_iter().map(|(id, _, _)| id).collect();
            return Err(SandboxError::NoSuchSandbox {
                id: id.to_owned(),
                open: if open.is_empty() {
                    "none".into()
                } else {
                    open.join(", ")
                },
            });
        };
        self.close_entry(number, "closed by the user").await;
        Ok(())
    }

    /// Ends sandbox `id`: its container goes (and with it all it wrote but
    /// its downloads), then its socket; its inbox folder goes once the
    /// quarantine took what is in it. Closing twice does nothing.
    async fn close_entry(&self, id: u64, reason: &str) {
        let Some(entry) = self.entries(|e| {
            let entry = e.all.get_mut(&id)?;
            entry.state = entry.state.next(Step::Close)?;
            Some(entry.clone())
        }) else {
            return;
        };
        self.delete_container(&entry.container).await;
        let ids = id.to_string();
        if let Some(gvisor) = &self.gvisor {
            let source = source_name(&entry.profile, &ids);
            gvisor.stop_waypipe(&source, &self.waypipe_dir(&source));
        }
        if entry.wayland.is_some() {
            self.compositor.close_socket(&entry.profile, &ids).await;
        }
        self.entries(|e| e.all.remove(&id));
        if let Some(observer) = &entry.devtools {
            observer.stop();
        }
        if let Some(dir) = self.inbox_dir(&entry.profile, &ids) {
            tokio::spawn(drain_then_remove(dir));
        }
        if entry.opened {
            tracing::info!("sandbox {}/{id} closed: {reason}", entry.profile);
            let _ = self.events.send(SandboxEvent::Closed {
                id: ids,
                reason: reason.to_owned(),
            });
        }
    }

    /// Force-removes a container (a graceful stop takes Podman 10 s here,
    /// and a sandbox keeps nothing worth a grace period).
    async fn delete_container(&self, container: &str) {
        let opts = ContainerDeleteOpts::builder()
            .force(true)
            .timeout(0)
            .build();
        let gone = self.podman().containers().get(container);
        if let Err(e) = self
            .client()
            .timed(
                &format!("DELETE /libpod/containers/{container}"),
                gone.delete(&opts),
            )
            .await
        {
            // `remove` made Podman take it already when its process ended.
            let text = e.to_string();
            if !text.contains("no such container") {
                tracing::warn!("removing sandbox container {container}: {text}");
            }
        }
    }

    /// Refills the warm pool in the background.
    pub fn refill_later(self: Arc<Self>) {
        self.refill_after(Duration::ZERO);
    }

    /// Refills the warm pool in the background after `delay`.
    pub fn refill_after(self: Arc<Self>, delay: Duration) {
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            self.refill().await
        });
    }

    /// Makes or removes pooled sandboxes until the pool holds its size for
    /// the profile last used (at first: the desktop shown, else the first
    /// profile). Pooled sandboxes are frozen: they use no CPU.
    pub async fn refill(self: &Arc<Self>) {
        let _one_at_a_time = self.refilling.lock().await;
        if self.stopping() {
            return;
        }
        let target = match self.entries(|e| e.pool_profile.clone()) {
            Some(p) => p,
            None => {
                let config = self.session.config();
                let active = self
                    .compositor
                    .active_desktop()
                    .await
                    .filter(|d| config.profile(d).is_some());
                let Some(first) =
                    active.or_else(|| config.profiles.first().map(|p| p.name.to_string()))
                else {
                    return;
                };
                self.entries(|e| e.pool_profile.get_or_insert(first).clone())
            }
        };
        let pooled: Vec<(String, String)> = self.entries(|e| {
            e.all
                .iter()
                .filter(|(_, s)| s.state == SandboxState::Pooled)
                .map(|(id, s)| (id.to_string(), s.profile.clone()))
                .collect()
        });
        let plan = pool_plan(&pooled, &target, self.settings.pool);
        for id in plan.discard.iter().filter_map(|id| id.parse().ok()) {
            self.close_entry(id, "no longer wanted in the pool").await;
        }
        let (mut made, mut unfrozen) = (0, 0);
        while made < plan.create {
            let started = Instant::now();
            let id = match self.make(&target, SandboxState::Pooled).await {
                Ok(id) => id,
                Err(err) => {
                    tracing::warn!("the warm pool is not refilled: {err}");
                    return;
                }
            };
            if let Err(err) = self.warm_up(id).await {
                tracing::warn!("{err}; discarding it");
                self.close_entry(id, "its browser did not start").await;
                unfrozen += 1;
                if unfrozen == MAX_UNFROZEN {
                    tracing::warn!(
                        "the warm pool is not refilled: {MAX_UNFROZEN} browsers in a row did not start"
                    );
                    return;
                }
                continue;
            }
            let Some(container) = self.entries(|e| e.all.get(&id).map(|s| s.container.clone()))
            else {
                continue;
            };
            // Where freezing does not work (rootless Podman on cgroup v1),
            // a pooled sandbox waits running: it runs nothing but its init
            // and `sleep` until a browser is opened in it.
            let can_freeze = self.session.capabilities().freezing.is_available();
            if !can_freeze {
                tracing::debug!(
                    "pooled sandbox {target}/{id} is kept running: freezing is unavailable"
                );
            } else if let Err(e) = self.freeze(&container).await {
                tracing::warn!(
                    "pooled sandbox {target}/{id} could not be frozen ({e}); discarding it"
                );
                self.close_entry(id, "it could not be frozen").await;
                unfrozen += 1;
                if unfrozen == MAX_UNFROZEN {
                    tracing::warn!(
                        "the warm pool is not refilled: {MAX_UNFROZEN} sandboxes in a row could not be frozen"
                    );
                    return;
                }
                continue;
            }
            (made, unfrozen) = (made + 1, 0);
            self.entries(|e| {
                if let Some(entry) = e.all.get_mut(&id) {
                    entry.ready = true;
                    entry.frozen = can_freeze;
                }
            });
            tracing::info!(
                "sandbox {target}/{id} ready in the warm pool (made in {:?})",
                started.elapsed()
            );
        }
    }

    /// Pauses a freshly started container. runc refuses now and then while
    /// the container is still settling: it is asked again a few times.
    async fn freeze(&self, container: &str) -> Result<(), podman_api::Error> {
        let mut wait = Duration::from_millis(50);
        let mut last = None;
        for _ in 0..4 {
            let frozen = self.podman().containers().get(container);
            match self
                .client()
                .timed(
                    &format!("POST /libpod/containers/{container}/pause"),
                    frozen.pause(),
                )
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
        match last {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Closes every sandbox, pooled ones too (the daemon is stopping).
    pub async fn close_all(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // A refill under way finishes first, so that what it made is
        // closed below; none starts after.
        let _no_refill = self.refilling.lock().await;
        let ids: Vec<u64> = self.entries(|e| e.all.keys().copied().collect());
        let closes = ids
            .into_iter()
            .map(|id| self.close_entry(id, "the session is ending"));
        futures_util::future::join_all(closes).await;
    }
}

/// Lets the browser's user (its host id `browser`) write its downloads
/// folder and use its Wayland socket: exactly that id, by ACL.
fn open_to_browser(
    downloads: &std::path::Path,
    wayland: Option<&std::path::Path>,
    browser: u32,
) -> std::io::Result<()> {
    use zion_storage::access::{self, Perm};
    access::grant(
        downloads,
        &[browser],
        Perm::READ | Perm::WRITE | Perm::EXECUTE,
    )?;
    if let Some(dir) = wayland {
        access::grant_sockets(dir, &[browser])?;
    }
    Ok(())
}

/// Removes a closed sandbox's inbox folder once the quarantine has taken
/// every file from it; gives up (leaving it) after [`INBOX_DRAIN`].
async fn drain_then_remove(dir: PathBuf) {
    let start = Instant::now();
    while start.elapsed() < INBOX_DRAIN {
        // remove_dir only removes an empty folder: a file still there is
        // never lost, whatever the timing.
        match std::fs::remove_dir(&dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    tracing::info!(
        "{} still holds files the quarantine did not take; it is left for the next start",
        dir.display()
    );
}

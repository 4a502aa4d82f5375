//! The profiles of one session: brought up together at start, down together
//! at the end; watched while they run, restarted per their policy when they
//! die, and changed when `zion.toml` is edited.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::sync::broadcast;
use zion_config::{Config, ConfigError, Device, Network, Profile, Restart};
use zion_profiles::host::{capabilities, unavailable_after};
use zion_profiles::network::{adoptable, network_spec, profile_network};
use zion_profiles::spec::{IdRange, UidMap};
use zion_profiles::{
    container_spec, Capabilities, Capability, ContainerState, HostDevices, Lifecycle,
    LifecycleError, Plan, ProfilePaths,
};

use crate::criu::{self, Criu, Method};
use crate::firewall;
use crate::ids;
use crate::reload::{self, ReloadPlan};
use crate::sound::SoundServers;
use crate::SessionPaths;

/// How many times a Podman network is asked for before its failure is
/// reported, and the wait after the first failure (then twice that).
const NETWORK_CREATE_TRIES: u32 = 3;
const NETWORK_RETRY_WAIT: Duration = Duration::from_millis(300);

/// How often the profiles' containers are looked at for deaths (polling:
/// it needs no events backend and also sees changes made while the daemon
/// was away).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// At most this many restarts within [`RESTART_WINDOW`]; then the profile
/// is given up and stays down.
pub const RESTART_LIMIT: usize = 3;
/// See [`RESTART_LIMIT`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// Something the session tells its listeners (the D-Bus interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A profile's state changed (the word [`Session::state`] gives).
    StateChanged {
        /// The profile.
        profile: String,
        /// Its new state.
        state: String,
    },
    /// A profile's container died without being asked to stop.
    Died {
        /// The profile.
        profile: String,
        /// Why, as a user reads it.
        reason: String,
        /// What was done about it.
        outcome: String,
    },
    /// The edited configuration was refused; the running set is unchanged.
    ConfigError(String),
    /// The edited configuration was applied; the lines say what waits for a
    /// restart.
    ConfigApplied(Vec<String>),
}

/// What the restart policy decides for a death. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start it again (attempt `n` of [`RESTART_LIMIT`] in the window).
    Restart(usize),
    /// Leave it down: the policy says so.
    Stay(String),
    /// Leave it down: it died too often.
    GiveUp,
}

/// Applies `policy` to a death (`failure`: killed or a non-zero exit) given
/// how many restarts happened within the window.
pub fn decide(policy: Restart, failure: bool, recent_restarts: usize) -> Decision {
    match policy {
        Restart::Never => return Decision::Stay("restart = \"never\"".into()),
        Restart::OnFailure if !failure => {
            return Decision::Stay("it exited cleanly and restart = \"on-failure\"".into())
        }
        Restart::OnFailure | Restart::Always => {}
    }
    if recent_restarts >= RESTART_LIMIT {
        Decision::GiveUp
    } else {
        Decision::Restart(recent_restarts + 1)
    }
}

/// How a container ended, from its inspection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code, when it exited.
    pub code: Option<i32>,
    /// Whether the OOM killer ended it.
    pub oom_killed: bool,
    /// Podman's error text, if any.
    pub error: String,
    /// Whether the container is gone altogether.
    pub removed: bool,
}

impl Exit {
    /// Whether this counts as a failure for `restart = "on-failure"`.
    pub fn failure(&self) -> bool {
        self.removed || self.oom_killed || self.code != Some(0)
    }

    /// The reason as a user reads it. Pure.
    pub fn reason(&self) -> String {
        let mut reason = if self.removed {
            "its container was removed".to_owned()
        } else if self.oom_killed {
            "killed by the OOM killer (out of memory: raise `memory`)".to_owned()
        } else {
            match self.code {
                Some(code) if code > 128 && code <= 128 + 64 => {
                    format!("killed by {} (exit code {code})", signal_name(code - 128))
                }
                Some(code) => format!("exited with code {code}"),
                None => "stopped for no reason Podman gave".to_owned(),
            }
        };
        if !self.error.is_empty() {
            reason.push_str(&format!(": {}", self.error));
        }
        reason
    }
}

fn signal_name(n: i32) -> String {
    let name = match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => return format!("signal {n}"),
    };
    name.to_owned()
}

pub use zion_bus::ProfileStatus;

/// What the session knows of a profile beyond Podman's view.
#[derive(Debug, Default)]
struct Runtime {
    /// It should be running: its container stopping is a death.
    wanted: bool,
    /// When it was frozen, while it is.
    frozen_since: Option<SystemTime>,
    /// It was checkpointed to disk (its container stopped on purpose).
    checkpointed: bool,
    /// Restarts done by policy, for the limit.
    restarts: Vec<Instant>,
    /// Why it is down after a death: ("dead" | "failed", reason).
    down: Option<(&'static str, String)>,
    /// The last state announced, so that each change is told once.
    announced: Option<String>,
    /// What Podman warned about its containers ([`Session::note_warnings`]).
    warnings: Vec<String>,
}

/// Which container of a profile Podman warned about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// The profile's own.
    Profile,
    /// One of its disposable sandboxes.
    Sandbox,
}

impl Made {
    fn prefix(self) -> &'static str {
        match self {
            Made::Profile => "",
            Made::Sandbox => "disposable browser: ",
        }
    }
}

/// A session: its configuration, folders and Podman.
pub struct Session {
    config: RwLock<Arc<Config>>,
    paths: SessionPaths,
    lifecycle: Lifecycle,
    devices: HostDevices,
    runtime: Mutex<HashMap<String, Runtime>>,
    config_status: Mutex<String>,
    events: broadcast::Sender<Event>,
    criu: tokio::sync::OnceCell<Criu>,
    /// The profiles' own sound servers.
    sound: Arc<SoundServers>,
    /// Held while the firewall is installed.
    firewall: tokio::sync::Mutex<()>,
    /// The firewall was installed by this run.
    firewall_in_force: AtomicBool,
    /// Serialises the assignment of user-namespace ranges.
    id_slots: Mutex<()>,
    /// Rootless Podman's default uid map (empty when rootful).
    uid_map: UidMap,
    /// What the machine lets profiles have ([`zion_profiles::host`]).
    capabilities: Mutex<Capabilities>,
}

impl Session {
    /// Asks Podman whether it runs rootless (if so, profile containers map
    /// the user's uid into the container, `keep-id`) and what its cgroups
    /// let profiles have: each capability the machine lacks (freezing, CPU
    /// weights, resource limits) is reported once here, and not tried again.
    pub async fn detect_host(&mut self) {
        match self.lifecycle.client().host_and_uid_map().await {
            Ok((host, uid_map)) => {
                // A rootless disposable browser's uid is one of the user's
                // subordinate ids, which its folders are opened to.
                self.uid_map = uid_map;
                if host.rootless {
                    tracing::info!("Podman runs rootless: the user's uid is kept inside profile containers (keep-id)");
                }
                self.devices.rootless = host.rootless;
                let caps = capabilities(&host);
                for line in caps.unavailable() {
                    tracing::warn!("{line}");
                }
                *self
                    .capabilities
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner) = caps;
            }
            Err(err) => tracing::warn!(
                "could not ask Podman whether it runs rootless ({err}); assuming it does not"
            ),
        }
    }

    /// Rootless Podman's default uid map (empty when rootful or unknown).
    pub fn uid_map(&self) -> &UidMap {
        &self.uid_map
    }

    /// What this machine lets profiles have (as [`Session::detect_host`]
    /// found and refusals since taught).
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Learns from `err`, a failed use of `capability` on `profile`'s
    /// container, whether the machine lacks it ([`unavailable_after`], with
    /// the container's state asked again); if so it is reported once and
    /// not tried again. Returns whether it is unavailable now.
    pub async fn learn(&self, capability: Capability, profile: &str, err: &LifecycleError) -> bool {
        let running = matches!(
            self.lifecycle.state(profile).await,
            Ok(Some(ContainerState::Running))
        );
        let Some(why) = unavailable_after(err, running) else {
            return false;
        };
        let news = self
            .capabilities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .lose(capability, why.clone());
        if news {
            tracing::warn!(
                "{} unavailable: {why}; not tried again until the daemon restarts",
                capability.name()
            );
        }
        true
    }

    /// Keeps what Podman warned about creating a container of `profile`
    /// (its own, or one of its disposable sandboxes: `what`), for
    /// [`Session::warnings`]. A new container of the profile itself replaces
    /// its earlier warnings.
    pub fn note_warnings(&self, profile: &str, what: Made, warnings: &[String]) {
        self.with_runtime(profile, |rt| {
            if what == Made::Profile {
                rt.warnings
                    .retain(|w| w.starts_with(Made::Sandbox.prefix()));
            }
            for warning in warnings {
                let line = format!("{}{warning}", what.prefix());
                if !rt.warnings.contains(&line) {
                    rt.warnings.push(line);
                }
            }
        });
    }

    /// What Podman warned about the containers of `profile` made by this
    /// daemon run, as the user reads it.
    pub fn warnings(&self, profile: &str) -> Vec<String> {
        self.with_runtime(profile, |rt| rt.warnings.clone())
    }

    /// A session over `config`, with its folders at `paths`, on Podman.
    pub fn new(config: Config, paths: SessionPaths, lifecycle: Lifecycle) -> Session {
        let devices = HostDevices::probe(Some(&paths.runtime));
        let sound = Arc::new(SoundServers::new(&paths.runtime));
        let (events, _) = broadcast::channel(256);
        Session {
            config: RwLock::new(Arc::new(config)),
            paths,
            lifecycle,
            devices,
            runtime: Mutex::new(HashMap::new()),
            config_status: Mutex::new(String::new()),
            events,
            criu: tokio::sync::OnceCell::new(),
            sound,
            firewall: tokio::sync::Mutex::new(()),
            firewall_in_force: AtomicBool::new(false),
            id_slots: Mutex::new(()),
            uid_map: UidMap::default(),
            capabilities: Mutex::new(Capabilities::default()),
        }
    }

    /// The session's configuration as it is now.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The profile called `name` in the current configuration.
    pub fn profile(&self, name: &str) -> Option<Profile> {
        self.config().profile(name).cloned()
    }

    /// The container lifecycle.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// The session's folders.
    pub fn paths(&self) -> &SessionPaths {
        &self.paths
    }

    /// Listens to the session's events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The last configuration error, or "" when the file in use is fine.
    pub fn config_status(&self) -> String {
        self.config_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn emit(&self, event: Event) {
        // No listener (no bus) is fine.
        let _ = self.events.send(event);
    }

    fn with_runtime<T>(&self, name: &str, f: impl FnOnce(&mut Runtime) -> T) -> T {
        let mut all = self.runtime.lock().unwrap_or_else(PoisonError::into_inner);
        f(all.entry(name.to_owned()).or_default())
    }

    /// Tells listeners `name`'s state if it differs from the last one told.
    fn announce(&self, name: &str, state: &str) {
        let changed = self.with_runtime(name, |rt| {
            let changed = rt.announced.as_deref() != Some(state);
            rt.announced = Some(state.to_owned());
            changed
        });
        if changed {
            self.emit(Event::StateChanged {
                profile: name.to_owned(),
                state: state.to_owned(),
            });
        }
    }

    /// Whether Podman runs rootless (as [`Session::detect_host`] found).
    pub fn rootless(&self) -> bool {
        self.devices.rootless
    }

    /// The host ids `profile`'s user namespace maps under rootful Podman
    /// (assigned once, kept for good); `None` under rootless Podman, where
    /// `keep-id` maps the user.
    pub fn id_range(&self, profile: &str) -> anyhow::Result<Option<IdRange>> {
        if self.devices.rootless {
            return Ok(None);
        }
        let _one = self.id_slots.lock().unwrap_or_else(PoisonError::into_inner);
        ids::profile_range(&self.paths.data, profile)
            .map(Some)
            .with_context(|| format!("assigning the user-namespace range of profile `{profile}`"))
    }

    /// The host folders of `profile`.
    pub fn profile_paths(&self, profile: &Profile) -> ProfilePaths {
        // `~/Outbox/<other>` for every other profile (issue 8: transfers).
        let config = self.config();
        ProfilePaths::standard(profile.name.as_ref(), &self.paths.data, &self.paths.runtime)
            .with_outboxes_to(config.profiles.iter().map(|p| p.name.as_ref()))
    }

    /// Brings one profile up: its folders, then its container (adopting one
    /// left running by an earlier run).
    pub async fn up(&self, profile: &Profile) -> anyhow::Result<Plan> {
        let name = profile.name.as_ref();
        let mut paths = self.profile_paths(profile);
        paths.ids = self.id_range(name)?;
        for dir in paths.folders() {
            create_private_dir(dir, &[&self.paths.data, &self.paths.runtime])
                .with_context(|| format!("creating {} for profile `{name}`", dir.display()))?;
        }
        for dir in paths.mount_points() {
            // The profile writes its home: what it put at one of these
            // names stays its own business (the runtime mounts inside the
            // container's root whatever is there).
            if let Err(err) = create_private_dir(&dir, &[&self.paths.data]) {
                tracing::warn!(
                    "profile `{name}`: mount point {} not made: {err}",
                    dir.display()
                );
            }
        }
        if let Some(ids) = paths.ids {
            open_to_container(&paths, ids).with_context(|| {
                format!("opening the folders of profile `{name}` to its container's ids")
            })?;
        }
        if profile.network == Network::Full {
            self.ensure_network(&profile_network(name)).await?;
        }
        let devices = self.devices_for(profile).await;
        let outcome = container_spec(profile, &paths, &devices);
        for warning in &outcome.warnings {
            tracing::warn!("{warning}");
        }
        let up = match self.lifecycle.up(&outcome.spec).await {
            Ok(up) => up,
            // First login: the image was never built. Say how, instead of
            // Podman's "no such image".
            Err(err) => match self.lifecycle.client().image_exists(&profile.image).await {
                Ok(false) => anyhow::bail!(
                    "profile `{name}`: its image {} is not in Podman; build it with `zionctl image build {name}` (or `podman pull` it, if it comes from a registry)",
                    profile.image
                ),
                _ => return Err(err.into()),
            },
        };
        if !matches!(up.plan, Plan::Adopt { .. } | Plan::Start { .. }) {
            self.note_warnings(name, Made::Profile, &up.warnings);
        }
        self.with_runtime(name, |rt| {
            rt.wanted = true;
            rt.down = None;
        });
        if !matches!(up.plan, Plan::Adopt { .. }) {
            // A fresh session starts its autostart apps; an adopted one has
            // them running already.
            for argv in &profile.autostart {
                if let Err(err) = self.lifecycle.exec_detached(name, argv).await {
                    tracing::warn!(
                        "profile `{name}`: autostart `{}` failed: {err}",
                        argv.join(" ")
                    );
                }
            }
        }
        match &up.plan {
            Plan::Adopt { .. } => tracing::info!(
                "profile `{name}`: adopted its running container {}",
                short(&up.id)
            ),
            Plan::Start { .. } => {
                tracing::info!("profile `{name}`: started its container {}", short(&up.id))
            }
            Plan::Create | Plan::Recreate { .. } => {
                tracing::info!(
                    "profile `{name}`: created and started container {}",
                    short(&up.id)
                )
            }
        }
        if let Ok(state) = self.state(name).await {
            self.announce(name, &state);
        }
        Ok(up.plan)
    }

    /// The host's devices as `profile` gets them: with the folder of its own
    /// sound server, started (or kept running) here when it asks for sound
    /// and the user has a sound server to play through.
    async fn devices_for(&self, profile: &Profile) -> HostDevices {
        let mut devices = self.devices.clone();
        let wants = profile
            .devices
            .iter()
            .any(|d| matches!(d, Device::Sound | Device::Microphone));
        let Some(host) = devices.sound_socket.clone().filter(|_| wants) else {
            return devices;
        };
        let microphone = profile.devices.contains(&Device::Microphone);
        let name = profile.name.to_string();
        let sound = self.sound.clone();
        let started =
            tokio::task::spawn_blocking(move || sound.ensure(&name, microphone, &host)).await;
        match started {
            Ok(Ok(folder)) => {
                devices
                    .profile_sound
                    .insert(profile.name.to_string(), folder);
            }
            Ok(Err(err)) => tracing::warn!("profile `{}`: {err}", profile.name),
            Err(err) => tracing::warn!("profile `{}`: its sound server: {err}", profile.name),
        }
        devices
    }

    /// Makes sure Podman has the network `name` as Zion wants it (isolated,
    /// on its own bridge; see [`zion_profiles::network`]), creating it or
    /// adopting the one an earlier run made, and that the firewall keeps
    /// its bridge off the host. A network of that name that is not isolated
    /// is refused rather than joined.
    pub async fn ensure_network(&self, name: &str) -> anyhow::Result<()> {
        self.ensure_firewall().await;
        let spec = network_spec(name, &self.paths.data.to_string_lossy());
        let client = self.lifecycle.client();
        let podman = client.api();
        let network = podman.networks().get(name);
        let exists = format!("GET /libpod/networks/{name}/exists");
        if client
            .timed(&exists, network.exists())
            .await
            .unwrap_or(false)
        {
            let inspect = client
                .timed(
                    &format!("GET /libpod/networks/{name}/json"),
                    network.inspect(),
                )
                .await
                .with_context(|| format!("inspecting Podman network `{name}`"))?;
            let inspect = serde_json::to_value(&inspect).unwrap_or_default();
            anyhow::ensure!(
                adoptable(&spec, &inspect),
                "Podman network `{name}` exists but is not the isolated network Zion made (isolate = true on bridge {}); remove it with `podman network rm {name}`",
                spec.interface
            );
            return Ok(());
        }
        let opts = podman_api::opts::NetworkCreateOpts::builder()
            .name(&spec.name)
            .driver("bridge")
            .network_interface(&spec.interface)
            .dns_enabled(false)
            .internal(false)
            .options(spec.options.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .labels(spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .build();
        let mut tries = 0;
        loop {
            tries += 1;
            match client
                .timed(
                    "POST /libpod/networks/create",
                    podman.networks().create(&opts),
                )
                .await
            {
                Ok(_) => {
                    tracing::info!(
                        "created Podman network `{name}` (bridge {})",
                        spec.interface
                    );
                    return Ok(());
                }
                // Made meanwhile by a sandbox of the same profile.
                Err(_)
                    if client
                        .timed(&exists, network.exists())
                        .await
                        .unwrap_or(false) =>
                {
                    return Ok(());
                }
                // Podman's network backend lists the host's interfaces to
                // pick a free subnet, and fails ("route ip+net: no such
                // network interface") when one vanishes meanwhile, as
                // another network or container goes: try again shortly.
                Err(err) if tries < NETWORK_CREATE_TRIES => {
                    let wait = NETWORK_RETRY_WAIT * tries;
                    tracing::info!(
                        "creating Podman network `{name}` failed ({err}); trying again in {wait:?}"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(err) => {
                    return Err(err).with_context(|| format!("creating Podman network `{name}`"))
                }
            }
        }
    }

    /// Puts the firewall in place (once per daemon run, then on each call
    /// again only if an earlier attempt failed); a failure is logged loudly
    /// and the network is still made: isolation between profiles holds
    /// without it, keeping off the host does not.
    async fn ensure_firewall(&self) {
        let _one_at_a_time = self.firewall.lock().await;
        if self.firewall_in_force.load(Ordering::Relaxed) {
            return;
        }
        match tokio::task::spawn_blocking(firewall::install).await {
            Ok(Ok(())) => {
                self.firewall_in_force.store(true, Ordering::Relaxed);
                tracing::info!("firewall in force: containers on Zion's networks cannot reach the host or other containers");
            }
            Ok(Err(err)) => tracing::error!("{err}"),
            Err(err) => tracing::error!("installing the firewall: {err}"),
        }
    }

    /// Starts the profile called `name` (or adopts its running container).
    pub async fn start(&self, name: &str) -> anyhow::Result<()> {
        let profile = self
            .profile(name)
            .with_context(|| format!("no profile `{name}` in zion.toml"))?;
        self.up(&profile).await.map(|_| ())
    }

    /// Stops a profile at the user's request: not a death, no restart.
    pub async fn stop(&self, name: &str) -> Result<(), LifecycleError> {
        self.with_runtime(name, |rt| {
            rt.wanted = false;
            rt.down = None;
            rt.frozen_since = None;
            rt.checkpointed = false;
        });
        let result = self.lifecycle.stop(name).await;
        if let Ok(state) = self.state(name).await {
            self.announce(name, &state);
        }
        result
    }

    /// What `criu check` says on this machine (asked once).
    pub async fn criu(&self) -> &Criu {
        self.criu.get_or_init(criu::probe).await
    }

    /// Warns about every profile whose `hibernate = "disk"` cannot work
    /// here; they stay running instead of hibernating.
    pub async fn check_disk_hibernate(&self) {
        let config = self.config();
        for profile in &config.profiles {
            if profile.hibernate != zion_config::HibernateMode::Disk {
                continue;
            }
            if let Err(why) =
                criu::method(profile.name.as_ref(), profile.hibernate, self.criu().await)
            {
                tracing::warn!("{why}");
            }
        }
    }

    /// Hibernates a profile its configured way (frozen, or checkpointed
    /// where CRIU works) and remembers since when. A disk hibernate without
    /// a working CRIU is refused with `criu check`'s reason.
    pub async fn hibernate(&self, name: &str) -> anyhow::Result<()> {
        let profile = self
            .profile(name)
            .with_context(|| format!("no profile `{name}` in zion.toml"))?;
        let method = match profile.hibernate {
            zion_config::HibernateMode::Freeze => Method::Freeze,
            mode => criu::method(name, mode, self.criu().await).map_err(anyhow::Error::msg)?,
        };
        match method {
            Method::Freeze => {
                if let Some(why) = self.capabilities().freezing.reason() {
                    anyhow::bail!(
                        "profile `{name}` is not hibernated and keeps running: freezing unavailable: {why}"
                    );
                }
                if let Err(err) = self.lifecycle.freeze(name).await {
                    self.learn(Capability::Freezing, name, &err).await;
                    return Err(err.into());
                }
            }
            Method::Checkpoint => self.checkpoint(name).await?,
        }
        self.with_runtime(name, |rt| {
            rt.frozen_since.get_or_insert_with(SystemTime::now);
        });
        if let Ok(state) = self.state(name).await {
            self.announce(name, &state);
        }
        Ok(())
    }

    /// Checkpoints a running profile to disk with CRIU; its container stops.
    async fn checkpoint(&self, name: &str) -> anyhow::Result<()> {
        let found = self
            .lifecycle
            .find(name)
            .await?
            .with_context(|| format!("profile `{name}` has no container"))?;
        if found.state == ContainerState::Paused {
            self.lifecycle.thaw(name).await?;
        }
        // Marked first: the watcher must not take the stop for a death.
        self.with_runtime(name, |rt| rt.checkpointed = true);
        let opts = podman_api::opts::ContainerCheckpointOpts::builder()
            .keep(true)
            .build();
        // CRIU writes the container's memory to disk: the long limit.
        let client = self.lifecycle.client();
        let container = client.api().containers().get(&found.id);
        let done = client
            .timed_long(
                &format!("POST /libpod/containers/{}/checkpoint", found.id),
                container.checkpoint(&opts),
            )
            .await;
        if let Err(e) = done {
            self.with_runtime(name, |rt| rt.checkpointed = false);
            anyhow::bail!("checkpointing profile `{name}` with CRIU failed: {e}");
        }
        Ok(())
    }

    /// Thaws a profile (or restores it from its checkpoint).
    pub async fn resume(&self, name: &str) -> anyhow::Result<()> {
        if self.with_runtime(name, |rt| rt.checkpointed) {
            let found = self
                .lifecycle
                .find(name)
                .await?
                .with_context(|| format!("profile `{name}` has no container to restore"))?;
            let opts = podman_api::opts::ContainerRestoreOpts::builder()
                .keep(true)
                .build();
            let client = self.lifecycle.client();
            let container = client.api().containers().get(&found.id);
            client
                .timed_long(
                    &format!("POST /libpod/containers/{}/restore", found.id),
                    container.restore(&opts),
                )
                .await
                .map_err(|e| {
                    anyhow::anyhow!("restoring profile `{name}` from its checkpoint failed: {e}")
                })?;
            self.with_runtime(name, |rt| rt.checkpointed = false);
        } else {
            self.lifecycle.thaw(name).await?;
        }
        self.with_runtime(name, |rt| rt.frozen_since = None);
        if let Ok(state) = self.state(name).await {
            self.announce(name, &state);
        }
        Ok(())
    }

    /// The word for a profile's state: Podman's view, or `dead`/`failed`
    /// after a death that was not (or could not be) repaired.
    pub async fn state(&self, name: &str) -> Result<String, LifecycleError> {
        let state = self.lifecycle.state(name).await?;
        Ok(self.state_word(name, state.as_ref()))
    }

    fn state_word(&self, name: &str, state: Option<&ContainerState>) -> String {
        let (down, checkpointed) = self.with_runtime(name, |rt| {
            (rt.down.as_ref().map(|(w, _)| *w), rt.checkpointed)
        });
        if checkpointed && state == Some(&ContainerState::Exited) {
            return "hibernated".to_owned();
        }
        match (state, down) {
            (Some(ContainerState::Running | ContainerState::Paused), _) | (_, None) => {
                state_name(state).to_owned()
            }
            (_, Some(word)) => word.to_owned(),
        }
    }

    /// A profile's state with its resource use and times.
    pub async fn status(&self, name: &str) -> Result<ProfileStatus, LifecycleError> {
        let found = self.lifecycle.find(name).await?;
        let state = self.state_word(name, found.as_ref().map(|f| &f.state));
        let (reason, frozen_since) = self.with_runtime(name, |rt| {
            (
                rt.down.as_ref().map(|(_, r)| r.clone()).unwrap_or_default(),
                rt.frozen_since,
            )
        });
        let mut status = ProfileStatus {
            name: name.to_owned(),
            state,
            reason,
            cpu_percent: 0.0,
            cpu_time_ns: 0,
            memory_bytes: 0,
            memory_limit: 0,
            frozen_since: 0,
            started_at: 0,
        };
        let Some(found) = found else {
            return Ok(status);
        };
        if found.state == ContainerState::Paused || status.state == "hibernated" {
            status.frozen_since = epoch_seconds(frozen_since.unwrap_or_else(SystemTime::now));
        }
        let client = self.lifecycle.client();
        let container = client.api().containers().get(&found.id);
        match client
            .timed(
                &format!("GET /libpod/containers/{}/json", found.id),
                container.inspect(),
            )
            .await
        {
            Ok(inspect) => {
                status.started_at = inspect
                    .state
                    .and_then(|s| s.started_at)
                    .map(|t| u64::try_from(t.timestamp()).unwrap_or(0))
                    .unwrap_or(0);
            }
            Err(e) => tracing::debug!("inspecting profile `{name}`: {e}"),
        }
        if matches!(
            found.state,
            ContainerState::Running | ContainerState::Paused
        ) {
            match client
                .timed(
                    &format!("GET /libpod/containers/{}/stats", found.id),
                    container.stats(),
                )
                .await
            {
                Ok(value) => read_stats(&value, &mut status),
                Err(e) => tracing::debug!("stats of profile `{name}`: {e}"),
            }
        }
        Ok(status)
    }

    /// Brings every profile up; a profile that fails is reported and the
    /// others still come up. Returns the names of those that failed.
    pub async fn up_all(&self) -> Vec<String> {
        let mut failed = Vec::new();
        for profile in &self.config().profiles {
            if let Err(err) = self.up(profile).await {
                tracing::error!("profile `{}` could not start: {err:#}", profile.name);
                // Its status says why, where the user looks.
                self.with_runtime(profile.name.as_ref(), |rt| {
                    rt.down = Some(("failed", format!("could not start: {err:#}")));
                });
                failed.push(profile.name.to_string());
            }
        }
        failed
    }

    /// Stops every profile (apps get SIGTERM, then SIGKILL after the grace
    /// period). Containers and files are kept for the next start.
    pub async fn down_all(&self) {
        let config = self.config();
        for profile in &config.profiles {
            self.with_runtime(profile.name.as_ref(), |rt| rt.wanted = false);
        }
        // Together: each may wait out its grace period.
        let stops = config.profiles.iter().map(|profile| async move {
            match self.lifecycle.stop(profile.name.as_ref()).await {
                Ok(()) => tracing::info!("profile `{}` stopped", profile.name),
                Err(err) => tracing::error!("stopping profile `{}`: {err}", profile.name),
            }
        });
        futures_util::future::join_all(stops).await;
    }

    /// Reads the configuration file again: a broken file leaves everything
    /// running as it is and is reported; a good one is applied.
    pub async fn reload(&self) -> Option<ReloadPlan> {
        let file = &self.paths.config_file;
        match Config::load(file) {
            Ok(config) => Some(self.apply_config(config).await),
            Err(err) => {
                self.config_refused(&err);
                None
            }
        }
    }

    /// Records and reports a refused configuration; the running set stays.
    pub fn config_refused(&self, err: &ConfigError) {
        let message = err.to_string();
        tracing::error!(
            "the edited configuration is refused; the running profiles are kept:\n{message}"
        );
        *self
            .config_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = message.clone();
        self.emit(Event::ConfigError(message));
    }

    /// Moves the session to `new`: starts added profiles, stops removed
    /// ones, takes live changes and reports those that need a restart.
    pub async fn apply_config(&self, new: Config) -> ReloadPlan {
        let old = self.config();
        let plan = reload::plan(&old, &new);
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(new);
        self.config_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        tracing::info!("configuration reloaded: {}", plan.summary());
        for name in &plan.removed {
            match self.stop(name).await {
                Ok(()) => tracing::info!("profile `{name}` stopped: it left zion.toml"),
                Err(err) => tracing::error!("stopping removed profile `{name}`: {err}"),
            }
            self.runtime
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(name);
        }
        for name in &plan.added {
            if let Err(err) = self.start(name).await {
                tracing::error!("new profile `{name}` could not start: {err:#}");
            }
        }
        let pending = plan.pending();
        for line in &pending {
            tracing::warn!("{line}");
        }
        self.emit(Event::ConfigApplied(pending));
        plan
    }

    /// Looks at every profile each [`WATCH_INTERVAL`]: tells state changes,
    /// and handles deaths per the profile's restart policy. Runs until the
    /// task is dropped.
    pub async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let config = self.config();
            for profile in &config.profiles {
                self.look_at(profile).await;
            }
        }
    }

    async fn look_at(&self, profile: &Profile) {
        let name = profile.name.as_ref();
        let found = match self.lifecycle.find(name).await {
            Ok(found) => found,
            Err(err) => {
                tracing::debug!("watching profile `{name}`: {err}");
                return;
            }
        };
        let state = found.as_ref().map(|f| f.state.clone());
        let dead = match &state {
            None | Some(ContainerState::Exited) => true,
            Some(ContainerState::Paused) => {
                self.with_runtime(name, |rt| {
                    rt.frozen_since.get_or_insert_with(SystemTime::now);
                });
                false
            }
            Some(ContainerState::Running) => {
                self.with_runtime(name, |rt| rt.frozen_since = None);
                false
            }
            // created, stopping, removing: on its way somewhere.
            Some(_) => false,
        };
        // Checked after the look: a Stop sets `wanted` before it stops, and
        // a checkpoint marks the profile before its container stops.
        if dead && self.with_runtime(name, |rt| rt.wanted && !rt.checkpointed) {
            let exit = match &found {
                None => Exit {
                    removed: true,
                    ..Exit::default()
                },
                Some(found) => self.exit_of(&found.id).await,
            };
            self.died(profile, &exit).await;
            return;
        }
        let word = self.state_word(name, state.as_ref());
        self.announce(name, &word);
    }

    async fn exit_of(&self, id: &str) -> Exit {
        let client = self.lifecycle.client();
        let container = client.api().containers().get(id);
        match client
            .timed(
                &format!("GET /libpod/containers/{id}/json"),
                container.inspect(),
            )
            .await
        {
            Ok(inspect) => match inspect.state {
                Some(state) => Exit {
                    code: state.exit_code,
                    oom_killed: state.oom_killed.unwrap_or(false),
                    error: state.error.unwrap_or_default(),
                    removed: false,
                },
                None => Exit::default(),
            },
            Err(e) => Exit {
                error: format!("Podman could not say why ({e})"),
                ..Exit::default()
            },
        }
    }

    async fn died(&self, profile: &Profile, exit: &Exit) {
        let name = profile.name.as_ref();
        let reason = exit.reason();
        let now = Instant::now();
        let recent = self.with_runtime(name, |rt| {
            rt.wanted = false;
            rt.frozen_since = None;
            rt.restarts
                .retain(|t| now.duration_since(*t) < RESTART_WINDOW);
            rt.restarts.len()
        });
        let decision = decide(profile.restart, exit.failure(), recent);
        let (word, outcome) = match &decision {
            Decision::Restart(n) => ("dead", format!("restarting it ({n} of {RESTART_LIMIT} within {}s)", RESTART_WINDOW.as_secs())),
            Decision::Stay(why) => ("dead", format!("it stays down: {why}")),
            Decision::GiveUp => (
                "failed",
                format!(
                    "it died {} times within {}s, so it stays down; `zionctl profiles start {name}` tries again",
                    RESTART_LIMIT + 1,
                    RESTART_WINDOW.as_secs()
                ),
            ),
        };
        tracing::warn!("profile `{name}` died: {reason}; {outcome}");
        self.with_runtime(name, |rt| {
            rt.down = Some((word, format!("{reason}; {outcome}")))
        });
        self.emit(Event::Died {
            profile: name.to_owned(),
            reason: reason.clone(),
            outcome,
        });
        self.announce(name, word);
        if let Decision::Restart(_) = decision {
            self.with_runtime(name, |rt| rt.restarts.push(now));
            if let Err(err) = self.up(profile).await {
                let why = format!("{reason}; restarting it failed: {err:#}");
                tracing::error!("profile `{name}`: {why}");
                self.with_runtime(name, |rt| rt.down = Some(("failed", why)));
                self.announce(name, "failed");
            }
        }
    }
}

/// The word a Podman state is shown as.
pub fn state_name(state: Option<&ContainerState>) -> &str {
    match state {
        None => "absent",
        Some(ContainerState::Created) => "created",
        Some(ContainerState::Running) => "running",
        Some(ContainerState::Paused) => "hibernated",
        Some(ContainerState::Exited) => "stopped",
        Some(ContainerState::Other(s)) => s,
    }
}

/// Takes cpu and memory from Podman's `/libpod/containers/stats` answer
/// (`{"Error": …, "Stats": [{…}]}`).
fn read_stats(value: &serde_json::Value, status: &mut ProfileStatus) {
    let Some(stats) = value["Stats"].get(0) else {
        tracing::debug!("stats without an entry: {value}");
        return;
    };
    status.cpu_percent = stats["CPU"].as_f64().unwrap_or(0.0);
    status.cpu_time_ns = stats["CPUNano"].as_u64().unwrap_or(0);
    status.memory_bytes = stats["MemUsage"].as_u64().unwrap_or(0);
    status.memory_limit = stats["MemLimit"].as_u64().unwrap_or(0);
}

fn epoch_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Makes a profile's folders usable by its container's root, host id
/// `ids.base` (rootful Podman, issue 18 finding 3): its home is its own (so
/// that what it writes there keeps one owner across re-creation), its
/// outboxes writable, Shared readable, its sockets usable; nothing wider
/// than that id. The compositor's sockets made later are shared alike
/// (`access::share_sockets`).
fn open_to_container(paths: &ProfilePaths, ids: IdRange) -> std::io::Result<()> {
    use zion_storage::access;
    let root = ids.base;
    let home = fs::symlink_metadata(&paths.home)?;
    if home.uid() != root || home.gid() != root {
        std::os::unix::fs::lchown(&paths.home, Some(root), Some(root))?;
    }
    let rwx = access::Perm::READ | access::Perm::WRITE | access::Perm::EXECUTE;
    for outbox in std::iter::once(&paths.outbox).chain(paths.outboxes_to.iter().map(|(_, d)| d)) {
        access::grant(outbox, &[root], rwx)?;
    }
    // The container's own dbus-daemon makes its socket there.
    access::grant(&paths.bus, &[root], rwx)?;
    access::grant(
        &paths.shared,
        &[root],
        access::Perm::READ | access::Perm::EXECUTE,
    )?;
    access::grant_sockets(&paths.runtime, &[root])
}

/// Makes `dir` (mode 0700 when new). Under one of the session's own
/// folders `bases` it is walked from that folder without following a link
/// (issue 18, finding 1): every such folder is a mount source or holds one,
/// and a link planted in its place must never be what Podman mounts.
fn create_private_dir(dir: &Path, bases: &[&Path]) -> std::io::Result<()> {
    for base in bases {
        if let Ok(rel) = dir.strip_prefix(base) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(base)?;
            zion_storage::access::ensure_dir_keeping_modes(base, rel, 0o700)?;
            return Ok(());
        }
    }
    // A folder the user placed elsewhere (not one of Zion's).
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_failure_restarts_a_killed_profile_until_the_limit() {
        assert_eq!(decide(Restart::OnFailure, true, 0), Decision::Restart(1));
        assert_eq!(decide(Restart::OnFailure, true, 2), Decision::Restart(3));
        assert_eq!(decide(Restart::OnFailure, true, 3), Decision::GiveUp);
    }

    #[test]
    fn a_clean_exit_stays_down_unless_always() {
        assert!(matches!(
            decide(Restart::OnFailure, false, 0),
            Decision::Stay(_)
        ));
        assert_eq!(decide(Restart::Always, false, 0), Decision::Restart(1));
        assert_eq!(decide(Restart::Always, false, 3), Decision::GiveUp);
    }

    #[test]
    fn never_never_restarts_and_says_why() {
        match decide(Restart::Never, true, 0) {
            Decision::Stay(why) => assert!(why.contains("never"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exits_read_as_reasons() {
        let killed = Exit {
            code: Some(137),
            ..Exit::default()
        };
        assert_eq!(killed.reason(), "killed by SIGKILL (exit code 137)");
        assert!(killed.failure());
        let clean = Exit {
            code: Some(0),
            ..Exit::default()
        };
        assert!(!clean.failure());
        assert_eq!(clean.reason(), "exited with code 0");
        let oom = Exit {
            code: Some(137),
            oom_killed: true,
            ..Exit::default()
        };
        assert!(oom.reason().contains("OOM"));
        let gone = Exit {
            removed: true,
            ..Exit::default()
        };
        assert!(gone.failure() && gone.reason().contains("removed"));
    }

    #[test]
    fn stats_are_read_from_podmans_answer() {
        let value = serde_json::json!({"Error": null, "Stats": [{"CPU": 1.5, "CPUNano": 42, "MemUsage": 1234, "MemLimit": 268435456}]});
        let mut s = ProfileStatus {
            name: "w".into(),
            state: "running".into(),
            reason: String::new(),
            cpu_percent: 0.0,
            cpu_time_ns: 0,
            memory_bytes: 0,
            memory_limit: 0,
            frozen_since: 0,
            started_at: 0,
        };
        read_stats(&value, &mut s);
        assert_eq!(
            (s.cpu_percent, s.cpu_time_ns, s.memory_bytes, s.memory_limit),
            (1.5, 42, 1234, 268435456)
        );
    }
}

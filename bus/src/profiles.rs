//! `org.zionos.Profiles1`, served by `zion-sandboxd`: the profiles' sessions.

use serde::{Deserialize, Serialize};
use zbus::zvariant::Type;

/// The bus name, which is also the interface's name.
pub const NAME: &str = "org.zionos.Profiles1";
/// The object path.
pub const PATH: &str = "/org/zionos/Profiles1";

/// One profile's status: `(name, state, reason, cpu_percent, cpu_time_ns,
/// memory_bytes, memory_limit, frozen_since, started_at)`; times in seconds
/// since the epoch, 0 when not applicable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct ProfileStatus {
    /// The profile.
    pub name: String,
    /// absent, created, running, hibernated, stopped, dead or failed.
    pub state: String,
    /// Why it is dead or failed; "" otherwise.
    pub reason: String,
    /// CPU use in percent of one CPU, as Podman measures it.
    pub cpu_percent: f64,
    /// CPU time used since start, in nanoseconds.
    pub cpu_time_ns: u64,
    /// Memory in use, in bytes.
    pub memory_bytes: u64,
    /// The memory limit Podman reports, in bytes (0 when unknown).
    pub memory_limit: u64,
    /// When it was frozen, or 0.
    pub frozen_since: u64,
    /// When its container last started, or 0.
    pub started_at: u64,
}

/// Something profiles may need from the machine, and whether they have it:
/// `(name, available, reason)`. The names are "freezing", "CPU weights" and
/// "resource limits"; the reason says why one is unavailable, "" otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct CapabilityStatus {
    /// Its name.
    pub name: String,
    /// Whether it works here.
    pub available: bool,
    /// Why it does not, or "".
    pub reason: String,
}

impl CapabilityStatus {
    /// `"<name> unavailable: <reason>"`, or `None` when it is available.
    pub fn unavailable_line(&self) -> Option<String> {
        (!self.available).then(|| format!("{} unavailable: {}", self.name, self.reason))
    }
}

/// An application a profile offers: `(profile, id, name, comment, argv)`.
/// Everything but `profile` was written by the profile: shown, never trusted
/// (the daemon strips control characters and cuts its length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct AppEntry {
    /// The profile it runs in.
    pub profile: String,
    /// Its entry's id (the `.desktop` file's name without the suffix).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its comment or generic name, or "".
    pub comment: String,
    /// The command it runs, in its profile.
    pub argv: Vec<String>,
}

/// The profiles of the session.
#[zbus::proxy(
    interface = "org.zionos.Profiles1",
    default_service = "org.zionos.Profiles1",
    default_path = "/org/zionos/Profiles1"
)]
pub trait Profiles1 {
    /// Every profile in desktop order: (name, label, colour, state).
    fn list(&self) -> zbus::Result<Vec<(String, String, String, String)>>;
    /// One profile's status.
    fn status(&self, name: &str) -> zbus::Result<ProfileStatus>;
    /// Starts a profile (or adopts its running container).
    fn start(&self, name: &str) -> zbus::Result<()>;
    /// Stops a profile.
    fn stop(&self, name: &str) -> zbus::Result<()>;
    /// Hibernates a profile its configured way.
    fn hibernate(&self, name: &str) -> zbus::Result<()>;
    /// Thaws a hibernated profile (or restores its checkpoint).
    fn resume(&self, name: &str) -> zbus::Result<()>;
    /// Starts `argv` in a profile's session, detached.
    fn run(&self, name: &str, argv: Vec<String>) -> zbus::Result<()>;
    /// The applications installed in a profile (every running or created
    /// profile's when `name` is ""), by profile in desktop order, then name.
    fn apps(&self, name: &str) -> zbus::Result<Vec<AppEntry>>;
    /// Starts the application `app` (an id from `apps`) in its profile.
    fn launch(&self, name: &str, app: &str) -> zbus::Result<()>;
    /// What the machine lets profiles have (freezing, CPU weights, resource
    /// limits), each with why it is unavailable, decided once at start and
    /// from Podman's first refusal. Added after `Status`: an older daemon
    /// answers UnknownMethod.
    fn capabilities(&self) -> zbus::Result<Vec<CapabilityStatus>>;
    /// What Podman warned about creating the profile's containers (its own,
    /// then its disposable browsers', prefixed "disposable browser: ") in
    /// this run of the daemon, e.g. that it ignores the limits.
    fn warnings(&self, name: &str) -> zbus::Result<Vec<String>>;
    /// The error of the last refused edit of zion.toml, or "".
    #[zbus(property)]
    fn config_status(&self) -> zbus::Result<String>;
    /// A profile's state changed.
    #[zbus(signal)]
    fn state_changed(&self, name: String, state: String) -> zbus::Result<()>;
    /// A profile's container died unasked: why, and what was done about it.
    #[zbus(signal)]
    fn died(&self, name: String, reason: String, outcome: String) -> zbus::Result<()>;
    /// An edit of zion.toml was refused; the running profiles are unchanged.
    #[zbus(signal)]
    fn config_error(&self, message: String) -> zbus::Result<()>;
    /// An edit of zion.toml was applied; `pending` lists what waits for a
    /// restart.
    #[zbus(signal)]
    fn config_reloaded(&self, pending: Vec<String>) -> zbus::Result<()>;
}

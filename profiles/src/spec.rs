//! Which Podman container a profile gives: a pure function from a profile,
//! the host paths it is granted and the devices this machine has, to the body
//! of Podman's `POST /libpod/containers/create`.
//!
//! The spec is built here, field by field, rather than through podman-api's
//! builder, because the builder misspells `no_new_privileges` (the flag is
//! then silently not set) and sends no rlimits or stop timeout reliably.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::devices::{probe_input, DeviceRoots};
use crate::network::profile_network;
use zion_config::{Device, Network, Profile};

/// Label that marks a container as a Zion profile, valued with its name.
pub const LABEL_PROFILE: &str = "org.zionos.profile";
/// Label holding the hash of the spec a container was created from.
pub const LABEL_SPEC: &str = "org.zionos.spec";

/// Where the profile's home is mounted inside its container.
pub const CONTAINER_HOME: &str = "/home/zion";
/// The container's own `XDG_RUNTIME_DIR`: a private tmpfs, so that nothing
/// the container writes there is ever a path the host uses.
pub const CONTAINER_RUNTIME: &str = "/run/zion";
/// Where a profile's own sound server's folder is mounted (read-only); its
/// PulseAudio socket is `native` there (`PULSE_SERVER`).
pub const CONTAINER_SOUND: &str = "/run/zion-sound";
/// Where the host's socket folder of the profile (its Wayland socket, lock
/// and X11 folder) is mounted read-only inside the container: `connect()`
/// works on a read-only mount, and nothing in it can be replaced.
pub const CONTAINER_WAYLAND: &str = "/run/zion/wayland";
/// The Wayland socket's name in the host's socket folder.
pub const WAYLAND_SOCKET: &str = "wayland-0";
/// Where the profile's X11 folder (its Xwayland's socket, `X0`) is mounted
/// inside its container: X11 programs find it from `DISPLAY=:0`.
pub const CONTAINER_X11: &str = "/tmp/.X11-unix";

/// The host paths a profile container is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfilePaths {
    /// The profile's private home.
    pub home: PathBuf,
    /// Storage shared by all profiles; mounted read-only at `~/Shared`.
    pub shared: PathBuf,
    /// The profile's outbox, an inbox of the quarantine: `~/Outbox`.
    pub outbox: PathBuf,
    /// Its outbox to each other profile, `~/Outbox/<to>`: (to, inbox folder).
    pub outboxes_to: Vec<(String, PathBuf)>,
    /// The profile's socket folder on the host: its Wayland socket lives
    /// there. Only the compositor writes in it; the container sees it
    /// read-only at [`CONTAINER_WAYLAND`].
    pub runtime: PathBuf,
    /// The profile's X11 folder, `<runtime>/X11`: the compositor puts the
    /// socket of the profile's own Xwayland there. Read-only inside.
    pub x11: PathBuf,
    /// The profile's bus folder, `<runtime>/zion-bus/<p>`: the container's
    /// own `dbus-daemon` makes its socket there (read-write inside, at
    /// [`crate::bus::CONTAINER_BUS`]); the host only ever connects to it,
    /// without following a link.
    pub bus: PathBuf,
    /// The host ids its user namespace maps under rootful Podman; `None`
    /// leaves Podman's default (no user namespace when rootful), which only
    /// callers without an allocation (benchmarks) use: the daemon always
    /// gives one.
    pub ids: Option<IdRange>,
}

impl ProfilePaths {
    /// The standard layout: `<data>/profiles/<p>/home`, `<data>/shared`,
    /// `<data>/quarantine/inbox/profile-<p>`, `<runtime>/zion/<p>`.
    pub fn standard(profile: &str, data: &Path, runtime: &Path) -> ProfilePaths {
        ProfilePaths {
            home: data.join("profiles").join(profile).join("home"),
            shared: data.join("shared"),
            outbox: data
                .join("quarantine")
                .join("inbox")
                .join(format!("profile-{profile}")),
            outboxes_to: Vec::new(),
            runtime: runtime.join("zion").join(profile),
            x11: runtime.join("zion").join(profile).join("X11"),
            bus: runtime.join("zion-bus").join(profile),
            ids: None,
        }
    }

    /// Adds an outbox to each of `others` (the profile itself is skipped):
    /// `<data>/quarantine/inbox/profile-<p>.to-<other>`, the quarantine's
    /// folder for files `<p>` sends to `<other>`.
    pub fn with_outboxes_to<'a>(
        mut self,
        others: impl IntoIterator<Item = &'a str>,
    ) -> ProfilePaths {
        let Some(inbox) = self.outbox.parent().map(Path::to_path_buf) else {
            return self;
        };
        let Some(own) = self
            .outbox
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            return self;
        };
        let me = own.strip_prefix("profile-").unwrap_or(&own).to_owned();
        for other in others {
            if other != me {
                let dir = inbox.join(format!("{own}.to-{other}"));
                self.outboxes_to.push((other.to_owned(), dir));
            }
        }
        self
    }

    /// Every folder, for creating them before the container starts.
    pub fn folders(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = vec![
            &self.home,
            &self.shared,
            &self.outbox,
            &self.runtime,
            &self.x11,
            &self.bus,
        ];
        out.extend(self.outboxes_to.iter().map(|(_, dir)| dir.as_path()));
        out
    }

    /// The host folders that become mount points inside the container
    /// (`~/Shared`, `~/Outbox`, each `~/Outbox/<to>`), made beforehand so
    /// that they are the user's: left to the runtime, they are made by the
    /// container's root, an id the user does not own (issue 19).
    pub fn mount_points(&self) -> Vec<PathBuf> {
        let mut out = vec![self.home.join("Shared"), self.home.join("Outbox")];
        out.extend(self.outboxes_to.iter().map(|(to, _)| self.outbox.join(to)));
        out
    }
}

/// The host ids a container's user namespace maps (rootful Podman): ids
/// `0..size` inside are `base..base + size` outside, uids and gids alike.
/// A profile keeps its range for good (the daemon persists the slot), so
/// that files in its home keep their owner across container re-creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdRange {
    /// The host id of uid/gid 0 inside.
    pub base: u32,
    /// How many ids are mapped.
    pub size: u32,
}

impl IdRange {
    /// Zion's ids start here: above systemd's container range
    /// (0x80000–0x6FFFFFFF) and `useradd`'s subordinate ids, below the
    /// range Podman's `userns=auto` conventionally takes (from 2^31).
    pub const FIRST: u32 = 0x7000_0000;
    /// Ids per container: a whole 16-bit range, as distributions assume.
    pub const SIZE: u32 = 0x1_0000;
    /// How many ranges fit below 2^31 - 1.
    pub const SLOTS: u32 = 4095;

    /// The range of slot `n` (`None` past [`IdRange::SLOTS`]).
    pub fn slot(n: u32) -> Option<IdRange> {
        (n < Self::SLOTS).then(|| IdRange {
            base: Self::FIRST + n * Self::SIZE,
            size: Self::SIZE,
        })
    }

    /// The host id of id `inside` (clamped to the range).
    pub fn host(&self, inside: u32) -> u32 {
        self.base + inside.min(self.size - 1)
    }
}

#[cfg(test)]
mod uid_map_tests {
    use super::UidMap;

    #[test]
    fn rootless_ids_map_through_the_users_subordinate_range() {
        let map = UidMap {
            ranges: vec![(0, 1001, 1), (1, 100_000, 65_536)],
        };
        assert_eq!(map.host(0), Some(1001));
        assert_eq!(map.host(1), Some(100_000));
        assert_eq!(map.host(1000), Some(100_999));
        assert_eq!(map.host(65_536), Some(165_535));
        assert_eq!(map.host(65_537), None);
        assert_eq!(UidMap::default().host(1000), None);
    }
}

/// The uids of the user namespace rootless Podman gives a container by
/// default (`host.idMappings.uidmap` of its info): uid 0 inside is the user,
/// 1 and up the user's subordinate range. Empty under rootful Podman.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidMap {
    /// `(first id inside, first id on the host, how many)`.
    pub ranges: Vec<(u32, u32, u32)>,
}

impl UidMap {
    /// Reads it from Podman's `GET /libpod/info` answer
    /// (`host.idMappings.uidmap`); empty unless Podman runs `rootless`.
    pub fn from_info(info: &podman_api::models::Info, rootless: bool) -> UidMap {
        if !rootless {
            return UidMap::default();
        }
        let ranges = info
            .host
            .as_ref()
            .and_then(|h| h.id_mappings.as_ref())
            .and_then(|m| m.uidmap.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|m| {
                Some((
                    u32::try_from(m.container_id?).ok()?,
                    u32::try_from(m.host_id?).ok()?,
                    u32::try_from(m.size?).ok()?,
                ))
            })
            .collect();
        UidMap { ranges }
    }

    /// The host uid of uid `inside`, if the map holds it.
    pub fn host(&self, inside: u32) -> Option<u32> {
        self.ranges.iter().find_map(|&(first, host, size)| {
            let offset = inside.checked_sub(first)?;
            (offset < size).then(|| host + offset)
        })
    }
}

/// Podman's `idmappings` (containers/storage's `IDMappingOptions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdMappings {
    /// uid map.
    #[serde(rename = "UIDMap")]
    pub uid_map: Vec<IdMap>,
    /// gid map.
    #[serde(rename = "GIDMap")]
    pub gid_map: Vec<IdMap>,
}

/// One line of a uid or gid map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdMap {
    /// First id inside.
    pub container_id: u32,
    /// First id outside.
    pub host_id: u32,
    /// How many.
    pub size: u32,
}

impl IdMappings {
    /// The maps of `range`, uids and gids alike.
    pub fn of(range: IdRange) -> IdMappings {
        let map = vec![IdMap {
            container_id: 0,
            host_id: range.base,
            size: range.size,
        }];
        IdMappings {
            uid_map: map.clone(),
            gid_map: map,
        }
    }
}

/// The user namespace of a container: `keep-id` under rootless Podman (the
/// user's uid inside, so that files keep their owner); an explicit range
/// under rootful Podman, so that uid 0 inside is never uid 0 outside. Pure.
pub fn user_namespace(
    rootless: bool,
    ids: Option<IdRange>,
) -> (Option<Namespace>, Option<IdMappings>) {
    if rootless {
        return (
            Some(Namespace {
                nsmode: "keep-id".into(),
            }),
            None,
        );
    }
    match ids {
        Some(range) => (
            Some(Namespace {
                nsmode: "private".into(),
            }),
            Some(IdMappings::of(range)),
        ),
        None => (None, None),
    }
}

/// The devices and sockets this machine has, probed once by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostDevices {
    /// `/dev/dri/*` nodes.
    pub dri: Vec<PathBuf>,
    /// `/dev/video*` nodes.
    pub video: Vec<PathBuf>,
    /// Joystick and gamepad nodes (`/dev/input/event*`, `js*`) only: never
    /// a keyboard or a mouse (see [`crate::devices::is_gamepad`]).
    pub input: Vec<PathBuf>,
    /// The user's own PulseAudio-protocol socket. Never handed to a
    /// container: a client of it hears every stream and every source, and
    /// can load modules into the user's sound server that listen on the
    /// network or connect to host sockets. A profile's own sound server
    /// plays through it.
    pub sound_socket: Option<PathBuf>,
    /// The folder of each profile's own sound server (its PulseAudio socket
    /// is `native` there; see [`crate::sound`]), when one runs: it sees only
    /// that profile's streams, plays, and records only for a profile
    /// granted `microphone`. What `sound` hands over.
    pub profile_sound: BTreeMap<String, PathBuf>,
    /// Podman runs rootless: the user's uid is mapped into the container
    /// (`keep-id`) so that files in the profile's home keep their owner.
    /// Set by the caller from Podman's own answer (`PodmanClient::rootless`).
    pub rootless: bool,
}

impl HostDevices {
    /// Looks at `/dev`, `/sys`, udev's database and the user's runtime
    /// folder.
    pub fn probe(user_runtime: Option<&Path>) -> HostDevices {
        HostDevices::probe_in(&DeviceRoots::system(), user_runtime)
    }

    /// Looks under `roots` (a test's stand-ins for `/dev`, `/sys` and
    /// `/run/udev/data`) and the user's runtime folder.
    pub fn probe_in(roots: &DeviceRoots, user_runtime: Option<&Path>) -> HostDevices {
        let list = |dir: &Path, prefixes: &[&str]| -> Vec<PathBuf> {
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    prefixes.iter().any(|p| name.starts_with(p))
                })
                .map(|e| e.path())
                .collect();
            found.sort();
            found
        };
        // PulseAudio's protocol (pipewire-pulse, or PulseAudio itself): the
        // tunnel of a profile's own server speaks it.
        let sound_socket = user_runtime
            .map(|rt| rt.join("pulse/native"))
            .filter(|p| p.exists());
        HostDevices {
            dri: list(&roots.dev.join("dri"), &["card", "renderD"]),
            video: list(&roots.dev, &["video"]),
            input: probe_input(roots),
            sound_socket,
            profile_sound: BTreeMap::new(),
            rootless: false,
        }
    }
}

/// A bind or tmpfs mount, as Podman's spec takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// Path inside the container.
    pub destination: String,
    /// `bind` or `tmpfs`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Host path (bind) or `tmpfs`.
    pub source: String,
    /// Mount options.
    pub options: Vec<String>,
}

impl Mount {
    fn bind(source: &Path, destination: &str, read_only: bool) -> Mount {
        let mode = if read_only { "ro" } else { "rw" };
        Mount {
            destination: destination.to_owned(),
            kind: "bind".into(),
            source: source.display().to_string(),
            options: vec!["rbind".into(), mode.into(), "nosuid".into(), "nodev".into()],
        }
    }

    fn tmpfs(destination: &str) -> Mount {
        Mount::tmpfs_mode(destination, "mode=1777")
    }

    /// A tmpfs with `mode` (`mode=0700`, …).
    pub fn tmpfs_mode(destination: &str, mode: &str) -> Mount {
        Mount {
            destination: destination.to_owned(),
            kind: "tmpfs".into(),
            source: "tmpfs".into(),
            options: vec![
                "rw".into(),
                "nosuid".into(),
                "nodev".into(),
                mode.to_owned(),
            ],
        }
    }

    /// A read-only bind mount of a host folder holding sockets: a
    /// container can connect to them and change nothing.
    pub fn sockets(source: &Path, destination: &str) -> Mount {
        Mount {
            destination: destination.to_owned(),
            kind: "bind".into(),
            source: source.display().to_string(),
            options: vec![
                "rbind".into(),
                "ro".into(),
                "nosuid".into(),
                "nodev".into(),
                "noexec".into(),
            ],
        }
    }
}

/// A device node passed into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceNode {
    /// The node's path (same on both sides).
    pub path: String,
}

/// A namespace setting (`{"nsmode": "none"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    /// `none`, `private`, `bridge`, `slirp4netns`, …
    pub nsmode: String,
}

/// Per-network options of a container (none set: Podman assigns the
/// address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkOptions {}

/// The network settings of a container of `network` policy on the network
/// called `name`: no network at all, or a bridge on that network alone.
pub fn network_of(
    network: Network,
    name: &str,
) -> (Option<Namespace>, BTreeMap<String, NetworkOptions>) {
    match network {
        Network::None => (
            Some(Namespace {
                nsmode: "none".into(),
            }),
            BTreeMap::new(),
        ),
        Network::Full => (
            Some(Namespace {
                nsmode: "bridge".into(),
            }),
            BTreeMap::from([(name.to_owned(), NetworkOptions::default())]),
        ),
    }
}

/// cgroup limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resources {
    /// Memory limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryLimit>,
    /// CPU quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuLimit>,
    /// Task limit.
    pub pids: PidsLimit,
}

/// `resource_limits.memory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryLimit {
    /// Bytes.
    pub limit: u64,
}

/// `resource_limits.cpu`: quota microseconds per period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuLimit {
    /// Microseconds of CPU time per period.
    pub quota: i64,
    /// The period in microseconds.
    pub period: u64,
}

/// `resource_limits.pids`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PidsLimit {
    /// Maximum number of tasks.
    pub limit: i64,
}

/// The body of `POST /libpod/containers/create` for a profile (Podman's
/// SpecGenerator, the fields Zion sets).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerSpec {
    /// Container name: `zion-<profile>`.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// The session's first process (after Podman's init).
    pub command: Vec<String>,
    /// Run Podman's init as PID 1, so exec'd apps are reaped.
    pub init: bool,
    /// Hostname: the profile name.
    pub hostname: String,
    /// Labels that identify the container.
    pub labels: BTreeMap<String, String>,
    /// The session's environment.
    pub env: BTreeMap<String, String>,
    /// Working folder.
    pub work_dir: String,
    /// The user the container's processes run as (`uid:gid` inside);
    /// absent: the image's (root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Capabilities dropped (all).
    pub cap_drop: Vec<String>,
    /// Capabilities the profile asks for.
    pub cap_add: Vec<String>,
    /// `PR_SET_NO_NEW_PRIVS` for every process of the container.
    pub no_new_privileges: bool,
    /// cgroup limits.
    pub resource_limits: Resources,
    /// Network namespace: `none`, or `bridge` on the [`networks`] named.
    ///
    /// [`networks`]: ContainerSpec::networks
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<Namespace>,
    /// The networks joined (Podman's `Networks`): the profile's own, never
    /// Podman's default one that every container shares.
    #[serde(rename = "Networks", skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkOptions>,
    /// User namespace: `keep-id` under rootless Podman, `private` with
    /// [`ContainerSpec::idmappings`] under a rootful one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns: Option<Namespace>,
    /// The ids a private user namespace maps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idmappings: Option<IdMappings>,
    /// Mounts, in order.
    pub mounts: Vec<Mount>,
    /// Device nodes.
    pub devices: Vec<DeviceNode>,
    /// Seconds between SIGTERM and SIGKILL on stop.
    pub stop_timeout: u64,
}

impl ContainerSpec {
    /// A hash of the whole spec, stored as a label so that a changed profile
    /// is noticed on adoption.
    pub fn hash(&self) -> String {
        let mut unlabelled = self.clone();
        unlabelled.labels.remove(LABEL_SPEC);
        let json = serde_json::to_vec(&unlabelled).unwrap_or_default();
        hex::encode(&Sha256::digest(json)[..8])
    }

    /// The JSON body Podman receives.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A spec together with what could not be granted on this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecOutcome {
    /// The container spec.
    pub spec: ContainerSpec,
    /// Warnings for the user: devices the profile asks for that this machine
    /// lacks. Not errors: a profile still starts without its webcam.
    pub warnings: Vec<String>,
}

/// Mounts the folder of a profile's own sound server read-only (connecting
/// needs no write access) at [`CONTAINER_SOUND`], and points PulseAudio
/// clients at its socket. The folder, not the socket, so that a server
/// restarted by the daemon is reached by a container that kept running.
fn sound_socket(folder: &Path, mounts: &mut Vec<Mount>, env: &mut BTreeMap<String, String>) {
    env.insert(
        "PULSE_SERVER".into(),
        format!("unix:{CONTAINER_SOUND}/{}", crate::sound::SOCKET),
    );
    mounts.push(Mount::bind(folder, CONTAINER_SOUND, true));
}

/// The container name of a profile.
pub fn container_name(profile: &str) -> String {
    format!("zion-{profile}")
}

/// Seconds a profile's apps get between SIGTERM and SIGKILL when it stops.
pub const STOP_GRACE_SECONDS: u64 = 10;

/// The CFS period used for CPU quotas, in microseconds.
const CPU_PERIOD: u64 = 100_000;

/// The container spec for `profile`: every capability dropped but those it
/// asks for, no-new-privileges, Podman's default seccomp profile, cgroup
/// limits, and only the mounts and devices the profile grants.
pub fn container_spec(profile: &Profile, paths: &ProfilePaths, host: &HostDevices) -> SpecOutcome {
    let name = profile.name.as_ref();
    let mut warnings = Vec::new();
    let home = CONTAINER_HOME;

    let mut mounts = vec![
        Mount::bind(&paths.home, home, false),
        Mount::bind(&paths.shared, &format!("{home}/Shared"), true),
        Mount::bind(&paths.outbox, &format!("{home}/Outbox"), false),
        // The container's own runtime folder, private and writable; the
        // host's sockets only ever read-only, inside it and at
        // /tmp/.X11-unix (issue 18, finding 1: a writable mount source
        // could be swapped for a link that the next start would mount).
        // Under rootless Podman the session runs as the user (keep-id), not
        // as the tmpfs's owner, so it is sticky and open as /tmp is.
        Mount::tmpfs_mode(
            CONTAINER_RUNTIME,
            if host.rootless {
                "mode=1777"
            } else {
                "mode=0700"
            },
        ),
        Mount::sockets(&paths.runtime, CONTAINER_WAYLAND),
        Mount::tmpfs("/tmp"),
        Mount::sockets(&paths.x11, CONTAINER_X11),
        // The profile's own session bus: its dbus-daemon's socket folder,
        // the one host folder it writes in besides its home and outboxes.
        Mount::bind(&paths.bus, crate::bus::CONTAINER_BUS, false),
    ];
    // Each `~/Outbox/<to>` is its own inbox folder mounted over the outbox,
    // so the profile cannot swap it for a link to somewhere else.
    for (to, dir) in &paths.outboxes_to {
        mounts.push(Mount::bind(dir, &format!("{home}/Outbox/{to}"), false));
    }
    for bind in &profile.binds {
        mounts.push(Mount::bind(
            &bind.host,
            &bind.target.display().to_string(),
            bind.read_only,
        ));
    }

    let mut env = BTreeMap::from([
        ("HOME".to_owned(), home.to_owned()),
        ("XDG_RUNTIME_DIR".to_owned(), CONTAINER_RUNTIME.to_owned()),
        (
            "WAYLAND_DISPLAY".to_owned(),
            format!("{CONTAINER_WAYLAND}/{WAYLAND_SOCKET}"),
        ),
        ("DISPLAY".to_owned(), ":0".to_owned()),
        ("ZION_PROFILE".to_owned(), name.to_owned()),
        ("DBUS_SESSION_BUS_ADDRESS".to_owned(), crate::bus::address()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ]);

    let mut devices = Vec::new();
    for device in &profile.devices {
        let (nodes, what): (&[PathBuf], &str) = match device {
            Device::Gpu => (&host.dri, "gpu (/dev/dri)"),
            Device::Webcam => (&host.video, "webcam (/dev/video*)"),
            Device::Gamepad => (&host.input, "gamepad (a joystick or gamepad)"),
            // `microphone` is a property of the profile's own server (it
            // records only when granted); its socket is mounted once.
            Device::Microphone if profile.devices.contains(&Device::Sound) => continue,
            Device::Sound | Device::Microphone => {
                match host.profile_sound.get(name) {
                    Some(socket) => sound_socket(socket, &mut mounts, &mut env),
                    None => warnings.push(format!(
                        "profile `{name}` asks for {device}, but no sound server of its own runs; it starts without sound (the user's own server is never handed to a profile: it would hear every stream and the microphone)"
                    )),
                }
                continue;
            }
        };
        if nodes.is_empty() {
            warnings.push(format!(
                "profile `{name}` asks for {what}, but this machine has none; it starts without it"
            ));
        }
        devices.extend(nodes.iter().map(|n| DeviceNode {
            path: n.display().to_string(),
        }));
    }

    let resource_limits = Resources {
        memory: profile.memory.map(|limit| MemoryLimit { limit }),
        cpu: profile.cpus.map(|cpus| CpuLimit {
            quota: (cpus * CPU_PERIOD as f64).round() as i64,
            period: CPU_PERIOD,
        }),
        pids: PidsLimit {
            limit: i64::from(profile.pids),
        },
    };

    let (netns, networks) = network_of(profile.network, &profile_network(name));

    let (userns, idmappings) = user_namespace(host.rootless, paths.ids);
    let mut spec = ContainerSpec {
        name: container_name(name),
        image: profile.image.clone(),
        command: crate::bus::session_command(),
        init: true,
        hostname: name.to_owned(),
        labels: BTreeMap::from([(LABEL_PROFILE.to_owned(), name.to_owned())]),
        env,
        work_dir: home.to_owned(),
        user: None,
        cap_drop: vec!["ALL".into()],
        cap_add: profile.capabilities.clone(),
        no_new_privileges: true,
        resource_limits,
        netns,
        networks,
        userns,
        idmappings,
        mounts,
        devices,
        stop_timeout: STOP_GRACE_SECONDS,
    };
    let hash = spec.hash();
    spec.labels.insert(LABEL_SPEC.to_owned(), hash);
    SpecOutcome { spec, warnings }
}

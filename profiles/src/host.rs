//! What this machine's Podman can do to a running profile beyond running it:
//! freeze it (the cgroup freezer, for hibernation), weigh its CPU (focus),
//! and hold it to its memory, pids and CPU limits. Rootless Podman on cgroup
//! v1 can do none of these, and on cgroup v2 only what the user's cgroup was
//! delegated. Zion decides once from Podman's own `info`
//! ([`capabilities`], a function of values) and learns from the first real
//! refusal ([`unavailable_after`]) instead of failing at every period.

use crate::LifecycleError;

/// The cgroup hierarchy Podman uses (`host.cgroupVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupVersion {
    /// cgroup v1 (or the hybrid layout with v1 controllers).
    V1,
    /// The unified hierarchy.
    V2,
    /// Podman said something else, or nothing.
    Unknown,
}

/// What Podman's `info` says of its cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCgroups {
    /// `host.cgroupVersion`.
    pub version: CgroupVersion,
    /// `host.cgroupControllers`: the controllers Podman may use (for rootless
    /// Podman on cgroup v2, those delegated to the user's cgroup; empty for
    /// rootless Podman on cgroup v1).
    pub controllers: Vec<String>,
    /// `host.security.rootless`.
    pub rootless: bool,
}

impl HostCgroups {
    /// Reads them from Podman's `GET /libpod/info` answer.
    pub fn from_info(info: &podman_api::models::Info) -> HostCgroups {
        let host = info.host.as_ref();
        let version = match host.and_then(|h| h.cgroup_version.as_deref()) {
            Some("v1") => CgroupVersion::V1,
            Some("v2") => CgroupVersion::V2,
            _ => CgroupVersion::Unknown,
        };
        HostCgroups {
            version,
            controllers: host
                .and_then(|h| h.cgroup_controllers.clone())
                .unwrap_or_default(),
            rootless: host
                .and_then(|h| h.security.as_ref())
                .and_then(|s| s.rootless)
                .unwrap_or(false),
        }
    }

    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// Something a profile may need from the machine's cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Freezing (`podman pause`): `hibernate = "freeze"`.
    Freezing,
    /// CPU weights (`podman update --cpu-shares`): `[focus] cpu`.
    CpuWeights,
    /// The profile's `memory`, `pids` and `cpus` limits.
    ResourceLimits,
}

impl Capability {
    /// Every capability, in the order they are reported.
    pub const ALL: [Capability; 3] = [
        Capability::Freezing,
        Capability::CpuWeights,
        Capability::ResourceLimits,
    ];

    /// Its name as the user reads it ("freezing unavailable: …").
    pub fn name(self) -> &'static str {
        match self {
            Capability::Freezing => "freezing",
            Capability::CpuWeights => "CPU weights",
            Capability::ResourceLimits => "resource limits",
        }
    }
}

/// Whether a capability works here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// It works (or nothing says it does not: the first refusal will tell).
    Available,
    /// It does not, and why, as the user reads it.
    Unavailable(String),
}

impl Availability {
    /// Whether it works.
    pub fn is_available(&self) -> bool {
        matches!(self, Availability::Available)
    }

    /// Why it does not work, if it does not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Availability::Available => None,
            Availability::Unavailable(why) => Some(why),
        }
    }
}

/// What the machine lets Zion do, capability by capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Freezing.
    pub freezing: Availability,
    /// CPU weights.
    pub cpu_weights: Availability,
    /// Memory, pids and CPU limits.
    pub limits: Availability,
}

impl Default for Capabilities {
    /// Everything available: what Zion assumes before Podman answers.
    fn default() -> Capabilities {
        Capabilities {
            freezing: Availability::Available,
            cpu_weights: Availability::Available,
            limits: Availability::Available,
        }
    }
}

impl Capabilities {
    /// The availability of `capability`.
    pub fn get(&self, capability: Capability) -> &Availability {
        match capability {
            Capability::Freezing => &self.freezing,
            Capability::CpuWeights => &self.cpu_weights,
            Capability::ResourceLimits => &self.limits,
        }
    }

    /// Marks `capability` unavailable for `reason`; returns whether that is
    /// news (it was available until now), so that it is reported once.
    pub fn lose(&mut self, capability: Capability, reason: String) -> bool {
        let slot = match capability {
            Capability::Freezing => &mut self.freezing,
            Capability::CpuWeights => &mut self.cpu_weights,
            Capability::ResourceLimits => &mut self.limits,
        };
        if slot.is_available() {
            *slot = Availability::Unavailable(reason);
            true
        } else {
            false
        }
    }

    /// `"<name> unavailable: <reason>"` for each capability that is.
    pub fn unavailable(&self) -> Vec<String> {
        Capability::ALL
            .iter()
            .filter_map(|c| {
                self.get(*c)
                    .reason()
                    .map(|why| format!("{} unavailable: {why}", c.name()))
            })
            .collect()
    }
}

/// Where a desktop delegates cgroup controllers to the user: systemd's
/// `user@.service`.
const DELEGATE_HINT: &str = "systemd delegates controllers to the user with \
    `Delegate=` in a drop-in for user@.service, e.g. `Delegate=cpu cpuset io memory pids`";

/// What the machine lets Zion do, from Podman's view of its cgroups. Pure.
///
/// - rootful Podman manages every controller (v1 or v2);
/// - rootless Podman on cgroup v1 can manage none: it cannot freeze, weigh
///   or limit a container (Podman says so in its create warnings);
/// - rootless Podman on cgroup v2 has the freezer in every cgroup
///   (`cgroup.freeze` needs no controller) and the controllers delegated to
///   the user's cgroup: `cpu` for weights, `memory` and `pids` for limits;
/// - an unknown layout is assumed to work, and the first refusal tells.
pub fn capabilities(host: &HostCgroups) -> Capabilities {
    if !host.rootless {
        return Capabilities::default();
    }
    match host.version {
        CgroupVersion::Unknown => Capabilities::default(),
        CgroupVersion::V1 => {
            let why = "rootless Podman cannot manage cgroups on a cgroup v1 machine \
                (cgroup v2 with systemd, as on every current desktop distribution, lifts this)";
            Capabilities {
                freezing: Availability::Unavailable(format!(
                    "{why}, so profiles are not frozen and keep running"
                )),
                cpu_weights: Availability::Unavailable(format!(
                    "{why}, so the shown profile gets no larger share of the CPU"
                )),
                limits: Availability::Unavailable(format!(
                    "{why}, so the profiles' memory, pids and CPU limits are ignored"
                )),
            }
        }
        CgroupVersion::V2 => {
            let missing = |wanted: &[&str]| -> Vec<String> {
                wanted
                    .iter()
                    .filter(|c| !host.has(c))
                    .map(|c| (*c).to_owned())
                    .collect()
            };
            let not_delegated = |missing: &[String], what: &str| {
                Availability::Unavailable(format!(
                    "the {} controller{} {} not delegated to the user's cgroup, so {what} \
                     ({DELEGATE_HINT})",
                    missing.join(" and "),
                    if missing.len() > 1 { "s" } else { "" },
                    if missing.len() > 1 { "are" } else { "is" },
                ))
            };
            let cpu = missing(&["cpu"]);
            let limits = missing(&["memory", "pids"]);
            Capabilities {
                freezing: Availability::Available,
                cpu_weights: if cpu.is_empty() {
                    Availability::Available
                } else {
                    not_delegated(&cpu, "the shown profile gets no larger share of the CPU")
                },
                limits: if limits.is_empty() {
                    Availability::Available
                } else {
                    not_delegated(&limits, "the profiles' limits on them are ignored")
                },
            }
        }
    }
}

/// Whether a failed freeze or CPU-weight update means the capability is
/// missing here (and why), rather than that this one container was in the
/// way: Podman refused it while the container was still `running` (asked
/// again after the refusal: a container that stopped meanwhile is refused
/// with runc's bare "exit status 1"), and not because of the container's
/// state. A timeout or a broken connection says nothing. Pure.
pub fn unavailable_after(err: &LifecycleError, running: bool) -> Option<String> {
    let message = match err {
        LifecycleError::Podman { message, .. } | LifecycleError::Profile { message, .. } => message,
        _ => return None,
    };
    if !running {
        return None;
    }
    let lower = message.to_lowercase();
    let about_the_container = [
        "state improper",
        "no such container",
        "not running",
        "is paused",
        "not paused",
    ];
    if about_the_container.iter().any(|m| lower.contains(m)) {
        return None;
    }
    Some(format!("Podman refused it: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(version: CgroupVersion, controllers: &[&str], rootless: bool) -> HostCgroups {
        HostCgroups {
            version,
            controllers: controllers.iter().map(|c| (*c).to_owned()).collect(),
            rootless,
        }
    }

    const ALL_V2: [&str; 5] = ["cpuset", "cpu", "io", "memory", "pids"];

    #[test]
    fn cgroup_v2_with_delegated_controllers_can_do_everything_rootless() {
        let caps = capabilities(&host(CgroupVersion::V2, &ALL_V2, true));
        assert_eq!(caps, Capabilities::default());
        assert!(caps.unavailable().is_empty());
    }

    #[test]
    fn cgroup_v2_without_the_cpu_controller_delegated_has_no_cpu_weights() {
        // systemd's default delegation: memory and pids only.
        let caps = capabilities(&host(CgroupVersion::V2, &["memory", "pids"], true));
        assert!(
            caps.freezing.is_available(),
            "cgroup.freeze needs no controller"
        );
        assert!(caps.limits.is_available());
        let why = caps.cpu_weights.reason().expect("weights unavailable");
        assert!(
            why.contains("cpu controller is not delegated") && why.contains("Delegate="),
            "{why}"
        );
        assert_eq!(caps.unavailable().len(), 1);
        assert!(caps.unavailable()[0].starts_with("CPU weights unavailable: "));
    }

    #[test]
    fn cgroup_v2_without_memory_and_pids_ignores_the_limits() {
        let caps = capabilities(&host(CgroupVersion::V2, &["cpu"], true));
        let why = caps.limits.reason().expect("limits unavailable");
        assert!(why.contains("memory and pids controllers are not"), "{why}");
        assert!(caps.cpu_weights.is_available());
    }

    #[test]
    fn rootful_podman_can_do_everything_on_v1_and_v2() {
        for version in [CgroupVersion::V1, CgroupVersion::V2] {
            let caps = capabilities(&host(
                version.clone(),
                &["cpu", "memory", "pids", "freezer"],
                false,
            ));
            assert_eq!(caps, Capabilities::default(), "{version:?}");
        }
    }

    #[test]
    fn rootless_podman_on_cgroup_v1_can_freeze_weigh_and_limit_nothing() {
        // What Podman 4.3 reports on this CI machine as an ordinary user.
        let caps = capabilities(&host(CgroupVersion::V1, &[], true));
        for c in Capability::ALL {
            let why = caps
                .get(c)
                .reason()
                .unwrap_or_else(|| panic!("{c:?} available"));
            assert!(why.contains("cgroup v1"), "{c:?}: {why}");
        }
        let lines = caps.unavailable();
        assert!(
            lines[0].starts_with("freezing unavailable: rootless Podman"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("CPU weights unavailable: "),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("resource limits unavailable: "),
            "{lines:?}"
        );
    }

    #[test]
    fn an_unknown_layout_is_tried_and_the_first_refusal_tells() {
        let caps = capabilities(&host(CgroupVersion::Unknown, &[], true));
        assert_eq!(caps, Capabilities::default());
    }

    #[test]
    fn a_capability_is_lost_once() {
        let mut caps = Capabilities::default();
        assert!(caps.lose(Capability::Freezing, "first".into()));
        assert!(!caps.lose(Capability::Freezing, "second".into()));
        assert_eq!(caps.freezing.reason(), Some("first"));
    }

    #[test]
    fn only_podmans_refusals_not_about_the_container_mean_unavailable() {
        let refused = |message: &str| LifecycleError::Profile {
            profile: "work".into(),
            action: "freeze",
            message: message.into(),
        };
        let why = unavailable_after(
            &refused(
                "can not pause containers on rootless containers with cgroup V1: this container does not have a cgroup",
            ),
            true,
        )
        .expect("unavailable");
        assert!(why.contains("cgroup V1"), "{why}");
        assert_eq!(
            unavailable_after(&refused("container state improper"), true),
            None,
            "it stopped meanwhile"
        );
        assert_eq!(
            unavailable_after(&refused("no such container"), true),
            None,
            "it went away meanwhile"
        );
        let timeout = LifecycleError::Timeout {
            socket: "/run/podman.sock".into(),
            endpoint: "POST /libpod/containers/x/pause".into(),
            limit: std::time::Duration::from_secs(1),
        };
        assert_eq!(
            unavailable_after(&timeout, true),
            None,
            "a hung Podman says nothing"
        );
        assert_eq!(
            unavailable_after(&refused("`runc update …` failed: exit status 1"), false),
            None,
            "a container that stopped meanwhile says nothing"
        );
    }

    #[test]
    fn podman_info_is_read() {
        let info: podman_api::models::Info = serde_json::from_value(serde_json::json!({
            "host": {
                "cgroupVersion": "v1",
                "cgroupControllers": [],
                "security": {"rootless": true}
            }
        }))
        .expect("an info answer");
        assert_eq!(
            HostCgroups::from_info(&info),
            host(CgroupVersion::V1, &[], true)
        );
    }
}

//! The decision, free of D-Bus and `/proc`: given what the bus and the
//! kernel said about a caller, may it call?

use thiserror::Error;

/// One namespace as the kernel names it: the nsfs device and inode of
/// `/proc/<pid>/ns/<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsId {
    /// The device of the namespace file system.
    pub dev: u64,
    /// The namespace's inode.
    pub ino: u64,
}

/// The namespaces that set a container apart from the host session. Podman
/// always gives a container its own mount namespace, and (unless told
/// otherwise) its own pid, network and, with `userns`, user namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespaces {
    /// `user`: whose ids and capabilities.
    pub user: NsId,
    /// `pid`: which processes it sees.
    pub pid: NsId,
    /// `mnt`: which files it sees.
    pub mnt: NsId,
    /// `net`: which network (and abstract sockets) it has.
    pub net: NsId,
}

impl Namespaces {
    /// The kinds compared, by their names under `/proc/<pid>/ns/`.
    pub const KINDS: [&'static str; 4] = ["user", "pid", "mnt", "net"];

    /// The namespace of `kind` (one of [`Namespaces::KINDS`]).
    pub fn get(&self, kind: &str) -> Option<NsId> {
        match kind {
            "user" => Some(self.user),
            "pid" => Some(self.pid),
            "mnt" => Some(self.mnt),
            "net" => Some(self.net),
            _ => None,
        }
    }

    /// The kinds a caller must share with the service. Every container
    /// Zion makes has a pid namespace of its own (no spec shares the
    /// host's) and a user namespace of its own; the mount and network
    /// namespaces are not compared, since host services legitimately run
    /// with private ones (systemd's `PrivateTmp=`/`PrivateNetwork=`, a
    /// compositor with a private `/tmp` for Xwayland's sockets) and a
    /// container cannot have the host's pid and user namespaces without
    /// also showing in a container's cgroup.
    pub const COMPARED: [&'static str; 2] = ["user", "pid"];

    /// The first compared kind in which `self` and `other` differ.
    pub fn first_difference(&self, other: &Namespaces) -> Option<&'static str> {
        Namespaces::COMPARED
            .into_iter()
            .find(|kind| self.get(kind) != other.get(kind))
    }
}

/// The service itself: the session user it runs as, its namespaces and its
/// cgroup (`/proc/self/cgroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The effective uid: the session user.
    pub uid: u32,
    /// Its namespaces.
    pub namespaces: Namespaces,
    /// Its `/proc/self/cgroup`.
    pub cgroup: String,
}

/// What the kernel said about the caller's process, read while a pidfd held
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its pid in the service's pid namespace.
    pub pid: u32,
    /// Its real uid.
    pub uid: u32,
    /// Its effective uid.
    pub euid: u32,
    /// Its namespaces.
    pub namespaces: Namespaces,
    /// Its `/proc/<pid>/cgroup`.
    pub cgroup: String,
    /// Whether its pidfd still showed it running after everything above was
    /// read: only then was it this process that `/proc/<pid>` described.
    pub alive: bool,
}

/// What could be seen of the caller's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The bus gave no process id.
    NoPid,
    /// The bus gave `pid`, but it could not be read (`why`).
    Unreadable {
        /// The pid the bus gave.
        pid: u32,
        /// What failed.
        why: String,
    },
    /// The process as read.
    Process(Process),
}

/// What the bus and the kernel said about one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The bus's `UnixUserID`.
    pub uid: Option<u32>,
    /// Its process.
    pub process: Seen,
}

/// Why a caller was refused: the text of the `AccessDenied` reply.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// This service does not know its own identity, so trusts no one.
    #[error("this service cannot tell who may call it: {0}")]
    HostUnknown(String),
    /// The bus would not say who called.
    #[error("the bus did not say who the caller is: {0}")]
    NoCredentials(String),
    /// No uid from the bus.
    #[error("the bus gave no user id for the caller")]
    NoUser,
    /// Another user's connection.
    #[error("the caller runs as uid {uid}, not as the session user (uid {session})")]
    OtherUser {
        /// The caller's uid.
        uid: u32,
        /// The session user's.
        session: u32,
    },
    /// No pid from the bus: the caller is out of the bus's sight.
    #[error(
        "the bus gave no process id for the caller: it runs in a pid namespace the bus cannot \
         see, as a container's processes do"
    )]
    NoProcess,
    /// The caller's process could not be read.
    #[error(
        "the caller's process {pid} cannot be inspected ({why}); a caller that cannot be \
         inspected is not trusted"
    )]
    Uninspectable {
        /// The pid.
        pid: u32,
        /// What failed.
        why: String,
    },
    /// The process at the caller's pid belongs to another user.
    #[error(
        "the caller's process {pid} runs as uid {uid} (effective {euid}), not as the session \
         user (uid {session})"
    )]
    ProcessOfOtherUser {
        /// The pid.
        pid: u32,
        /// Its real uid.
        uid: u32,
        /// Its effective uid.
        euid: u32,
        /// The session user's.
        session: u32,
    },
    /// A container or sandbox.
    #[error(
        "the caller's process {pid} runs in another {kind} namespace than this service: it is \
         inside a container or sandbox, which may not call Zion"
    )]
    OtherNamespace {
        /// The pid.
        pid: u32,
        /// The first namespace kind that differs.
        kind: &'static str,
    },
    /// A container's cgroup, though in the host's namespaces.
    #[error("the caller's process {pid} is in a container's cgroup ({line})")]
    ContainerCgroup {
        /// The pid.
        pid: u32,
        /// The cgroup line naming the container.
        line: String,
    },
    /// The process ended while being read: what was read may be another's.
    #[error(
        "the caller's process {pid} exited while it was inspected; its pid may now be another \
         process's"
    )]
    Exited {
        /// The pid.
        pid: u32,
    },
}

/// What container engines put in the cgroup paths of what they run (Podman's
/// `libpod-<id>`, `libpod-conmon-<id>`, `libpod_parent/…`; Docker; LXC;
/// systemd-machined).
const CONTAINER_CGROUPS: [&str; 5] = [
    "libpod",
    "conmon",
    "/docker",
    "lxc.payload",
    "/machine.slice/",
];

/// The line of `caller` (a `/proc/<pid>/cgroup`) naming a container engine
/// that `host`'s does not name: a service that itself runs in a container
/// (a CI runner) has every caller in that container too.
pub fn container_cgroup(host: &str, caller: &str) -> Option<String> {
    let fresh: Vec<&str> = CONTAINER_CGROUPS
        .into_iter()
        .filter(|m| !host.contains(m))
        .collect();
    caller
        .lines()
        .find(|line| fresh.iter().any(|m| line.contains(m)))
        .map(str::to_owned)
}

/// Whether the caller `seen` may call a service that is `host`: the session
/// user's process, in the host's namespaces and outside containers' cgroups,
/// still the same process once read.
pub fn judge(host: &Host, seen: &Observed) -> Result<(), Refusal> {
    let session = host.uid;
    match seen.uid {
        None => return Err(Refusal::NoUser),
        Some(uid) if uid != session => return Err(Refusal::OtherUser { uid, session }),
        Some(_) => {}
    }
    let process = match &seen.process {
        Seen::NoPid => return Err(Refusal::NoProcess),
        Seen::Unreadable { pid, why } => {
            return Err(Refusal::Uninspectable {
                pid: *pid,
                why: why.clone(),
            })
        }
        Seen::Process(p) => p,
    };
    let pid = process.pid;
    if process.uid != session || process.euid != session {
        return Err(Refusal::ProcessOfOtherUser {
            pid,
            uid: process.uid,
            euid: process.euid,
            session,
        });
    }
    if let Some(kind) = host.namespaces.first_difference(&process.namespaces) {
        return Err(Refusal::OtherNamespace { pid, kind });
    }
    if let Some(line) = container_cgroup(&host.cgroup, &process.cgroup) {
        return Err(Refusal::ContainerCgroup { pid, line });
    }
    if !process.alive {
        return Err(Refusal::Exited { pid });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(base: u64) -> Namespaces {
        let id = |n| NsId { dev: 4, ino: n };
        Namespaces {
            user: id(base),
            pid: id(base + 1),
            mnt: id(base + 2),
            net: id(base + 3),
        }
    }

    fn host() -> Host {
        Host {
            uid: 1000,
            namespaces: ns(100),
            cgroup: "0::/user.slice/user-1000.slice/session-2.scope\n".into(),
        }
    }

    fn shell() -> Process {
        Process {
            pid: 4242,
            uid: 1000,
            euid: 1000,
            namespaces: ns(100),
            cgroup: "0::/user.slice/user-1000.slice/session-2.scope\n".into(),
            alive: true,
        }
    }

    fn seen(process: Process) -> Observed {
        Observed {
            uid: Some(1000),
            process: Seen::Process(process),
        }
    }

    #[test]
    fn the_session_users_own_shell_may_call() {
        assert_eq!(judge(&host(), &seen(shell())), Ok(()));
    }

    #[test]
    fn another_user_is_refused_by_the_bus_uid_before_anything_else() {
        let mut observed = seen(shell());
        observed.uid = Some(1001);
        assert_eq!(
            judge(&host(), &observed),
            Err(Refusal::OtherUser {
                uid: 1001,
                session: 1000
            })
        );
        observed.uid = None;
        assert_eq!(judge(&host(), &observed), Err(Refusal::NoUser));
    }

    #[test]
    fn a_caller_without_a_visible_process_is_refused() {
        let observed = Observed {
            uid: Some(1000),
            process: Seen::NoPid,
        };
        assert_eq!(judge(&host(), &observed), Err(Refusal::NoProcess));
        let observed = Observed {
            uid: Some(1000),
            process: Seen::Unreadable {
                pid: 7,
                why: "no such process".into(),
            },
        };
        assert!(matches!(
            judge(&host(), &observed),
            Err(Refusal::Uninspectable { pid: 7, .. })
        ));
    }

    #[test]
    fn a_reused_pid_of_another_user_is_refused() {
        let mut p = shell();
        p.euid = 0;
        assert!(matches!(
            judge(&host(), &seen(p)),
            Err(Refusal::ProcessOfOtherUser { euid: 0, .. })
        ));
    }

    #[test]
    fn a_container_is_refused_by_the_first_namespace_that_differs() {
        // Rootful Podman without userns: same user namespace, new mount,
        // pid and network namespaces.
        let mut p = shell();
        p.namespaces.pid.ino = 900;
        p.namespaces.mnt.ino = 901;
        assert_eq!(
            judge(&host(), &seen(p.clone())),
            Err(Refusal::OtherNamespace {
                pid: 4242,
                kind: "pid"
            })
        );
        p.namespaces.user.ino = 902;
        assert!(matches!(
            judge(&host(), &seen(p)),
            Err(Refusal::OtherNamespace { kind: "user", .. })
        ));
        for kind in Namespaces::COMPARED {
            let mut p = shell();
            match kind {
                "user" => p.namespaces.user.dev = 5,
                _ => p.namespaces.pid.dev = 5,
            }
            assert_eq!(
                judge(&host(), &seen(p)),
                Err(Refusal::OtherNamespace { pid: 4242, kind }),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_host_process_with_a_private_tmp_or_network_is_the_session_users() {
        // A host service with PrivateTmp= / PrivateNetwork=, or the
        // compositor's caller seen from a compositor with a private /tmp.
        let mut p = shell();
        p.namespaces.mnt.ino = 901;
        p.namespaces.net.ino = 903;
        assert!(judge(&host(), &seen(p)).is_ok());
    }

    #[test]
    fn a_container_sharing_the_hosts_namespaces_is_refused_by_its_cgroup() {
        let mut p = shell();
        p.cgroup = "9:name=systemd:/libpod_parent/libpod-0123abcd\n8:pids:/libpod_parent/libpod-0123abcd\n".into();
        assert!(matches!(
            judge(&host(), &seen(p)),
            Err(Refusal::ContainerCgroup { line, .. }) if line.contains("libpod-0123abcd")
        ));
    }

    #[test]
    fn a_service_in_a_container_judges_cgroups_against_its_own() {
        let mut h = host();
        h.cgroup = "0::/docker/abc\n".into();
        let mut p = shell();
        p.cgroup = "0::/docker/abc\n".into();
        assert_eq!(judge(&h, &seen(p.clone())), Ok(()));
        p.cgroup = "0::/docker/abc/libpod-1\n".into();
        assert!(matches!(
            judge(&h, &seen(p)),
            Err(Refusal::ContainerCgroup { .. })
        ));
    }

    #[test]
    fn a_process_that_exited_while_read_is_refused() {
        let mut p = shell();
        p.alive = false;
        assert_eq!(judge(&host(), &seen(p)), Err(Refusal::Exited { pid: 4242 }));
    }
}

//! Who may call Zion's D-Bus methods, decided in one place for the
//! compositor and the session daemon.
//!
//! The rule: the caller is a process of the session user (the uid the
//! service runs as) in the service's own user and pid namespaces, outside
//! any container's cgroup. A profile container, a
//! disposable browser or another user that reaches the bus is refused with
//! `org.freedesktop.DBus.Error.AccessDenied`, and the refusal is logged.
//! Read-only methods (lists, status) are held to the same rule: their only
//! callers are the session's own tools, and the quarantine's list alone
//! names every profile's downloads.
//!
//! The uid alone proves little: with rootless Podman's `keep-id`, or rootful
//! Podman without a user namespace, a container's processes have the session
//! user's uid on the host. The namespaces do: every container Zion makes
//! has pid and user namespaces of its own. Mount and network namespaces are
//! not compared: host services may run with private ones.
//!
//! What this does not cover, and why the bus socket must never be given to
//! a container in the first place:
//! - Signals are broadcast: any peer may add a match rule and read every
//!   `StateChanged`, `Died`, `ConfigError`, `ItemAdded`/`ItemChanged` (file
//!   names, hashes, verdicts, source profiles), `Opened`/`Closed` and
//!   `ActiveDesktop` change. Properties stay readable for the same reason.
//!   A peer of the bus owner's uid may even `BecomeMonitor` and read every
//!   call and reply.
//! - Without the bus's `ProcessFD` (dbus-daemon 1.14 gives none; dbus-broker
//!   does), the pid is a number the bus took when the caller connected. The
//!   process is pinned by a pidfd when the call is checked and re-checked
//!   afterwards, but if the connecting process handed its socket on and
//!   exited, another process may since have been given that pid; it would
//!   then have to be the session user's own process on the host for the call
//!   to pass.
//!
//! - [`identity`]: the pure decision, over what was observed of a caller.
//! - [`process`]: observing a process through a pidfd and `/proc`.
//! - [`gate`]: asking the bus who called and answering a refusal.

pub mod gate;
pub mod identity;
pub mod process;

pub use gate::{Gate, Guarded, Refused};
pub use identity::{judge, Host, Namespaces, NsId, Observed, Process, Refusal, Seen};

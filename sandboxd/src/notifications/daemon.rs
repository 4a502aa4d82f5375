//! The host's notification daemon: `[session] notifications` (mako by
//! default) is started on the compositor's host socket when nothing owns
//! `org.freedesktop.Notifications` on the session bus, and again if it
//! dies, a few times a minute at most.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use zion_bus::notifications::NAME;

use crate::Session;

/// How often the daemon is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// At most this many starts within [`START_WINDOW`].
const MAX_STARTS: usize = 3;
/// See [`MAX_STARTS`].
const START_WINDOW: Duration = Duration::from_secs(60);

/// What to do about the host's notification daemon, given what is seen.
/// Pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing: one runs (Zion's or the user's), none is wanted, or the
    /// compositor's socket is not there yet.
    Wait,
    /// Start the configured one.
    Start,
    /// It died too often of late: leave it be.
    GiveUp,
}

/// Decides: `wanted` (a command is configured), `owned` (the name has an
/// owner), `ours_running`, `socket` (the host socket exists), `recent`
/// starts within the window. Pure.
pub fn step(wanted: bool, owned: bool, ours_running: bool, socket: bool, recent: usize) -> Step {
    if !wanted || owned || ours_running || !socket {
        Step::Wait
    } else if recent >= MAX_STARTS {
        Step::GiveUp
    } else {
        Step::Start
    }
}

/// Keeps the host's notification daemon running, until aborted (the child
/// is killed with the task).
pub async fn keep(session: Arc<Session>, host: zbus::Connection) {
    let mut child: Option<Child> = None;
    let mut starts: Vec<Instant> = Vec::new();
    let mut gave_up = false;
    let dbus = match zbus::fdo::DBusProxy::new(&host).await {
        Ok(proxy) => proxy,
        Err(err) => {
            tracing::warn!("no notification daemon is started: the session bus: {err}");
            return;
        }
    };
    loop {
        let argv = session.config().session.notifications.clone();
        let ours_running = child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
        let owned = match zbus::names::BusName::try_from(NAME) {
            Ok(name) => dbus.name_has_owner(name).await.unwrap_or(false),
            Err(_) => false,
        };
        let socket = session.paths().host_wayland_socket();
        starts.retain(|t| t.elapsed() < START_WINDOW);
        match step(
            !argv.is_empty(),
            owned,
            ours_running,
            socket.exists(),
            starts.len(),
        ) {
            Step::Wait => gave_up = false,
            Step::GiveUp => {
                if !gave_up {
                    tracing::error!(
                        "the notification daemon `{}` exited {MAX_STARTS} times within {START_WINDOW:?}; not starting it again for now",
                        argv.join(" ")
                    );
                    gave_up = true;
                }
            }
            Step::Start => {
                starts.push(Instant::now());
                child = start(&argv, &session);
            }
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

fn start(argv: &[String], session: &Session) -> Option<Child> {
    let (program, args) = argv.split_first()?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("WAYLAND_DISPLAY", session.paths().host_wayland_socket())
        .env("XDG_RUNTIME_DIR", &session.paths().runtime)
        .env_remove("DISPLAY")
        .kill_on_drop(true);
    match cmd.spawn() {
        Ok(child) => {
            tracing::info!(
                "no notification daemon on the session bus: started `{}` (pid {})",
                argv.join(" "),
                child.id().unwrap_or(0)
            );
            Some(child)
        }
        Err(err) => {
            tracing::warn!(
                "starting the notification daemon `{}`: {err} (install Debian's mako-notifier, or set [session] notifications)",
                argv.join(" ")
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_is_started_only_when_none_runs_and_the_screen_is_there() {
        assert_eq!(step(true, false, false, true, 0), Step::Start);
        assert_eq!(
            step(true, true, false, true, 0),
            Step::Wait,
            "the user's own"
        );
        assert_eq!(
            step(true, false, true, true, 0),
            Step::Wait,
            "ours, starting"
        );
        assert_eq!(
            step(true, false, false, false, 0),
            Step::Wait,
            "no socket yet"
        );
        assert_eq!(
            step(false, false, false, true, 0),
            Step::Wait,
            "none wanted"
        );
        assert_eq!(step(true, false, false, true, MAX_STARTS), Step::GiveUp);
    }
}

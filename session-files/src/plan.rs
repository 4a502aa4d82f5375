//! The launcher's decisions, as functions of values: which bus, which mode,
//! which backend, and the environment and arguments the session gets.

use std::path::Path;
use std::process::ExitStatus;

/// The desktop's name in `XDG_CURRENT_DESKTOP` (and `DesktopNames=` of
/// zion.desktop).
pub const DESKTOP_NAME: &str = "Zion";

/// The systemd user target that holds the session.
pub const SESSION_TARGET: &str = "zion-session.target";

/// Variables holding the children's extra arguments, whitespace-separated;
/// the systemd units expand them in `ExecStart=`.
pub const COMPOSITOR_ARGS_VAR: &str = "ZION_COMPOSITOR_ARGS";
/// See [`COMPOSITOR_ARGS_VAR`].
pub const SANDBOXD_ARGS_VAR: &str = "ZION_SANDBOXD_ARGS";

/// The variables every Zion session sets, whatever starts it.
pub fn session_env() -> [(&'static str, &'static str); 3] {
    [
        ("XDG_CURRENT_DESKTOP", DESKTOP_NAME),
        ("XDG_SESSION_TYPE", "wayland"),
        ("XDG_SESSION_DESKTOP", "zion"),
    ]
}

/// The variables handed to the systemd user manager (and D-Bus activation)
/// before the session target starts, when they are set.
pub const IMPORTED_VARS: &[&str] = &[
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_TYPE",
    "XDG_SESSION_DESKTOP",
    "XDG_SESSION_ID",
    "XDG_SEAT",
    "XDG_VTNR",
    "PATH",
    COMPOSITOR_ARGS_VAR,
    SANDBOXD_ARGS_VAR,
];

/// How the session gets its D-Bus session bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusPlan {
    /// `DBUS_SESSION_BUS_ADDRESS` is set: use that bus.
    Existing,
    /// The per-user bus at `$XDG_RUNTIME_DIR/bus` (dbus-user-session,
    /// dbus-broker) is there but not exported: export this address.
    UserBus(String),
    /// Start `dbus-daemon --session --fork --print-address` and stop it when
    /// the session ends. Not `dbus-run-session`: it dies of the SIGTERM a
    /// display manager sends and leaves the session running, orphaned.
    ForkDaemon,
}

/// Chooses the bus from `DBUS_SESSION_BUS_ADDRESS` and the user bus socket
/// if one exists.
pub fn choose_bus(address: Option<&str>, user_bus_socket: Option<&Path>) -> BusPlan {
    if address.is_some_and(|a| !a.is_empty()) {
        BusPlan::Existing
    } else if let Some(socket) = user_bus_socket {
        BusPlan::UserBus(format!("unix:path={}", socket.display()))
    } else {
        BusPlan::ForkDaemon
    }
}

/// Who runs the compositor and the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The systemd user manager, through `zion-session.target`.
    Systemd,
    /// The launcher itself, as its children.
    Direct,
}

/// What the user asked for with `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeChoice {
    /// systemd when `systemctl --user` answers, else direct.
    Auto,
    /// systemd, or fail.
    Systemd,
    /// Direct, even when systemd runs.
    Direct,
}

/// `systemctl --user` was asked for but does not answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--mode systemd: the systemd user manager does not answer (`systemctl --user show-environment` failed); log in through logind, or use --mode direct")]
pub struct SystemdUnreachable;

/// Chooses the mode; `systemd_reachable` is only asked when it matters.
pub fn choose_mode(
    choice: ModeChoice,
    systemd_reachable: impl FnOnce() -> bool,
) -> Result<Mode, SystemdUnreachable> {
    if choice == ModeChoice::Direct {
        return Ok(Mode::Direct);
    }
    match (choice, systemd_reachable()) {
        (_, true) => Ok(Mode::Systemd),
        (ModeChoice::Systemd, false) => Err(SystemdUnreachable),
        (_, false) => Ok(Mode::Direct),
    }
}

/// The compositor backend and why it was chosen (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendChoice {
    /// The value of `zion-compositor --backend`.
    pub backend: String,
    /// Why, in a few words.
    pub reason: &'static str,
}

/// Chooses the backend: the one passed with `--backend`; `winit` (a window)
/// inside another display server; else `udev`, the login seat's screens and
/// input, which is what a display manager starts.
pub fn choose_backend(
    explicit: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> BackendChoice {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    if let Some(backend) = explicit {
        BackendChoice {
            backend: backend.to_owned(),
            reason: "--backend",
        }
    } else if set("WAYLAND_DISPLAY") || set("DISPLAY") {
        BackendChoice {
            backend: "winit".into(),
            reason: "inside another display server (WAYLAND_DISPLAY or DISPLAY is set)",
        }
    } else if set("XDG_SEAT") {
        BackendChoice {
            backend: "udev".into(),
            reason: "on a login seat (XDG_SEAT is set)",
        }
    } else {
        BackendChoice {
            backend: "udev".into(),
            reason: "no display and no XDG_SEAT: assuming a login seat; pass --backend otherwise",
        }
    }
}

/// Splits an `ZION_*_ARGS` value on whitespace.
pub fn split_args(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The compositor's arguments: the backend, then the extra ones.
pub fn compositor_args(backend: &str, extra: &[String]) -> Vec<String> {
    let mut args = vec!["--backend".to_owned(), backend.to_owned()];
    args.extend(extra.iter().cloned());
    args
}

/// Extra arguments given on the command line come first, then those of the
/// environment variable.
pub fn extra_args(flags: &[String], env_value: Option<&str>) -> Vec<String> {
    let mut args = flags.to_vec();
    args.extend(split_args(env_value));
    args
}

/// An argument cannot go through a whitespace-separated variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("argument `{arg}` holds whitespace: systemd splits {var} on whitespace, so it cannot pass it; use --mode direct or drop the argument")]
pub struct ArgHasWhitespace {
    /// The argument.
    pub arg: String,
    /// The variable it was meant for.
    pub var: &'static str,
}

/// Joins arguments for a variable that a unit's `ExecStart=` expands.
pub fn join_for_unit(var: &'static str, args: &[String]) -> Result<String, ArgHasWhitespace> {
    if let Some(arg) = args
        .iter()
        .find(|a| a.is_empty() || a.contains(char::is_whitespace))
    {
        return Err(ArgHasWhitespace {
            arg: arg.clone(),
            var,
        });
    }
    Ok(args.join(" "))
}

/// The launcher's exit code for the compositor's exit status: its code, or
/// 128 + the signal that killed it, as a shell reports it.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    }
}

/// Whether `systemctl --user is-active` output says the session is over.
pub fn session_over(active_state: &str) -> bool {
    matches!(active_state.trim(), "inactive" | "failed" | "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn an_exported_bus_is_used_as_it_is() {
        let plan = choose_bus(Some("unix:path=/run/user/1000/bus"), Some(Path::new("/x")));
        assert_eq!(plan, BusPlan::Existing);
    }

    #[test]
    fn the_user_bus_socket_is_exported_when_the_address_is_missing() {
        let plan = choose_bus(None, Some(Path::new("/run/user/1000/bus")));
        assert_eq!(
            plan,
            BusPlan::UserBus("unix:path=/run/user/1000/bus".into())
        );
        assert_eq!(
            choose_bus(Some(""), Some(Path::new("/b"))),
            BusPlan::UserBus("unix:path=/b".into())
        );
    }

    #[test]
    fn without_any_bus_the_launcher_starts_its_own() {
        assert_eq!(choose_bus(None, None), BusPlan::ForkDaemon);
        assert_eq!(choose_bus(Some(""), None), BusPlan::ForkDaemon);
    }

    #[test]
    fn auto_mode_follows_systemd_and_direct_never_asks_it() {
        assert_eq!(choose_mode(ModeChoice::Auto, || true), Ok(Mode::Systemd));
        assert_eq!(choose_mode(ModeChoice::Auto, || false), Ok(Mode::Direct));
        assert_eq!(
            choose_mode(ModeChoice::Direct, || panic!("asked systemd")),
            Ok(Mode::Direct)
        );
    }

    #[test]
    fn systemd_mode_without_systemd_is_an_error_that_says_what_to_do() {
        let err = choose_mode(ModeChoice::Systemd, || false).unwrap_err();
        assert!(err.to_string().contains("--mode direct"));
        assert_eq!(choose_mode(ModeChoice::Systemd, || true), Ok(Mode::Systemd));
    }

    #[test]
    fn a_login_seat_gets_the_udev_backend() {
        let choice = choose_backend(None, env_of(&[("XDG_SEAT", "seat0")]));
        assert_eq!(choice.backend, "udev");
        assert_eq!(choose_backend(None, env_of(&[])).backend, "udev");
    }

    #[test]
    fn inside_another_desktop_the_backend_is_a_window_even_on_a_seat() {
        let env = [("XDG_SEAT", "seat0"), ("WAYLAND_DISPLAY", "wayland-0")];
        assert_eq!(choose_backend(None, env_of(&env)).backend, "winit");
        let env = [("DISPLAY", ":0")];
        assert_eq!(choose_backend(None, env_of(&env)).backend, "winit");
        let env = [("DISPLAY", "")];
        assert_eq!(choose_backend(None, env_of(&env)).backend, "udev");
    }

    #[test]
    fn an_explicit_backend_is_passed_through() {
        let env = [("WAYLAND_DISPLAY", "wayland-0")];
        let choice = choose_backend(Some("headless"), env_of(&env));
        assert_eq!(choice.backend, "headless");
        assert_eq!(
            compositor_args(&choice.backend, &["--size".into(), "800x600".into()]),
            ["--backend", "headless", "--size", "800x600"]
        );
    }

    #[test]
    fn the_session_says_it_is_zion_on_wayland() {
        let env = session_env();
        assert!(env.contains(&("XDG_CURRENT_DESKTOP", "Zion")));
        assert!(env.contains(&("XDG_SESSION_TYPE", "wayland")));
        assert!(env.contains(&("XDG_SESSION_DESKTOP", "zion")));
        for (name, _) in env {
            assert!(IMPORTED_VARS.contains(&name), "{name} is not imported");
        }
    }

    #[test]
    fn extra_args_come_from_flags_then_the_variable() {
        assert_eq!(
            extra_args(&["--no-profiles".into()], Some("  --rules /r \t--x ")),
            ["--no-profiles", "--rules", "/r", "--x"]
        );
        assert!(extra_args(&[], None).is_empty());
    }

    #[test]
    fn args_with_whitespace_cannot_go_to_a_unit() {
        let ok = join_for_unit(SANDBOXD_ARGS_VAR, &["--a".into(), "b".into()]);
        assert_eq!(ok, Ok("--a b".into()));
        let err = join_for_unit(SANDBOXD_ARGS_VAR, &["/my rules".into()]).unwrap_err();
        assert_eq!(err.arg, "/my rules");
        assert!(err.to_string().contains(SANDBOXD_ARGS_VAR));
        assert!(join_for_unit(SANDBOXD_ARGS_VAR, &["".into()]).is_err());
    }

    #[test]
    fn the_launcher_exits_with_the_compositors_code_or_its_signal() {
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 128 + 9);
    }

    #[test]
    fn the_session_is_over_when_the_target_is_inactive_or_failed() {
        assert!(session_over("inactive\n"));
        assert!(session_over("failed"));
        assert!(!session_over("active"));
        assert!(!session_over("activating"));
        assert!(!session_over("deactivating"));
    }
}

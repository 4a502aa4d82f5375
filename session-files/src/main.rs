//! `zion-session`: what a display manager runs for the Zion session
//! (zion.desktop's `Exec=`). It makes sure a session bus exists, sets the
//! session's environment, and runs the compositor and zion-sandboxd, through
//! the systemd user manager when it runs, else as its own children.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use zion_session::bus::{self, ForkedBus};
use zion_session::direct::{self, Program};
use zion_session::locate;
use zion_session::plan::{self, BusPlan, Mode, ModeChoice};
use zion_session::podman::{self, PodmanPlan, PodmanService};

/// Starts a Zion session: the compositor and the session daemon.
#[derive(Debug, Parser)]
#[command(name = "zion-session", version, about)]
struct Args {
    /// auto (systemd when `systemctl --user` answers), systemd or direct.
    #[arg(long, value_enum, default_value = "auto")]
    mode: ModeChoice,
    /// The compositor's backend [default: udev, or winit inside another
    /// display server].
    #[arg(long)]
    backend: Option<String>,
    /// An extra argument for zion-compositor (repeat it for more); also
    /// $ZION_COMPOSITOR_ARGS, whitespace-separated.
    #[arg(
        long = "compositor-arg",
        value_name = "ARG",
        allow_hyphen_values = true
    )]
    compositor_args: Vec<String>,
    /// An extra argument for zion-sandboxd, e.g. --daemon-arg=--no-profiles
    /// (repeat it for more); also $ZION_SANDBOXD_ARGS, whitespace-separated.
    #[arg(long = "daemon-arg", value_name = "ARG", allow_hyphen_values = true)]
    daemon_args: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();

    // Everything that changes this process's environment happens here,
    // before the runtime starts any thread.
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .context("XDG_RUNTIME_DIR is unset or not a folder: start Zion from a display manager or a logind login (pam_systemd sets it), or set it to a private folder of yours")?;
    let forked_bus = ensure_bus(&runtime_dir)?;
    let result = session(args);
    if let Some(bus) = &forked_bus {
        bus.stop();
    }
    let code = result?;
    std::process::exit(code);
}

/// Everything after the bus: the environment, the mode, the programs.
fn session(args: Args) -> anyhow::Result<i32> {
    for (name, value) in plan::session_env() {
        std::env::set_var(name, value);
    }
    let backend = plan::choose_backend(args.backend.as_deref(), |name| std::env::var(name).ok());
    tracing::info!("backend {} ({})", backend.backend, backend.reason);
    let compositor_args = plan::compositor_args(
        &backend.backend,
        &plan::extra_args(
            &args.compositor_args,
            std::env::var(plan::COMPOSITOR_ARGS_VAR).ok().as_deref(),
        ),
    );
    let daemon_args = plan::extra_args(
        &args.daemon_args,
        std::env::var(plan::SANDBOXD_ARGS_VAR).ok().as_deref(),
    );
    let mode = plan::choose_mode(args.mode, zion_session::systemd::reachable)?;
    tracing::info!("mode: {mode:?}");

    match mode {
        Mode::Systemd => {
            std::env::set_var(
                plan::COMPOSITOR_ARGS_VAR,
                plan::join_for_unit(plan::COMPOSITOR_ARGS_VAR, &compositor_args)?,
            );
            std::env::set_var(
                plan::SANDBOXD_ARGS_VAR,
                plan::join_for_unit(plan::SANDBOXD_ARGS_VAR, &daemon_args)?,
            );
            runtime()?.block_on(zion_session::systemd::run())
        }
        Mode::Direct => run_direct(compositor_args, daemon_args),
    }
}

/// Direct mode: both programs must be found before anything starts; the
/// Podman API is made to answer first.
fn run_direct(compositor_args: Vec<String>, daemon_args: Vec<String>) -> anyhow::Result<i32> {
    let compositor = Program {
        path: locate::find("zion-compositor")?,
        args: compositor_args,
    };
    let daemon = Program {
        path: locate::find("zion-sandboxd")?,
        args: daemon_args,
    };
    let _podman = ensure_podman();
    let status = runtime()?.block_on(direct::run(&compositor, &daemon))?;
    Ok(plan::exit_code(status))
}

/// Serves the Podman API for the session when nothing else does; without
/// Podman the desktop still starts (the daemon then says what is missing).
fn ensure_podman() -> Option<PodmanService> {
    let runtime_dir = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    let host = std::env::var("CONTAINER_HOST").ok();
    match podman::plan(host.as_deref(), &runtime_dir, podman::answers) {
        PodmanPlan::Given => None,
        PodmanPlan::Answers(socket) => {
            tracing::info!("Podman answers on {}", socket.display());
            None
        }
        PodmanPlan::Serve(socket) => {
            let started = locate::find("podman")
                .map_err(anyhow::Error::from)
                .and_then(|podman| PodmanService::start(&podman, &socket));
            match started {
                Ok(service) => {
                    tracing::info!(
                        "no Podman API answered: serving one on {} (podman system service, pid {})",
                        socket.display(),
                        service.pid()
                    );
                    Some(service)
                }
                Err(e) => {
                    tracing::error!("no Podman API answers and none could be started: {e:#}");
                    None
                }
            }
        }
    }
}

/// One thread: the children's parent-death signal follows the thread that
/// spawned them, so that thread must live as long as the launcher.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("error starting the async runtime")
}

/// Exports a session bus address, starting a bus when there is none;
/// returns the bus it started.
fn ensure_bus(runtime_dir: &Path) -> anyhow::Result<Option<ForkedBus>> {
    let address = std::env::var("DBUS_SESSION_BUS_ADDRESS").ok();
    let user_bus = bus::user_bus_socket(Some(runtime_dir));
    match plan::choose_bus(address.as_deref(), user_bus.as_deref()) {
        BusPlan::Existing => Ok(None),
        BusPlan::UserBus(address) => {
            tracing::info!("using the user bus {address}");
            std::env::set_var("DBUS_SESSION_BUS_ADDRESS", address);
            Ok(None)
        }
        BusPlan::ForkDaemon => {
            let daemon = locate::find("dbus-daemon")
                .context("no session bus and no way to start one: install dbus")?;
            let forked = ForkedBus::start(&daemon)?;
            tracing::info!("no session bus: started one at {}", forked.address);
            std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &forked.address);
            Ok(Some(forked))
        }
    }
}

//! zion-sandboxd: the session's container daemon.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use zion_config::Config;
use zion_profiles::podman::{self, PodmanCandidates};
use zion_profiles::{Lifecycle, Timeouts};
use zion_sandboxd::{
    follow, notifications, profiles_dbus, quarantine, reload, sandbox, Session, SessionPaths,
};

/// Runs the profiles of zion.toml as Podman containers until told to stop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The configuration file [default: $XDG_CONFIG_HOME/zion/zion.toml].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Runs the quarantine only: no Podman, no profile containers.
    #[arg(long)]
    no_profiles: bool,
    #[command(flatten)]
    quarantine: quarantine::QuarantineArgs,
    #[command(flatten)]
    sandbox: sandbox::SandboxArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    raise_open_file_limit();
    let mut paths = SessionPaths::from_env();
    if let Some(config) = &args.config {
        paths = paths.with_config(config);
    }
    let config = load_config(&paths)?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;

    // The quarantine has its own bus connection (org.zionos.Quarantine1) and
    // runs without a bus too; it failing leaves the profiles running.
    let quarantine_bus = match std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        Some(_) => Some(
            zbus::Connection::session()
                .await
                .context("connecting to the session bus")?,
        ),
        None => None,
    };
    let _quarantine =
        match quarantine::start(&paths, &config, &args.quarantine, quarantine_bus).await {
            Ok(q) => Some(q),
            Err(e) if args.no_profiles => return Err(e),
            Err(e) => {
                tracing::error!("the quarantine is not running: {e:#}");
                None
            }
        };
    if args.no_profiles {
        tracing::info!("quarantine only (--no-profiles); SIGTERM or Ctrl+C stops it");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        return Ok(());
    }

    let timeouts = Timeouts::from(&config.podman);
    let client = podman::connect(&PodmanCandidates::from_env(), timeouts).await?;
    tracing::info!("Podman at {}", client.socket().display());
    let mut session = Session::new(config, paths, Lifecycle::new(client));
    session.detect_host().await;
    let session = Arc::new(session);
    // The bus is optional: without one the profiles still run.
    let _bus = match std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        Some(_) => Some(
            profiles_dbus::serve(session.clone(), None)
                .await
                .context("serving org.zionos.Profiles1 on the session bus")?,
        ),
        None => {
            tracing::warn!("no session bus (DBUS_SESSION_BUS_ADDRESS unset): org.zionos.Profiles1 is not offered");
            None
        }
    };
    let failed = session.up_all().await;
    if failed.len() == session.config().profiles.len() && !failed.is_empty() {
        // Still serving: on a first login no image is built yet, and the
        // user reads why in each profile's status, builds the images and
        // starts the profiles (the quarantine runs meanwhile).
        tracing::error!(
            "no profile could start ({}); each one's status says why",
            failed.join(", ")
        );
    }
    let watch = tokio::spawn(session.clone().watch());
    session.check_disk_hibernate().await;
    // Hibernation follows the compositor's shown desktop (on the same bus).
    let follow = _bus
        .as_ref()
        .map(|bus| tokio::spawn(follow::run(session.clone(), bus.clone())));
    // Notifications from inside the profiles, to the host's daemon.
    let relay = _bus
        .as_ref()
        .map(|bus| tokio::spawn(notifications::run(session.clone(), bus.clone())));
    let reload = match reload::ConfigWatcher::new(&session.paths().config_file) {
        Ok(mut watcher) => {
            let session = session.clone();
            Some(tokio::spawn(async move {
                while watcher.changed().await.is_some() {
                    session.reload().await;
                }
            }))
        }
        Err(err) => {
            tracing::warn!("zion.toml is not reloaded on change: {err:#}");
            None
        }
    };
    let store = _quarantine.as_ref().map(|q| q.store.clone());
    let sandboxes = sandbox::start(session.clone(), store, _bus.as_ref(), &args.sandbox).await;
    tracing::info!("session up; SIGTERM or Ctrl+C stops it");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("stopping the session");
    // No restart and no reload while the profiles go down.
    watch.abort();
    if let Some(follow) = follow {
        follow.abort();
    }
    if let Some(relay) = relay {
        relay.abort();
    }
    if let Some(reload) = reload {
        reload.abort();
    }
    sandboxes.close_all().await;
    session.down_all().await;
    Ok(())
}

/// The configuration file, or the built-in defaults when there is none yet.
fn load_config(paths: &SessionPaths) -> anyhow::Result<Config> {
    if paths.config_file.exists() {
        return Config::load(&paths.config_file).map_err(|e| anyhow::anyhow!("{e}"));
    }
    tracing::info!(
        "no {} yet: using the built-in profiles (work, gaming, personal)",
        paths.config_file.display()
    );
    Ok(Config::defaults())
}

/// Lifts the soft limit on open descriptors to the hard one: a batch of
/// ingests holds several descriptors per file (its copy, the inbox file
/// being removed, the scan's), which systemd's default soft limit of 1024
/// for user services would cut short. The hard limit stays as it was.
fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current >= limit.maximum {
        return;
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::debug!(
            "open descriptors: soft limit {:?} -> {:?}",
            limit.current,
            limit.maximum
        ),
        Err(e) => tracing::warn!("cannot raise the open descriptor limit: {e}"),
    }
}

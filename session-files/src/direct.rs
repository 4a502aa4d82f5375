//! Direct mode: the compositor and the daemon as the launcher's children.
//! SIGTERM, SIGINT and SIGHUP are forwarded to both; the session ends when
//! the compositor exits, and then the daemon is stopped.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Context;
use rustix::process::{kill_process, Pid, Signal};
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};

/// How long a child gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A program to run and its arguments.
#[derive(Debug, Clone)]
pub struct Program {
    /// The executable.
    pub path: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// Runs the session: starts both programs, waits for the compositor, stops
/// the daemon, and returns the compositor's exit status.
pub async fn run(compositor: &Program, daemon: &Program) -> anyhow::Result<ExitStatus> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;

    let mut comp = spawn(compositor)?;
    tracing::info!(
        "started {} (pid {})",
        compositor.path.display(),
        comp.id().unwrap_or(0)
    );
    let mut daemon_child = match spawn(daemon) {
        Ok(child) => {
            tracing::info!(
                "started {} (pid {})",
                daemon.path.display(),
                child.id().unwrap_or(0)
            );
            Some(child)
        }
        Err(err) => {
            // The desktop is still usable without its containers.
            tracing::error!("{err:#}");
            None
        }
    };

    // Once a stop is asked, the compositor gets STOP_GRACE to exit.
    let mut deadline: Option<tokio::time::Instant> = None;
    let status = loop {
        let kill_at = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = comp.wait() => break status.context("waiting for the compositor")?,
            status = wait_some(&mut daemon_child) => {
                match status {
                    Ok(s) if s.success() => tracing::info!("zion-sandboxd exited"),
                    Ok(s) => tracing::warn!("zion-sandboxd exited with {s}; the desktop goes on without it"),
                    Err(e) => tracing::warn!("waiting for zion-sandboxd: {e}"),
                }
                daemon_child = None;
            }
            _ = term.recv() => forward("SIGTERM", Signal::TERM, &comp, &daemon_child, &mut deadline),
            _ = int.recv() => forward("SIGINT", Signal::INT, &comp, &daemon_child, &mut deadline),
            // A hang-up (the seat's session going away) ends the session too.
            _ = hup.recv() => forward("SIGHUP", Signal::TERM, &comp, &daemon_child, &mut deadline),
            _ = kill_at => {
                tracing::warn!("the compositor did not stop within {STOP_GRACE:?}: killing it");
                let _ = comp.start_kill();
                deadline = None;
            }
        }
    };
    tracing::info!("the compositor exited ({status}); stopping zion-sandboxd");
    if let Some(child) = daemon_child.as_mut() {
        stop(child, "zion-sandboxd").await;
    }
    Ok(status)
}

fn spawn(program: &Program) -> anyhow::Result<Child> {
    let mut cmd = Command::new(&program.path);
    cmd.args(&program.args)
        // Its own process group: a terminal's Ctrl+C reaches the launcher,
        // which forwards it once.
        .process_group(0)
        .kill_on_drop(false);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no
    // memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(Signal::TERM))
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn()
        .with_context(|| format!("error starting {}", program.path.display()))
}

async fn wait_some(child: &mut Option<Child>) -> std::io::Result<ExitStatus> {
    match child {
        Some(child) => child.wait().await,
        None => std::future::pending().await,
    }
}

fn forward(
    received: &str,
    sig: Signal,
    comp: &Child,
    daemon: &Option<Child>,
    deadline: &mut Option<tokio::time::Instant>,
) {
    tracing::info!("{received}: stopping the session");
    for child in std::iter::once(comp).chain(daemon.as_ref()) {
        send(child, sig);
    }
    deadline.get_or_insert_with(|| tokio::time::Instant::now() + STOP_GRACE);
}

fn send(child: &Child, sig: Signal) {
    // `id()` is None once the child was reaped: nothing to signal then.
    if let Some(pid) = child.id().and_then(|id| Pid::from_raw(id as i32)) {
        let _ = kill_process(pid, sig);
    }
}

/// SIGTERM, STOP_GRACE, then SIGKILL; reaps the child.
async fn stop(child: &mut Child, name: &str) {
    send(child, Signal::TERM);
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(Ok(status)) => tracing::info!("{name} stopped ({status})"),
        Ok(Err(err)) => tracing::warn!("waiting for {name}: {err}"),
        Err(_) => {
            tracing::warn!("{name} did not stop within {STOP_GRACE:?}: killing it");
            let _ = child.kill().await;
        }
    }
}

//! systemd mode: the user manager runs the compositor and the daemon as
//! units of `zion-session.target`; the launcher hands it the environment,
//! starts the target and waits for it to stop.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::Command;
use tokio::signal::unix::{signal, SignalKind};

use crate::plan::{session_over, IMPORTED_VARS, SESSION_TARGET};

/// How often the target's state is read.
const POLL: Duration = Duration::from_secs(1);

/// Whether the systemd user manager answers.
pub fn reachable() -> bool {
    std::process::Command::new("systemctl")
        .args(["--user", "show-environment"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the session through the user manager until the target stops or the
/// launcher is told to stop. Returns the launcher's exit code.
pub async fn run() -> anyhow::Result<i32> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;

    let names: Vec<&str> = IMPORTED_VARS
        .iter()
        .copied()
        .filter(|name| std::env::var_os(name).is_some())
        .collect();
    systemctl(&[&["import-environment"], names.as_slice()].concat()).await?;
    // D-Bus activated services (outside systemd's own) get them too.
    if crate::locate::find("dbus-update-activation-environment").is_ok() {
        let status = Command::new("dbus-update-activation-environment")
            .args(&names)
            .status()
            .await;
        if !status.is_ok_and(|s| s.success()) {
            tracing::warn!("dbus-update-activation-environment failed; D-Bus activated programs may miss XDG_CURRENT_DESKTOP");
        }
    }
    // A previous session's failure would otherwise stay in the way.
    let _ = systemctl(&["reset-failed", SESSION_TARGET]).await;
    tracing::info!("starting {SESSION_TARGET}");
    systemctl(&["start", SESSION_TARGET])
        .await
        .with_context(|| format!("`journalctl --user -b -u zion-compositor.service -u zion-sandboxd.service` says why {SESSION_TARGET} did not start"))?;

    let code = loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {
                let state = active_state().await;
                if session_over(&state) {
                    tracing::info!("{SESSION_TARGET} is {}: the session is over", state.trim());
                    break i32::from(state.trim() == "failed");
                }
            }
            _ = term.recv() => break stop().await,
            _ = int.recv() => break stop().await,
            _ = hup.recv() => break stop().await,
        }
    };
    let unset = [&["unset-environment"], names.as_slice()].concat();
    if let Err(err) = systemctl(&unset).await {
        tracing::warn!("{err:#}");
    }
    Ok(code)
}

async fn stop() -> i32 {
    tracing::info!("stopping {SESSION_TARGET}");
    match systemctl(&["stop", SESSION_TARGET]).await {
        Ok(()) => 0,
        Err(err) => {
            tracing::error!("{err:#}");
            1
        }
    }
}

async fn active_state() -> String {
    match Command::new("systemctl")
        .args(["--user", "is-active", SESSION_TARGET])
        .stdin(Stdio::null())
        .output()
        .await
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(err) => {
            // Nothing can tell whether the session runs: end it.
            tracing::error!("systemctl --user is-active {SESSION_TARGET}: {err}");
            String::new()
        }
    }
}

async fn systemctl(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("error running systemctl --user {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "systemctl --user {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

//! Disposable browser sandboxes (issue 6): a browser in a throw-away
//! container whose root is an overlay layer removed with it, whose home is
//! a tmpfs, and whose only host folder is its own inbox of the quarantine
//! as `~/Downloads`.
//!
//! - [`spec`]: the container a sandbox gives and the browser's command (pure).
//! - [`firefox`]: Firefox ESR instead of Chromium: its image, preferences and command.
//! - [`state`]: a sandbox's states, ids and the warm pool's plan (pure).
//! - [`service`]: making, handing out, watching and removing sandboxes.
//! - [`compositor`]: each sandbox's own Wayland socket, from the compositor.
//! - [`dbus`]: `org.zionos.Sandbox1` and its proxy.
//! - [`devtools`]: the browser's DevTools pipe, and its downloads seen there.
//! - [`warm`]: a pooled sandbox's browser, started with no window.
//! - [`settle`]: waiting for that browser's start-up to end before it is frozen.
//! - [`gvisor`]: `[sandbox] runtime = "gvisor"`: gVisor's Podman, waypipe.
//! - [`confine_waypipe`]: the host's waypipe client of a gVisor sandbox, confined.

pub mod compositor;
pub mod confine_waypipe;
pub mod dbus;
pub mod devtools;
pub mod firefox;
pub mod gvisor;
pub mod service;
pub mod settle;
pub mod spec;
pub mod state;
pub mod warm;

use std::sync::Arc;

use zion_config::{SandboxBrowser, SandboxRuntime, MAX_POOL};
use zion_quarantine::Store;

pub use service::{SandboxError, SandboxEvent, Sandboxes, Settings};

use crate::Session;

/// The daemon's sandbox options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SandboxArgs {
    /// The browser image [default: localhost/zion-browser:<recipe hash>, or
    /// localhost/zion-firefox:<recipe hash> with `[sandbox] browser = "firefox"`].
    #[arg(long, env = "ZION_BROWSER_IMAGE")]
    pub browser_image: Option<String>,
    /// Sandboxes kept ready ahead of time; overrides `[sandbox] pool` of
    /// zion.toml [default: 1].
    #[arg(long, env = "ZION_SANDBOX_POOL")]
    pub sandbox_pool: Option<usize>,
    /// Whether a pooled sandbox holds a browser already started with no
    /// window, opened by one DevTools request [default: true].
    #[arg(long, env = "ZION_SANDBOX_WARM_BROWSER")]
    pub sandbox_warm_browser: Option<bool>,
    /// The browser Podman, whose runtime is gVisor, used with `[sandbox]
    /// runtime = "gvisor"` [default:
    /// unix://$XDG_RUNTIME_DIR/zion/podman-gvisor-browser.sock].
    #[arg(long, env = "ZION_SANDBOX_GVISOR_PODMAN")]
    pub sandbox_gvisor_podman: Option<String>,
    /// gVisor's runsc, whose absence refuses gVisor sandboxes: a path, or
    /// a name looked up on PATH [default: runsc].
    #[arg(long, env = "ZION_RUNSC")]
    pub runsc: Option<std::path::PathBuf>,
}

/// The settings from the options and zion.toml's `[sandbox]`.
pub fn settings(args: &SandboxArgs, session: &Session) -> Settings {
    let browser = session.config().sandbox.browser;
    let image = args
        .browser_image
        .clone()
        .unwrap_or_else(|| default_image(browser));
    let pool = args
        .sandbox_pool
        .map_or(session.config().sandbox.pool, |n| n.min(MAX_POOL));
    let config = session.config();
    let gvisor = (config.sandbox.runtime == SandboxRuntime::Gvisor).then(|| {
        gvisor::GvisorSettings::standard(
            args.sandbox_gvisor_podman.clone(),
            args.runsc.clone(),
            zion_profiles::Timeouts::from(&config.podman),
        )
    });
    Settings {
        image,
        pool,
        warm_browser: args.sandbox_warm_browser.unwrap_or(true),
        browser,
        gvisor,
    }
}

/// The image of `browser` as `zionctl image build --browser` builds it.
pub fn default_image(browser: SandboxBrowser) -> String {
    match browser {
        SandboxBrowser::Chromium => spec::default_browser_image(),
        SandboxBrowser::Firefox => firefox::default_firefox_image(),
    }
}

/// Starts the sandboxes: removes what a crash left, serves `Sandbox1` on
/// `bus` when there is one (its compositor reached over the same bus), and
/// fills the warm pool in the background.
pub async fn start(
    session: Arc<Session>,
    store: Option<Arc<Store>>,
    bus: Option<&zbus::Connection>,
    args: &SandboxArgs,
) -> Arc<Sandboxes> {
    let settings = settings(args, &session);
    tracing::info!(
        "browser sandboxes: {} from image {}, {} kept ready, under {}",
        settings.browser,
        settings.image,
        settings.pool,
        match &settings.gvisor {
            Some(g) => format!("gVisor (browser Podman {})", g.podman),
            None => "runc".to_owned(),
        }
    );
    let compositor = compositor::Compositor::new(bus.cloned());
    let sandboxes = Arc::new(Sandboxes::new(session, store, compositor, settings));
    sandboxes.remove_leftovers().await;
    match bus {
        Some(bus) => {
            if let Err(e) = dbus::serve(bus, sandboxes.clone()).await {
                tracing::error!("{} is not offered: {e}", dbus::NAME);
            }
        }
        None => tracing::warn!(
            "no session bus: {} is not offered, and sandboxes have no compositor",
            dbus::NAME
        ),
    }
    sandboxes.clone().refill_later();
    sandboxes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_browser_has_its_own_default_image() {
        assert!(default_image(SandboxBrowser::Chromium).starts_with("localhost/zion-browser:"));
        assert!(default_image(SandboxBrowser::Firefox).starts_with("localhost/zion-firefox:"));
    }
}

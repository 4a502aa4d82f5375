//! Disposable browser sandboxes (issue 6): a browser in a throw-away
//! container whose root is an overlay layer removed with it, whose home is
//! a tmpfs, and whose only host folder is its own inbox of the quarantine
//! as `~/Downloads`.
//!
//! - [`spec`]: the container a sandbox gives and the browser's command (pure).
//! - [`state`]: a sandbox's states, ids and the warm pool's plan (pure).
//! - [`service`]: making, handing out, watching and removing sandboxes.
//! - [`compositor`]: each sandbox's own Wayland socket, from the compositor.
//! - [`dbus`]: `org.zionos.Sandbox1` and its proxy.
//! - [`gvisor`]: `[sandbox] runtime = "gvisor"`: gVisor's Podman, waypipe.

pub mod compositor;
pub mod dbus;
pub mod devtools;
pub mod gvisor;
pub mod service;
pub mod spec;
pub mod state;

use std::sync::Arc;

use zion_config::{SandboxRuntime, MAX_POOL};
use zion_quarantine::Store;

pub use service::{SandboxError, SandboxEvent, Sandboxes, Settings};

use crate::Session;

/// The daemon's sandbox options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SandboxArgs {
    /// The browser image [default: localhost/zion-browser:<recipe hash>].
    #[arg(long, env = "ZION_BROWSER_IMAGE")]
    pub browser_image: Option<String>,
    /// Sandboxes kept ready ahead of time; overrides `[sandbox] pool` of
    /// zion.toml [default: 1].
    #[arg(long, env = "ZION_SANDBOX_POOL")]
    pub sandbox_pool: Option<usize>,
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
    let image = args
        .browser_image
        .clone()
        .unwrap_or_else(spec::default_browser_image);
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
        gvisor,
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
        "browser sandboxes: image {}, {} kept ready, under {}",
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

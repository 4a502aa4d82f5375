//! `zion-compositor`: starts the compositor with a backend, a configuration
//! and a runtime folder for its sockets.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use zion_compositor::compositor::catch_stop_signals;
use zion_compositor::{BackendKind, Compositor, Options};
use zion_config::Config;

/// Zion's Wayland compositor.
#[derive(Debug, Parser)]
#[command(name = "zion-compositor", version)]
struct Args {
    /// headless, winit or udev [default: winit when WAYLAND_DISPLAY or
    /// DISPLAY is set, udev in a login session on a seat, else headless].
    #[arg(long)]
    backend: Option<BackendKind>,
    /// Output size, WIDTHxHEIGHT: the headless image, or the winit window's
    /// first size.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    size: (i32, i32),
    /// The configuration file (default: $XDG_CONFIG_HOME/zion/zion.toml if
    /// it exists, else the built-in profiles).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the sockets go (default: $XDG_RUNTIME_DIR).
    #[arg(long, env = "XDG_RUNTIME_DIR")]
    runtime_dir: PathBuf,
    /// Stop after this many seconds.
    #[arg(long)]
    exit_after: Option<f64>,
    /// Write a PNG of the output here when stopping.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Do not serve org.zionos.Compositor1 on the session bus (it is served
    /// when DBUS_SESSION_BUS_ADDRESS is set).
    #[arg(long)]
    no_dbus: bool,
    /// Do not open an X11 socket per profile (X11 programs will not run).
    #[arg(long)]
    no_xwayland: bool,
    /// Do not start the bar, whatever `[session] bar` says (the bar reads
    /// Compositor1, so it starts only when that is served).
    #[arg(long)]
    no_bar: bool,
    /// Stop a profile's Xwayland after it has had no X11 window for this
    /// many seconds (0: never); the next X11 program starts it again.
    #[arg(long, default_value_t = 60.0)]
    xwayland_idle: f64,
}

fn parse_size(s: &str) -> Result<(i32, i32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT"))?;
    let w = w.parse().map_err(|_| format!("`{w}` is not a width"))?;
    let h = h.parse().map_err(|_| format!("`{h}` is not a height"))?;
    Ok((w, h))
}

fn config_path(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit.or_else(|| {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        let path = base.join("zion").join("zion.toml");
        path.exists().then_some(path)
    })
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config_file = config_path(args.config);
    let config = match &config_file {
        Some(path) => Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Config::defaults(),
    };
    let backend = match args.backend {
        Some(backend) => backend,
        None => {
            let (backend, why) = BackendKind::default_for(|name| std::env::var(name).ok());
            tracing::info!("backend {backend:?}: {why}");
            backend
        }
    };
    let options = Options {
        backend,
        size: args.size,
        runtime_dir: args.runtime_dir,
    };
    let signals = catch_stop_signals()?;
    let mut compositor = Compositor::new(config, &options)?;
    match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        _ if args.no_dbus => {}
        Ok(address) if !address.is_empty() => match compositor.serve_bus(&address) {
            Err(err) => tracing::warn!(
                "going on without org.zionos.Compositor1 (zionctl switch and sandbox sockets \
                     will not work): {err:#}"
            ),
            Ok(()) if !args.no_bar && compositor.state.config.session.bar => {
                compositor.state.start_bar();
            }
            Ok(()) => {}
        },
        _ => tracing::info!(
            "DBUS_SESSION_BUS_ADDRESS is not set: org.zionos.Compositor1 is not served"
        ),
    }
    if !args.no_xwayland {
        compositor.state.xwayland.idle_after = (args.xwayland_idle > 0.0)
            .then(|| Duration::from_secs_f64(args.xwayland_idle.min(1e9)));
        compositor.open_x11_sockets();
    }
    compositor.stop_on_signals(signals)?;
    // `[input]` and `[[output]]` apply again when the file changes, and on
    // SIGHUP.
    let _watch = match &config_file {
        Some(path) => {
            compositor.reload_on_sighup(path.clone())?;
            compositor
                .reload_on_change(path)
                .map_err(|err| tracing::warn!("zion.toml is not reloaded on change: {err:#}"))
                .ok()
        }
        None => None,
    };
    let until = args
        .exit_after
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    compositor.run(until)?;
    if let Some(path) = args.screenshot {
        compositor
            .screenshot()?
            .write_png(&path)
            .context("error writing the screenshot")?;
    }
    Ok(())
}

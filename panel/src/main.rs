//! `zion-panel`: the quarantine review panel, a Wayland (or X11) client of
//! the session's compositor that talks to zion-sandboxd over the session bus.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use zion_panel::{self as panel, Config};

/// Review what waits in Zion's quarantine: release, rescan or delete it.
#[derive(Debug, Parser)]
#[command(name = "zion-panel", version)]
struct Args {
    /// zion.toml [default: $XDG_CONFIG_HOME/zion/zion.toml].
    #[arg(long, env = "ZION_CONFIG")]
    config: Option<PathBuf>,
    /// The D-Bus address to use instead of the session bus.
    #[arg(long, value_name = "ADDRESS")]
    bus: Option<String>,
    /// Open this item's detail as soon as it is listed (its id, as zionctl shows it).
    #[arg(long, value_name = "ID")]
    select: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = Config::from_env(args.config.as_deref());
    config.bus_address = args.bus;
    config.select = args.select;
    panel::application(config)
        .run()
        .context("zion-panel could not open its window (is WAYLAND_DISPLAY or DISPLAY set, and the compositor running?)")
}

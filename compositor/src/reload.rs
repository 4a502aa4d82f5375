//! Reloading `zion.toml` while the session runs: `[input]` (keymap, key
//! repeat, pointer) and `[[output]]` apply at once; the rest (profiles,
//! hotkeys, session) needs the compositor restarted. The new file is read
//! on SIGHUP (`systemctl --user reload`, `pkill -HUP zion-compositor`).
//!
//! A keymap xkb refuses fails the reload as a whole: nothing changes, the
//! error names the layout and is shown as a notice.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use anyhow::Context;
use signal_hook::consts::SIGHUP;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction};
use tracing::{info, warn};
use zion_config::Config;

use crate::compositor::Compositor;
use crate::input_settings::KeymapError;
use crate::state::State;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file does not parse or validate.
    #[error("{0}")]
    Config(#[from] zion_config::ConfigError),
    /// xkb has no such keymap.
    #[error("{0}")]
    Keymap(#[from] KeymapError),
}

impl State {
    /// Applies what can change live from `config`: `[input]`, then
    /// `[[output]]`. On a keymap error nothing changes. Returns the
    /// `[[output]]` tables that could not be applied (the others are).
    pub fn reload_config(&mut self, config: &Config) -> Result<Vec<String>, ReloadError> {
        self.apply_input(&config.input)?;
        self.config.outputs = config.outputs.clone();
        let errors = self.apply_output_settings(&config.outputs);
        self.outputs_changed();
        info!("configuration reloaded: [input] and [[output]] applied");
        Ok(errors)
    }

    /// Reads `path` and applies it ([`State::reload_config`]); errors are
    /// logged and shown as notices.
    pub fn reload_config_file(&mut self, path: &std::path::Path) {
        let result = Config::load(path)
            .map_err(ReloadError::from)
            .and_then(|config| self.reload_config(&config));
        match result {
            Ok(errors) => {
                for error in errors {
                    self.notice(error);
                }
            }
            Err(err) => {
                warn!("zion.toml not reloaded: {err}");
                self.notice(format!("zion.toml not reloaded: {err}"));
            }
        }
    }
}

impl Compositor {
    /// Reloads `path` on SIGHUP (see the module documentation).
    pub fn reload_on_sighup(&mut self, path: PathBuf) -> anyhow::Result<()> {
        let (reader, writer) =
            UnixStream::pair().context("error creating the socket pair for SIGHUP")?;
        reader
            .set_nonblocking(true)
            .context("error making the SIGHUP socket non-blocking")?;
        signal_hook::low_level::pipe::register(SIGHUP, writer).context("error handling SIGHUP")?;
        self.state
            .loop_handle
            .insert_source(
                Generic::new(reader, Interest::READ, Mode::Level),
                move |_, reader, state| {
                    let mut buf = [0u8; 16];
                    let mut reader: &UnixStream = reader;
                    while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
                    info!("SIGHUP: reloading {}", path.display());
                    state.reload_config_file(&path);
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| anyhow::anyhow!("error adding the SIGHUP socket to the loop: {e}"))?;
        Ok(())
    }
}

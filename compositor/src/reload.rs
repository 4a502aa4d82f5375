//! Reloading `zion.toml` while the session runs: `[input]` (keymap, key
//! repeat, pointer) and `[[output]]` apply at once; the rest (profiles,
//! hotkeys, session) needs the compositor restarted. The file is read
//! again when it changes (inotify on its folder, after it has been quiet
//! for [`DEBOUNCE`], as zion-sandboxd does) and on SIGHUP.
//!
//! A keymap xkb refuses fails the reload as a whole: nothing changes, the
//! error names the layout and is shown as a notice.

use std::cell::Cell;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use notify::{INotifyWatcher, RecursiveMode, Watcher};
use smithay::reexports::calloop::channel;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::RegistrationToken;

use anyhow::Context;
use signal_hook::consts::SIGHUP;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction};
use tracing::{info, warn};
use zion_config::Config;

use crate::compositor::Compositor;
use crate::input_settings::KeymapError;
use crate::state::State;

/// How long the file must be quiet after a change before it is read (an
/// editor writes it in several steps).
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// The watch on the configuration file; dropping it ends the watch.
pub struct ConfigWatch {
    _watcher: INotifyWatcher,
}

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

/// Whether `event` is a change to the file called `name`.
fn concerns(event: &notify::Result<notify::Event>, name: Option<&std::ffi::OsStr>) -> bool {
    match event {
        Ok(event) => {
            !matches!(event.kind, notify::EventKind::Access(_))
                && (event.need_rescan() || event.paths.iter().any(|p| p.file_name() == name))
        }
        Err(err) => {
            warn!("watching the configuration: {err}");
            false
        }
    }
}

impl Compositor {
    /// Reloads `path` whenever it changes (see the module documentation);
    /// the watch lasts as long as the value returned.
    pub fn reload_on_change(&mut self, path: &Path) -> anyhow::Result<ConfigWatch> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let (tx, rx) = channel::channel::<()>();
        let name = path.file_name().map(ToOwned::to_owned);
        let mut watcher = INotifyWatcher::new(
            move |event: notify::Result<notify::Event>| {
                if concerns(&event, name.as_deref()) {
                    // The receiver gone means the compositor is ending.
                    let _ = tx.send(());
                }
            },
            notify::Config::default(),
        )
        .context("error starting inotify for the configuration")?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("error watching {} for changes", dir.display()))?;
        let file = path.to_owned();
        let pending: Rc<Cell<Option<RegistrationToken>>> = Rc::default();
        self.state
            .loop_handle
            .insert_source(rx, move |event, _, state| {
                if !matches!(event, channel::Event::Msg(())) {
                    return;
                }
                // Each change starts the quiet time again.
                if let Some(token) = pending.take() {
                    state.loop_handle.remove(token);
                }
                let file = file.clone();
                let done = pending.clone();
                let token = state.loop_handle.insert_source(
                    Timer::from_duration(DEBOUNCE),
                    move |_, _, state| {
                        done.set(None);
                        info!("{} changed: reloading", file.display());
                        state.reload_config_file(&file);
                        TimeoutAction::Drop
                    },
                );
                match token {
                    Ok(token) => pending.set(Some(token)),
                    Err(err) => warn!("error timing the reload: {err}"),
                }
            })
            .map_err(|e| {
                anyhow::anyhow!("error adding the configuration watch to the loop: {e}")
            })?;
        Ok(ConfigWatch { _watcher: watcher })
    }

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

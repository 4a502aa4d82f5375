//! Changing screens: mode, position, scale (fractional too), transform.
//! One path for both ways a change comes: `[[output]]` tables of zion.toml
//! (at start and on reload) and wlr-output-management's `apply` from a
//! host client (`wlr-randr`, `kanshi`).
//!
//! A change is first checked as a whole against the outputs as they are
//! ([`plan`], a pure function): an unknown output, a mode the screen does
//! not have, a scale out of range or no screen left on is refused, and
//! then nothing changes. Only a plan that holds is applied.

use smithay::output::{Mode, Output, Scale};
use smithay::utils::Transform;
use smithay::wayland::compositor::send_surface_state;
use smithay::wayland::fractional_scale::with_fractional_scale;
use tracing::{info, warn};
use zion_config::{OutputMode, OutputSettings, MAX_SCALE, MIN_SCALE};

use crate::state::State;

/// The mode a change asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeWanted {
    /// One of the screen's modes, exactly.
    Listed(Mode),
    /// A size, and a rate in mHz (`None` or 0: the best at that size).
    Custom {
        /// Width in pixels.
        width: i32,
        /// Height in pixels.
        height: i32,
        /// Refresh in mHz; `None`: any.
        refresh: Option<i32>,
    },
}

/// What to change on one output; `None` keeps the current value.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputChange {
    /// The output's name.
    pub name: String,
    /// Whether it is on (off: taken out of the desktop).
    pub enabled: bool,
    /// Its mode.
    pub mode: Option<ModeWanted>,
    /// Its top-left corner.
    pub position: Option<(i32, i32)>,
    /// Its scale.
    pub scale: Option<f64>,
    /// Its transform.
    pub transform: Option<Transform>,
}

/// An output as it is, for planning.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputNow {
    /// Its name.
    pub name: String,
    /// The modes it has.
    pub modes: Vec<Mode>,
    /// Whether the backend can switch its mode.
    pub mode_settable: bool,
    /// Its current mode.
    pub mode: Option<Mode>,
    /// The output the desktops are laid out and drawn on: it stays on.
    pub primary: bool,
}

/// One output's new state, every field decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The output's name.
    pub name: String,
    /// Whether it is on.
    pub enabled: bool,
    /// The mode it gets (`None`: it has none and none was asked).
    pub mode: Option<Mode>,
    /// The position it gets, if changed.
    pub position: Option<(i32, i32)>,
    /// The scale it gets, if changed.
    pub scale: Option<f64>,
    /// The transform it gets, if changed.
    pub transform: Option<Transform>,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// No output has this name.
    #[error("there is no output `{0}`")]
    UnknownOutput(String),
    /// The screen has no such mode.
    #[error("output `{name}` has no mode {width}x{height}{}", refresh.map(|r| format!("@{:.3}Hz", f64::from(r) / 1000.0)).unwrap_or_default())]
    UnknownMode {
        /// The output.
        name: String,
        /// The width asked for.
        width: i32,
        /// The height asked for.
        height: i32,
        /// The rate asked for, in mHz.
        refresh: Option<i32>,
    },
    /// The backend cannot switch this screen's mode.
    #[error("output `{0}` cannot change its mode on this backend")]
    ModeFixed(String),
    /// A scale out of range.
    #[error("scale {scale} of output `{name}` is not between {MIN_SCALE} and {MAX_SCALE}")]
    BadScale {
        /// The output.
        name: String,
        /// The scale asked for.
        scale: f64,
    },
    /// The output holding the desktops cannot be turned off.
    #[error("output `{0}` holds the desktops: it cannot be turned off")]
    Disable(String),
}

/// Checks `changes` against `outputs` as a whole; the new state of each
/// output changed, or why nothing may change.
pub fn plan(outputs: &[OutputNow], changes: &[OutputChange]) -> Result<Vec<Planned>, PlanError> {
    let mut planned = Vec::new();
    for change in changes {
        let now = outputs
            .iter()
            .find(|o| o.name == change.name)
            .ok_or_else(|| PlanError::UnknownOutput(change.name.clone()))?;
        if !change.enabled {
            if now.primary {
                return Err(PlanError::Disable(change.name.clone()));
            }
            planned.push(Planned {
                name: change.name.clone(),
                enabled: false,
                mode: now.mode,
                position: None,
                scale: None,
                transform: None,
            });
            continue;
        }
        let mode = match change.mode {
            None => now.mode,
            Some(wanted) => {
                let found = find_mode(&now.modes, wanted).ok_or_else(|| {
                    let (width, height, refresh) = match wanted {
                        ModeWanted::Listed(m) => (m.size.w, m.size.h, Some(m.refresh)),
                        ModeWanted::Custom {
                            width,
                            height,
                            refresh,
                        } => (width, height, refresh),
                    };
                    PlanError::UnknownMode {
                        name: change.name.clone(),
                        width,
                        height,
                        refresh,
                    }
                })?;
                if Some(found) != now.mode && !now.mode_settable {
                    return Err(PlanError::ModeFixed(change.name.clone()));
                }
                Some(found)
            }
        };
        if let Some(scale) = change.scale {
            if !(MIN_SCALE..=MAX_SCALE).contains(&scale) {
                return Err(PlanError::BadScale {
                    name: change.name.clone(),
                    scale,
                });
            }
        }
        planned.push(Planned {
            name: change.name.clone(),
            enabled: true,
            mode,
            position: change.position,
            scale: change.scale,
            transform: change.transform,
        });
    }
    Ok(planned)
}

/// The mode of `modes` that `wanted` names: exactly, or by size with the
/// rate given (to the Hz: 59.951 is 60) or else the highest rate.
fn find_mode(modes: &[Mode], wanted: ModeWanted) -> Option<Mode> {
    match wanted {
        ModeWanted::Listed(m) => modes.iter().copied().find(|x| *x == m),
        ModeWanted::Custom {
            width,
            height,
            refresh,
        } => modes
            .iter()
            .copied()
            .filter(|m| m.size.w == width && m.size.h == height)
            .filter(|m| match refresh {
                None | Some(0) => true,
                Some(r) => (m.refresh - r).abs() <= 500,
            })
            .max_by_key(|m| m.refresh),
    }
}

/// smithay's transform of the configuration's.
pub fn transform_of(t: zion_config::Transform) -> Transform {
    use zion_config::Transform as T;
    match t {
        T::Normal => Transform::Normal,
        T::Rotate90 => Transform::_90,
        T::Rotate180 => Transform::_180,
        T::Rotate270 => Transform::_270,
        T::Flipped => Transform::Flipped,
        T::Flipped90 => Transform::Flipped90,
        T::Flipped180 => Transform::Flipped180,
        T::Flipped270 => Transform::Flipped270,
    }
}

/// The change an `[[output]]` table asks for.
pub fn change_of(settings: &OutputSettings) -> OutputChange {
    OutputChange {
        name: settings.name.clone(),
        enabled: settings.enabled,
        mode: settings.mode.map(
            |OutputMode {
                 width,
                 height,
                 refresh_mhz,
             }| ModeWanted::Custom {
                width,
                height,
                refresh: refresh_mhz,
            },
        ),
        position: settings.position,
        scale: settings.scale,
        transform: settings.transform.map(transform_of),
    }
}

impl State {
    /// The outputs as they are, for [`plan`].
    pub fn outputs_now(&self) -> Vec<OutputNow> {
        let primary = self.backend.output();
        self.backend
            .outputs()
            .iter()
            .map(|o| OutputNow {
                name: o.name(),
                modes: o.modes(),
                mode_settable: self.backend.can_set_mode(o),
                mode: o.current_mode(),
                primary: o == primary,
            })
            .collect()
    }

    /// Whether `output` is on: part of the desktop.
    pub fn output_enabled(&self, output: &Output) -> bool {
        self.space.outputs().any(|o| o == output)
    }

    /// Adds a headless output of `width`×`height` right of the others
    /// (tests of several screens; the headless backend only): announced
    /// to clients and placed in the desktop, never drawn.
    pub fn add_headless_output(&mut self, width: i32, height: i32) -> Option<Output> {
        let right = self
            .space
            .outputs()
            .filter_map(|o| self.space.output_geometry(o))
            .map(|g| g.loc.x + g.size.w)
            .max()
            .unwrap_or(0);
        let crate::backend::Backend::Headless(headless) = &mut self.backend else {
            return None;
        };
        let output = headless.add_output(width, height);
        output.change_current_state(None, None, None, Some((right, 0).into()));
        let global = output.create_global::<State>(&self.display_handle);
        self.output_management.globals.push((output.name(), global));
        self.space.map_output(&output, (right, 0));
        Some(output)
    }

    /// Takes `output` out of the desktop: nothing is placed on it, and its
    /// wl_output goes where Zion made the global itself (headless outputs;
    /// a udev screen keeps its wl_output and shows the background).
    fn disable_output(&mut self, output: &Output) {
        self.space.unmap_output(output);
        let name = output.name();
        if let Some((_, id)) = self
            .output_management
            .globals
            .iter()
            .find(|(n, _)| *n == name)
        {
            self.display_handle.disable_global::<State>(id.clone());
        }
        info!(output = %name, "output off");
    }

    /// Puts `output` back in the desktop where it was, its wl_output again.
    fn enable_output(&mut self, output: &Output) {
        let name = output.name();
        let dh = self.display_handle.clone();
        if let Some(entry) = self
            .output_management
            .globals
            .iter_mut()
            .find(|(n, _)| *n == name)
        {
            dh.remove_global::<State>(entry.1.clone());
            entry.1 = output.create_global::<State>(&dh);
        }
        self.space.map_output(output, output.current_location());
        info!(output = %name, "output on");
    }

    /// Checks `changes` and, unless `test_only`, applies them; on an error
    /// nothing changed. wl_output clients are told the new state at once,
    /// wlr-output-management's by [`State::outputs_changed`].
    pub fn apply_output_changes(
        &mut self,
        changes: &[OutputChange],
        test_only: bool,
    ) -> Result<(), PlanError> {
        let planned = plan(&self.outputs_now(), changes)?;
        if test_only {
            return Ok(());
        }
        for p in planned {
            let Some(output) = self
                .backend
                .outputs()
                .into_iter()
                .find(|o| o.name() == p.name)
            else {
                continue;
            };
            self.apply_planned(&output, &p);
        }
        self.space.refresh();
        self.send_scale_to_surfaces();
        self.refresh_view();
        self.render_soon();
        // Managers are told by the caller (after `succeeded`, for a
        // client's configuration) or at the end of this dispatch.
        Ok(())
    }

    /// Tells every window's surfaces the scale and transform of the output
    /// (the one windows are shown on): fractional-scale clients draw at
    /// 1.25 or 1.5, the others get `preferred_buffer_scale`.
    pub fn send_scale_to_surfaces(&mut self) {
        let output = self.backend.output().clone();
        let scale = output.current_scale();
        let transform = output.current_transform();
        let windows = self
            .layout
            .desktops()
            .iter()
            .flat_map(|d| d.all().map(|p| p.window.clone()).collect::<Vec<_>>())
            .chain(self.unmapped.iter().cloned());
        for window in windows {
            window.with_surfaces(|surface, states| {
                with_fractional_scale(states, |f| f.set_preferred_scale(scale.fractional_scale()));
                send_surface_state(surface, states, scale.integer_scale(), transform);
            });
        }
    }

    fn apply_planned(&mut self, output: &Output, p: &Planned) {
        if !p.enabled {
            if self.output_enabled(output) {
                self.disable_output(output);
            }
            return;
        }
        if !self.output_enabled(output) {
            self.enable_output(output);
        }
        if let Some(mode) = p.mode.filter(|m| Some(*m) != output.current_mode()) {
            if let Err(err) = self.backend.set_mode(output, mode) {
                warn!("error switching {} to {mode:?}: {err:#}", p.name);
                return;
            }
        }
        let position = p.position.map(smithay::utils::Point::from);
        output.change_current_state(
            p.mode,
            p.transform,
            p.scale.map(Scale::Fractional),
            position,
        );
        self.backend.output_changed(output);
        let at = output.current_location();
        self.space.map_output(output, at);
        info!(
            output = %p.name,
            mode = ?output.current_mode(),
            position = ?(at.x, at.y),
            scale = output.current_scale().fractional_scale(),
            transform = ?output.current_transform(),
            "output changed"
        );
    }

    /// Applies the `[[output]]` tables of the configuration; tables for
    /// outputs not plugged in are skipped, a table that cannot be applied
    /// is logged and shown as a notice (the others still apply).
    pub fn apply_output_settings(&mut self, settings: &[OutputSettings]) -> Vec<String> {
        let names: Vec<String> = self.backend.outputs().iter().map(Output::name).collect();
        let mut errors = Vec::new();
        for s in settings.iter().filter(|s| names.contains(&s.name)) {
            if let Err(err) = self.apply_output_changes(&[change_of(s)], false) {
                warn!("[[output]] {}: {err}", s.name);
                errors.push(format!("[[output]] {}: {err}", s.name));
            }
        }
        errors
    }

    /// [`Self::apply_output_settings`] of the configuration the compositor
    /// starts with.
    pub fn apply_output_settings_at_start(&mut self) {
        let settings = self.config.outputs.clone();
        for error in self.apply_output_settings(&settings) {
            self.notice(error);
        }
        let heads = self.head_states();
        self.output_management.starting_with(heads);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(w: i32, h: i32, refresh: i32) -> Mode {
        Mode {
            size: (w, h).into(),
            refresh,
        }
    }

    fn screen() -> Vec<OutputNow> {
        vec![OutputNow {
            name: "DP-1".into(),
            modes: vec![
                mode(1920, 1080, 60000),
                mode(1920, 1080, 144000),
                mode(1280, 720, 60000),
            ],
            mode_settable: true,
            mode: Some(mode(1920, 1080, 60000)),
            primary: true,
        }]
    }

    fn change() -> OutputChange {
        OutputChange {
            name: "DP-1".into(),
            enabled: true,
            mode: None,
            position: None,
            scale: None,
            transform: None,
        }
    }

    #[test]
    fn a_mode_is_found_by_size_and_rate_or_the_best_rate() {
        let best = OutputChange {
            mode: Some(ModeWanted::Custom {
                width: 1920,
                height: 1080,
                refresh: None,
            }),
            ..change()
        };
        assert_eq!(
            plan(&screen(), &[best]).unwrap()[0].mode,
            Some(mode(1920, 1080, 144000))
        );
        let sixty = OutputChange {
            mode: Some(ModeWanted::Custom {
                width: 1920,
                height: 1080,
                refresh: Some(59940),
            }),
            ..change()
        };
        assert_eq!(
            plan(&screen(), &[sixty]).unwrap()[0].mode,
            Some(mode(1920, 1080, 60000))
        );
    }

    #[test]
    fn only_an_output_that_does_not_hold_the_desktops_turns_off() {
        let mut two = screen();
        two.push(OutputNow {
            name: "HDMI-A-1".into(),
            primary: false,
            ..screen()[0].clone()
        });
        let off = |name: &str| OutputChange {
            name: name.into(),
            enabled: false,
            ..change()
        };
        assert_eq!(
            plan(&two, &[off("DP-1")]),
            Err(PlanError::Disable("DP-1".into()))
        );
        let planned = plan(&two, &[change(), off("HDMI-A-1")]).expect("allowed");
        assert!(planned[0].enabled && !planned[1].enabled, "{planned:?}");
    }

    #[test]
    fn a_bad_change_is_refused_whole() {
        let unknown_mode = OutputChange {
            mode: Some(ModeWanted::Custom {
                width: 1000,
                height: 1000,
                refresh: None,
            }),
            ..change()
        };
        assert!(matches!(
            plan(&screen(), &[change(), unknown_mode]),
            Err(PlanError::UnknownMode { .. })
        ));
        let nobody = OutputChange {
            name: "HDMI-9".into(),
            ..change()
        };
        assert_eq!(
            plan(&screen(), &[nobody]),
            Err(PlanError::UnknownOutput("HDMI-9".into()))
        );
        let tiny = OutputChange {
            scale: Some(0.1),
            ..change()
        };
        assert!(matches!(
            plan(&screen(), &[tiny]),
            Err(PlanError::BadScale { .. })
        ));
        let mut fixed = screen();
        fixed[0].mode_settable = false;
        let other = OutputChange {
            mode: Some(ModeWanted::Listed(mode(1280, 720, 60000))),
            ..change()
        };
        assert_eq!(
            plan(&fixed, &[other]),
            Err(PlanError::ModeFixed("DP-1".into()))
        );
        // The mode it has is fine, even where modes are fixed.
        let same = OutputChange {
            mode: Some(ModeWanted::Listed(mode(1920, 1080, 60000))),
            ..change()
        };
        assert!(plan(&fixed, &[same]).is_ok());
    }
}

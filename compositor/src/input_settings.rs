//! `[input]` applied: the seat's xkb keymap and key repeat (sent to every
//! client's `wl_keyboard`), natural scrolling (in the one input path, so
//! every backend scrolls alike) and the pointer settings of libinput's
//! devices (the udev backend: acceleration and tap-to-click).
//!
//! A keymap is built before anything changes: a layout xkb does not know
//! is refused with the reason, and the keymap in use stays.

use smithay::backend::input::AxisRelativeDirection;
use smithay::input::keyboard::{xkb, XkbConfig};
use smithay::input::pointer::AxisFrame;
use smithay::input::Seat;
use tracing::{info, warn};
use zion_config::{Input, Keyboard};

use crate::state::State;

/// The xkb keymap of `[input] keyboard` could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "xkb has no keymap for layout \"{layout}\", variant \"{variant}\", model \"{model}\", \
     options \"{options}\": check the names in [input] keyboard (`localectl list-x11-keymap-layouts`, \
     `man xkeyboard-config`); the keymap in use stays"
)]
pub struct KeymapError {
    /// The layout asked for.
    pub layout: String,
    /// The variant asked for.
    pub variant: String,
    /// The model asked for.
    pub model: String,
    /// The options asked for.
    pub options: String,
}

/// Smithay's view of `keyboard` (empty names are xkb's defaults).
pub fn xkb_config(keyboard: &Keyboard) -> XkbConfig<'_> {
    XkbConfig {
        rules: "",
        model: &keyboard.model,
        layout: &keyboard.layout,
        variant: &keyboard.variant,
        options: (!keyboard.options.is_empty()).then(|| keyboard.options.clone()),
    }
}

/// Builds the keymap of `keyboard` on its own, to know whether xkb has it
/// before the seat's keymap is touched.
pub fn check_keymap(keyboard: &Keyboard) -> Result<(), KeymapError> {
    let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
    let options = (!keyboard.options.is_empty()).then(|| keyboard.options.clone());
    xkb::Keymap::new_from_names(
        &context,
        "",
        &keyboard.model,
        &keyboard.layout,
        &keyboard.variant,
        options,
        xkb::KEYMAP_COMPILE_NO_FLAGS,
    )
    .map(|_| ())
    .ok_or_else(|| keymap_error(keyboard))
}

fn keymap_error(keyboard: &Keyboard) -> KeymapError {
    KeymapError {
        layout: keyboard.layout.clone(),
        variant: keyboard.variant.clone(),
        model: keyboard.model.clone(),
        options: keyboard.options.clone(),
    }
}

/// Key repeat as `wl_keyboard.repeat_info` carries it: (rate in keys a
/// second, delay in milliseconds).
pub fn repeat_info(input: &Input) -> (i32, i32) {
    let rate = i32::try_from(input.repeat_rate).unwrap_or(i32::MAX);
    let delay = i32::try_from(input.repeat_delay.as_millis()).unwrap_or(i32::MAX);
    (rate, delay)
}

/// `frame` as natural scrolling gives it: the content follows the
/// fingers, so every amount turns round (and the direction says so).
pub fn natural(mut frame: AxisFrame) -> AxisFrame {
    frame.axis = (-frame.axis.0, -frame.axis.1);
    frame.v120 = frame.v120.map(|(h, v)| (-h, -v));
    let turn = |d: AxisRelativeDirection| match d {
        AxisRelativeDirection::Identical => AxisRelativeDirection::Inverted,
        AxisRelativeDirection::Inverted => AxisRelativeDirection::Identical,
    };
    frame.relative_direction = (
        turn(frame.relative_direction.0),
        turn(frame.relative_direction.1),
    );
    frame
}

/// Sets up a libinput device as `input` says: acceleration speed and
/// profile, tap-to-click. Natural scrolling is not set here: the input
/// path turns scrolls round for every backend ([`natural`]).
pub fn configure_device(device: &mut smithay::reexports::input::Device, input: &Input) {
    use smithay::reexports::input::AccelProfile;
    let name = device.name().to_owned();
    if device.config_accel_is_available() {
        if let Err(err) = device.config_accel_set_speed(input.accel_speed) {
            warn!("{name}: error setting the pointer speed: {err:?}");
        }
        let profile = match input.accel_profile {
            zion_config::AccelProfile::Adaptive => AccelProfile::Adaptive,
            zion_config::AccelProfile::Flat => AccelProfile::Flat,
        };
        if device.config_accel_profiles().contains(&profile) {
            if let Err(err) = device.config_accel_set_profile(profile) {
                warn!("{name}: error setting the acceleration profile: {err:?}");
            }
        }
    }
    if device.config_tap_finger_count() > 0 {
        if let Err(err) = device.config_tap_set_enabled(input.tap_to_click) {
            warn!("{name}: error setting tap-to-click: {err:?}");
        }
    }
}

/// The libinput devices plugged in (udev backend), set up again when
/// `[input]` changes.
#[derive(Debug, Default)]
pub struct InputDevices(Vec<smithay::reexports::input::Device>);

impl InputDevices {
    /// A device came: set it up and remember it.
    pub fn added(&mut self, mut device: smithay::reexports::input::Device, input: &Input) {
        configure_device(&mut device, input);
        self.0.push(device);
    }

    /// A device went.
    pub fn removed(&mut self, device: &smithay::reexports::input::Device) {
        self.0.retain(|d| d != device);
    }

    /// Sets up every device again.
    pub fn configure_all(&mut self, input: &Input) {
        for device in &mut self.0 {
            configure_device(device, input);
        }
    }
}

/// Gives `seat` its keyboard with `input`'s keymap and repeat; xkb's
/// default keymap when xkb refuses the configured one (the error is
/// returned, for a notice), so that a typo in zion.toml never leaves a
/// session without a keyboard.
pub fn add_keyboard(seat: &mut Seat<State>, input: &Input) -> anyhow::Result<Option<KeymapError>> {
    let (rate, delay) = repeat_info(input);
    if let Err(err) = seat.add_keyboard(xkb_config(&input.keyboard), delay, rate) {
        let refused = keymap_error(&input.keyboard);
        warn!("{refused}: {err:?}; xkb's default keymap instead");
        seat.add_keyboard(XkbConfig::default(), delay, rate)
            .map_err(|e| anyhow::anyhow!("error creating the keyboard (xkb keymap): {e:?}"))?;
        return Ok(Some(refused));
    }
    Ok(None)
}

impl State {
    /// Applies `input` to the seat and the devices. The keymap is checked
    /// first: when xkb refuses it nothing changes and the error says why.
    pub fn apply_input(&mut self, input: &Input) -> Result<(), KeymapError> {
        check_keymap(&input.keyboard)?;
        let Some(keyboard) = self.seat.get_keyboard() else {
            return Ok(());
        };
        // Set even when the names did not change: the keymap the seat has
        // may be xkb's default, if the configured one failed at start.
        keyboard
            .set_xkb_config(self, xkb_config(&input.keyboard))
            .map_err(|_| keymap_error(&input.keyboard))?;
        info!(layout = %input.keyboard.layout, variant = %input.keyboard.variant, "keymap set");
        let (rate, delay) = repeat_info(input);
        keyboard.change_repeat_info(rate, delay);
        self.input_devices.configure_all(input);
        self.config.input = input.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xkb_knows_de_and_not_a_made_up_layout() {
        let de = Keyboard {
            layout: "de".into(),
            ..Keyboard::default()
        };
        assert_eq!(check_keymap(&de), Ok(()));
        let bogus = Keyboard {
            layout: "zz-not-a-layout".into(),
            ..Keyboard::default()
        };
        let err = check_keymap(&bogus).expect_err("no such layout");
        assert!(err.to_string().contains("zz-not-a-layout"), "{err}");
    }

    #[test]
    fn natural_scrolling_turns_both_axes_round() {
        let frame = AxisFrame::new(7)
            .value(smithay::backend::input::Axis::Vertical, 15.0)
            .v120(smithay::backend::input::Axis::Vertical, 120);
        let turned = natural(frame);
        assert_eq!(turned.axis, (-0.0, -15.0));
        assert_eq!(turned.v120, Some((0, -120)));
        assert_eq!(turned.relative_direction.1, AxisRelativeDirection::Inverted);
    }
}

//! Input the compositor is handed rather than reads from a device: the
//! headless backend's input (tests, test hooks). Its events are Smithay
//! [`InputEvent`]s of this backend, so they take the very path libinput's
//! and winit's events take ([`State::process_input_event`]).
//!
//! [`State::process_input_event`]: crate::state::State::process_input_event

use smithay::backend::input::{
    AbsolutePositionEvent, Axis, AxisRelativeDirection, AxisSource, ButtonState, Device,
    DeviceCapability, Event, GestureBeginEvent, GestureEndEvent, GestureSwipeBeginEvent,
    GestureSwipeEndEvent, GestureSwipeUpdateEvent, InputBackend, InputEvent, KeyState,
    KeyboardKeyEvent, Keycode, PointerAxisEvent, PointerButtonEvent, PointerMotionAbsoluteEvent,
    PointerMotionEvent, UnusedEvent,
};

/// The input backend of injected events.
#[derive(Debug)]
pub struct Injected;

/// The one device injected events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InjectedDevice;

impl Device for InjectedDevice {
    fn id(&self) -> String {
        "injected".to_owned()
    }
    fn name(&self) -> String {
        "Zion injected input".to_owned()
    }
    fn has_capability(&self, capability: DeviceCapability) -> bool {
        matches!(
            capability,
            DeviceCapability::Keyboard | DeviceCapability::Pointer
        )
    }
    fn usb_id(&self) -> Option<(u32, u32)> {
        None
    }
    fn syspath(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// A key (evdev code) pressed or released.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The evdev key code (`KEY_*` of input-event-codes.h).
    pub code: u32,
    /// Pressed (true) or released.
    pub pressed: bool,
}

/// A relative pointer motion (a mouse), in logical pixels.
#[derive(Debug, Clone, Copy)]
pub struct Motion {
    /// Horizontal movement.
    pub dx: f64,
    /// Vertical movement.
    pub dy: f64,
}

/// The pointer put at a place of the output (a tablet, a VM's pointer), in
/// the output's logical pixels.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// Horizontal place.
    pub x: f64,
    /// Vertical place.
    pub y: f64,
}

/// A pointer button (evdev `BTN_*`) pressed or released.
#[derive(Debug, Clone, Copy)]
pub struct Button {
    /// The evdev button code.
    pub button: u32,
    /// Pressed (true) or released.
    pub pressed: bool,
}

/// A scroll: wheel clicks (120 steps each) or a continuous amount in pixels.
#[derive(Debug, Clone, Copy)]
pub struct Scroll {
    /// Where it came from (a wheel, a finger on a touchpad).
    pub source: AxisSource,
    /// Horizontal and vertical amounts in pixels (`None`: none given).
    pub amount: (Option<f64>, Option<f64>),
    /// Horizontal and vertical wheel steps in 120ths of a click.
    pub v120: (Option<f64>, Option<f64>),
}

impl Scroll {
    /// `clicks` clicks of a vertical wheel (positive: down).
    pub fn wheel(clicks: f64) -> Scroll {
        Scroll {
            source: AxisSource::Wheel,
            amount: (None, None),
            v120: (None, Some(clicks * 120.0)),
        }
    }
}

/// A touchpad swipe begins with this many fingers.
#[derive(Debug, Clone, Copy)]
pub struct SwipeBegin {
    /// Fingers on the touchpad.
    pub fingers: u32,
}

/// A touchpad swipe moves by (dx, dy).
#[derive(Debug, Clone, Copy)]
pub struct SwipeUpdate {
    /// Horizontal movement.
    pub dx: f64,
    /// Vertical movement.
    pub dy: f64,
}

/// A touchpad swipe ends (or is cancelled).
#[derive(Debug, Clone, Copy)]
pub struct SwipeEnd {
    /// Whether it was cancelled.
    pub cancelled: bool,
}

impl InputBackend for Injected {
    type Device = InjectedDevice;
    type KeyboardKeyEvent = Key;
    type PointerAxisEvent = Scroll;
    type PointerButtonEvent = Button;
    type PointerMotionEvent = Motion;
    type PointerMotionAbsoluteEvent = Place;
    type GestureSwipeBeginEvent = SwipeBegin;
    type GestureSwipeUpdateEvent = SwipeUpdate;
    type GestureSwipeEndEvent = SwipeEnd;
    type GesturePinchBeginEvent = UnusedEvent;
    type GesturePinchUpdateEvent = UnusedEvent;
    type GesturePinchEndEvent = UnusedEvent;
    type GestureHoldBeginEvent = UnusedEvent;
    type GestureHoldEndEvent = UnusedEvent;
    type TouchDownEvent = UnusedEvent;
    type TouchUpEvent = UnusedEvent;
    type TouchMotionEvent = UnusedEvent;
    type TouchCancelEvent = UnusedEvent;
    type TouchFrameEvent = UnusedEvent;
    type TabletToolAxisEvent = UnusedEvent;
    type TabletToolProximityEvent = UnusedEvent;
    type TabletToolTipEvent = UnusedEvent;
    type TabletToolButtonEvent = UnusedEvent;
    type SwitchToggleEvent = UnusedEvent;
    type SpecialEvent = ();
}

/// Injected events carry no time: the compositor's clock stamps them.
macro_rules! untimed {
    ($($ty:ty),*) => {$(
        impl Event<Injected> for $ty {
            fn time(&self) -> u64 {
                0
            }
            fn device(&self) -> InjectedDevice {
                InjectedDevice
            }
        }
    )*};
}
untimed!(
    Key,
    Motion,
    Place,
    Button,
    Scroll,
    SwipeBegin,
    SwipeUpdate,
    SwipeEnd
);

impl GestureBeginEvent<Injected> for SwipeBegin {
    fn fingers(&self) -> u32 {
        self.fingers
    }
}

impl GestureSwipeBeginEvent<Injected> for SwipeBegin {}

impl GestureSwipeUpdateEvent<Injected> for SwipeUpdate {
    fn delta_x(&self) -> f64 {
        self.dx
    }
    fn delta_y(&self) -> f64 {
        self.dy
    }
}

impl GestureEndEvent<Injected> for SwipeEnd {
    fn cancelled(&self) -> bool {
        self.cancelled
    }
}

impl GestureSwipeEndEvent<Injected> for SwipeEnd {}

impl KeyboardKeyEvent<Injected> for Key {
    fn key_code(&self) -> Keycode {
        // xkb's keycodes are evdev's plus 8.
        Keycode::from(self.code.saturating_add(8))
    }
    fn state(&self) -> KeyState {
        if self.pressed {
            KeyState::Pressed
        } else {
            KeyState::Released
        }
    }
    fn count(&self) -> u32 {
        u32::from(self.pressed)
    }
}

impl PointerMotionEvent<Injected> for Motion {
    fn delta_x(&self) -> f64 {
        self.dx
    }
    fn delta_y(&self) -> f64 {
        self.dy
    }
    fn delta_x_unaccel(&self) -> f64 {
        self.dx
    }
    fn delta_y_unaccel(&self) -> f64 {
        self.dy
    }
}

impl AbsolutePositionEvent<Injected> for Place {
    fn x(&self) -> f64 {
        self.x
    }
    fn y(&self) -> f64 {
        self.y
    }
    // The place is already in output pixels: no device space to map from.
    fn x_transformed(&self, _width: i32) -> f64 {
        self.x
    }
    fn y_transformed(&self, _height: i32) -> f64 {
        self.y
    }
}

impl PointerMotionAbsoluteEvent<Injected> for Place {}

impl PointerButtonEvent<Injected> for Button {
    fn button_code(&self) -> u32 {
        self.button
    }
    fn state(&self) -> ButtonState {
        if self.pressed {
            ButtonState::Pressed
        } else {
            ButtonState::Released
        }
    }
}

impl PointerAxisEvent<Injected> for Scroll {
    fn amount(&self, axis: Axis) -> Option<f64> {
        match axis {
            Axis::Horizontal => self.amount.0,
            Axis::Vertical => self.amount.1,
        }
    }
    fn amount_v120(&self, axis: Axis) -> Option<f64> {
        match axis {
            Axis::Horizontal => self.v120.0,
            Axis::Vertical => self.v120.1,
        }
    }
    fn source(&self) -> AxisSource {
        self.source
    }
    fn relative_direction(&self, _axis: Axis) -> AxisRelativeDirection {
        AxisRelativeDirection::Identical
    }
}

/// A key press or release as an event of the one input path.
pub fn key(code: u32, pressed: bool) -> InputEvent<Injected> {
    InputEvent::Keyboard {
        event: Key { code, pressed },
    }
}

/// A scroll as an event of the one input path.
pub fn scroll(scroll: Scroll) -> InputEvent<Injected> {
    InputEvent::PointerAxis { event: scroll }
}

/// The pointer put at (x, y) as an event of the one input path.
pub fn place(x: f64, y: f64) -> InputEvent<Injected> {
    InputEvent::PointerMotionAbsolute {
        event: Place { x, y },
    }
}

/// A button press or release as an event of the one input path.
pub fn button(button: u32, pressed: bool) -> InputEvent<Injected> {
    InputEvent::PointerButton {
        event: Button { button, pressed },
    }
}

/// A relative motion as an event of the one input path.
pub fn motion(dx: f64, dy: f64) -> InputEvent<Injected> {
    InputEvent::PointerMotion {
        event: Motion { dx, dy },
    }
}

/// A touchpad swipe of `fingers` fingers moving by (dx, dy), as the three
/// events of the one input path it takes.
pub fn swipe(fingers: u32, dx: f64, dy: f64) -> [InputEvent<Injected>; 3] {
    [
        InputEvent::GestureSwipeBegin {
            event: SwipeBegin { fingers },
        },
        InputEvent::GestureSwipeUpdate {
            event: SwipeUpdate { dx, dy },
        },
        InputEvent::GestureSwipeEnd {
            event: SwipeEnd { cancelled: false },
        },
    ]
}

//! `zion-panel`, the quarantine review panel: what waits in the quarantine,
//! what the scanner found, and the user's decision, through
//! `org.zionos.Quarantine1`.
//!
//! - [`model`]: the panel's state and events as plain values (tested without iced).
//! - [`order`]: the list's sort keys (names in natural order).
//! - [`bulk`]: releasing every clean ticked item with one question.
//! - [`recall`]: released items a later rule matched, and moving them back.
//! - [`bulk`]: acting on every ticked item (release, delete, hold) with one question.
//! - [`selection`]: ctrl- and shift-click ranges over the list's order.
//! - [`window`]: which rows a scroll offset shows (only those are built).
//! - [`names`]: a hostile file name shown as one honest line.
//! - [`format`]: badges, sources, sizes, ages and countdowns in words.
//! - [`mime`]: a file's type guessed from its first bytes.
//! - [`config`]: the bus, the store and zion.toml's profiles and policy.
//! - [`daemon`]: the signal stream, the calls, reading an object's head.
//! - [`app`]: the iced application: messages, effects as tasks, subscriptions.
//! - [`view`]: the widgets.

pub mod app;
pub mod bulk;
pub mod config;
pub mod daemon;
pub mod format;
pub mod mime;
pub mod model;
pub mod names;
pub mod order;
pub mod recall;
pub mod selection;
pub mod view;
pub mod window;

pub use app::{App, Message};
pub use config::Config;

/// The panel as an iced application (run it, or drive it in a test).
pub fn application(
    config: Config,
) -> iced::Application<impl iced::Program<State = App, Message = Message, Theme = iced::Theme>> {
    iced::application(move || App::new(config.clone()), App::update, view::view)
        .title(App::title)
        .subscription(App::subscription)
        .theme(iced::Theme::Dark)
        .window_size((980.0, 600.0))
}

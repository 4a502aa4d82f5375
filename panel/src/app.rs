//! The iced application: the model plus the D-Bus connection, messages from
//! widgets, keys, timers and the daemon's signals, and the effects turned
//! into tasks.

use std::time::{SystemTime, UNIX_EPOCH};

use iced::keyboard::{self, key::Named, Key as IcedKey};
use iced::{Subscription, Task};

use super::config::Config;
use super::daemon::{self, Target, Update};
use super::model::{Effect, Event, Key, Panel, Pick, Status};

/// The list's scrollable, for scrolling it to the selection.
pub fn list_id() -> iced::widget::Id {
    iced::widget::Id::new("zion-panel-list")
}

/// The running panel.
#[derive(Debug)]
pub struct App {
    /// What it shows.
    pub panel: Panel,
    /// Its settings.
    pub config: Config,
    connection: Option<zbus::Connection>,
    target: Target,
    /// Shift and ctrl as they are now (for clicks on rows).
    modifiers: keyboard::Modifiers,
    /// How many rows the list showed when that was last logged.
    logged: Option<usize>,
}

/// Everything that reaches [`App::update`].
#[derive(Debug, Clone)]
pub enum Message {
    /// From the daemon's stream.
    Bus(Update),
    /// From a widget or a finished task.
    Panel(Event),
    /// A key nothing else took.
    Keyboard(keyboard::Event),
    /// The clock moved a minute (ages and countdowns).
    Tick,
    /// A row was clicked (shift and ctrl decide what that picks).
    Row(u64),
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The panel's key for an iced key press, if it has one.
pub fn key_of(event: &keyboard::Event) -> Option<Key> {
    let keyboard::Event::KeyPressed { key, .. } = event else {
        return None;
    };
    match key.as_ref() {
        IcedKey::Named(Named::ArrowUp) => Some(Key::Up),
        IcedKey::Named(Named::ArrowDown) => Some(Key::Down),
        IcedKey::Named(Named::Enter) => Some(Key::Enter),
        IcedKey::Named(Named::Delete) => Some(Key::Delete),
        IcedKey::Named(Named::Escape) => Some(Key::Escape),
        IcedKey::Named(Named::Space) => Some(Key::Space),
        _ => None,
    }
}

impl App {
    /// A panel that starts connecting at once.
    pub fn new(config: Config) -> App {
        let mut panel = Panel::new(config.profiles.clone(), config.policy.clone(), now());
        panel.open_when_seen = config.select;
        App {
            panel,
            target: Target {
                address: config.bus_address.clone(),
                answer: config.answer,
                attempt: 0,
            },
            config,
            connection: None,
            modifiers: keyboard::Modifiers::default(),
            logged: None,
        }
    }

    /// Applies a message; returns the work it started.
    pub fn update(&mut self, message: Message) -> Task<Message> {
        let effects = match message {
            Message::Bus(Update::Connected(connection, items)) => {
                self.connection = Some(connection);
                self.panel.update(Event::Listed(items))
            }
            Message::Bus(Update::Event(event)) => {
                if matches!(event, Event::Unavailable(_)) {
                    self.connection = None;
                }
                self.panel.update(event)
            }
            Message::Panel(event) => self.panel.update(event),
            Message::Keyboard(event) => {
                let (keyboard::Event::ModifiersChanged(modifiers)
                | keyboard::Event::KeyPressed { modifiers, .. }
                | keyboard::Event::KeyReleased { modifiers, .. }) = &event;
                self.modifiers = *modifiers;
                match key_of(&event) {
                    Some(key) => self.panel.update(Event::Key(key)),
                    None => Vec::new(),
                }
            }
            Message::Tick => self.panel.update(Event::Tick(now())),
            Message::Row(id) => {
                let how = Pick::with(self.modifiers.shift(), self.modifiers.control());
                self.panel.update(Event::Pick { id, how })
            }
        };
        let shown = self.panel.shown_ids().len();
        if self.logged != Some(shown) {
            // What the window lists, for whoever watches the log (bench-panel does).
            tracing::info!("the list shows {shown} items");
            self.logged = Some(shown);
        }
        Task::batch(effects.into_iter().map(|e| self.effect(e)))
    }

    fn effect(&mut self, effect: Effect) -> Task<Message> {
        match effect {
            Effect::Call(request) => match self.connection.clone() {
                Some(connection) => {
                    let asked = request.clone();
                    Task::perform(daemon::call(connection, request), move |result| {
                        Message::Panel(Event::Done(asked, result))
                    })
                }
                None => Task::done(Message::Panel(Event::Done(
                    request,
                    Err("not connected to zion-sandboxd".to_owned()),
                ))),
            },
            Effect::CallMany(requests) => match self.connection.clone() {
                Some(connection) => Task::run(
                    daemon::call_many(connection, requests),
                    |(request, result)| Message::Panel(Event::Done(request, result)),
                ),
                None => Task::batch(requests.into_iter().map(|request| {
                    Task::done(Message::Panel(Event::Done(
                        request,
                        Err("not connected to zion-sandboxd".to_owned()),
                    )))
                })),
            },
            Effect::ScrollTo(y) => iced::widget::operation::scroll_to(
                list_id(),
                iced::widget::operation::AbsoluteOffset {
                    x: None,
                    y: Some(y as f32),
                },
            ),
            Effect::Reconnect => {
                // A new key makes iced drop the old stream and start a new one.
                self.target.attempt += 1;
                Task::none()
            }
            Effect::Sniff { sha256 } => Task::perform(
                daemon::sniff(self.config.objects.clone(), sha256),
                Message::Panel,
            ),
        }
    }

    /// The daemon's signals, keys, the minute clock while items are listed,
    /// and retries while the daemon is away.
    pub fn subscription(&self) -> Subscription<Message> {
        let mut all = vec![
            Subscription::run_with(self.target.clone(), daemon::follow).map(Message::Bus),
            keyboard::listen().map(Message::Keyboard),
        ];
        // Ages and countdowns move once a minute; nothing ticks while
        // nothing is listed. Every other redraw follows a signal or input.
        if let Some(every) = self.panel.clock() {
            all.push(iced::time::every(every).map(|_| Message::Tick));
        }
        if matches!(self.panel.status, Status::Unavailable { .. }) {
            all.push(iced::time::every(self.config.retry).map(|_| Message::Panel(Event::Retry)));
        }
        Subscription::batch(all)
    }

    /// The window's title: how many items wait.
    pub fn title(&self) -> String {
        let waiting = self
            .panel
            .visible()
            .iter()
            .filter(|i| super::format::Badge::of(i).is_waiting())
            .count();
        match waiting {
            0 => "Zion quarantine".to_owned(),
            n => format!("Zion quarantine ({n})"),
        }
    }
}

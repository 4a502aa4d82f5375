//! What a profile's notification may carry to the host, and whose it is.
//! Pure: everything here is a function of values, tested without a bus.
//!
//! Everything a profile sends is hostile: its text is cut to size and
//! stripped of what could pass it off as another profile's (control
//! characters, bidirectional overrides); its icon and hints lose every path
//! and picture (a path names the container's files, not the host's); its
//! actions are counted; its ids are its own, so that it can close or
//! replace only what it showed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zbus::zvariant::{OwnedValue, Value};

/// At most this many characters of a summary (after the label).
pub const MAX_SUMMARY: usize = 200;
/// At most this many characters of a body.
pub const MAX_BODY: usize = 2000;
/// At most this many characters of an app name, an action key or label, a
/// category or an icon name.
pub const MAX_SHORT: usize = 64;
/// At most this many actions (key and label pairs) per notification.
pub const MAX_ACTIONS: usize = 8;
/// At most this many of a profile's notifications shown at once.
pub const MAX_LIVE: usize = 64;
/// The longest a profile's notification may ask to stay (milliseconds).
pub const MAX_EXPIRE_MS: i32 = 60_000;
/// Hint carrying the profile's name, for the host daemon's rules.
pub const HINT_PROFILE: &str = "x-zion-profile";
/// Hint carrying the profile's colour (`#rrggbb`).
pub const HINT_COLOUR: &str = "x-zion-colour";

/// The profile a notification comes from, as the host shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The profile's name.
    pub profile: String,
    /// Its label, put before every summary: `[label] …`.
    pub label: String,
    /// Its colour, `#rrggbb`.
    pub colour: String,
}

/// A `Notify` call as the profile made it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `app_name`.
    pub app_name: String,
    /// `app_icon`.
    pub app_icon: String,
    /// `summary`.
    pub summary: String,
    /// `body`.
    pub body: String,
    /// `actions`: key, label, key, label, …
    pub actions: Vec<String>,
    /// `hints`.
    pub hints: HashMap<String, OwnedValue>,
    /// `expire_timeout` in milliseconds; -1 is the daemon's default.
    pub expire_timeout: i32,
}

/// One hint the host receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// A byte (`urgency`).
    Byte(u8),
    /// A boolean (`transient`, `suppress-sound`).
    Bool(bool),
    /// A string (`category`, `desktop-entry`, Zion's own).
    Text(String),
}

impl Hint {
    /// As a D-Bus value.
    pub fn value(&self) -> Value<'_> {
        match self {
            Hint::Byte(b) => Value::U8(*b),
            Hint::Bool(b) => Value::Bool(*b),
            Hint::Text(s) => Value::from(s.as_str()),
        }
    }
}

/// A notification as the host's daemon gets it: labelled, cut to size,
/// without paths or pictures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `app_name`.
    pub app_name: String,
    /// `app_icon`: an icon theme name or nothing, never a path.
    pub app_icon: String,
    /// `[label] summary`.
    pub summary: String,
    /// The body, markup escaped when the host reads markup.
    pub body: String,
    /// Key, label, key, label, …
    pub actions: Vec<String>,
    /// The hints kept, and Zion's own.
    pub hints: Vec<(&'static str, Hint)>,
    /// Milliseconds, -1 to [`MAX_EXPIRE_MS`] (0: until dismissed).
    pub expire_timeout: i32,
}

/// Text a profile sent, made fit to show: control characters (a newline
/// too: a summary is one line) and bidirectional controls become spaces,
/// and at most `max` characters are kept. Pure.
pub fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .take(max)
        .collect()
}

/// Like [`clean`], but a body keeps its line breaks.
fn clean_body(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c == '\n' {
                c
            } else if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .take(max)
        .collect()
}

/// The characters that reorder text on screen (U+202A–U+202E, U+2066–U+2069,
/// the marks U+200E, U+200F, U+061C).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Escapes what Pango markup reads, so that a body is shown as sent.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// An icon name from the host's icon theme (`mail-unread`), or nothing: a
/// path or URI names a file of the container, which the host must not open.
fn icon_name(icon: &str) -> String {
    let safe = !icon.is_empty()
        && icon.len() <= MAX_SHORT
        && !icon.starts_with('.')
        && icon
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        icon.to_owned()
    } else {
        String::new()
    }
}

/// The hints the host gets: urgency, category, desktop entry, transient
/// and suppress-sound when well typed; every other one (pictures, image
/// and sound paths, positions, vendor hints) is dropped. Zion's profile and
/// colour hints are added.
fn hints(given: &HashMap<String, OwnedValue>, origin: &Origin) -> Vec<(&'static str, Hint)> {
    let mut out = Vec::new();
    let text = |key: &str| -> Option<String> {
        let value: &Value = given.get(key)?;
        match value {
            Value::Str(s) => Some(clean(s.as_str(), MAX_SHORT)),
            _ => None,
        }
    };
    let flag = |key: &str| -> Option<bool> {
        match &**given.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    };
    if let Some(v) = given.get("urgency") {
        let urgency = match &**v {
            Value::U8(u) => Some(*u),
            Value::I32(i) => u8::try_from(*i).ok(),
            Value::U32(i) => u8::try_from(*i).ok(),
            _ => None,
        };
        if let Some(u) = urgency {
            out.push(("urgency", Hint::Byte(u.min(2))));
        }
    }
    if let Some(category) = text("category") {
        out.push(("category", Hint::Text(category)));
    }
    if let Some(entry) = text("desktop-entry") {
        out.push(("desktop-entry", Hint::Text(entry)));
    }
    if let Some(b) = flag("transient") {
        out.push(("transient", Hint::Bool(b)));
    }
    if let Some(b) = flag("suppress-sound") {
        out.push(("suppress-sound", Hint::Bool(b)));
    }
    out.push((HINT_PROFILE, Hint::Text(origin.profile.clone())));
    out.push((HINT_COLOUR, Hint::Text(origin.colour.clone())));
    out
}

/// The notification the host shows for `request` from `origin`; `markup`
/// when the host's daemon reads markup in bodies. Pure.
pub fn outgoing(request: &Request, origin: &Origin, markup: bool) -> Outgoing {
    let body = clean_body(&request.body, MAX_BODY);
    let actions = request
        .actions
        .chunks_exact(2)
        .take(MAX_ACTIONS)
        .flat_map(|pair| [clean(&pair[0], MAX_SHORT), clean(&pair[1], MAX_SHORT)])
        .collect();
    Outgoing {
        app_name: clean(&request.app_name, MAX_SHORT),
        app_icon: icon_name(&request.app_icon),
        summary: format!(
            "[{}] {}",
            origin.label,
            clean(&request.summary, MAX_SUMMARY)
        ),
        body: if markup { escape_markup(&body) } else { body },
        actions,
        hints: hints(&request.hints, origin),
        expire_timeout: request.expire_timeout.clamp(-1, MAX_EXPIRE_MS),
    }
}

/// Which host notification is which profile's, under the id each profile
/// was given: a profile's ids are its own count, so that it learns nothing
/// of others' and can name only its own.
#[derive(Debug, Default)]
pub struct Routes {
    /// The next id of each profile.
    next: HashMap<String, u32>,
    /// Host id → (profile, its id).
    by_host: HashMap<u32, (String, u32)>,
    /// (profile, its id) → host id.
    by_local: HashMap<(String, u32), u32>,
}

impl Routes {
    /// The host id of `profile`'s notification `local`, if it has one
    /// showing: what it may replace or close. Any other id is no one's it
    /// may touch.
    pub fn host_id(&self, profile: &str, local: u32) -> Option<u32> {
        self.by_local.get(&(profile.to_owned(), local)).copied()
    }

    /// How many of `profile`'s notifications are showing.
    pub fn live(&self, profile: &str) -> usize {
        self.by_host.values().filter(|(p, _)| p == profile).count()
    }

    /// Records that the host showed `host` for `profile`, replacing its
    /// notification `replaced` (its own, checked by [`Routes::host_id`]);
    /// the id the profile gets.
    pub fn shown(&mut self, profile: &str, replaced: Option<u32>, host: u32) -> u32 {
        let local = match replaced {
            Some(local) => {
                if let Some(old) = self.by_local.remove(&(profile.to_owned(), local)) {
                    self.by_host.remove(&old);
                }
                local
            }
            None => {
                let next = self.next.entry(profile.to_owned()).or_insert(0);
                // Never 0 (it means "no notification"), and never one still
                // showing after the count wrapped.
                loop {
                    *next = next.checked_add(1).unwrap_or(1);
                    if !self.by_local.contains_key(&(profile.to_owned(), *next)) {
                        break *next;
                    }
                }
            }
        };
        // A host id the daemon reused is no longer anyone else's.
        if let Some((p, l)) = self.by_host.remove(&host) {
            self.by_local.remove(&(p, l));
        }
        self.by_host.insert(host, (profile.to_owned(), local));
        self.by_local.insert((profile.to_owned(), local), host);
        local
    }

    /// Whose host notification `host` is: (profile, its id).
    pub fn owner(&self, host: u32) -> Option<(&str, u32)> {
        self.by_host.get(&host).map(|(p, l)| (p.as_str(), *l))
    }

    /// The host closed `host`: forgets it; whose it was.
    pub fn closed(&mut self, host: u32) -> Option<(String, u32)> {
        let (profile, local) = self.by_host.remove(&host)?;
        self.by_local.remove(&(profile.clone(), local));
        Some((profile, local))
    }
}

/// A token bucket: `burst` notifications at once, then one per `every`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    burst: u32,
    every: Duration,
    tokens: f64,
    last: Option<Instant>,
}

impl RateLimit {
    /// Ten at once, then two a second: more than any app needs, too few to
    /// bury the screen.
    pub fn standard() -> RateLimit {
        RateLimit::new(10, Duration::from_millis(500))
    }

    /// `burst` at once, then one per `every`.
    pub fn new(burst: u32, every: Duration) -> RateLimit {
        RateLimit {
            burst,
            every,
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// Whether one more may pass at `now` (taking it if so).
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let gained =
                now.saturating_duration_since(last).as_secs_f64() / self.every.as_secs_f64();
            self.tokens = (self.tokens + gained).min(f64::from(self.burst));
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work() -> Origin {
        Origin {
            profile: "work".into(),
            label: "work".into(),
            colour: "#3465a4".into(),
        }
    }

    fn value(v: Value<'_>) -> OwnedValue {
        OwnedValue::try_from(v).expect("an owned value")
    }

    #[test]
    fn the_summary_is_led_by_the_label_and_cannot_hide_it() {
        let request = Request {
            summary: "\u{202e}[gaming] hi\nsecond line\u{1b}[2K".into(),
            ..Request::default()
        };
        let out = outgoing(&request, &work(), false);
        assert_eq!(out.summary, "[work]  [gaming] hi second line [2K");
    }

    #[test]
    fn oversized_text_and_actions_are_cut() {
        let request = Request {
            app_name: "a".repeat(1000),
            summary: "s".repeat(10_000),
            body: "b".repeat(100_000),
            actions: (0..41).map(|i| format!("k{i}")).collect(),
            expire_timeout: i32::MAX,
            ..Request::default()
        };
        let out = outgoing(&request, &work(), false);
        assert_eq!(out.app_name.len(), MAX_SHORT);
        assert_eq!(out.summary.len(), "[work] ".len() + MAX_SUMMARY);
        assert_eq!(out.body.len(), MAX_BODY);
        assert_eq!(out.actions.len(), 2 * MAX_ACTIONS);
        assert_eq!(out.expire_timeout, MAX_EXPIRE_MS);
        let odd = Request {
            actions: vec!["ok".into(), "OK".into(), "dangling".into()],
            expire_timeout: -7,
            ..Request::default()
        };
        let out = outgoing(&odd, &work(), false);
        assert_eq!(out.actions, ["ok", "OK"]);
        assert_eq!(out.expire_timeout, -1);
    }

    #[test]
    fn paths_and_pictures_never_reach_the_host() {
        let mut hints = HashMap::new();
        hints.insert("image-path".to_owned(), value(Value::from("/etc/shadow")));
        hints.insert("image_path".to_owned(), value(Value::from("/etc/shadow")));
        hints.insert("sound-file".to_owned(), value(Value::from("/dev/zero")));
        hints.insert("image-data".to_owned(), value(Value::from(vec![0u8; 16])));
        hints.insert("urgency".to_owned(), value(Value::U8(9)));
        hints.insert("category".to_owned(), value(Value::from("email.arrived")));
        hints.insert("transient".to_owned(), value(Value::from("yes")));
        hints.insert(HINT_COLOUR.to_owned(), value(Value::from("#ff0000")));
        for icon in ["/etc/passwd", "file:///etc/passwd", "../../x", ".hidden"] {
            let request = Request {
                app_icon: icon.into(),
                body: "<img src=\"file:///etc/passwd\"/> & co".into(),
                hints: hints.clone(),
                ..Request::default()
            };
            let out = outgoing(&request, &work(), true);
            assert_eq!(out.app_icon, "", "{icon}");
            assert_eq!(out.body, "&lt;img src=\"file:///etc/passwd\"/&gt; &amp; co");
            let mut keys: Vec<&str> = out.hints.iter().map(|(k, _)| *k).collect();
            keys.sort();
            assert_eq!(
                keys,
                ["category", "urgency", "x-zion-colour", "x-zion-profile"]
            );
            assert!(out.hints.contains(&("urgency", Hint::Byte(2))));
            // The profile cannot set its own colour.
            assert!(out
                .hints
                .contains(&(HINT_COLOUR, Hint::Text("#3465a4".into()))));
        }
        let named = Request {
            app_icon: "mail-unread".into(),
            ..Request::default()
        };
        assert_eq!(outgoing(&named, &work(), false).app_icon, "mail-unread");
    }

    #[test]
    fn a_profile_can_name_only_its_own_notifications() {
        let mut routes = Routes::default();
        let w = routes.shown("work", None, 100);
        let g = routes.shown("gaming", None, 101);
        assert_eq!((w, g), (1, 1), "each profile counts its own");
        assert_eq!(routes.host_id("work", 1), Some(100));
        assert_eq!(routes.host_id("gaming", 1), Some(101));
        // Gaming naming work's host id, or an id it never got: no one's.
        assert_eq!(routes.host_id("gaming", 100), None);
        assert_eq!(routes.host_id("gaming", 2), None);
        // Work replaces its own: same id for it, the new host id routed.
        assert_eq!(routes.shown("work", Some(1), 102), 1);
        assert_eq!(routes.owner(100), None);
        assert_eq!(routes.owner(102), Some(("work", 1)));
        assert_eq!(routes.closed(102), Some(("work".into(), 1)));
        assert_eq!(routes.host_id("work", 1), None);
        assert_eq!(routes.live("work"), 0);
        assert_eq!(routes.live("gaming"), 1);
        assert_eq!(routes.shown("work", None, 103), 2);
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let mut limit = RateLimit::new(3, Duration::from_secs(1));
        let t = Instant::now();
        assert!((0..3).all(|_| limit.take(t)));
        assert!(!limit.take(t));
        assert!(!limit.take(t + Duration::from_millis(500)));
        assert!(limit.take(t + Duration::from_millis(1600)));
        assert!(!limit.take(t + Duration::from_millis(1700)));
    }
}

//! Following the compositor's shown desktop (`Compositor1.ActiveDesktop`):
//! a profile left alone for its `hibernate_after` is hibernated, and the
//! profile switched to is thawed the moment the property changes, before
//! the compositor needs its first frame. Without a compositor on the bus
//! nothing is hibernated automatically.
//!
//! The decision is [`plan`], a function of values; [`run`] feeds it from
//! the bus and the session's events and carries it out. The same changes
//! move CPU weights to the shown profile ([`crate::focus`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use tokio::sync::broadcast::error::RecvError;
use zbus::fdo::{DBusProxy, PropertiesProxy};
use zbus::names::BusName;
use zion_bus::Compositor1Proxy;
use zion_config::{HibernateAfter, HibernateMode};

use crate::focus;
use crate::session::Event;
use crate::Session;

/// The compositor's bus name.
pub const COMPOSITOR: &str = zion_bus::compositor::NAME;
/// The compositor's object path.
pub const COMPOSITOR_PATH: &str = zion_bus::compositor::PATH;
const PROPERTY: &str = "ActiveDesktop";

/// A profile's state as far as hibernation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Running: it can be hibernated.
    Running,
    /// Hibernated: it can be thawed.
    Hibernated,
    /// Anything else (stopped, absent, dead): left alone.
    Other,
}

impl Observed {
    /// From the word [`Session::state`] gives.
    pub fn from_word(word: &str) -> Observed {
        match word {
            "running" => Observed::Running,
            "hibernated" => Observed::Hibernated,
            _ => Observed::Other,
        }
    }
}

/// One profile, as the decision sees it.
#[derive(Debug, Clone)]
pub struct Idle<'a> {
    /// The profile (its desktop has the same name).
    pub name: &'a str,
    /// Its state.
    pub state: Observed,
    /// Its setting.
    pub hibernate_after: HibernateAfter,
    /// Since when it has been neither shown nor woken (left, started or
    /// thawed).
    pub idle_since: Instant,
}

/// What to do now, and when to look again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Profiles to hibernate: running, not shown, idle past their limit.
    pub freeze: Vec<String>,
    /// Profiles to thaw: the one just switched to, when hibernated.
    pub thaw: Vec<String>,
    /// The next instant a running profile reaches its limit.
    pub wake: Option<Instant>,
}

/// Decides which profiles to hibernate and thaw. `active` is the desktop
/// shown (`None`: no compositor, so nothing is hibernated); `switched` says
/// it has just become the shown one, which thaws it (a profile hibernated
/// by hand while shown stays so until the next switch to it). Pure.
pub fn plan(active: Option<&str>, switched: bool, profiles: &[Idle<'_>], now: Instant) -> Plan {
    let mut out = Plan::default();
    let Some(active) = active else {
        return out;
    };
    for p in profiles {
        if p.name == active {
            if switched && p.state == Observed::Hibernated {
                out.thaw.push(p.name.to_owned());
            }
            continue;
        }
        let HibernateAfter::After(limit) = p.hibernate_after else {
            continue;
        };
        if p.state != Observed::Running {
            continue;
        }
        let due = p.idle_since + limit;
        if due <= now {
            out.freeze.push(p.name.to_owned());
        } else {
            out.wake = Some(out.wake.map_or(due, |w| w.min(due)));
        }
    }
    out
}

/// When `profile` is hibernated automatically, given whether freezing
/// works here: a profile that hibernates by freezing is never, where it
/// cannot be frozen (reported once at start; trying at every period would
/// fail at every period). Pure.
pub fn hibernate_after(profile: &zion_config::Profile, can_freeze: bool) -> HibernateAfter {
    match profile.hibernate {
        HibernateMode::Freeze if !can_freeze => HibernateAfter::Never,
        _ => profile.hibernate_after,
    }
}

/// The follower's memory: the desktop shown, each profile's idle clock and
/// its last known state (kept from the session's events).
struct Follower {
    session: Arc<Session>,
    active: Option<String>,
    idle_since: HashMap<String, Instant>,
    states: HashMap<String, Observed>,
    wake: Option<Instant>,
    /// The CPU weight last set on each profile's container.
    weights: HashMap<String, u32>,
}

impl Follower {
    async fn refresh_states(&mut self) {
        let now = Instant::now();
        for p in &self.session.config().profiles {
            let name = p.name.to_string();
            match self.session.state(&name).await {
                Ok(word) => {
                    self.states.insert(name.clone(), Observed::from_word(&word));
                }
                Err(e) => tracing::debug!("state of profile `{name}`: {e}"),
            }
            self.idle_since.entry(name).or_insert(now);
        }
    }

    fn note_state(&mut self, profile: &str, word: &str) {
        let new = Observed::from_word(word);
        let old = self.states.insert(profile.to_owned(), new);
        // Started or thawed: its idle clock starts again.
        if new == Observed::Running && old != Some(Observed::Running) {
            self.idle_since.insert(profile.to_owned(), Instant::now());
            // A new container, or one that missed updates while frozen.
            self.weights.remove(profile);
        }
    }

    /// The shown desktop is now `active`; returns whether it changed.
    fn set_active(&mut self, active: Option<String>) -> bool {
        if self.active == active {
            return false;
        }
        let now = Instant::now();
        if let Some(left) = self.active.take() {
            self.idle_since.insert(left, now);
        }
        tracing::debug!("active desktop: {active:?}");
        self.active = active;
        true
    }

    /// Decides and acts; thaws first, as a frame is waiting for it.
    async fn act(&mut self, switched: bool) {
        let config = self.session.config();
        let now = Instant::now();
        let can_freeze = self.session.capabilities().freezing.is_available();
        let idle: Vec<Idle<'_>> = config
            .profiles
            .iter()
            .map(|p| Idle {
                name: p.name.as_ref(),
                state: self
                    .states
                    .get(p.name.as_ref())
                    .copied()
                    .unwrap_or(Observed::Other),
                hibernate_after: hibernate_after(p, can_freeze),
                idle_since: self.idle_since.get(p.name.as_ref()).copied().unwrap_or(now),
            })
            .collect();
        let plan = plan(self.active.as_deref(), switched, &idle, now);
        for name in &plan.thaw {
            let start = Instant::now();
            match self.session.resume(name).await {
                Ok(()) => {
                    tracing::info!(
                        "profile `{name}` thawed for its desktop in {:.1} ms",
                        start.elapsed().as_secs_f64() * 1e3
                    );
                    self.note_state(name, "running");
                }
                Err(e) => tracing::error!("thawing profile `{name}` for its desktop: {e:#}"),
            }
        }
        for name in &plan.freeze {
            match self.session.hibernate(name).await {
                Ok(()) => {
                    tracing::info!("profile `{name}` hibernated: its desktop was not shown for its hibernate_after");
                    self.note_state(name, "hibernated");
                }
                Err(e) => {
                    // Tried again after another hibernate_after, not in a loop.
                    tracing::warn!("profile `{name}` stays running: {e:#}");
                    self.idle_since.insert(name.clone(), Instant::now());
                }
            }
        }
        // A failed freeze restarted its clock: the wake must cover it.
        self.wake = if plan.freeze.is_empty() {
            plan.wake
        } else {
            Some(Instant::now() + std::time::Duration::from_millis(50))
        };
        self.weigh(&config).await;
    }

    /// Moves CPU weights to the shown profile (after thawing: a frame waits).
    async fn weigh(&mut self, config: &zion_config::Config) {
        let states: Vec<(&str, Observed)> = config
            .profiles
            .iter()
            .map(|p| {
                let name = p.name.as_ref();
                let state = self.states.get(name).copied().unwrap_or(Observed::Other);
                (name, state)
            })
            .collect();
        let updates = focus::plan(
            &config.focus,
            self.active.as_deref(),
            &states,
            &self.weights,
        );
        focus::apply(&self.session, &updates, &mut self.weights).await;
    }
}

/// The compositor's property changes and its current value, or `None` when
/// it is not on the bus.
async fn connect(
    conn: &zbus::Connection,
) -> zbus::Result<Option<(zbus::proxy::SignalStream<'static>, String)>> {
    let dbus = DBusProxy::new(conn).await?;
    let name = BusName::try_from(COMPOSITOR)?;
    if !dbus.name_has_owner(name).await? {
        return Ok(None);
    }
    let props = PropertiesProxy::builder(conn)
        .destination(COMPOSITOR)?
        .path(COMPOSITOR_PATH)?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    // Subscribed before reading, so that no switch falls in between.
    let stream = props.inner().receive_signal("PropertiesChanged").await?;
    let proxy = Compositor1Proxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let active = proxy.active_desktop().await?;
    Ok(Some((stream, active)))
}

/// The new `ActiveDesktop` in a `PropertiesChanged` signal, if it is one
/// of the compositor's and names it.
fn active_in(message: &zbus::Message) -> Option<String> {
    let (interface, changed, _invalidated): (
        String,
        HashMap<String, zbus::zvariant::OwnedValue>,
        Vec<String>,
    ) = message.body().deserialize().ok()?;
    if interface != COMPOSITOR {
        return None;
    }
    let value = changed.get(PROPERTY)?.try_clone().ok()?;
    String::try_from(value).ok()
}

async fn next_change(
    stream: &mut Option<zbus::proxy::SignalStream<'static>>,
) -> Option<zbus::Message> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Follows the compositor on `conn` for `session` until the task is
/// dropped: reconnects when the compositor comes and goes.
pub async fn run(session: Arc<Session>, conn: zbus::Connection) {
    if let Err(e) = follow(session, conn).await {
        tracing::error!("the active desktop is no longer followed (no automatic hibernation): {e}");
    }
}

async fn follow(session: Arc<Session>, conn: zbus::Connection) -> zbus::Result<()> {
    let dbus = DBusProxy::new(&conn).await?;
    let mut owners = dbus
        .receive_name_owner_changed_with_args(&[(0, COMPOSITOR)])
        .await?;
    let mut events = session.subscribe();
    let mut follower = Follower {
        session,
        active: None,
        idle_since: HashMap::new(),
        states: HashMap::new(),
        wake: None,
        weights: HashMap::new(),
    };
    follower.refresh_states().await;
    let mut changes = None;
    let mut absence_told = false;
    let mut reconnect = true;
    loop {
        let mut switched = false;
        if reconnect {
            reconnect = false;
            match connect(&conn).await {
                Ok(Some((stream, active))) => {
                    tracing::info!("following {COMPOSITOR}: desktop `{active}` is shown");
                    changes = Some(stream);
                    absence_told = false;
                    // Nothing was watched while it was away: every clock starts now.
                    let now = Instant::now();
                    for since in follower.idle_since.values_mut() {
                        *since = now;
                    }
                    follower.active = None;
                    switched = follower.set_active(Some(active));
                }
                Ok(None) => {
                    if !absence_told {
                        tracing::info!("no {COMPOSITOR} on the bus: profiles are not hibernated automatically until it appears");
                        absence_told = true;
                    }
                    changes = None;
                    follower.set_active(None);
                }
                Err(e) => {
                    tracing::warn!("reading {COMPOSITOR}'s active desktop: {e}; profiles are not hibernated automatically");
                    absence_told = true;
                    changes = None;
                    follower.set_active(None);
                }
            }
        }
        if !switched {
            tokio::select! {
                owner = owners.next() => {
                    if owner.is_none() {
                        return Err(zbus::Error::Failure("the bus closed the NameOwnerChanged stream".into()));
                    }
                    reconnect = true;
                    continue;
                }
                message = next_change(&mut changes) => match message {
                    Some(message) => match active_in(&message) {
                        Some(active) => switched = follower.set_active(Some(active)),
                        None => continue,
                    },
                    None => {
                        reconnect = true;
                        continue;
                    }
                },
                event = events.recv() => match event {
                    Ok(Event::StateChanged { profile, state }) => follower.note_state(&profile, &state),
                    Ok(Event::ConfigApplied(_)) | Err(RecvError::Lagged(_)) => follower.refresh_states().await,
                    Ok(_) => continue,
                    Err(RecvError::Closed) => return Ok(()),
                },
                () = sleep_until(follower.wake) => {}
            }
        }
        follower.act(switched).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MIN: Duration = Duration::from_secs(60);

    fn idle(name: &str, state: Observed, after: Option<Duration>, since: Instant) -> Idle<'_> {
        Idle {
            name,
            state,
            hibernate_after: after.map_or(HibernateAfter::Never, HibernateAfter::After),
            idle_since: since,
        }
    }

    #[test]
    fn without_a_compositor_nothing_is_hibernated() {
        let t0 = Instant::now();
        let now = t0 + 60 * MIN;
        let ps = [idle("work", Observed::Running, Some(MIN), t0)];
        assert_eq!(plan(None, false, &ps, now), Plan::default());
    }

    #[test]
    fn a_profile_left_past_its_limit_is_hibernated_and_the_next_wake_is_the_nearest_limit() {
        let t0 = Instant::now();
        let now = t0 + 10 * MIN;
        let ps = [
            idle("work", Observed::Running, Some(MIN), t0),
            idle("personal", Observed::Running, Some(10 * MIN), t0),
            idle("mail", Observed::Running, Some(15 * MIN), t0),
            idle("chat", Observed::Running, Some(12 * MIN), t0),
            idle("shown", Observed::Running, Some(MIN), t0),
        ];
        let p = plan(Some("shown"), false, &ps, now);
        assert_eq!(
            p.freeze,
            ["work", "personal"],
            "exactly at the limit counts"
        );
        assert!(p.thaw.is_empty());
        assert_eq!(p.wake, Some(t0 + 12 * MIN));
    }

    #[test]
    fn the_shown_desktop_and_never_are_not_hibernated() {
        let t0 = Instant::now();
        let now = t0 + 600 * MIN;
        let ps = [
            idle("work", Observed::Running, Some(MIN), t0),
            idle("gaming", Observed::Running, None, t0),
        ];
        let p = plan(Some("work"), false, &ps, now);
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn only_running_profiles_are_hibernated() {
        let t0 = Instant::now();
        let now = t0 + 10 * MIN;
        let ps = [
            idle("a", Observed::Hibernated, Some(MIN), t0),
            idle("b", Observed::Other, Some(MIN), t0),
        ];
        assert_eq!(plan(Some("x"), false, &ps, now), Plan::default());
    }

    #[test]
    fn switching_to_a_hibernated_profile_thaws_it_at_once() {
        let t0 = Instant::now();
        let ps = [
            idle("personal", Observed::Hibernated, Some(MIN), t0),
            idle("work", Observed::Running, Some(MIN), t0),
        ];
        let p = plan(Some("personal"), true, &ps, t0);
        assert_eq!(p.thaw, ["personal"]);
        assert!(p.freeze.is_empty());
        assert_eq!(p.wake, Some(t0 + MIN), "work is still counted");
    }

    #[test]
    fn a_shown_profile_hibernated_by_hand_stays_so_until_switched_to() {
        let t0 = Instant::now();
        let ps = [idle("personal", Observed::Hibernated, Some(MIN), t0)];
        assert_eq!(plan(Some("personal"), false, &ps, t0), Plan::default());
    }

    #[test]
    fn a_profile_that_cannot_be_frozen_is_never_hibernated_by_freezing() {
        let config = zion_config::Config::parse(
            "[[profile]]\nname = \"work\"\nhibernate_after = \"5m\"\n\
             [[profile]]\nname = \"disk\"\nhibernate = \"disk\"\nhibernate_after = \"5m\"\n",
            std::path::Path::new("zion.toml"),
        )
        .expect("a valid configuration");
        let (work, disk) = (&config.profiles[0], &config.profiles[1]);
        assert_eq!(hibernate_after(work, true), HibernateAfter::After(5 * MIN));
        assert_eq!(hibernate_after(work, false), HibernateAfter::Never);
        assert_eq!(
            hibernate_after(disk, false),
            HibernateAfter::After(5 * MIN),
            "a checkpoint needs no freezer"
        );
    }

    #[test]
    fn a_changed_limit_applies_to_the_clock_already_running() {
        let t0 = Instant::now();
        let now = t0 + 3 * MIN;
        let long = [idle("work", Observed::Running, Some(10 * MIN), t0)];
        assert!(plan(Some("x"), false, &long, now).freeze.is_empty());
        // A reload shortened it: the time already idle counts.
        let short = [idle("work", Observed::Running, Some(2 * MIN), t0)];
        assert_eq!(plan(Some("x"), false, &short, now).freeze, ["work"]);
    }
}

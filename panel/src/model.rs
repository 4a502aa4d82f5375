//! The panel's state and what each event does to it, as plain values: no
//! D-Bus, no files, no iced. What has to happen outside (a D-Bus call, a
//! reconnect, reading a file's first bytes) comes back as an [`Effect`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use zion_bus::quarantine::{ItemInfo, MatchInfo};
use zion_bus::recall::RecallInfo;
use zion_config::quarantine::Policy;

pub use super::bulk::{BulkAction, BulkProgress, BulkRelease};
use super::format::Badge;
use super::names::one_line;
pub use super::order::{Sort, SortKey};
use super::selection;
pub use super::selection::Pick;
pub use super::window::Viewport;

/// Where the panel stands with the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Connecting to the bus and listing the quarantine.
    Connecting,
    /// Listed; following the daemon's signals.
    Ready,
    /// The bus or the daemon is not there; the panel retries.
    Unavailable {
        /// What failed, in words.
        reason: String,
    },
}

/// A call to `org.zionos.Quarantine1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `Release(id, destination)` of a clean item.
    Release {
        /// The item.
        id: u64,
        /// `shared` or `profile:NAME`.
        destination: String,
    },
    /// `ReleaseOverride(id, destination)`: the user released it whatever the verdict.
    ReleaseOverride {
        /// The item.
        id: u64,
        /// `shared` or `profile:NAME`.
        destination: String,
    },
    /// `Delete(id)`.
    Delete {
        /// The item.
        id: u64,
    },
    /// `Rescan(id)`.
    Rescan {
        /// The item.
        id: u64,
    },
    /// `MoveBack(id)`: a recalled item's copies back into the quarantine.
    MoveBack {
        /// The released item.
        id: u64,
    },
    /// `Sanitise(id)`: a safe copy made in a converter with no network.
    Sanitise {
        /// The item.
        id: u64,
    },
    /// `Hold(id, held)`: the policy does not release it by itself (or may again).
    Hold {
        /// The item.
        id: u64,
        /// Held.
        held: bool,
    },
}

impl Request {
    /// The item it is about.
    pub fn id(&self) -> u64 {
        match self {
            Request::Release { id, .. }
            | Request::ReleaseOverride { id, .. }
            | Request::Delete { id }
            | Request::Rescan { id }
            | Request::MoveBack { id } => *id,
            Request::Sanitise { id } => *id,
            Request::Hold { id, .. } => *id,
        }
    }
}

/// What a call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The item as released.
    Released(Box<ItemInfo>),
    /// The item was deleted.
    Deleted(u64),
    /// The item will be scanned again.
    Rescanning(u64),
    /// A recalled item's copies were moved back.
    MovedBack(Box<RecallInfo>),
    /// A safe copy was made: the daemon's summary (it names the new item
    /// and how the converter was confined).
    Sanitised(String),
    /// The item is held (`true`) or let go.
    Held(u64, bool),
}

/// A question the user answers before a call that cannot be undone or that
/// overrides a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The call made on "yes".
    pub request: Request,
    /// The question, naming the item (and the rule that matched).
    pub question: String,
    /// The "yes" button's words.
    pub yes: String,
}

/// The keys the panel answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Select the item above.
    Up,
    /// Select the item below.
    Down,
    /// Open the selected item, or confirm the question.
    Enter,
    /// Ask to delete the selected item.
    Delete,
    /// Cancel the question, close the detail, or clear the selection.
    Escape,
    /// Tick or untick the selected item for a bulk action.
    Space,
}

/// A line under the list saying how the last action went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// It went as asked.
    Info(String),
    /// It failed: the daemon's words.
    Error(String),
}

/// Something that happened, to the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Connected; the whole quarantine as listed.
    Listed(Vec<ItemInfo>),
    /// The bus or the daemon cannot be reached.
    Unavailable(String),
    /// `ItemAdded`.
    Added(ItemInfo),
    /// `ItemChanged`.
    Changed(ItemInfo),
    /// Several `ItemAdded`/`ItemChanged` signals at once, oldest first (the
    /// signal stream coalesces a burst into one redraw).
    Updated(Vec<ItemInfo>),
    /// The list's scrollable moved or changed size.
    Scrolled(Viewport),
    /// A row was clicked: plainly, with ctrl or with shift.
    Pick {
        /// The row's item.
        id: u64,
        /// How.
        how: Pick,
    },
    /// The user picked an item (a click): select it and show its detail.
    Select(u64),
    /// A key press.
    Key(Key),
    /// The user asked for a call (a button); it may need confirming first.
    Ask(Request),
    /// "Yes" to the question.
    Confirm,
    /// "No" to the question.
    Cancel,
    /// Close the detail view.
    CloseDetail,
    /// A call's answer.
    Done(Request, Result<Outcome, String>),
    /// The MIME type of the object with this SHA-256.
    Mime {
        /// The object's SHA-256 in hex.
        sha256: String,
        /// The type, or why it is unknown.
        mime: String,
    },
    /// The clock, in seconds since the epoch.
    Tick(u64),
    /// Try the daemon again now.
    Retry,
    /// Show only what came from this profile (its downloads and what it
    /// sent), or everything.
    Filter(Option<String>),
    /// Show only items whose name contains these words (any case).
    Search(String),
    /// Sort by this key; the same key again turns the order round.
    Sort(SortKey),
    /// A released content was recalled (listed, or `ItemRecalled`).
    Recalled(Box<RecallInfo>),
    /// Tick or untick an item for a bulk action.
    Mark {
        /// The item.
        id: u64,
        /// Ticked.
        on: bool,
    },
    /// Tick every waiting item the list shows (after search and filter).
    MarkShown,
    /// Untick everything.
    ClearMarks,
    /// Release every clean ticked item to this destination (asks once).
    AskBulk(String),
    /// Delete every ticked item (asks once).
    AskBulkDelete,
    /// Hold every ticked item (`true`), or let them go.
    HoldMarked(bool),
}

/// What must happen outside the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Make this call.
    Call(Request),
    /// Make these calls (a bulk action), a few at a time.
    CallMany(Vec<Request>),
    /// Scroll the list to this offset (the selection moved out of sight).
    ScrollTo(u32),
    /// Connect again and list.
    Reconnect,
    /// Read the first bytes of this object to guess its type.
    Sniff {
        /// The object's SHA-256 in hex.
        sha256: String,
    },
}

/// Ages and countdowns are shown to the minute: the clock ticks once a minute.
pub const CLOCK: std::time::Duration = std::time::Duration::from_secs(60);

/// The panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Every item the daemon told us about, by id (oldest first).
    pub items: BTreeMap<u64, ItemInfo>,
    /// The selected item.
    pub selected: Option<u64>,
    /// Whether the selected item's detail is shown.
    pub detail: bool,
    /// The question waiting for an answer.
    pub confirm: Option<Confirm>,
    /// Where the panel stands with the daemon.
    pub status: Status,
    /// The profiles zion.toml names (release destinations).
    pub configured_profiles: Vec<String>,
    /// The `[quarantine]` policy, if zion.toml could be read (for countdowns).
    pub policy: Option<Policy>,
    /// Now, in seconds since the epoch.
    pub now: u64,
    /// How the last action went.
    pub notice: Option<Notice>,
    /// MIME types guessed so far, by SHA-256.
    pub mime: HashMap<String, String>,
    /// An item to open as soon as it is listed (`zion-panel --select ID`).
    pub open_when_seen: Option<u64>,
    /// Only items from this profile are listed (`None`: all).
    pub from: Option<String>,
    /// Only items whose name contains this (any case) are listed.
    pub query: String,
    /// The list's order.
    pub sort: Sort,
    /// Items ticked for a bulk action.
    pub marked: BTreeSet<u64>,
    /// The bulk release waiting for its "yes".
    pub bulk: Option<BulkRelease>,
    /// The bulk release whose calls are under way.
    pub progress: Option<BulkProgress>,
    /// Released contents a rule matched after their release.
    pub recalls: Vec<RecallInfo>,
    /// What the list's scrollable shows.
    pub viewport: Viewport,
    /// Where a shift-click's range starts: the last row clicked.
    pub anchor: Option<u64>,
    /// The ids the list shows, in its order: worked out once per change
    /// (not once per redraw), see [`Panel::visible`].
    order: Vec<u64>,
}

impl Panel {
    /// A panel connecting to the daemon.
    pub fn new(configured_profiles: Vec<String>, policy: Option<Policy>, now: u64) -> Panel {
        Panel {
            items: BTreeMap::new(),
            selected: None,
            detail: false,
            confirm: None,
            status: Status::Connecting,
            configured_profiles,
            policy,
            now,
            notice: None,
            mime: HashMap::new(),
            open_when_seen: None,
            from: None,
            query: String::new(),
            sort: Sort::default(),
            marked: BTreeSet::new(),
            bulk: None,
            progress: None,
            recalls: Vec::new(),
            viewport: Viewport::default(),
            anchor: None,
            order: Vec::new(),
        }
    }

    /// The items the list shows, in the chosen order: all but deleted
    /// ones, from the chosen profile only when one is chosen, whose name
    /// contains the search words when there are some. Worked out when the
    /// items, the filter, the search or the sort change, not on every call.
    pub fn visible(&self) -> Vec<&ItemInfo> {
        self.order
            .iter()
            .filter_map(|id| self.items.get(id))
            .collect()
    }

    /// The ids the list shows, in its order.
    pub fn shown_ids(&self) -> &[u64] {
        &self.order
    }

    /// Works the list's order out again (after what can change it).
    fn refresh(&mut self) {
        let query = self.query.trim().to_lowercase();
        let mut shown: Vec<&ItemInfo> = self
            .items
            .values()
            .filter(|i| Badge::of(i) != Badge::Deleted)
            .filter(|i| self.from.as_ref().is_none_or(|p| &i.profile == p))
            .filter(|i| query.is_empty() || i.name.to_lowercase().contains(&query))
            .collect();
        shown.sort_by(|a, b| self.ordered(a, b));
        self.order = shown.into_iter().map(|i| i.id).collect();
    }

    /// The offset that brings the selected row into sight, if it is out of it.
    pub fn reveal_selected(&self) -> Option<u32> {
        let selected = self.selected?;
        let index = self.order.iter().position(|&id| id == selected)?;
        self.viewport.reveal(index)
    }

    /// The rows the list builds for its viewport, as indices into [`Panel::shown_ids`].
    pub fn rows(&self) -> std::ops::Range<usize> {
        self.viewport.rows(self.order.len())
    }

    /// How `a` and `b` compare in the list's order.
    fn ordered(&self, a: &ItemInfo, b: &ItemInfo) -> Ordering {
        self.sort.compare(a, b)
    }

    /// How often the clock must tick for what is shown (ages and
    /// countdowns, to the minute): never while nothing is listed, so an
    /// idle panel does no work.
    pub fn clock(&self) -> Option<std::time::Duration> {
        self.items
            .values()
            .any(|i| Badge::of(i) != Badge::Deleted)
            .then_some(CLOCK)
    }

    /// The ticked items the list shows, in its order: what a bulk action
    /// takes (a tick hidden by the filter or the search stays, but is not
    /// acted on unseen).
    pub fn ticked(&self) -> Vec<&ItemInfo> {
        if self.marked.is_empty() {
            return Vec::new();
        }
        self.visible()
            .into_iter()
            .filter(|i| self.marked.contains(&i.id) && Badge::of(i).is_waiting())
            .collect()
    }

    /// What "release the ticked items to `destination`" would do: the
    /// clean ones, and how many are left out because they are not clean.
    pub fn bulk_release(&self, destination: &str) -> BulkRelease {
        BulkRelease::of(&self.ticked(), destination)
    }

    /// The profiles items came from, for the filter buttons.
    pub fn sources(&self) -> Vec<String> {
        let all: BTreeSet<String> = self
            .items
            .values()
            .filter(|i| !i.profile.is_empty())
            .map(|i| i.profile.clone())
            .collect();
        all.into_iter().collect()
    }

    /// The selected item, if it is still shown.
    pub fn selected_item(&self) -> Option<&ItemInfo> {
        self.items
            .get(&self.selected?)
            .filter(|i| Badge::of(i) != Badge::Deleted)
    }

    /// Profiles an item can be released to: zion.toml's and those seen on items.
    pub fn profiles(&self) -> Vec<String> {
        let mut all: BTreeSet<String> = self.configured_profiles.iter().cloned().collect();
        for item in self.items.values() {
            if !item.profile.is_empty() {
                all.insert(item.profile.clone());
            }
            if let Some(p) = item.destination.strip_prefix("profile:") {
                all.insert(p.to_owned());
            }
        }
        all.into_iter().collect()
    }

    /// The release buttons for an item: `(label, destination)`.
    pub fn destinations(&self) -> Vec<(String, String)> {
        let mut out = vec![("Release to Shared".to_owned(), "shared".to_owned())];
        for p in self.profiles() {
            out.push((format!("Release to {p}"), format!("profile:{p}")));
        }
        out
    }

    /// Applies `event`; returns what must happen outside.
    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Listed(items) => {
                self.status = Status::Ready;
                self.items = items.into_iter().map(|i| (i.id, i)).collect();
                self.refresh();
                let items = &self.items;
                self.marked
                    .retain(|id| items.get(id).is_some_and(|i| Badge::of(i).is_waiting()));
                self.keep_selection_valid();
                if let Some(id) = self.open_when_seen.filter(|id| self.items.contains_key(id)) {
                    self.open_when_seen = None;
                    return self.update(Event::Select(id));
                }
                self.sniff_selected()
            }
            Event::Unavailable(reason) => {
                self.status = Status::Unavailable { reason };
                self.items.clear();
                self.selected = None;
                self.detail = false;
                self.confirm = None;
                self.marked.clear();
                self.bulk = None;
                self.anchor = None;
                self.refresh();
                Vec::new()
            }
            Event::Updated(items) => self.items_changed(items),
            Event::Added(item) | Event::Changed(item) => self.items_changed(vec![item]),
            Event::Scrolled(viewport) => {
                self.viewport = viewport;
                Vec::new()
            }
            Event::Pick { id, how } => self.pick(id, how),
            Event::Select(id) => {
                if !self.items.contains_key(&id) {
                    return Vec::new();
                }
                self.selected = Some(id);
                self.detail = true;
                self.confirm = None;
                self.sniff_selected()
            }
            Event::Key(key) => self.key(key),
            Event::Ask(request) => self.ask(request),
            Event::Confirm => {
                if let Some(bulk) = self.bulk.take() {
                    return self.start_bulk(bulk);
                }
                match self.confirm.take() {
                    Some(confirm) => vec![Effect::Call(confirm.request)],
                    None => Vec::new(),
                }
            }
            Event::Cancel => {
                self.confirm = None;
                self.bulk = None;
                Vec::new()
            }
            Event::CloseDetail => {
                self.detail = false;
                self.confirm = None;
                Vec::new()
            }
            Event::Done(request, result) => {
                if let Some(notice) = self.bulk_done(&request, &result) {
                    self.notice = Some(notice);
                    return Vec::new();
                }
                if let Ok(Outcome::MovedBack(recall)) = &result {
                    super::recall::keep(&mut self.recalls, (**recall).clone());
                }
                self.notice = Some(self.notice_for(&request, result));
                Vec::new()
            }
            Event::Recalled(recall) => {
                super::recall::keep(&mut self.recalls, *recall);
                Vec::new()
            }
            Event::Mime { sha256, mime } => {
                self.mime.insert(sha256, mime);
                Vec::new()
            }
            Event::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Event::Retry => {
                self.status = Status::Connecting;
                vec![Effect::Reconnect]
            }
            Event::Filter(from) => {
                self.from = from;
                self.refresh();
                self.drop_hidden_selection();
                Vec::new()
            }
            Event::Search(query) => {
                self.query = query;
                self.refresh();
                self.drop_hidden_selection();
                Vec::new()
            }
            Event::Sort(key) => {
                self.sort = Sort {
                    key,
                    descending: self.sort.key == key && !self.sort.descending,
                };
                self.refresh();
                Vec::new()
            }
            Event::Mark { id, on } => {
                if on
                    && self
                        .items
                        .get(&id)
                        .is_some_and(|i| Badge::of(i).is_waiting())
                {
                    self.marked.insert(id);
                } else {
                    self.marked.remove(&id);
                }
                Vec::new()
            }
            Event::MarkShown => {
                let shown: Vec<u64> = self
                    .visible()
                    .iter()
                    .filter(|i| Badge::of(i).is_waiting())
                    .map(|i| i.id)
                    .collect();
                self.marked.extend(shown);
                Vec::new()
            }
            Event::ClearMarks => {
                self.marked.clear();
                self.bulk = None;
                Vec::new()
            }
            Event::AskBulk(destination) => {
                let bulk = self.bulk_release(&destination);
                if bulk.ids.is_empty() {
                    self.notice = Some(Notice::Info(format!(
                        "Nothing to release: none of the {} selected items is clean",
                        bulk.skipped
                    )));
                    return Vec::new();
                }
                self.confirm = None;
                self.bulk = Some(bulk);
                Vec::new()
            }
            Event::AskBulkDelete => {
                let bulk = BulkRelease::delete(&self.ticked());
                if bulk.ids.is_empty() {
                    return Vec::new();
                }
                self.confirm = None;
                self.bulk = Some(bulk);
                Vec::new()
            }
            Event::HoldMarked(held) => {
                // Holding is undone as easily: no question.
                let ids = self.ticked().iter().map(|i| i.id).collect();
                self.start_bulk(BulkRelease {
                    ids,
                    destination: String::new(),
                    skipped: 0,
                    question: String::new(),
                    action: BulkAction::Hold(held),
                    yes: String::new(),
                })
            }
        }
    }

    /// Items the daemon announced or changed: stored, the order worked out
    /// once, then what each one's news means for the selection, the
    /// question and ticks.
    fn items_changed(&mut self, items: Vec<ItemInfo>) -> Vec<Effect> {
        let ids: Vec<u64> = items.iter().map(|i| i.id).collect();
        for item in items {
            if !Badge::of(&item).is_waiting() {
                self.marked.remove(&item.id);
            }
            self.items.insert(item.id, item);
        }
        self.refresh();
        let mut effects = Vec::new();
        for id in ids {
            if self.open_when_seen == Some(id) {
                self.open_when_seen = None;
                effects.extend(self.update(Event::Select(id)));
                continue;
            }
            if self.confirm.as_ref().is_some_and(|c| c.request.id() == id)
                && !self
                    .items
                    .get(&id)
                    .is_some_and(|i| Badge::of(i).is_waiting())
            {
                self.confirm = None;
            }
            self.keep_selection_valid();
            if self.selected == Some(id) {
                effects.extend(self.sniff_selected());
            }
        }
        effects.dedup();
        effects
    }

    /// A click on a row: pick it alone (and open it), tick or untick it,
    /// or tick the range from the last picked row to it.
    fn pick(&mut self, id: u64, how: Pick) -> Vec<Effect> {
        if !self.items.contains_key(&id) {
            return Vec::new();
        }
        match how {
            Pick::Only => {
                self.anchor = Some(id);
                self.update(Event::Select(id))
            }
            Pick::Toggle => {
                self.anchor = Some(id);
                self.selected = Some(id);
                if self
                    .items
                    .get(&id)
                    .is_some_and(|i| Badge::of(i).is_waiting())
                {
                    selection::toggle(&mut self.marked, id);
                }
                Vec::new()
            }
            Pick::Range => {
                let from = self.anchor.or(self.selected);
                let picked = selection::range(&self.order, from, id);
                let items = &self.items;
                self.marked.extend(
                    picked
                        .into_iter()
                        .filter(|i| items.get(i).is_some_and(|i| Badge::of(i).is_waiting())),
                );
                self.selected = Some(id);
                Vec::new()
            }
        }
    }

    /// A selection the filter or the search hides is dropped with its detail.
    fn drop_hidden_selection(&mut self) {
        if self
            .selected_item()
            .is_some_and(|i| !self.visible().iter().any(|v| v.id == i.id))
        {
            self.selected = None;
            self.detail = false;
        }
    }

    /// "Yes" to a bulk action: one call per item it still takes (a rescan
    /// may have changed a verdict since the question was asked), sent as
    /// one batch the panel feeds to the daemon a few at a time.
    fn start_bulk(&mut self, bulk: BulkRelease) -> Vec<Effect> {
        let ids: Vec<u64> = bulk
            .ids
            .into_iter()
            .filter(|id| self.items.get(id).is_some_and(|i| bulk.action.takes(i)))
            .collect();
        if ids.is_empty() {
            return Vec::new();
        }
        let progress = BulkProgress::start(bulk.action.clone(), &ids, bulk.skipped);
        self.notice = Some(progress.notice());
        self.progress = Some(progress);
        vec![Effect::CallMany(
            ids.into_iter().map(|id| bulk.action.request(id)).collect(),
        )]
    }

    /// Counts a bulk action's answer; its notice says how far it got.
    fn bulk_done(&mut self, request: &Request, result: &Result<Outcome, String>) -> Option<Notice> {
        let progress = self.progress.as_mut()?;
        if !progress.action.made(request) {
            return None;
        }
        let id = request.id();
        let name = self
            .items
            .get(&id)
            .map_or_else(|| format!("item {id}"), |i| one_line(&i.name));
        let answer = match result {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{name}: {e}")),
        };
        if !progress.answer(id, answer) {
            return None;
        }
        let notice = progress.notice();
        if progress.is_done() {
            self.progress = None;
        }
        Some(notice)
    }

    fn key(&mut self, key: Key) -> Vec<Effect> {
        match key {
            Key::Up | Key::Down => {
                if self.confirm.is_some() || self.bulk.is_some() {
                    return Vec::new();
                }
                let ids: Vec<u64> = self.visible().iter().map(|i| i.id).collect();
                let Some(&last) = ids.last() else {
                    return Vec::new();
                };
                let at = self.selected.and_then(|s| ids.iter().position(|&i| i == s));
                let next = match (key, at) {
                    (Key::Up, Some(i)) => ids[i.saturating_sub(1)],
                    (Key::Down, Some(i)) => ids[(i + 1).min(ids.len() - 1)],
                    (Key::Up, None) => last,
                    (_, None) => ids[0],
                    _ => return Vec::new(),
                };
                self.selected = Some(next);
                self.anchor = Some(next);
                let mut effects: Vec<Effect> = self
                    .reveal_selected()
                    .map(Effect::ScrollTo)
                    .into_iter()
                    .collect();
                if self.detail {
                    effects.extend(self.sniff_selected());
                }
                effects
            }
            Key::Enter => {
                if self.confirm.is_some() || self.bulk.is_some() {
                    return self.update(Event::Confirm);
                }
                if self.selected_item().is_some() {
                    self.detail = true;
                    return self.sniff_selected();
                }
                Vec::new()
            }
            Key::Delete => match self.selected_item() {
                Some(item) if Badge::of(item).is_waiting() && self.confirm.is_none() => {
                    let id = item.id;
                    self.ask(Request::Delete { id })
                }
                _ => Vec::new(),
            },
            Key::Space => match self.selected_item() {
                Some(item) if self.confirm.is_none() && self.bulk.is_none() => {
                    let id = item.id;
                    let on = !self.marked.contains(&id);
                    self.update(Event::Mark { id, on })
                }
                _ => Vec::new(),
            },
            Key::Escape => {
                if self.bulk.take().is_some() {
                    return Vec::new();
                }
                if self.confirm.take().is_none() {
                    if self.detail {
                        self.detail = false;
                    } else {
                        self.selected = None;
                    }
                }
                Vec::new()
            }
        }
    }

    /// A button or key asked for `request`: call at once, or ask first.
    fn ask(&mut self, request: Request) -> Vec<Effect> {
        let Some(item) = self.items.get(&request.id()) else {
            return Vec::new();
        };
        if let Request::MoveBack { id } = request {
            let confirm = super::recall::confirm(&self.recalls, item, id);
            self.confirm = confirm;
            return Vec::new();
        }
        let badge = Badge::of(item);
        if !badge.is_waiting() {
            return Vec::new();
        }
        let confirm = match &request {
            Request::Delete { .. } => Some(Confirm {
                question: format!(
                    "Delete {}? It is removed from the quarantine and cannot be recovered.",
                    one_line(&item.name)
                ),
                yes: "Delete".to_owned(),
                request: request.clone(),
            }),
            Request::Release { id, destination } | Request::ReleaseOverride { id, destination }
                if badge.needs_override() =>
            {
                Some(Confirm {
                    question: format!(
                        "{} Release it to {} anyway?",
                        why_not_clean(item),
                        destination_words(destination)
                    ),
                    yes: "Release anyway".to_owned(),
                    request: Request::ReleaseOverride {
                        id: *id,
                        destination: destination.clone(),
                    },
                })
            }
            // A clean item is released as asked; one not scanned yet waits.
            Request::Release { .. } | Request::ReleaseOverride { .. }
                if badge == Badge::Scanning =>
            {
                return Vec::new();
            }
            _ => None,
        };
        match confirm {
            Some(confirm) => {
                self.selected = Some(request.id());
                self.confirm = Some(confirm);
                Vec::new()
            }
            None => vec![Effect::Call(request)],
        }
    }

    fn notice_for(&self, request: &Request, result: Result<Outcome, String>) -> Notice {
        let name = |id: u64| {
            self.items
                .get(&id)
                .map_or_else(|| format!("item {id}"), |i| one_line(&i.name))
        };
        match result {
            Ok(Outcome::Released(item)) => {
                let dest = match request {
                    Request::Release { destination, .. }
                    | Request::ReleaseOverride { destination, .. } => {
                        destination_words(destination)
                    }
                    _ => String::new(),
                };
                Notice::Info(format!("Released {} to {dest}", one_line(&item.name)))
            }
            Ok(Outcome::Deleted(id)) => Notice::Info(format!("Deleted {}", name(id))),
            Ok(Outcome::Rescanning(id)) => {
                Notice::Info(format!("{} will be scanned again", name(id)))
            }
            Ok(Outcome::MovedBack(recall)) => super::recall::moved_notice(&recall),
            Ok(Outcome::Sanitised(summary)) => Notice::Info(summary),
            Ok(Outcome::Held(id, true)) => Notice::Info(format!("{} is held", name(id))),
            Ok(Outcome::Held(id, false)) => Notice::Info(format!("{} is no longer held", name(id))),
            Err(e) => Notice::Error(format!("{}: {e}", name(request.id()))),
        }
    }

    /// A deleted or vanished selection moves to the nearest shown item.
    fn keep_selection_valid(&mut self) {
        let Some(selected) = self.selected else {
            return;
        };
        if self.selected_item().is_some() {
            return;
        }
        // The next item in the list's order, where the gone one stood.
        let gone = self.items.get(&selected);
        let shown = self.visible();
        let after = |i: &&&ItemInfo| match gone {
            Some(gone) => self.ordered(i, gone) == Ordering::Greater,
            None => i.id > selected,
        };
        self.selected = shown
            .iter()
            .find(after)
            .or_else(|| shown.last())
            .map(|i| i.id);
        if self.selected.is_none() {
            self.detail = false;
        }
        self.confirm = None;
    }

    fn sniff_selected(&self) -> Vec<Effect> {
        match self.selected_item() {
            Some(item)
                if self.detail
                    && !item.sha256.is_empty()
                    && !self.mime.contains_key(&item.sha256) =>
            {
                vec![Effect::Sniff {
                    sha256: item.sha256.clone(),
                }]
            }
            _ => Vec::new(),
        }
    }
}

/// `Shared` or `the work profile`.
pub fn destination_words(destination: &str) -> String {
    match destination.strip_prefix("profile:") {
        Some(p) => format!("the {p} profile"),
        None if destination == "shared" => "Shared".to_owned(),
        None => destination.to_owned(),
    }
}

/// One matched rule as a person reads it: `EICAR_Test_File (EICAR test file, by Florian Roth)`.
pub fn rule_words(m: &MatchInfo) -> String {
    match (m.description.is_empty(), m.author.is_empty()) {
        (true, true) => m.rule.clone(),
        (false, true) => format!("{} ({})", m.rule, m.description),
        (true, false) => format!("{} (by {})", m.rule, m.author),
        (false, false) => format!("{} ({}, by {})", m.rule, m.description, m.author),
    }
}

/// Where a rule matched: the item itself, or a member inside it
/// (`invoice.zip ▸ docs/readme.exe`).
pub fn match_place(item: &ItemInfo, m: &MatchInfo) -> String {
    if m.member.is_empty() {
        item.name.clone()
    } else {
        format!(
            "{}{}{}",
            item.name,
            zion_bus::quarantine::MEMBER_SEPARATOR,
            m.member
        )
    }
}

/// Why an item is not clean, naming the rules that matched.
pub fn why_not_clean(item: &ItemInfo) -> String {
    match Badge::of(item) {
        Badge::Infected if !item.matches.is_empty() => {
            let rules: Vec<String> = item
                .matches
                .iter()
                .map(|m| {
                    if m.member.is_empty() {
                        rule_words(m)
                    } else {
                        format!("{} in {}", rule_words(m), match_place(item, m))
                    }
                })
                .collect();
            format!("{} matched {}.", item.name, rules.join("; "))
        }
        Badge::Infected => format!("{} was found infected.", item.name),
        Badge::TooLarge => format!("{} was not scanned: {}.", item.name, item.detail),
        Badge::Error => format!("{} could not be scanned: {}.", item.name, item.detail),
        _ => format!("{} is {}.", item.name, item.state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap as Map;

    fn item(id: u64, name: &str, state: &str) -> ItemInfo {
        let matches = if state == "infected" {
            vec![MatchInfo {
                rule: "EICAR_Test_File".into(),
                namespace: "default".into(),
                author: "Florian Roth".into(),
                description: "EICAR test file".into(),
                tags: Vec::new(),
                meta: Map::new(),
                member: String::new(),
            }]
        } else {
            Vec::new()
        };
        ItemInfo {
            id,
            name: name.into(),
            safe_name: name.into(),
            source: "sandbox:work/1".into(),
            profile: "work".into(),
            size: 68,
            sha256: format!("{id:064x}"),
            state: state.into(),
            verdict: String::new(),
            detail: String::new(),
            matches,
            added: 1000,
            changed: 1000,
            destination: String::new(),
            held: false,
            origin: Default::default(),
        }
    }

    fn panel() -> Panel {
        let mut p = Panel::new(vec!["personal".into()], None, 1000);
        p.update(Event::Listed(vec![
            item(1, "report.pdf", "clean"),
            item(2, "eicar.com", "infected"),
            item(3, "big.iso", "scanning"),
        ]));
        p
    }

    #[test]
    fn a_match_inside_an_archive_is_named_by_its_member_path() {
        let mut archive = item(4, "invoice.zip", "infected");
        archive.matches[0].member = "docs/readme.exe".into();
        assert_eq!(
            match_place(&archive, &archive.matches[0]),
            "invoice.zip ▸ docs/readme.exe"
        );
        let why = why_not_clean(&archive);
        assert!(why.contains("in invoice.zip ▸ docs/readme.exe"), "{why}");
        let plain = item(2, "eicar.com", "infected");
        assert_eq!(match_place(&plain, &plain.matches[0]), "eicar.com");
    }

    #[test]
    fn releasing_a_clean_item_calls_at_once() {
        let mut p = panel();
        let effects = p.update(Event::Ask(Request::Release {
            id: 1,
            destination: "shared".into(),
        }));
        assert_eq!(
            effects,
            vec![Effect::Call(Request::Release {
                id: 1,
                destination: "shared".into()
            })]
        );
        assert_eq!(p.confirm, None);
    }

    #[test]
    fn releasing_an_infected_item_asks_naming_the_rule_then_overrides() {
        let mut p = panel();
        let effects = p.update(Event::Ask(Request::Release {
            id: 2,
            destination: "profile:personal".into(),
        }));
        assert!(effects.is_empty(), "nothing is called before the answer");
        let confirm = p.confirm.clone().expect("a question");
        assert_eq!(
            confirm.question,
            "eicar.com matched EICAR_Test_File (EICAR test file, by Florian Roth). \
             Release it to the personal profile anyway?"
        );
        assert_eq!(
            p.update(Event::Key(Key::Enter)),
            vec![Effect::Call(Request::ReleaseOverride {
                id: 2,
                destination: "profile:personal".into()
            })]
        );
        assert_eq!(p.confirm, None);
    }

    #[test]
    fn escape_cancels_the_question_then_closes_the_detail_then_the_selection() {
        let mut p = panel();
        p.update(Event::Select(2));
        p.update(Event::Key(Key::Delete));
        assert!(p.confirm.is_some());
        p.update(Event::Key(Key::Escape));
        assert_eq!(
            (p.confirm.is_some(), p.detail, p.selected),
            (false, true, Some(2))
        );
        p.update(Event::Key(Key::Escape));
        assert_eq!((p.detail, p.selected), (false, Some(2)));
        p.update(Event::Key(Key::Escape));
        assert_eq!(p.selected, None);
    }

    #[test]
    fn arrows_walk_the_list_and_enter_opens_the_detail() {
        let mut p = panel();
        p.update(Event::Key(Key::Down));
        assert_eq!(p.selected, Some(1));
        p.update(Event::Key(Key::Down));
        p.update(Event::Key(Key::Down));
        p.update(Event::Key(Key::Down));
        assert_eq!(p.selected, Some(3), "stops at the last item");
        p.update(Event::Key(Key::Up));
        assert_eq!(p.selected, Some(2));
        assert!(!p.detail);
        let effects = p.update(Event::Key(Key::Enter));
        assert!(p.detail);
        assert_eq!(
            effects,
            vec![Effect::Sniff {
                sha256: format!("{:064x}", 2)
            }]
        );
    }

    #[test]
    fn a_deleted_item_leaves_the_list_and_the_selection_moves_on() {
        let mut p = panel();
        p.update(Event::Select(1));
        p.update(Event::Changed(item(1, "report.pdf", "deleted")));
        let names: Vec<&str> = p.visible().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["eicar.com", "big.iso"]);
        assert_eq!(p.selected, Some(2));
    }

    #[test]
    fn an_unscanned_item_is_not_released_and_nothing_released_is_acted_on() {
        let mut p = panel();
        let release = |id| {
            Event::Ask(Request::Release {
                id,
                destination: "shared".into(),
            })
        };
        assert!(p.update(release(3)).is_empty());
        p.update(Event::Changed(item(1, "report.pdf", "released")));
        assert!(p.update(release(1)).is_empty());
        assert!(p.update(Event::Ask(Request::Delete { id: 1 })).is_empty());
    }

    #[test]
    fn the_daemon_going_away_empties_the_list_and_retry_reconnects() {
        let mut p = panel();
        p.update(Event::Unavailable("zion-sandboxd is not running".into()));
        assert!(p.visible().is_empty());
        assert_eq!(p.update(Event::Retry), vec![Effect::Reconnect]);
        assert_eq!(p.status, Status::Connecting);
    }

    #[test]
    fn profiles_come_from_the_config_and_the_items() {
        let p = panel();
        let labels: Vec<String> = p.destinations().into_iter().map(|(l, _)| l).collect();
        assert_eq!(
            labels,
            vec![
                "Release to Shared",
                "Release to personal",
                "Release to work"
            ]
        );
    }

    #[test]
    fn sanitising_says_where_the_copy_is_and_how_it_was_made() {
        let mut p = panel();
        let ask = p.update(Event::Ask(Request::Sanitise { id: 2 }));
        assert_eq!(ask, vec![Effect::Call(Request::Sanitise { id: 2 })]);
        let summary = "item 2 sanitised into item 9 (eicar.sanitised.pdf), converted in gVisor with no network (interfaces: lo)";
        p.update(Event::Done(
            Request::Sanitise { id: 2 },
            Ok(Outcome::Sanitised(summary.into())),
        ));
        assert_eq!(p.notice, Some(Notice::Info(summary.into())));
        p.update(Event::Done(
            Request::Sanitise { id: 2 },
            Err("not a PDF or an image".into()),
        ));
        assert_eq!(
            p.notice,
            Some(Notice::Error("eicar.com: not a PDF or an image".into()))
        );
    }

    #[test]
    fn a_failed_call_says_which_item_and_why() {
        let mut p = panel();
        p.update(Event::Done(
            Request::Rescan { id: 2 },
            Err("no such item".into()),
        ));
        assert_eq!(
            p.notice,
            Some(Notice::Error("eicar.com: no such item".into()))
        );
    }

    #[test]
    fn an_item_asked_for_on_the_command_line_opens_when_it_arrives() {
        let mut p = Panel::new(Vec::new(), None, 1000);
        p.open_when_seen = Some(4);
        p.update(Event::Listed(vec![item(1, "a.txt", "clean")]));
        assert_eq!(p.selected, None);
        p.update(Event::Added(item(4, "b.txt", "scanning")));
        assert_eq!((p.selected, p.detail), (Some(4), true));
    }

    fn names(p: &Panel) -> Vec<&str> {
        p.visible().iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn names_sort_in_natural_order_and_the_same_key_again_reverses() {
        let mut p = Panel::new(Vec::new(), None, 1000);
        p.update(Event::Listed(vec![
            item(1, "n10.txt", "clean"),
            item(2, "N2.txt", "clean"),
            item(3, "n1.txt", "clean"),
            item(4, "a.txt", "clean"),
        ]));
        assert_eq!(names(&p), vec!["n10.txt", "N2.txt", "n1.txt", "a.txt"]);
        p.update(Event::Sort(SortKey::Name));
        assert_eq!(names(&p), vec!["a.txt", "n1.txt", "N2.txt", "n10.txt"]);
        p.update(Event::Sort(SortKey::Name));
        assert_eq!(names(&p), vec!["n10.txt", "N2.txt", "n1.txt", "a.txt"]);
        p.update(Event::Sort(SortKey::Age));
        assert_eq!(p.sort, Sort::default(), "a new key starts ascending");
    }

    #[test]
    fn the_list_sorts_by_age_size_and_state() {
        let mut p = Panel::new(Vec::new(), None, 5000);
        let mut old = item(1, "old.bin", "clean");
        old.added = 100;
        old.size = 900;
        let mut new = item(2, "new.bin", "infected");
        new.added = 4000;
        new.size = 10;
        let mut mid = item(3, "mid.bin", "scanning");
        mid.added = 2000;
        mid.size = 500;
        p.update(Event::Listed(vec![new, mid, old]));
        assert_eq!(names(&p), vec!["old.bin", "mid.bin", "new.bin"]);
        p.update(Event::Sort(SortKey::Size));
        assert_eq!(names(&p), vec!["new.bin", "mid.bin", "old.bin"]);
        p.update(Event::Sort(SortKey::Size));
        assert_eq!(names(&p), vec!["old.bin", "mid.bin", "new.bin"]);
        p.update(Event::Sort(SortKey::State));
        assert_eq!(names(&p), vec!["new.bin", "mid.bin", "old.bin"]);
    }

    #[test]
    fn search_shows_names_containing_the_words_in_any_case_and_drops_a_hidden_selection() {
        let mut p = panel();
        p.update(Event::Select(1));
        p.update(Event::Search("  EICAR ".into()));
        assert_eq!(names(&p), vec!["eicar.com"]);
        assert_eq!((p.selected_item(), p.detail), (None, false));
        p.update(Event::Search("nothing like it".into()));
        assert!(p.visible().is_empty());
        p.update(Event::Search(String::new()));
        assert_eq!(p.visible().len(), 3);
    }

    #[test]
    fn arrows_follow_the_sorted_order() {
        let mut p = panel();
        p.update(Event::Sort(SortKey::Name));
        p.update(Event::Key(Key::Down));
        assert_eq!(p.selected, Some(3), "big.iso comes first by name");
        p.update(Event::Key(Key::Down));
        assert_eq!(p.selected, Some(2));
    }

    #[test]
    fn a_bulk_release_asks_once_and_releases_only_the_clean_items() {
        let mut p = panel();
        p.update(Event::Added(item(4, "notes.txt", "clean")));
        p.update(Event::Added(item(5, "broken.docx", "error")));
        p.update(Event::MarkShown);
        assert_eq!(p.marked, BTreeSet::from([1, 2, 3, 4, 5]));
        assert!(p
            .update(Event::AskBulk("profile:personal".into()))
            .is_empty());
        let bulk = p.bulk.clone().expect("one question");
        assert_eq!(
            bulk.question,
            "Release 2 clean items from sandbox work #1 to the personal profile? \
             3 selected items are not clean and stay in quarantine."
        );
        let release = |id| Request::Release {
            id,
            destination: "profile:personal".into(),
        };
        assert_eq!(
            p.update(Event::Key(Key::Enter)),
            vec![Effect::CallMany(vec![release(1), release(4)])]
        );
        assert_eq!(p.bulk, None);
        let released = |id, name: &str| {
            let mut i = item(id, name, "released");
            i.destination = "profile:personal".into();
            Ok(Outcome::Released(Box::new(i)))
        };
        p.update(Event::Done(
            Request::Release {
                id: 1,
                destination: "profile:personal".into(),
            },
            released(1, "report.pdf"),
        ));
        assert_eq!(
            p.notice,
            Some(Notice::Info(
                "Releasing to the personal profile… 1 done, 1 to go".into()
            ))
        );
        p.update(Event::Done(
            Request::Release {
                id: 4,
                destination: "profile:personal".into(),
            },
            released(4, "notes.txt"),
        ));
        assert_eq!(
            p.notice,
            Some(Notice::Info(
                "Released 2 items to the personal profile; 3 not clean, left in quarantine".into()
            ))
        );
        p.update(Event::Changed(item(1, "report.pdf", "released")));
        assert!(!p.marked.contains(&1), "a released item is unticked");
    }

    #[test]
    fn space_ticks_and_unticks_the_selected_waiting_item() {
        let mut p = panel();
        p.update(Event::Key(Key::Space));
        assert!(p.marked.is_empty(), "nothing selected, nothing ticked");
        p.update(Event::Key(Key::Down));
        p.update(Event::Key(Key::Space));
        p.update(Event::Key(Key::Down));
        p.update(Event::Key(Key::Space));
        assert_eq!(p.marked, BTreeSet::from([1, 2]));
        p.update(Event::Key(Key::Space));
        assert_eq!(p.marked, BTreeSet::from([1]));
        p.update(Event::Changed(item(4, "gone.txt", "released")));
        p.update(Event::Mark { id: 4, on: true });
        assert_eq!(
            p.marked,
            BTreeSet::from([1]),
            "a released item is not ticked"
        );
    }

    #[test]
    fn a_bulk_release_takes_only_the_ticked_items_the_filter_and_search_show() {
        let mut p = Panel::new(Vec::new(), None, 1000);
        let mut sent = item(3, "notes.txt", "clean");
        sent.profile = "personal".into();
        sent.source = "profile:personal → work".into();
        p.update(Event::Listed(vec![
            item(1, "report.pdf", "clean"),
            item(2, "report-2.pdf", "clean"),
            sent,
        ]));
        p.update(Event::MarkShown);
        p.update(Event::Filter(Some("work".into())));
        p.update(Event::Search("report-".into()));
        let bulk = p.bulk_release("shared");
        assert_eq!(bulk.ids, vec![2]);
        assert_eq!(
            bulk.question,
            "Release 1 clean item from sandbox work #1 to Shared?"
        );
        assert_eq!(p.marked.len(), 3, "hidden ticks stay for later");
    }

    #[test]
    fn a_bulk_release_skips_an_item_whose_verdict_changed_before_the_yes() {
        let mut p = panel();
        p.update(Event::Mark { id: 1, on: true });
        p.update(Event::AskBulk("shared".into()));
        assert_eq!(
            p.bulk.as_ref().map(|b| b.question.as_str()),
            Some("Release 1 clean item from sandbox work #1 to Shared?")
        );
        p.update(Event::Changed(item(1, "report.pdf", "infected")));
        assert!(p.update(Event::Confirm).is_empty());
    }

    #[test]
    fn a_bulk_release_of_nothing_clean_says_so_and_cancel_calls_nothing() {
        let mut p = panel();
        p.update(Event::Mark { id: 2, on: true });
        p.update(Event::Mark { id: 3, on: true });
        assert!(p.update(Event::AskBulk("shared".into())).is_empty());
        assert_eq!(p.bulk, None);
        assert_eq!(
            p.notice,
            Some(Notice::Info(
                "Nothing to release: none of the 2 selected items is clean".into()
            ))
        );
        p.update(Event::Mark { id: 1, on: true });
        p.update(Event::AskBulk("shared".into()));
        assert!(p.bulk.is_some());
        assert!(p.update(Event::Key(Key::Escape)).is_empty());
        assert_eq!(p.bulk, None);
        assert!(p.update(Event::Confirm).is_empty());
    }

    #[test]
    fn the_clock_ticks_once_a_minute_and_only_while_something_is_listed() {
        let mut p = Panel::new(Vec::new(), None, 1000);
        assert_eq!(p.clock(), None, "connecting: nothing to age");
        p.update(Event::Listed(vec![item(1, "a.txt", "clean")]));
        assert_eq!(p.clock(), Some(std::time::Duration::from_secs(60)));
        p.update(Event::Changed(item(1, "a.txt", "deleted")));
        assert_eq!(p.clock(), None, "only deleted items: nothing shown");
    }

    #[test]
    fn five_thousand_items_filter_and_sort_quickly() {
        let mut p = Panel::new(Vec::new(), None, 1_000_000);
        p.update(Event::Listed(
            (0..5000)
                .map(|n| item(n, &format!("file{}.bin", (n * 7919) % 5000), "clean"))
                .collect(),
        ));
        p.update(Event::Sort(SortKey::Name));
        let start = std::time::Instant::now();
        let shown = p.visible();
        let took = start.elapsed();
        assert_eq!(shown.len(), 5000);
        assert_eq!(shown[0].name, "file0.bin");
        assert_eq!(shown[10].name, "file10.bin");
        // Generous for a debug build on a busy machine; a redraw does this.
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
    }

    #[test]
    fn the_list_can_show_only_what_one_profile_sent_or_downloaded() {
        let mut panel = Panel::new(vec!["work".into(), "personal".into()], None, 2000);
        let mut sent = item(2, "notes.txt", "clean");
        sent.profile = "personal".into();
        sent.source = "profile:personal → work".into();
        panel.update(Event::Listed(vec![item(1, "report.pdf", "clean"), sent]));
        assert_eq!(
            panel.sources(),
            vec!["personal".to_owned(), "work".to_owned()]
        );
        assert_eq!(panel.visible().len(), 2);
        panel.update(Event::Select(1));
        panel.update(Event::Filter(Some("personal".into())));
        let shown: Vec<u64> = panel.visible().iter().map(|i| i.id).collect();
        assert_eq!(shown, vec![2]);
        assert_eq!(
            panel.selected_item(),
            None,
            "the hidden selection is dropped"
        );
        panel.update(Event::Filter(None));
        assert_eq!(panel.visible().len(), 2);
    }

    fn many(count: u64) -> Panel {
        let mut p = Panel::new(Vec::new(), None, 1_000_000);
        p.update(Event::Listed(
            (1..=count)
                .map(|n| item(n, &format!("file{n}.bin"), "clean"))
                .collect(),
        ));
        p
    }

    #[test]
    fn click_ctrl_click_and_shift_click_tick_what_a_file_manager_would() {
        let mut p = many(10);
        p.update(Event::Pick {
            id: 3,
            how: Pick::Only,
        });
        assert_eq!((p.selected, p.detail), (Some(3), true));
        assert!(p.marked.is_empty(), "a plain click opens, ticks nothing");
        p.update(Event::Pick {
            id: 6,
            how: Pick::Range,
        });
        assert_eq!(p.marked, BTreeSet::from([3, 4, 5, 6]));
        p.update(Event::Pick {
            id: 4,
            how: Pick::Toggle,
        });
        assert_eq!(p.marked, BTreeSet::from([3, 5, 6]));
        // The anchor moved to 4: a shift-click upwards runs from there.
        p.update(Event::Pick {
            id: 1,
            how: Pick::Range,
        });
        assert_eq!(p.marked, BTreeSet::from([1, 2, 3, 4, 5, 6]));
        p.update(Event::Changed(item(9, "file9.bin", "released")));
        p.update(Event::Pick {
            id: 10,
            how: Pick::Range,
        });
        assert!(
            !p.marked.contains(&9),
            "a released item in the range is not ticked"
        );
        assert!(p.marked.contains(&10));
    }

    #[test]
    fn a_shift_click_follows_the_sorted_order_not_the_ids() {
        let mut p = many(12);
        p.update(Event::Sort(SortKey::Name));
        // By name: file1, file2, …, file9, file10, file11, file12.
        p.update(Event::Pick {
            id: 9,
            how: Pick::Only,
        });
        p.update(Event::Pick {
            id: 11,
            how: Pick::Range,
        });
        assert_eq!(p.marked, BTreeSet::from([9, 10, 11]));
    }

    #[test]
    fn the_selected_row_is_scrolled_into_sight_by_the_arrows() {
        let mut p = many(100);
        p.update(Event::Scrolled(Viewport::new(
            0.0,
            (4 * crate::window::ROW_HEIGHT) as f32,
        )));
        for _ in 0..4 {
            assert!(!p
                .update(Event::Key(Key::Down))
                .iter()
                .any(|e| matches!(e, Effect::ScrollTo(_))));
        }
        assert_eq!(p.selected, Some(4));
        assert_eq!(
            p.update(Event::Key(Key::Down)),
            vec![Effect::ScrollTo(crate::window::ROW_HEIGHT)],
            "row 5 is below the fourth"
        );
    }

    #[test]
    fn a_burst_of_signals_is_one_update_and_the_order_follows_it() {
        let mut p = many(3);
        p.update(Event::Sort(SortKey::State));
        p.update(Event::Updated(vec![
            item(2, "file2.bin", "scanning"),
            item(4, "file4.bin", "infected"),
            item(1, "file1.bin", "deleted"),
            item(2, "file2.bin", "clean"),
        ]));
        let ids: Vec<u64> = p.visible().iter().map(|i| i.id).collect();
        assert_eq!(
            ids,
            vec![4, 2, 3],
            "infected first, the deleted one gone, the last word wins"
        );
    }

    #[test]
    fn ten_thousand_items_build_a_few_dozen_rows_wherever_the_list_is_scrolled() {
        let mut p = many(10_000);
        assert!(p.rows().len() < 40);
        p.update(Event::Scrolled(Viewport::new(
            (5000 * crate::window::ROW_HEIGHT) as f32,
            600.0,
        )));
        let rows = p.rows();
        assert!(rows.contains(&5000) && rows.len() < 40, "{rows:?}");
        p.update(Event::Search("file9999".into()));
        assert_eq!(p.rows(), 0..1, "a search that leaves one row shows it");
    }

    #[test]
    fn a_bulk_delete_asks_once_and_a_bulk_hold_does_not_ask() {
        let mut p = panel();
        p.update(Event::MarkShown);
        assert!(p.update(Event::AskBulkDelete).is_empty());
        let bulk = p.bulk.clone().expect("one question");
        assert_eq!(
            bulk.question,
            "Delete 3 selected items from sandbox work #1? They are removed from the quarantine \
             and cannot be recovered."
        );
        assert_eq!(bulk.yes, "Delete");
        assert_eq!(
            p.update(Event::Confirm),
            vec![Effect::CallMany(vec![
                Request::Delete { id: 1 },
                Request::Delete { id: 2 },
                Request::Delete { id: 3 },
            ])]
        );
        for id in [1, 2, 3] {
            p.update(Event::Done(
                Request::Delete { id },
                Ok(Outcome::Deleted(id)),
            ));
        }
        assert_eq!(p.notice, Some(Notice::Info("Deleted 3 items".into())));

        let mut p = panel();
        p.update(Event::Mark { id: 2, on: true });
        assert_eq!(
            p.update(Event::HoldMarked(true)),
            vec![Effect::CallMany(vec![Request::Hold { id: 2, held: true }])]
        );
        assert_eq!(p.bulk, None, "holding asks nothing");
        p.update(Event::Done(
            Request::Hold { id: 2, held: true },
            Err("no such item".into()),
        ));
        assert_eq!(
            p.notice,
            Some(Notice::Error(
                "Held 0 items; 1 failed: eicar.com: no such item".into()
            ))
        );
    }
    #[test]
    fn a_hostile_name_cannot_break_a_question_or_a_notice_into_lines() {
        let mut p = Panel::new(Vec::new(), None, 1000);
        p.update(Event::Listed(vec![item(
            1,
            "a\nFAKE: all clean\u{202E}",
            "clean",
        )]));
        p.update(Event::Ask(Request::Delete { id: 1 }));
        let question = p.confirm.clone().expect("a question").question;
        assert!(
            !question.contains('\n') && !question.contains('\u{202E}'),
            "{question:?}"
        );
        p.update(Event::Done(
            Request::Delete { id: 1 },
            Ok(Outcome::Deleted(1)),
        ));
        let Some(Notice::Info(notice)) = p.notice.clone() else {
            panic!("a notice");
        };
        assert_eq!(notice, "Deleted a\u{FFFD}FAKE: all clean\u{FFFD}");
    }
}

//! `org.zionos.Quarantine1` at `/org/zionos/Quarantine1`: list the quarantine,
//! look at one item, release, delete, rescan or hold it; a signal when an
//! item arrives and whenever one changes. Only the session user's own
//! processes on the host may call it (see [`zion_caller::Gate`]): the list
//! alone names every profile's downloads.

use std::sync::Arc;

use zbus::interface;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zion_caller::{Gate, Guarded};
use zion_quarantine::{
    DecidedBy, Item, ItemId, StateKind, Store, StoreError, StoreEvent, Target, Transfer, Transfers,
    TransitionError,
};
use zion_storage::{Destination, StorageError};

use super::recall;
use super::wire::item_info_with_transfers;
use zion_bus::quarantine::ItemInfo;
use zion_bus::recall::RecallInfo;

pub use zion_bus::quarantine::{NAME, PATH};

/// The errors the interface returns, named `org.zionos.Quarantine1.Error.*`.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.zionos.Quarantine1.Error")]
pub enum QuarantineError {
    /// A D-Bus failure.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// No item has this id.
    NoSuchItem(String),
    /// The item's state does not allow this (e.g. releasing an infected item
    /// without the override).
    NotAllowed(String),
    /// The destination is not `shared` or `profile:NAME` of a known profile.
    InvalidDestination(String),
    /// The `[quarantine.transfers]` rule for this pair is `deny`.
    Denied(String),
    /// Anything else: the message says what and where.
    Failed(String),
}

impl From<StoreError> for QuarantineError {
    fn from(e: StoreError) -> Self {
        let text = e.to_string();
        match e {
            StoreError::NoSuchItem(_) => QuarantineError::NoSuchItem(text),
            StoreError::Transition {
                id,
                source: TransitionError::NeedsOverride { from },
            } => QuarantineError::NotAllowed(format!(
                "quarantine item {id} is {from}: it is not released without an explicit override \
                 (ReleaseOverride, or `zionctl quarantine release --override {id} DEST`)"
            )),
            StoreError::Transition { .. } => QuarantineError::NotAllowed(text),
            StoreError::Storage(StorageError::InvalidDestination { .. })
            | StoreError::Release {
                source: StorageError::InvalidDestination { .. },
                ..
            } => QuarantineError::InvalidDestination(text),
            _ => QuarantineError::Failed(text),
        }
    }
}

/// The interface over one store.
pub struct Quarantine1 {
    store: Arc<Store>,
    sanitiser: Arc<crate::sanitise::Sanitiser>,
    profiles: Vec<String>,
    transfers: Transfers,
    gate: Gate,
}

impl Quarantine1 {
    /// Serves `store`; `profiles` are the names `profile:NAME` may use, and
    /// `transfers` the rules for files crossing between them.
    pub fn new(store: Arc<Store>, profiles: Vec<String>, transfers: Transfers) -> Quarantine1 {
        Quarantine1 {
            store,
            sanitiser: Arc::new(crate::sanitise::Sanitiser::new(Default::default())),
            profiles,
            transfers,
            gate: Gate::new(),
        }
    }

    fn info(&self, item: &Item) -> ItemInfo {
        item_info_with_transfers(item, &self.transfers)
    }

    /// Runs `f` on the store away from the bus's tasks (SQLite and file copies block).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, QuarantineError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| QuarantineError::Failed(format!("the quarantine task failed: {e}")))?
            .map_err(QuarantineError::from)
    }

    fn destination(&self, text: &str) -> Result<Destination, QuarantineError> {
        let dest: Destination = text
            .parse()
            .map_err(|e: StorageError| QuarantineError::InvalidDestination(e.to_string()))?;
        let profile = match &dest {
            Destination::Shared => return Ok(dest),
            Destination::Profile { name } => name,
            Destination::Incoming { profile, .. } => profile,
        };
        if self.profiles.iter().any(|p| p == profile) {
            return Ok(dest);
        }
        Err(QuarantineError::InvalidDestination(format!(
            "no profile `{profile}` in zion.toml; destinations are \"shared\" or \"profile:NAME\" with NAME one of: {}",
            self.profiles.join(", ")
        )))
    }

    async fn do_release(
        &self,
        id: u64,
        destination: &str,
        override_verdict: bool,
    ) -> Result<ItemInfo, QuarantineError> {
        let id = item_id(id)?;
        let mut dest = self.destination(destination)?;
        let item = self.blocking(move |s| s.get(id)).await?;
        if let Some(transfer) = zion_quarantine::transfer::of_item(&item) {
            dest = transfer_destination(&transfer.from, dest);
            let asked = Transfer {
                from: transfer.from.clone(),
                to: match &dest {
                    Destination::Shared => Target::Shared,
                    Destination::Profile { name } | Destination::Incoming { profile: name, .. } => {
                        Target::Profile(name.clone())
                    }
                },
            };
            // Sending a file back into its own profile crosses nothing.
            if asked.to != Target::Profile(transfer.from.clone()) {
                self.transfers
                    .check_user_release(&asked)
                    .map_err(|e| QuarantineError::Denied(format!("item {id}: {e}")))?;
            }
        }
        let item = self
            .blocking(move |s| s.release(id, &dest, DecidedBy::User, override_verdict))
            .await?;
        Ok(self.info(&item))
    }
}

/// Where a user's release of a file sent by `from` goes: another profile
/// receives it in `~/Incoming/<from>`, never loose in its home.
fn transfer_destination(from: &str, asked: Destination) -> Destination {
    match asked {
        Destination::Profile { name } if name != from => Destination::Incoming {
            profile: name,
            from: from.to_owned(),
        },
        other => other,
    }
}

fn sanitise_error(e: crate::sanitise::SanitiseError) -> QuarantineError {
    use crate::sanitise::SanitiseError as E;
    match e {
        E::Store(e) => e.into(),
        e @ (E::NotConvertible { .. }
        | E::Unsafe { .. }
        | E::NotHere { .. }
        | E::TooLarge { .. }) => QuarantineError::NotAllowed(e.to_string()),
        e => QuarantineError::Failed(e.to_string()),
    }
}

fn item_id(id: u64) -> Result<ItemId, QuarantineError> {
    match i64::try_from(id) {
        Ok(n) if n > 0 => Ok(ItemId(n)),
        _ => Err(QuarantineError::NoSuchItem(format!(
            "{id} is not a quarantine item id (see `zionctl quarantine list`)"
        ))),
    }
}

#[interface(name = "org.zionos.Quarantine1")]
impl Quarantine1 {
    /// Every item, oldest first, released and deleted ones included.
    async fn list(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
    ) -> Result<Vec<ItemInfo>, Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let items = self.blocking(|s| s.list()).await.map_err(Guarded::Failed)?;
        Ok(items
            .iter()
            .filter(|i| i.state.kind() != StateKind::Ingesting)
            .map(|i| self.info(i))
            .collect())
    }

    /// One item.
    async fn get(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: u64,
    ) -> Result<ItemInfo, Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let id = item_id(id).map_err(Guarded::Failed)?;
        let item = self
            .blocking(move |s| s.get(id))
            .await
            .map_err(Guarded::Failed)?;
        Ok(self.info(&item))
    }

    /// Releases a clean (or too large) item to `shared` or `profile:NAME`;
    /// returns it released, its `detail` being where the file now is.
    async fn release(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: u64,
        destination: &str,
    ) -> Result<ItemInfo, Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        self.do_release(id, destination, false)
            .await
            .map_err(Guarded::Failed)
    }

    /// Releases an item whatever its verdict: the user's explicit override.
    async fn release_override(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: u64,
        destination: &str,
    ) -> Result<ItemInfo, Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        self.do_release(id, destination, true)
            .await
            .map_err(Guarded::Failed)
    }

    /// Deletes an item and, once no other item needs it, its file.
    async fn delete(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: u64,
    ) -> Result<(), Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let id = item_id(id).map_err(Guarded::Failed)?;
        self.blocking(move |s| s.delete(id))
            .await
            .map_err(Guarded::Failed)?;
        Ok(())
    }

    /// Scans an item again (with the rules as they are now).
    async fn rescan(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: u64,
    ) -> Result<(), Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let id = item_id(id).map_err(Guarded::Failed)?;
        self.blocking(move |s| s.rescan(id))
            .await
            .map_err(Guarded::Failed)?;
        Ok(())
    }

    /// Holds an item (no automatic release) or lets it go.
    async fn hold(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: u64,
        held: bool,
    ) -> Result<(), Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let id = item_id(id).map_err(Guarded::Failed)?;
        self.blocking(move |s| s.hold(id, held))
            .await
            .map_err(Guarded::Failed)?;
        Ok(())
    }

    /// Makes a safe copy of a PDF or image item in a throw-away converter
    /// with no network (see [`crate::sanitise`]): returns the new item's
    /// id, the isolation (`gvisor` or `runc-hardened`) and a summary. The
    /// original stays as it is.
    async fn sanitise(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: u64,
    ) -> Result<(u64, String, String), Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let id = item_id(id).map_err(Guarded::Failed)?;
        let made = self.sanitiser.sanitise(self.store.clone(), id).await;
        match made {
            Ok(copy) => Ok((
                u64::try_from(copy.item.id.0).unwrap_or_default(),
                copy.isolation.word().to_owned(),
                copy.summary(id),
            )),
            Err(e) => {
                tracing::warn!("{e}");
                Err(Guarded::Failed(sanitise_error(e)))
            }
        }
    }

    /// The release audit log: whether its chain is intact (no break ever
    /// found), how many entries it holds, and each break found ("TIME: what").
    async fn audit_status(&self) -> Result<(bool, u64, Vec<String>), QuarantineError> {
        let status = self.blocking(|s| s.audit_status()).await?;
        let breaks = status
            .breaks
            .iter()
            .map(|b| {
                let secs = b
                    .time
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                format!("{secs}: {}", b.problem)
            })
            .collect();
        Ok((
            status.is_intact(),
            status.head.map_or(0, |h| h.entries),
            breaks,
        ))
    }

    /// Every released content a rule matched after its release (issue 17).
    async fn recalls(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
    ) -> Result<Vec<RecallInfo>, Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let recalls = recall::blocking(&self.store, |s| Ok(s.recalls()?))
            .await
            .map_err(Guarded::Failed)?;
        Ok(recalls.iter().map(recall::recall_info).collect())
    }

    /// The recall released item `id` is a copy of (or was moved back into).
    async fn recall(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        id: u64,
    ) -> Result<RecallInfo, Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let id = item_id(id).map_err(Guarded::Failed)?;
        let found = recall::blocking(&self.store, move |s| {
            s.recall_of(id)?
                .ok_or(zion_quarantine::RecallError::NotRecalled(id))
        })
        .await
        .map_err(Guarded::Failed)?;
        Ok(recall::recall_info(&found))
    }

    /// Moves every copy of item `id`'s recalled content that is still that
    /// content back into the quarantine, as one held item; the user's act.
    async fn move_back(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] bus: &zbus::Connection,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        id: u64,
    ) -> Result<RecallInfo, Guarded<QuarantineError>> {
        self.gate.check(bus, &header).await?;
        let id = item_id(id).map_err(Guarded::Failed)?;
        let (moved, _) = recall::blocking(&self.store, move |s| s.move_back(id))
            .await
            .map_err(Guarded::Failed)?;
        let info = recall::recall_info(&moved);
        if let Err(e) = Self::item_recalled(&emitter, info.clone()).await {
            tracing::warn!("could not signal a recall: {e}");
        }
        Ok(info)
    }

    /// A released content was recalled, or its copies moved back.
    #[zbus(signal)]
    pub async fn item_recalled(emitter: &SignalEmitter<'_>, recall: RecallInfo)
        -> zbus::Result<()>;

    /// The release audit log's chain was found broken: what is wrong.
    #[zbus(signal)]
    pub async fn audit_broken(emitter: &SignalEmitter<'_>, problem: &str) -> zbus::Result<()>;

    /// A new item is in the quarantine.
    #[zbus(signal)]
    pub async fn item_added(emitter: &SignalEmitter<'_>, item: ItemInfo) -> zbus::Result<()>;

    /// An item changed (state, verdict or hold).
    #[zbus(signal)]
    pub async fn item_changed(emitter: &SignalEmitter<'_>, item: ItemInfo) -> zbus::Result<()>;
}

/// Serves the interface on `bus` under [`NAME`], and sends a signal for every
/// store event on `events` until that channel closes.
pub async fn serve(
    bus: &zbus::Connection,
    store: Arc<Store>,
    profiles: Vec<String>,
    transfers: Transfers,
    mut events: tokio::sync::mpsc::UnboundedReceiver<StoreEvent>,
    sanitiser: Arc<crate::sanitise::Sanitiser>,
) -> zbus::Result<()> {
    let mut iface = Quarantine1::new(store, profiles, transfers.clone());
    iface.sanitiser = sanitiser;
    bus.object_server().at(PATH, iface).await?;
    bus.request_name(NAME).await?;
    let iface = bus
        .object_server()
        .interface::<_, Quarantine1>(PATH)
        .await?;
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let emitter = iface.signal_emitter();
            let sent = match &event {
                StoreEvent::ItemAdded(item) => {
                    Quarantine1::item_added(emitter, item_info_with_transfers(item, &transfers))
                        .await
                }
                StoreEvent::ItemChanged(item) => {
                    Quarantine1::item_changed(emitter, item_info_with_transfers(item, &transfers))
                        .await
                }
                StoreEvent::AuditBroken(problem) => {
                    Quarantine1::audit_broken(emitter, problem).await
                }
            };
            if let Err(e) = sent {
                tracing::warn!("could not signal a quarantine change: {e}");
            }
        }
    });
    Ok(())
}

//! The client side of `org.zionos.Quarantine1` (zionctl, the panel, tests).

use super::wire::ItemInfo;

/// A proxy for `org.zionos.Quarantine1`.
#[zbus::proxy(
    interface = "org.zionos.Quarantine1",
    default_service = "org.zionos.Quarantine1",
    default_path = "/org/zionos/Quarantine1"
)]
pub trait Quarantine1 {
    /// Every item, oldest first.
    fn list(&self) -> zbus::Result<Vec<ItemInfo>>;
    /// One item.
    fn get(&self, id: u64) -> zbus::Result<ItemInfo>;
    /// Releases a clean item to `shared` or `profile:NAME`.
    fn release(&self, id: u64, destination: &str) -> zbus::Result<ItemInfo>;
    /// Releases whatever the verdict (the user's override).
    fn release_override(&self, id: u64, destination: &str) -> zbus::Result<ItemInfo>;
    /// Deletes an item.
    fn delete(&self, id: u64) -> zbus::Result<()>;
    /// Scans an item again.
    fn rescan(&self, id: u64) -> zbus::Result<()>;
    /// Holds an item or lets it go.
    fn hold(&self, id: u64, held: bool) -> zbus::Result<()>;
    /// The audit log: chain intact, entries, breaks found ("TIME: what").
    fn audit_status(&self) -> zbus::Result<(bool, u64, Vec<String>)>;
    /// The audit log's chain was found broken.
    #[zbus(signal)]
    fn audit_broken(&self, problem: String) -> zbus::Result<()>;
    /// A new item.
    #[zbus(signal)]
    fn item_added(&self, item: ItemInfo) -> zbus::Result<()>;
    /// An item changed.
    #[zbus(signal)]
    fn item_changed(&self, item: ItemInfo) -> zbus::Result<()>;
}

/// What an item signal said.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemEvent {
    /// `ItemAdded`.
    Added(ItemInfo),
    /// `ItemChanged`.
    Changed(ItemInfo),
}

/// `ItemAdded` and `ItemChanged` in the order the daemon sent them.
///
/// Two signal streams merged afterwards may deliver an item's first change
/// before its addition; one subscription to the whole interface keeps the
/// bus's own order. Subscribe before listing, so that nothing is missed.
pub async fn item_events(
    proxy: &Quarantine1Proxy<'_>,
) -> zbus::Result<impl futures_util::Stream<Item = zbus::Result<ItemEvent>> + Unpin + use<>> {
    use futures_util::StreamExt;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(proxy.inner().interface().clone())?
        .path(proxy.inner().path().clone())?
        .build();
    let stream =
        zbus::MessageStream::for_match_rule(rule, proxy.inner().connection(), None).await?;
    Ok(stream.filter_map(|message| std::future::ready(item_event(message))))
}

/// The item event a message carries, if it is one.
fn item_event(message: zbus::Result<zbus::Message>) -> Option<zbus::Result<ItemEvent>> {
    let message = match message {
        Ok(message) => message,
        Err(e) => return Some(Err(e)),
    };
    let header = message.header();
    let item = || message.body().deserialize::<ItemInfo>();
    match header.member()?.as_str() {
        "ItemAdded" => Some(item().map(ItemEvent::Added)),
        "ItemChanged" => Some(item().map(ItemEvent::Changed)),
        _ => None,
    }
}

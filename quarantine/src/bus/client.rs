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

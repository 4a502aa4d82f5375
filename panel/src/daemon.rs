//! The panel's side of `org.zionos.Quarantine1`: one stream that connects,
//! subscribes to `ItemAdded`/`ItemChanged`, lists, then follows the signals
//! (iced runs it as a subscription); the calls; reading an object's first
//! bytes for its MIME type.

use std::path::PathBuf;

use iced::futures::channel::mpsc;
use iced::futures::SinkExt;
use iced::futures::StreamExt;

use zion_bus::quarantine::{item_events, ItemEvent, ItemInfo, Quarantine1Proxy};

use super::mime;
use super::model::{Event, Outcome, Request};

/// What the signal stream says.
// Moved a few times per signal: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Update {
    /// Connected: the connection for calls, and the quarantine as listed.
    Connected(zbus::Connection, Vec<ItemInfo>),
    /// Anything else, for the model.
    Event(Event),
}

/// Which bus to use; a new `attempt` starts a new connection.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct Target {
    /// The bus address, or `None` for the session bus.
    pub address: Option<String>,
    /// How long connecting and listing may take.
    pub answer: std::time::Duration,
    /// Bumped on every retry so that iced restarts the stream.
    pub attempt: u64,
}

/// Connects to `address` (or the session bus).
pub async fn connect(address: Option<&str>) -> Result<zbus::Connection, String> {
    let connection = match address {
        Some(address) => match zbus::connection::Builder::address(address) {
            Ok(builder) => builder.build().await,
            Err(e) => Err(e),
        },
        None => zbus::Connection::session().await,
    };
    connection.map_err(|e| {
        format!(
            "cannot connect to the session bus ({}): {e}",
            address.unwrap_or("$DBUS_SESSION_BUS_ADDRESS")
        )
    })
}

/// A D-Bus error in words: the daemon's own message when it gave one, and
/// what to do when the daemon is simply not there.
pub fn explain(e: zbus::Error) -> String {
    match &e {
        zbus::Error::MethodError(name, _, _)
            if matches!(
                name.as_str(),
                "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.NameHasNoOwner"
            ) =>
        {
            "zion-sandboxd is not running: org.zionos.Quarantine1 is not on the session bus \
             (start it with `systemctl --user start zion-sandboxd` or `zion-sandboxd`)"
                .to_owned()
        }
        zbus::Error::MethodError(_, Some(text), _) => text.clone(),
        _ => e.to_string(),
    }
}

/// The stream iced runs as the panel's subscription for `target`.
pub fn follow(target: &Target) -> impl iced::futures::Stream<Item = Update> + use<> {
    let (address, answer) = (target.address.clone(), target.answer);
    iced::stream::channel(64, async move |mut out: mpsc::Sender<Update>| {
        let failed = match run(address.as_deref(), answer, &mut out).await {
            Ok(()) => "zion-sandboxd left the session bus".to_owned(),
            Err(reason) => reason,
        };
        let _ = out.send(Update::Event(Event::Unavailable(failed))).await;
    })
}

/// Connects, lists and forwards signals until the daemon goes away. A
/// daemon (or bus) that does not answer within `answer` is an error, not an
/// endless "Connecting…": the panel says so and tries again.
async fn run(
    address: Option<&str>,
    answer: std::time::Duration,
    out: &mut mpsc::Sender<Update>,
) -> Result<(), String> {
    let setup = async {
        let connection = connect(address).await?;
        let proxy = Quarantine1Proxy::new(&connection).await.map_err(explain)?;
        // Subscribe before listing, so that nothing that happens in between is missed.
        let items_changed = item_events(&proxy).await.map_err(explain)?;
        let owner = proxy
            .inner()
            .receive_owner_changed()
            .await
            .map_err(explain)?;
        let recalled = proxy.receive_item_recalled().await.map_err(explain)?;
        let items = proxy.list().await.map_err(explain)?;
        Ok::<_, String>((connection, proxy, items_changed, owner, recalled, items))
    };
    let (connection, proxy, items_changed, owner, recalled, items) =
        match tokio::time::timeout(answer, setup).await {
            Ok(ready) => ready?,
            Err(_) => {
                return Err(format!(
                    "zion-sandboxd did not answer within {} s",
                    answer.as_secs_f32()
                ))
            }
        };
    if out
        .send(Update::Connected(connection.clone(), items))
        .await
        .is_err()
    {
        return Ok(());
    }
    // A daemon from before recalls has none to tell.
    for recall in proxy.recalls().await.unwrap_or_default() {
        let event = Event::Recalled(Box::new(recall));
        if out.send(Update::Event(event)).await.is_err() {
            return Ok(());
        }
    }

    enum Signal {
        Item(Box<zbus::Result<ItemEvent>>),
        Owner(bool),
        Recalled(Box<zion_bus::recall::RecallInfo>),
    }
    let items_changed = items_changed.map(|event| Signal::Item(Box::new(event)));
    let owner = owner.map(|o| Signal::Owner(o.is_some()));
    let recalled = recalled.filter_map(|signal| async move {
        signal
            .args()
            .ok()
            .map(|args| Signal::Recalled(Box::new(args.recall)))
    });
    let mut all = iced::futures::stream::select(
        iced::futures::stream::select(items_changed, owner),
        Box::pin(recalled),
    );
    // A burst of signals (a folder of 5,000 files arriving, scanned, released)
    // becomes one message per COALESCE: one redraw, not one per signal.
    let mut burst = Burst::default();
    loop {
        let next = match burst.deadline {
            None => all.next().await,
            Some(deadline) => match tokio::time::timeout_at(deadline, all.next()).await {
                Ok(next) => next,
                Err(_) => {
                    if !burst.flush(out).await {
                        return Ok(());
                    }
                    continue;
                }
            },
        };
        let Some(signal) = next else {
            break;
        };
        match signal {
            Signal::Item(event) => match *event {
                Ok(ItemEvent::Added(item) | ItemEvent::Changed(item)) => {
                    burst.push(item);
                    if burst.items.len() >= MAX_BURST && !burst.flush(out).await {
                        return Ok(());
                    }
                }
                Err(e) => tracing::warn!("a malformed Quarantine1 signal: {e}"),
            },
            Signal::Recalled(recall) => {
                // After the items it is about.
                if !burst.flush(out).await
                    || out
                        .send(Update::Event(Event::Recalled(recall)))
                        .await
                        .is_err()
                {
                    return Ok(());
                }
            }
            Signal::Owner(false) => break,
            // A new daemon took the name: its items replace what we had.
            Signal::Owner(true) => {
                burst.items.clear();
                burst.deadline = None;
                let items = proxy.list().await.map_err(explain)?;
                if out.send(Update::Event(Event::Listed(items))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    burst.flush(out).await;
    Ok(())
}

/// How long signals gather before the panel hears of them: well under what
/// a person notices, long enough that a burst redraws a few times a second.
const COALESCE: std::time::Duration = std::time::Duration::from_millis(100);

/// The most items one message carries.
const MAX_BURST: usize = 4096;

/// Signals gathered since the first one not yet sent.
#[derive(Default)]
struct Burst {
    items: Vec<ItemInfo>,
    deadline: Option<tokio::time::Instant>,
}

impl Burst {
    fn push(&mut self, item: ItemInfo) {
        if self.deadline.is_none() {
            self.deadline = Some(tokio::time::Instant::now() + COALESCE);
        }
        self.items.push(item);
    }

    /// Sends what gathered (oldest first); false once the panel is gone.
    async fn flush(&mut self, out: &mut mpsc::Sender<Update>) -> bool {
        self.deadline = None;
        if self.items.is_empty() {
            return true;
        }
        let items = std::mem::take(&mut self.items);
        out.send(Update::Event(Event::Updated(items))).await.is_ok()
    }
}

/// How many calls of a bulk action are in flight at once: enough to keep
/// the daemon busy, few enough not to queue thousands of blocking jobs in it.
const IN_FLIGHT: usize = 8;

/// Makes `requests` on `connection`, [`IN_FLIGHT`] at a time; each answer
/// as it comes.
pub fn call_many(
    connection: zbus::Connection,
    requests: Vec<Request>,
) -> impl iced::futures::Stream<Item = (Request, Result<Outcome, String>)> {
    iced::futures::stream::iter(requests)
        .map(move |request| {
            let connection = connection.clone();
            async move {
                let result = call(connection, request.clone()).await;
                (request, result)
            }
        })
        .buffer_unordered(IN_FLIGHT)
}

/// Makes `request` on `connection`.
pub async fn call(connection: zbus::Connection, request: Request) -> Result<Outcome, String> {
    let proxy = Quarantine1Proxy::new(&connection).await.map_err(explain)?;
    let outcome = match request {
        Request::Release { id, destination } => proxy
            .release(id, &destination)
            .await
            .map(|item| Outcome::Released(Box::new(item))),
        Request::ReleaseOverride { id, destination } => proxy
            .release_override(id, &destination)
            .await
            .map(|item| Outcome::Released(Box::new(item))),
        Request::Delete { id } => proxy.delete(id).await.map(|()| Outcome::Deleted(id)),
        Request::Rescan { id } => proxy.rescan(id).await.map(|()| Outcome::Rescanning(id)),
        Request::MoveBack { id } => proxy
            .move_back(id)
            .await
            .map(|recall| Outcome::MovedBack(Box::new(recall))),
        Request::Sanitise { id } => proxy
            .sanitise(id)
            .await
            .map(|(_, _, summary)| Outcome::Sanitised(summary)),
        Request::Hold { id, held } => proxy.hold(id, held).await.map(|()| Outcome::Held(id, held)),
    };
    outcome.map_err(explain)
}

/// The MIME type of the object `sha256` in `objects`, or why it is unknown.
pub async fn sniff(objects: Option<PathBuf>, sha256: String) -> Event {
    let mime = match objects {
        None => "unknown (no quarantine folder: set XDG_DATA_HOME or HOME)".to_owned(),
        // The hash comes from the bus: only a plain hex name is a path under objects/.
        Some(_) if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) => {
            "unknown (not a SHA-256)".to_owned()
        }
        Some(dir) => {
            let path = dir.join(&sha256);
            let read = tokio::task::spawn_blocking(move || read_head(&path)).await;
            match read {
                Ok(Ok(head)) => mime::guess(&head).to_owned(),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    "unknown (the file has left the quarantine)".to_owned()
                }
                Ok(Err(e)) => format!("unknown ({e})"),
                Err(e) => format!("unknown ({e})"),
            }
        }
    };
    Event::Mime { sha256, mime }
}

fn read_head(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut head = Vec::with_capacity(mime::HEAD);
    file.take(mime::HEAD as u64).read_to_end(&mut head)?;
    Ok(head)
}

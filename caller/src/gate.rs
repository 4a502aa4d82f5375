//! The check every Zion method runs first: ask the bus who called
//! (`GetConnectionCredentials`), look at that process, and refuse with
//! `org.freedesktop.DBus.Error.AccessDenied` — logged — unless it is the
//! session user's own, outside every container.

use std::fmt;
use std::os::fd::AsFd;

use tracing::{debug, error, warn};
use zbus::fdo;
use zbus::message::{Header, Message};
use zbus::names::{BusName, ErrorName};
use zbus::DBusError;

use crate::identity::{judge, Host, Observed, Refusal};
use crate::process;

/// Who may call: built once per service from its own identity.
#[derive(Debug, Clone)]
pub struct Gate {
    host: Result<Host, String>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Gate {
    /// A gate for this process: callers must be what it is. When it cannot
    /// read its own identity every call is refused (and that is logged now).
    pub fn new() -> Gate {
        let host = process::host();
        if let Err(e) = &host {
            error!(
                "cannot read this process's own identity, so every D-Bus call will be refused: {e}"
            );
        }
        Gate { host }
    }

    /// Lets the call in `header` through, or says why not (and logs it).
    pub async fn check(&self, bus: &zbus::Connection, header: &Header<'_>) -> Result<(), Refused> {
        let call = describe(header);
        let Some(sender) = header.sender() else {
            return Err(refuse(&call, "(no sender)", Refusal::NoUser));
        };
        let sender = sender.as_str();
        let host = match &self.host {
            Ok(host) => host,
            Err(e) => return Err(refuse(&call, sender, Refusal::HostUnknown(e.clone()))),
        };
        let seen = match observe(bus, sender).await {
            Ok(seen) => seen,
            Err(refusal) => return Err(refuse(&call, sender, refusal)),
        };
        match judge(host, &seen) {
            Ok(()) => {
                debug!("{call} from {sender} allowed");
                Ok(())
            }
            Err(refusal) => Err(refuse(&call, sender, refusal)),
        }
    }
}

/// What the bus and the kernel say about the connection `sender`.
async fn observe(bus: &zbus::Connection, sender: &str) -> Result<Observed, Refusal> {
    let name = BusName::try_from(sender).map_err(|e| Refusal::NoCredentials(e.to_string()))?;
    let proxy = fdo::DBusProxy::builder(bus)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| Refusal::NoCredentials(e.to_string()))?;
    let creds = proxy
        .get_connection_credentials(name)
        .await
        .map_err(|e| Refusal::NoCredentials(e.to_string()))?;
    let pidfd = creds.process_fd().map(|fd| fd.as_fd());
    Ok(Observed {
        uid: creds.unix_user_id(),
        process: process::inspect(creds.process_id(), pidfd),
    })
}

fn describe(header: &Header<'_>) -> String {
    let iface = header.interface().map_or("?", |i| i.as_str());
    let member = header.member().map_or("?", |m| m.as_str());
    format!("{iface}.{member}")
}

fn refuse(call: &str, sender: &str, refusal: Refusal) -> Refused {
    warn!("refused {call} from {sender}: {refusal}");
    Refused(fdo::Error::AccessDenied(format!(
        "{call} refused: {refusal}"
    )))
}

/// A refused call: `org.freedesktop.DBus.Error.AccessDenied` with the
/// reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused(fdo::Error);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Refused {}

impl From<Refused> for fdo::Error {
    fn from(r: Refused) -> fdo::Error {
        r.0
    }
}

/// A method's error that may also be a refusal: for interfaces whose own
/// errors have their own prefix (`org.zionos.*.Error`), which cannot name
/// `org.freedesktop.DBus.Error.AccessDenied`.
#[derive(Debug)]
pub enum Guarded<E> {
    /// Refused by the [`Gate`].
    Refused(Refused),
    /// The method's own failure.
    Failed(E),
}

impl<E> From<Refused> for Guarded<E> {
    fn from(r: Refused) -> Self {
        Guarded::Refused(r)
    }
}

impl<E: DBusError> DBusError for Guarded<E> {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<Message> {
        match self {
            Guarded::Refused(r) => r.0.create_reply(call),
            Guarded::Failed(e) => e.create_reply(call),
        }
    }

    fn name(&self) -> ErrorName<'_> {
        match self {
            Guarded::Refused(r) => r.0.name(),
            Guarded::Failed(e) => e.name(),
        }
    }

    fn description(&self) -> Option<&str> {
        match self {
            Guarded::Refused(r) => r.0.description(),
            Guarded::Failed(e) => e.description(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Guarded<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Guarded::Refused(r) => r.fmt(f),
            Guarded::Failed(e) => e.fmt(f),
        }
    }
}

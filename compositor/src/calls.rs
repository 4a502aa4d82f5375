//! What the compositor asks of the session daemon: Super+Return runs the
//! active profile's terminal (`org.zionos.Profiles1.Run`), Super+B opens a
//! disposable browser in it (`org.zionos.Sandbox1.OpenBrowser`). The calls
//! go out from the bus thread; a failure comes back as a notice that says
//! what to do, most often that zion-sandboxd is not running.

use zbus::names::BusName;

/// A call to the session daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Run `argv` in `profile`'s session.
    Run {
        /// The profile.
        profile: String,
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// Open a disposable browser in `profile`.
    OpenBrowser {
        /// The profile.
        profile: String,
    },
}

impl Call {
    /// (bus name, object path, interface, method).
    fn target(&self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Call::Run { .. } => (
                "org.zionos.Profiles1",
                "/org/zionos/Profiles1",
                "org.zionos.Profiles1",
                "Run",
            ),
            Call::OpenBrowser { .. } => (
                "org.zionos.Sandbox1",
                "/org/zionos/Sandbox1",
                "org.zionos.Sandbox1",
                "OpenBrowser",
            ),
        }
    }

    /// What the user asked for, in words.
    pub fn describe(&self) -> String {
        match self {
            Call::Run { profile, argv } => format!(
                "starting {} in {profile}",
                argv.first().map_or("the terminal", String::as_str)
            ),
            Call::OpenBrowser { profile } => format!("opening a disposable browser in {profile}"),
        }
    }
}

/// Makes `call` on `bus`; the error is a sentence for the user.
pub async fn perform(bus: &zbus::Connection, call: &Call) -> Result<(), String> {
    let (name, path, iface, method) = call.target();
    let dest = BusName::try_from(name).map_err(|e| e.to_string())?;
    let sent = match call {
        Call::Run { profile, argv } => {
            bus.call_method(Some(dest), path, Some(iface), method, &(profile, argv))
                .await
        }
        Call::OpenBrowser { profile } => {
            bus.call_method(Some(dest), path, Some(iface), method, &(profile, ""))
                .await
        }
    };
    sent.map(|_| ()).map_err(|e| explain(call, name, &e))
}

/// The user's sentence for a failed call.
pub fn explain(call: &Call, name: &str, err: &zbus::Error) -> String {
    let what = call.describe();
    match err {
        zbus::Error::MethodError(error, detail, _)
            if error.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown"
                || error.as_str() == "org.freedesktop.DBus.Error.NameHasNoOwner" =>
        {
            let _ = detail;
            format!(
                "{what} failed: zion-sandboxd is not running (nothing owns {name} on the session bus); start it (zion-session does) and try again"
            )
        }
        zbus::Error::MethodError(error, detail, _) => format!(
            "{what} failed: {} ({error})",
            detail.as_deref().unwrap_or("no reason given")
        ),
        other => format!("{what} failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_say_what_the_user_asked_for() {
        let run = Call::Run {
            profile: "work".into(),
            argv: vec!["foot".into()],
        };
        assert_eq!(run.describe(), "starting foot in work");
        let browser = Call::OpenBrowser {
            profile: "personal".into(),
        };
        assert_eq!(
            browser.describe(),
            "opening a disposable browser in personal"
        );
        assert_eq!(browser.target().3, "OpenBrowser");
        assert_eq!(run.target().0, "org.zionos.Profiles1");
    }
}

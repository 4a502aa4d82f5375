//! What the compositor asks of the session daemon: Super+Return runs the
//! active profile's terminal (`org.zionos.Profiles1.Run`), Super+B opens a
//! disposable browser in it (`org.zionos.Sandbox1.OpenBrowser`). The calls
//! go out from the bus thread; a failure comes back as a notice that says
//! what to do, most often that zion-sandboxd is not running.

use zion_bus::{Profiles1Proxy, Sandbox1Proxy};

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
    /// The bus name of the service that answers the call.
    fn service(&self) -> &'static str {
        match self {
            Call::Run { .. } => zion_bus::profiles::NAME,
            Call::OpenBrowser { .. } => zion_bus::sandbox::NAME,
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
    let sent = match call {
        Call::Run { profile, argv } => match Profiles1Proxy::new(bus).await {
            Ok(proxy) => proxy.run(profile, argv.clone()).await,
            Err(e) => Err(e),
        },
        Call::OpenBrowser { profile } => match Sandbox1Proxy::new(bus).await {
            Ok(proxy) => proxy.open_browser(profile, "").await.map(|_| ()),
            Err(e) => Err(e),
        },
    };
    sent.map_err(|e| explain(call, call.service(), &e))
}

/// The user's sentence for a failed call.
pub fn explain(call: &Call, name: &str, err: &zbus::Error) -> String {
    let what = call.describe();
    match err {
        _ if zion_bus::is_not_running(err) => format!(
            "{what} failed: zion-sandboxd is not running (nothing owns {name} on the session bus); start it (zion-session does) and try again"
        ),
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
        assert_eq!(browser.service(), "org.zionos.Sandbox1");
        assert_eq!(run.service(), "org.zionos.Profiles1");
    }
}

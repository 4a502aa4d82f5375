//! `zionctl switch PROFILE`: shows a profile's desktop, through the
//! compositor's `org.zionos.Compositor1`.

use std::process::ExitCode;

use crate::bus;

const NAME: &str = "org.zionos.Compositor1";
const PATH: &str = "/org/zionos/Compositor1";

/// Runs `zionctl switch PROFILE`.
pub fn run(profile: &str) -> ExitCode {
    bus::run(call(profile))
}

async fn call(profile: &str) -> Result<(), String> {
    let bus = bus::session().await?;
    bus.call_method(Some(NAME), PATH, Some(NAME), "SwitchTo", &(profile,))
        .await
        .map_err(explain)?;
    Ok(())
}

/// Like `bus::explain`, but a missing service is the compositor.
fn explain(e: zbus::Error) -> String {
    match &e {
        zbus::Error::MethodError(name, _, _)
            if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown"
                || name.as_str() == "org.freedesktop.DBus.Error.NameHasNoOwner" =>
        {
            format!(
                "no compositor is on this session bus ({NAME} has no owner): \
                 start zion-compositor in this session, or check DBUS_SESSION_BUS_ADDRESS"
            )
        }
        _ => bus::explain(e),
    }
}

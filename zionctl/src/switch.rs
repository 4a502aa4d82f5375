//! `zionctl switch PROFILE`: shows a profile's desktop, through the
//! compositor's `org.zionos.Compositor1`.

use std::process::ExitCode;

use zion_bus::compositor::NAME;
use zion_bus::Compositor1Proxy;

use crate::bus;

/// Runs `zionctl switch PROFILE`.
pub fn run(profile: &str) -> ExitCode {
    bus::run(call(profile))
}

async fn call(profile: &str) -> Result<(), String> {
    let bus = bus::session().await?;
    let proxy = Compositor1Proxy::new(&bus).await.map_err(explain)?;
    proxy.switch_to(profile).await.map_err(explain)?;
    Ok(())
}

/// Like `bus::explain`, but a missing service is the compositor.
pub fn explain(e: zbus::Error) -> String {
    if zion_bus::is_not_running(&e) {
        format!(
            "no compositor is on this session bus ({NAME} has no owner): \
             start zion-compositor in this session, or check DBUS_SESSION_BUS_ADDRESS"
        )
    } else {
        bus::explain(e)
    }
}

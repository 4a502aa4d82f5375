//! What every `zionctl` command that talks to the daemon shares: running it,
//! reaching the session bus, and turning D-Bus errors into sentences.

use std::future::Future;
use std::process::ExitCode;

/// Runs a command's future to completion and reports its error, if any.
pub fn run(call: impl Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("zionctl: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(call) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("zionctl: {err}");
            ExitCode::FAILURE
        }
    }
}

/// A connection to the session bus.
pub async fn session() -> Result<zbus::Connection, String> {
    zbus::Connection::session()
        .await
        .map_err(|e| format!("cannot reach the session bus: {e}"))
}

/// A D-Bus error as a user should read it.
pub fn explain(e: zbus::Error) -> String {
    match &e {
        zbus::Error::MethodError(name, _, _)
            if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown" =>
        {
            "zion-sandboxd is not running on this session bus (start it, or `make run`)".to_owned()
        }
        zbus::Error::MethodError(_, Some(detail), _) => detail.clone(),
        _ => e.to_string(),
    }
}

//! `zionctl sandbox`: disposable browsers through `org.zionos.Sandbox1`.

use std::process::ExitCode;

use clap::Subcommand;
use zion_bus::Sandbox1Proxy;

use crate::bus::{self, explain};

/// What `zionctl sandbox` does.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Opens a browser in a new disposable sandbox of PROFILE; prints its id.
    /// Its downloads go to the quarantine; everything else it writes is gone
    /// when it closes.
    Open {
        /// The profile, as in `zionctl profiles list`.
        profile: String,
        /// The page to open [default: the browser's start page].
        url: Option<String>,
    },
    /// Lists the open sandboxes: id, profile, state.
    List {
        /// Prints JSON: a list of {id, profile, state}.
        #[arg(long)]
        json: bool,
    },
    /// Closes a sandbox: its browser ends and its container is removed.
    Close {
        /// The id `open` printed, as in `zionctl sandbox list`.
        id: String,
    },
}

/// Runs a `zionctl sandbox` command.
pub fn run(command: SandboxCommand) -> ExitCode {
    bus::run(call(command))
}

async fn call(command: SandboxCommand) -> Result<(), String> {
    let bus = bus::session().await?;
    let proxy = Sandbox1Proxy::new(&bus).await.map_err(|e| e.to_string())?;
    match command {
        SandboxCommand::Open { profile, url } => {
            let id = proxy
                .open_browser(&profile, url.as_deref().unwrap_or(""))
                .await
                .map_err(explain)?;
            println!("{id}");
        }
        SandboxCommand::List { json } => {
            let list = proxy.list().await.map_err(explain)?;
            if json {
                let list: Vec<serde_json::Value> = list
                    .into_iter()
                    .map(|(id, profile, state)| {
                        serde_json::json!({"id": id, "profile": profile, "state": state})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else if list.is_empty() {
                println!("no sandbox is open");
            } else {
                println!("{:<6} {:<16} STATE", "ID", "PROFILE");
                for (id, profile, state) in list {
                    println!("{id:<6} {profile:<16} {state}");
                }
            }
        }
        SandboxCommand::Close { id } => proxy.close(&id).await.map_err(explain)?,
    }
    Ok(())
}

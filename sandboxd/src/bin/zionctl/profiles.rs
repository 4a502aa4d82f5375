//! `zionctl profiles`: the session's profiles through `org.zionos.Profiles1`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::bus::{self, explain};

#[zbus::proxy(
    interface = "org.zionos.Profiles1",
    default_service = "org.zionos.Profiles1",
    default_path = "/org/zionos/Profiles1"
)]
trait Profiles1 {
    fn list(&self) -> zbus::Result<Vec<(String, String, String, String)>>;
    fn status(&self, name: &str) -> zbus::Result<String>;
    fn start(&self, name: &str) -> zbus::Result<()>;
    fn stop(&self, name: &str) -> zbus::Result<()>;
    fn hibernate(&self, name: &str) -> zbus::Result<()>;
    fn resume(&self, name: &str) -> zbus::Result<()>;
    fn run(&self, name: &str, argv: Vec<String>) -> zbus::Result<()>;
}

/// What `zionctl profiles` does.
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Lists the profiles and their state.
    List,
    /// Shows one profile's state.
    Status { name: String },
    /// Starts a profile.
    Start { name: String },
    /// Stops a profile (its files are kept).
    Stop { name: String },
    /// Freezes a profile.
    Hibernate { name: String },
    /// Thaws a profile.
    Resume { name: String },
    /// Runs a program in a profile's session, detached.
    Run {
        name: String,
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<String>,
    },
}

/// Runs a `zionctl profiles` command.
pub fn run(command: ProfilesCommand) -> ExitCode {
    bus::run(call(command))
}

async fn call(command: ProfilesCommand) -> Result<(), String> {
    let bus = bus::session().await?;
    let proxy = Profiles1Proxy::new(&bus).await.map_err(|e| e.to_string())?;
    match command {
        ProfilesCommand::List => {
            for (name, label, colour, state) in proxy.list().await.map_err(explain)? {
                println!("{name:<12} {label:<16} {colour}  {state}");
            }
        }
        ProfilesCommand::Status { name } => {
            println!("{name}: {}", proxy.status(&name).await.map_err(explain)?)
        }
        ProfilesCommand::Start { name } => proxy.start(&name).await.map_err(explain)?,
        ProfilesCommand::Stop { name } => proxy.stop(&name).await.map_err(explain)?,
        ProfilesCommand::Hibernate { name } => proxy.hibernate(&name).await.map_err(explain)?,
        ProfilesCommand::Resume { name } => proxy.resume(&name).await.map_err(explain)?,
        ProfilesCommand::Run { name, argv } => proxy.run(&name, argv).await.map_err(explain)?,
    }
    Ok(())
}

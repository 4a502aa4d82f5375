//! `zionctl profiles`: the session's profiles through `org.zionos.Profiles1`.

use std::process::ExitCode;

use clap::Subcommand;

use zion_bus::{CapabilityStatus, ProfileStatus, Profiles1Proxy};

use crate::bus::{self, explain};

/// What `zionctl profiles` does.
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Lists the profiles and their state.
    List {
        /// Prints JSON: a list of {name, label, colour, state}.
        #[arg(long)]
        json: bool,
    },
    /// Shows one profile's state, CPU and memory use, and since when it is
    /// frozen.
    Status {
        name: String,
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
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
        ProfilesCommand::List { json } => {
            let list = proxy.list().await.map_err(explain)?;
            if json {
                let list: Vec<serde_json::Value> = list
                    .into_iter()
                    .map(|(name, label, colour, state)| {
                        serde_json::json!({"name": name, "label": label, "colour": colour, "state": state})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for (name, label, colour, state) in list {
                    println!("{name:<12} {label:<16} {colour}  {state}");
                }
                for line in unavailable(&proxy).await {
                    println!("{line}");
                }
            }
        }
        ProfilesCommand::Status { name, json } => {
            let status = proxy.status(&name).await.map_err(explain)?;
            // Asked of daemons since issue 19; an older one has no such
            // method and nothing to add.
            let warnings = proxy.warnings(&name).await.unwrap_or_default();
            let unavailable = unavailable(&proxy).await;
            if json {
                let mut value = serde_json::to_value(&status).map_err(|e| e.to_string())?;
                value["warnings"] = serde_json::json!(warnings);
                value["unavailable"] = serde_json::json!(unavailable);
                println!("{value}");
            } else {
                print!("{}", show_status(&status, &warnings, &unavailable, now()));
            }
        }
        ProfilesCommand::Start { name } => proxy.start(&name).await.map_err(explain)?,
        ProfilesCommand::Stop { name } => proxy.stop(&name).await.map_err(explain)?,
        ProfilesCommand::Hibernate { name } => proxy.hibernate(&name).await.map_err(explain)?,
        ProfilesCommand::Resume { name } => proxy.resume(&name).await.map_err(explain)?,
        ProfilesCommand::Run { name, argv } => proxy.run(&name, argv).await.map_err(explain)?,
    }
    Ok(())
}

/// `"<name> unavailable: <reason>"` for each capability the machine lacks
/// (none from a daemon older than `Capabilities`).
async fn unavailable(proxy: &Profiles1Proxy<'_>) -> Vec<String> {
    proxy
        .capabilities()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(CapabilityStatus::unavailable_line)
        .collect()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `NAME: STATE`, then one line per known value, then what Podman warned
/// about its containers and what the machine lacks.
fn show_status(s: &ProfileStatus, warnings: &[String], unavailable: &[String], now: u64) -> String {
    let mut out = format!("{}: {}\n", s.name, s.state);
    if !s.reason.is_empty() {
        out.push_str(&format!("  {:<13} {}\n", "why", s.reason));
    }
    if s.started_at > 0 {
        out.push_str(&format!(
            "  {:<13} {} ago\n",
            "started",
            ago(now.saturating_sub(s.started_at))
        ));
    }
    if s.frozen_since > 0 {
        out.push_str(&format!(
            "  {:<13} {} ago\n",
            "frozen since",
            ago(now.saturating_sub(s.frozen_since))
        ));
    }
    if s.cpu_time_ns > 0 || s.cpu_percent > 0.0 {
        out.push_str(&format!(
            "  {:<13} {:.1}% ({:.2} s in all)\n",
            "cpu",
            s.cpu_percent,
            s.cpu_time_ns as f64 / 1e9
        ));
    }
    if s.memory_bytes > 0 {
        let limit = if s.memory_limit > 0 && s.memory_limit < u64::MAX / 2 {
            format!(" of {}", mib(s.memory_limit))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {:<13} {}{limit}\n",
            "memory",
            mib(s.memory_bytes)
        ));
    }
    for warning in warnings {
        out.push_str(&format!("  {:<13} Podman: {warning}\n", "warning"));
    }
    for line in unavailable {
        out.push_str(&format!("  {:<13} {line}\n", "note"));
    }
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

fn ago(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_state_first_then_what_is_known() {
        let s = ProfileStatus {
            name: "work".into(),
            state: "hibernated".into(),
            reason: String::new(),
            cpu_percent: 0.5,
            cpu_time_ns: 1_500_000_000,
            memory_bytes: 3 << 20,
            memory_limit: 256 << 20,
            frozen_since: 990,
            started_at: 900,
        };
        let text = show_status(&s, &[], &[], 1000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "work: hibernated");
        assert!(text.contains("started       1m40s ago"), "{text}");
        assert!(text.contains("frozen since  10s ago"), "{text}");
        assert!(
            text.contains("cpu           0.5% (1.50 s in all)"),
            "{text}"
        );
        assert!(
            text.contains("memory        3.0 MiB of 256.0 MiB"),
            "{text}"
        );
        assert!(
            !text.contains("warning") && !text.contains("note"),
            "{text}"
        );
    }

    #[test]
    fn status_shows_podmans_warnings_and_what_the_machine_lacks() {
        let s = ProfileStatus {
            name: "work".into(),
            state: "running".into(),
            reason: String::new(),
            cpu_percent: 0.0,
            cpu_time_ns: 0,
            memory_bytes: 0,
            memory_limit: 0,
            frozen_since: 0,
            started_at: 0,
        };
        let caps = [
            CapabilityStatus {
                name: "freezing".into(),
                available: false,
                reason: "rootless Podman cannot manage cgroups on a cgroup v1 machine".into(),
            },
            CapabilityStatus {
                name: "CPU weights".into(),
                available: true,
                reason: String::new(),
            },
        ];
        let unavailable: Vec<String> = caps
            .iter()
            .filter_map(CapabilityStatus::unavailable_line)
            .collect();
        let warnings = [
            "Resource limits are not supported and ignored on cgroups V1 rootless systems".into(),
        ];
        let text = show_status(&s, &warnings, &unavailable, 1000);
        assert_eq!(
            text,
            "work: running\n\
             \x20 warning       Podman: Resource limits are not supported and ignored on cgroups V1 rootless systems\n\
             \x20 note          freezing unavailable: rootless Podman cannot manage cgroups on a cgroup v1 machine\n"
        );
    }
}

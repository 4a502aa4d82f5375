//! `zion-scan-worker`: scans objects for the quarantine inside its own empty
//! network and mount namespaces, rlimits, Landlock and a seccomp allow-list.
//! Started by the quarantine's `Scanner`, one set per source; its stdin is the
//! channel to the parent (a socket). Not meant to be run by hand.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use zion_scanner::archive::ArchiveLimits;
use zion_scanner::worker::{serve, WorkerOptions};
use zion_scanner::{Engine, Limits};

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = parse(std::env::args_os().skip(1))?;
    // SAFETY: fd 0 is the channel the parent set up as stdin; nothing else in
    // this process owns it.
    let channel = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(0) };
    serve(&options, channel).context("scan worker")
}

fn parse(mut args: impl Iterator<Item = std::ffi::OsString>) -> Result<WorkerOptions> {
    let mut rules_file = None;
    let mut engine = Engine::default();
    let mut limits = Limits {
        cpu_seconds_per_scan: 20,
        cpu_seconds_lifetime: 320,
        address_space: 4 << 30,
        open_files: 16,
    };
    let mut timeout: i32 = 30;
    let mut archive = ArchiveLimits::default();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{} needs a value", flag.to_string_lossy()))?;
        let number = || -> Result<u64> {
            value
                .to_str()
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{} must be a number", flag.to_string_lossy()))
        };
        match flag.to_str() {
            Some("--rules") => rules_file = Some(PathBuf::from(&value)),
            Some("--engine") => {
                engine = value
                    .to_str()
                    .unwrap_or_default()
                    .parse()
                    .map_err(anyhow::Error::msg)?
            }
            Some("--cpu-limit") => limits.cpu_seconds_per_scan = number()?,
            Some("--cpu-lifetime") => limits.cpu_seconds_lifetime = number()?,
            Some("--mem-limit") => limits.address_space = number()?,
            Some("--nofile") => limits.open_files = number()?,
            Some("--timeout") => timeout = i32::try_from(number()?).unwrap_or(i32::MAX),
            Some("--archive-depth") => {
                archive.max_depth = u32::try_from(number()?).unwrap_or(u32::MAX)
            }
            Some("--archive-members") => archive.max_members = number()?,
            Some("--archive-unpacked") => archive.max_unpacked = number()?,
            Some("--archive-ratio") => archive.max_ratio = number()?,
            Some("--archive-ratio-floor") => archive.ratio_floor = number()?,
            _ => bail!("unknown argument {}", flag.to_string_lossy()),
        }
    }
    Ok(WorkerOptions {
        rules_file: rules_file.context("--rules FILE is required")?,
        engine,
        limits,
        scan_timeout_secs: timeout,
        archive,
    })
}

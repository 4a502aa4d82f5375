//! The quarantine in the daemon: the store under `$XDG_DATA_HOME/zion`, the
//! inbox watcher, the scan pipeline with its policy, `org.zionos.Quarantine1`
//! on the session bus and a desktop notification for every verdict.
//!
//! - [`wire`]: the store's items written as `zion_bus::quarantine`'s wire types.
//! - [`dbus`]: the `org.zionos.Quarantine1` interface and its errors.
//! - [`service`]: the pipeline (watcher → store → scanner → policy → release).
//! - [`notify`]: `org.freedesktop.Notifications`, best effort.
//! - [`scanning`]: the YARA scanner in its confined worker, and rule reloads.
//! - [`recall`]: released files hunted again when the rules change, recalled on a match.

pub mod dbus;
pub mod notify;
pub mod recall;
pub mod scanning;
pub mod service;
pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use zion_config::Config;
use zion_quarantine::{transfer, InboxWatcher, Policy, Store, WatcherConfig};
use zion_storage::{AuditLog, Layout};

use crate::SessionPaths;

pub use dbus::{Quarantine1, QuarantineError};
pub use zion_bus::quarantine::{ItemInfo, MatchInfo};

/// The daemon's quarantine options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct QuarantineArgs {
    /// The scan worker program [default: zion-scan-worker beside zion-sandboxd].
    #[arg(long, env = "ZION_SCAN_WORKER")]
    pub scan_worker: Option<PathBuf>,
    /// The default YARA rule folder [default: the installed session-files rules].
    #[arg(long, env = "ZION_RULES")]
    pub rules: Option<PathBuf>,
    /// The sanitiser's converter image [default: localhost/zion-sanitiser
    /// tagged with its recipe's hash, as `zionctl image build --sanitiser`
    /// builds it].
    #[arg(long, env = "ZION_SANITISER_IMAGE")]
    pub sanitiser_image: Option<String>,
    /// The OCI runtime the converter is tried under first [default:
    /// zion-gvisor]; Podman's default (runc, hardened) when Podman has none
    /// of that name.
    #[arg(long, env = "ZION_SANITISE_RUNTIME")]
    pub sanitise_runtime: Option<String>,
    /// The sanitiser Podman: a Podman API service whose runtime is gVisor
    /// (`podman --runtime zion-gvisor system service unix://…`), tried
    /// first; without it the converter runs under the session's Podman
    /// [default: $XDG_RUNTIME_DIR/zion/podman-gvisor.sock].
    #[arg(long, env = "ZION_SANITISE_PODMAN")]
    pub sanitise_podman: Option<String>,
    /// Seconds one conversion may take [default: 120].
    #[arg(long, env = "ZION_SANITISE_TIMEOUT")]
    pub sanitise_timeout: Option<u64>,
}

impl QuarantineArgs {
    /// The sanitiser's settings these options give.
    pub fn sanitise_settings(&self, config: &Config) -> crate::sanitise::Settings {
        let mut settings = crate::sanitise::Settings {
            podman: zion_profiles::Timeouts::from(&config.podman),
            ..Default::default()
        };
        if let Some(image) = &self.sanitiser_image {
            settings.image.clone_from(image);
        }
        if let Some(runtime) = &self.sanitise_runtime {
            settings.runtime.clone_from(runtime);
        }
        // The session's sanitiser Podman (zion-sanitiser-podman.service).
        settings.gvisor_podman = self.sanitise_podman.clone().or_else(|| {
            let runtime = std::env::var_os("XDG_RUNTIME_DIR")?;
            let socket = PathBuf::from(runtime).join("zion/podman-gvisor.sock");
            Some(format!("unix://{}", socket.display()))
        });
        if let Some(secs) = self.sanitise_timeout {
            settings.timeout = std::time::Duration::from_secs(secs);
        }
        settings
    }
}

/// The running quarantine; dropping it stops the inbox watcher.
pub struct Quarantine {
    /// The store.
    pub store: Arc<Store>,
    _watcher: InboxWatcher,
    _rules: Option<zion_scanner::RuleWatcher>,
}

/// The `[quarantine]` settings (read with zion.toml); transfer rules may
/// name only its profiles.
pub fn policy(config: &Config) -> anyhow::Result<Policy> {
    let policy = config.quarantine.clone();
    let names: Vec<String> = config.profiles.iter().map(|p| p.name.to_string()).collect();
    let unknown = policy.transfers.unknown_profiles(&names);
    if !unknown.is_empty() {
        anyhow::bail!(
            "[quarantine.transfers] in zion.toml names profiles that do not exist: {}; the profiles are {}",
            unknown.join(", "),
            names.join(", ")
        );
    }
    Ok(policy)
}

/// Opens the store (recovering from a crash), creates the storage layout,
/// registers each profile's outbox as an inbox, serves `org.zionos.Quarantine1` on `bus`
/// when there is one, and runs the pipeline on the current runtime.
pub async fn start(
    paths: &SessionPaths,
    config: &Config,
    args: &QuarantineArgs,
    bus: Option<zbus::Connection>,
) -> anyhow::Result<Quarantine> {
    let policy = policy(config)?;
    let profiles: Vec<String> = config.profiles.iter().map(|p| p.name.to_string()).collect();

    let data = paths.data.clone();
    let audit_log = paths.audit_log();
    let store_paths = paths.store();
    let names = profiles.clone();
    let limits = zion_quarantine::policy::limits(&policy);
    let store = tokio::task::spawn_blocking(move || -> anyhow::Result<Store> {
        let layout = Layout::new(&data);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        layout
            .create(&refs)
            .context("creating the storage folders")?;
        let audit = AuditLog::open(audit_log).context("opening the audit log")?;
        let store =
            Store::open(store_paths, layout, audit).context("opening the quarantine store")?;
        store.set_limits(limits);
        crate::sanitise::remove_job_leftovers(&store);
        for from in &names {
            // The profile's `~/Outbox` and `~/Outbox/<to>` for every other
            // profile (see `zion_profiles::ProfilePaths`).
            let outboxes = std::iter::once(transfer::outbox(from)).chain(
                names
                    .iter()
                    .filter(|to| *to != from)
                    .map(|to| transfer::outbox_to(from, to)),
            );
            for source in outboxes {
                if let Err(e) = store.add_source(&source) {
                    tracing::warn!(
                        "no quarantine inbox {} for profile {from}: {e}",
                        source.name
                    );
                }
            }
        }
        Ok(store)
    })
    .await
    .context("opening the quarantine store")??;
    let store = Arc::new(store);
    let (args2, paths2, store2) = (args.clone(), paths.clone(), store.clone());
    let archives = config.quarantine.archives;
    let engine = config.quarantine.engine;
    let scanning = tokio::task::spawn_blocking(move || {
        scanning::start(&args2, &paths2, store2, archives, engine)
    })
    .await
    .context("setting up the scanner")??;

    // Each copy is scanned while ingest makes it durable (issue 17, item
    // 5); its verdict arrives with the item. Larger ones, and any whose
    // scan at ingest could not be recorded, the pipeline marks or scans.
    let early = scanning.scanner.clone();
    store.set_ingest_scan(Some(zion_quarantine::IngestScan {
        scan: Arc::new(move |source: &str, file| early.scan_file_for(source, &file)),
        max_size: policy.max_size.0,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        faster_than_disk: engine == zion_config::quarantine::ScanEngine::YaraX,
    }));

    // Subscribe before the watcher takes anything, so no event is missed.
    let pipeline_events = service::bridge(store.subscribe());
    if let Some(bus) = &bus {
        let signal_events = service::bridge(store.subscribe());
        dbus::serve(
            bus,
            store.clone(),
            profiles,
            policy.transfers.clone(),
            signal_events,
            Arc::new(crate::sanitise::Sanitiser::new(
                args.sanitise_settings(config),
            )),
        )
        .await
        .with_context(|| format!("serving {} on the session bus", dbus::NAME))?;
    }
    let (watcher, watch_events) = InboxWatcher::start(store.clone(), WatcherConfig::default())
        .context("watching the quarantine inbox")?;
    recall::start(
        store.clone(),
        scanning.scanner,
        scanning.sources,
        scanning.rules_changed,
        notify::Notifier::new(bus.clone()),
        bus.clone(),
    );
    let pipeline = service::Pipeline {
        store: store.clone(),
        policy,
        scan: scanning.scan,
        notifier: notify::Notifier::new(bus),
        parallel_scans: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    tokio::spawn(pipeline.run(pipeline_events, service::bridge(watch_events)));
    tracing::info!("quarantine ready: inbox {}", store.paths().inbox.display());
    Ok(Quarantine {
        store,
        _watcher: watcher,
        _rules: scanning.watcher,
    })
}

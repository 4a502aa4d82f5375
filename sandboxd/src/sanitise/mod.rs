//! Sanitise (issue 17): a safe copy of a quarantined PDF, image or office
//! document, made in a throw-away converter container with no network —
//! pages drawn to pixels and rebuilt as a PDF, images decoded and written
//! again without metadata, office documents made a PDF by LibreOffice
//! (headless, in the same container) and then drawn to pixels — that
//! enters the quarantine as a new item (scanned like any other) whose
//! source names the original; the original stays where it is. The copy of
//! an office document is a PDF of pixels: no macro, link, embedded object
//! or text layer survives.
//!
//! The container runs under gVisor (`zion-gvisor`: runsc with no network)
//! when there is a Podman for it, under Podman's default runtime (runc)
//! with every hardening otherwise; the result says which, from Podman's own
//! inspection of the container. Podman 4.3 ignores the runtime a
//! container's spec names (`oci_runtime`): gVisor comes from the session's
//! sanitiser Podman, a service started with `--runtime zion-gvisor`
//! (`ZION_SANITISE_PODMAN`), and the spec still names it for a Podman that
//! honours it. The input goes in read-only, the output
//! comes back through a fresh folder, and the host takes back exactly one
//! regular file of the expected kind and size, or nothing.
//!
//! - [`spec`]: the pure decisions (kind, container spec, output checks).
//! - [`office`]: which office document a file is, by its content.

pub mod office;
pub mod spec;

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use podman_api::conn::TtyChunk;
use podman_api::opts::{
    ContainerDeleteOpts, ContainerListFilter, ContainerListOpts, ContainerLogsOpts,
};
use zion_profiles::podman::{self, PodmanCandidates};
use zion_profiles::{LifecycleError, PodmanClient, Timeouts};
use zion_quarantine::{Item, ItemId, StateKind, Store, StoreError};

pub use office::Office;
pub use spec::{Isolation, Kind};

/// How long a conversion may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of the converter's log is kept.
const LOG_LIMIT: usize = 64 << 10;

/// The sanitiser's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The converter image.
    pub image: String,
    /// The OCI runtime tried first (gVisor's); Podman's default when
    /// Podman does not know it.
    pub runtime: String,
    /// How long one conversion may take, container start to exit.
    pub timeout: Duration,
    /// How long Podman calls may take.
    pub podman: Timeouts,
    /// The converter's program (Python, see `convert.py`); another only
    /// in tests that play a compromised converter.
    pub converter: String,
    /// The sanitiser Podman (`unix:///…`): a service whose runtime is
    /// gVisor, tried first.
    pub gvisor_podman: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            image: spec::default_image(),
            runtime: spec::GVISOR_RUNTIME.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            podman: Timeouts::default(),
            converter: spec::CONVERTER.to_owned(),
            gvisor_podman: None,
        }
    }
}

/// A safe copy made.
#[derive(Debug, Clone)]
pub struct Sanitised {
    /// The new item.
    pub item: Item,
    /// How the converter was confined.
    pub isolation: Isolation,
    /// The network interfaces the converter saw (`lo` alone).
    pub interfaces: Vec<String>,
    /// Why gVisor was not used, when it was asked for and not used.
    pub fallback: Option<String>,
}

impl Sanitised {
    /// One line for the user.
    pub fn summary(&self, from: ItemId) -> String {
        let mut text = format!(
            "item {from} sanitised into item {} ({}), converted in {} with no network (interfaces: {})",
            self.item.id,
            self.item.safe_name,
            self.isolation,
            self.interfaces.join(" ")
        );
        if let Some(why) = &self.fallback {
            text.push_str(&format!(" (gVisor not used: {why})"));
        }
        text
    }
}

/// Why no safe copy was made.
#[derive(Debug, thiserror::Error)]
pub enum SanitiseError {
    /// The store failed (no such item, …).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The item is not something the sanitiser converts.
    #[error("item {id} ({name}) is not a PDF, an image or an office document (judged by its content, not its name): the sanitiser converts PDFs, PNG, JPEG, GIF, WebP, BMP and TIFF images, and Word, Excel, PowerPoint, OpenDocument and RTF documents")]
    NotConvertible {
        /// The item.
        id: ItemId,
        /// Its name.
        name: String,
    },
    /// The item looks like an office document but is refused unopened
    /// (a zip bomb, too many members, an unreadable zip).
    #[error("item {id} ({name}) is refused before any conversion: {reason}")]
    Unsafe {
        /// The item.
        id: ItemId,
        /// Its name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The item's state has no file to convert.
    #[error("item {id} is {state}: only an item still in the quarantine can be sanitised")]
    NotHere {
        /// The item.
        id: ItemId,
        /// Its state.
        state: &'static str,
    },
    /// The item is larger than the sanitiser takes.
    #[error(
        "item {id} is {size} bytes; the sanitiser takes at most {} bytes",
        spec::MAX_INPUT
    )]
    TooLarge {
        /// The item.
        id: ItemId,
        /// Its size.
        size: u64,
    },
    /// Podman is unreachable, or refused the converter.
    #[error("sanitising item {id}: {message}")]
    Podman {
        /// The item.
        id: ItemId,
        /// What went wrong.
        message: String,
    },
    /// The conversion did not finish in time; the container was killed.
    #[error("sanitising item {id} did not finish within {} s; the converter ({isolation}) was killed", limit.as_secs())]
    TimedOut {
        /// The item.
        id: ItemId,
        /// The limit.
        limit: Duration,
        /// How it was confined.
        isolation: Isolation,
    },
    /// The converter failed: the input is unreadable, or refused.
    #[error("sanitising item {id} failed ({isolation}, no network): {reason}")]
    Failed {
        /// The item.
        id: ItemId,
        /// The converter's reason.
        reason: String,
        /// How it was confined.
        isolation: Isolation,
    },
    /// What came back is not the file the converter had to make.
    #[error("sanitising item {id}: the output was refused and deleted: {reason}")]
    Refused {
        /// The item.
        id: ItemId,
        /// What is wrong with it.
        reason: String,
    },
    /// A file of the job could not be made or read.
    #[error("sanitising item {id}: {what} {}: {source}", path.display())]
    Io {
        /// The item.
        id: ItemId,
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Makes safe copies; connects to Podman when first asked.
pub struct Sanitiser {
    settings: Settings,
    podman: tokio::sync::OnceCell<PodmanClient>,
}

/// A converter container and the Podman that runs it.
struct Running<'a> {
    podman: &'a PodmanClient,
    container: String,
}

/// One job's folders: `in/input` (a copy of the object, world-readable, for
/// the converter's nobody) and `out/` (empty, writable); removed when dropped.
struct Job {
    name: String,
    dir: tempfile::TempDir,
    kind: Kind,
    item: Item,
}

impl Job {
    fn input_dir(&self) -> PathBuf {
        self.dir.path().join("in")
    }

    fn output_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }
}

/// The converter's run, as Podman saw it.
struct Run {
    isolation: Isolation,
    exit_code: i32,
    oom_killed: bool,
    network_mode: String,
    log: String,
}

impl Sanitiser {
    /// A sanitiser with `settings`.
    pub fn new(settings: Settings) -> Sanitiser {
        Sanitiser {
            settings,
            podman: tokio::sync::OnceCell::new(),
        }
    }

    /// A sanitiser that uses `podman` rather than finding one.
    pub fn with_podman(settings: Settings, podman: PodmanClient) -> Sanitiser {
        Sanitiser {
            settings,
            podman: tokio::sync::OnceCell::new_with(Some(podman)),
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn client(&self, id: ItemId) -> Result<&PodmanClient, SanitiseError> {
        self.podman
            .get_or_try_init(|| async {
                let client =
                    podman::connect(&PodmanCandidates::from_env(), self.settings.podman).await?;
                // Before this daemon made any: what a killed one left.
                remove_leftovers(&client).await;
                Ok::<_, anyhow::Error>(client)
            })
            .await
            .map_err(|e| SanitiseError::Podman {
                id,
                message: format!("no Podman to run the converter in: {e:#}"),
            })
    }

    /// The sanitiser Podman, when one is set and answers.
    async fn gvisor_client(&self) -> Option<PodmanClient> {
        let uri = self.settings.gvisor_podman.as_deref()?;
        let client = match PodmanClient::new(uri) {
            Ok(client) => client.with_timeouts(self.settings.podman),
            Err(e) => {
                tracing::warn!("the sanitiser Podman {uri}: {e}");
                return None;
            }
        };
        match client.ping().await {
            Ok(()) => Some(client),
            Err(e) => {
                tracing::info!("the sanitiser Podman {uri} does not answer: {e}");
                None
            }
        }
    }

    /// Makes a safe copy of item `id` of `store`: a new item, returned with
    /// how it was made.
    pub async fn sanitise(
        &self,
        store: Arc<Store>,
        id: ItemId,
    ) -> Result<Sanitised, SanitiseError> {
        let started = Instant::now();
        let store2 = store.clone();
        let job = blocking(id, move || prepare(&store2, id)).await?;
        let podman = self.client(id).await?;
        let gvisor = self.gvisor_client().await;
        let (run, fallback) = self.run(podman, gvisor.as_ref(), &job).await?;
        tracing::info!(
            item = %id,
            "converter ({}) exited {} in {:.1?}; network {}; it said: {}",
            run.isolation,
            run.exit_code,
            started.elapsed(),
            run.network_mode,
            run.log.trim().replace('\n', " | ")
        );
        if run.network_mode != "none" {
            return Err(SanitiseError::Refused {
                id,
                reason: format!(
                    "Podman ran the converter with network `{}`, not none",
                    run.network_mode
                ),
            });
        }
        if run.exit_code != 0 || run.oom_killed {
            return Err(SanitiseError::Failed {
                id,
                reason: spec::failure(run.exit_code, run.oom_killed, &run.log),
                isolation: run.isolation,
            });
        }
        let interfaces = spec::interfaces(&run.log).unwrap_or_default();
        let isolation = run.isolation.clone();
        let label = spec::copy_label(id.0, &isolation);
        let item = blocking(id, move || take_back(&store, &job, &label)).await?;
        Ok(Sanitised {
            item,
            isolation,
            interfaces,
            fallback,
        })
    }

    /// Creates, starts, waits for and removes the converter: under the
    /// sanitiser Podman (gVisor) first, then under the session's Podman,
    /// asking for gVisor and taking its default runtime when it has none.
    /// Returns the run and why gVisor was not used.
    async fn run(
        &self,
        main: &PodmanClient,
        gvisor: Option<&PodmanClient>,
        job: &Job,
    ) -> Result<(Run, Option<String>), SanitiseError> {
        let id = job.item.id;
        let mut fallback = None;
        let mut running = None;
        if let Some(podman) = gvisor {
            match self.create_started(podman, job, None).await {
                Ok(container) => running = Some(Running { podman, container }),
                Err(e) => {
                    tracing::warn!("item {id}: the sanitiser Podman could not run the converter: {e}; using the session's");
                    fallback = Some(format!("the sanitiser Podman could not run it: {e}"));
                }
            }
        } else {
            fallback = Some("no sanitiser Podman (ZION_SANITISE_PODMAN) answers".to_owned());
        }
        let running = match running {
            Some(running) => running,
            None => {
                let asked = Some(self.settings.runtime.as_str());
                let container = match self.create(main, job, asked).await {
                    Ok(container) => container,
                    Err(LifecycleError::Podman { message, .. })
                        if spec::runtime_unknown(&message) =>
                    {
                        tracing::info!(
                            "item {id}: Podman has no runtime {} ({message})",
                            self.settings.runtime
                        );
                        self.create(main, job, None)
                            .await
                            .map_err(|e| podman_error(id, "creating the converter", &e))?
                    }
                    Err(e) => return Err(podman_error(id, "creating the converter", &e)),
                };
                if let Err(e) = self.start(main, &container).await {
                    delete_converter(main, &container).await;
                    return Err(SanitiseError::Podman {
                        id,
                        message: format!("the converter did not start: {e}"),
                    });
                }
                Running {
                    podman: main,
                    container,
                }
            }
        };
        let Running { podman, container } = running;
        let finished = self.wait(podman, &container).await;
        let run = match finished {
            Ok(()) => self.inspect(podman, &container).await,
            Err(limit) => {
                let isolation = self
                    .inspect(podman, &container)
                    .await
                    .map(|r| r.isolation)
                    .unwrap_or(Isolation::Hardened {
                        runtime: "unknown".into(),
                    });
                delete_converter(podman, &container).await;
                return Err(SanitiseError::TimedOut {
                    id,
                    limit,
                    isolation,
                });
            }
        };
        delete_converter(podman, &container).await;
        let run = run?;
        // Said only when gVisor did not run it after all.
        let fallback = (run.isolation != Isolation::Gvisor)
            .then_some(fallback)
            .flatten();
        Ok((run, fallback))
    }

    async fn create(
        &self,
        podman: &PodmanClient,
        job: &Job,
        runtime: Option<&str>,
    ) -> Result<String, LifecycleError> {
        let (input_dir, output_dir) = (job.input_dir(), job.output_dir());
        let body = spec::converter_spec(
            &spec::Conversion {
                job: &job.name,
                item: job.item.id.0,
                kind: job.kind,
                image: &self.settings.image,
                input_dir: &input_dir,
                output_dir: &output_dir,
                converter: &self.settings.converter,
            },
            runtime,
        );
        let created = podman.create_container(&body).await?;
        for warning in &created.warnings {
            tracing::warn!("Podman, creating the converter {}: {warning}", job.name);
        }
        Ok(created.id)
    }

    /// The converter under `runtime` (`None`: the service's default), started.
    async fn create_started(
        &self,
        podman: &PodmanClient,
        job: &Job,
        runtime: Option<&str>,
    ) -> Result<String, String> {
        let container = self
            .create(podman, job, runtime)
            .await
            .map_err(|e| e.to_string())?;
        if let Err(e) = self.start(podman, &container).await {
            delete_converter(podman, &container).await;
            return Err(format!("the converter did not start: {e}"));
        }
        Ok(container)
    }

    async fn start(&self, podman: &PodmanClient, container: &str) -> Result<(), String> {
        let c = podman.api().containers().get(container);
        podman
            .timed(
                &format!("POST /libpod/containers/{container}/start"),
                c.start(None),
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Until the container stops; `Err(limit)` when it runs past the limit.
    async fn wait(&self, podman: &PodmanClient, container: &str) -> Result<(), Duration> {
        let limit = self.settings.timeout;
        let c = podman.api().containers().get(container);
        let until = Instant::now() + limit;
        while Instant::now() < until {
            match podman
                .timed(
                    &format!("GET /libpod/containers/{container}/json"),
                    c.inspect(),
                )
                .await
            {
                Ok(data) => {
                    // Only an end state: under load Podman may answer
                    // between start and run with `running: false`.
                    let status = data.state.as_ref().and_then(|s| s.status.clone());
                    if matches!(status.as_deref(), Some("exited" | "stopped")) {
                        return Ok(());
                    }
                }
                Err(e) if e.to_string().contains("no such container") => return Ok(()),
                // A slow answer: ask again until the limit.
                Err(e) => tracing::debug!("inspecting the converter {container}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(limit)
    }

    async fn inspect(&self, podman: &PodmanClient, container: &str) -> Result<Run, SanitiseError> {
        let c = podman.api().containers().get(container);
        let data = podman
            .timed(
                &format!("GET /libpod/containers/{container}/json"),
                c.inspect(),
            )
            .await
            .map_err(|e| SanitiseError::Podman {
                id: ItemId(0),
                message: format!("inspecting the converter: {e}"),
            })?;
        let exit_code = data.state.as_ref().and_then(|s| s.exit_code);
        let oom_killed = data.state.as_ref().and_then(|s| s.oom_killed);
        let opts = ContainerLogsOpts::builder()
            .stdout(true)
            .stderr(true)
            .build();
        let mut log = String::new();
        let collect = async {
            let mut logs = c.logs(&opts);
            while let Some(chunk) = logs.next().await {
                if let Ok(TtyChunk::StdOut(b) | TtyChunk::StdErr(b)) = chunk {
                    if log.len() < LOG_LIMIT {
                        log.push_str(&String::from_utf8_lossy(&b));
                    }
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), collect).await;
        Ok(Run {
            isolation: Isolation::of_runtime(data.oci_runtime.as_deref().unwrap_or("unknown")),
            exit_code: exit_code.unwrap_or(-1),
            oom_killed: oom_killed.unwrap_or(false),
            network_mode: data
                .host_config
                .and_then(|h| h.network_mode)
                .unwrap_or_default(),
            log,
        })
    }
}

/// Force-removes a converter container. Podman refuses now and then while
/// the container is still starting ("could not be stopped"): it is asked
/// again a little later, a few times.
async fn delete_converter(podman: &PodmanClient, container: &str) {
    let opts = ContainerDeleteOpts::builder()
        .force(true)
        .timeout(0)
        .build();
    let c = podman.api().containers().get(container);
    let mut wait = std::time::Duration::from_millis(250);
    for attempt in 1..=4 {
        match podman
            .timed(
                &format!("DELETE /libpod/containers/{container}"),
                c.delete(&opts),
            )
            .await
        {
            Ok(_) => return,
            Err(e) if attempt < 4 && e.to_string().contains("could not be stopped") => {
                tracing::debug!("removing the converter {container}: {e}; asking again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => {
                tracing::warn!("removing the converter {container}: {e}");
                return;
            }
        }
    }
}

/// Removes every converter container (a daemon killed mid-conversion
/// leaves its own).
async fn remove_leftovers(podman: &PodmanClient) {
    let opts = ContainerListOpts::builder()
        .all(true)
        .filter([ContainerListFilter::LabelKey(spec::LABEL_SANITISE.into())])
        .build();
    let list = match podman
        .timed(
            "GET /libpod/containers/json",
            podman.api().containers().list(&opts),
        )
        .await
    {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!("looking for converters a previous run left: {e}");
            return;
        }
    };
    for id in list.into_iter().filter_map(|c| c.id) {
        tracing::info!("removing the converter {id} a previous run left");
        delete_converter(podman, &id).await;
    }
}

/// Removes the job folders a killed daemon left in the store's
/// `sanitise/` folder; call before any job starts.
pub fn remove_job_leftovers(store: &Store) {
    let base = jobs_dir(store);
    for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let path = entry.path();
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(
                "removed the sanitise job {} a previous run left",
                path.display()
            ),
            Err(e) => tracing::warn!("removing {}: {e}", path.display()),
        }
    }
}

/// `<quarantine>/sanitise`, beside the store's objects (same filesystem).
fn jobs_dir(store: &Store) -> PathBuf {
    store
        .paths()
        .objects
        .parent()
        .unwrap_or(Path::new("/"))
        .join("sanitise")
}

fn podman_error(id: ItemId, what: &str, e: &LifecycleError) -> SanitiseError {
    SanitiseError::Podman {
        id,
        message: format!("{what}: {e} (is the image built? `zionctl image build --sanitiser`)"),
    }
}

async fn blocking<T: Send + 'static>(
    id: ItemId,
    f: impl FnOnce() -> Result<T, SanitiseError> + Send + 'static,
) -> Result<T, SanitiseError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SanitiseError::Podman {
            id,
            message: format!("the sanitise task failed: {e}"),
        })?
}

fn io(id: ItemId, what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SanitiseError {
    let path = path.to_owned();
    move |source| SanitiseError::Io {
        id,
        what,
        path,
        source,
    }
}

/// Checks the item, and copies its object into a fresh job folder.
fn prepare(store: &Store, id: ItemId) -> Result<Job, SanitiseError> {
    let item = store.get(id)?;
    let state = item.state.kind();
    if matches!(
        state,
        StateKind::Ingesting | StateKind::Releasing | StateKind::Released | StateKind::Deleted
    ) {
        return Err(SanitiseError::NotHere {
            id,
            state: state.as_str(),
        });
    }
    let Some(sha) = item.sha256 else {
        return Err(SanitiseError::NotHere {
            id,
            state: state.as_str(),
        });
    };
    if item.size > spec::MAX_INPUT {
        return Err(SanitiseError::TooLarge {
            id,
            size: item.size,
        });
    }
    let object = store.object_path(&sha);
    let mut source = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&object)
        .map_err(io(id, "opening the object", &object))?;
    let mut head = Vec::with_capacity(1024);
    (&mut source)
        .take(1024)
        .read_to_end(&mut head)
        .map_err(io(id, "reading", &object))?;
    let mut kind = Kind::sniff(&head);
    if kind.is_none() && Office::maybe_zip(&head) {
        // A zip: an office document only by its members.
        source
            .seek(SeekFrom::Start(0))
            .map_err(io(id, "reading", &object))?;
        kind = office::sniff_zip(&mut source)
            .map_err(|reason| SanitiseError::Unsafe {
                id,
                name: item.safe_name.clone(),
                reason,
            })?
            .map(Kind::Office);
    }
    let kind = kind.ok_or_else(|| SanitiseError::NotConvertible {
        id,
        name: item.safe_name.clone(),
    })?;
    let base = jobs_dir(store);
    std::fs::create_dir_all(&base).map_err(io(id, "creating", &base))?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{id}-"))
        .tempdir_in(&base)
        .map_err(io(id, "creating a job folder in", &base))?;
    let name = dir
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let job = Job {
        name,
        dir,
        kind,
        item,
    };
    let (input_dir, output_dir) = (job.input_dir(), job.output_dir());
    for (folder, mode) in [(&input_dir, 0o755), (&output_dir, 0o777)] {
        std::fs::create_dir(folder).map_err(io(id, "creating", folder))?;
        // Whatever the umask: the converter runs as nobody.
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(mode))
            .map_err(io(id, "opening", folder))?;
    }
    let input = input_dir.join("input");
    let mut copy = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&input)
        .map_err(io(id, "creating", &input))?;
    source
        .seek(SeekFrom::Start(0))
        .map_err(io(id, "reading", &object))?;
    std::io::copy(&mut source.take(spec::MAX_INPUT), &mut copy).map_err(io(
        id,
        "copying the object into",
        &input,
    ))?;
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o644))
        .map_err(io(id, "opening", &input))?;
    Ok(job)
}

/// Takes the one output file back into the store as a new item, if it is
/// what the converter had to make.
fn take_back(store: &Store, job: &Job, label: &str) -> Result<Item, SanitiseError> {
    let id = job.item.id;
    let out = job.output_dir();
    let refused = |reason: String| SanitiseError::Refused { id, reason };
    let mut names: Vec<OsString> = Vec::new();
    for entry in std::fs::read_dir(&out).map_err(io(id, "listing", &out))? {
        names.push(entry.map_err(io(id, "listing", &out))?.file_name());
        if names.len() > 16 {
            break;
        }
    }
    spec::check_listing(job.kind, &names).map_err(refused)?;
    let path = out.join(job.kind.output());
    // Never a link, a FIFO or a device: opened without following or
    // blocking, then checked for what it is.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(&path)
        .map_err(|e| {
            refused(format!(
                "{} cannot be opened as a plain file: {e}",
                job.kind.output()
            ))
        })?;
    let meta = file.metadata().map_err(io(id, "inspecting", &path))?;
    if !meta.file_type().is_file() {
        return Err(refused(format!(
            "{} is not a regular file",
            job.kind.output()
        )));
    }
    if std::os::unix::fs::MetadataExt::nlink(&meta) != 1 {
        return Err(refused(format!(
            "{} has more than one name",
            job.kind.output()
        )));
    }
    let size = meta.len();
    let mut head = vec![0u8; 16];
    let n = read_at_most(&mut file, &mut head).map_err(io(id, "reading", &path))?;
    head.truncate(n);
    let mut tail = vec![0u8; 1024];
    file.seek(SeekFrom::Start(size.saturating_sub(1024)))
        .map_err(io(id, "reading", &path))?;
    let n = read_at_most(&mut file, &mut tail).map_err(io(id, "reading", &path))?;
    tail.truncate(n);
    spec::check_output(job.kind, size, &head, &tail).map_err(refused)?;
    let name = spec::copy_name(&job.item.original_name, job.kind);
    Ok(store.add_derived(&job.item, &file, &name, label)?)
}

fn read_at_most(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

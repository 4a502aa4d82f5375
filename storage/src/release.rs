//! The one way into storage: release a quarantined object into a destination,
//! never overwriting, never leaving a partial file, always audited.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::audit::{AuditEntry, AuditLog};
use crate::beneath;
use crate::error::StorageError;
use crate::layout::{Destination, Layout};
use crate::name::{sanitize_name, SafeName};
use crate::place::{self, Source, Staging};

/// What to release, where, and what to record about it.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseRequest<'a> {
    /// The object to release (a file in the quarantine store).
    pub source: &'a Path,
    /// What it must hash to.
    pub sha256: [u8; 32],
    /// False when another store item still needs the object: copy, never rename.
    pub remove_source: bool,
    /// Where it goes.
    pub destination: &'a Destination,
    /// The name it came with (sanitized for the disk, kept as is in the audit record).
    pub original_name: &'a OsStr,
    /// The quarantine item.
    pub item_id: &'a str,
    /// Where it came from, e.g. `sandbox:work/3` or `profile:work`.
    pub source_label: &'a str,
    /// The scan verdict, e.g. `clean`.
    pub verdict: &'a str,
    /// `policy` or `user`.
    pub decided_by: &'a str,
    /// Where it was downloaded from, if the quarantine knows (issue 17).
    pub origin: Option<ReleaseOrigin<'a>>,
}

/// Where a released file was downloaded from, as the quarantine recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseOrigin<'a> {
    /// The download's URL.
    pub url: Option<&'a str>,
    /// The page it was started from.
    pub referrer: Option<&'a str>,
    /// Who says so: `host` (observed) or `file` (claimed by the file).
    pub provenance: &'a str,
}

/// Where a released file ended up, and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// Its full path.
    pub path: PathBuf,
    /// Its name in the destination (the sanitized name, or a collision variant of it).
    pub name: SafeName,
    /// Renamed or copied.
    pub method: Method,
}

/// How a file was put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Renamed within one filesystem (constant time).
    Rename,
    /// Copied, fsynced and verified, then linked into place.
    Copy,
}

/// Knobs of [`release_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseOptions {
    /// Hash the source before moving it (on by default). A copy is always
    /// verified; turning this off makes a same-filesystem release take
    /// constant time, trusting the store's own hash.
    pub verify_source: bool,
    /// Fsync the folders a rename changed before returning (on by default).
    /// [`release_all`] turns it off for a batch of many files and syncs each filesystem once instead.
    pub sync_dirs: bool,
}

impl Default for ReleaseOptions {
    fn default() -> Self {
        ReleaseOptions {
            verify_source: true,
            sync_dirs: true,
        }
    }
}

/// Releases `req.source` into its destination and appends the audit entry.
pub fn release(
    layout: &Layout,
    audit: &AuditLog,
    req: &ReleaseRequest,
) -> Result<Released, StorageError> {
    release_with(layout, audit, req, &ReleaseOptions::default())
}

/// [`release`] with options.
pub fn release_with(
    layout: &Layout,
    audit: &AuditLog,
    req: &ReleaseRequest,
    options: &ReleaseOptions,
) -> Result<Released, StorageError> {
    let released = place_file(layout, req, options, Staging::Anonymous)?;
    log_released(req, &released);
    audit
        .append(audit_entry(req, &released.path))
        .map_err(|e| StorageError::AuditAfterRelease {
            released: released.path.clone(),
            source: Box::new(e),
        })?;
    Ok(released)
}

/// From this many files on, a batch of releases is synced with one
/// `syncfs` per filesystem rather than folder by folder.
const SYNCFS_FROM: usize = 8;

/// Releases many objects at once: each is put in place as [`release_with`]
/// does, then every filesystem they went into (and came from) is synced
/// once, and their audit entries are appended with one fsync. One result
/// per request, in order; a file in place whose entry could not be written
/// is [`StorageError::AuditAfterRelease`], as with a single release.
pub fn release_all(
    layout: &Layout,
    audit: &AuditLog,
    reqs: &[ReleaseRequest],
    options: &ReleaseOptions,
) -> Vec<Result<Released, StorageError>> {
    // A few files are each made durable on their own (their folders
    // synced); many, with one `syncfs` per filesystem, which also waits for
    // whatever else is being written there (a build, another download), so
    // it is worth it only when it replaces many syncs.
    let whole_filesystems = reqs.len() >= SYNCFS_FROM;
    let batch = ReleaseOptions {
        sync_dirs: options.sync_dirs && !whole_filesystems,
        ..*options
    };
    let results: Vec<Result<Released, StorageError>> = reqs
        .iter()
        .map(|req| place_file(layout, req, &batch, Staging::Anonymous))
        .collect();
    // Durable before they are audited: one sync per filesystem touched.
    let mut touched: Vec<&Path> = Vec::new();
    for (req, result) in reqs.iter().zip(&results) {
        if let Ok(released) = result {
            touched.push(released.path.parent().unwrap_or(Path::new("/")));
            touched.push(req.source.parent().unwrap_or(Path::new("/")));
        }
    }
    if whole_filesystems || !options.sync_dirs {
        if let Err(e) = place::sync_filesystems(&touched) {
            tracing::error!("syncing a batch of releases: {e}");
            return unaudited(results, "syncing the batch", &e);
        }
    }
    let entries: Vec<AuditEntry> = reqs
        .iter()
        .zip(&results)
        .filter_map(|(req, r)| r.as_ref().ok().map(|rel| audit_entry(req, &rel.path)))
        .collect();
    if entries.is_empty() {
        return results;
    }
    if let Err(e) = audit.append_all(entries) {
        return unaudited(results, "appending the batch's audit entries", &e);
    }
    for (req, released) in reqs.iter().zip(&results) {
        if let Ok(released) = released {
            log_released(req, released);
        }
    }
    results
}

fn log_released(req: &ReleaseRequest, released: &Released) {
    tracing::info!(
        item = req.item_id,
        destination = %req.destination,
        path = %released.path.display(),
        method = ?released.method,
        "released"
    );
}

/// Every file placed becomes [`StorageError::AuditAfterRelease`] for `why`.
fn unaudited(
    results: Vec<Result<Released, StorageError>>,
    op: &'static str,
    cause: &StorageError,
) -> Vec<Result<Released, StorageError>> {
    results
        .into_iter()
        .map(|r| {
            r.and_then(|released| {
                Err(StorageError::AuditAfterRelease {
                    source: Box::new(StorageError::Io {
                        op,
                        path: released.path.clone(),
                        source: std::io::Error::other(cause.to_string()),
                    }),
                    released: released.path,
                })
            })
        })
        .collect()
}

/// Moves the file into place, without the audit record.
pub(crate) fn place_file(
    layout: &Layout,
    req: &ReleaseRequest,
    options: &ReleaseOptions,
    staging: Staging,
) -> Result<Released, StorageError> {
    let name = sanitize_name(req.original_name);
    let (dir, dir_path) = open_destination(layout, req.destination, true)?;
    let src = Source::open(req.source)?;
    if options.verify_source {
        src.verify(&req.sha256)?;
    }
    let labels = crate::label::labels(req);
    if req.remove_source {
        if let Some((path, name)) =
            place::rename_into(&src, &dir, &dir_path, &name, options.sync_dirs)?
        {
            crate::label::apply(&src.file, &labels, &dir_path);
            return Ok(Released {
                path,
                name,
                method: Method::Rename,
            });
        }
    }
    let (path, name) =
        place::copy_into(&src, &dir, &dir_path, &name, &req.sha256, &labels, staging)?;
    if req.remove_source {
        src.remove()?;
    }
    Ok(Released {
        path,
        name,
        method: Method::Copy,
    })
}

/// The audit record of a release that put the file at `final_path`.
pub fn audit_entry(req: &ReleaseRequest, final_path: &Path) -> AuditEntry {
    let original = req.original_name;
    let original_name_hex = match original.to_str() {
        Some(_) => None,
        None => Some(hex::encode(original.as_bytes())),
    };
    AuditEntry {
        time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        item_id: req.item_id.to_owned(),
        original_name: original.to_string_lossy().into_owned(),
        original_name_hex,
        final_path: final_path.to_string_lossy().into_owned(),
        source_label: req.source_label.to_owned(),
        destination: req.destination.to_string(),
        sha256: hex::encode(req.sha256),
        verdict: req.verdict.to_owned(),
        decided_by: req.decided_by.to_owned(),
        origin_url: req.origin.and_then(|o| o.url).map(str::to_owned),
        origin_referrer: req.origin.and_then(|o| o.referrer).map(str::to_owned),
        origin_provenance: req.origin.map(|o| o.provenance.to_owned()),
        action: None,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// After a crash: is there already a file in that destination, named `name`
/// or `name (N).ext`, whose SHA-256 is `sha256`? (used by quarantine recovery)
pub fn find_released(
    layout: &Layout,
    dest: &Destination,
    name: &SafeName,
    sha256: &[u8; 32],
) -> Result<Option<PathBuf>, StorageError> {
    let (dir, dir_path) = match open_destination(layout, dest, false) {
        Ok(opened) => opened,
        Err(StorageError::DestinationMissing { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let listing = rustix::fs::Dir::read_from(&dir)
        .map_err(|e| StorageError::io("listing", &dir_path, e.into()))?;
    let mut candidates = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| StorageError::io("listing", &dir_path, e.into()))?;
        let Ok(entry_name) = entry.file_name().to_str() else {
            continue;
        };
        if let Some(n) = name.variant_number(entry_name) {
            candidates.push((n, entry_name.to_owned()));
        }
    }
    candidates.sort();
    for (_, candidate) in candidates {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let path = dir_path.join(&candidate);
        let fd = match rustix::fs::openat(&dir, candidate.as_str(), flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::LOOP) | Err(Errno::NOENT) => continue,
            Err(e) => return Err(StorageError::io("opening", path, e.into())),
        };
        let st =
            rustix::fs::fstat(&fd).map_err(|e| StorageError::io("inspecting", &path, e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            continue;
        }
        let actual =
            place::sha256_of(&File::from(fd)).map_err(|e| StorageError::io("reading", &path, e))?;
        if &actual == sha256 {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Finishes a release a crash interrupted: if the file is already in the
/// destination, removes the source (when asked, and only if it still hashes
/// right) and appends the audit entry if it is missing. `None`: the file is
/// not there, release again.
pub fn resume_release(
    layout: &Layout,
    audit: &AuditLog,
    req: &ReleaseRequest,
) -> Result<Option<PathBuf>, StorageError> {
    let name = sanitize_name(req.original_name);
    let Some(path) = find_released(layout, req.destination, &name, &req.sha256)? else {
        return Ok(None);
    };
    if req.remove_source {
        match Source::open(req.source) {
            Ok(src) => {
                src.verify(&req.sha256)?;
                src.remove()?;
            }
            Err(StorageError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if !audit.contains_item(req.item_id)? {
        audit
            .append(audit_entry(req, &path))
            .map_err(|e| StorageError::AuditAfterRelease {
                released: path.clone(),
                source: Box::new(e),
            })?;
    }
    Ok(Some(path))
}

/// After a crash: removes the hidden `.zion-partial-*` copies left in a
/// destination where `O_TMPFILE` is unsupported; returns how many.
pub fn remove_partials(layout: &Layout, dest: &Destination) -> Result<usize, StorageError> {
    let (dir, dir_path) = match open_destination(layout, dest, false) {
        Ok(opened) => opened,
        Err(StorageError::DestinationMissing { .. }) => return Ok(0),
        Err(e) => return Err(e),
    };
    let listing = rustix::fs::Dir::read_from(&dir)
        .map_err(|e| StorageError::io("listing", &dir_path, e.into()))?;
    let mut partials = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| StorageError::io("listing", &dir_path, e.into()))?;
        let name = entry.file_name().to_bytes();
        if name.starts_with(place::PARTIAL_PREFIX.as_bytes()) {
            partials.push(entry.file_name().to_owned());
        }
    }
    for name in &partials {
        rustix::fs::unlinkat(&dir, name.as_c_str(), rustix::fs::AtFlags::empty())
            .map_err(|e| StorageError::io("removing a partial copy in", &dir_path, e.into()))?;
    }
    if !partials.is_empty() {
        place::sync_dir(&dir, &dir_path)?;
        tracing::info!(
            "removed {} partial copies in {}",
            partials.len(),
            dir_path.display()
        );
    }
    Ok(partials.len())
}

/// Opens a destination directory beneath the root without following symlinks;
/// with `create`, makes the missing `Incoming/<from>` directories.
fn open_destination(
    layout: &Layout,
    dest: &Destination,
    create: bool,
) -> Result<(rustix::fd::OwnedFd, PathBuf), StorageError> {
    dest.validate()?;
    let root = beneath::open_root(layout.root())?;
    let components = dest.components();
    let create = create.then(|| (dest.existing_prefix(), Mode::from_raw_mode(0o700)));
    let dir = beneath::open_dir_creating_from(layout.root(), &root, &components, create)?;
    Ok((dir, layout.destination_dir(dest)))
}

#[cfg(test)]
mod tests {
    //! The hidden-name staging used where `O_TMPFILE` is unsupported, forced
    //! here on filesystems that do support it.

    use super::*;
    use rustix::mount::{MountFlags, UnmountFlags};
    use sha2::{Digest, Sha256};

    struct Unmount(PathBuf);

    impl Drop for Unmount {
        fn drop(&mut self) {
            if let Err(e) = rustix::mount::unmount(&self.0, UnmountFlags::DETACH) {
                eprintln!("could not unmount {}: {e}", self.0.display());
            }
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn request<'a>(
        src: &'a Path,
        bytes: &[u8],
        dest: &'a Destination,
        remove: bool,
    ) -> ReleaseRequest<'a> {
        ReleaseRequest {
            source: src,
            sha256: Sha256::digest(bytes).into(),
            remove_source: remove,
            destination: dest,
            original_name: OsStr::new("staged.bin"),
            item_id: "item",
            source_label: "test",
            verdict: "clean",
            decided_by: "user",
            origin: None,
        }
    }

    #[test]
    fn hidden_staging_copies_and_leaves_no_hidden_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(dir.path().join("zion"));
        layout.create(&[]).expect("layout");
        let src = dir.path().join("object");
        let data = vec![7u8; 300_000];
        std::fs::write(&src, &data).expect("write");
        let dest = Destination::Shared;
        let req = request(&src, &data, &dest, false);

        let released =
            place_file(&layout, &req, &ReleaseOptions::default(), Staging::Hidden).expect("place");

        assert_eq!(released.method, Method::Copy);
        assert_eq!(std::fs::read(&released.path).expect("read"), data);
        assert_eq!(
            listing(&layout.shared()),
            ["staged.bin"],
            "only the final name is left"
        );
        assert_eq!(std::fs::read(&src).expect("source kept"), data);
    }

    #[test]
    fn partial_copies_left_by_a_crash_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(dir.path().join("zion"));
        layout.create(&[]).expect("layout");
        let shared = layout.shared();
        std::fs::write(shared.join(".zion-partial-12-0-99"), b"half a file").expect("write");
        std::fs::write(shared.join("kept.txt"), b"user file").expect("write");

        let removed = remove_partials(&layout, &Destination::Shared).expect("remove");

        assert_eq!(removed, 1);
        assert_eq!(listing(&shared), ["kept.txt"]);
    }

    #[test]
    fn hidden_staging_on_a_full_disk_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("zion");
        std::fs::create_dir(&root).expect("mkdir");
        if let Err(e) =
            rustix::mount::mount("tmpfs", &root, "tmpfs", MountFlags::empty(), c"size=64k")
        {
            zion_tests::skip::lacking(&format!("cannot mount a tmpfs ({e}); this test needs root"));
            return;
        }
        let _unmount = Unmount(root.clone());
        let layout = Layout::new(&root);
        layout.create(&[]).expect("layout");
        let src = dir.path().join("object");
        let data = vec![9u8; 400_000];
        std::fs::write(&src, &data).expect("write");
        let dest = Destination::Shared;
        let req = request(&src, &data, &dest, false);

        let err = place_file(&layout, &req, &ReleaseOptions::default(), Staging::Hidden)
            .expect_err("full");

        assert!(matches!(err, StorageError::NoSpace { .. }), "{err}");
        assert!(
            listing(&layout.shared()).is_empty(),
            "the hidden partial file was removed"
        );
        assert_eq!(std::fs::read(&src).expect("read"), data);
    }
}

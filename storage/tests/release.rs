//! Releases on real filesystems: same filesystem, across filesystems (a real
//! tmpfs), collisions, symlinks, a full disk, bad hashes, hostile names.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use common::{bytes, request, sha256, sha256_file, Fixture, On};
use zion_storage::{
    find_released, release, release_with, resume_release, sanitize_name, Destination, Method,
    ReleaseOptions, StorageError,
};

#[test]
fn same_filesystem_release_renames_and_keeps_the_hash() {
    let fx = Fixture::new();
    let data = bytes(1, 100_000);
    let (src, sum) = fx.put("obj1", &data);
    let dest = Destination::Shared;
    let req = request(&src, sum, &dest, OsStr::new("report.pdf"), true, "item-1");

    let released = release(&fx.layout, &fx.audit, &req).expect("release");

    assert_eq!(released.method, Method::Rename);
    assert_eq!(released.path, fx.layout.shared().join("report.pdf"));
    assert_eq!(released.name.as_str(), "report.pdf");
    assert!(!src.exists(), "the source is moved, not copied");
    assert_eq!(sha256_file(&released.path), sum);
    let mode = fs::metadata(&released.path)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "released files are never executable");
    let entries = fx.audit.entries().expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].item_id, "item-1");
    assert_eq!(entries[0].original_name, "report.pdf");
    assert_eq!(entries[0].final_path, released.path.to_string_lossy());
    assert_eq!(entries[0].destination, "shared");
    assert_eq!(entries[0].sha256, hex::encode(sum));
    assert_eq!(fx.audit.verify().expect("verify"), 1);
}

#[test]
fn release_across_filesystems_copies_verifies_and_removes_the_source() {
    let Some(fx) = Fixture::on(On::TmpfsStore("4m")) else {
        return;
    };
    let data = bytes(2, 1_500_000);
    let (src, sum) = fx.put("obj2", &data);
    let dest = Destination::Profile {
        name: "work".into(),
    };
    let req = request(&src, sum, &dest, OsStr::new("big.iso"), true, "item-2");

    let released = release(&fx.layout, &fx.audit, &req).expect("release");

    assert_eq!(
        released.method,
        Method::Copy,
        "store on tmpfs, root on disk: EXDEV"
    );
    assert!(!src.exists(), "the source goes once the copy is verified");
    assert_eq!(sha256_file(&released.path), sum);
    assert_eq!(
        Fixture::listing(&fx.layout.profile_home("work")),
        ["big.iso"],
        "no temporary left"
    );
    assert_eq!(fx.audit.verify().expect("verify"), 1);
}

#[test]
fn copy_without_remove_source_keeps_the_source() {
    let fx = Fixture::new();
    let (src, sum) = fx.put("obj3", &bytes(3, 70_000));
    let dest = Destination::Shared;
    let req = request(
        &src,
        sum,
        &dest,
        OsStr::new("shared-object.bin"),
        false,
        "item-3",
    );

    let released = release(&fx.layout, &fx.audit, &req).expect("release");

    assert_eq!(
        released.method,
        Method::Copy,
        "another item still needs the object"
    );
    assert_eq!(sha256_file(&src), sum, "source still there, unchanged");
    assert_eq!(sha256_file(&released.path), sum);
    assert_ne!(
        fs::metadata(&src)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok(),
        fs::metadata(&released.path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok(),
        "a copy, not a second link to the store object"
    );
}

#[test]
fn collisions_get_numbered_names_and_nothing_is_overwritten() {
    let fx = Fixture::new();
    let shared = fx.layout.shared();
    fs::write(shared.join("report.pdf"), b"mine").expect("existing");
    fs::write(shared.join("report (1).pdf"), b"mine too").expect("existing");
    let dest = Destination::Shared;

    let (src, sum) = fx.put("a", b"downloaded once");
    let req = request(&src, sum, &dest, OsStr::new("report.pdf"), true, "item-a");
    let renamed = release(&fx.layout, &fx.audit, &req).expect("rename release");
    let (src, sum) = fx.put("b", b"downloaded twice");
    let req = request(&src, sum, &dest, OsStr::new("report.pdf"), false, "item-b");
    let copied = release(&fx.layout, &fx.audit, &req).expect("copy release");

    assert_eq!(
        (renamed.method, renamed.name.as_str()),
        (Method::Rename, "report (2).pdf")
    );
    assert_eq!(
        (copied.method, copied.name.as_str()),
        (Method::Copy, "report (3).pdf")
    );
    assert_eq!(fs::read(shared.join("report.pdf")).expect("read"), b"mine");
    assert_eq!(
        fs::read(shared.join("report (1).pdf")).expect("read"),
        b"mine too"
    );
    assert_eq!(fs::read(&renamed.path).expect("read"), b"downloaded once");
    assert_eq!(fs::read(&copied.path).expect("read"), b"downloaded twice");
}

#[test]
fn concurrent_releases_of_one_name_all_land_under_distinct_names() {
    let fx = Fixture::new();
    let dest = Destination::Shared;
    let objects: Vec<_> = (0..8u8)
        .map(|i| fx.put(&format!("obj{i}"), &bytes(i, 10_000 + usize::from(i))))
        .collect();
    std::thread::scope(|s| {
        for (i, (src, sum)) in objects.iter().enumerate() {
            let (fx, dest) = (&fx, &dest);
            s.spawn(move || {
                let id = format!("item-{i}");
                let req = request(src, *sum, dest, OsStr::new("same.txt"), i % 2 == 0, &id);
                release(&fx.layout, &fx.audit, &req).expect("release")
            });
        }
    });
    let names = Fixture::listing(&fx.layout.shared());
    assert_eq!(names.len(), 8, "{names:?}");
    let mut found: Vec<_> = names
        .iter()
        .map(|n| sha256_file(&fx.layout.shared().join(n)))
        .collect();
    let mut wanted: Vec<_> = objects.iter().map(|(_, s)| *s).collect();
    found.sort();
    wanted.sort();
    assert_eq!(found, wanted, "every file arrived intact, none overwritten");
    assert_eq!(fx.audit.verify().expect("verify"), 8);
}

#[test]
fn symlinked_destination_is_refused() {
    let fx = Fixture::new();
    let outside = fx.dir.path().join("outside");
    fs::create_dir(&outside).expect("outside");
    let shared = fx.layout.shared();
    fs::remove_dir(&shared).expect("rm shared");
    symlink(&outside, &shared).expect("symlink");
    let (src, sum) = fx.put("obj", b"payload");
    let dest = Destination::Shared;
    let req = request(&src, sum, &dest, OsStr::new("x.txt"), true, "item");

    let err = release(&fx.layout, &fx.audit, &req).expect_err("must refuse");

    assert!(
        matches!(&err, StorageError::SymlinkRefused { path } if path == &shared),
        "{err}"
    );
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(sha256_file(&src), sum, "source untouched");
    assert!(
        Fixture::listing(&outside).is_empty(),
        "nothing written through the link"
    );
    assert!(fx.audit.entries().expect("entries").is_empty());
}

#[test]
fn symlinked_component_on_the_way_is_refused() {
    let fx = Fixture::new();
    let outside = fx.dir.path().join("elsewhere");
    fs::create_dir_all(outside.join("home")).expect("outside home");
    let work = fx.layout.root().join("profiles/work");
    fs::remove_dir_all(&work).expect("rm work");
    symlink(&outside, &work).expect("symlink");
    let (src, sum) = fx.put("obj", b"payload");
    let dest = Destination::Profile {
        name: "work".into(),
    };
    let req = request(&src, sum, &dest, OsStr::new("x.txt"), true, "item");

    let err = release(&fx.layout, &fx.audit, &req).expect_err("must refuse");

    assert!(
        matches!(&err, StorageError::SymlinkRefused { path } if path == &work),
        "{err}"
    );
    assert_eq!(sha256_file(&src), sum);
    assert!(Fixture::listing(&outside.join("home")).is_empty());
}

#[test]
fn symlinked_incoming_folder_is_refused_and_nothing_is_created_through_it() {
    let fx = Fixture::new();
    let outside = fx.dir.path().join("elsewhere");
    fs::create_dir(&outside).expect("outside");
    symlink(&outside, fx.layout.profile_home("work").join("Incoming")).expect("symlink");
    let (src, sum) = fx.put("obj", b"payload");
    let dest: Destination = "profile:work/incoming:gaming".parse().expect("dest");
    let req = request(&src, sum, &dest, OsStr::new("x.txt"), true, "item");

    let err = release(&fx.layout, &fx.audit, &req).expect_err("must refuse");

    assert!(matches!(err, StorageError::SymlinkRefused { .. }), "{err}");
    assert!(
        Fixture::listing(&outside).is_empty(),
        "no gaming/ made outside"
    );
    assert_eq!(sha256_file(&src), sum);
}

#[test]
fn incoming_folders_are_created_on_demand_and_private() {
    let fx = Fixture::new();
    let (src, sum) = fx.put("obj", b"from gaming");
    let dest: Destination = "profile:work/incoming:gaming".parse().expect("dest");
    let req = request(&src, sum, &dest, OsStr::new("save.dat"), true, "item");

    let released = release(&fx.layout, &fx.audit, &req).expect("release");

    let incoming = fx.layout.profile_home("work").join("Incoming/gaming");
    assert_eq!(released.path, incoming.join("save.dat"));
    assert_eq!(fs::read(&released.path).expect("read"), b"from gaming");
    let mode = fs::metadata(&incoming).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn layout_create_makes_profile_homes_private() {
    let fx = Fixture::new();
    for dir in [
        fx.layout.root().join("profiles/work"),
        fx.layout.profile_home("work"),
    ] {
        let mode = fs::metadata(&dir).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    }
    assert!(fx.layout.shared().is_dir());
    assert!(
        fx.layout.create(&["../evil"]).is_err(),
        "profile names are checked"
    );
}

#[test]
fn missing_profile_is_a_clear_error() {
    let fx = Fixture::new();
    let (src, sum) = fx.put("obj", b"x");
    let dest = Destination::Profile {
        name: "personal".into(),
    };
    let req = request(&src, sum, &dest, OsStr::new("x"), true, "item");
    let err = release(&fx.layout, &fx.audit, &req).expect_err("no such profile");
    assert!(
        matches!(err, StorageError::DestinationMissing { .. }),
        "{err}"
    );
    assert!(
        !fx.layout.root().join("profiles/personal").exists(),
        "not created by accident"
    );
}

#[test]
fn full_destination_fails_cleanly_and_keeps_the_source() {
    let Some(fx) = Fixture::on(On::TmpfsRoot("64k")) else {
        return;
    };
    let (src, sum) = fx.put("big", &bytes(9, 512 * 1024));
    let dest = Destination::Shared;
    for remove_source in [true, false] {
        let req = request(
            &src,
            sum,
            &dest,
            OsStr::new("big.bin"),
            remove_source,
            "item",
        );

        let err = release(&fx.layout, &fx.audit, &req).expect_err("64 KiB cannot hold 512 KiB");

        assert!(
            matches!(err, StorageError::NoSpace { needed, .. } if needed == 512 * 1024),
            "{err}"
        );
        assert!(err.to_string().contains("no space left"), "{err}");
        assert_eq!(sha256_file(&src), sum, "source intact");
        assert!(
            Fixture::listing(&fx.layout.shared()).is_empty(),
            "nothing partial left"
        );
        assert!(fx.audit.entries().expect("entries").is_empty());
    }
}

#[test]
fn hash_mismatch_is_refused_and_nothing_moves() {
    let fx = Fixture::new();
    let (src, _) = fx.put("obj", b"the real bytes");
    let dest = Destination::Shared;
    let wrong = sha256(b"what the journal says");
    let req = request(&src, wrong, &dest, OsStr::new("x.txt"), true, "item");

    let err = release(&fx.layout, &fx.audit, &req).expect_err("mismatch");

    assert!(matches!(err, StorageError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&hex::encode(wrong)), "{err}");
    assert_eq!(fs::read(&src).expect("read"), b"the real bytes");
    assert!(Fixture::listing(&fx.layout.shared()).is_empty());
    assert!(fx.audit.entries().expect("entries").is_empty());
}

#[test]
fn a_copy_that_does_not_hash_right_is_never_linked_into_place() {
    let fx = Fixture::new();
    let (src, _) = fx.put("obj", &bytes(5, 200_000));
    let dest = Destination::Shared;
    let wrong = sha256(b"something else");
    let req = request(&src, wrong, &dest, OsStr::new("x.bin"), false, "item");
    // Skip the up-front check so that only the verification of the copy stands.
    let options = ReleaseOptions {
        verify_source: false,
        ..ReleaseOptions::default()
    };

    let err = release_with(&fx.layout, &fx.audit, &req, &options).expect_err("copy mismatch");

    assert!(matches!(err, StorageError::HashMismatch { .. }), "{err}");
    assert!(
        Fixture::listing(&fx.layout.shared()).is_empty(),
        "no unverified file visible"
    );
    assert!(src.exists());
}

#[test]
fn source_that_is_a_symlink_is_refused() {
    let fx = Fixture::new();
    let link = fx.store.join("link");
    symlink("/etc/passwd", &link).expect("symlink");
    let dest = Destination::Shared;
    let req = request(&link, [0; 32], &dest, OsStr::new("passwd"), true, "item");
    let err = release(&fx.layout, &fx.audit, &req).expect_err("symlink source");
    assert!(
        matches!(err, StorageError::SourceNotRegular { .. }),
        "{err}"
    );
    assert!(Path::new("/etc/passwd").exists());
}

#[test]
fn hostile_names_land_inside_the_destination_with_safe_names() {
    let fx = Fixture::new();
    let dest = Destination::Shared;
    let long = format!("{}.pdf", "x".repeat(300));
    let raws: Vec<&[u8]> = vec![
        b"../../etc/passwd",
        b"new\nline.com",
        "invoice\u{202E}fdp.exe".as_bytes(),
        b".bashrc",
        b"-rf",
        b"..",
        b"latin1-\xe9t\xe9.txt",
        long.as_bytes(),
    ];
    for (i, raw) in raws.iter().enumerate() {
        let (src, sum) = fx.put(&format!("obj{i}"), &bytes(i as u8, 1000));
        let id = format!("item-{i}");
        let req = request(&src, sum, &dest, OsStr::from_bytes(raw), true, &id);
        let released = release(&fx.layout, &fx.audit, &req).expect("release");
        assert_eq!(
            released.path.parent(),
            Some(fx.layout.shared().as_path()),
            "{raw:?}"
        );
        assert_eq!(released.name, sanitize_name(OsStr::from_bytes(raw)));
        assert_eq!(sha256_file(&released.path), sum);
    }
    let names = Fixture::listing(&fx.layout.shared());
    for name in &names {
        assert!(!name.starts_with('.') && !name.starts_with('-'), "{name:?}");
        assert!(
            !name.chars().any(|c| c.is_control() || c == '\u{202E}'),
            "{name:?}"
        );
        assert!(name.len() <= 255);
    }
    assert!(names.contains(&"invoicefdp.exe".to_owned()), "{names:?}");
    let entries = fx.audit.entries().expect("entries");
    assert_eq!(
        entries[1].original_name, "new\nline.com",
        "original kept in the record"
    );
    assert_eq!(entries[2].original_name, "invoice\u{202E}fdp.exe");
    assert_eq!(
        entries[6].original_name_hex.as_deref(),
        Some(hex::encode(raws[6]).as_str())
    );
    assert_eq!(fx.audit.verify().expect("verify"), raws.len());
}

#[test]
fn find_released_finds_a_numbered_copy_with_the_same_bytes_only() {
    let fx = Fixture::new();
    let shared = fx.layout.shared();
    let name = sanitize_name(OsStr::new("report.pdf"));
    fs::write(shared.join("report.pdf"), b"someone else's").expect("write");
    fs::write(shared.join("report (3).pdf"), b"ours").expect("write");
    fs::write(shared.join("report (4).txt"), b"ours").expect("write");

    let found =
        find_released(&fx.layout, &Destination::Shared, &name, &sha256(b"ours")).expect("find");
    assert_eq!(found, Some(shared.join("report (3).pdf")));
    let none = find_released(
        &fx.layout,
        &Destination::Shared,
        &name,
        &sha256(b"never released"),
    )
    .expect("find");
    assert_eq!(none, None);
    let incoming: Destination = "profile:work/incoming:gaming".parse().expect("dest");
    assert_eq!(
        find_released(&fx.layout, &incoming, &name, &sha256(b"ours")).expect("find"),
        None
    );
}

#[test]
fn resume_after_a_crash_between_link_and_source_removal_leaves_one_copy() {
    let fx = Fixture::new();
    let (src, sum) = fx.put("obj", b"interrupted");
    // The crash: the copy was linked into place, the source not yet removed,
    // the audit entry not yet written.
    fs::write(fx.layout.shared().join("doc.txt"), b"interrupted").expect("placed copy");
    let dest = Destination::Shared;
    let req = request(&src, sum, &dest, OsStr::new("doc.txt"), true, "item-r");

    let resumed = resume_release(&fx.layout, &fx.audit, &req).expect("resume");
    let again = resume_release(&fx.layout, &fx.audit, &req).expect("resume twice");

    assert_eq!(resumed, Some(fx.layout.shared().join("doc.txt")));
    assert_eq!(again, resumed);
    assert!(
        !src.exists(),
        "source removed once the copy is known to be there"
    );
    assert_eq!(
        Fixture::listing(&fx.layout.shared()),
        ["doc.txt"],
        "not visible twice"
    );
    assert!(fx.audit.contains_item("item-r").expect("contains"));
    assert_eq!(fx.audit.verify().expect("verify"), 1, "one entry, not two");
}

#[test]
fn resume_when_nothing_was_placed_says_release_again() {
    let fx = Fixture::new();
    let (src, sum) = fx.put("obj", b"not yet");
    let dest = Destination::Shared;
    let req = request(&src, sum, &dest, OsStr::new("doc.txt"), true, "item");
    assert_eq!(
        resume_release(&fx.layout, &fx.audit, &req).expect("resume"),
        None
    );
    assert_eq!(sha256_file(&src), sum);
    assert!(!fx.audit.contains_item("item").expect("contains"));
}

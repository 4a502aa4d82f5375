//! Attacks on the quarantine through a real zion-sandboxd (issue 18):
//! a sparse terabyte in a profile's Outbox (finding 8), and an audit log cut,
//! emptied, deleted or edited behind the daemon's back (finding 9). Each must
//! fail, and say why where the user looks: the daemon's log, a desktop
//! notification, `Quarantine1.AuditStatus` and `zionctl audit verify`.

mod quarantine_support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use quarantine_support::*;
use zion_tests::TestEnv;

/// Bytes really allocated (st_blocks) by the files under `dir`, recursively.
fn allocated(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            total += allocated(&entry.path());
        } else if meta.is_file() {
            total += meta.blocks() * 512;
        }
    }
    total
}

const TIB: u64 = 1 << 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_terabyte_in_an_outbox_costs_the_store_nothing_and_delays_no_one() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let (server, _notifications) = NotificationServer::start(&env).await;
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let objects = data(&env).join("quarantine/objects");
    let store_before = allocated(&objects);

    // The attack: `truncate -s 1T` in the work profile's Outbox, costing it nothing.
    let huge = outbox(&env).join("huge.iso");
    let part = outbox(&env).join("huge.iso.part");
    std::fs::File::create(&part)
        .expect("create")
        .set_len(TIB)
        .expect("truncate -s 1T");
    std::fs::rename(&part, &huge).expect("into place");
    assert!(
        allocated(&outbox(&env)) < 1 << 20,
        "the sender paid nothing"
    );

    // Meanwhile a browser in another source saves a small file.
    let started = Instant::now();
    let text = b"a small download, not to be kept waiting\n";
    drop_file(&downloads(&env), "small.txt", text);
    let small = eventually(
        "the small file's verdict",
        Duration::from_secs(10),
        || async {
            let items = proxy.list().await.ok()?;
            items
                .into_iter()
                .find(|i| i.name == "small.txt" && !i.verdict.is_empty())
        },
    )
    .await;
    assert_eq!(small.state, "clean", "{small:?}\n{}", daemon.log());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the small file waited {:?}",
        started.elapsed()
    );

    // The terabyte is refused, said so, and left where it was: nothing lost.
    daemon.wait_for_log("huge.iso", Duration::from_secs(10));
    let log = daemon.log();
    assert!(
        log.contains("refused") && log.contains("quota"),
        "the refusal and its reason are logged:\n{log}"
    );
    let (_, summary, body, _) = server.wait_for("huge.iso").await;
    assert!(
        summary.contains("huge.iso") && body.contains("quota"),
        "{summary}: {body}"
    );
    assert_eq!(
        std::fs::metadata(&huge).expect("still in the outbox").len(),
        TIB
    );
    let items = proxy.list().await.expect("list");
    assert!(
        items.iter().all(|i| i.name != "huge.iso"),
        "no item for the terabyte: {items:?}"
    );
    let grown = allocated(&objects).saturating_sub(store_before);
    assert!(
        grown < 1 << 20,
        "the store wrote {grown} bytes for a file that cost the sender nothing"
    );
    // Still serving: another small file from the same profile is taken.
    drop_file(&outbox(&env), "after.txt", b"after the attack\n");
    eventually(
        "the next file's verdict",
        Duration::from_secs(10),
        || async {
            let items = proxy.list().await.ok()?;
            items
                .into_iter()
                .find(|i| i.name == "after.txt" && !i.verdict.is_empty())
        },
    )
    .await;
}

/// A session whose audit log holds three releases; the daemon stopped.
async fn three_releases(env: &TestEnv) -> std::path::PathBuf {
    write_config(env, REVIEW_OUTBOX);
    let mut daemon = Daemon::start(env);
    let (_bus, proxy) = connect_quarantine(env).await;
    for i in 0..3 {
        drop_file(
            &outbox(env),
            &format!("file{i}.txt"),
            format!("released file {i}\n").as_bytes(),
        );
    }
    for i in 0..3 {
        let name = format!("file{i}.txt");
        let item = eventually("a clean verdict", Duration::from_secs(30), || async {
            let items = proxy.list().await.ok()?;
            items
                .into_iter()
                .find(|it| it.name == name && it.state == "clean")
        })
        .await;
        proxy.release(item.id, "shared").await.expect("release");
    }
    let (ok, out, err) = zionctl(env, &["audit", "verify"]);
    assert!(ok, "an untouched log verifies: {out}{err}");
    assert!(out.contains("3 entries"), "{out}");
    let (intact, entries, breaks) = proxy.audit_status().await.expect("AuditStatus");
    assert!(intact && entries == 3 && breaks.is_empty(), "{breaks:?}");
    daemon.kill();
    data(env).join("audit.log")
}

/// Restarts the daemon after an attack on its log and checks that every
/// place the user looks says `what`.
async fn detected_on_restart(env: &TestEnv, what: &str) {
    let (ok, _, err) = zionctl(env, &["audit", "verify"]);
    assert!(!ok, "zionctl audit verify must fail before the restart");
    assert!(err.contains(what), "zionctl says {err:?}, not {what:?}");

    let (server, _notifications) = NotificationServer::start(env).await;
    let daemon = Daemon::start(env);
    let log = daemon.log();
    assert!(
        log.contains("AUDIT LOG BROKEN") && log.contains(what),
        "the daemon's log must say {what:?}:\n{log}"
    );
    let (_, summary, body, _) = server.wait_for("audit log").await;
    assert!(body.contains(what), "{summary}: {body}");
    let (_bus, proxy) = connect_quarantine(env).await;
    let (intact, _, breaks) = proxy.audit_status().await.expect("AuditStatus");
    assert!(!intact, "AuditStatus must say broken");
    assert!(
        breaks.iter().any(|b| b.contains(what)),
        "AuditStatus breaks {breaks:?} must say {what:?}"
    );
    // The break stays reported after the daemon anchored the log again.
    let (ok, _, err) = zionctl(env, &["audit", "verify"]);
    assert!(!ok, "zionctl audit verify must keep failing: {err}");
    assert!(err.contains(what), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_tail_of_the_audit_log_is_detected() {
    let env = TestEnv::new().expect("test environment");
    let log = three_releases(&env).await;
    let text = std::fs::read_to_string(&log).expect("log");
    let kept: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&log, kept.join("\n") + "\n").expect("cut the last entry");
    detected_on_restart(&env, "truncated at entry 3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_audit_log_is_detected() {
    let env = TestEnv::new().expect("test environment");
    let log = three_releases(&env).await;
    std::fs::write(&log, b"").expect("zero the log");
    detected_on_restart(&env, "truncated at entry 1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_audit_log_is_detected() {
    let env = TestEnv::new().expect("test environment");
    let log = three_releases(&env).await;
    std::fs::remove_file(&log).expect("delete the log");
    detected_on_restart(&env, "is missing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_audit_entry_is_detected() {
    let env = TestEnv::new().expect("test environment");
    let log = three_releases(&env).await;
    let text = std::fs::read_to_string(&log).expect("log");
    let edited: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 1 {
                l.replace("\"decided_by\":\"user\"", "\"decided_by\":\"policy\"")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_ne!(edited.join("\n") + "\n", text, "the edit changed something");
    std::fs::write(&log, edited.join("\n") + "\n").expect("edit entry 2");
    detected_on_restart(&env, "line 2: entry was edited").await;
}

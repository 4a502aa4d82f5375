//! Retro-hunt and recall (issue 17) through a real zion-sandboxd
//! (`--no-profiles`) on a private bus, with the real scan worker and libyara:
//! files released clean, then a user rule that matches them added to the
//! rule folder. The released copies are found, named and announced; they
//! move back into the quarantine only when asked, and only while they are
//! still the released content — a profile that swaps its copy for a symlink
//! or for other bytes between the hunt and the recall keeps what it put there.

mod quarantine_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use quarantine_support::*;
use zion_bus::quarantine::ItemInfo;
use zion_bus::recall::RecallInfo;
use zion_bus::Quarantine1Proxy;
use zion_tests::TestEnv;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The canary every test's released file carries, and the rule that learns it.
const CANARY: &[u8] = b"board minutes, ZION-RECALL-CANARY-4417, do not share\n";
const RULE: &str = "rule RecallCanary { meta: author = \"Test User\" description = \"the recall canary\" strings: $c = \"ZION-RECALL-CANARY-4417\" condition: $c }\n";

/// Drops `name` into work's outbox and waits until it is clean.
async fn clean(env: &TestEnv, proxy: &Quarantine1Proxy<'_>, name: &str, bytes: &[u8]) -> ItemInfo {
    drop_file(&outbox(env), name, bytes);
    eventually(&format!("{name} scanned clean"), TIMEOUT, || async {
        let items = proxy.list().await.ok()?;
        items
            .into_iter()
            .find(|i| i.name == name && i.state == "clean")
    })
    .await
}

/// A clean file released by the user to `destination`; where it went.
async fn released(
    env: &TestEnv,
    proxy: &Quarantine1Proxy<'_>,
    name: &str,
    bytes: &[u8],
    destination: &str,
) -> (ItemInfo, PathBuf) {
    let item = clean(env, proxy, name, bytes).await;
    let done = proxy.release(item.id, destination).await.expect("release");
    assert_eq!(done.state, "released", "{done:?}");
    let path = PathBuf::from(&done.detail);
    assert_eq!(std::fs::read(&path).expect("released file"), bytes);
    (done, path)
}

fn work_home(env: &TestEnv) -> PathBuf {
    data(env).join("profiles/work/home")
}

/// The user adds `RULE` to their rule folder the way an editor saves.
fn add_rule(rules: &Path) {
    std::fs::write(rules.join("canary.yar.tmp"), RULE).expect("rule");
    std::fs::rename(rules.join("canary.yar.tmp"), rules.join("canary.yar")).expect("rule in place");
}

fn user_rules(env: &TestEnv) -> PathBuf {
    let dir = env.xdg.config.join("zion/rules");
    std::fs::create_dir_all(&dir).expect("user rule folder");
    dir
}

async fn recall_of(proxy: &Quarantine1Proxy<'_>, id: u64) -> RecallInfo {
    eventually("the recall", TIMEOUT, || async {
        proxy.recall(id).await.ok()
    })
    .await
}

fn copy(recall: &RecallInfo, item: u64) -> &zion_bus::recall::CopyInfo {
    recall
        .copies
        .iter()
        .find(|c| c.item == item)
        .unwrap_or_else(|| panic!("no copy of item {item} in {recall:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_file_a_new_rule_matches_is_recalled_and_moves_back_when_asked() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let rules = user_rules(&env);
    let (server, _notifications) = NotificationServer::start(&env).await;
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let mut recalled_signal = proxy.receive_item_recalled().await.expect("ItemRecalled");

    // The same content released three times (Shared, work's home twice),
    // and a harmless file beside it.
    let (shared, shared_path) = released(&env, &proxy, "minutes.txt", CANARY, "shared").await;
    let (home, home_path) =
        released(&env, &proxy, "minutes-copy.txt", CANARY, "profile:work").await;
    let (edited, edited_path) =
        released(&env, &proxy, "minutes-mine.txt", CANARY, "profile:work").await;
    let (_, other_path) = released(&env, &proxy, "lunch.txt", b"lunch menu\n", "shared").await;
    assert_eq!(shared_path, data(&env).join("shared/minutes.txt"));
    assert_eq!(home_path, work_home(&env).join("minutes-copy.txt"));
    // The profile writes its own notes over one copy after the release.
    std::fs::write(&edited_path, b"my own notes now\n").expect("the profile edits its copy");

    add_rule(&rules);
    let recall = recall_of(&proxy, shared.id).await;

    // Recalled, with the rule, its meta and every destination that received it.
    assert_eq!(recall.sha256, sha256(CANARY));
    assert_eq!(recall.matches.len(), 1, "{recall:?}");
    assert_eq!(recall.matches[0].rule, "RecallCanary");
    assert_eq!(recall.matches[0].author, "Test User");
    assert_eq!(recall.matches[0].description, "the recall canary");
    assert_eq!(recall.copies.len(), 3, "{recall:?}");
    assert_eq!(copy(&recall, shared.id).destination, "shared");
    assert_eq!(copy(&recall, shared.id).status, "present");
    assert_eq!(copy(&recall, home.id).destination, "profile:work");
    assert_eq!(copy(&recall, home.id).profile, "work");
    assert_eq!(copy(&recall, home.id).status, "present");
    let mine = copy(&recall, edited.id);
    assert_eq!(mine.status, "changed", "{mine:?}");
    assert!(
        mine.detail.contains("changed since it was released"),
        "{mine:?}"
    );
    // The signal says so too.
    let signal = tokio::time::timeout(TIMEOUT, recalled_signal.next())
        .await
        .expect("ItemRecalled in time")
        .expect("stream");
    assert_eq!(signal.args().expect("args").recall.sha256, recall.sha256);

    // A notification names where it went and who received it.
    let (_, summary, body, urgency) = server.wait_for("is recalled").await;
    assert_eq!(summary, "minutes.txt is recalled");
    assert_eq!(urgency, 2);
    for needle in [
        "RecallCanary (rule by Test User)",
        "Shared (seen by every profile)",
        "profile work",
        "Profiles that received it: work.",
        "minutes-mine.txt is not recalled",
        &format!("zionctl quarantine recall {}", shared.id),
    ] {
        assert!(body.contains(needle), "{needle:?} not in {body:?}");
    }
    // Each content was scanned once: two contents for four released items.
    let log = daemon.log();
    assert!(
        log.contains("retro-hunt: scanning 2 released contents"),
        "{log}"
    );
    assert_eq!(log.matches("retro-hunt: scanning").count(), 1, "{log}");

    // Never silently: every copy is where it was until the user asks.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(std::fs::read(&shared_path).expect("still there"), CANARY);
    assert_eq!(std::fs::read(&home_path).expect("still there"), CANARY);

    // zionctl marks it (even without --all) and shows the recall.
    let (ok, out, err) = zionctl(&env, &["quarantine", "list"]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("minutes.txt") && l.contains("RECALLED [RecallCanary]")),
        "{out}"
    );
    let (ok, out, err) = zionctl(&env, &["quarantine", "show", &shared.id.to_string()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("RECALLED") && out.contains("RecallCanary (by Test User)"),
        "{out}"
    );
    assert!(
        out.contains("2 copies are still the released file"),
        "{out}"
    );

    // The user asks: both copies that are still the file go back, one held item.
    let (ok, out, err) = zionctl(&env, &["quarantine", "recall", &home.id.to_string()]);
    assert!(ok, "{out}{err}\n{}", daemon.log());
    assert!(out.contains("moved back"), "{out}");
    assert!(!shared_path.exists(), "the Shared copy is gone");
    assert!(!home_path.exists(), "work's copy is gone");
    assert_eq!(
        std::fs::read(&edited_path).expect("the edited copy stays"),
        b"my own notes now\n"
    );
    assert_eq!(
        std::fs::read(&other_path).expect("untouched"),
        b"lunch menu\n"
    );
    let after = proxy.recall(shared.id).await.expect("recall");
    assert_ne!(after.returned_as, 0, "{after:?}");
    assert_eq!(copy(&after, shared.id).status, "returned");
    assert_eq!(copy(&after, home.id).status, "returned");
    assert_eq!(copy(&after, edited.id).status, "changed");
    let held = proxy.get(after.returned_as).await.expect("the held item");
    assert_eq!(held.state, "infected", "{held:?}");
    assert!(held.held);
    assert_eq!(held.sha256, sha256(CANARY));
    assert_eq!(held.matches[0].rule, "RecallCanary");
    assert_eq!(
        std::fs::read(data(&env).join("quarantine/objects").join(sha256(CANARY)))
            .expect("the store holds the content"),
        CANARY
    );
    // Asked again: nothing left to move, and it says why.
    let (ok, _, err) = zionctl(&env, &["quarantine", "recall", &shared.id.to_string()]);
    assert!(!ok && err.contains("nothing to move back"), "{err}");
    let (ok, _, err) = zionctl(&env, &["quarantine", "recall", "9999"]);
    assert!(!ok && err.contains("9999"), "{err}");

    // The hunt ran at the lowest priority, beside the downloads' scans.
    assert_eq!(thread_nice(daemon.child.id(), "zion-retro-hunt"), Some(19));
    assert_eq!(thread_nice(daemon.child.id(), "zion-sandboxd"), Some(0));
}

/// The nice value of the daemon's thread named `name` (`/proc/PID/task/*/stat`, field 19).
fn thread_nice(pid: u32, name: &str) -> Option<i64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.filter_map(Result::ok) {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        let after = &stat[stat.rfind(')')? + 2..];
        return after.split_whitespace().nth(16)?.parse().ok();
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_that_swaps_its_copy_between_hunt_and_recall_keeps_what_it_put_there() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let rules = user_rules(&env);
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;

    let (shared, shared_path) = released(&env, &proxy, "minutes.txt", CANARY, "shared").await;
    let (linked, linked_path) = released(&env, &proxy, "a.txt", CANARY, "profile:work").await;
    let (swapped, swapped_path) = released(&env, &proxy, "b.txt", CANARY, "profile:work").await;
    add_rule(&rules);
    let recall = recall_of(&proxy, shared.id).await;
    assert_eq!(recall.returnable(), 3, "{recall:?}");

    // The attack, after the hunt found every copy present: a.txt becomes a
    // symlink to a file of the profile's own with the very same bytes (a
    // recall that followed it would take that file), b.txt gets new bytes in
    // the same inode.
    let own = work_home(&env).join("private/diary.txt");
    std::fs::create_dir_all(own.parent().expect("parent")).expect("folder");
    std::fs::write(&own, CANARY).expect("own file");
    std::fs::remove_file(&linked_path).expect("remove");
    std::os::unix::fs::symlink(&own, &linked_path).expect("symlink");
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&swapped_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"the profile's own bytes\n"))
        .expect("swap the content");
    let swapped_ino =
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&swapped_path).expect("meta"));

    let moved = proxy.move_back(shared.id).await.expect("move back");

    // Only the Shared copy, which was still the released file, went back.
    assert!(!shared_path.exists());
    assert_eq!(copy(&moved, shared.id).status, "returned", "{moved:?}");
    let a = copy(&moved, linked.id);
    assert_eq!(a.status, "changed", "{a:?}");
    assert!(a.detail.contains("symbolic link"), "{a:?}");
    let b = copy(&moved, swapped.id);
    assert_eq!(b.status, "changed", "{b:?}");
    assert!(b.detail.contains("content changed"), "{b:?}");
    // The symlink was not followed: it, and the file it points to, are as the profile left them.
    let meta = std::fs::symlink_metadata(&linked_path).expect("the link is still there");
    assert!(meta.file_type().is_symlink());
    assert_eq!(std::fs::read_link(&linked_path).expect("link"), own);
    assert_eq!(std::fs::read(&own).expect("own file untouched"), CANARY);
    // The swapped file is the profile's, in place, same inode, its bytes.
    assert_eq!(
        std::fs::read(&swapped_path).expect("kept"),
        b"the profile's own bytes\n"
    );
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&swapped_path).expect("meta")),
        swapped_ino
    );
    // No recall leftovers in the profile's home.
    let leftovers: Vec<String> = std::fs::read_dir(work_home(&env))
        .expect("home")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".zion-recall-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // What the quarantine holds is the released content, nothing of the profile's.
    let held = proxy.get(moved.returned_as).await.expect("held");
    assert_eq!(held.sha256, sha256(CANARY));
    let objects: Vec<String> = std::fs::read_dir(data(&env).join("quarantine/objects"))
        .expect("objects")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(objects, [sha256(CANARY)], "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_added_while_the_daemon_was_down_recalls_at_the_next_start() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let rules = user_rules(&env);
    let mut daemon = Daemon::start(&env);
    let (released_item, path) = {
        let (_bus, proxy) = connect_quarantine(&env).await;
        released(&env, &proxy, "minutes.txt", CANARY, "shared").await
    };
    daemon.kill();

    add_rule(&rules);
    let (server, _notifications) = NotificationServer::start(&env).await;
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;

    let recall = recall_of(&proxy, released_item.id).await;
    assert_eq!(recall.matches[0].rule, "RecallCanary", "{}", daemon.log());
    assert_eq!(copy(&recall, released_item.id).status, "present");
    server.wait_for("minutes.txt is recalled").await;
    // Found, announced, and still not moved.
    assert_eq!(std::fs::read(&path).expect("still there"), CANARY);
}

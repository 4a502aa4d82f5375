//! `org.zionos.Quarantine1` served by a real zion-sandboxd (`--no-profiles`)
//! on a private bus, scanning with the real worker, libyara and the default
//! rules; zionctl against it; notifications to a notification server that is
//! a real peer on that bus.

mod quarantine_support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use quarantine_support::*;
use zion_bus::quarantine::ItemInfo;
use zion_bus::Quarantine1Proxy;
use zion_tests::TestEnv;

const VERDICT_TIMEOUT: Duration = Duration::from_secs(30);

/// Items by name once every one of `names` has a verdict.
async fn verdicts(proxy: &Quarantine1Proxy<'_>, names: &[&str]) -> HashMap<String, ItemInfo> {
    verdicts_within(proxy, names, VERDICT_TIMEOUT).await
}

fn method_error(e: &zbus::Error) -> (String, String) {
    match e {
        zbus::Error::MethodError(name, detail, _) => {
            (name.to_string(), detail.clone().unwrap_or_default())
        }
        other => panic!("expected a D-Bus error reply, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_files_get_their_verdict_in_list_signals_and_notifications() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let (server, _notifications) = NotificationServer::start(&env).await;
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let mut added = proxy.receive_item_added().await.expect("ItemAdded");
    let mut changed = proxy.receive_item_changed().await.expect("ItemChanged");

    let text = b"Meeting notes: nothing to see here.\n";
    drop_file(&outbox(&env), "eicar.com", EICAR);
    drop_file(&outbox(&env), "notes.txt", text);
    let items = verdicts(&proxy, &["eicar.com", "notes.txt"]).await;

    let eicar = &items["eicar.com"];
    assert_eq!(eicar.state, "infected", "{eicar:?}\n{}", daemon.log());
    assert_eq!(eicar.sha256, sha256(EICAR));
    assert_eq!(eicar.size, EICAR.len() as u64);
    assert_eq!(eicar.source, "profile:work");
    assert_eq!(eicar.profile, "work");
    assert!(!eicar.matches.is_empty(), "{eicar:?}");
    for m in &eicar.matches {
        assert!(!m.rule.is_empty(), "{m:?}");
        assert!(!m.author.is_empty(), "a match without its author: {m:?}");
        assert_eq!(m.meta.get("author"), Some(&m.author));
    }
    let notes = &items["notes.txt"];
    assert_eq!(notes.state, "clean", "{notes:?}");
    assert!(notes.matches.is_empty());
    assert_eq!(notes.sha256, sha256(text));

    // ItemAdded for both, already with its verdict: each copy is scanned
    // while its ingest is made durable (issue 17 item 5), and no
    // ItemChanged passes through `scanning`.
    let mut seen_added = Vec::new();
    while seen_added.len() < 2 {
        let signal = tokio::time::timeout(Duration::from_secs(5), added.next())
            .await
            .expect("ItemAdded in time")
            .expect("stream");
        let item = signal.args().expect("args").item;
        seen_added.push((item.name, item.state));
    }
    seen_added.sort();
    assert_eq!(
        seen_added,
        [
            ("eicar.com".to_owned(), "infected".to_owned()),
            ("notes.txt".to_owned(), "clean".to_owned())
        ]
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), changed.next())
            .await
            .is_err(),
        "an item changed after it arrived scanned"
    );

    // One notification per verdict, the infected one urgent and naming the rule's author.
    let received = eventually("two notifications", Duration::from_secs(5), || {
        let received = server.received.lock().expect("lock").clone();
        async move { (received.len() >= 2).then_some(received) }
    })
    .await;
    assert_eq!(received.len(), 2, "{received:?}");
    let infected = received
        .iter()
        .find(|n| n.1 == "eicar.com is infected")
        .unwrap_or_else(|| panic!("no notification for the infected file: {received:?}"));
    assert_eq!(infected.0, "Zion");
    assert!(
        infected.2.contains(&eicar.matches[0].author),
        "{infected:?}"
    );
    assert_eq!(infected.3, 2, "critical urgency");
    assert!(
        received.iter().any(|n| n.1 == "notes.txt is clean"),
        "{received:?}"
    );
}

/// How many verdicts a notification tells: "N files from … are …" tells N,
/// "name is …" one.
fn verdicts_told(summary: &str) -> usize {
    summary
        .strip_suffix(" are clean")
        .and_then(|s| s.split_once(" files from "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(1)
}

/// The attack: a profile writes a flood of files into its Outbox to bury the
/// user's screen in notifications (and whatever one of them says). Before,
/// each verdict was a notification of its own: 60 here. Now they are
/// gathered, one summary per source and kind of verdict, and the infected
/// file among them is still told alone, urgently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_files_from_a_profile_is_one_notification_not_one_each() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let (server, _notifications) = NotificationServer::start(&env).await;
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;

    const FLOOD: usize = 60;
    let stage = env.root().join("stage");
    std::fs::create_dir_all(&stage).expect("stage");
    let mut names: Vec<String> = (0..FLOOD).map(|n| format!("flood-{n:02}.txt")).collect();
    for name in &names {
        std::fs::write(stage.join(name), format!("harmless {name}\n")).expect("write");
    }
    std::fs::write(stage.join("eicar.com"), EICAR).expect("write");
    names.push("eicar.com".into());
    // All at once, as a folder moved into the Outbox arrives.
    for name in &names {
        std::fs::rename(stage.join(name), outbox(&env).join(name)).expect("move in");
    }
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    let items = verdicts(&proxy, &wanted).await;
    assert_eq!(items["eicar.com"].state, "infected");

    let received = eventually(
        "a notification for every verdict",
        Duration::from_secs(10),
        || {
            let received = server.received.lock().expect("lock").clone();
            async move {
                let clean: usize = received
                    .iter()
                    .filter(|n| n.1.ends_with(" clean"))
                    .map(|n| verdicts_told(&n.1))
                    .sum();
                // The infected file's notice may come in a later gathering,
                // or just after the summary of its own: wait for it too.
                let infected = received.iter().any(|n| n.1.ends_with(" infected"));
                (clean >= FLOOD && infected).then_some(received)
            }
        },
    )
    .await;
    let clean: Vec<_> = received
        .iter()
        .filter(|n| n.1.ends_with(" clean"))
        .collect();
    let told: usize = clean.iter().map(|n| verdicts_told(&n.1)).sum();
    assert_eq!(told, FLOOD, "every clean verdict told once: {received:#?}");
    assert!(
        clean.len() <= 4,
        "{} notifications for {FLOOD} clean files: the flood reached the screen\n{received:#?}\n{}",
        clean.len(),
        daemon.log()
    );
    assert!(
        clean
            .iter()
            .any(|n| n.1.contains(" files from profile:work are clean") && n.2.contains("more")),
        "{received:#?}"
    );
    let infected: Vec<_> = received
        .iter()
        .filter(|n| n.1.ends_with(" infected"))
        .collect();
    assert_eq!(infected.len(), 1, "{received:#?}");
    assert_eq!(infected[0].1, "eicar.com is infected");
    assert_eq!(infected[0].3, 2, "critical urgency");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_delete_and_rescan_do_what_they_say_and_refuse_with_clear_errors() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;

    let report = b"%PDF-1.4 pretend quarterly report\n".repeat(1000);
    drop_file(&outbox(&env), "report.pdf", &report);
    drop_file(&outbox(&env), "eicar.com", EICAR);
    let items = verdicts(&proxy, &["report.pdf", "eicar.com"]).await;
    let (clean, infected) = (&items["report.pdf"], &items["eicar.com"]);
    assert_eq!(clean.state, "clean");
    assert_eq!(infected.state, "infected");

    // No notification server on this bus: a log line, and the verdicts still came.
    daemon.wait_for_log("no desktop notification", Duration::from_secs(5));

    // Release of an infected item: refused, saying why and how.
    let err = proxy
        .release(infected.id, "shared")
        .await
        .expect_err("an infected item is not released");
    let (name, message) = method_error(&err);
    assert_eq!(name, "org.zionos.Quarantine1.Error.NotAllowed");
    assert!(message.contains("infected"), "{message}");
    assert!(message.contains("override"), "{message}");
    assert!(!data(&env).join("shared/eicar.com").exists());

    // A destination that is no profile: the known ones are named.
    let err = proxy
        .release(clean.id, "profile:nope")
        .await
        .expect_err("unknown profile");
    let (name, message) = method_error(&err);
    assert_eq!(name, "org.zionos.Quarantine1.Error.InvalidDestination");
    assert!(
        message.contains("nope") && message.contains("work"),
        "{message}"
    );
    let err = proxy.get(999).await.expect_err("no such item");
    let (name, message) = method_error(&err);
    assert_eq!(name, "org.zionos.Quarantine1.Error.NoSuchItem");
    assert!(message.contains("999"), "{message}");

    // Release of a clean item: its bytes in shared storage, an audit entry.
    let released = proxy
        .release(clean.id, "shared")
        .await
        .expect("a clean item is released");
    assert_eq!(released.state, "released");
    let path = data(&env).join("shared/report.pdf");
    assert_eq!(released.detail, path.display().to_string());
    assert_eq!(std::fs::read(&path).expect("released file"), report);
    let audit = std::fs::read_to_string(data(&env).join("audit.log")).expect("audit log");
    let entry: serde_json::Value = audit
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|e: &serde_json::Value| e["sha256"] == clean.sha256.as_str())
        .unwrap_or_else(|| panic!("no audit entry for the release:\n{audit}"));
    assert_eq!(entry["decided_by"], "user");
    assert_eq!(entry["destination"], "shared");
    assert_eq!(entry["item_id"], clean.id.to_string());
    // Released once: asking again is refused.
    let err = proxy.release(clean.id, "shared").await.expect_err("twice");
    assert_eq!(
        method_error(&err).0,
        "org.zionos.Quarantine1.Error.NotAllowed"
    );

    // Rescan: back through scanning to the same verdict.
    let mut changed = proxy.receive_item_changed().await.expect("ItemChanged");
    proxy.rescan(infected.id).await.expect("rescan");
    let mut states = Vec::new();
    while states.last().map(String::as_str) != Some("infected") {
        let signal = tokio::time::timeout(Duration::from_secs(10), changed.next())
            .await
            .expect("ItemChanged in time")
            .expect("stream");
        let item = signal.args().expect("args").item;
        if item.id == infected.id {
            states.push(item.state);
        }
    }
    assert_eq!(states, ["stored", "scanning", "infected"]);

    // The user's override releases it to the profile.
    let overridden = proxy
        .release_override(infected.id, "profile:work")
        .await
        .expect("override");
    let path = data(&env).join("profiles/work/home/eicar.com");
    assert_eq!(overridden.detail, path.display().to_string());
    assert_eq!(std::fs::read(&path).expect("released"), EICAR);

    // Delete: the item says so and its object leaves the store.
    let text = b"delete me";
    drop_file(&outbox(&env), "junk.txt", text);
    let junk = verdicts(&proxy, &["junk.txt"]).await["junk.txt"].clone();
    let object = data(&env).join("quarantine/objects").join(&junk.sha256);
    assert!(object.exists());
    proxy.delete(junk.id).await.expect("delete");
    assert_eq!(proxy.get(junk.id).await.expect("get").state, "deleted");
    assert!(!object.exists(), "the deleted item's object is gone");
    let err = proxy.delete(junk.id).await.expect_err("twice");
    assert_eq!(
        method_error(&err).0,
        "org.zionos.Quarantine1.Error.NotAllowed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zionctl_quarantine_shows_verdicts_and_releases() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let (ok, _, err) = zionctl(&env, &["quarantine", "list"]);
    assert!(!ok);
    assert!(err.contains("zion-sandboxd is not running"), "{err}");

    let _daemon = Daemon::start(&env);
    let (ok, out, err) = zionctl(&env, &["quarantine", "list"]);
    assert!(ok, "{err}");
    assert!(out.contains("the quarantine is empty"), "{out}");

    // `watch` prints changes as they come.
    let mut watch = env
        .command(zionctl_bin())
        .args(["quarantine", "watch", "--count", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("watch");
    let mut watch_out = std::io::BufReader::new(watch.stdout.take().expect("stdout"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut watch_out, &mut first).expect("watch says it watches");
    assert!(first.contains("watching"), "{first}");

    drop_file(&outbox(&env), "invoice.com", EICAR);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let eicar = verdicts(&proxy, &["invoice.com"]).await["invoice.com"].clone();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut watch_out, &mut rest).expect("watch output");
    assert!(watch.wait().expect("watch exits").success());
    // Scanned while it was made durable, it arrives with its verdict.
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.len(), 1, "{rest}");
    assert!(
        lines[0].starts_with("added")
            && lines[0].contains("invoice.com")
            && lines[0].contains("infected"),
        "{rest}"
    );

    let (ok, out, err) = zionctl(&env, &["quarantine", "list"]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("invoice.com"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("infected") && line.contains(&eicar.matches[0].rule),
        "{line}"
    );

    let id = eicar.id.to_string();
    let (ok, out, err) = zionctl(&env, &["quarantine", "show", &id]);
    assert!(ok, "{err}");
    assert!(out.contains(&eicar.sha256), "{out}");
    assert!(
        out.contains("author") && out.contains(&eicar.matches[0].author),
        "{out}"
    );
    assert!(out.contains("profile:work"), "{out}");

    let (ok, _, err) = zionctl(&env, &["quarantine", "release", &id, "shared"]);
    assert!(!ok);
    assert!(err.contains("--override"), "{err}");
    let (ok, out, err) = zionctl(
        &env,
        &["quarantine", "release", "--override", &id, "shared"],
    );
    assert!(ok, "{err}");
    let path = data(&env).join("shared/invoice.com");
    assert!(out.contains(&path.display().to_string()), "{out}");
    assert_eq!(std::fs::read(&path).expect("released"), EICAR);

    let (ok, out, _) = zionctl(&env, &["quarantine", "list"]);
    assert!(ok && out.contains("the quarantine is empty"), "{out}");
    let (ok, out, _) = zionctl(&env, &["quarantine", "list", "--all"]);
    assert!(ok && out.contains("released"), "{out}");
    let (ok, _, err) = zionctl(&env, &["quarantine", "delete", "42"]);
    assert!(!ok && err.contains("no quarantine item 42"), "{err}");
}

/// A zip made by the `zip` tool from `(name, bytes)` files, with `extra`
/// arguments (`-P password`).
fn zip_tool(env: &TestEnv, archive: &str, files: &[(&str, &[u8])], extra: &[&str]) -> Vec<u8> {
    let dir = env.root().join(format!("{archive}.d"));
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write member");
    }
    let status = std::process::Command::new("zip")
        .arg("-q")
        .args(extra)
        .arg(env.root().join(archive))
        .args(files.iter().map(|(name, _)| *name))
        .current_dir(&dir)
        .status()
        .expect("run zip");
    assert!(status.success(), "zip: {status}");
    std::fs::read(env.root().join(archive)).expect("the zip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_member_match_is_named_and_an_encrypted_archive_is_held() {
    if !zion_tests::skip::installed("zip", "zip") {
        return;
    }
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let infected = zip_tool(
        &env,
        "invoice.zip",
        &[("invoice.pdf", b"%PDF-1.4\n"), ("docs/readme.exe", EICAR)],
        &[],
    );
    let secret = zip_tool(
        &env,
        "secret.zip",
        &[("contract.txt", b"terms\n")],
        &["-P", "pw"],
    );
    drop_file(&outbox(&env), "invoice.zip", &infected);
    drop_file(&outbox(&env), "secret.zip", &secret);
    let items = verdicts(&proxy, &["invoice.zip", "secret.zip"]).await;

    let invoice = &items["invoice.zip"];
    assert_eq!(invoice.state, "infected", "{invoice:?}\n{}", daemon.log());
    assert!(
        invoice
            .matches
            .iter()
            .any(|m| m.member == "docs/readme.exe"),
        "{invoice:?}"
    );
    let (ok, out, err) = zionctl(&env, &["quarantine", "show", &invoice.id.to_string()]);
    assert!(ok, "{err}");
    assert!(out.contains("invoice.zip ▸ docs/readme.exe"), "{out}");

    // Encrypted: held for review as unscannable, never clean.
    let secret = &items["secret.zip"];
    assert_eq!(secret.state, "error", "{secret:?}");
    assert_eq!(secret.verdict, "unscannable", "{secret:?}");
    assert_eq!(
        secret.detail, "unscannable: encrypted: contract.txt",
        "{secret:?}"
    );
    let (ok, out, err) = zionctl(&env, &["quarantine", "show", &secret.id.to_string()]);
    assert!(ok, "{err}");
    assert!(out.contains("unscannable: encrypted"), "{out}");
    let (ok, _, err) = zionctl(
        &env,
        &["quarantine", "release", &secret.id.to_string(), "shared"],
    );
    assert!(!ok && err.contains("--override"), "{err}");
}

/// `[quarantine] archives` reaches the confined scan worker: with at most
/// two members, a zip of two is scanned clean and one of three is refused
/// as a bomb and held, never called clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_archive_limits_are_the_scanners() {
    if !zion_tests::skip::installed("zip", "zip") {
        return;
    }
    let env = TestEnv::new().expect("test environment");
    write_config(
        &env,
        &format!("archives = {{ members = 2 }}\n{REVIEW_OUTBOX}"),
    );
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let two = zip_tool(
        &env,
        "two.zip",
        &[("a.txt", b"a\n"), ("b.txt", b"b\n")],
        &[],
    );
    let three = zip_tool(
        &env,
        "three.zip",
        &[("c.txt", b"c\n"), ("d.txt", b"d\n"), ("e.txt", b"e\n")],
        &[],
    );
    drop_file(&outbox(&env), "two.zip", &two);
    drop_file(&outbox(&env), "three.zip", &three);
    let items = verdicts(&proxy, &["two.zip", "three.zip"]).await;
    let two = &items["two.zip"];
    assert_eq!(two.state, "clean", "{two:?}\n{}", daemon.log());
    let three = &items["three.zip"];
    assert_ne!(three.state, "clean", "{three:?}");
    assert!(
        three.detail.contains("too many members"),
        "{three:?}\n{}",
        daemon.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_rule_rescans_what_the_quarantine_holds() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let user_rules = env.xdg.config.join("zion/rules");
    std::fs::create_dir_all(&user_rules).expect("user rule folder");
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;

    let text = b"quarterly figures: ZION-CANARY-7731\n";
    drop_file(&outbox(&env), "figures.txt", text);
    let before = verdicts(&proxy, &["figures.txt"]).await["figures.txt"].clone();
    assert_eq!(before.state, "clean");

    // The user adds a rule that matches it: the item is scanned again and caught.
    let rule = "rule Canary { meta: author = \"Test User\" description = \"the canary\" strings: $c = \"ZION-CANARY-7731\" condition: $c }\n";
    std::fs::write(user_rules.join("canary.yar.tmp"), rule).expect("rule");
    std::fs::rename(
        user_rules.join("canary.yar.tmp"),
        user_rules.join("canary.yar"),
    )
    .expect("rule in place");
    let after = eventually("the rescan with the new rule", VERDICT_TIMEOUT, || async {
        let item = proxy.get(before.id).await.ok()?;
        (item.state == "infected").then_some(item)
    })
    .await;
    assert_eq!(after.matches.len(), 1, "{after:?}");
    assert_eq!(after.matches[0].rule, "Canary");
    assert_eq!(after.matches[0].author, "Test User");
    assert!(daemon.log().contains("rescanning"), "{}", daemon.log());

    // A broken rule file changes nothing: the rules in force stay, and it is said where.
    std::fs::write(
        user_rules.join("broken.yar"),
        "rule Broken { condition: }\n",
    )
    .expect("rule");
    daemon.wait_for_log("broken.yar", Duration::from_secs(10));
    proxy.rescan(before.id).await.expect("rescan");
    let again = eventually("the rescan", VERDICT_TIMEOUT, || async {
        let item = proxy.get(before.id).await.ok()?;
        (item.state == "infected" && item.changed >= after.changed).then_some(item)
    })
    .await;
    assert_eq!(again.matches[0].rule, "Canary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_rule_folder_made_after_the_start_is_watched_without_a_restart() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let user_rules = env.xdg.config.join("zion/rules");
    assert!(!user_rules.exists(), "a fresh account has no rule folder");
    let daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;

    let text = b"minutes of the board: ZION-LATE-RULES-2209\n";
    drop_file(&outbox(&env), "minutes.txt", text);
    let before = verdicts(&proxy, &["minutes.txt"]).await["minutes.txt"].clone();
    assert_eq!(before.state, "clean");

    // The user makes the folder now, and drops a rule into it.
    std::fs::create_dir_all(&user_rules).expect("user rule folder");
    let rule = "rule LateFolder { meta: author = \"Test User\" strings: $c = \"ZION-LATE-RULES-2209\" condition: $c }\n";
    std::fs::write(user_rules.join("late.yar"), rule).expect("rule");
    let after = eventually(
        "the rescan with the late folder's rule",
        VERDICT_TIMEOUT,
        || async {
            let item = proxy.get(before.id).await.ok()?;
            (item.state == "infected").then_some(item)
        },
    )
    .await;
    assert_eq!(after.matches.len(), 1, "{after:?}");
    assert_eq!(after.matches[0].rule, "LateFolder");
    assert!(daemon.log().contains("rescanning"), "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_release_moves_clean_items_after_the_delay_but_never_held_or_infected_ones() {
    let env = TestEnv::new().expect("test environment");
    write_config(
        &env,
        "auto_release = \"2s\"\ndefault_destination = \"profile:work\"",
    );
    let inbox = downloads(&env);
    let _daemon = Daemon::start(&env);
    let (_bus, proxy) = connect_quarantine(&env).await;

    drop_file(&inbox, "a.txt", b"first clean file");
    drop_file(&inbox, "b.txt", b"second clean file");
    drop_file(&inbox, "eicar.com", EICAR);
    let items = verdicts(&proxy, &["a.txt", "b.txt", "eicar.com"]).await;
    proxy.hold(items["b.txt"].id, true).await.expect("hold");

    // Still clean and in quarantine before the delay is over.
    assert_eq!(
        proxy.get(items["a.txt"].id).await.expect("get").state,
        "clean"
    );
    let released = eventually("the automatic release", Duration::from_secs(10), || async {
        let item = proxy.get(items["a.txt"].id).await.ok()?;
        (item.state == "released").then_some(item)
    })
    .await;
    // Judged by the item's own times (seconds), not by when this test saw
    // the verdict: on a loaded machine it may see it late.
    let clean_at = items["a.txt"].changed;
    assert!(
        released.changed >= clean_at + 2,
        "released too early: clean at {clean_at}, released at {}",
        released.changed
    );
    let home = data(&env).join("profiles/work/home");
    assert_eq!(released.detail, home.join("a.txt").display().to_string());
    assert_eq!(
        std::fs::read(home.join("a.txt")).expect("released"),
        b"first clean file"
    );

    // Two more seconds: the held and the infected item have not moved.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = proxy.get(items["b.txt"].id).await.expect("get");
    assert_eq!((held.state.as_str(), held.held), ("clean", true));
    assert_eq!(
        proxy.get(items["eicar.com"].id).await.expect("get").state,
        "infected"
    );
    assert!(!home.join("eicar.com").exists() && !home.join("b.txt").exists());

    // Let go, it leaves too.
    proxy.hold(items["b.txt"].id, false).await.expect("unhold");
    eventually(
        "the release once unheld",
        Duration::from_secs(10),
        || async {
            let item = proxy.get(items["b.txt"].id).await.ok()?;
            (item.state == "released").then_some(())
        },
    )
    .await;
}

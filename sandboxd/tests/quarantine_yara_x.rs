//! `[quarantine] engine = "yara-x"` end to end: a real zion-sandboxd
//! (`--no-profiles`) on a private bus compiles the default rules with YARA-X,
//! its confined workers scan with them, and a dropped EICAR file is infected
//! while a text file is clean; a rule added while it runs is compiled by
//! YARA-X too and takes effect. Built only with the `yara-x` feature
//! (`make test-yara-x`), which builds the daemon's worker with YARA-X too.

mod quarantine_support;

use std::collections::HashMap;
use std::time::Duration;

use quarantine_support::*;
use zion_bus::quarantine::ItemInfo;
use zion_bus::Quarantine1Proxy;
use zion_tests::TestEnv;

const VERDICT_TIMEOUT: Duration = Duration::from_secs(60);

/// Items by name once every one of `names` has a verdict.
async fn verdicts(proxy: &Quarantine1Proxy<'_>, names: &[&str]) -> HashMap<String, ItemInfo> {
    verdicts_within(proxy, names, VERDICT_TIMEOUT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_with_yara_x_catches_eicar_and_follows_a_rule_change() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, &format!("engine = \"yara-x\"\n{REVIEW_OUTBOX}"));
    let user_rules = env.xdg.config.join("zion/rules");
    std::fs::create_dir_all(&user_rules).expect("user rule folder");
    let daemon = Daemon::start(&env);
    assert!(
        daemon.log().contains("engine yara-x"),
        "the rules are compiled by YARA-X:\n{}",
        daemon.log()
    );
    let (_bus, proxy) = connect_quarantine(&env).await;

    let text = b"Meeting notes: nothing to see here, zion-yarax-marker.\n";
    drop_file(&outbox(&env), "eicar.com", EICAR);
    drop_file(&outbox(&env), "notes.txt", text);
    let items = verdicts(&proxy, &["eicar.com", "notes.txt"]).await;
    let eicar = &items["eicar.com"];
    assert_eq!(eicar.state, "infected", "{eicar:?}\n{}", daemon.log());
    let mut rules: Vec<&str> = eicar.matches.iter().map(|m| m.rule.as_str()).collect();
    rules.sort();
    assert_eq!(rules, ["EICAR_Test_File", "EICAR_Test_String"], "{eicar:?}");
    for m in &eicar.matches {
        assert_eq!(m.author, "Zion project", "meta read from YARA-X: {m:?}");
    }
    let notes = &items["notes.txt"];
    assert_eq!(notes.state, "clean", "{notes:?}\n{}", daemon.log());

    // A user rule that matches the notes: the watcher recompiles with
    // YARA-X, the workers reload, and the held notes are rescanned.
    let rule = "rule Yarax_Marker { meta: author = \"Test User\" strings: $m = \"zion-yarax-marker\" condition: $m }\n";
    std::fs::write(user_rules.join("marker.yar.tmp"), rule).expect("rule");
    std::fs::rename(
        user_rules.join("marker.yar.tmp"),
        user_rules.join("marker.yar"),
    )
    .expect("rule in place");
    let notes = eventually(
        "the notes recalled by the new rule",
        VERDICT_TIMEOUT,
        || async {
            let items = proxy.list().await.ok()?;
            items
                .into_iter()
                .find(|i| i.name == "notes.txt" && i.state == "infected")
        },
    )
    .await;
    assert!(
        notes.matches.iter().any(|m| m.rule == "Yarax_Marker"),
        "{notes:?}\n{}",
        daemon.log()
    );

    // A broken rule changes nothing, and YARA-X's complaint names file and line.
    std::fs::write(
        user_rules.join("broken.yar"),
        "rule Fine { condition: true }\nrule Broken { condition: }\n",
    )
    .expect("rule");
    daemon.wait_for_log("broken.yar:2", Duration::from_secs(20));
}

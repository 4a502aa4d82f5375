//! The scanner with libyara and real rules: the corpus from make-corpus.sh
//! (EICAR and its variants infected, the rest clean), the shared rule sets as
//! user folders, a broken rule file, and a rule change picked up by the
//! watcher.

#[path = "scanner_support.rs"]
mod scanner_support;

use std::sync::mpsc;
use std::time::Duration;

use scanner_support::{corpus, eicar, regular_files, scan_relative, shared_rules_dir, RulesEnv};
use zion_quarantine::Verdict;
use zion_scanner::{CompiledRules, RuleSources, RuleWatcher, RulesError, RulesEvent, Scanner};

#[test]
fn eicar_and_its_variants_are_infected_and_the_rest_of_the_corpus_is_clean() {
    let corpus = corpus();
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let expected = corpus.expected_eicar();
    assert!(
        expected.len() >= 10,
        "corpus lists its EICAR files: {expected:?}"
    );

    let mut wrong = Vec::new();
    for relative in &expected {
        match scan_relative(&scanner, &corpus.root, relative) {
            Verdict::Infected { matches } => {
                let m = matches
                    .iter()
                    .find(|m| m.rule == "EICAR_Test_String")
                    .unwrap_or_else(|| panic!("{relative:?}: EICAR rule in {matches:?}"));
                assert_eq!(m.namespace, "zion", "{relative:?}");
                assert_eq!(m.author(), Some("Zion project"), "{relative:?}");
                assert!(m.description().is_some_and(|d| d.contains("EICAR")));
                assert_eq!(m.tags, vec!["test_file".to_string()]);
            }
            other => wrong.push(format!("{}: {other:?}, want infected", relative.display())),
        }
    }
    let files = regular_files(&corpus.root);
    assert!(files.len() > 100, "corpus has files: {}", files.len());
    let mut clean = 0;
    let mut unpacked = Vec::new();
    for relative in files.iter().filter(|f| !expected.contains(f)) {
        match scanner.scan(&corpus.root.join(relative)) {
            Verdict::Clean => clean += 1,
            // EICAR compressed inside an archive: found by unpacking only,
            // and then named by its member path.
            Verdict::Infected { matches }
                if matches
                    .iter()
                    .all(|m| m.rule.starts_with("EICAR_") && !m.member.is_empty()) =>
            {
                unpacked.push((
                    relative.clone(),
                    zion_quarantine::member_path(&matches[0].member),
                ))
            }
            other => wrong.push(format!("{}: {other:?}, want clean", relative.display())),
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    assert!(clean > 100);
    assert!(
        unpacked.contains(&("eicar/eicar.tar.gz".into(), "./eicar.com".into())),
        "{unpacked:?}"
    );
    let near_miss = corpus.root.join("eicar/not-eicar-near-miss.txt");
    assert_eq!(scanner.scan(&near_miss), Verdict::Clean);
}

#[test]
fn the_exact_eicar_file_also_matches_the_strict_rule() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let Verdict::Infected { matches } = scanner.scan(&env.sample("eicar.com", &eicar())) else {
        panic!("eicar.com is infected");
    };
    let mut rules: Vec<&str> = matches.iter().map(|m| m.rule.as_str()).collect();
    rules.sort();
    assert_eq!(rules, ["EICAR_Test_File", "EICAR_Test_String"]);
    let mut padded = vec![b'A'; 200];
    padded.extend_from_slice(&eicar());
    let Verdict::Infected { matches } = scanner.scan(&env.sample("embedded.bin", &padded)) else {
        panic!("embedded EICAR is infected");
    };
    assert_eq!(matches.len(), 1, "only the anywhere rule: {matches:?}");
}

#[test]
fn shared_rule_sets_compile_as_user_folders_and_scan() {
    let rl = shared_rules_dir().join("reversinglabs");
    let sb = shared_rules_dir().join("signature-base");
    if !rl.is_dir() || !sb.is_dir() {
        zion_tests::skip::not_installed(&format!(
            "shared rule sets not found under {}: shared/ belongs beside the checkout \
             (or set ZION_SHARED_DATA)",
            shared_rules_dir().display()
        ));
        return;
    }
    let env = RulesEnv::new();
    let sources = RuleSources::new(&env.default_dir)
        .with_user_dir(&rl)
        .with_user_dir(&sb);
    let folders = sources.folders().expect("folders");
    let namespaces: Vec<&str> = folders.iter().map(|f| f.namespace.as_str()).collect();
    assert_eq!(namespaces, ["zion", "reversinglabs", "signature-base"]);
    let mut compiled = CompiledRules::compile(&sources).expect("shared rule sets compile");
    assert!(compiled.rule_count > 6000, "{} rules", compiled.rule_count);
    assert!(compiled.files.len() > 900, "{} files", compiled.files.len());
    compiled.save(&env.rules_file).expect("save");

    let scanner = Scanner::new(env.config()).expect("scanner");
    let corpus = corpus();
    let Verdict::Infected { matches } = scanner.scan(&corpus.root.join("eicar/eicar.com")) else {
        panic!("EICAR is infected with the big rule set too");
    };
    assert!(matches.iter().any(|m| m.namespace == "zion"));
    for relative in ["text", "pe", "elf", "pdf"] {
        let dir = corpus.root.join(relative);
        let first = regular_files(&dir).into_iter().next().expect("a file");
        let verdict = scanner.scan(&dir.join(&first));
        assert!(
            matches!(verdict, Verdict::Clean | Verdict::Infected { .. }),
            "{relative}/{}: {verdict:?}",
            first.display()
        );
        if let Verdict::Infected { matches } = verdict {
            // Whatever matched must carry its author (DRL 1.1).
            for m in matches.iter().filter(|m| m.namespace == "signature-base") {
                assert!(m.author().is_some(), "{m:?}");
            }
        }
    }
}

#[test]
fn rule_file_with_a_syntax_error_is_reported_with_file_and_line() {
    let env = RulesEnv::new();
    let (bad, diagnostics) = env.compile_a_broken_rule();
    let first = diagnostics.first().expect("a diagnostic");
    assert_eq!(first.file, bad);
    assert_eq!(first.line, 6, "{first}");
    let text = zion_scanner::RulesError::Syntax(diagnostics.clone()).to_string();
    assert!(text.contains("broken.yar:6:"), "{text}");
}

#[test]
fn broken_rule_edit_keeps_the_old_rules_in_force() {
    let env = RulesEnv::new();
    let (tx, rx) = mpsc::channel();
    let _watcher = RuleWatcher::start(env.sources(), env.rules_file.clone(), move |e| {
        let _ = tx.send(e);
    })
    .expect("watcher");
    let before = std::fs::read(&env.rules_file).expect("rules file");
    std::fs::write(
        env.user_dir.join("typo.yar"),
        "rule typo { condition: nosuchthing }\n",
    )
    .expect("write rule");
    match rx
        .recv_timeout(Duration::from_secs(10))
        .expect("watcher reports")
    {
        RulesEvent::Rejected(RulesError::Syntax(d)) => {
            assert!(d[0].file.ends_with("typo.yar") && d[0].line == 1, "{d:?}");
        }
        other => panic!("want a rejected recompile, got {other:?}"),
    }
    assert_eq!(std::fs::read(&env.rules_file).expect("rules file"), before);
    let scanner = env.scanner();
    assert!(matches!(
        scanner.scan(&env.sample("eicar.com", &eicar())),
        Verdict::Infected { .. }
    ));
}

#[test]
fn changed_rule_file_is_recompiled_and_the_new_rule_matches() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let sample = env.sample("invoice.txt", b"hello ZION-TEST-MARKER-7f3a world\n");
    assert_eq!(scanner.scan(&sample), Verdict::Clean);

    let (tx, rx) = mpsc::channel();
    let _watcher = RuleWatcher::start(env.sources(), env.rules_file.clone(), move |e| {
        let _ = tx.send(e);
    })
    .expect("watcher");
    std::fs::write(
        env.user_dir.join("marker.yara"),
        "rule Zion_Test_Marker : custom {\n  meta:\n    author = \"tester\"\n    score = 70\n    \
         active = true\n  strings:\n    $m = \"ZION-TEST-MARKER-7f3a\"\n  condition:\n    $m\n}\n",
    )
    .expect("write rule");
    match rx
        .recv_timeout(Duration::from_secs(10))
        .expect("watcher reports")
    {
        RulesEvent::Recompiled { rule_count, files } => {
            assert_eq!((rule_count, files), (3, 2));
        }
        other => panic!("want a recompile, got {other:?}"),
    }
    // Held items are rescanned with the new rules once the scanner reloads.
    scanner.reload();
    let Verdict::Infected { matches } = scanner.scan(&sample) else {
        panic!("the new rule matches after the reload");
    };
    assert_eq!(matches.len(), 1);
    let m = &matches[0];
    assert_eq!(
        (m.rule.as_str(), m.namespace.as_str()),
        ("Zion_Test_Marker", "mine")
    );
    assert_eq!(m.tags, ["custom"]);
    assert_eq!(m.author(), Some("tester"));
    assert_eq!(m.meta.get("score").map(String::as_str), Some("70"));
    assert_eq!(m.meta.get("active").map(String::as_str), Some("true"));
}

#[test]
fn missing_default_rules_are_an_error_not_an_empty_rule_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = CompiledRules::compile(&RuleSources::new(dir.path())).expect_err("no rules");
    assert!(matches!(err, RulesError::NoDefaultRules(_)), "{err}");
}

#[test]
fn a_rule_folder_made_after_the_watcher_started_is_watched_and_its_rules_compiled() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let sample = env.sample("invoice.txt", b"hello ZION-LATE-FOLDER-51c2 world\n");
    assert_eq!(scanner.scan(&sample), Verdict::Clean);
    // `~/.config/zion/rules` on a fresh account: not even `zion/` exists.
    let late = env.dir.path().join("config/zion/rules");
    let sources = RuleSources::new(&env.default_dir).with_user_dir(&late);

    let (tx, rx) = mpsc::channel();
    let _watcher = RuleWatcher::start(sources, env.rules_file.clone(), move |e| {
        let _ = tx.send(e);
    })
    .expect("watcher");
    // Something unrelated beside it is no rule change.
    std::fs::create_dir_all(env.dir.path().join("config/other")).expect("mkdir");
    std::fs::write(env.dir.path().join("config/other/settings"), b"x").expect("write");
    assert!(
        rx.recv_timeout(Duration::from_millis(800)).is_err(),
        "an unrelated folder caused a recompile"
    );

    std::fs::create_dir_all(&late).expect("mkdir -p the rule folder");
    std::fs::write(
        late.join("late.yar"),
        "rule Late_Folder { strings: $m = \"ZION-LATE-FOLDER-51c2\" condition: $m }\n",
    )
    .expect("write rule");
    let mut recompiled = None;
    while let Ok(event) = rx.recv_timeout(Duration::from_secs(10)) {
        match event {
            RulesEvent::Recompiled { rule_count, files } => {
                recompiled = Some((rule_count, files));
                if files == 2 {
                    break;
                }
            }
            other => panic!("want a recompile, got {other:?}"),
        }
    }
    assert_eq!(
        recompiled,
        Some((3, 2)),
        "the late folder's rule is compiled"
    );
    scanner.reload();
    let Verdict::Infected { matches } = scanner.scan(&sample) else {
        panic!("the late folder's rule matches after the reload");
    };
    assert_eq!(
        (matches[0].rule.as_str(), matches[0].namespace.as_str()),
        ("Late_Folder", "rules")
    );

    // Removed and made again: still watched.
    std::fs::remove_dir_all(&late).expect("rm -r");
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(RulesEvent::Recompiled { files, .. }) => assert_eq!(files, 1),
        other => panic!("want a recompile without the folder, got {other:?}"),
    }
    std::fs::create_dir(&late).expect("mkdir again");
    std::fs::write(late.join("again.yar"), "rule Again { condition: false }\n").expect("write");
    let mut files_now = 0;
    while let Ok(event) = rx.recv_timeout(Duration::from_secs(10)) {
        if let RulesEvent::Recompiled { files, .. } = event {
            files_now = files;
            if files == 2 {
                break;
            }
        }
    }
    assert_eq!(files_now, 2, "the folder made again is watched");
}

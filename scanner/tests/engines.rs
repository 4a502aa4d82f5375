//! libyara and YARA-X side by side (issue 17 item 7): the same rules (Zion's
//! defaults and both shared rule sets) compiled by each, every file of the
//! corpus scanned by each engine's real confined worker, and the verdicts
//! compared file by file: the same kind, the same rules (by namespace and
//! name) and, inside archives, the same member paths. A rule file that does
//! not compile is refused by both, naming file and line. Built only with the
//! `yara-x` feature (`make test-yara-x`).

#[path = "scanner_support.rs"]
mod scanner_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use scanner_support::{corpus, eicar, regular_files, scan_relative, shared_rules_dir, RulesEnv};
use zion_quarantine::Verdict;
use zion_scanner::{CompiledRules, Engine, RuleSources, Scanner};

/// A verdict reduced to what both engines must agree on.
#[derive(Debug, PartialEq, Eq)]
enum Said {
    Clean,
    /// `namespace:rule` and the member path, for every match.
    Infected(BTreeSet<(String, Vec<String>)>),
    Unscannable(String),
    Error(String),
}

fn said(verdict: Verdict) -> Said {
    match verdict {
        Verdict::Clean => Said::Clean,
        Verdict::Infected { matches } => Said::Infected(
            matches
                .into_iter()
                .map(|m| (format!("{}:{}", m.namespace, m.rule), m.member))
                .collect(),
        ),
        Verdict::Unscannable { problem, member } => {
            Said::Unscannable(format!("{problem:?} at {member:?}"))
        }
        other => Said::Error(format!("{other:?}")),
    }
}

#[test]
fn both_engines_give_the_same_verdict_for_every_file_of_the_corpus() {
    let rl = shared_rules_dir().join("reversinglabs");
    let sb = shared_rules_dir().join("signature-base");
    assert!(
        rl.is_dir() && sb.is_dir(),
        "the shared rule sets are missing under {}: shared/ belongs beside the checkout \
         (or set ZION_SHARED_DATA)",
        shared_rules_dir().display()
    );
    let corpus = corpus();
    let files = regular_files(&corpus.root);
    assert!(files.len() > 100, "corpus has files: {}", files.len());

    let scanners: Vec<(Engine, RulesEnv, Scanner)> = [Engine::Yara, Engine::YaraX]
        .into_iter()
        .map(|engine| {
            let env = RulesEnv::with_engine(engine);
            let sources = RuleSources::new(&env.default_dir)
                .with_user_dir(&rl)
                .with_user_dir(&sb)
                .with_engine(engine);
            let mut compiled = CompiledRules::compile(&sources)
                .unwrap_or_else(|e| panic!("{engine} compiles the shared rule sets: {e}"));
            assert_eq!(compiled.engine(), engine);
            assert!(compiled.files.len() > 900, "{engine}: {compiled:?}");
            eprintln!(
                "{engine}: {} rules from {} files",
                compiled.rule_count,
                compiled.files.len()
            );
            compiled.save(&env.rules_file).expect("save");
            let mut config = env.config();
            // Some 7,000 rules: the debug build loads and scans them slowly.
            config.timeout = Duration::from_secs(120);
            config.cpu_limit = Duration::from_secs(60);
            config.mem_limit = 2 << 30;
            let scanner = Scanner::new(config).unwrap_or_else(|e| panic!("{engine}: {e}"));
            (engine, env, scanner)
        })
        .collect();

    let mut differ: Vec<String> = Vec::new();
    let mut infected = 0;
    for relative in &files {
        let verdicts: Vec<Said> = scanners
            .iter()
            .map(|(_, _, scanner)| said(scan_relative(scanner, &corpus.root, relative)))
            .collect();
        for (engine, verdict) in [Engine::Yara, Engine::YaraX].iter().zip(&verdicts) {
            assert!(
                !matches!(verdict, Said::Error(_)),
                "{engine} could not scan {}: {verdict:?}",
                relative.display()
            );
        }
        if matches!(verdicts[0], Said::Infected(_)) {
            infected += 1;
        }
        if verdicts[0] != verdicts[1] {
            differ.push(format!(
                "{}:\n    libyara {:?}\n    YARA-X  {:?}",
                relative.display(),
                verdicts[0],
                verdicts[1]
            ));
        }
    }
    eprintln!(
        "{} files, {infected} infected by libyara's count, {} differ",
        files.len(),
        differ.len()
    );
    assert!(
        differ.is_empty(),
        "the engines disagree on {} of {} files:\n{}",
        differ.len(),
        files.len(),
        differ.join("\n")
    );
    // The comparison had something to compare: EICAR and its variants, and
    // members found inside archives.
    let expected: Vec<PathBuf> = corpus.expected_eicar();
    assert!(infected >= expected.len(), "{infected} infected");
}

#[test]
fn yara_x_reports_eicar_with_its_meta_as_libyara_does() {
    let mut seen = Vec::new();
    for engine in [Engine::Yara, Engine::YaraX] {
        let env = RulesEnv::with_engine(engine);
        let scanner = env.scanner();
        let Verdict::Infected { mut matches } = scanner.scan(&env.sample("eicar.com", &eicar()))
        else {
            panic!("{engine}: eicar.com is infected");
        };
        matches.sort_by(|a, b| a.rule.cmp(&b.rule));
        seen.push(matches);
    }
    assert_eq!(seen[0].len(), 2, "{:?}", seen[0]);
    assert_eq!(seen[0], seen[1], "rule, namespace, tags and meta alike");
}

#[test]
fn a_broken_rule_file_is_refused_by_yara_x_with_file_and_line() {
    let env = RulesEnv::with_engine(Engine::YaraX);
    let (bad, diagnostics) = env.compile_a_broken_rule();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].file, bad);
    assert!(
        (5..=6).contains(&diagnostics[0].line),
        "the line of the error: {}",
        diagnostics[0]
    );
    // The rules saved before stay in force: the worker still loads them.
    let scanner = env.scanner();
    assert!(matches!(
        scanner.scan(&env.sample("eicar.com", &eicar())),
        Verdict::Infected { .. }
    ));
}

#[test]
fn rules_of_one_engine_are_refused_by_the_other_engines_worker() {
    let env = RulesEnv::with_engine(Engine::Yara);
    let mut config = env.config();
    config.engine = Engine::YaraX;
    let err = match Scanner::new(config) {
        Ok(_) => panic!("YARA-X must not load libyara's rules"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("refused to start") && err.contains("not YARA-X rules"),
        "{err}"
    );
    let env = RulesEnv::with_engine(Engine::YaraX);
    let mut config = env.config();
    config.engine = Engine::Yara;
    let err = match Scanner::new(config) {
        Ok(_) => panic!("libyara must not load YARA-X's rules"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("refused to start"), "{err}");
}

//! Shared set-up for the scanner tests: the corpus from
//! `shared/data/make-corpus.sh` (made once per test binary), rule folders and
//! compiled rules in temporary directories (for either engine), and scanners
//! over the real worker.
#![allow(dead_code, clippy::new_without_default)]

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use rustix::fs::{openat, Mode, OFlags, CWD};
use tempfile::TempDir;
use zion_quarantine::Verdict;
use zion_scanner::{CompiledRules, Engine, RuleSources, Scanner, ScannerConfig};

/// The worker binary Cargo built for these tests.
pub const WORKER: &str = env!("CARGO_BIN_EXE_zion-scan-worker");

/// The EICAR test string, assembled so this source file is not itself EICAR.
pub fn eicar() -> Vec<u8> {
    let mut s = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$".to_vec();
    s.extend_from_slice(b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    s
}

/// Zion's default rule folder in the source tree.
pub fn default_rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../session-files/rules")
}

/// The shared rule sets (`shared/data/yara-rules`, found by the harness).
pub fn shared_rules_dir() -> PathBuf {
    zion_tests::shared_data().join("yara-rules")
}

/// The engines this build has: libyara, and YARA-X with the `yara-x` feature.
pub fn engines() -> Vec<Engine> {
    Engine::ALL.into_iter().filter(|e| e.is_built()).collect()
}

/// Every regular file under `root` (not following symlinks), relative.
pub fn regular_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue; // beyond PATH_MAX: handled apart
        };
        for entry in entries {
            let entry = entry.expect("dir entry");
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                files.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// Opens `relative` under `root` one component at a time, so paths longer
/// than PATH_MAX can be opened.
pub fn open_beneath(root: &Path, relative: &Path) -> OwnedFd {
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = openat(CWD, root, dir_flags, Mode::empty()).expect("open corpus root");
    let parts: Vec<Component<'_>> = relative.components().collect();
    let (last, parents) = parts.split_last().expect("non-empty path");
    for part in parents {
        dir = openat(&dir, part.as_os_str(), dir_flags, Mode::empty()).expect("open component");
    }
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    openat(&dir, last.as_os_str(), flags, Mode::empty()).expect("open file")
}

/// Scans `relative` under `root`, through a descriptor when the path is too
/// long to open.
pub fn scan_relative(scanner: &Scanner, root: &Path, relative: &Path) -> Verdict {
    if root.join(relative).as_os_str().len() >= 4096 {
        scanner.scan_file(&open_beneath(root, relative))
    } else {
        scanner.scan(&root.join(relative))
    }
}

/// The corpus generator (`shared/data/make-corpus.sh`, found by the harness).
pub fn corpus_script() -> PathBuf {
    zion_tests::shared_data().join("make-corpus.sh")
}

/// The corpus, generated once for this test binary (5 MB, synthetic only).
pub struct Corpus {
    _dir: TempDir,
    pub root: PathBuf,
}

impl Corpus {
    /// Paths relative to the root that must be reported as EICAR.
    pub fn expected_eicar(&self) -> Vec<PathBuf> {
        let list = std::fs::read(self.root.join("EXPECTED-EICAR.nul")).expect("EXPECTED-EICAR.nul");
        list.split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(OsString::from_vec(p.to_vec())))
            .collect()
    }
}

pub fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("corpus");
        let script = corpus_script();
        assert!(
            script.is_file(),
            "the corpus generator {} is missing: shared/ belongs beside the checkout \
             (or set ZION_SHARED_DATA)",
            script.display()
        );
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg("--synthetic-only")
            .arg(&root)
            .arg("5")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run make-corpus.sh");
        assert!(status.success(), "make-corpus.sh failed: {status}");
        Corpus { _dir: dir, root }
    })
}

/// A temporary place with a copy of the default rules, a user rule folder and
/// the compiled-rules file.
pub struct RulesEnv {
    pub dir: TempDir,
    pub default_dir: PathBuf,
    pub user_dir: PathBuf,
    pub rules_file: PathBuf,
    /// The engine that compiles the rules and scans.
    pub engine: Engine,
}

impl RulesEnv {
    /// Writes a user rule file whose second rule ends mid-condition (line 5,
    /// reported on 5 or 6) and compiles: the file and what the engine said.
    pub fn compile_a_broken_rule(&self) -> (PathBuf, Vec<zion_scanner::RuleDiagnostic>) {
        let bad = self.user_dir.join("broken.yar");
        std::fs::write(
            &bad,
            "rule fine { condition: true }\n\nrule broken {\n  strings: $a = \"x\"\n  condition: $a and\n}\n",
        )
        .expect("write rule");
        let err =
            CompiledRules::compile(&self.sources()).expect_err("broken rules must not compile");
        let zion_scanner::RulesError::Syntax(diagnostics) = err else {
            panic!("syntax error expected, got {err}");
        };
        (bad, diagnostics)
    }

    /// Copies Zion's default rules, compiles and saves them with libyara.
    pub fn new() -> RulesEnv {
        RulesEnv::with_engine(Engine::Yara)
    }

    /// Copies Zion's default rules, compiles and saves them with `engine`.
    pub fn with_engine(engine: Engine) -> RulesEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        let default_dir = dir.path().join("default");
        let user_dir = dir.path().join("mine");
        std::fs::create_dir_all(&default_dir).expect("mkdir");
        std::fs::create_dir_all(&user_dir).expect("mkdir");
        for entry in std::fs::read_dir(default_rules_dir()).expect("default rules") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), default_dir.join(entry.file_name())).expect("copy rule");
        }
        let rules_file = dir.path().join("rules.yarc");
        let env = RulesEnv {
            dir,
            default_dir,
            user_dir,
            rules_file,
            engine,
        };
        env.compile().save(&env.rules_file).expect("save rules");
        env
    }

    pub fn sources(&self) -> RuleSources {
        RuleSources::new(&self.default_dir)
            .with_user_dir(&self.user_dir)
            .with_engine(self.engine)
    }

    pub fn compile(&self) -> CompiledRules {
        CompiledRules::compile(&self.sources()).expect("rules compile")
    }

    pub fn config(&self) -> ScannerConfig {
        let mut config = ScannerConfig::new(&self.rules_file);
        config.engine = self.engine;
        config.worker_exe = PathBuf::from(WORKER);
        config.timeout = Duration::from_secs(20);
        config.cpu_limit = Duration::from_secs(10);
        config.mem_limit = 1 << 30;
        config
    }

    pub fn scanner(&self) -> Scanner {
        Scanner::new(self.config()).expect("scanner starts")
    }

    /// The worker binary run by hand, with these rules and this engine.
    pub fn worker(&self) -> Command {
        let mut command = Command::new(WORKER);
        command
            .arg("--rules")
            .arg(&self.rules_file)
            .arg("--engine")
            .arg(self.engine.as_str());
        command
    }

    /// Writes a file with `bytes` to scan.
    pub fn sample(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write sample");
        path
    }

    /// An executable shell script standing in for the worker.
    pub fn wrapper(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let tmp = self.dir.path().join(format!("{name}.tmp"));
        std::fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).expect("write wrapper");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::rename(&tmp, &path).expect("rename wrapper");
        path
    }
}

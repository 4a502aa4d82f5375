//! Shared set-up for the scanner tests: the corpus from
//! `shared/data/make-corpus.sh` (made once per test binary), rule folders and
//! compiled rules in temporary directories, and scanners over the real worker.
#![allow(dead_code, clippy::new_without_default)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use tempfile::TempDir;
use zion_scanner::{CompiledRules, RuleSources, Scanner, ScannerConfig};

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
}

impl RulesEnv {
    /// Copies Zion's default rules, compiles and saves them.
    pub fn new() -> RulesEnv {
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
        };
        env.compile().save(&env.rules_file).expect("save rules");
        env
    }

    pub fn sources(&self) -> RuleSources {
        RuleSources::new(&self.default_dir).with_user_dir(&self.user_dir)
    }

    pub fn compile(&self) -> CompiledRules {
        CompiledRules::compile(&self.sources()).expect("rules compile")
    }

    pub fn config(&self) -> ScannerConfig {
        let mut config = ScannerConfig::new(&self.rules_file);
        config.worker_exe = PathBuf::from(WORKER);
        config.timeout = Duration::from_secs(20);
        config.cpu_limit = Duration::from_secs(10);
        config.mem_limit = 1 << 30;
        config
    }

    pub fn scanner(&self) -> Scanner {
        Scanner::new(self.config()).expect("scanner starts")
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

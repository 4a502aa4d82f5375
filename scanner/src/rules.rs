//! The rule set: which files are compiled (the default folder, then the user's
//! folders, every `*.yar`/`*.yara` in sorted order), compiling them with
//! libyara or YARA-X ([`Engine`]), and saving the result for the worker.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use yara::{CompileErrorLevel, Compiler};

use super::engine::Engine;

/// Namespace of the rules shipped with Zion.
pub const DEFAULT_NAMESPACE: &str = "zion";

/// External variables that LOKI/THOR-style rule sets (signature-base) expect.
/// They are defined empty so such files compile; Zion does not fill them.
pub(crate) const EXTERNAL_VARIABLES: [&str; 5] =
    ["filename", "filepath", "extension", "filetype", "owner"];

/// Where the rules come from (Zion's default folder and the user's folders)
/// and which engine compiles them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSources {
    /// The default rules shipped in `session-files/rules/` (namespace `zion`).
    pub default_dir: PathBuf,
    /// The user's rule folders; each is one namespace, named after the folder.
    pub user_dirs: Vec<PathBuf>,
    /// The engine that compiles them (and whose worker scans with them).
    pub engine: Engine,
}

/// One rule folder resolved to its namespace and files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFolder {
    /// The folder.
    pub dir: PathBuf,
    /// The namespace its rules are compiled into.
    pub namespace: String,
    /// Its `*.yar`/`*.yara` files, recursively, sorted by path.
    pub files: Vec<PathBuf>,
}

/// One problem libyara reported about a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDiagnostic {
    /// The rule file.
    pub file: PathBuf,
    /// The line in that file (1-based; 0 when libyara gave none).
    pub line: usize,
    /// What libyara said.
    pub message: String,
}

impl fmt::Display for RuleDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Why a rule set could not be compiled, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The default rule folder is missing or empty: Zion would detect nothing.
    #[error("no rule files in the default rule folder {}: Zion's default rules are missing", .0.display())]
    NoDefaultRules(PathBuf),
    /// A rule folder or file could not be read.
    #[error("cannot read rules at {}: {source}", path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A rule file has errors; nothing was compiled (rules in force stay so).
    #[error("rule file errors (rules in force are unchanged): {}", join(.0))]
    Syntax(Vec<RuleDiagnostic>),
    /// libyara failed outside of a rule file (memory, initialisation).
    #[error("libyara: {0}")]
    Yara(String),
    /// The engine asked for is not in this build.
    #[error("{0}")]
    EngineUnavailable(String),
    /// The compiled rules could not be written.
    #[error("cannot save compiled rules to {}: {source}", path.display())]
    Save {
        /// The compiled-rules file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The rule folders could not be watched.
    #[error("cannot watch rules at {}: {reason}", path.display())]
    Watch {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The compiled rules could not be loaded.
    #[error("cannot load compiled rules from {}: {reason}", path.display())]
    Load {
        /// The compiled-rules file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

fn join(diagnostics: &[RuleDiagnostic]) -> String {
    let text: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    text.join("; ")
}

impl RuleSources {
    /// Only the default rules, compiled by libyara.
    pub fn new(default_dir: impl Into<PathBuf>) -> Self {
        RuleSources {
            default_dir: default_dir.into(),
            user_dirs: Vec::new(),
            engine: Engine::default(),
        }
    }

    /// Compiles with `engine`.
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// Adds a user rule folder.
    pub fn with_user_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.user_dirs.push(dir.into());
        self
    }

    /// Every folder with its namespace and sorted rule files. A user folder
    /// that does not exist is skipped (with a warning): the user may create
    /// it later.
    pub fn folders(&self) -> Result<Vec<RuleFolder>, RulesError> {
        let default_files = rule_files(&self.default_dir)?;
        if default_files.is_empty() {
            return Err(RulesError::NoDefaultRules(self.default_dir.clone()));
        }
        let mut folders = vec![RuleFolder {
            dir: self.default_dir.clone(),
            namespace: DEFAULT_NAMESPACE.to_string(),
            files: default_files,
        }];
        for dir in &self.user_dirs {
            if !dir.is_dir() {
                tracing::warn!("user rule folder {} does not exist; skipped", dir.display());
                continue;
            }
            let files = rule_files(dir)?;
            let base = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "user".to_string());
            let mut namespace = base.clone();
            let mut n = 2;
            while folders.iter().any(|f| f.namespace == namespace) {
                namespace = format!("{base}-{n}");
                n += 1;
            }
            folders.push(RuleFolder {
                dir: dir.clone(),
                namespace,
                files,
            });
        }
        Ok(folders)
    }
}

/// Every `*.yar`/`*.yara` regular file under `dir`, recursively, sorted.
/// Symlinked folders are not followed (a loop would never end).
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, RulesError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|source| RulesError::Read {
            path: current.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| RulesError::Read {
                path: current.clone(),
                source,
            })?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|source| RulesError::Read {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                pending.push(path);
            } else if is_rule_file(&path) && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether a path names a rule file (`.yar` or `.yara`).
pub fn is_rule_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yar") | Some("yara")
    )
}

/// A compiled rule set, ready to be saved for the worker.
pub struct CompiledRules {
    rules: Compiled,
    /// The rule files it was compiled from, in order.
    pub files: Vec<PathBuf>,
    /// How many rules it holds (public and private).
    pub rule_count: usize,
}

/// The rules as one engine compiled them.
enum Compiled {
    Yara(yara::Rules),
    #[cfg(feature = "yara-x")]
    YaraX(Box<yara_x::Rules>),
}

impl fmt::Debug for CompiledRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledRules")
            .field("engine", &self.engine())
            .field("files", &self.files.len())
            .field("rule_count", &self.rule_count)
            .finish()
    }
}

impl CompiledRules {
    /// Compiles every rule file of `sources` with its engine. Any error in
    /// any file fails the whole compile, naming file and line: the caller
    /// keeps what it had.
    pub fn compile(sources: &RuleSources) -> Result<Self, RulesError> {
        let folders = sources.folders()?;
        match sources.engine {
            Engine::Yara => Self::compile_libyara(&folders),
            #[cfg(feature = "yara-x")]
            Engine::YaraX => {
                let (rules, files) = super::yarax::compile(&folders)?;
                Ok(CompiledRules {
                    rule_count: super::yarax::rule_count(&rules),
                    rules: Compiled::YaraX(Box::new(rules)),
                    files,
                })
            }
            #[cfg(not(feature = "yara-x"))]
            Engine::YaraX => Err(RulesError::EngineUnavailable(
                Engine::YaraX.unavailable().unwrap_or_default(),
            )),
        }
    }

    fn compile_libyara(folders: &[RuleFolder]) -> Result<Self, RulesError> {
        let mut compiler = Compiler::new().map_err(|e| RulesError::Yara(e.to_string()))?;
        for name in EXTERNAL_VARIABLES {
            compiler
                .define_variable(name, "")
                .map_err(|e| RulesError::Yara(e.to_string()))?;
        }
        let mut files = Vec::new();
        for folder in folders {
            for path in &folder.files {
                let file = File::open(path).map_err(|source| RulesError::Read {
                    path: path.clone(),
                    source,
                })?;
                // libyara wants a UTF-8 name (the crate panics on others); the
                // name only serves messages and `include` resolution.
                let name = PathBuf::from(path.to_string_lossy().into_owned());
                compiler =
                    match compiler.add_rules_fd_with_namespace(&file, &name, &folder.namespace) {
                        Ok(compiler) => compiler,
                        Err(yara::Error::Compile(errors)) => {
                            let diagnostics: Vec<RuleDiagnostic> = errors
                                .iter()
                                .filter(|e| e.level == CompileErrorLevel::Error)
                                .map(|e| diagnostic(e, path))
                                .collect();
                            return Err(RulesError::Syntax(diagnostics));
                        }
                        Err(other) => {
                            return Err(RulesError::Syntax(vec![RuleDiagnostic {
                                file: path.clone(),
                                line: 0,
                                message: other.to_string(),
                            }]))
                        }
                    };
                files.push(path.clone());
            }
        }
        let mut rules = compiler
            .compile_rules()
            .map_err(|e| RulesError::Yara(e.to_string()))?;
        rules.set_flags(yara::ScanFlags::REPORT_RULES_MATCHING);
        let rule_count = rules.get_rules().len();
        Ok(CompiledRules {
            rules: Compiled::Yara(rules),
            files,
            rule_count,
        })
    }

    /// The engine that compiled these rules.
    pub fn engine(&self) -> Engine {
        match self.rules {
            Compiled::Yara(_) => Engine::Yara,
            #[cfg(feature = "yara-x")]
            Compiled::YaraX(_) => Engine::YaraX,
        }
    }

    /// Saves the compiled rules to `path` atomically (written beside it,
    /// synced, renamed over it), so a worker never loads half a file.
    pub fn save(&mut self, path: &Path) -> Result<(), RulesError> {
        let save_err = |source| RulesError::Save {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp_name);
        let file = File::create(&tmp).map_err(save_err)?;
        let mut writer = BufWriter::new(file);
        let written = match &mut self.rules {
            Compiled::Yara(rules) => rules
                .save_to_stream(&mut writer)
                .map_err(|e| std::io::Error::other(e.to_string())),
            #[cfg(feature = "yara-x")]
            Compiled::YaraX(rules) => {
                super::yarax::serialize(rules).and_then(|bytes| writer.write_all(&bytes))
            }
        };
        let result = written
            .and_then(|()| writer.flush())
            .and_then(|()| writer.get_ref().sync_all())
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(save_err(e));
        }
        if let Some(parent) = path.parent() {
            if let Ok(dir) = File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }

    /// The libyara rules, for scanning in this process (a benchmark), if
    /// libyara compiled them.
    pub fn yara_rules(&self) -> Option<&yara::Rules> {
        match &self.rules {
            Compiled::Yara(rules) => Some(rules),
            #[cfg(feature = "yara-x")]
            Compiled::YaraX(_) => None,
        }
    }

    /// The YARA-X rules, for scanning in this process, if YARA-X compiled
    /// them.
    #[cfg(feature = "yara-x")]
    pub fn yara_x_rules(&self) -> Option<&yara_x::Rules> {
        match &self.rules {
            Compiled::YaraX(rules) => Some(rules),
            Compiled::Yara(_) => None,
        }
    }
}

/// Loads libyara rules saved by [`CompiledRules::save`], set to report only
/// matching rules.
pub fn load_compiled(path: &Path) -> Result<yara::Rules, RulesError> {
    let file = File::open(path).map_err(|source| RulesError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut rules =
        yara::Rules::load_from_stream(ReadFully(BufReader::new(file))).map_err(|e| {
            RulesError::Load {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
    rules.set_flags(yara::ScanFlags::REPORT_RULES_MATCHING);
    Ok(rules)
}

fn diagnostic(error: &yara::CompileError, path: &Path) -> RuleDiagnostic {
    RuleDiagnostic {
        file: error
            .filename
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| path.to_path_buf()),
        line: error.line,
        message: error.message.clone(),
    }
}

/// A reader whose every `read` fills the buffer unless the stream ends: the
/// `yara` crate hands libyara the count of one `read` call as if it were
/// `fread`'s, so a short read would look like a corrupt rules file.
struct ReadFully<R>(R);

impl<R: Read> Read for ReadFully<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

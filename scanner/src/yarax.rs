//! YARA-X (the `yara-x` feature): compiling the rule folders as libyara does
//! (same namespaces, same empty external variables), saving the rules for
//! the worker, and scanning objects and archive members with them.
//!
//! How it runs confined. YARA-X compiles each rule set to a WebAssembly
//! module that wasmtime turns into machine code (cranelift, a JIT). The
//! saved file holds the WebAssembly, never machine code (the crate's
//! `native-code-serialization` stays off): the worker validates and compiles
//! it itself, while loading, before it confines itself, so a forged rules
//! file cannot hand it code to run. The worker also makes its one
//! `yara_x::Scanner` (wasmtime's store and instance: linear memory, tables)
//! before confining. After that a scan maps no executable memory, starts no
//! thread and opens nothing: the seccomp allow-list stays libyara's
//! (see `seccomp.rs`), `PROT_EXEC` included.
//!
//! Timeouts: YARA-X's own scan timeout starts a "heartbeat" thread on the
//! first timed scan. The confined worker may not start threads (`clone` is
//! not on its allow-list, `RLIMIT_NPROC` is 0), and a thread started before
//! confining would run outside the per-thread seccomp filter and Landlock
//! domain. So the YARA-X scanner gets no timeout of its own: the parent's
//! wall-clock limit and the worker's `RLIMIT_CPU` end a scan that runs long,
//! as they do for libyara (a killed worker is `Verdict::Error`, never clean).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use zion_quarantine::verdict::RuleMatch;

use super::rules::{RuleDiagnostic, RuleFolder, RulesError, EXTERNAL_VARIABLES};
use super::worker::ScanEngine;

/// Compiles every file of `folders`, each folder its own namespace. The
/// first file with errors fails the compile, naming file and line.
pub(crate) fn compile(folders: &[RuleFolder]) -> Result<(yara_x::Rules, Vec<PathBuf>), RulesError> {
    let mut compiler = yara_x::Compiler::new();
    // Regular expressions as libyara reads them (an unescaped `{` that does
    // not start a repetition, for one): the shared rule sets rely on it.
    compiler.relaxed_re_syntax(true);
    for name in EXTERNAL_VARIABLES {
        compiler
            .define_global(name, "")
            .map_err(|e| RulesError::Yara(format!("YARA-X: {e}")))?;
    }
    let mut files = Vec::new();
    for folder in folders {
        compiler.new_namespace(&folder.namespace);
        for path in &folder.files {
            let text = std::fs::read(path).map_err(|source| RulesError::Read {
                path: path.clone(),
                source,
            })?;
            let origin = path.to_string_lossy().into_owned();
            let source = yara_x::SourceCode::from(text.as_slice()).with_origin(origin.as_str());
            if let Err(first) = compiler.add_source(source) {
                let mut diagnostics: Vec<RuleDiagnostic> = compiler
                    .errors()
                    .iter()
                    .map(|e| diagnostic(e, path, &text))
                    .collect();
                if diagnostics.is_empty() {
                    diagnostics.push(diagnostic(&first, path, &text));
                }
                return Err(RulesError::Syntax(diagnostics));
            }
            files.push(path.clone());
        }
    }
    let warnings = compiler.warnings().len();
    if warnings > 0 {
        tracing::debug!("YARA-X: {warnings} warnings about the rules");
    }
    Ok((compiler.build(), files))
}

/// A YARA-X error as file, line and message (the line of its first label).
fn diagnostic(error: &yara_x::errors::CompileError, path: &Path, text: &[u8]) -> RuleDiagnostic {
    let line = error
        .labels()
        .next()
        .map(|label| {
            let start = label.span().start().min(text.len());
            1 + text[..start].iter().filter(|&&b| b == b'\n').count()
        })
        .unwrap_or(0);
    let detail: Vec<String> = error
        .labels()
        .map(|l| l.text().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let message = if detail.is_empty() {
        error.title().to_string()
    } else {
        format!("{}: {}", error.title(), detail.join("; "))
    };
    RuleDiagnostic {
        file: path.to_path_buf(),
        line,
        message,
    }
}

/// How many rules a compiled set holds.
pub(crate) fn rule_count(rules: &yara_x::Rules) -> usize {
    rules.iter().count()
}

/// The rules as saved for the worker (WebAssembly, no machine code).
pub(crate) fn serialize(rules: &yara_x::Rules) -> std::io::Result<Vec<u8>> {
    rules
        .serialize()
        .map_err(|e| std::io::Error::other(format!("YARA-X: {e}")))
}

/// Loads rules saved by [`serialize`], compiling their WebAssembly to
/// machine code (the worker does this before it confines itself).
pub(crate) fn load(path: &Path) -> Result<yara_x::Rules, RulesError> {
    let bytes = std::fs::read(path).map_err(|source| RulesError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    yara_x::Rules::deserialize(bytes).map_err(|e| RulesError::Load {
        path: path.to_path_buf(),
        reason: format!("not YARA-X rules ({e}); were they compiled by the other engine?"),
    })
}

/// One YARA-X scanner, made before the worker confines itself and used for
/// every object and member after.
pub(crate) struct XScanner<'r> {
    scanner: yara_x::Scanner<'r>,
    rules: usize,
}

impl<'r> XScanner<'r> {
    /// Makes the scanner (wasmtime's store and instance) and scans nothing
    /// once, so that what the runtime sets up lazily on a first scan (its
    /// signal stack, the page size read from the auxiliary vector) is set up
    /// now, before the worker confines itself. No timeout: see the module's
    /// documentation.
    pub(crate) fn new(rules: &'r yara_x::Rules) -> Self {
        let mut scanner = yara_x::Scanner::new(rules);
        if let Err(e) = scanner.scan(&[]) {
            // Not fatal: the first real scan reports the same error.
            tracing::warn!("YARA-X: a first empty scan failed: {e}");
        }
        XScanner {
            scanner,
            rules: rule_count(rules),
        }
    }
}

impl ScanEngine for XScanner<'_> {
    fn rule_count(&self) -> usize {
        self.rules
    }

    fn scan_mem(&mut self, data: &[u8]) -> Result<Vec<RuleMatch>, String> {
        let results = self
            .scanner
            .scan(data)
            .map_err(|e| format!("YARA-X: {e}"))?;
        Ok(results.matching_rules().map(|r| rule_match(&r)).collect())
    }

    /// The object mapped read-only (as libyara maps it). Its size comes from
    /// `fstat` (glibc's `newfstatat(fd, "", AT_EMPTY_PATH)`, on the
    /// allow-list), not from `std`'s metadata, which tries `statx`.
    fn scan_file(&mut self, file: &File) -> Result<Vec<RuleMatch>, String> {
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: the descriptor is open for the call; fstat fills `stat`.
        let rc = unsafe { libc::fstat(file.as_raw_fd(), stat.as_mut_ptr()) };
        if rc != 0 {
            return Err(format!(
                "cannot stat the object: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: fstat succeeded, so it filled `stat`.
        let size = unsafe { stat.assume_init() }.st_size;
        let len = usize::try_from(size).map_err(|_| format!("bad object size {size}"))?;
        if len == 0 {
            return self.scan_mem(&[]);
        }
        // SAFETY: the object is the quarantine's own copy, which nothing
        // truncates while it is scanned (a SIGBUS would kill the worker:
        // an error, never clean).
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(file) }
            .map_err(|e| format!("cannot map the object: {e}"))?;
        self.scan_mem(&map)
    }
}

/// A YARA-X match as Zion reports it, as libyara's are (`worker.rs`): every
/// meta entry as text, entries that repeat a name joined with ", ".
fn rule_match(rule: &yara_x::Rule<'_, '_>) -> RuleMatch {
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in rule.metadata() {
        let value = match value {
            yara_x::MetaValue::Integer(i) => i.to_string(),
            yara_x::MetaValue::Float(f) => f.to_string(),
            yara_x::MetaValue::Bool(b) => b.to_string(),
            yara_x::MetaValue::String(s) => s.to_string(),
            yara_x::MetaValue::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        };
        meta.entry(name.to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    RuleMatch {
        rule: rule.identifier().to_string(),
        namespace: rule.namespace().to_string(),
        tags: rule.tags().map(|t| t.identifier().to_string()).collect(),
        meta,
        member: Vec::new(),
    }
}

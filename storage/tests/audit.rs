//! The audit log on disk: a chain that shows any edit, removal or reordering.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use zion_storage::{
    check_log, AuditAnchor, AuditEntry, AuditError, AuditHead, AuditLog, AuditProblem,
};

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        time: 1_790_000_000 + i as u64,
        item_id: format!("item-{i}"),
        original_name: format!("file {i}.pdf"),
        original_name_hex: None,
        final_path: format!("/data/zion/shared/file {i}.pdf"),
        source_label: "sandbox:work/1".into(),
        destination: "shared".into(),
        sha256: "ab".repeat(32),
        verdict: "clean".into(),
        decided_by: "policy".into(),
        origin_url: None,
        origin_referrer: None,
        origin_provenance: None,
        action: None,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// A log with `n` entries in a fresh directory.
fn log_with(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).expect("open");
    for i in 0..n {
        log.append(entry(i)).expect("append");
    }
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    fs::write(path, lines.join("\n") + "\n").expect("write");
}

fn verify(path: &Path) -> Result<usize, AuditError> {
    AuditLog::open(path).expect("open").verify()
}

#[test]
fn an_untouched_chain_verifies_and_survives_reopening() {
    let (_dir, path) = log_with(5);
    let log = AuditLog::open(&path).expect("reopen");
    log.append(entry(5)).expect("append after reopen");
    assert_eq!(log.verify().expect("verify"), 6);
    assert_eq!(log.entries().expect("entries")[5].item_id, "item-5");
    assert!(log.contains_item("item-3").expect("contains"));
    assert!(!log.contains_item("item-9").expect("contains"));
    assert_eq!(lines(&path).len(), 6, "one JSON line per entry");
    assert!(
        lines(&path)[0].contains("\"prev\":\"0000"),
        "first entry starts the chain"
    );
}

#[test]
fn an_edited_entry_is_named_by_its_line() {
    let (_dir, path) = log_with(4);
    let mut l = lines(&path);
    l[1] = l[1].replace("\"verdict\":\"clean\"", "\"verdict\":\"infected\"");
    write_lines(&path, &l);
    let err = verify(&path).expect_err("edit must show");
    assert!(matches!(err, AuditError::Edited { line: 2, .. }), "{err}");
    assert!(
        err.to_string().contains("line 2") && err.to_string().contains("edited"),
        "{err}"
    );
}

#[test]
fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    let (_dir, path) = log_with(4);
    let mut l = lines(&path);
    let mut forged: AuditEntry = serde_json::from_str(&l[1]).expect("parse");
    forged.final_path = "/somewhere/else".into();
    forged.hash = forged.compute_hash(&forged.prev_hash);
    l[1] = serde_json::to_string(&forged).expect("json");
    write_lines(&path, &l);
    let err = verify(&path).expect_err("forgery must show");
    assert!(
        matches!(err, AuditError::ChainBroken { line: 3, .. }),
        "{err}"
    );
}

#[test]
fn a_removed_entry_is_named_by_the_line_after_it() {
    let (_dir, path) = log_with(4);
    let mut l = lines(&path);
    l.remove(1);
    write_lines(&path, &l);
    let err = verify(&path).expect_err("removal must show");
    assert!(
        matches!(err, AuditError::ChainBroken { line: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("removed"), "{err}");
}

#[test]
fn a_removed_first_entry_shows() {
    let (_dir, path) = log_with(3);
    let mut l = lines(&path);
    l.remove(0);
    write_lines(&path, &l);
    let err = verify(&path).expect_err("removal must show");
    assert!(
        matches!(err, AuditError::ChainBroken { line: 1, .. }),
        "{err}"
    );
}

#[test]
fn reordered_entries_show() {
    let (_dir, path) = log_with(4);
    let mut l = lines(&path);
    l.swap(1, 2);
    write_lines(&path, &l);
    let err = verify(&path).expect_err("reorder must show");
    assert!(
        matches!(err, AuditError::ChainBroken { line: 2, .. }),
        "{err}"
    );
}

#[test]
fn an_entry_cut_in_the_middle_is_named() {
    let (_dir, path) = log_with(4);
    let mut l = lines(&path);
    let half = l[2].len() / 2;
    l[2].truncate(half);
    write_lines(&path, &l);
    let err = verify(&path).expect_err("truncation must show");
    assert!(
        matches!(err, AuditError::Malformed { line: 3, .. }),
        "{err}"
    );
}

#[test]
fn an_added_field_is_not_silently_accepted() {
    let (_dir, path) = log_with(2);
    let mut l = lines(&path);
    l[0] = l[0].replacen('{', "{\"note\":\"approved by admin\",", 1);
    write_lines(&path, &l);
    let err = verify(&path).expect_err("added field must show");
    assert!(
        matches!(err, AuditError::Malformed { line: 1, .. }),
        "{err}"
    );
}

#[test]
fn an_append_cut_short_by_a_crash_is_dropped_on_open_and_the_chain_goes_on() {
    let (_dir, path) = log_with(3);
    let mut text = fs::read_to_string(&path).expect("read");
    text.push_str("{\"time\":17900000");
    fs::write(&path, &text).expect("write");
    let log = AuditLog::open(&path).expect("open repairs");
    log.append(entry(3)).expect("append");
    assert_eq!(log.verify().expect("verify"), 4);
    assert!(!fs::read_to_string(&path)
        .expect("read")
        .contains("{\"time\":17900000{"));
}

#[test]
fn concurrent_appends_keep_one_chain() {
    let (_dir, path) = log_with(0);
    let log = AuditLog::open(&path).expect("open");
    // A second handle on the same file stands for a second process.
    let other = AuditLog::open(&path).expect("open again");
    std::thread::scope(|s| {
        for t in 0..4 {
            let log = if t % 2 == 0 { &log } else { &other };
            s.spawn(move || {
                for i in 0..25 {
                    log.append(entry(t * 100 + i)).expect("append");
                }
            });
        }
    });
    assert_eq!(log.verify().expect("verify"), 100);
    assert_eq!(log.head().expect("head"), other.head().expect("head"));
}

/// An anchor kept in memory (the quarantine keeps the real one in SQLite).
#[derive(Debug, Default, Clone)]
struct Memory {
    head: Arc<Mutex<Option<AuditHead>>>,
    breaks: Arc<Mutex<Vec<AuditProblem>>>,
}

impl AuditAnchor for Memory {
    fn load(&self) -> Result<Option<AuditHead>, String> {
        Ok(self.head.lock().expect("lock").clone())
    }
    fn store(&self, head: &AuditHead) -> Result<(), String> {
        *self.head.lock().expect("lock") = Some(head.clone());
        Ok(())
    }
    fn broken(&self, problem: &AuditProblem) {
        self.breaks.lock().expect("lock").push(problem.clone());
    }
}

/// A log of `n` entries appended through an anchor.
fn anchored_log(n: usize) -> (tempfile::TempDir, PathBuf, Memory) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let memory = Memory::default();
    let log = AuditLog::open(&path).expect("open");
    assert_eq!(
        log.set_anchor(Box::new(memory.clone())).expect("anchor"),
        None
    );
    for i in 0..n {
        log.append(entry(i)).expect("append");
    }
    let head = memory.load().expect("load").expect("anchored");
    assert_eq!(head.entries, n as u64);
    (dir, path, memory)
}

fn reopen(path: &Path, memory: &Memory) -> Option<AuditProblem> {
    let log = AuditLog::open(path).expect("open");
    log.set_anchor(Box::new(memory.clone())).expect("anchor")
}

#[test]
fn a_cut_tail_an_emptied_log_and_a_deleted_one_are_named() {
    let (_dir, path, memory) = anchored_log(5);
    let mut l = lines(&path);
    l.pop();
    write_lines(&path, &l);
    // The chain alone cannot tell...
    assert_eq!(verify(&path).expect("the chain is whole"), 4);
    // ...its anchor can.
    let head = memory.load().expect("load");
    let problem = check_log(&path, head.as_ref()).expect("check").problem;
    assert!(
        matches!(
            problem,
            Some(AuditProblem::Truncated {
                found: 4,
                expected: 5,
                ..
            })
        ),
        "{problem:?}"
    );
    let problem = reopen(&path, &memory).expect("a cut tail shows on open");
    assert!(
        problem.to_string().contains("truncated at entry 5"),
        "{problem}"
    );
    assert_eq!(memory.breaks.lock().expect("lock").len(), 1);
    // Anchored again to what is there: reported once, not at every start.
    assert_eq!(reopen(&path, &memory), None);

    std::fs::write(&path, b"").expect("zero");
    let problem = reopen(&path, &memory).expect("an emptied log shows");
    assert!(
        problem.to_string().contains("truncated at entry 1"),
        "{problem}"
    );

    let (_dir, path, memory) = anchored_log(2);
    std::fs::remove_file(&path).expect("delete");
    let problem = check_log(&path, memory.load().expect("load").as_ref())
        .expect("check")
        .problem;
    assert!(
        matches!(problem, Some(AuditProblem::Missing { expected: 2, .. })),
        "{problem:?}"
    );
    let problem = reopen(&path, &memory).expect("a deleted log shows");
    assert!(problem.to_string().contains("is missing"), "{problem}");
}

#[test]
fn a_rewritten_last_entry_with_its_hash_recomputed_is_named() {
    let (_dir, path, memory) = anchored_log(3);
    let mut entries = AuditLog::open(&path)
        .expect("open")
        .entries()
        .expect("entries");
    let last = entries.last_mut().expect("last");
    last.verdict = "infected (forged), released by override".into();
    last.hash = last.compute_hash(&last.prev_hash);
    let mut l = lines(&path);
    l[2] = serde_json::to_string(last).expect("json");
    write_lines(&path, &l);
    assert_eq!(verify(&path).expect("the chain alone is fooled"), 3);
    let problem = reopen(&path, &memory).expect("the anchor is not");
    assert!(
        matches!(problem, AuditProblem::Replaced { entry: 3, .. }),
        "{problem:?}"
    );
}

#[test]
fn a_log_one_entry_ahead_of_its_anchor_after_a_crash_is_adopted() {
    let (_dir, path, memory) = anchored_log(3);
    // The crash: the entry is written and synced, its anchor never was.
    AuditLog::open(&path)
        .expect("open")
        .append(entry(3))
        .expect("append");
    assert_eq!(memory.load().expect("load").expect("head").entries, 3);
    assert_eq!(reopen(&path, &memory), None, "no tampering reported");
    assert_eq!(memory.load().expect("load").expect("head").entries, 4);
    assert!(memory.breaks.lock().expect("lock").is_empty());
}

#[test]
fn a_cut_made_while_the_log_is_open_is_found_before_the_next_append() {
    let (_dir, path, memory) = anchored_log(0);
    let log = AuditLog::open(&path).expect("open");
    let memory2 = memory.clone();
    log.set_anchor(Box::new(memory2)).expect("anchor");
    for i in 0..3 {
        log.append(entry(i)).expect("append");
    }
    let mut l = lines(&path);
    l.pop();
    write_lines(&path, &l);
    log.append(entry(9)).expect("the append still happens");
    let breaks = memory.breaks.lock().expect("lock").clone();
    assert!(
        matches!(
            breaks.as_slice(),
            [AuditProblem::Truncated {
                found: 2,
                expected: 3,
                ..
            }]
        ),
        "{breaks:?}"
    );
    assert_eq!(log.verify().expect("chain"), 3);
    assert_eq!(memory.load().expect("load").expect("head").entries, 3);

    // Deleted while open: the next entry goes into a new log, not the void.
    std::fs::remove_file(&path).expect("delete");
    log.append(entry(10)).expect("append");
    assert_eq!(lines(&path).len(), 1);
    let breaks = memory.breaks.lock().expect("lock").clone();
    assert!(
        matches!(breaks.last(), Some(AuditProblem::Missing { .. })),
        "{breaks:?}"
    );
}

#[test]
fn an_entry_edited_in_place_while_the_log_is_open_is_found_before_the_next_append() {
    let (_dir, path, memory) = anchored_log(0);
    let log = AuditLog::open(&path).expect("open");
    log.set_anchor(Box::new(memory.clone())).expect("anchor");
    for i in 0..3 {
        log.append(entry(i)).expect("append");
    }
    // The same bytes' worth, written over the second entry's verdict: the
    // file keeps its inode and its length, only its ctime shows the write.
    let text = fs::read_to_string(&path).expect("read");
    let second = text.find('\n').expect("a first line") + 1;
    let at = second + text[second..].find("\"clean\"").expect("a verdict") + 1;
    {
        use std::os::unix::fs::FileExt;
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open to edit");
        file.write_all_at(b"f0rge", at as u64).expect("edit");
    }
    assert_eq!(fs::read_to_string(&path).expect("read").len(), text.len());
    log.append(entry(3)).expect("the append still happens");
    let breaks = memory.breaks.lock().expect("lock").clone();
    assert!(
        matches!(breaks.as_slice(), [AuditProblem::Chain(why)] if why.contains("line 2")),
        "{breaks:?}"
    );
}

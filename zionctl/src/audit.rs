//! `zionctl audit`: the release audit log, checked against the head the
//! quarantine anchored in its journal. Reads files only: works whether or not
//! the daemon runs, and changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use zion_quarantine::StorePaths;
use zion_sandboxd::SessionPaths;

/// What `zionctl audit` does.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verifies the whole chain and its anchored head; exits non-zero and says
    /// what is wrong (truncated at entry N, edited entry N, log missing), and
    /// lists every break the daemon found before.
    Verify {
        /// The log [default: $XDG_DATA_HOME/zion/audit.log].
        #[arg(long)]
        log: Option<PathBuf>,
        /// The quarantine journal holding the anchor
        /// [default: $XDG_DATA_HOME/zion/quarantine/quarantine.sqlite].
        #[arg(long)]
        journal: Option<PathBuf>,
    },
}

/// Runs a `zionctl audit` command.
pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify { log, journal } => {
            let data = SessionPaths::from_env().data;
            let log = log.unwrap_or_else(|| data.join("audit.log"));
            let journal =
                journal.unwrap_or_else(|| StorePaths::under(data.join("quarantine")).journal);
            verify(&log, &journal)
        }
    }
}

fn verify(log: &std::path::Path, journal: &std::path::Path) -> ExitCode {
    let report = match zion_quarantine::audit::verify(journal, log) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("cannot verify the audit log: {e}");
            return ExitCode::FAILURE;
        }
    };
    match &report.check.problem {
        None => match &report.anchored {
            Some(head) => println!(
                "{}: {} entries, chain intact, head anchored in {} ({} entries)",
                log.display(),
                report.check.found.entries,
                journal.display(),
                head.entries
            ),
            None => println!(
                "{}: {} entries, chain intact; no anchored head in {} yet (the daemon records one when it starts)",
                log.display(),
                report.check.found.entries,
                journal.display()
            ),
        },
        Some(problem) => eprintln!("BROKEN: {problem}"),
    }
    for b in &report.breaks {
        eprintln!(
            "BROKEN (found {}): {}",
            zion_bus::quarantine::utc(
                b.time
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            ),
            b.problem
        );
    }
    if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

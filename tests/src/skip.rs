//! Honest skips. A test that cannot run here says why, and whether that is
//! this machine's nature or a missing install step:
//!
//! - a tool or file the install step (`session-files/dev/install-deps.sh`)
//!   provides is missing: [`not_installed`]. Outside CI the test prints
//!   `SKIPPED <test>: <reason>` and returns; under `ZION_REQUIRE_ALL=1`
//!   (set by `.ci/run`) it fails with the reason, so a forgotten install step
//!   cannot pass as a green run;
//! - a capability this machine truly lacks (a GPU or DRM device, CRIU,
//!   cgroup v2, `/dev/uinput`, root): [`lacking`]. Always a printed skip,
//!   never a failure.
//!
//! The macros [`require_installed!`](crate::require_installed) and
//! [`require!`](crate::require) wrap both for tests: they return from the
//! test when the condition does not hold.

use std::path::Path;

/// The variable under which a missing tool or file fails the test.
pub const REQUIRE_ALL: &str = "ZION_REQUIRE_ALL";

/// Whether every tool and file must be there (`ZION_REQUIRE_ALL=1`).
pub fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1")
}

/// The running test's name: libtest runs each test on a thread named after it.
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned()
}

/// A tool or file the install step provides is missing: prints
/// `SKIPPED <test>: <reason>`, or panics with the reason under
/// `ZION_REQUIRE_ALL=1`. The caller returns from the test afterwards.
#[track_caller]
pub fn not_installed(reason: &str) {
    if require_all() {
        panic!(
            "{}: {reason} (ZION_REQUIRE_ALL=1: a missing tool or file fails; \
             session-files/dev/install-deps.sh must provide it)",
            test_name()
        );
    }
    report(reason);
}

/// Prints the skip past libtest's capture of `eprintln!` (which hides the
/// output of tests that pass): a skip is seen in every run's output.
fn report(reason: &str) {
    use std::io::Write;
    let line = format!("SKIPPED {}: {reason}\n", test_name());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A capability this machine lacks (GPU, DRM, CRIU, cgroup v2, uinput,
/// root): prints `SKIPPED <test>: <reason>`, whatever `ZION_REQUIRE_ALL`
/// says. The caller returns from the test afterwards.
pub fn lacking(reason: &str) {
    report(reason);
}

/// Why `program` (an absolute path, or a name looked up on `PATH`) cannot
/// run, naming the Debian `package` that provides it; `None` when it is there.
pub fn program_missing(program: &str, package: &str) -> Option<String> {
    let found = if program.contains('/') {
        Path::new(program).is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
    };
    (!found).then(|| format!("{program} is not installed (Debian package {package})"))
}

/// Whether `program` (an absolute path or a name on `PATH`) is installed;
/// when it is not, the skip is reported as [`not_installed`] does (a
/// failure under `ZION_REQUIRE_ALL=1`) and the caller returns from the test.
#[track_caller]
pub fn installed(program: &str, package: &str) -> bool {
    match program_missing(program, package) {
        None => true,
        Some(reason) => {
            not_installed(&reason);
            false
        }
    }
}

/// Skips the test (see [`skip::not_installed`](crate::skip::not_installed))
/// unless a tool or file the install step provides is there: returns from
/// the test when `cond` is false, failing it under `ZION_REQUIRE_ALL=1`.
#[macro_export]
macro_rules! require_installed {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            $crate::skip::not_installed(&format!($($reason)+));
            return;
        }
    };
}

/// Skips the test (see [`skip::lacking`](crate::skip::lacking)) unless this
/// machine has a capability (GPU, DRM, CRIU, cgroup v2, uinput, root):
/// returns from the test when `cond` is false. Never a failure: for a tool
/// an install step provides, use [`require_installed!`](crate::require_installed).
#[macro_export]
macro_rules! require {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            $crate::skip::lacking(&format!($($reason)+));
            return;
        }
    };
}

/// Returns from the test, skipping it as [`require_installed!`] does, when
/// `program` (an absolute path or a name on `PATH`) is not installed.
#[macro_export]
macro_rules! require_program {
    ($program:expr, $package:expr) => {
        if !$crate::skip::installed($program, $package) {
            return;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        assert_eq!(
            program_missing("/nonexistent/zion-tool", "zion-pkg").as_deref(),
            Some("/nonexistent/zion-tool is not installed (Debian package zion-pkg)")
        );
        assert_eq!(program_missing("sh", "dash"), None);
        assert!(program_missing("zion-no-such-program", "x").is_some());
    }

    /// Run as a child by `a_missing_tool_skips_outside_ci_and_fails_under_require_all`.
    #[test]
    #[ignore = "run as a child of a_missing_tool_skips_outside_ci_and_fails_under_require_all"]
    fn child_needing_a_missing_tool() {
        crate::require_program!("/nonexistent/zion-tool", "zion-pkg");
        panic!("the test ran on although its tool is missing");
    }

    #[test]
    fn a_missing_tool_skips_outside_ci_and_fails_under_require_all() {
        let run = |require_all: bool| {
            let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
            cmd.args(["--ignored", "--exact"])
                .arg("skip::tests::child_needing_a_missing_tool")
                .env_remove(REQUIRE_ALL);
            if require_all {
                cmd.env(REQUIRE_ALL, "1");
            }
            let out = cmd.output().expect("the test binary runs");
            // libtest reports a failed test's panic on stdout.
            let output = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), output)
        };
        let (passed, stderr) = run(false);
        assert!(passed, "outside CI a missing tool is a skip: {stderr}");
        assert!(
            stderr.contains("SKIPPED skip::tests::child_needing_a_missing_tool: /nonexistent/zion-tool is not installed (Debian package zion-pkg)"),
            "{stderr}"
        );
        let (passed, stderr) = run(true);
        assert!(
            !passed,
            "under ZION_REQUIRE_ALL=1 a missing tool fails: {stderr}"
        );
        assert!(
            stderr.contains("/nonexistent/zion-tool is not installed (Debian package zion-pkg)")
                && stderr.contains("ZION_REQUIRE_ALL=1"),
            "{stderr}"
        );
    }

    #[test]
    fn tests_run_on_a_thread_named_after_them() {
        assert!(
            test_name().ends_with("tests_run_on_a_thread_named_after_them"),
            "{}",
            test_name()
        );
    }
}

//! `hibernate = "disk"`: whether CRIU can checkpoint on this machine
//! (`criu check`), and which way a profile hibernates given its setting.

use std::io;
use std::process::Output;
use std::time::Duration;

use zion_config::HibernateMode;

/// The program asked (`criu`, from `PATH`).
pub const PROGRAM: &str = "criu";
/// How long `criu check` may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// What `criu check` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criu {
    /// It passed: checkpoints to disk work.
    Works,
    /// It failed or could not run: why, with its output.
    Unavailable(String),
}

/// How a profile is hibernated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The cgroup freezer (Podman pause).
    Freeze,
    /// A CRIU checkpoint (Podman checkpoint; the container stops).
    Checkpoint,
}

/// The way `profile` hibernates with `mode`, or why it cannot. Pure.
pub fn method(profile: &str, mode: HibernateMode, criu: &Criu) -> Result<Method, String> {
    match (mode, criu) {
        (HibernateMode::Freeze, _) => Ok(Method::Freeze),
        (HibernateMode::Disk, Criu::Works) => Ok(Method::Checkpoint),
        (HibernateMode::Disk, Criu::Unavailable(why)) => Err(format!(
            "profile `{profile}` has hibernate = \"disk\", but CRIU cannot checkpoint on this \
             machine ({why}); it is not hibernated. Set hibernate = \"freeze\" in zion.toml to \
             freeze it in memory instead"
        )),
    }
}

/// Reads the outcome of running `criu check`. Pure.
pub fn verdict(result: io::Result<Output>) -> Criu {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Criu::Unavailable(format!(
            "`{PROGRAM} check` could not run: {PROGRAM} is not installed"
        )),
        Err(e) => Criu::Unavailable(format!("`{PROGRAM} check` could not run: {e}")),
        Ok(out) if out.status.success() => Criu::Works,
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !stdout.is_empty() {
                if !text.is_empty() {
                    text.push_str("; ");
                }
                text.push_str(&stdout);
            }
            // The last lines say what failed; a whole kernel report is too long.
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
            let shown = if tail.is_empty() {
                "no output".to_owned()
            } else {
                tail
            };
            Criu::Unavailable(format!(
                "`{PROGRAM} check` failed ({}): {shown}",
                out.status
            ))
        }
    }
}

/// Runs `criu check`.
pub async fn probe() -> Criu {
    let run = tokio::process::Command::new(PROGRAM)
        .arg("check")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(CHECK_TIMEOUT, run).await {
        Ok(result) => verdict(result),
        Err(_) => Criu::Unavailable(format!(
            "`{PROGRAM} check` did not finish within {}s",
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn output(code: i32, stdout: &str, stderr: &str) -> io::Result<Output> {
        Ok(Output {
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        })
    }

    #[test]
    fn freeze_needs_no_criu() {
        let no = Criu::Unavailable("x".into());
        assert_eq!(method("w", HibernateMode::Freeze, &no), Ok(Method::Freeze));
        assert_eq!(
            method("w", HibernateMode::Freeze, &Criu::Works),
            Ok(Method::Freeze)
        );
    }

    #[test]
    fn disk_checkpoints_only_where_criu_check_passed() {
        assert_eq!(
            method("w", HibernateMode::Disk, &Criu::Works),
            Ok(Method::Checkpoint)
        );
        let no = verdict(output(
            1,
            "",
            "Error (criu/cr-check.c:1234): kernel lacks userfaultfd\nLooks bad.",
        ));
        let err = method("work", HibernateMode::Disk, &no).expect_err("refused");
        assert!(err.contains("profile `work`"), "{err}");
        assert!(err.contains("`criu check` failed"), "{err}");
        assert!(err.contains("Looks bad."), "{err}");
        assert!(err.contains("hibernate = \"freeze\""), "{err}");
    }

    #[test]
    fn check_outcomes_read_as_reasons() {
        assert_eq!(verdict(output(0, "Looks good.", "")), Criu::Works);
        let missing = verdict(Err(io::Error::from(io::ErrorKind::NotFound)));
        assert!(
            matches!(&missing, Criu::Unavailable(why) if why.contains("not installed")),
            "{missing:?}"
        );
        let quiet = verdict(output(1, "", ""));
        assert!(
            matches!(&quiet, Criu::Unavailable(why) if why.contains("no output")),
            "{quiet:?}"
        );
    }
}

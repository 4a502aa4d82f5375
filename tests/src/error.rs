use std::path::PathBuf;

/// What can go wrong while setting up a test environment.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file or folder of the environment could not be made or read.
    #[error("{what} ({path}): {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A program the harness needs is not installed.
    #[error("`{program}` is not installed; run `make deps` (or `make test`, which installs it)")]
    Missing { program: &'static str },
    /// A program the harness ran failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    /// A test image could not be built.
    #[error("building a test image: {0}")]
    Image(#[from] zion_profiles::image::ImageError),
    /// The harness needs root for this (making the test account, say).
    #[error("{what} needs root")]
    NotRoot { what: &'static str },
    /// The password database does not hold what the harness just wrote.
    #[error("the account `{name}` is missing after useradd made it")]
    NoAccount { name: &'static str },
    /// A service did not come up in time.
    #[error("{what} did not come up (waited up to {seconds} s): {log}")]
    Timeout {
        what: &'static str,
        seconds: u64,
        log: String,
    },
}

impl HarnessError {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| HarnessError::Io { what, path, source }
    }
}

//! Zion's test harness: everything an integration test needs to run against
//! the real components, started privately in a temporary directory and torn
//! down when the test ends, whether it passed or failed.
//!
//! - [`TestEnv`]: temporary XDG folders, a private Podman API service and a
//!   private D-Bus session bus.
//! - [`images`]: the test images, built once with debootstrap and shared by
//!   every test and every run.
//! - [`cleanup`]: unmounting, killing and removing what a test (or a test
//!   process that was killed) left behind.
//! - [`skip`]: honest skips: a missing tool fails under `ZION_REQUIRE_ALL=1`,
//!   a capability the machine lacks is a printed skip.
//! - [`private_tmp`]: a test thread's own empty `/tmp`, so nothing the code
//!   under test puts there stays on the machine.
//! - [`shared_data`]: the project's shared rule sets and corpus generator.
//! - [`desk`]: the session as processes: the headless compositor and the
//!   daemon on the environment's bus, waits on bus names and signals.
//! - [`user`]: a real unprivileged account, for the session as a person
//!   runs it (rootless Podman; [`TestEnv::for_user`]).
//! - [`wayland`]: a small real Wayland client (globals, an xdg toplevel with
//!   an shm buffer, the events a test checks).
//! - `compositor` (feature `compositor`): the compositor run headless in the
//!   test's process, its sockets, client programs on them, waits on its
//!   state instead of sleeps.

pub mod cleanup;
#[cfg(feature = "compositor")]
pub mod compositor;
mod dbus;
pub mod desk;
mod env;
mod error;
pub mod images;
mod podman;
pub mod private_tmp;
mod process;
pub mod skip;
pub mod user;
pub mod wayland;

pub use dbus::DbusBus;
pub use env::{TestEnv, XdgDirs};
pub use error::HarnessError;
pub use images::TestImage;
pub use podman::{GvisorService, PodmanService};

/// The project's shared data (YARA rule sets, the corpus generator):
/// `$ZION_SHARED_DATA`, else `shared/data` beside the checkout (CI clones
/// the repository with a copy of `shared/` beside it).
pub fn shared_data() -> std::path::PathBuf {
    std::env::var_os("ZION_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
        })
}

/// Another workspace binary, built beside `beside` (a test's own
/// `CARGO_BIN_EXE_*`): `$override_var` when set, else `name` in the same
/// folder. Panics, saying how to build it, when it is missing.
pub fn sibling_bin(beside: &str, name: &str, override_var: &str) -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os(override_var) {
        return bin.into();
    }
    let bin = std::path::Path::new(beside).with_file_name(name);
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (make test does)",
        bin.display()
    );
    bin
}

/// The pids of this machine's processes whose command line (its arguments
/// joined by NULs) holds `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                    String::from_utf8_lossy(&cmdline)
                        .contains(needle)
                        .then_some(pid)
                })
                .collect()
        })
        .unwrap_or_default()
}

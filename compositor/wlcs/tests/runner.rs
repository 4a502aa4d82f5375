//! Debian's WLCS runner loads the integration and a few core conformance
//! tests pass through it: the cdylib's exported symbol, the compositor
//! thread, client sockets, window placement and the pointer all work.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNNER: &str = "/usr/lib/x86_64-linux-gnu/wlcs/wlcs";

/// Tests that pass and between them touch every hook the runner uses.
const TESTS: &[&str] = &[
    "WlOutputTest.wl_output_properties_set",
    "ClientSurfaceEventsTest.surface_enters_output",
    "ClientSurfaceEventsTest.surface_moves_under_pointer",
    "FrameSubmission.post_one_frame_at_a_time",
    "XdgToplevelStableTest.pointer_respects_window_geom_offset",
    "XdgToplevelStableTest.touch_respects_window_geom_offset",
];

/// The cdylib cargo built next to this test's `deps` folder.
fn library() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    Some(profile_dir.join("libzion_wlcs.so"))
}

#[test]
fn wlcs_runner_loads_zion_and_core_tests_pass() {
    zion_tests::require_program!(RUNNER, "wlcs");
    let library = library().expect("the test binary has a target folder");
    assert!(
        library.exists(),
        "{} is missing: cargo did not build the cdylib",
        library.display()
    );
    let started = Instant::now();
    let output = Command::new(RUNNER)
        .arg(&library)
        .arg(format!("--gtest_filter={}", TESTS.join(":")))
        .output()
        .expect("the WLCS runner starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "WLCS failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let passed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[       OK ] "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for test in TESTS {
        assert!(
            passed.contains(test),
            "{test} did not pass (a skip counts as a failure here):\n{stdout}\n{stderr}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the tests took {:?}",
        started.elapsed()
    );
}

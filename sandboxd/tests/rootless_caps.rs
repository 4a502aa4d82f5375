//! Issue 19 on this cgroup-v1 machine, as the unprivileged test account with
//! its own rootless Podman: Podman cannot freeze, weigh or limit a
//! container there. The daemon says so once — Podman's create warning kept,
//! "freezing unavailable: …" and the rest through `Profiles1` and zionctl —
//! and the profile keeps running instead of failing at every try.

mod quarantine_support;

use std::path::Path;
use std::time::Duration;

use quarantine_support::{zionctl_bin, DAEMON};
use zion_profiles::host::unavailable_after;
use zion_profiles::{ContainerState, Lifecycle, PodmanClient};
use zion_tests::desk::Desk;
use zion_tests::user::TestUser;
use zion_tests::{TestEnv, TestImage};

const WAIT: Duration = Duration::from_secs(60);

/// zionctl `args` as the account: whether it succeeded, and all it printed.
fn zionctl(desk: &Desk, zionctl: &Path, args: &[&str]) -> (bool, String) {
    let out = desk
        .env
        .command(zionctl)
        .args(args)
        .output()
        .expect("zionctl runs as the account");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rootless_podman_on_cgroup_v1_says_once_what_it_cannot_do_and_the_profile_runs_on() {
    zion_tests::require!(
        rustix::process::geteuid().is_root(),
        "creating the unprivileged test account needs root"
    );
    let user = TestUser::ensure().expect("the unprivileged test account");
    let env = TestEnv::for_user(&user).expect("a session of the test account");
    let image = env
        .image(TestImage::Base)
        .expect("the base test image, in the account's own store");
    let daemon = env
        .expose(Path::new(DAEMON))
        .expect("the daemon for the account");
    let zionctl_path = env.expose(&zionctl_bin()).expect("zionctl for the account");
    let mut desk = Desk::new(env, WAIT).await;
    let version = desk.podman(&["info", "--format", "{{.Host.CgroupsVersion}}"]);
    zion_tests::require!(
        version == "v1",
        "this machine has cgroup {version}: the unit tests of zion_profiles::host cover it"
    );
    desk.write_config(&format!(
        "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{image}\"\n\
         network = \"none\"\nmemory = \"256MiB\"\npids = 512\nhibernate_after = \"never\"\n"
    ));
    desk.start_session(None, &daemon, &[("ZION_SANDBOX_POOL", "0")], &["work"])
        .await;
    let zionctl = |args: &[&str]| zionctl(&desk, &zionctl_path, args);

    // Podman's warning about the limits is kept, and each missing
    // capability is told with its reason.
    let (ok, json) = zionctl(&["profiles", "status", "work", "--json"]);
    assert!(ok, "{json}\n{}", desk.logs());
    let status: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("status --json ({e}): {json}"));
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains("Resource limits are not supported"),
        "Podman's create warning is not shown: {status}\n{}",
        desk.logs()
    );
    let unavailable: Vec<String> = status["unavailable"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for name in ["freezing", "CPU weights", "resource limits"] {
        assert!(
            unavailable
                .iter()
                .any(|l| l.starts_with(&format!("{name} unavailable: ")) && l.contains("cgroup v1")),
            "`{name} unavailable` is not told: {unavailable:?}"
        );
    }
    let (ok, list) = zionctl(&["profiles", "list"]);
    assert!(ok && list.contains("freezing unavailable: "), "{list}");

    // Hibernating is refused with the reason, and the profile runs on.
    let (ok, out) = zionctl(&["profiles", "hibernate", "work"]);
    assert!(
        !ok && out.contains("freezing unavailable"),
        "hibernate: {out}"
    );
    assert_eq!(desk.status("work").await.state, "running");
    let told = desk
        .logs()
        .lines()
        .filter(|l| l.contains("freezing unavailable: rootless Podman"))
        .count();
    assert_eq!(told, 1, "told once at start:\n{}", desk.logs());

    // The reason holds for real: the account's Podman refuses to freeze
    // the profile, and Zion reads that refusal as the capability missing.
    let lc = Lifecycle::new(PodmanClient::unix(desk.env.podman().socket()));
    let err = lc
        .freeze("work")
        .await
        .expect_err("rootless Podman on cgroup v1 cannot freeze");
    assert_eq!(
        lc.state("work").await.expect("state"),
        Some(ContainerState::Running),
        "{err}"
    );
    assert!(unavailable_after(&err, true).is_some(), "{err}");
}

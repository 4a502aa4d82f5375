//! Profile containers against a real Podman service (the harness's private
//! one): the hardening is checked from inside the container, where it counts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zion_config::{Config, Network, Profile};
use zion_profiles::host::unavailable_after;
use zion_profiles::{
    container_spec, ContainerState, HostDevices, Lifecycle, Plan, PodmanClient, ProfilePaths,
};
use zion_tests::{TestEnv, TestImage};

const MIB: u64 = 1024 * 1024;

fn profile(name: &str, image: &str) -> Profile {
    let mut p = Config::defaults()
        .profile(name)
        .cloned()
        .unwrap_or_else(|| panic!("default profile {name}"));
    p.image = image.to_owned();
    p.memory = Some(256 * MIB);
    p.cpus = Some(0.5);
    p.pids = 128;
    p.network = Network::None;
    p.devices.clear();
    p
}

struct Setup {
    env: TestEnv,
    image: String,
}

impl Setup {
    fn new() -> Setup {
        let env = TestEnv::new().expect("test env");
        let image = env.image(TestImage::Base).expect("base image");
        Setup { env, image }
    }

    fn lifecycle(&self) -> Lifecycle {
        Lifecycle::new(PodmanClient::unix(self.env.podman().socket()))
    }

    fn paths(&self, name: &str) -> ProfilePaths {
        let paths =
            ProfilePaths::standard(name, &self.env.xdg.data.join("zion"), &self.env.xdg.runtime);
        for dir in paths.folders() {
            std::fs::create_dir_all(dir).expect("profile folder");
        }
        paths
    }

    async fn up(&self, profile: &Profile) -> (zion_profiles::Up, ProfilePaths) {
        let paths = self.paths(profile.name.as_ref());
        let spec = container_spec(profile, &paths, &HostDevices::default()).spec;
        let up = self.lifecycle().up(&spec).await.expect("profile comes up");
        (up, paths)
    }
}

async fn sh(lifecycle: &Lifecycle, profile: &str, script: &str) -> String {
    let argv = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
    let out = lifecycle.exec_capture(profile, &argv).await.expect("exec");
    assert_eq!(
        out.exit_code,
        0,
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .map(|v| v.trim_start_matches(':').trim().to_owned())
        })
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

#[tokio::test]
async fn profile_container_is_hardened_and_limited_as_its_profile_says() {
    let s = Setup::new();
    let work = profile("work", &s.image);
    let (up, _) = s.up(&work).await;
    assert_eq!(up.plan, Plan::Create);
    let lc = s.lifecycle();

    let status = sh(&lc, "work", "cat /proc/self/status").await;
    assert_eq!(
        status_field(&status, "CapEff"),
        "0000000000000000",
        "every capability dropped"
    );
    assert_eq!(
        status_field(&status, "NoNewPrivs"),
        "1",
        "no-new-privileges really set"
    );
    assert_eq!(
        status_field(&status, "Seccomp"),
        "2",
        "Podman's default seccomp filter"
    );

    // cgroup v1 (these machines) or v2 (a normal desktop).
    let memory = sh(&lc, "work", "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes").await;
    assert_eq!(memory, (256 * MIB).to_string());
    let cpu = sh(&lc, "work", "cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)").await;
    assert_eq!(cpu, "50000 100000", "half a CPU");
    let pids = sh(
        &lc,
        "work",
        "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max",
    )
    .await;
    assert_eq!(pids, "128");

    let interfaces = sh(
        &lc,
        "work",
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
    )
    .await;
    assert_eq!(interfaces, "lo", "network = none leaves only loopback");
}

#[tokio::test]
async fn profile_sees_its_own_home_and_no_other_profile_bus_or_podman() {
    let s = Setup::new();
    let work = profile("work", &s.image);
    let personal_paths = s.paths("personal");
    std::fs::write(personal_paths.home.join("personal-secret"), "diary").expect("marker");
    let (_, work_paths) = s.up(&work).await;
    std::fs::write(work_paths.home.join("work-notes"), "quarterly").expect("marker");
    let lc = s.lifecycle();

    assert_eq!(
        sh(&lc, "work", "cat ~/work-notes").await,
        "quarterly",
        "private home mounted"
    );
    let found = sh(&lc, "work", "find / -xdev -name personal-secret 2>/dev/null; find /home /run /tmp /mnt /media -name personal-secret 2>/dev/null; true").await;
    assert_eq!(found, "", "another profile's storage is not reachable");

    // No socket outside /proc and /sys but the profile's own bus (when its
    // image has dbus-daemon): not the host's session bus, not Podman's, not
    // another profile's Wayland socket.
    let sockets = sh(
        &lc,
        "work",
        "find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print 2>/dev/null; true",
    )
    .await;
    assert!(
        sockets.lines().all(|s| s == "/run/zion/bus/bus"),
        "no socket reachable inside the profile but its own bus: {sockets}"
    );
    let env = sh(&lc, "work", "env").await;
    assert!(!env.contains("CONTAINER_HOST"), "{env}");
    assert!(
        env.lines()
            .filter(|l| l.starts_with("DBUS_SESSION_BUS_ADDRESS="))
            .all(|l| l == "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/zion/bus/bus"),
        "its session bus is its own: {env}"
    );
    let podman_socket = s.env.podman().socket().display().to_string();
    let check = format!("test -e '{podman_socket}' && echo present || echo absent");
    assert_eq!(sh(&lc, "work", &check).await, "absent");

    // Shared storage is there, read-only.
    let write = sh(&lc, "work", "touch ~/Shared/x 2>&1 || true").await;
    assert!(write.contains("Read-only file system"), "{write}");
}

/// The freezer cgroup of a process, read on the host: whether it is frozen,
/// and every process in it.
fn freezer(pid: u32) -> (bool, Vec<u32>) {
    let cgroups =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup of the container");
    let procs = |dir: &Path| -> Vec<u32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .expect("cgroup.procs")
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let path = path.trim_start_matches('/');
        if controllers == "freezer" {
            // cgroup v1 (these machines).
            let dir = Path::new("/sys/fs/cgroup/freezer").join(path);
            let state = std::fs::read_to_string(dir.join("freezer.state")).expect("freezer.state");
            return (state.trim() == "FROZEN", procs(&dir));
        }
        if controllers.is_empty() && cgroups.lines().count() == 1 {
            // cgroup v2 (a normal desktop).
            let dir = Path::new("/sys/fs/cgroup").join(path);
            let events = std::fs::read_to_string(dir.join("cgroup.events")).expect("cgroup.events");
            return (events.lines().any(|l| l == "frozen 1"), procs(&dir));
        }
    }
    panic!("no freezer cgroup for {pid}");
}

fn counter(path: &PathBuf) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[tokio::test]
async fn freeze_stops_every_process_and_thaw_resumes_them() {
    let s = Setup::new();
    let work = profile("work", &s.image);
    let (_, paths) = s.up(&work).await;
    let lc = s.lifecycle();
    let script = "i=0; while true; do i=$((i+1)); echo $i > ~/counter; sleep 0.02; done";
    lc.exec_detached("work", &["sh".into(), "-c".into(), script.into()])
        .await
        .expect("app");
    let file = paths.home.join("counter");
    // The app's first count, however loaded the machine is.
    let start = std::time::Instant::now();
    while counter(&file) == 0 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(counter(&file) > 0, "the app runs");
    let out = s
        .env
        .podman()
        .cli()
        .args(["inspect", "--format", "{{.State.Pid}}", "zion-work"])
        .output()
        .expect("inspect");
    let init: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("container pid");
    assert!(!freezer(init).0, "not frozen before");

    lc.freeze("work").await.expect("freeze");
    assert_eq!(
        lc.state("work").await.expect("state"),
        Some(ContainerState::Paused)
    );
    let (frozen, procs) = freezer(init);
    assert!(frozen, "the container's cgroup is frozen");
    assert!(
        procs.contains(&init),
        "init is in the frozen cgroup: {procs:?}"
    );
    assert!(
        procs.iter().any(|p| cmdline(*p).contains("counter")),
        "the app is in the frozen cgroup: {procs:?}"
    );
    let before = counter(&file);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counter(&file), before, "nothing runs while frozen");
    assert!(
        lc.exec_capture("work", &["true".into()]).await.is_err(),
        "a frozen profile runs no new app"
    );

    lc.thaw("work").await.expect("thaw");
    let start = std::time::Instant::now();
    while counter(&file) <= before && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(counter(&file) > before, "the app resumes after thaw");
    assert!(!freezer(init).0, "thawed");
}

#[tokio::test]
async fn restart_adopts_the_running_container_instead_of_doubling_it() {
    let s = Setup::new();
    let work = profile("work", &s.image);
    let (first, _) = s.up(&work).await;

    // A new lifecycle on a new connection: the daemon after a restart.
    let (again, _) = s.up(&work).await;
    assert_eq!(
        again.plan,
        Plan::Adopt {
            id: first.id.clone(),
            outdated: false
        }
    );
    let listed = s
        .env
        .podman()
        .cli()
        .args([
            "ps",
            "--all",
            "--quiet",
            "--filter",
            "label=org.zionos.profile=work",
        ])
        .output()
        .expect("ps");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        1,
        "one container for the profile"
    );

    // Stopped, it is started again, not recreated; its home survives.
    let lc = s.lifecycle();
    lc.stop("work").await.expect("stop");
    assert_eq!(
        lc.state("work").await.expect("state"),
        Some(ContainerState::Exited)
    );
    let (restarted, _) = s.up(&work).await;
    assert_eq!(
        restarted.plan,
        Plan::Start {
            id: first.id.clone()
        }
    );

    // Changed while stopped, it is made anew from the new spec.
    lc.stop("work").await.expect("stop");
    let mut bigger = work.clone();
    bigger.memory = Some(512 * MIB);
    let (recreated, _) = s.up(&bigger).await;
    assert_eq!(
        recreated.plan,
        Plan::Recreate {
            id: first.id.clone()
        }
    );
    let memory = sh(&lc, "work", "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes").await;
    assert_eq!(memory, (512 * MIB).to_string());

    lc.remove("work").await.expect("remove");
    assert_eq!(lc.state("work").await.expect("state"), None);
}

#[tokio::test]
async fn exec_reports_exit_code_and_output() {
    let s = Setup::new();
    s.up(&profile("work", &s.image)).await;
    let lc = s.lifecycle();
    let out = lc
        .exec_capture(
            "work",
            &[
                "sh".into(),
                "-c".into(),
                "echo out; echo err >&2; exit 3".into(),
            ],
        )
        .await
        .expect("exec");
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    let missing = lc
        .exec_capture("gaming", &["true".into()])
        .await
        .expect_err("no such profile");
    assert!(
        missing
            .to_string()
            .contains("profile `gaming` has no container"),
        "{missing}"
    );
}

/// Freezing and CPU weights are judged unavailable from Podman's first
/// refusal (`unavailable_after`), but a profile that stopped meanwhile is
/// refused too, and says nothing about the machine: Podman's real answers
/// for a stopped container are not taken for a missing capability. (The
/// refusals of rootless Podman on cgroup v1 are met in the rootless test:
/// rootful Podman here cannot run a container without cgroups, as runc has
/// no `--cgroups=disabled`.)
#[tokio::test]
async fn a_profile_that_stopped_meanwhile_is_not_taken_for_a_machine_without_freezer() {
    let s = Setup::new();
    let work = profile("work", &s.image);
    s.up(&work).await;
    let lc = s.lifecycle();
    lc.stop("work").await.expect("stop");
    let found = lc.find("work").await.expect("find").expect("found");
    assert_eq!(found.state, ContainerState::Exited);
    let running = lc.state("work").await.expect("state") == Some(ContainerState::Running);
    let err = lc
        .freeze("work")
        .await
        .expect_err("a stopped profile is not frozen");
    assert_eq!(unavailable_after(&err, running), None, "{err}");
    let err = lc.client().update_cpu_shares(&found.id, 512).await.err();
    if let Some(err) = err {
        assert_eq!(unavailable_after(&err, running), None, "{err}");
    }
}

//! Resources follow focus, end to end with every part real: the harness's
//! private Podman and session bus, the headless `zion-compositor`, and
//! `zion-sandboxd`. Two profiles each run CPU-bound loops that contend for
//! this machine's cores; the CPU time each container's cgroup is charged
//! over ten seconds shows which one the shown desktop's weight favours,
//! before and after a switch.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zion_sandboxd::sandbox::settle::CpuClock;
use zion_tests::{TestEnv, TestImage};

const DAEMON: &str = env!("CARGO_BIN_EXE_zion-sandboxd");
const WAIT: Duration = Duration::from_secs(30);
/// How long CPU time is counted.
const WINDOW: Duration = Duration::from_secs(10);
/// `[focus]` of the test's zion.toml.
const ACTIVE_WEIGHT: u32 = 400;
const BACKGROUND_WEIGHT: u32 = 50;

/// The compositor binary, built beside the daemon.
fn compositor_bin() -> PathBuf {
    zion_tests::sibling_bin(DAEMON, "zion-compositor", "ZION_COMPOSITOR")
}

/// Where the kernel charges a container's CPU time and keeps its weight.
#[derive(Debug)]
enum CpuCgroup {
    /// cgroup v1: `cpuacct.usage` (ns) and `cpu.shares`.
    V1 { cpuacct: PathBuf, cpu: PathBuf },
    /// cgroup v2: `cpu.stat` `usage_usec` and `cpu.weight`.
    V2 { dir: PathBuf },
}

impl CpuCgroup {
    /// The cgroup of process `pid`, if its CPU controllers can be read.
    fn of(pid: &str) -> Result<CpuCgroup, String> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .map_err(|e| format!("/proc/{pid}/cgroup: {e}"))?;
        let (mut cpuacct, mut cpu, mut unified) = (None, None, None);
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let path = path.trim_start_matches('/');
            let dir = |mount: &str| Path::new("/sys/fs/cgroup").join(mount).join(path);
            let names: Vec<&str> = controllers.split(',').collect();
            if names.contains(&"cpuacct") {
                cpuacct = Some(dir(controllers));
            }
            if names.contains(&"cpu") {
                cpu = Some(dir(controllers));
            }
            if controllers.is_empty() {
                unified = Some(dir(""));
            }
        }
        match (cpuacct, cpu, unified) {
            (Some(cpuacct), Some(cpu), _) => {
                if cpuacct.join("cpuacct.usage").exists() && cpu.join("cpu.shares").exists() {
                    Ok(CpuCgroup::V1 { cpuacct, cpu })
                } else {
                    Err(format!(
                        "no cpuacct.usage in {} or no cpu.shares in {}",
                        cpuacct.display(),
                        cpu.display()
                    ))
                }
            }
            (_, _, Some(dir)) if text.lines().count() == 1 => {
                if dir.join("cpu.stat").exists() && dir.join("cpu.weight").exists() {
                    Ok(CpuCgroup::V2 { dir })
                } else {
                    Err(format!(
                        "the cpu controller is not enabled for {} (no cpu.weight)",
                        dir.display()
                    ))
                }
            }
            _ => Err(format!("no cpu controller in /proc/{pid}/cgroup:\n{text}")),
        }
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    /// The CPU time charged so far, read as the daemon's warm pool reads it.
    fn usage(&self) -> Duration {
        let clock = match self {
            CpuCgroup::V1 { cpuacct, .. } => CpuClock::V1(cpuacct.join("cpuacct.usage")),
            CpuCgroup::V2 { dir } => CpuClock::V2(dir.join("cpu.stat")),
        };
        clock
            .read()
            .unwrap_or_else(|| panic!("no CPU time in {clock:?}"))
    }

    /// The weight the kernel holds (`cpu.shares` or `cpu.weight`).
    fn weight(&self) -> u64 {
        let path = match self {
            CpuCgroup::V1 { cpu, .. } => cpu.join("cpu.shares"),
            CpuCgroup::V2 { dir } => dir.join("cpu.weight"),
        };
        Self::read(&path).trim().parse().unwrap_or(0)
    }
}

/// The shared desk (environment, compositor, daemon).
struct Desk(zion_tests::desk::Desk);

impl Deref for Desk {
    type Target = zion_tests::desk::Desk;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Desk {
    /// Podman on this machine can set CPU weights, or why not.
    fn podman_weighs_cpu(env: &TestEnv) -> Result<(), String> {
        let out = env
            .podman()
            .cli()
            .args([
                "info",
                "--format",
                "{{.Host.CgroupsVersion}} {{.Host.CgroupControllers}}",
            ])
            .output()
            .map_err(|e| format!("podman info: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() {
            return Err(format!(
                "podman info failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let controllers = text.split([' ', '[', ']']);
        if controllers.clone().any(|c| c == "cpu") {
            Ok(())
        } else {
            Err(format!(
                "Podman reports no cpu cgroup controller (cgroups, controllers: {text})"
            ))
        }
    }

    /// Starts the compositor and the daemon with work and personal; `None`
    /// (after saying why) where Podman cannot weigh CPU here.
    async fn start() -> Option<Desk> {
        let env = TestEnv::new().expect("test environment");
        if let Err(why) = Desk::podman_weighs_cpu(&env) {
            zion_tests::skip::lacking(&format!("CPU weights cannot be set on this machine: {why}"));
            return None;
        }
        let image = env.image(TestImage::Base).expect("the base test image");
        let dir = env.xdg.config.join("zion");
        std::fs::create_dir_all(&dir).expect("config folder");
        let profile = |name: &str, colour: &str| {
            format!(
                "[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\n\
                 network = \"none\"\nmemory = \"256MiB\"\npids = 256\nhibernate_after = \"never\"\n\n"
            )
        };
        let text = format!(
            "{}{}[focus]\ncpu = true\nactive_weight = {ACTIVE_WEIGHT}\nbackground_weight = {BACKGROUND_WEIGHT}\n",
            profile("work", "#3465a4"),
            profile("personal", "#4e9a06"),
        );
        std::fs::write(dir.join("zion.toml"), text).expect("zion.toml");
        let mut desk = zion_tests::desk::Desk::new(env, WAIT).await;
        desk.start_session(
            Some((&compositor_bin(), "640x480", false)),
            Path::new(DAEMON),
            &[("ZION_SANDBOX_POOL", "0"), ("RUST_LOG", "info")],
            &["work", "personal"],
        )
        .await;
        Some(Desk(desk))
    }

    async fn switch_to(&self, desktop: &str) {
        let proxy = self.compositor().await;
        proxy
            .switch_to(desktop)
            .await
            .unwrap_or_else(|e| panic!("SwitchTo({desktop}): {e}\n{}", self.logs()));
        assert_eq!(
            proxy.active_desktop().await.expect("ActiveDesktop"),
            desktop
        );
    }

    fn cgroup(&self, profile: &str) -> Result<CpuCgroup, String> {
        let pid = self.podman(&[
            "inspect",
            "--format",
            "{{.State.Pid}}",
            &format!("zion-{profile}"),
        ]);
        CpuCgroup::of(&pid)
    }

    /// Starts `n` endless shell loops in the profile's container.
    fn spin(&self, profile: &str, n: usize) {
        for _ in 0..n {
            self.podman(&[
                "exec",
                "-d",
                &format!("zion-{profile}"),
                "sh",
                "-c",
                "while :; do :; done",
            ]);
        }
    }

    /// Waits until the kernel holds a higher weight for `front` than for
    /// `back`, as the daemon sets on a switch.
    async fn wait_weighed(&self, front: (&str, &CpuCgroup), back: (&str, &CpuCgroup)) {
        let end = Instant::now() + WAIT;
        loop {
            let (f, b) = (front.1.weight(), back.1.weight());
            if f > b && f >= 2 * b {
                eprintln!("weights in the kernel: {} {f}, {} {b}", front.0, back.0);
                return;
            }
            assert!(
                Instant::now() < end,
                "the shown profile `{}` never got twice the CPU weight of `{}` in the kernel: \
                 {f} vs {b}\n{}",
                front.0,
                back.0,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The CPU time each cgroup is charged over [`WINDOW`].
async fn measure(a: &CpuCgroup, b: &CpuCgroup) -> (Duration, Duration) {
    let (a0, b0) = (a.usage(), b.usage());
    tokio::time::sleep(WINDOW).await;
    (a.usage() - a0, b.usage() - b0)
}

#[tokio::test]
async fn the_shown_profile_gets_at_least_twice_the_cpu_of_the_other_and_a_switch_swaps_them() {
    let Some(desk) = Desk::start().await else {
        return;
    };
    let work = match desk.cgroup("work") {
        Ok(c) => c,
        Err(why) => {
            zion_tests::skip::lacking(&format!(
                "the containers' CPU cgroups cannot be read here: {why}"
            ));
            return;
        }
    };
    let personal = desk
        .cgroup("personal")
        .expect("personal's CPU cgroup, like work's");
    // Two loops per profile: four on this machine's two cores, so that
    // both profiles want more CPU than there is.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    desk.spin("work", cores);
    desk.spin("personal", cores);

    desk.switch_to("work").await;
    desk.wait_weighed(("work", &work), ("personal", &personal))
        .await;
    let (w, p) = measure(&work, &personal).await;
    eprintln!("work shown: work {w:?}, personal {p:?} of CPU in {WINDOW:?}");
    assert!(
        w >= 2 * p,
        "with work shown, work got {w:?} of CPU and personal {p:?} over {WINDOW:?}: \
         not twice as much\n{}",
        desk.logs()
    );
    assert!(
        w >= WINDOW / 2,
        "work's loops hardly ran ({w:?} in {WINDOW:?}): the measurement says nothing"
    );

    desk.switch_to("personal").await;
    desk.wait_weighed(("personal", &personal), ("work", &work))
        .await;
    let (w, p) = measure(&work, &personal).await;
    eprintln!("personal shown: work {w:?}, personal {p:?} of CPU in {WINDOW:?}");
    assert!(
        p >= 2 * w,
        "with personal shown, personal got {p:?} of CPU and work {w:?} over {WINDOW:?}: \
         not twice as much\n{}",
        desk.logs()
    );
}

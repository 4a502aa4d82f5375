//! Profile sessions end to end, every part real: the harness's private
//! Podman and session bus, the headless `zion-compositor` on that bus with
//! the daemon's XDG_RUNTIME_DIR, `zion-sandboxd`, `zionctl`, and
//! `weston-simple-shm` inside the profiles' containers drawing on the
//! compositor. Screenshots are read back as pixels.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zion_tests::{TestEnv, TestImage};

const DAEMON: &str = env!("CARGO_BIN_EXE_zion-sandboxd");
/// zionctl, built beside the daemon (its own crate since issue 14).
fn zionctl_bin() -> std::path::PathBuf {
    zion_tests::sibling_bin(
        env!("CARGO_BIN_EXE_zion-sandboxd"),
        "zionctl",
        "ZION_ZIONCTL",
    )
}
const WAIT: Duration = Duration::from_secs(30);
const WORK: (u8, u8, u8) = (0x34, 0x65, 0xa4);
const PERSONAL: (u8, u8, u8) = (0x4e, 0x9a, 0x06);
/// A frame is a border around a window: hundreds of pixels at the least.
const FRAME_PIXELS: usize = 300;

/// The daemon's variables: no warm sandbox pool, and its following of the
/// compositor in the log.
const FOLLOWING: &[(&str, &str)] = &[
    ("ZION_SANDBOX_POOL", "0"),
    ("RUST_LOG", "info,zion_sandboxd::follow=debug"),
];

/// The compositor binary, built beside the daemon.
fn compositor_bin() -> PathBuf {
    zion_tests::sibling_bin(DAEMON, "zion-compositor", "ZION_COMPOSITOR")
}

/// work (never hibernated) and personal (after 2 s), both in `image`, with
/// the default colours; `extra` is appended to personal.
fn config(image: &str, personal_extra: &str) -> String {
    format!(
        "[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{image}\"\nnetwork = \"none\"\nmemory = \"256MiB\"\npids = 512\nhibernate_after = \"never\"\n\n\
         [[profile]]\nname = \"personal\"\ncolour = \"#4e9a06\"\nimage = \"{image}\"\nnetwork = \"none\"\nmemory = \"320MiB\"\npids = 256\nhibernate_after = \"2s\"\n{personal_extra}"
    )
}

/// The shared desk (environment, compositor, daemon) and the screenshots
/// taken on it.
struct Desk {
    desk: zion_tests::desk::Desk,
    shots: usize,
}

impl Deref for Desk {
    type Target = zion_tests::desk::Desk;
    fn deref(&self) -> &Self::Target {
        &self.desk
    }
}

impl DerefMut for Desk {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.desk
    }
}

impl Desk {
    /// Starts the compositor (when `with_compositor`) and then the daemon,
    /// and waits for both profiles to run.
    async fn start(with_compositor: bool, personal_extra: &str) -> Desk {
        let env = TestEnv::new().expect("test environment");
        let image = env
            .image(TestImage::Wayland)
            .expect("the wayland test image");
        let mut desk = zion_tests::desk::Desk::new(env, WAIT).await;
        desk.write_config(&config(&image, personal_extra));
        let compositor = compositor_bin();
        desk.start_session(
            with_compositor.then_some((compositor.as_path(), "640x480", true)),
            Path::new(DAEMON),
            FOLLOWING,
            &["work", "personal"],
        )
        .await;
        Desk { desk, shots: 0 }
    }

    fn zionctl(&self, args: &[&str]) -> std::process::Output {
        self.env
            .command(zionctl_bin())
            .args(args)
            .output()
            .expect("zionctl runs")
    }

    /// `zionctl profiles run <profile> -- weston-simple-shm`.
    fn run_simple_shm(&self, profile: &str) {
        self.run(profile, "weston-simple-shm");
    }

    /// `zionctl profiles run <profile> -- <program>`.
    fn run(&self, profile: &str, program: &str) {
        let out = self.zionctl(&["profiles", "run", profile, "--", program]);
        assert!(
            out.status.success(),
            "zionctl profiles run {profile} -- {program}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
    }

    /// Runs `script` with sh inside the profile's container.
    fn sh(&self, profile: &str, script: &str) -> String {
        self.podman(&["exec", &format!("zion-{profile}"), "sh", "-c", script])
    }

    async fn shot(&mut self) -> Shot {
        self.shots += 1;
        let path = self.env.root().join(format!("shot-{}.png", self.shots));
        let text = path.to_str().expect("UTF-8 path");
        self.compositor()
            .await
            .screenshot(text)
            .await
            .unwrap_or_else(|e| panic!("Screenshot: {e}\n{}", self.logs()));
        Shot::read(&path)
    }

    async fn shot_until(&mut self, what: &str, check: impl Fn(&Shot) -> bool) -> Shot {
        let end = Instant::now() + WAIT;
        loop {
            let shot = self.shot().await;
            if check(&shot) {
                return shot;
            }
            assert!(Instant::now() < end, "{what} never showed\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn switch_to(&self, desktop: &str) {
        self.compositor()
            .await
            .switch_to(desktop)
            .await
            .unwrap_or_else(|e| panic!("SwitchTo({desktop}): {e}\n{}", self.logs()));
    }

    /// The container's state as Podman reports it.
    fn podman_state(&self, profile: &str) -> String {
        self.podman(&[
            "inspect",
            "--format",
            "{{.State.Status}}",
            &format!("zion-{profile}"),
        ])
    }

    /// Whether the profile's processes are in a frozen cgroup, read on the
    /// host from the container's init.
    fn frozen(&self, profile: &str) -> Option<bool> {
        let pid = self.podman(&[
            "inspect",
            "--format",
            "{{.State.Pid}}",
            &format!("zion-{profile}"),
        ]);
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        for line in cgroups.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next(), parts.next()?, parts.next()?);
            let path = path.trim_start_matches('/');
            if controllers == "freezer" {
                let dir = Path::new("/sys/fs/cgroup/freezer").join(path);
                let state = std::fs::read_to_string(dir.join("freezer.state")).ok()?;
                return Some(state.trim() == "FROZEN");
            }
            if controllers.is_empty() && cgroups.lines().count() == 1 {
                let dir = Path::new("/sys/fs/cgroup").join(path);
                let events = std::fs::read_to_string(dir.join("cgroup.events")).ok()?;
                return Some(events.lines().any(|l| l == "frozen 1"));
            }
        }
        None
    }
}

/// A screenshot's pixels.
struct Shot {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
}

impl Shot {
    fn read(path: &Path) -> Shot {
        let file = std::fs::File::open(path).expect("the screenshot exists");
        let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
        let mut rgba = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgba).expect("PNG pixels");
        assert_eq!(info.color_type, png::ColorType::Rgba);
        rgba.truncate(info.buffer_size());
        Shot {
            width: info.width as usize,
            height: info.height as usize,
            rgba,
        }
    }

    fn pixel(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = (y * self.width + x) * 4;
        (self.rgba[i], self.rgba[i + 1], self.rgba[i + 2])
    }

    fn count(&self, colour: (u8, u8, u8)) -> usize {
        self.rgba
            .chunks_exact(4)
            .filter(|p| (p[0], p[1], p[2]) == colour)
            .count()
    }

    /// The box of pixels in `colour`: (x0, y0, x1, y1).
    fn bounds(&self, colour: (u8, u8, u8)) -> Option<(usize, usize, usize, usize)> {
        let mut b: Option<(usize, usize, usize, usize)> = None;
        for y in 0..self.height {
            for x in 0..self.width {
                if self.pixel(x, y) == colour {
                    b = Some(match b {
                        None => (x, y, x, y),
                        Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                    });
                }
            }
        }
        b
    }

    /// A window framed in `colour` (and none in `other`).
    fn framed_in(&self, colour: (u8, u8, u8), other: (u8, u8, u8)) -> bool {
        self.count(colour) >= FRAME_PIXELS && self.count(other) == 0
    }

    /// A hash of what is drawn inside the frame in `colour`: it changes when
    /// the client draws a new frame (weston-simple-shm animates).
    fn content(&self, colour: (u8, u8, u8)) -> u64 {
        let mut h = DefaultHasher::new();
        if let Some((x0, y0, x1, y1)) = self.bounds(colour) {
            // Well inside the frame and its title bar.
            for y in (y0 + 40).min(y1)..y1.saturating_sub(10) {
                for x in (x0 + 10).min(x1)..x1.saturating_sub(10) {
                    self.pixel(x, y).hash(&mut h);
                }
            }
        }
        h.finish()
    }
}

#[tokio::test]
async fn windows_land_on_their_profiles_desktops_and_the_left_profile_hibernates_and_thaws_on_switch(
) {
    let mut d = Desk::start(true, "").await;
    assert_eq!(
        d.compositor()
            .await
            .active_desktop()
            .await
            .expect("ActiveDesktop"),
        "work"
    );

    // work's window on the work desktop, framed in work's colour.
    d.run_simple_shm("work");
    d.shot_until("a window framed in work's colour on work", |s| {
        s.framed_in(WORK, PERSONAL)
    })
    .await;

    // personal's on personal. Switching there thaws personal if its 2 s
    // ran out meanwhile.
    d.switch_to("personal").await;
    d.wait_state("personal", "running", Duration::from_secs(5))
        .await;
    d.run_simple_shm("personal");
    let on_personal = d
        .shot_until("a window framed in personal's colour on personal", |s| {
            s.framed_in(PERSONAL, WORK)
        })
        .await;
    assert!(on_personal.count(PERSONAL) >= FRAME_PIXELS);

    // Back to work: personal is left, and hibernates after its 2 s, not
    // before.
    d.switch_to("work").await;
    let left = Instant::now();
    d.shot_until("work's window again", |s| s.framed_in(WORK, PERSONAL))
        .await;
    tokio::time::sleep(Duration::from_millis(1200).saturating_sub(left.elapsed())).await;
    assert_eq!(
        d.status("personal").await.state,
        "running",
        "hibernated before its hibernate_after\n{}",
        d.logs()
    );
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(left.elapsed())).await;
    let status = d
        .wait_state("personal", "hibernated", Duration::from_secs(2))
        .await;
    assert!(status.frozen_since > 0, "{status:?}");
    assert_eq!(d.podman_state("personal"), "paused");
    if let Some(frozen) = d.frozen("personal") {
        assert!(frozen, "personal's cgroup is not frozen");
    }
    // work is never hibernated, and still draws.
    assert_eq!(d.status("work").await.state, "running");
    assert_eq!(d.podman_state("work"), "running");

    // Switching to personal thaws it at once, and its window draws again.
    let switched = Instant::now();
    d.switch_to("personal").await;
    d.wait_state("personal", "running", Duration::from_secs(2))
        .await;
    let thawed_in = switched.elapsed();
    assert_eq!(d.podman_state("personal"), "running");
    if let Some(frozen) = d.frozen("personal") {
        assert!(!frozen, "personal's cgroup is still frozen");
    }
    let first = d
        .shot_until("personal's window after the thaw", |s| {
            s.framed_in(PERSONAL, WORK)
        })
        .await;
    let before = first.content(PERSONAL);
    d.shot_until("personal's window drawing new frames", |s| {
        s.framed_in(PERSONAL, WORK) && s.content(PERSONAL) != before
    })
    .await;
    eprintln!("switch to a hibernated profile to running: {thawed_in:?}");
}

#[tokio::test]
async fn an_x11_program_in_a_profile_opens_on_its_desktop_through_its_own_xwayland_only() {
    let mut d = Desk::start(true, "").await;
    // Inside the container: DISPLAY=:0, and /tmp/.X11-unix/X0 is work's
    // own X socket (the compositor's, in work's folder).
    assert_eq!(d.sh("work", "echo $DISPLAY"), ":0");
    let inode_inside: u64 = d
        .sh("work", "stat -c %i /tmp/.X11-unix/X0")
        .parse()
        .expect("an inode number");
    let own =
        std::fs::metadata(d.env.xdg.runtime.join("zion/work/X11/X0")).expect("work's X socket");
    assert_eq!(inode_inside, own.ino(), "the X socket is work's");

    // xeyes in work starts work's Xwayland and shows on work's desktop,
    // framed in work's colour, with its eyes (black and white) inside.
    d.run("work", "xeyes");
    let shot = d
        .shot_until("xeyes framed in work's colour on work", |s| {
            s.framed_in(WORK, PERSONAL) && s.count((0, 0, 0)) > 50 && s.count((255, 255, 255)) > 50
        })
        .await;
    let (x0, y0, x1, y1) = shot.bounds(WORK).expect("work's frame");
    assert!(x1 - x0 > 50 && y1 - y0 > 50, "a window-sized frame");

    // xeyes in personal: on personal's desktop, not work's; and each
    // profile's X server lists its own xeyes only.
    d.switch_to("personal").await;
    d.wait_state("personal", "running", Duration::from_secs(5))
        .await;
    d.run("personal", "xeyes");
    d.shot_until("xeyes framed in personal's colour on personal", |s| {
        s.framed_in(PERSONAL, WORK)
    })
    .await;
    for profile in ["work", "personal"] {
        let tree = d.sh(profile, "xwininfo -root -tree");
        assert_eq!(
            tree.matches("\"XEyes\"").count(),
            1,
            "{profile}'s X server lists exactly its own xeyes:\n{tree}"
        );
    }
    d.switch_to("work").await;
    d.shot_until("work's xeyes alone on work", |s| {
        s.framed_in(WORK, PERSONAL)
    })
    .await;
}

#[tokio::test]
async fn a_profile_sees_its_own_wayland_socket_only_no_bus_and_its_limits() {
    let d = Desk::start(true, "").await;
    // Started the way a user starts apps: through Profiles1.Run.
    let out = d.zionctl(&[
        "profiles",
        "run",
        "work",
        "--",
        "sh",
        "-c",
        "env > /tmp/app-env",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let end = Instant::now() + WAIT;
    let env = loop {
        let env = d.sh("work", "cat /tmp/app-env 2>/dev/null; true");
        if env.contains("WAYLAND_DISPLAY") || Instant::now() > end {
            break env;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        env.contains("WAYLAND_DISPLAY=/run/zion/wayland/wayland-0"),
        "{env}"
    );
    assert!(
        env.lines()
            .filter(|l| l.starts_with("DBUS_SESSION_BUS_ADDRESS="))
            .all(|l| l == "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/zion/bus/bus"),
        "the app got a bus other than its profile's own: {env}"
    );
    assert!(!env.contains("CONTAINER_HOST"), "{env}");

    // The session bus the daemon and compositor use is not there.
    let bus = d.bus_socket();
    let check = format!("test -e '{bus}' && echo present || echo absent");
    assert_eq!(d.sh("work", &check), "absent");

    // The only sockets are its own: its Wayland socket (the same file as
    // the compositor's socket for work, not personal's), its own session
    // bus and, when the compositor runs Xwayland, the X socket of work's
    // own Xwayland.
    let sockets = d.sh(
        "work",
        "find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print 2>/dev/null; true",
    );
    assert!(
        sockets.lines().any(|l| l == "/run/zion/wayland/wayland-0"),
        "no Wayland socket inside work: {sockets}"
    );
    for x in sockets
        .lines()
        .filter(|l| *l != "/run/zion/wayland/wayland-0" && *l != "/run/zion/bus/bus")
    {
        let name = x
            .strip_prefix("/run/zion/wayland/X11/")
            .or_else(|| x.strip_prefix("/tmp/.X11-unix/"))
            .unwrap_or_else(|| {
                panic!("a socket that is not work's own inside work: {x} (all: {sockets})")
            });
        assert!(
            d.env.xdg.runtime.join("zion/work/X11").join(name).exists(),
            "{x} is not work's Xwayland socket (all: {sockets})"
        );
    }
    let inode_inside: u64 = d
        .sh("work", "stat -c %i /run/zion/wayland/wayland-0")
        .parse()
        .expect("an inode number");
    let runtime = &d.env.xdg.runtime;
    let own = std::fs::metadata(runtime.join("zion/work/wayland-0")).expect("work's socket");
    let other =
        std::fs::metadata(runtime.join("zion/personal/wayland-0")).expect("personal's socket");
    assert_eq!(inode_inside, own.ino(), "work's socket is work's");
    assert_ne!(inode_inside, other.ino());
    // The host's folder (read-only inside) holds work's socket and its
    // lock (and work's X11 folder), nothing of personal's.
    let listed = d.sh("work", "ls -A /run/zion/wayland");
    let listed: Vec<&str> = listed.lines().filter(|l| *l != "X11").collect();
    assert_eq!(listed, ["wayland-0", "wayland-0.lock"]);
    let personal_inside = d.sh("work", "find /run -name '*personal*' 2>/dev/null; true");
    assert_eq!(personal_inside, "", "personal's runtime folder inside work");

    // Its limits, as the profile's own cgroup shows them.
    let memory = d.sh(
        "work",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    );
    assert_eq!(memory, (256u64 << 20).to_string(), "work's memory limit");
    let pids = d.sh(
        "work",
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
    );
    assert_eq!(pids, "512", "work's pids limit");
    // personal may have hibernated meanwhile (2 s unseen): show it.
    d.switch_to("personal").await;
    d.wait_state("personal", "running", Duration::from_secs(5))
        .await;
    let memory = d.sh(
        "personal",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    );
    assert_eq!(
        memory,
        (320u64 << 20).to_string(),
        "personal's memory limit"
    );
}

#[tokio::test]
async fn a_disk_hibernate_is_refused_with_criu_checks_reason_where_criu_cannot_checkpoint() {
    let criu = Command::new("criu")
        .arg("check")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if matches!(&criu, Ok(status) if status.success()) {
        zion_tests::skip::lacking(
            "`criu check` passes on this machine; this test covers machines where it fails",
        );
        return;
    }
    // No compositor: only the hand-made Hibernate is under test.
    let d = Desk::start(false, "hibernate = \"disk\"\n").await;
    let err = d
        .profiles()
        .await
        .hibernate("personal")
        .await
        .expect_err("a disk hibernate without CRIU is refused");
    let message = err.to_string();
    assert!(message.contains("`criu check`"), "{message}");
    assert!(message.contains("hibernate = \"disk\""), "{message}");
    assert!(message.contains("personal"), "{message}");
    // Nothing was frozen, and the reason was told at startup too.
    assert_eq!(d.status("personal").await.state, "running");
    assert_eq!(d.podman_state("personal"), "running");
    assert!(
        d.logs().contains("`criu check`"),
        "no startup warning:\n{}",
        d.logs()
    );
    // A profile that freezes still hibernates.
    d.profiles()
        .await
        .hibernate("work")
        .await
        .expect("work freezes");
    assert_eq!(d.podman_state("work"), "paused");
    // zionctl says it too, with a failing exit code.
    let out = d.zionctl(&["profiles", "hibernate", "personal"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("criu check"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn hibernation_pauses_while_the_compositor_is_away_and_follows_it_when_it_returns() {
    let mut d = Desk::start(true, "").await;
    // personal shown, then the compositor goes away.
    d.switch_to("personal").await;
    d.wait_state("personal", "running", Duration::from_secs(5))
        .await;
    if let Some(c) = d.compositor.as_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    // Well past personal's 2 s: nothing is hibernated without a compositor.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        d.status("personal").await.state,
        "running",
        "hibernated with no compositor\n{}",
        d.logs()
    );
    assert!(
        d.logs().contains("not hibernated automatically"),
        "{}",
        d.logs()
    );

    // A new compositor shows work: the daemon follows it again, and
    // personal, not shown, hibernates after its 2 s.
    d.start_compositor(&compositor_bin(), "640x480", true).await;
    let back = Instant::now();
    d.wait_state("personal", "hibernated", Duration::from_secs(8))
        .await;
    assert!(
        back.elapsed() >= Duration::from_millis(1500),
        "hibernated {:?} after the compositor came back, before its 2 s",
        back.elapsed()
    );
    d.switch_to("personal").await;
    d.wait_state("personal", "running", Duration::from_secs(2))
        .await;
}

//! Attacks from inside a profile container (issue 18, findings 1 and 3),
//! every part real: the harness's private Podman and bus, the headless
//! `zion-compositor`, `zion-sandboxd` and the profiles' containers. Each
//! test is an honest attempt from the container's side that must fail, and
//! asserts why it failed.

use std::ops::Deref;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zion_sandboxd::profiles_dbus::ProfileStatus;
use zion_tests::{TestEnv, TestImage};

const DAEMON: &str = env!("CARGO_BIN_EXE_zion-sandboxd");

/// The daemon binary: `$ZION_SANDBOXD` (to run the attacks against another
/// build, e.g. the code before a fix), else the one built with this test.
fn daemon_bin() -> PathBuf {
    std::env::var_os("ZION_SANDBOXD").map_or_else(|| PathBuf::from(DAEMON), PathBuf::from)
}
const WAIT: Duration = Duration::from_secs(40);

/// The compositor binary, built beside the daemon.
fn compositor_bin() -> PathBuf {
    zion_tests::sibling_bin(DAEMON, "zion-compositor", "ZION_COMPOSITOR")
}

/// One desk at a time: a compositor started in a private mount namespace
/// copies every mount of the moment, a running container's `shm` among them,
/// and holds it until it exits; a parallel test removing that container would
/// then get `EBUSY` from Podman.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The compositor, the daemon and two profiles, work and personal, running.
struct Desk {
    desk: zion_tests::desk::Desk,
    /// Held for the desk's life (see [`SERIAL`]); dropped last.
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Deref for Desk {
    type Target = zion_tests::desk::Desk;
    fn deref(&self) -> &Self::Target {
        &self.desk
    }
}

impl Desk {
    async fn start() -> Desk {
        let serial = SERIAL.lock().await;
        let env = TestEnv::new().expect("test environment");
        let image = env
            .image(TestImage::Wayland)
            .expect("the wayland test image");
        let profile = |name: &str, colour: &str| {
            format!(
                "[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\nnetwork = \"none\"\nmemory = \"256MiB\"\nhibernate_after = \"never\"\nrestart = \"on-failure\"\n\n"
            )
        };
        let mut desk = Desk {
            desk: zion_tests::desk::Desk::new(env, WAIT).await,
            _serial: serial,
        };
        desk.desk
            .write_config(&(profile("work", "#3465a4") + &profile("personal", "#4e9a06")));
        desk.desk
            .start_session(
                Some((&compositor_bin(), "320x240", false)),
                &daemon_bin(),
                &[("ZION_SANDBOX_POOL", "0")],
                &["work", "personal"],
            )
            .await;
        desk
    }

    async fn start_compositor(&mut self) {
        self.desk
            .start_compositor(&compositor_bin(), "320x240", false)
            .await;
    }

    async fn stop_compositor(&mut self) {
        self.desk.stop_compositor().await;
    }

    async fn wait_state(&self, profile: &str, state: &str) -> ProfileStatus {
        self.desk.wait_state(profile, state, WAIT).await
    }

    fn podman(&self, args: &[&str]) -> (bool, String) {
        self.desk.podman_try(args)
    }

    /// Runs `script` with sh inside the profile's container; its output
    /// (stdout and stderr), whatever its exit status.
    fn sh(&self, profile: &str, script: &str) -> String {
        let (_, out) = self.podman(&["exec", &format!("zion-{profile}"), "sh", "-c", script]);
        out
    }

    fn started_at(&self, profile: &str) -> String {
        let (ok, out) = self.podman(&[
            "inspect",
            "--format",
            "{{.State.StartedAt}}",
            &format!("zion-{profile}"),
        ]);
        assert!(ok, "podman inspect: {out}");
        out
    }

    /// Kills the container's first process from inside (as a crashing
    /// session would), and waits until the daemon's restart policy has
    /// started it again.
    async fn crash_and_wait_for_restart(&self, profile: &str) {
        let before = self.started_at(profile);
        self.sh(
            profile,
            "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = sleep ] && kill -KILL ${p#/proc/}; done; true",
        );
        let end = Instant::now() + WAIT;
        loop {
            let (_, state) = self.podman(&[
                "inspect",
                "--format",
                "{{.State.Status}}",
                &format!("zion-{profile}"),
            ]);
            if state == "running" && self.started_at(profile) != before {
                return;
            }
            assert!(
                Instant::now() < end,
                "profile `{profile}` was not restarted ({state})\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A host folder an attacker would love to get: marked so that it is
/// recognised wherever it shows up.
fn victim_folder(env: &TestEnv) -> PathBuf {
    let victim = env.root().join("victim");
    std::fs::create_dir_all(&victim).expect("victim folder");
    std::fs::write(victim.join("host-secret"), "precious").expect("victim file");
    victim
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Finding 1: the X11 folder the host mounts as `/tmp/.X11-unix` (and the
/// Wayland socket folder) must not be replaceable from inside, so that a
/// restart cannot make Podman mount a host folder of the container's choice.
#[tokio::test]
async fn a_container_cannot_swap_its_socket_folders_for_links_that_a_restart_would_mount() {
    let d = Desk::start().await;
    let victim = victim_folder(&d.env);
    // Every place the X11 folder and the socket folder were or are visible.
    let script = format!(
        "for dir in /run/zion/X11 /run/zion/wayland/X11 /run/zion/wayland /tmp/.X11-unix; do \
           [ -e \"$dir\" ] || continue; \
           if mv \"$dir\" \"$dir.old\" && ln -s '{v}' \"$dir\"; then echo \"SWAPPED $dir\"; else echo \"REFUSED $dir\"; fi; \
         done; \
         for f in /run/zion/wayland/planted /run/zion/X11/planted /tmp/.X11-unix/planted; do \
           [ -d \"${{f%/*}}\" ] || continue; \
           if touch \"$f\"; then echo \"WROTE $f\"; else echo \"REFUSED $f\"; fi; \
         done",
        v = victim.display()
    );
    let attempt = d.sh("work", &script);
    eprintln!("the attempt inside work:\n{attempt}");
    d.crash_and_wait_for_restart("work").await;
    let listed = d.sh(
        "work",
        "ls -A /tmp/.X11-unix /run/zion/wayland/X11 2>&1; true",
    );
    assert!(
        !listed.contains("host-secret"),
        "the host folder the link named is mounted in the restarted container:\n{listed}\nattempt:\n{attempt}"
    );
    assert!(
        !attempt.contains("SWAPPED") && !attempt.contains("WROTE"),
        "the container changed a host socket folder:\n{attempt}"
    );
    assert!(
        attempt.contains("REFUSED /tmp/.X11-unix") && attempt.contains("Read-only file system"),
        "refused for another reason than a read-only mount:\n{attempt}"
    );
    let runtime = d.env.xdg.runtime.join("zion/work");
    assert!(!is_link(&runtime) && !is_link(&runtime.join("X11")));
    assert_eq!(
        std::fs::read_to_string(victim.join("host-secret")).expect("victim file"),
        "precious"
    );
    // The restarted container still reaches its own Wayland socket.
    let own = d.sh(
        "work",
        "test -S \"$WAYLAND_DISPLAY\" || test -S \"$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY\"; echo $?",
    );
    assert_eq!(own, "0", "{}", d.logs());
}

/// Finding 1: a link planted as `wayland-0.lock` or as a profile's X11
/// folder, from inside (refused: read-only) or on the host (a machine
/// upgraded from an older layout), is replaced by a restarted compositor,
/// never followed.
#[tokio::test]
async fn links_planted_as_lock_file_or_socket_folder_are_replaced_not_followed_by_a_restarted_compositor(
) {
    let mut d = Desk::start().await;
    let victim = victim_folder(&d.env);
    let victim_file = victim.join("host-secret");
    let inside = d.sh(
        "work",
        &format!(
            "for f in /run/zion/wayland-0.lock /run/zion/wayland/wayland-0.lock; do \
               [ -e \"$f\" ] || continue; \
               if ln -sf '{v}' \"$f\"; then echo \"PLANTED $f\"; else echo \"REFUSED $f\"; fi; \
             done",
            v = victim_file.display()
        ),
    );
    eprintln!("the attempt inside work:\n{inside}");
    assert!(
        !inside.contains("PLANTED"),
        "a link was planted from inside the container:\n{inside}"
    );
    assert!(inside.contains("Read-only file system"), "{inside}");

    // On the host, with the compositor away: links where its lock file and
    // personal's X11 folder go.
    d.stop_compositor().await;
    let runtime = d.env.xdg.runtime.join("zion");
    let lock = runtime.join("work/wayland-0.lock");
    let _ = std::fs::remove_file(&lock);
    std::os::unix::fs::symlink(&victim_file, &lock).expect("plant the lock link");
    let x11 = runtime.join("personal/X11");
    if x11.exists() {
        std::fs::rename(&x11, runtime.join("personal/X11.old")).expect("move X11 away");
    }
    std::os::unix::fs::symlink(&victim, &x11).expect("plant the X11 link");
    d.start_compositor().await;
    // The socket is there again, the links are gone, the victim untouched.
    let end = Instant::now() + WAIT;
    while !runtime.join("work/wayland-0").exists() && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        std::fs::read_to_string(&victim_file).expect("victim file"),
        "precious",
        "the compositor followed the lock link\n{}",
        d.logs()
    );
    let names: Vec<String> = std::fs::read_dir(&victim)
        .expect("victim folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["host-secret"],
        "the compositor wrote into the X11 link's target"
    );
    assert!(!is_link(&lock), "the lock link was left\n{}", d.logs());
    assert!(
        std::fs::symlink_metadata(&lock).is_ok_and(|m| m.is_file()),
        "no lock file\n{}",
        d.logs()
    );
    if zion_compositor_has_xwayland() {
        assert!(!is_link(&x11), "the X11 link was left\n{}", d.logs());
        let socket = std::fs::symlink_metadata(x11.join("X0")).expect("personal's X socket");
        assert!(socket.file_type().is_socket());
    }
}

fn zion_compositor_has_xwayland() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("Xwayland").exists()))
}

/// Connects to each of `paths` from inside `profile` (a leading `@` is an
/// abstract socket); returns perl's verdict per path.
fn connect_all(d: &Desk, profile: &str, paths: &[String]) -> Vec<(String, String)> {
    let script = "use Socket; for my $p (@ARGV) { socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die \"socket: $!\"; \
                  my $a = $p; $a =~ s/^@/\\0/; \
                  if (connect($s, pack_sockaddr_un($a))) { print \"$p CONNECTED\\n\" } else { print \"$p REFUSED $!\\n\" } }";
    let mut args = vec![
        "exec".to_owned(),
        format!("zion-{profile}"),
        "perl".into(),
        "-e".into(),
        script.into(),
    ];
    args.extend(paths.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = d.podman(&args);
    assert!(ok, "perl inside {profile}: {out}");
    out.lines()
        .filter_map(|l| {
            let (path, verdict) = l
                .rsplit_once(" CONNECTED")
                .map(|(p, _)| (p, "CONNECTED"))
                .or_else(|| l.split_once(" REFUSED "))?;
            Some((path.to_owned(), verdict.to_owned()))
        })
        .collect()
}

/// Finding 1 (attack suite): from inside work, every socket the host has —
/// the host's Wayland socket, personal's Wayland and X11 sockets, the
/// session bus, the Podman socket, the host's abstract sockets — is out of
/// reach; only work's own sockets answer.
#[tokio::test]
async fn a_profile_cannot_connect_to_any_socket_the_host_has() {
    let d = Desk::start().await;
    let mut host: Vec<String> = Vec::new();
    let mut stack = vec![d.env.root().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.file_type().is_socket() {
                // A longer path fits no sockaddr_un: no one connects to it.
                let path = entry.path().display().to_string();
                if path.len() < 108 {
                    host.push(path);
                }
            }
        }
    }
    let runtime = &d.env.xdg.runtime;
    for needed in [
        runtime.join("wayland-zion"),
        runtime.join("zion/personal/wayland-0"),
        d.env.podman().socket().to_path_buf(),
    ] {
        let needed = needed.display().to_string();
        assert!(host.contains(&needed), "{needed} is not among {host:?}");
    }
    let bus = d.bus_socket();
    assert!(host.contains(&bus), "the bus {bus} is not among {host:?}");
    // The host's abstract sockets (an X server's, a bus's): the container
    // has its own network namespace, so none should answer.
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let mut abstracts: Vec<String> = unix
        .lines()
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|p| p.starts_with('@'))
        .map(str::to_owned)
        .collect();
    abstracts.sort();
    abstracts.dedup();
    abstracts.truncate(50);
    // The paths work's own sockets have on the host, and the same names
    // under the container's runtime folder, as an attacker would guess them.
    let guesses = [
        "/run/zion/../wayland-zion",
        "/run/zion/../personal/wayland-0",
        "/run/zion/wayland/../../personal/wayland-0",
        "/run/podman/podman.sock",
        "/var/run/dbus/system_bus_socket",
    ];
    let work_own: Vec<String> = [
        runtime.join("zion/work/wayland-0"),
        runtime.join("zion/work/X11/X0"),
        // Work's own session bus (its dbus-daemon, inside work).
        runtime.join("zion-bus/work/bus"),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    let mut targets: Vec<String> = host
        .iter()
        .filter(|p| !work_own.contains(p))
        .cloned()
        .collect();
    targets.extend(abstracts);
    targets.extend(guesses.iter().map(|g| (*g).to_owned()));
    let verdicts = connect_all(&d, "work", &targets);
    assert_eq!(verdicts.len(), targets.len(), "{verdicts:?}");
    for (path, verdict) in &verdicts {
        assert_ne!(verdict, "CONNECTED", "work connected to the host's {path}");
        // Not there at all, or not allowed: either is a refusal by the
        // boundary, not by a busy server.
        assert!(
            verdict.contains("No such file")
                || verdict.contains("Connection refused")
                || verdict.contains("Permission denied"),
            "{path}: {verdict}"
        );
    }
    // Every socket visible inside work is work's own, and those answer.
    let inside: Vec<String> = d
        .sh(
            "work",
            "find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print 2>/dev/null; true",
        )
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(!inside.is_empty(), "no socket inside work at all");
    for (path, verdict) in connect_all(&d, "work", &inside) {
        let ino: u64 = d
            .sh("work", &format!("stat -c %i '{path}'"))
            .parse()
            .expect("an inode number");
        let own = work_own
            .iter()
            .any(|p| std::fs::metadata(p).is_ok_and(|m| m.ino() == ino));
        assert!(own, "{path} inside work is not one of work's own sockets");
        assert_eq!(verdict, "CONNECTED", "work's own {path} does not answer");
    }
}

/// Finding 1 (attack suite): from inside work, personal's home and runtime
/// folder are nowhere: neither by their host paths nor by searching.
#[tokio::test]
async fn a_profile_cannot_read_another_profiles_home_or_runtime_folder() {
    let d = Desk::start().await;
    let marker = "zion-personal-marker-7f3a";
    let wrote = d.sh(
        "personal",
        &format!("echo secret > \"$HOME/{marker}\" && echo ok"),
    );
    assert_eq!(wrote, "ok");
    let home = d.env.xdg.data.join("zion/profiles/personal/home");
    assert!(
        home.join(marker).exists(),
        "personal's home is not at {}",
        home.display()
    );
    let runtime = d.env.xdg.runtime.join("zion/personal");
    let script = format!(
        "for p in '{home}/{marker}' '{home}' '{runtime}' '{runtime}/wayland-0' /run/zion/../personal; do \
           if cat \"$p\" >/dev/null 2>&1 || ls \"$p\" >/dev/null 2>&1; then echo \"READ $p\"; else echo \"REFUSED $p\"; fi; \
         done; \
         find / \\( -path /proc -o -path /sys \\) -prune -o -name '{marker}' -print 2>/dev/null; true",
        home = home.display(),
        runtime = runtime.display()
    );
    let out = d.sh("work", &script);
    assert!(
        !out.contains("READ"),
        "work read personal's folders:\n{out}"
    );
    assert!(
        !out.contains(marker) || out.lines().all(|l| l.starts_with("REFUSED")),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("REFUSED")).count(),
        5,
        "{out}"
    );
}

/// The uid map line of `profile`'s session: (first inside, first outside,
/// count).
fn uid_map(d: &Desk, profile: &str) -> (u64, u64, u64) {
    let map = d.sh(profile, "cat /proc/self/uid_map");
    let fields: Vec<u64> = map
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    assert_eq!(fields.len(), 3, "one mapping line: {map}");
    (fields[0], fields[1], fields[2])
}

fn container_id(d: &Desk, profile: &str) -> String {
    let (ok, id) = d.podman(&["inspect", "--format", "{{.Id}}", &format!("zion-{profile}")]);
    assert!(ok, "{id}");
    id
}

/// Finding 3: under rootful Podman each profile runs in a user namespace
/// of its own (root inside is an unprivileged id outside), a file made in
/// its home has that id as owner on the host, and keeps it when the
/// container is made anew; its Wayland socket still answers, by ACL to
/// exactly that id.
#[tokio::test]
async fn root_inside_a_profile_is_not_root_outside_and_its_home_keeps_one_owner_across_recreation()
{
    zion_tests::require!(
        rustix::process::geteuid().is_root(),
        "the tests' Podman is rootless here: keep-id maps the user, checked by the spec tests"
    );
    let d = Desk::start().await;
    let (inside, work_base, count) = uid_map(&d, "work");
    let (_, personal_base, _) = uid_map(&d, "personal");
    assert_eq!(inside, 0);
    assert_ne!(work_base, 0, "uid 0 in work is uid 0 on the host");
    assert_eq!(count, 65536);
    assert_ne!(work_base, personal_base, "two profiles share host ids");
    assert!(
        personal_base >= work_base + count || work_base >= personal_base + count,
        "the ranges overlap"
    );

    let home = d.env.xdg.data.join("zion/profiles/work/home");
    let made = d.sh("work", "echo hello > ~/made-inside && id -u");
    assert_eq!(made, "0", "the session runs as root inside");
    let owner = std::fs::metadata(home.join("made-inside")).expect("the file on the host");
    assert_eq!(u64::from(owner.uid()), work_base, "owner on the host");

    // The Wayland and X11 sockets answer inside, and are open to exactly
    // work's root on the host: no wide mode.
    let own = vec![
        "/run/zion/wayland/wayland-0".to_owned(),
        "/tmp/.X11-unix/X0".to_owned(),
    ];
    for (path, verdict) in connect_all(&d, "work", &own) {
        assert_eq!(verdict, "CONNECTED", "{path}\n{}", d.logs());
    }
    let socket = d.env.xdg.runtime.join("zion/work/wayland-0");
    let mode = std::fs::metadata(&socket).expect("socket").mode();
    // connect() needs write permission: nobody else has it.
    assert_eq!(mode & 0o002, 0, "the socket is open to everyone: {mode:o}");
    for path in [
        socket.clone(),
        socket.with_file_name("X11/X0"),
        d.env.xdg.runtime.join("zion/work"),
    ] {
        let named = acl_users(&path);
        assert_eq!(
            named.iter().map(|u| u64::from(*u)).collect::<Vec<_>>(),
            [work_base],
            "{} is open to other ids than work's root",
            path.display()
        );
    }

    // Made anew: the same ids, the old file still its own, a new one too.
    let before = container_id(&d, "work");
    let profiles = d.profiles().await;
    profiles.stop("work").await.expect("Stop");
    // Podman's own clean-up of the stopped container may still hold its shm
    // mount for a moment ("device or resource busy"): try again, briefly.
    let mut tries = 0;
    loop {
        let (ok, out) = d.podman(&["rm", "--force", "zion-work"]);
        if ok {
            break;
        }
        tries += 1;
        assert!(
            tries < 10 && out.contains("resource busy"),
            "podman rm: {out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    profiles.start("work").await.expect("Start");
    d.wait_state("work", "running").await;
    assert_ne!(container_id(&d, "work"), before, "not made anew");
    assert_eq!(
        uid_map(&d, "work").1,
        work_base,
        "another range after re-creation"
    );
    let listed = d.sh(
        "work",
        "cat ~/made-inside && echo again > ~/made-after && stat -c %u ~/made-inside",
    );
    assert_eq!(
        listed, "hello\n0",
        "the old file is not root's inside any more"
    );
    for name in ["made-inside", "made-after"] {
        let owner = std::fs::metadata(home.join(name)).expect("on the host");
        assert_eq!(
            u64::from(owner.uid()),
            work_base,
            "{name}'s owner on the host"
        );
    }
}

/// The uids with an entry of their own in `path`'s access ACL, read from
/// its `system.posix_acl_access` attribute (version 2: a 4-byte header,
/// then 8-byte entries of tag, permissions and id; tag 2 is a named user).
fn acl_users(path: &Path) -> Vec<u32> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::getxattr(path, "system.posix_acl_access", &mut buf[..])
        .unwrap_or_else(|e| panic!("no ACL on {}: {e}", path.display()));
    buf[4..n]
        .chunks_exact(8)
        .filter(|e| u16::from_le_bytes([e[0], e[1]]) == 2)
        .map(|e| u32::from_le_bytes([e[4], e[5], e[6], e[7]]))
        .collect()
}

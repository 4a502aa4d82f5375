//! Notifications from inside profiles (issue 16), every part real: the
//! harness's private Podman and session bus, the headless `zion-compositor`,
//! `zion-sandboxd`, a real `mako` on the compositor's host socket and the
//! test's bus (its own configuration file), and `notify-send` inside the
//! profiles' containers talking to each profile's own `dbus-daemon`.
//! `makoctl` reads what the host shows and plays the user. A hostile
//! gaming profile tries to close, replace and pass for work's
//! notifications, to flood, to send oversized and path-laden ones, to reach
//! the host's bus, and to plant a link where its bus socket was; it fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use zion_tests::{TestEnv, TestImage};

const DAEMON: &str = env!("CARGO_BIN_EXE_zion-sandboxd");
const WAIT: Duration = Duration::from_secs(30);
/// The host's notification daemon's name.
const NOTIFICATIONS: &str = "org.freedesktop.Notifications";

fn compositor_bin() -> PathBuf {
    zion_tests::sibling_bin(DAEMON, "zion-compositor", "ZION_COMPOSITOR")
}

/// work and gaming in `image`; `notifications` the `[session]` daemon's argv.
fn config(image: &str, notifications: &[&str]) -> String {
    let profile = |name: &str, colour: &str| {
        format!("[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\nnetwork = \"none\"\nmemory = \"256MiB\"\nhibernate_after = \"never\"\n\n")
    };
    let argv: Vec<String> = notifications.iter().map(|a| format!("{a:?}")).collect();
    profile("work", "#3465a4")
        + &profile("gaming", "#cc0000")
        + &format!("[session]\nnotifications = [{}]\n", argv.join(", "))
}

/// A notification as `makoctl list` shows it.
#[derive(Debug, Clone)]
struct Shown {
    id: u32,
    summary: String,
    body: String,
    app_icon: String,
    actions: Vec<String>,
}

/// The session (compositor, daemon, work and gaming) and a `mako` on it.
struct Desk {
    desk: zion_tests::desk::Desk,
    /// The test's own mako, when the session was told to start none.
    mako: Option<Child>,
}

impl Drop for Desk {
    fn drop(&mut self) {
        if let Some(mako) = self.mako.as_mut() {
            let _ = mako.kill();
            let _ = mako.wait();
        }
    }
}

impl Desk {
    /// The session, and mako: started by the daemon as `[session]
    /// notifications` when `daemon_starts_it`, else by the test after it
    /// (the session configured to start none). `None`: skipped.
    async fn start(daemon_starts_it: bool) -> Option<Desk> {
        for (program, package) in [
            ("mako", "mako-notifier"),
            ("makoctl", "mako-notifier"),
            ("busctl", "systemd"),
            ("notify-send", "libnotify-bin"),
        ] {
            if !zion_tests::skip::installed(program, package) {
                return None;
            }
        }
        let env = TestEnv::new().expect("test environment");
        let image = env
            .image(TestImage::Wayland)
            .expect("the wayland test image");
        let mut desk = zion_tests::desk::Desk::new(env, WAIT).await;
        // mako with its own configuration (nothing of the machine's), on
        // the compositor's host socket: notifications stay until dismissed.
        let conf = desk.env.root().join("mako.conf");
        std::fs::write(&conf, "default-timeout=0\nmax-visible=-1\nmax-history=1\n")
            .expect("mako's configuration");
        let conf = conf.to_str().expect("UTF-8 test folder").to_owned();
        let argv: &[&str] = if daemon_starts_it {
            &["mako", "-c", &conf]
        } else {
            &[]
        };
        desk.write_config(&config(&image, argv));
        let compositor = compositor_bin();
        desk.start_session(
            Some((compositor.as_path(), "640x480", true)),
            Path::new(DAEMON),
            &[
                ("ZION_SANDBOX_POOL", "0"),
                ("RUST_LOG", "info,zion_sandboxd::notifications=debug"),
            ],
            &["work", "gaming"],
        )
        .await;
        let mako = (!daemon_starts_it).then(|| {
            let log = std::fs::File::create(desk.env.root().join("mako.log")).expect("mako's log");
            desk.env
                .command("mako")
                .args(["-c", &conf])
                .env("WAYLAND_DISPLAY", "wayland-zion")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("mako starts")
        });
        let desk = Desk { desk, mako };
        desk.desk.wait_for_name(NOTIFICATIONS, true).await;
        if daemon_starts_it {
            assert!(
                desk.desk.logs().contains("started `mako -c"),
                "the session did not start mako\n{}",
                desk.logs()
            );
        }
        for profile in ["work", "gaming"] {
            desk.wait_relayed(profile);
        }
        Some(desk)
    }

    fn logs(&self) -> String {
        let mako =
            std::fs::read_to_string(self.desk.env.root().join("mako.log")).unwrap_or_default();
        format!("{}\n--- mako:\n{mako}", self.desk.logs())
    }

    /// `sh -c script` in `profile`'s container: success, stdout, stderr.
    fn sh(&self, profile: &str, script: &str) -> (bool, String, String) {
        let out = self
            .desk
            .env
            .podman()
            .cli()
            .args(["exec", &format!("zion-{profile}"), "sh", "-c", script])
            .output()
            .expect("podman exec runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )
    }

    /// `sh -c script` in `profile`'s container, left running; its stdout piped.
    fn spawn_sh(&self, profile: &str, script: &str) -> Child {
        self.desk
            .env
            .podman()
            .cli()
            .args(["exec", &format!("zion-{profile}"), "sh", "-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman exec runs")
    }

    /// Waits until the relay owns the notifications' name on `profile`'s
    /// own bus.
    fn wait_relayed(&self, profile: &str) {
        let ask = format!("dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:{NOTIFICATIONS}");
        let end = Instant::now() + WAIT;
        loop {
            let (_, out, _) = self.sh(profile, &ask);
            if out.contains("boolean true") {
                return;
            }
            assert!(
                Instant::now() < end,
                "the relay never took {NOTIFICATIONS} on {profile}'s bus ({out})\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn makoctl(&self, args: &[&str]) -> (bool, String) {
        let out = self
            .desk
            .env
            .command("makoctl")
            .args(args)
            .output()
            .expect("makoctl runs");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// What mako shows.
    fn list(&self) -> Vec<Shown> {
        let (ok, json) = self.makoctl(&["list"]);
        assert!(ok, "makoctl list: {json}\n{}", self.logs());
        let value: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("makoctl list: {e}: {json}"));
        let text = |n: &serde_json::Value, key: &str| {
            n[key]["data"].as_str().unwrap_or_default().to_owned()
        };
        value["data"][0]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| Shown {
                id: n["id"]["data"]
                    .as_u64()
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(0),
                summary: text(n, "summary"),
                body: text(n, "body"),
                app_icon: text(n, "app-icon"),
                actions: n["actions"]["data"]
                    .as_object()
                    .map(|a| a.keys().cloned().collect())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Waits until mako shows a notification whose summary is `summary`.
    fn shown(&self, summary: &str) -> Shown {
        let end = Instant::now() + WAIT;
        loop {
            if let Some(n) = self.list().into_iter().find(|n| n.summary == summary) {
                return n;
            }
            assert!(
                Instant::now() < end,
                "mako never showed {summary:?}: {:?}\n{}",
                self.list(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Waits up to `within` for `child` to exit; its stdout, or `None` if it
/// still runs (then it is killed).
fn exited(mut child: Child, within: Duration) -> Option<String> {
    let end = Instant::now() + within;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = stdout.read_to_string(&mut out);
            }
            return Some(out.trim().to_owned());
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_from_work_reaches_the_hosts_daemon_labelled_and_its_action_only_work() {
    // The session starts mako itself: none runs.
    let Some(desk) = Desk::start(true).await else {
        return;
    };

    let (ok, id, err) = desk.sh("work", "notify-send -p 'Build done' 'All green'");
    assert!(ok, "notify-send in work: {err}\n{}", desk.logs());
    assert_eq!(id, "1", "work's own first id");
    let shown = desk.shown("[work] Build done");
    assert_eq!(shown.body, "All green");

    // An app in work and one in gaming each wait on an action; the user
    // chooses work's: only work's app hears it.
    let work_app = desk.spawn_sh("work", "notify-send --action=ok=OK --wait 'Deploy now?'");
    let gaming_app = desk.spawn_sh("gaming", "notify-send --action=ok=OK --wait 'Deploy now?'");
    let work_n = desk.shown("[work] Deploy now?");
    let gaming_n = desk.shown("[gaming] Deploy now?");
    assert_eq!(work_n.actions, ["ok"]);
    let (ok, out) = desk.makoctl(&["invoke", "-n", &work_n.id.to_string(), "ok"]);
    assert!(ok, "makoctl invoke: {out}");
    let heard = exited(work_app, WAIT);
    assert_eq!(
        heard.as_deref(),
        Some("ok"),
        "work's app heard its action\n{}",
        desk.logs()
    );
    let (ok, out) = desk.makoctl(&["dismiss", "-n", &gaming_n.id.to_string()]);
    assert!(ok, "makoctl dismiss: {out}");
    let gaming_heard = exited(gaming_app, WAIT);
    assert_eq!(
        gaming_heard.as_deref(),
        Some(""),
        "gaming's app was told only that its own closed\n{}",
        desk.logs()
    );

    // Work stopped and started again: its new bus is relayed as the old.
    let profiles = desk.desk.profiles().await;
    profiles.stop("work").await.expect("Stop(work)");
    desk.desk.wait_state("work", "stopped", WAIT).await;
    profiles.start("work").await.expect("Start(work)");
    desk.desk.wait_state("work", "running", WAIT).await;
    desk.wait_relayed("work");
    let (ok, _, err) = desk.sh("work", "notify-send 'Back again'");
    assert!(ok, "{err}\n{}", desk.logs());
    desk.shown("[work] Back again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_cannot_close_replace_pass_for_flood_or_reach_past_its_own_bus() {
    let Some(desk) = Desk::start(false).await else {
        return;
    };
    // The host's own notifications first, so that the host's ids and
    // work's own differ.
    for i in 0..3 {
        let host = desk
            .desk
            .env
            .command("notify-send")
            .arg(format!("host {i}"))
            .status()
            .expect("notify-send on the host");
        assert!(host.success());
    }
    let (ok, work_id, err) = desk.sh("work", "notify-send -p 'Payslip' 'March'");
    assert!(ok, "{err}\n{}", desk.logs());
    let payslip = desk.shown("[work] Payslip");
    assert_ne!(work_id, payslip.id.to_string(), "work's ids are its own");

    // Gaming closes work's id, and the host's id of it: refused.
    for id in [work_id.clone(), payslip.id.to_string()] {
        let (ok, _, err) = desk.sh(
            "gaming",
            &format!("dbus-send --session --print-reply --dest={NOTIFICATIONS} /org/freedesktop/Notifications {NOTIFICATIONS}.CloseNotification uint32:{id}"),
        );
        assert!(!ok, "gaming closed work's notification {id}");
        assert!(err.contains("no notification"), "{err}");
    }
    // Gaming replaces them, passing for work: new notifications of its own.
    for id in [work_id.clone(), payslip.id.to_string()] {
        let (ok, _, err) = desk.sh(
            "gaming",
            &format!("notify-send -r {id} '[work] Payslip {id}' 'Send your password'"),
        );
        assert!(ok, "{err}");
        desk.shown(&format!("[gaming] [work] Payslip {id}"));
    }
    let still = desk.shown("[work] Payslip");
    assert_eq!((still.id, still.body.as_str()), (payslip.id, "March"));
    // Nor can it touch the host's own: host id 3 ("host 2"; gaming's own
    // ids so far are 1 and 2, the two above).
    let (ok, _, _) = desk.sh(
        "gaming",
        &format!("dbus-send --session --print-reply --dest={NOTIFICATIONS} /org/freedesktop/Notifications {NOTIFICATIONS}.CloseNotification uint32:3"),
    );
    assert!(!ok, "gaming closed a host notification");
    assert!(
        desk.list().iter().any(|n| n.summary == "host 2"),
        "{:?}",
        desk.list()
    );

    // Oversized, path-laden: cut, and no path reaches the host.
    let (ok, _, err) = desk.sh(
        "gaming",
        "s=$(head -c 10000 /dev/zero | tr '\\0' s); b=$(head -c 100000 /dev/zero | tr '\\0' b); \
         notify-send -i /etc/passwd -h string:image-path:/etc/shadow \"big$s\" \"$b\"",
    );
    assert!(ok, "{err}");
    let big = desk
        .list()
        .into_iter()
        .find(|n| n.summary.starts_with("[gaming] bigsss"))
        .unwrap_or_else(|| panic!("the big one is shown, cut: {:?}", desk.list()));
    assert_eq!(big.summary.chars().count(), "[gaming] ".len() + 200);
    assert_eq!(big.body.chars().count(), 2000);
    assert_eq!(big.app_icon, "", "no container path as the icon");
    let many: String = (0..20).map(|i| format!(" --action=a{i}=A{i}")).collect();
    let many_app = desk.spawn_sh("gaming", &format!("notify-send{many} 'Many actions'"));
    let shown_many = desk.shown("[gaming] Many actions");
    assert_eq!(shown_many.actions.len(), 8, "{:?}", shown_many.actions);
    let _ = exited(many_app, Duration::ZERO);

    // A flood is cut short.
    let (_, flood, _) = desk.sh(
        "gaming",
        "n=0; i=0; while [ $i -lt 40 ]; do i=$((i+1)); notify-send \"flood $i\" 2>/dev/null || n=$((n+1)); done; echo $n",
    );
    let refused: u32 = flood.parse().unwrap_or(0);
    assert!(refused >= 20, "{refused} of 40 refused\n{}", desk.logs());

    // The host's bus is nowhere in the profile: not its address, not its
    // socket, not its names.
    let host_bus = desk.desk.bus_socket();
    let (_, address, _) = desk.sh("gaming", "echo $DBUS_SESSION_BUS_ADDRESS");
    assert_eq!(address, "unix:path=/run/zion/bus/bus");
    let (ok, _, _) = desk.sh("gaming", &format!("test -e '{host_bus}'"));
    assert!(!ok, "the host's bus socket {host_bus} is in the container");
    let (ok, _, _) = desk.sh(
        "gaming",
        &format!("dbus-send --bus=unix:path={host_bus} --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListNames"),
    );
    assert!(!ok, "gaming reached the host's bus");
    let (ok, names, err) = desk.sh(
        "gaming",
        "dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListNames",
    );
    assert!(ok, "{err}");
    assert!(names.contains(NOTIFICATIONS), "{names}");
    assert!(
        !names.contains("org.zionos"),
        "host names on gaming's bus: {names}"
    );

    // Gaming stops its bus and plants a link to the host's bus in place of
    // its socket: the relay does not follow it.
    let (ok, _, err) = desk.sh(
        "gaming",
        &format!("for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = dbus-daemon ] && kill ${{p#/proc/}}; done; \
                  sleep 0.5; rm -f /run/zion/bus/bus; ln -s '{host_bus}' /run/zion/bus/bus"),
    );
    assert!(ok, "{err}");
    let end = Instant::now() + WAIT;
    while !desk
        .desk
        .logs()
        .contains("is not a socket (a symbolic link)")
    {
        assert!(
            Instant::now() < end,
            "the planted link was not refused\n{}",
            desk.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Work's notifications still come through.
    let (ok, _, err) = desk.sh("work", "notify-send 'Still here'");
    assert!(ok, "{err}");
    desk.shown("[work] Still here");
}

//! The desk: the whole session as processes, the way a user's machine runs
//! it. A [`TestEnv`] (private Podman and session bus), the headless
//! `zion-compositor` binary on that bus, and `zion-sandboxd`, each logging
//! to a file in the environment's folder. Waits are on the bus: a name's
//! owner changing, a profile's `StateChanged` signal — not on sleeps.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use zion_bus::{Compositor1Proxy, ProfileStatus, Profiles1Proxy};

use crate::TestEnv;

/// `org.zionos.Compositor1`, the compositor's name on the bus.
pub const COMPOSITOR: &str = "org.zionos.Compositor1";
/// `org.zionos.Profiles1`, the daemon's name on the bus.
pub const PROFILES: &str = "org.zionos.Profiles1";

/// The headless compositor at `bin` with its sockets in `runtime`, an output
/// of `size` (`WIDTHxHEIGHT`), logging (appending) to `log`; without the
/// bar (tests measure where windows go on the whole output).
pub fn compositor_command(bin: &Path, runtime: &Path, size: &str, log: &Path) -> Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("log {}: {e}", log.display()));
    let mut cmd = Command::new(bin);
    cmd.args(["--backend", "headless", "--size", size, "--no-bar"])
        .arg("--runtime-dir")
        .arg(runtime)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    cmd
}

/// Waits until `name` has an owner on `conn` (`present`) or has none, for
/// up to `within`: on the bus's `NameOwnerChanged`, subscribed before the
/// name is looked at so no change is missed. `Err` says which it was not.
pub async fn wait_for_name(
    conn: &zbus::Connection,
    name: &str,
    present: bool,
    within: Duration,
) -> Result<(), String> {
    let dbus = zbus::fdo::DBusProxy::new(conn)
        .await
        .map_err(|e| format!("bus proxy: {e}"))?;
    let bus_name = zbus::names::BusName::try_from(name).map_err(|e| format!("{name}: {e}"))?;
    let mut changes = dbus
        .receive_name_owner_changed_with_args(&[(0, name)])
        .await
        .map_err(|e| format!("watching {name}: {e}"))?;
    let holds = |owned: bool| owned == present;
    if holds(dbus.name_has_owner(bus_name).await.unwrap_or(false)) {
        return Ok(());
    }
    let wait = async {
        while let Some(change) = changes.next().await {
            if let Ok(args) = change.args() {
                if holds(args.new_owner().is_some()) {
                    return true;
                }
            }
        }
        false
    };
    match tokio::time::timeout(within, wait).await {
        Ok(true) => Ok(()),
        _ => Err(format!(
            "{name} never {} (waited {within:?})",
            if present { "appeared" } else { "went" }
        )),
    }
}

/// A compositor proxy that asks the compositor every time (no property
/// cache).
pub async fn compositor_proxy(conn: &zbus::Connection) -> Compositor1Proxy<'static> {
    Compositor1Proxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("compositor proxy")
}

/// The environment, the compositor and the daemon, stopped (daemon first)
/// when dropped; their logs in `compositor.log` and `daemon.log`.
pub struct Desk {
    /// The compositor, when it runs.
    pub compositor: Option<Child>,
    /// The daemon, when it runs.
    pub daemon: Option<Child>,
    /// A connection to the environment's bus.
    pub conn: zbus::Connection,
    /// How long a wait may take before the test fails.
    pub wait: Duration,
    /// The process whose connection `conn` is, for a session of a test
    /// account (see [`DbusBus::connect_as`](crate::DbusBus::connect_as)).
    caller: Option<Child>,
    /// The environment (dropped after the processes).
    pub env: TestEnv,
}

impl Drop for Desk {
    fn drop(&mut self) {
        for child in [
            self.daemon.as_mut(),
            self.compositor.as_mut(),
            self.caller.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Desk {
    /// A desk on `env` with nothing started yet; waits take up to `wait`.
    pub async fn new(env: TestEnv, wait: Duration) -> Desk {
        // As the session's user: its services answer only their user.
        let (conn, caller) = match env.user() {
            Some((user, _)) => {
                let (conn, holder) = env.dbus().connect_as(user).await.expect("the private bus");
                (conn, Some(holder))
            }
            None => (env.dbus().connect().await.expect("the private bus"), None),
        };
        Desk {
            compositor: None,
            daemon: None,
            conn,
            wait,
            caller,
            env,
        }
    }

    /// Writes `text` as the session's `zion.toml`.
    pub fn write_config(&self, text: &str) {
        let dir = self.env.xdg.config.join("zion");
        std::fs::create_dir_all(&dir).expect("config folder");
        std::fs::write(dir.join("zion.toml"), text).expect("zion.toml");
        if let Some((user, _)) = self.env.user() {
            user.give(&dir, true)
                .expect("zion.toml made the test account's");
        }
    }

    /// Starts the compositor at `bin` (output `size`, `WIDTHxHEIGHT`) on
    /// the environment's bus and runtime folder, and waits for its name.
    /// With `private_tmp` it runs in a private `/tmp` (its Xwayland makes
    /// `/tmp/.X11-unix` there, not on the machine).
    pub async fn start_compositor(&mut self, bin: &Path, size: &str, private_tmp: bool) {
        let log = self.env.root().join("compositor.log");
        let mut cmd = compositor_command(bin, &self.env.xdg.runtime, size, &log);
        cmd.envs(self.env.vars());
        if self.env.user().is_some() {
            let log = std::fs::OpenOptions::new()
                .append(true)
                .open(&log)
                .expect("the compositor's log");
            cmd = self.env.wrap(cmd);
            cmd.stdout(Stdio::null()).stderr(log);
        }
        if private_tmp {
            crate::private_tmp::keeping(&mut cmd, self.env.root()).expect("a private /tmp");
        }
        self.compositor = Some(cmd.spawn().expect("zion-compositor starts"));
        self.wait_for_name(COMPOSITOR, true).await;
        // The name is taken before the compositor opens its X11 sockets and
        // runs its loop; a call its loop answers (a screenshot) proves both.
        // (In the runtime folder: the compositor may run as the test account.)
        let ready = self.env.xdg.runtime.join("compositor-ready.png");
        let text = ready.to_str().expect("UTF-8 test folder");
        if let Err(e) = self.compositor().await.screenshot(text).await {
            panic!(
                "the compositor's loop does not answer: {e}\n{}",
                self.logs()
            );
        }
    }

    /// Stops the compositor and waits for its name to go.
    pub async fn stop_compositor(&mut self) {
        if let Some(mut c) = self.compositor.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.wait_for_name(COMPOSITOR, false).await;
    }

    /// Starts the daemon at `bin` with the environment's variables, `envs`
    /// added (`RUST_LOG`, `ZION_SANDBOX_POOL`), and waits for its name.
    pub async fn start_daemon(&mut self, bin: &Path, envs: &[(&str, &str)]) {
        let log = std::fs::File::create(self.env.root().join("daemon.log")).expect("log");
        let mut cmd = self.env.command(bin);
        cmd.env("RUST_LOG", "info").env("NO_COLOR", "1");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        self.daemon = Some(
            cmd.stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("zion-sandboxd starts"),
        );
        self.wait_for_name(PROFILES, true).await;
    }

    /// The whole session: the compositor when `compositor` names one (its
    /// binary, output size, private `/tmp`; see [`Desk::start_compositor`]),
    /// then the daemon at `daemon` with `envs` ([`Desk::start_daemon`]),
    /// then waits until each of `running` runs.
    pub async fn start_session(
        &mut self,
        compositor: Option<(&Path, &str, bool)>,
        daemon: &Path,
        envs: &[(&str, &str)],
        running: &[&str],
    ) {
        if let Some((bin, size, private_tmp)) = compositor {
            self.start_compositor(bin, size, private_tmp).await;
        }
        self.start_daemon(daemon, envs).await;
        for profile in running {
            self.wait_state(profile, "running", self.wait).await;
        }
    }

    /// `podman args` on the environment's Podman: whether it succeeded, and
    /// its standard output and error, trimmed.
    pub fn podman_try(&self, args: &[&str]) -> (bool, String) {
        let out = self.podman_output(args);
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text.trim().to_owned())
    }

    /// `podman args` on the environment's Podman, which must succeed; its
    /// standard output, trimmed.
    pub fn podman(&self, args: &[&str]) -> String {
        let out = self.podman_output(args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn podman_output(&self, args: &[&str]) -> std::process::Output {
        self.env
            .podman()
            .cli()
            .args(args)
            .output()
            .expect("podman runs")
    }

    /// The path of the session bus's socket.
    pub fn bus_socket(&self) -> String {
        let address = self.env.dbus().address();
        address
            .strip_prefix("unix:path=")
            .unwrap_or_else(|| panic!("{address} is not a unix socket's address"))
            .to_owned()
    }

    /// The daemon's and the compositor's logs so far.
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.env.root().join(f)).unwrap_or_default();
        format!(
            "--- zion-sandboxd:\n{}\n--- zion-compositor:\n{}",
            read("daemon.log"),
            read("compositor.log")
        )
    }

    /// The folder the compositor's sockets are in.
    pub fn runtime(&self) -> PathBuf {
        self.env.xdg.runtime.clone()
    }

    /// Waits until `name` is on the bus (`present`) or gone; fails the test
    /// with the logs otherwise.
    pub async fn wait_for_name(&self, name: &str, present: bool) {
        if let Err(e) = wait_for_name(&self.conn, name, present, self.wait).await {
            panic!("{e}\n{}", self.logs());
        }
    }

    /// The compositor's proxy, uncached.
    pub async fn compositor(&self) -> Compositor1Proxy<'static> {
        compositor_proxy(&self.conn).await
    }

    /// The daemon's proxy.
    pub async fn profiles(&self) -> Profiles1Proxy<'static> {
        Profiles1Proxy::new(&self.conn)
            .await
            .expect("profiles proxy")
    }

    /// `profile`'s status; fails the test with the logs if it cannot be had.
    pub async fn status(&self, profile: &str) -> ProfileStatus {
        self.profiles()
            .await
            .status(profile)
            .await
            .unwrap_or_else(|e| panic!("Status({profile}): {e}\n{}", self.logs()))
    }

    /// Waits until `profile` is in `state`, for up to `within`: looked at
    /// again on each `StateChanged` of the daemon (subscribed first), and
    /// at least each second (a state reached by a path that signals
    /// nothing is still seen).
    pub async fn wait_state(&self, profile: &str, state: &str, within: Duration) -> ProfileStatus {
        let profiles = self.profiles().await;
        let mut changes = profiles
            .receive_state_changed()
            .await
            .expect("watching StateChanged");
        let end = tokio::time::Instant::now() + within;
        loop {
            let status = self.status(profile).await;
            if status.state == state {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "profile `{profile}` is {} ({}), not {state}, after {within:?}\n{}",
                status.state,
                status.reason,
                self.logs()
            );
            let next = end.min(tokio::time::Instant::now() + Duration::from_secs(1));
            let _ = tokio::time::timeout_at(next, changes.next()).await;
        }
    }
}

//! A profile's own sound server against a real PipeWire: the test starts
//! the user's side (pipewire, wireplumber, pipewire-pulse) in a temporary
//! runtime folder, with a speaker (a null sink) and a microphone (the
//! monitor of a null sink the test plays noise into), then the daemon's
//! [`SoundServers`] for a profile with `sound` and one with `microphone`.
//! From a client given only the profile's socket (pactl, pacat, parec):
//! playback reaches the speaker; the microphone, the user's streams and
//! the user's socket are out of reach unless `microphone` is granted; a
//! module the client loads runs confined.
//!
//! Before (issue 18, finding 5): `sound` mounted the user's own socket, and
//! the same recording through it hears the microphone and lists the user's
//! call: the test checks that first, which also proves its way of
//! listening works, so the test can fail.
//!
//! Recordings ask parec for 20 ms fragments: with its default,
//! pipewire-pulse hands a recording its data two seconds at a time, and a
//! shorter recording reads nothing at all (which once made this test
//! believe a null sink's monitor was silent).

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use zion_profiles::sound::SoundBox;
use zion_sandboxd::sound::SoundServers;

/// Whether the sound programs (the product's dependencies, installed by
/// session-files/dev/install-deps.sh) are there: a missing one is an
/// honest skip, and fails the test under `ZION_REQUIRE_ALL=1`.
fn programs_installed() -> bool {
    [
        ("pipewire", "pipewire-bin"),
        ("pw-cli", "pipewire-bin"),
        ("wireplumber", "wireplumber"),
        ("pipewire-pulse", "pipewire-pulse"),
        ("pactl", "pulseaudio-utils"),
        ("parec", "pulseaudio-utils"),
        ("pacat", "pulseaudio-utils"),
        ("unshare", "util-linux"),
        ("setpriv", "util-linux"),
    ]
    .into_iter()
    .all(|(program, package)| zion_tests::skip::installed(program, package))
}

/// The user's sound server, as a desktop runs it.
struct UserSound {
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Drop for UserSound {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl UserSound {
    fn runtime(&self) -> PathBuf {
        self.dir.path().join("rt")
    }

    fn pulse(&self) -> PathBuf {
        self.runtime().join("pulse/native")
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("XDG_RUNTIME_DIR", self.runtime())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("PIPEWIRE_REMOTE")
            .env_remove("PIPEWIRE_RUNTIME_DIR")
            .env_remove("PULSE_SERVER");
        c
    }

    fn start() -> UserSound {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut user = UserSound {
            dir,
            children: Vec::new(),
        };
        let rt = user.runtime();
        std::fs::create_dir_all(&rt).expect("runtime folder");
        // No bus here: WirePlumber's Bluetooth monitor would want logind.
        for (sub, text) in [
            ("main.lua.d", "alsa_monitor.enabled = false\nv4l2_monitor.enabled = false\nlibcamera_monitor.enabled = false\ndefault_access.properties[\"enable-flatpak-portal\"] = false\n"),
            ("bluetooth.lua.d", "bluez_monitor.enabled = false\n"),
        ] {
            let d = user.dir.path().join("config/wireplumber").join(sub);
            std::fs::create_dir_all(&d).expect("config");
            std::fs::write(d.join("80-test.lua"), text).expect("config");
        }
        user.spawn("pipewire");
        wait_for_path(&rt.join("pipewire-0"));
        user.spawn("wireplumber");
        user.spawn("pipewire-pulse");
        wait_for_path(&user.pulse());
        for args in [
            &["load-module", "module-null-sink", "sink_name=speaker"][..],
            &["load-module", "module-null-sink", "sink_name=micfeed"][..],
        ] {
            user.pactl(args);
        }
        // Wait until the session manager sees them, then make them default.
        let end = Instant::now() + Duration::from_secs(10);
        while !user
            .pactl(&["list", "short", "sources"])
            .contains("micfeed.monitor")
        {
            assert!(Instant::now() < end, "the test's null sinks never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
        user.pactl(&["set-default-sink", "speaker"]);
        user.pactl(&["set-default-source", "micfeed.monitor"]);
        // The session manager takes the new defaults a moment later: a
        // stream made before then (the tunnel's) follows the old ones.
        while !user
            .pactl(&["info"])
            .contains("Default Source: micfeed.monitor")
        {
            assert!(
                Instant::now() < end,
                "the test's default source was never taken"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The "microphone" hears noise for the whole test.
        let noise = user
            .command("pacat")
            .args([
                "-d",
                "micfeed",
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=2",
                "--client-name=the-users-call",
            ])
            .env("PULSE_SERVER", format!("unix:{}", user.pulse().display()))
            .stdin(std::fs::File::open("/dev/urandom").expect("/dev/urandom"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pacat");
        user.children.push(noise);
        user
    }

    fn spawn(&mut self, program: &str) {
        let log =
            std::fs::File::create(self.dir.path().join(format!("{program}.log"))).expect("log");
        let child = self
            .command(program)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        self.children.push(child);
    }

    /// pactl against the user's own server.
    fn pactl(&self, args: &[&str]) -> String {
        let out = client(&self.pulse(), "pactl", args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn wait_for_path(path: &Path) {
    let end = Instant::now() + Duration::from_secs(15);
    while !path.exists() {
        assert!(Instant::now() < end, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A PulseAudio client of the server at `socket`, given five seconds.
fn client(socket: &Path, program: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("5")
        .arg(program)
        .args(args)
        .env("PULSE_SERVER", format!("unix:{}", socket.display()))
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// What a recording heard.
#[derive(Debug)]
struct Recording {
    /// Bytes read (s16le, two channels, 48 kHz: 192 000 a second).
    bytes: usize,
    /// Bytes of them that are not zero: not silence.
    nonzero: usize,
    /// What parec said (why it failed, if it did).
    stderr: String,
}

/// The bytes of a quarter of a second of s16le stereo at 48 kHz.
const QUARTER_SECOND: usize = 48_000 * 2 * 2 / 4;

/// Records a quarter of a second from `device` on the server at `socket`
/// (five seconds at most). parec asks for 20 ms fragments: with its
/// default, pipewire-pulse sends two seconds at a time, and a recording
/// stopped before that reads nothing at all.
fn record(socket: &Path, device: &str) -> Recording {
    let mut child = Command::new("parec")
        .args([
            "-d",
            device,
            "--latency-msec=20",
            "--raw",
            "--format=s16le",
            "--rate=48000",
            "--channels=2",
        ])
        .env("PULSE_SERVER", format!("unix:{}", socket.display()))
        .env_remove("XDG_RUNTIME_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parec");
    let mut out = child.stdout.take().expect("stdout");
    // Reads until a quarter of a second is in or parec ends (a source it
    // cannot open); killing parec ends the read.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = vec![0u8; QUARTER_SECOND];
        let mut filled = 0;
        while filled < bytes.len() {
            match out.read(&mut bytes[filled..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => filled += n,
            }
        }
        bytes.truncate(filled);
        let _ = tx.send(bytes);
    });
    let bytes = rx.recv_timeout(Duration::from_secs(5)).ok();
    let _ = child.kill();
    let bytes = bytes.or_else(|| rx.recv().ok()).unwrap_or_default();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let _ = child.wait();
    Recording {
        bytes: bytes.len(),
        nonzero: bytes.iter().filter(|b| **b != 0).count(),
        stderr,
    }
}

/// Plays noise into the server at `socket` until killed (pacat itself:
/// killing a wrapper would leave it playing).
fn play(socket: &Path) -> Child {
    Command::new("pacat")
        .args([
            "--raw",
            "--format=s16le",
            "--rate=48000",
            "--channels=2",
            "--client-name=profile-game",
        ])
        .env("PULSE_SERVER", format!("unix:{}", socket.display()))
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(std::fs::File::open("/dev/urandom").expect("/dev/urandom"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pacat")
}

/// Records from `device` until it hears something, or `within` is over.
fn hears(socket: &Path, device: &str, within: Duration) -> Recording {
    let end = Instant::now() + within;
    loop {
        let heard = record(socket, device);
        if heard.nonzero > 1000 || Instant::now() >= end {
            return heard;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port free on the host's loopback (nothing else answers there).
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Asks the server at `socket` to load a PulseAudio TCP server on the
/// loopback's `port`: whether it loaded.
fn load_tcp(socket: &Path, port: u16) -> Output {
    client(
        socket,
        "pactl",
        &[
            "load-module",
            "module-native-protocol-tcp",
            &format!("port={port}"),
            "listen=127.0.0.1",
        ],
    )
}

/// Whether something listens on the host's loopback `port`.
fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

/// What `pactl list` shows a client of `socket`.
fn listed(socket: &Path, what: &str) -> String {
    let out = client(socket, "pactl", &["list", what]);
    assert!(out.status.success(), "pactl list {what}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_profile_plays_but_hears_nothing_of_the_user_without_microphone() {
    if !programs_installed() {
        return;
    }
    let user = UserSound::start();
    // Before: a client of the user's own socket (what the `sound` grant
    // mounted into a container) hears the microphone and sees the user's
    // call. This is also the proof that the test's way of listening works.
    let before = hears(&user.pulse(), "micfeed.monitor", Duration::from_secs(10));
    assert!(
        before.nonzero > 1000,
        "the test's microphone is silent through the user's own socket: the test could not fail ({before:?})"
    );
    let before = hears(&user.pulse(), "@DEFAULT_SOURCE@", Duration::from_secs(10));
    assert!(before.nonzero > 1000, "{before:?}");
    assert!(listed(&user.pulse(), "sink-inputs").contains("the-users-call"));
    // And a module it loads listens on the host.
    let port = free_port();
    let tcp = load_tcp(&user.pulse(), port);
    assert!(tcp.status.success(), "{tcp:?}");
    assert!(listening(port), "the user's server loaded no TCP listener");

    let runtime = tempfile::tempdir().expect("tempdir");
    let servers = SoundServers::new(runtime.path());
    let folder = servers
        .ensure("game", false, &user.pulse())
        .expect("the profile's sound server starts");
    let socket = folder.join("native");

    // Playback reaches the user's speaker, from the moment the server is
    // there (a stream made before the tunnel's sink was in the graph was
    // never linked to it).
    let mut game = play(&socket);
    let heard = hears(&user.pulse(), "speaker.monitor", Duration::from_secs(10));
    let _ = game.kill();
    let _ = game.wait();
    assert!(
        heard.nonzero > 1000,
        "the profile's playback never reached the speaker: {heard:?}"
    );

    // After: it sees its own playback sink only: no speaker, no microphone.
    let sinks = listed(&socket, "sinks");
    let sources = listed(&socket, "sources");
    assert!(sinks.contains("zion-playback"), "{sinks}");
    for name in ["speaker", "micfeed"] {
        assert!(
            !sinks.contains(name) && !sources.contains(name),
            "{name} is visible:\n{sinks}\n{sources}"
        );
    }
    // The user's other streams (their call) are not visible.
    for what in ["sink-inputs", "source-outputs", "clients"] {
        let seen = listed(&socket, what);
        assert!(!seen.contains("the-users-call"), "{what}:\n{seen}");
    }

    // Its own playback has ended (its monitor is the profile's default
    // source: what it hears there must not be its own game).
    let end = Instant::now() + Duration::from_secs(10);
    while listed(&socket, "sink-inputs").contains("profile-game") {
        assert!(Instant::now() < end, "the game's stream never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The attack: record the microphone by name (the profile's server has
    // no such source: pipewire-pulse falls back to the default), and the
    // default source. Through the user's socket above, both heard the
    // microphone; here both record silence.
    for device in ["micfeed.monitor", "@DEFAULT_SOURCE@"] {
        let stolen = record(&socket, device);
        assert_eq!(
            stolen.nonzero, 0,
            "the profile recorded {device} through its own socket: {stolen:?}"
        );
        assert!(
            stolen.bytes == QUARTER_SECOND || !stolen.stderr.is_empty(),
            "recording {device} neither ran nor failed: {stolen:?}"
        );
    }

    // Loading a tunnel to the user's socket fails: the box has no such path.
    let host = format!("server=unix:{}", user.pulse().display());
    let tunnel = client(
        &socket,
        "pactl",
        &[
            "load-module",
            "module-tunnel-source",
            &host,
            "source_name=stolen",
        ],
    );
    assert!(
        !tunnel.status.success(),
        "a tunnel to the user's server loaded: {tunnel:?}"
    );
    // Why: the tunnel module, running in the box, could not connect.
    let log = SoundBox::of(runtime.path(), "game").run().join("pulse.log");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log.contains("mod.pulse-tunnel") && log.contains("failed to connect"),
        "the tunnel failed for another reason: {tunnel:?}\n{log}"
    );
    // A TCP server loads, but in the box's empty network.
    let port = free_port();
    let tcp = load_tcp(&socket, port);
    assert!(tcp.status.success(), "the TCP module did not load: {tcp:?}");
    assert!(
        !listening(port),
        "a module loaded by the profile listens on the host's network"
    );
}

#[test]
fn with_microphone_the_profile_records_the_users_default_source() {
    if !programs_installed() {
        return;
    }
    let user = UserSound::start();
    // The user's default source is heard through the user's socket.
    let mic = hears(&user.pulse(), "@DEFAULT_SOURCE@", Duration::from_secs(10));
    assert!(
        mic.nonzero > 1000,
        "the test's microphone is silent: the test could not fail ({mic:?})"
    );
    let runtime = tempfile::tempdir().expect("tempdir");
    let servers = SoundServers::new(runtime.path());
    let folder = servers
        .ensure("calls", true, &user.pulse())
        .expect("the profile's sound server starts");
    let socket = folder.join("native");
    // The tunnel's record stream takes a moment to be linked.
    let heard = hears(&socket, "@DEFAULT_SOURCE@", Duration::from_secs(10));
    assert!(
        heard.nonzero > 1000,
        "the profile granted the microphone hears nothing: {heard:?}"
    );
    // Still not the user's other streams.
    for what in ["sink-inputs", "source-outputs", "clients"] {
        let seen = listed(&socket, what);
        assert!(!seen.contains("the-users-call"), "{what}:\n{seen}");
    }
}

#[test]
fn without_a_user_sound_server_the_profile_gets_an_error_not_a_hang() {
    if !programs_installed() {
        return;
    }
    let runtime = tempfile::tempdir().expect("tempdir");
    let servers = SoundServers::new(runtime.path());
    let started = Instant::now();
    let err = servers
        .ensure("game", false, &runtime.path().join("no-such/pulse/native"))
        .expect_err("a sound server without the user's to play into");
    assert!(
        matches!(
            err,
            zion_sandboxd::sound::SoundError::Exited { what: "tunnel", .. }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it took {:?}",
        started.elapsed()
    );
}

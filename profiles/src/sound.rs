//! A profile's own sound server: what it is made of, as text (PipeWire and
//! WirePlumber configuration, the confining script), pure and tested; the
//! daemon writes these files and runs them.
//!
//! The user's own sound server is never handed to a profile: a client of it
//! hears every stream and the microphone, and can `load-module` into it
//! (a TCP listener on the network, a tunnel to any socket, a pipe to any
//! file). Instead each profile with `sound` gets a private PipeWire graph:
//!
//! - inside a *box* (new user, mount, network and PID namespaces; a root
//!   holding only `/usr` and `/etc` read-only, a minimal `/dev` with no
//!   sound or video devices, and the box's own run folder): a PipeWire
//!   daemon, WirePlumber (device monitors off) and `pipewire-pulse`, whose
//!   socket in `public/native` is the only thing the container gets. A
//!   module a client loads runs in the box: no network, no host socket, no
//!   host file, no device.
//! - outside the box, the *tunnel*: a PipeWire client of the box's daemon
//!   that holds one PulseAudio playback stream to the user's server (and a
//!   record stream from its default source only for a profile granted
//!   `microphone`). It loads nothing on anyone's request.
//!
//! So the profile plays into the user's server, sees only its own streams,
//! and records only with `microphone` (its own playback's monitor aside).

use std::path::{Path, PathBuf};

/// The run folder's path inside the box.
pub const BOX_RUN: &str = "/run/zion-sound";

/// The folder (of the box's run folder) holding the socket profiles get.
pub const PUBLIC: &str = "public";

/// The name of the PulseAudio socket in [`PUBLIC`].
pub const SOCKET: &str = "native";

/// The tunnel's playback sink in the box: the profile's speakers.
pub const PLAYBACK_NODE: &str = "zion-playback";

/// The tunnel's record source in the box, with `microphone` only.
pub const MICROPHONE_NODE: &str = "zion-microphone";

/// The nodes the tunnel adds to the box's graph.
pub fn tunnel_nodes(microphone: bool) -> &'static [&'static str] {
    if microphone {
        &[PLAYBACK_NODE, MICROPHONE_NODE]
    } else {
        &[PLAYBACK_NODE]
    }
}

/// Where a profile's sound server lives on the host: `<dir>` holds `root`
/// (the box's root mount point), `run` (its run folder; the tunnel
/// connects to the box's daemon there), `public` (the socket) and the
/// tunnel's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundBox {
    /// The box's folder, private to the user.
    pub dir: PathBuf,
}

impl SoundBox {
    /// The box of `profile` under `<runtime>/zion-sound/`.
    pub fn of(runtime: &Path, profile: &str) -> SoundBox {
        SoundBox {
            dir: runtime.join("zion-sound").join(profile),
        }
    }

    /// The box's root mount point.
    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// The box's run folder (`/run/zion-sound` inside).
    pub fn run(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// The folder holding the profile's PulseAudio socket: what its
    /// container gets, read-only. Outside the run folder and bound into the
    /// box, so that the box cannot swap it for a link (Podman mounts it).
    pub fn public(&self) -> PathBuf {
        self.dir.join(PUBLIC)
    }

    /// The files the box needs, relative to its run folder, and their
    /// text, for a server that records only when `microphone`.
    pub fn files(&self, microphone: bool) -> Vec<(&'static str, String)> {
        vec![
            ("daemon.conf", DAEMON_CONF.to_owned()),
            ("nodes", tunnel_nodes(microphone).join("\n") + "\n"),
            ("pulse.conf", pulse_conf()),
            ("start.sh", START_SH.to_owned()),
            (
                "config/wireplumber/main.lua.d/80-zion.lua",
                WIREPLUMBER_MAIN.to_owned(),
            ),
            (
                "config/wireplumber/bluetooth.lua.d/80-zion.lua",
                WIREPLUMBER_BLUETOOTH.to_owned(),
            ),
        ]
    }
}

/// The box's PipeWire daemon: the graph and the session manager's modules,
/// no device factories' monitors, no portal, no real-time broker (no bus
/// in the box). `module-access` is what gives a connecting client its
/// permissions: without it every client (WirePlumber, `pipewire-pulse`,
/// the tunnel) sees no object at all and waits forever. In the box every
/// object is the profile's own, so its clients get them all.
const DAEMON_CONF: &str = r#"# Written by zion-sandboxd: a profile's private PipeWire graph.
context.properties = {
    core.daemon = true
    core.name = pipewire-0
    mem.allow-mlock = false
    log.level = 2
}
context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-access }
    { name = libpipewire-module-profiler }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-spa-node-factory }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-link-factory }
    { name = libpipewire-module-session-manager }
]
context.objects = [
    { factory = spa-node-factory
      args = { factory.name = support.node.driver node.name = Dummy-Driver node.group = pipewire.dummy priority.driver = 20000 } }
    { factory = spa-node-factory
      args = { factory.name = support.node.driver node.name = Freewheel-Driver priority.driver = 19000 node.group = pipewire.freewheel node.freewheel = true } }
]
"#;

/// `pipewire-pulse` in the box, listening in the public folder only.
fn pulse_conf() -> String {
    format!(
        r#"# Written by zion-sandboxd: the profile's PulseAudio server.
context.properties = {{ mem.allow-mlock = false log.level = 2 }}
context.spa-libs = {{
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}}
context.modules = [
    {{ name = libpipewire-module-protocol-native }}
    {{ name = libpipewire-module-client-node }}
    {{ name = libpipewire-module-adapter }}
    {{ name = libpipewire-module-metadata }}
    {{ name = libpipewire-module-protocol-pulse
      args = {{ server.address = [ "unix:{BOX_RUN}/{PUBLIC}/{SOCKET}" ] }} }}
]
"#
    )
}

/// WirePlumber in the box: no device monitors (the box has no devices
/// anyway), no portal. Named to load after the system's definitions and
/// before its `90-enable-all`.
const WIREPLUMBER_MAIN: &str = "-- Written by zion-sandboxd.
alsa_monitor.enabled = false
v4l2_monitor.enabled = false
libcamera_monitor.enabled = false
default_access.properties[\"enable-flatpak-portal\"] = false
";

/// No Bluetooth monitor (it would start logind's, which the box lacks).
const WIREPLUMBER_BLUETOOTH: &str = "-- Written by zion-sandboxd.
bluez_monitor.enabled = false
";

/// Starts the box's three processes (run by [`BOX_SH`] inside the box).
const START_SH: &str = r#"# Written by zion-sandboxd: starts the profile's sound server in its box.
export XDG_RUNTIME_DIR=/run/zion-sound XDG_CONFIG_HOME=/run/zion-sound/config XDG_STATE_HOME=/run/zion-sound/state HOME=/run/zion-sound
unset DBUS_SESSION_BUS_ADDRESS PULSE_SERVER PIPEWIRE_REMOTE
pipewire -c /run/zion-sound/daemon.conf > /run/zion-sound/daemon.log 2>&1 &
while [ ! -S /run/zion-sound/pipewire-0 ]; do sleep 0.05; done
wireplumber > /run/zion-sound/wireplumber.log 2>&1 &
# The PulseAudio socket opens once the tunnel's nodes are in the graph: a
# client that connected earlier would find no sink, and a stream it made
# then is never linked to the one that comes.
for node in $(cat /run/zion-sound/nodes); do
    until timeout 5 pw-cli ls Node 2>/dev/null | grep -q "node.name = \"$node\""; do sleep 0.05; done
done
pipewire -c /run/zion-sound/pulse.conf > /run/zion-sound/pulse.log 2>&1 &
wait
"#;

/// Builds the box and runs `"$@"` in it: `sh -c BOX_SH sh <box dir> cmd…`
/// under `unshare --map-root-user --mount --net --pid --fork`. The new root
/// holds `/usr` and `/etc` read-only, a `/dev` of null, zero and random
/// only, fresh `/proc`, `/tmp` and `/dev/shm`, and the box's run folder;
/// every capability is dropped before the command runs.
pub const BOX_SH: &str = r#"set -eu
box=$1; shift
root=$box/root
mount --make-rprivate /
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root"
for d in usr etc; do
    mkdir "$root/$d"
    mount --rbind "/$d" "$root/$d"
    mount -o remount,bind,ro,nosuid,nodev "$root/$d"
done
for l in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$root/$l"; fi
done
mkdir -p "$root/dev" "$root/proc" "$root/tmp" "$root/run/zion-sound" "$root/old"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for n in null zero random urandom; do
    touch "$root/dev/$n"
    mount --bind "/dev/$n" "$root/dev/$n"
done
mkdir "$root/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --bind "$box/run" "$root/run/zion-sound"
mkdir -p "$root/run/zion-sound/public"
mount --bind "$box/public" "$root/run/zion-sound/public"
cd "$root"
pivot_root . old
umount -l /old
rmdir /old
cd /
exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- "$@"
"#;

/// The tunnel's configuration: a client of the box's daemon playing into
/// the user's PulseAudio server at `host_pulse`, and recording from its
/// default source only when `microphone`.
pub fn tunnel_conf(host_pulse: &Path, microphone: bool) -> String {
    let server = host_pulse.display().to_string().replace('"', "");
    let mut modules = format!(
        r#"    {{ name = libpipewire-module-pulse-tunnel
      args = {{
          tunnel.mode = sink
          pulse.server.address = "unix:{server}"
          stream.props = {{ node.name = {PLAYBACK_NODE} node.description = "Speakers" }}
      }} }}
"#
    );
    if microphone {
        modules.push_str(&format!(
            r#"    {{ name = libpipewire-module-pulse-tunnel
      args = {{
          tunnel.mode = source
          pulse.server.address = "unix:{server}"
          stream.props = {{ node.name = {MICROPHONE_NODE} node.description = "Microphone" }}
      }} }}
"#
        ));
    }
    format!(
        r#"# Written by zion-sandboxd: the profile's tunnel to the user's sound server.
context.properties = {{ mem.allow-mlock = false support.dbus = false log.level = 2 }}
context.spa-libs = {{
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}}
context.modules = [
    {{ name = libpipewire-module-protocol-native }}
    {{ name = libpipewire-module-client-node }}
    {{ name = libpipewire-module-adapter }}
{modules}]
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(b: &SoundBox, microphone: bool, name: &str) -> String {
        b.files(microphone)
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| text)
            .unwrap_or_default()
    }

    #[test]
    fn the_box_waits_for_exactly_the_nodes_its_tunnel_makes() {
        let b = SoundBox::of(Path::new("/run/user/1000"), "work");
        for microphone in [false, true] {
            let conf = tunnel_conf(Path::new("/run/user/1000/pulse/native"), microphone);
            let nodes = file(&b, microphone, "nodes");
            assert_eq!(
                nodes.lines().collect::<Vec<_>>(),
                tunnel_nodes(microphone).to_vec()
            );
            for node in nodes.lines() {
                assert!(conf.contains(&format!("node.name = {node} ")), "{conf}");
            }
            assert_eq!(conf.contains("tunnel.mode = source"), microphone, "{conf}");
            assert!(conf.contains("tunnel.mode = sink"), "{conf}");
        }
    }

    #[test]
    fn every_client_of_the_box_gets_its_permissions() {
        // Without module-access no client sees an object and each waits
        // forever (seen: every pactl to the profile's server hung).
        let b = SoundBox::of(Path::new("/run/user/1000"), "work");
        assert!(file(&b, false, "daemon.conf").contains("libpipewire-module-access"));
        assert!(file(&b, false, "start.sh").contains("/run/zion-sound/nodes"));
    }
}

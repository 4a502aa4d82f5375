//! The profile → Podman spec function: pure, no Podman needed.

use std::path::{Path, PathBuf};

use zion_config::{Config, Device, Network, Profile};
use zion_profiles::spec::{IdRange, LABEL_PROFILE, LABEL_SPEC};
use zion_profiles::{container_spec, HostDevices, ProfilePaths};

fn work() -> Profile {
    Config::defaults()
        .profile("work")
        .cloned()
        .expect("default work profile")
}

fn paths(name: &str) -> ProfilePaths {
    ProfilePaths::standard(name, Path::new("/data/zion"), Path::new("/run/user/1000"))
}

#[test]
fn every_capability_is_dropped_and_no_new_privileges_is_sent_under_podmans_own_name() {
    let spec = container_spec(&work(), &paths("work"), &HostDevices::default()).spec;
    let json = spec.to_json();
    assert_eq!(json["cap_drop"], serde_json::json!(["ALL"]));
    assert_eq!(json["cap_add"], serde_json::json!([]));
    // podman-api's builder spells it `no_new_privilages`, which Podman ignores.
    assert_eq!(json["no_new_privileges"], true);
    assert!(json.get("no_new_privilages").is_none());
    assert!(json.get("privileged").is_none());
    assert!(
        json.get("seccomp_profile_path").is_none(),
        "Podman's default seccomp stays"
    );
}

#[test]
fn capabilities_a_profile_asks_for_are_the_only_ones_added() {
    let mut p = work();
    p.capabilities = vec!["CAP_SYS_NICE".into()];
    let spec = container_spec(&p, &paths("work"), &HostDevices::default()).spec;
    assert_eq!(spec.cap_add, vec!["CAP_SYS_NICE"]);
    assert_eq!(spec.cap_drop, vec!["ALL"]);
}

#[test]
fn only_the_profiles_own_folders_are_mounted() {
    let spec = container_spec(&work(), &paths("work"), &HostDevices::default()).spec;
    let sources: Vec<&str> = spec.mounts.iter().map(|m| m.source.as_str()).collect();
    assert!(sources.contains(&"/data/zion/profiles/work/home"));
    assert!(sources.contains(&"/run/user/1000/zion/work"));
    for m in &spec.mounts {
        assert!(
            !m.source.contains("/personal") && !m.source.contains("/gaming"),
            "{m:?}"
        );
        assert!(
            !m.source.ends_with("/bus") && !m.source.contains("podman"),
            "{m:?}"
        );
    }
    let shared = spec
        .mounts
        .iter()
        .find(|m| m.destination == "/home/zion/Shared")
        .expect("Shared");
    assert!(
        shared.options.contains(&"ro".to_owned()),
        "Shared is read-only"
    );
    let home = spec
        .mounts
        .iter()
        .find(|m| m.destination == "/home/zion")
        .expect("home");
    assert!(home.options.contains(&"rw".to_owned()) && home.options.contains(&"nosuid".to_owned()));
}

#[test]
fn x11_programs_find_the_profiles_own_xwayland_at_display_0() {
    let spec = container_spec(&work(), &paths("work"), &HostDevices::default()).spec;
    let x11 = spec
        .mounts
        .iter()
        .find(|m| m.destination == "/tmp/.X11-unix")
        .expect("an X11 socket folder");
    assert_eq!(x11.source, "/run/user/1000/zion/work/X11");
    assert_eq!(spec.env["DISPLAY"], ":0");
    assert!(
        paths("work")
            .folders()
            .contains(&Path::new("/run/user/1000/zion/work/X11")),
        "the folder is made before the container starts"
    );
}

#[test]
fn limits_and_network_follow_the_profile() {
    let mut p = work();
    p.memory = Some(2 << 30);
    p.cpus = Some(1.5);
    p.pids = 300;
    p.network = Network::None;
    let json = container_spec(&p, &paths("work"), &HostDevices::default())
        .spec
        .to_json();
    assert_eq!(json["resource_limits"]["memory"]["limit"], 2u64 << 30);
    assert_eq!(json["resource_limits"]["cpu"]["quota"], 150_000);
    assert_eq!(json["resource_limits"]["cpu"]["period"], 100_000);
    assert_eq!(json["resource_limits"]["pids"]["limit"], 300);
    assert_eq!(json["netns"]["nsmode"], "none");

    p.network = Network::Full;
    let json = container_spec(&p, &paths("work"), &HostDevices::default())
        .spec
        .to_json();
    assert_eq!(json["netns"]["nsmode"], "bridge");
    assert_eq!(
        json["Networks"],
        serde_json::json!({"zion-work": {}}),
        "full network is the profile's own, not Podman's default"
    );
}

#[test]
fn a_device_the_machine_lacks_is_a_warning_not_a_failure() {
    let mut p = work();
    p.devices = vec![Device::Gpu, Device::Webcam, Device::Sound];
    let host = HostDevices {
        dri: vec![PathBuf::from("/dev/dri/renderD128")],
        ..HostDevices::default()
    };
    let outcome = container_spec(&p, &paths("work"), &host);
    let devices: Vec<&str> = outcome
        .spec
        .devices
        .iter()
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(devices, vec!["/dev/dri/renderD128"]);
    assert_eq!(outcome.warnings.len(), 2, "{:?}", outcome.warnings);
    assert!(outcome.warnings.iter().any(|w| w.contains("webcam")));
    assert!(outcome.warnings.iter().any(|w| w.contains("sound")));
}

#[test]
fn the_spec_hash_label_changes_with_the_profile_and_only_then() {
    let a = container_spec(&work(), &paths("work"), &HostDevices::default()).spec;
    let b = container_spec(&work(), &paths("work"), &HostDevices::default()).spec;
    assert_eq!(a.labels[LABEL_SPEC], b.labels[LABEL_SPEC]);
    assert_eq!(a.labels[LABEL_PROFILE], "work");
    let mut p = work();
    p.memory = Some(3 << 30);
    let c = container_spec(&p, &paths("work"), &HostDevices::default()).spec;
    assert_ne!(a.labels[LABEL_SPEC], c.labels[LABEL_SPEC]);
}

#[test]
fn each_outbox_to_another_profile_is_its_own_writable_quarantine_folder() {
    let paths = paths("work").with_outboxes_to(["work", "personal", "gaming"]);
    let spec = container_spec(&work(), &paths, &HostDevices::default()).spec;
    let mount = |dest: &str| {
        spec.mounts
            .iter()
            .find(|m| m.destination == dest)
            .unwrap_or_else(|| panic!("no mount at {dest}: {:?}", spec.mounts))
    };
    for to in ["personal", "gaming"] {
        let m = mount(&format!("/home/zion/Outbox/{to}"));
        assert_eq!(
            m.source,
            format!("/data/zion/quarantine/inbox/profile-work.to-{to}")
        );
        assert!(m.options.contains(&"rw".to_owned()), "{m:?}");
    }
    assert!(
        !spec
            .mounts
            .iter()
            .any(|m| m.destination == "/home/zion/Outbox/work"),
        "no outbox to itself"
    );
    // Nothing of the receivers' own folders is mounted.
    for m in &spec.mounts {
        assert!(!m.source.contains("profiles/personal"), "{m:?}");
        assert!(!m.source.contains("profiles/gaming"), "{m:?}");
    }
    assert_eq!(paths.folders().len(), 8);
}

#[test]
fn rootful_podman_maps_the_profiles_own_range_so_root_inside_is_never_root_outside() {
    let mut p = paths("work");
    p.ids = IdRange::slot(2);
    let json = container_spec(&work(), &p, &HostDevices::default())
        .spec
        .to_json();
    assert_eq!(json["userns"], serde_json::json!({"nsmode": "private"}));
    let base = 0x7000_0000u32 + 2 * 65536;
    let map = serde_json::json!([{"container_id": 0, "host_id": base, "size": 65536}]);
    assert_eq!(json["idmappings"]["UIDMap"], map);
    assert_eq!(json["idmappings"]["GIDMap"], map);
    // The same slot gives the same spec: a re-created container keeps it.
    let again = container_spec(&work(), &p, &HostDevices::default()).spec;
    assert_eq!(again.to_json()["idmappings"], json["idmappings"]);
    assert_eq!(IdRange::slot(IdRange::SLOTS), None);
    let last = IdRange::slot(IdRange::SLOTS - 1).expect("last slot");
    assert!(u64::from(last.base) + u64::from(last.size) <= i32::MAX as u64);
}

#[test]
fn rootless_podman_maps_the_users_uid_into_the_container() {
    let rootful = container_spec(&work(), &paths("work"), &HostDevices::default()).spec;
    assert!(
        rootful.to_json().get("userns").is_none(),
        "Podman's default without a range"
    );
    let host = HostDevices {
        rootless: true,
        ..HostDevices::default()
    };
    let rootless = container_spec(&work(), &paths("work"), &host).spec;
    assert_eq!(
        rootless.to_json()["userns"],
        serde_json::json!({"nsmode": "keep-id"})
    );
    assert_ne!(
        rootless.hash(),
        rootful.hash(),
        "a change of mapping recreates the container"
    );
}

// ---- Devices, sound and network (issue 18, findings 4, 5 and 10) ----

fn with_devices(devices: &[Device]) -> Profile {
    let mut p = work();
    p.devices = devices.to_vec();
    p
}

fn sound_host() -> HostDevices {
    HostDevices {
        sound_socket: Some(PathBuf::from("/run/user/1000/pulse/native")),
        profile_sound: [
            ("work", "/run/user/1000/zion-sound/work/run/public"),
            ("personal", "/run/user/1000/zion-sound/personal/run/public"),
        ]
        .into_iter()
        .map(|(p, s)| (p.to_owned(), PathBuf::from(s)))
        .collect(),
        ..HostDevices::default()
    }
}

fn sources(spec: &zion_profiles::ContainerSpec) -> Vec<&str> {
    spec.mounts.iter().map(|m| m.source.as_str()).collect()
}

#[test]
fn sound_gives_the_profiles_own_server_never_the_users_nor_anothers() {
    let outcome = container_spec(
        &with_devices(&[Device::Sound]),
        &paths("work"),
        &sound_host(),
    );
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    let spec = outcome.spec;
    let all = sources(&spec);
    assert!(!all.contains(&"/run/user/1000/pulse/native"));
    assert!(!all.contains(&"/run/user/1000/zion-sound/personal/run/public"));
    let mount = spec
        .mounts
        .iter()
        .find(|m| m.source == "/run/user/1000/zion-sound/work/run/public")
        .expect("the profile's own server is mounted");
    assert_eq!(mount.destination, "/run/zion-sound");
    assert!(mount.options.contains(&"ro".to_owned()));
    assert_eq!(spec.env["PULSE_SERVER"], "unix:/run/zion-sound/native");
}

#[test]
fn sound_without_a_server_of_its_own_is_no_sound_rather_than_the_users() {
    let host = HostDevices {
        sound_socket: Some(PathBuf::from("/run/user/1000/pipewire-0")),
        ..HostDevices::default()
    };
    for devices in [&[Device::Sound][..], &[Device::Microphone][..]] {
        let outcome = container_spec(&with_devices(devices), &paths("work"), &host);
        assert!(!sources(&outcome.spec).contains(&"/run/user/1000/pipewire-0"));
        assert!(!outcome.spec.env.contains_key("PULSE_SERVER"));
        assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
        assert!(outcome.warnings[0].contains("without sound"));
    }
}

#[test]
fn microphone_mounts_the_profiles_server_once() {
    for devices in [
        &[Device::Microphone][..],
        &[Device::Sound, Device::Microphone][..],
        &[Device::Microphone, Device::Sound][..],
    ] {
        let outcome = container_spec(&with_devices(devices), &paths("work"), &sound_host());
        assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
        let spec = outcome.spec;
        let sound: Vec<&str> = sources(&spec)
            .into_iter()
            .filter(|s| s.contains("sound"))
            .collect();
        assert_eq!(
            sound,
            vec!["/run/user/1000/zion-sound/work/run/public"],
            "{devices:?}"
        );
    }
}

#[test]
fn microphone_is_a_grant_of_its_own_in_the_config() {
    let text = "[[profile]]\nname = \"calls\"\ndevices = [\"sound\", \"microphone\"]\n";
    let config = Config::parse(text, Path::new("zion.toml")).expect("config");
    assert_eq!(
        config.profiles[0].devices,
        vec![Device::Sound, Device::Microphone]
    );
    let bad = "[[profile]]\nname = \"calls\"\ndevices = [\"mic\"]\n";
    let err = Config::parse(bad, Path::new("zion.toml")).expect_err("unknown device");
    assert!(err.to_string().contains("\"microphone\""), "{err}");
}

#[test]
fn each_profile_has_its_own_network_and_none_is_podmans_default() {
    let mut a = work();
    a.network = Network::Full;
    let mut b = Config::defaults()
        .profile("personal")
        .cloned()
        .expect("personal");
    b.network = Network::Full;
    let ja = container_spec(&a, &paths("work"), &HostDevices::default())
        .spec
        .to_json();
    let jb = container_spec(&b, &paths("personal"), &HostDevices::default())
        .spec
        .to_json();
    assert_eq!(ja["Networks"], serde_json::json!({"zion-work": {}}));
    assert_eq!(jb["Networks"], serde_json::json!({"zion-personal": {}}));
    for j in [&ja, &jb] {
        assert!(j["Networks"].get("podman").is_none());
    }
}

#[test]
fn zion_networks_are_isolated_on_bridges_the_firewall_matches() {
    use zion_profiles::network::{
        bridge_interface, firewall, network_spec, profile_network, sandbox_network, BRIDGE_PREFIX,
    };
    let names = [
        profile_network("work"),
        sandbox_network("work"),
        profile_network("a-very-long-profile-name-of-32ch"),
    ];
    let mut interfaces: Vec<String> = names.iter().map(|n| bridge_interface(n, "/d")).collect();
    for (name, interface) in names.iter().zip(&interfaces) {
        assert!(interface.starts_with(BRIDGE_PREFIX), "{interface}");
        assert!(interface.len() <= 15, "{interface} is too long for Linux");
        let spec = network_spec(name, "/d");
        assert_eq!(spec.options["isolate"], "true");
        assert_eq!(&spec.interface, interface);
    }
    interfaces.dedup();
    assert_eq!(interfaces.len(), names.len());
    // Two sessions (each with its own Podman) never share a bridge.
    assert_ne!(
        bridge_interface("zion-work", "/home/a/.local/share/zion"),
        bridge_interface("zion-work", "/home/b/.local/share/zion")
    );
    // A profile named like another's sandboxes cannot exist: `.` is no
    // profile-name character.
    assert_eq!(sandbox_network("work"), "zion-work.sandboxes");
    assert!("work.sandboxes"
        .parse::<zion_config::ProfileName>()
        .is_err());

    let chains = firewall();
    let input = chains
        .iter()
        .find(|c| c.hook == "INPUT")
        .expect("input chain");
    let last = input.rules.last().expect("rules").join(" ");
    assert_eq!(last, format!("-i {BRIDGE_PREFIX}+ -j DROP"));
    let forward = chains
        .iter()
        .find(|c| c.hook == "FORWARD")
        .expect("forward chain");
    assert!(forward
        .rules
        .iter()
        .any(|r| r.join(" ") == format!("-i {BRIDGE_PREFIX}+ -o {BRIDGE_PREFIX}+ -j DROP")));
}

#[test]
fn an_existing_network_is_adopted_only_when_isolated_on_its_bridge() {
    use zion_profiles::network::{adoptable, network_spec};
    let spec = network_spec("zion-work", "/d");
    let good = serde_json::json!({
        "name": "zion-work",
        "network_interface": spec.interface,
        "options": {"isolate": "true"},
    });
    assert!(adoptable(&spec, &good));
    let open = serde_json::json!({"name": "zion-work", "network_interface": spec.interface});
    assert!(!adoptable(&spec, &open));
    let elsewhere = serde_json::json!({
        "name": "zion-work",
        "network_interface": "podman0",
        "options": {"isolate": "true"},
    });
    assert!(!adoptable(&spec, &elsewhere));
}

#[test]
fn host_socket_folders_are_read_only_and_the_runtime_folder_is_a_private_tmpfs() {
    let spec = container_spec(&work(), &paths("work"), &HostDevices::default()).spec;
    let at = |dest: &str| {
        spec.mounts
            .iter()
            .find(|m| m.destination == dest)
            .unwrap_or_else(|| panic!("no mount at {dest}: {:?}", spec.mounts))
    };
    let runtime = at("/run/zion");
    assert_eq!(runtime.kind, "tmpfs");
    assert!(runtime.options.contains(&"mode=0700".to_owned()));
    for (dest, source) in [
        ("/run/zion/wayland", "/run/user/1000/zion/work"),
        ("/tmp/.X11-unix", "/run/user/1000/zion/work/X11"),
    ] {
        let m = at(dest);
        assert_eq!((m.kind.as_str(), m.source.as_str()), ("bind", source));
        assert!(m.options.contains(&"ro".to_owned()), "{m:?}");
        assert!(!m.options.contains(&"rw".to_owned()), "{m:?}");
    }
    // No writable host mount is ever a folder the compositor writes in;
    // the one writable runtime folder is the profile's own bus folder,
    // apart from the compositor's.
    for m in spec.mounts.iter().filter(|m| m.kind == "bind") {
        if m.source.starts_with("/run/user/1000") && m.source != "/run/user/1000/zion-bus/work" {
            assert!(m.options.contains(&"ro".to_owned()), "{m:?}");
        }
    }
    assert_eq!(spec.env["XDG_RUNTIME_DIR"], "/run/zion");
    assert_eq!(spec.env["WAYLAND_DISPLAY"], "/run/zion/wayland/wayland-0");
}

#[test]
fn the_profile_gets_a_bus_of_its_own_never_the_hosts() {
    let spec = container_spec(&work(), &paths("work"), &HostDevices::default()).spec;
    assert_eq!(
        spec.env["DBUS_SESSION_BUS_ADDRESS"],
        "unix:path=/run/zion/bus/bus"
    );
    let bus = spec
        .mounts
        .iter()
        .find(|m| m.destination == "/run/zion/bus")
        .unwrap_or_else(|| panic!("no bus folder: {:?}", spec.mounts));
    assert_eq!(bus.source, "/run/user/1000/zion-bus/work");
    assert!(bus.options.contains(&"nosuid".to_owned()), "{bus:?}");
    // Its own folder, not the compositor's, and nothing of the host's bus.
    for m in &spec.mounts {
        assert_ne!(m.source, "/run/user/1000/bus", "{m:?}");
        assert_ne!(m.source, "/run/user/1000/zion", "{m:?}");
    }
    // The session's first process starts that bus.
    assert!(spec.command.join(" ").contains("dbus-daemon --fork"));
}

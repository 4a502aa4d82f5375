//! Good files: sensible defaults for what is left out, `to_toml` output that
//! parses back equal, and the shipped `zion.toml` equal to the built-ins.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zion_config::quarantine::{AutoRelease, ByteSize, Policy};
use zion_config::transfer::Rule;
use zion_config::{
    Action, Bind, Chord, Colour, Config, Device, HibernateAfter, HibernateMode, Network,
    ProfileName, Restart,
};

/// The name of the action `chord` is bound to.
fn bound(config: &Config, chord: &str) -> Option<&'static str> {
    let chord: Chord = chord.parse().expect("a valid chord");
    config.hotkeys.action(&chord).and_then(Action::name)
}

fn parse(text: &str) -> Config {
    match Config::parse(text, Path::new("zion.toml")) {
        Ok(config) => config,
        Err(e) => panic!("valid file refused:\n{e}\n--- file:\n{text}"),
    }
}

#[test]
fn a_small_file_gets_sensible_defaults() {
    let config = parse("[[profile]]\nname = \"work\"\n");
    let work = &config.profiles[0];
    assert_eq!(work.label, "work");
    assert_eq!(work.image, "localhost/zion-profile:latest");
    assert_eq!(work.network, Network::Full);
    assert_eq!(work.pids, 4096);
    assert_eq!((work.cpus, work.memory), (None, None));
    assert_eq!(work.terminal, vec!["foot"]);
    assert_eq!(
        work.hibernate_after,
        HibernateAfter::After(Duration::from_secs(600))
    );
    assert_eq!(work.restart, Restart::OnFailure);
    assert_eq!(bound(&config, "Super+Return"), Some("terminal"));
    assert_eq!(bound(&config, "Super+Tab"), Some("next-profile"));
    assert_eq!(config.quarantine, Policy::default());
    assert_eq!(config.source, None);
}

#[test]
fn profiles_without_a_colour_get_distinct_ones() {
    let config =
        parse("[[profile]]\nname = \"a\"\n[[profile]]\nname = \"b\"\n[[profile]]\nname = \"c\"\n");
    let colours: Vec<Colour> = config.profiles.iter().map(|p| p.colour).collect();
    assert_ne!(colours[0], colours[1]);
    assert_ne!(colours[1], colours[2]);
    assert_ne!(colours[0], colours[2]);
}

#[test]
fn a_profile_hotkey_takes_a_default_chord_the_user_did_not_bind() {
    let config = parse("[[profile]]\nname = \"work\"\nhotkey = \"Super+B\"\n");
    assert_eq!(bound(&config, "Super+B"), None, "Super+B now shows work");
    assert_eq!(
        config.profiles[0].hotkey.as_ref().map(ToString::to_string),
        Some("Super+B".to_owned())
    );
}

#[test]
fn none_unbinds_a_default_hotkey() {
    let config = parse("[[profile]]\nname = \"work\"\n[hotkeys]\n\"Super+Q\" = \"none\"\n");
    assert_eq!(bound(&config, "Super+Q"), None);
    assert_eq!(bound(&config, "Super+B"), Some("browser"));
}

const FULL: &str = r##"
[[profile]]
name = "work"
label = "Work · \"Acme\""
colour = "#f0a"
image = "registry.example/zion/work:1.2"
cpus = 2
memory = "4GiB"
pids = 512
devices = ["gpu", "sound", "gpu"]
network = "none"
capabilities = ["sys_nice", "CAP_NET_RAW"]
autostart = [["foot"], ["firefox", "--new-window", "https://example.org/?a=1&b='x'"]]
terminal = ["foot", "-e", "bash"]
hibernate_after = "1h30m"
hibernate = "disk"
hotkey = "super+w"

[[profile.binds]]
host = "/srv/projects"
target = "/home/zion/projects"
read_only = false

[[profile.binds]]
host = "/srv/music library"
target = "/home/zion/Music"

[[profile]]
name = "play"
cpus = 0.5
memory = 1073741825
hibernate_after = "never"

[hotkeys]
"Super+W" = "none"
"Ctrl+Alt+Return" = "terminal"

[quarantine]
max_size = "2GiB"
auto_release = "1h"

[quarantine.transfers]
"work -> play" = "scan"
"##;

#[test]
fn a_full_file_reads_every_value() {
    let config = parse(FULL);
    let work = &config.profiles[0];
    assert_eq!(work.label, "Work · \"Acme\"");
    assert_eq!(work.colour.to_string(), "#ff00aa");
    assert_eq!(work.image, "registry.example/zion/work:1.2");
    assert_eq!(work.memory, Some(4 << 30));
    assert_eq!(work.cpus, Some(2.0));
    assert_eq!(work.pids, 512);
    assert_eq!(
        work.devices,
        vec![Device::Gpu, Device::Sound],
        "deduplicated"
    );
    assert_eq!(work.network, Network::None);
    assert_eq!(work.capabilities, vec!["CAP_SYS_NICE", "CAP_NET_RAW"]);
    assert_eq!(work.autostart.len(), 2);
    assert_eq!(work.terminal, vec!["foot", "-e", "bash"]);
    assert_eq!(
        work.hibernate_after,
        HibernateAfter::After(Duration::from_secs(5400))
    );
    assert_eq!(
        work.binds,
        vec![
            Bind {
                host: PathBuf::from("/srv/projects"),
                target: PathBuf::from("/home/zion/projects"),
                read_only: false,
            },
            Bind {
                host: PathBuf::from("/srv/music library"),
                target: PathBuf::from("/home/zion/Music"),
                read_only: true,
            },
        ]
    );
    assert_eq!(work.hibernate, HibernateMode::Disk);
    let play = config.profile("play").expect("play is defined");
    assert_eq!(play.hibernate, HibernateMode::Freeze, "freeze by default");
    assert_eq!(play.memory, Some(1_073_741_825));
    assert_eq!(play.hibernate_after, HibernateAfter::Never);
    assert!(config.profile("nobody").is_none());
    assert_eq!(bound(&config, "Super+W"), None);
    assert_eq!(bound(&config, "Ctrl+Alt+Return"), Some("terminal"));
    assert_eq!(config.quarantine.max_size, ByteSize(2 << 30));
    assert_eq!(
        config.quarantine.auto_release,
        AutoRelease::After(Duration::from_secs(3600))
    );
    assert_eq!(
        config.quarantine.transfers.configured().collect::<Vec<_>>(),
        [("work -> play", Rule::Scan)]
    );
}

#[test]
fn a_full_file_round_trips() {
    let config = parse(FULL);
    let text = config.to_toml();
    assert_eq!(parse(&text), config, "--- to_toml gave:\n{text}");
    assert_eq!(parse(&text).to_toml(), text, "to_toml is stable");
}

#[test]
fn a_config_built_in_code_round_trips() {
    let mut config = Config::defaults();
    let mut odd = config.profiles[0].clone();
    odd.name = ProfileName::new("odd_1-x").expect("valid name");
    odd.label = "Ünïcode 'quoted' \"double\" \\ back".to_owned();
    odd.colour = Colour { r: 1, g: 2, b: 3 };
    odd.cpus = Some(0.1);
    odd.memory = Some((64 << 20) + 7);
    odd.pids = 16;
    odd.devices = vec![Device::Webcam, Device::Gamepad];
    odd.network = Network::None;
    odd.autostart = vec![vec!["sh".into(), "-c".into(), "echo \"$HOME\" # x".into()]];
    odd.hibernate_after = HibernateAfter::After(Duration::from_secs(86_401));
    odd.hotkey = "Ctrl+Alt+F12".parse().ok();
    odd.restart = Restart::Never;
    config.profiles.push(odd);
    let text = config.to_toml();
    assert_eq!(parse(&text), config, "--- to_toml gave:\n{text}");
}

#[test]
fn load_remembers_the_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("zion.toml");
    std::fs::write(&path, Config::defaults().to_toml()).expect("write");
    let config = Config::load(&path).expect("valid");
    assert_eq!(config.source.as_deref(), Some(path.as_path()));
    assert_eq!(
        Config {
            source: None,
            ..config
        },
        Config::defaults()
    );
}

#[test]
fn the_shipped_default_file_is_the_built_in_defaults() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../session-files/zion.toml");
    let config = match Config::load(&shipped) {
        Ok(config) => config,
        Err(e) => panic!("the shipped zion.toml is refused:\n{e}"),
    };
    assert_eq!(
        Config {
            source: None,
            ..config
        },
        Config::defaults()
    );
}

#[test]
fn the_defaults_are_work_gaming_personal() {
    let c = Config::defaults();
    let names: Vec<&str> = c.profiles.iter().map(|p| p.name.as_ref()).collect();
    assert_eq!(names, ["work", "gaming", "personal"]);
    let gaming = c.profile("gaming").expect("gaming");
    assert_eq!(
        gaming.devices,
        [Device::Gpu, Device::Gamepad, Device::Sound]
    );
    assert_eq!(gaming.hibernate_after, HibernateAfter::Never);
    assert_eq!(
        c.profile("personal").expect("personal").devices,
        [Device::Sound]
    );
    let hotkeys: Vec<String> = c
        .profiles
        .iter()
        .filter_map(|p| p.hotkey.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(hotkeys, ["Super+1", "Super+2", "Super+3"]);
    for (chord, action) in [
        ("Super+Tab", "next-profile"),
        ("Super+Return", "terminal"),
        ("Super+B", "browser"),
        ("Super+Q", "panel"),
    ] {
        assert_eq!(bound(&c, chord), Some(action), "{chord}");
    }
    assert_eq!(parse(&c.to_toml()), c);
}

#[test]
fn value_types_serialise_as_their_toml_text() {
    let name: ProfileName = serde_json::from_str("\"work\"").expect("valid name");
    assert_eq!(serde_json::to_string(&name).expect("json"), "\"work\"");
    assert!(serde_json::from_str::<ProfileName>("\"../etc\"").is_err());
    let colour: Colour = serde_json::from_str("\"#abc\"").expect("colour");
    assert_eq!(serde_json::to_string(&colour).expect("json"), "\"#aabbcc\"");
    let after: HibernateAfter = serde_json::from_str("\"90s\"").expect("duration");
    assert_eq!(after, HibernateAfter::After(Duration::from_secs(90)));
}

//! The configuration model: every bad input of the catalogue gets its own
//! clear error at the right line and column; good files round-trip.

use std::path::Path;

use zion_profiles::config::{Config, ConfigError, Device, HibernateAfter, Network};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("zion.toml"))
}

/// Asserts `text` fails at `line:column` with `message` in the message and
/// `hint` in the hint.
fn fails(text: &str, line: usize, column: usize, message: &str, hint: &str) {
    let err = parse(text).expect_err("must be refused");
    let shown = err.to_string();
    assert_eq!(
        (err.line, err.column),
        (line, column),
        "position of: {shown}"
    );
    assert!(
        shown.starts_with(&format!("zion.toml:{line}:{column}: ")),
        "{shown}"
    );
    assert!(
        err.message.contains(message),
        "message `{}` lacks `{message}`",
        err.message
    );
    let got = err.hint.clone().unwrap_or_default();
    assert!(got.contains(hint), "hint `{got}` lacks `{hint}`");
}

const WORK: &str = "[[profile]]\nname = \"work\"\n";

#[test]
fn toml_syntax_error_points_at_the_spot() {
    fails(
        "[[profile]]\nname = \"work\n",
        2,
        13,
        "invalid basic string",
        "zionctl config defaults",
    );
}

#[test]
fn unknown_key_suggests_the_near_one() {
    fails(
        &format!("{WORK}colr = \"#ffffff\"\n"),
        3,
        1,
        "unknown field `colr`",
        "did you mean `colour`?",
    );
}

#[test]
fn unknown_top_level_section_is_refused() {
    fails(
        &format!("{WORK}[profiles]\nx = 1\n"),
        3,
        2,
        "unknown field `profiles`",
        "did you mean `profile`?",
    );
}

#[test]
fn wrong_type_is_refused() {
    fails(
        &format!("{WORK}pids = \"many\"\n"),
        3,
        8,
        "invalid type",
        "",
    );
}

#[test]
fn bad_colour() {
    fails(
        &format!("{WORK}colour = \"blue-ish\"\n"),
        3,
        10,
        "`blue-ish` is not a colour in profile `work`",
        "#rrggbb",
    );
}

#[test]
fn duplicate_name_points_at_the_second() {
    fails(
        &format!("{WORK}\n{WORK}"),
        5,
        8,
        "profile `work` is defined twice",
        "its own name",
    );
}

#[test]
fn names_that_are_not_safe_folder_names() {
    for bad in ["../x", "a/b", "Work", "", &"x".repeat(40)] {
        let text = format!("[[profile]]\nname = \"{bad}\"\n");
        fails(&text, 2, 8, "profile name", "lower-case letters");
    }
}

#[test]
fn memory_below_the_floor() {
    fails(
        &format!("{WORK}memory = \"32MiB\"\n"),
        3,
        10,
        "below the floor of 64MiB",
        "64MiB",
    );
}

#[test]
fn memory_that_is_not_a_size() {
    fails(
        &format!("{WORK}memory = \"lots\"\n"),
        3,
        10,
        "`lots` is not a size",
        "4GiB",
    );
}

#[test]
fn unknown_device() {
    fails(
        &format!("{WORK}devices = [\"gpu\", \"printer\"]\n"),
        3,
        19,
        "unknown device `printer`",
        "\"webcam\"",
    );
}

#[test]
fn unknown_network() {
    fails(
        &format!("{WORK}network = \"some\"\n"),
        3,
        11,
        "unknown network `some`",
        "\"none\" or \"full\"",
    );
}

#[test]
fn bad_duration() {
    fails(
        &format!("{WORK}hibernate_after = \"soon\"\n"),
        3,
        19,
        "`soon` is not a duration",
        "\"10m\"",
    );
}

#[test]
fn bad_capability() {
    fails(
        &format!("{WORK}capabilities = [\"CAP_FLY\"]\n"),
        3,
        17,
        "not a Linux capability",
        "CAP_SYS_NICE",
    );
}

#[test]
fn relative_bind_path() {
    let text = format!("{WORK}[[profile.binds]]\nhost = \"docs\"\ntarget = \"/docs\"\n");
    fails(
        &text,
        4,
        8,
        "bind host `docs` is not an absolute path",
        "from /",
    );
}

#[test]
fn empty_autostart_command() {
    fails(
        &format!("{WORK}autostart = [[]]\n"),
        3,
        14,
        "empty command",
        "[\"foot\"]",
    );
}

#[test]
fn duplicate_hotkey_between_profiles() {
    let text =
        format!("{WORK}hotkey = \"Super+1\"\n[[profile]]\nname = \"play\"\nhotkey = \"super+1\"\n");
    fails(
        &text,
        6,
        10,
        "already the hotkey of profile `work`",
        "its own hotkey",
    );
}

#[test]
fn hotkey_binding_that_clashes_with_a_profile() {
    let text = format!("{WORK}hotkey = \"Super+1\"\n[hotkeys]\n\"Super+1\" = \"terminal\"\n");
    fails(
        &text,
        5,
        1,
        "already the hotkey of profile `work`",
        "another chord",
    );
}

#[test]
fn unknown_hotkey_action() {
    let text = format!("{WORK}[hotkeys]\n\"Super+T\" = \"terminl\"\n");
    fails(
        &text,
        4,
        13,
        "unknown action `terminl`",
        "did you mean `terminal`?",
    );
}

#[test]
fn hotkey_without_modifier() {
    fails(
        &format!("{WORK}hotkey = \"1\"\n"),
        3,
        10,
        "has no modifier",
        "Super+1",
    );
}

#[test]
fn zero_profiles() {
    fails("[hotkeys]\n", 1, 1, "no profile is defined", "[[profile]]");
}

#[test]
fn a_missing_file_says_so() {
    let err = Config::load(Path::new("/nonexistent/zion.toml")).expect_err("missing");
    assert!(
        err.to_string()
            .contains("/nonexistent/zion.toml:1:1: cannot read the file"),
        "{err}"
    );
}

#[test]
fn a_small_file_gets_sensible_defaults() {
    let config = parse(WORK).expect("valid");
    let work = &config.profiles[0];
    assert_eq!(work.label, "work");
    assert_eq!(work.network, Network::Full);
    assert_eq!(work.terminal, vec!["foot"]);
    assert_eq!(
        work.hibernate_after,
        HibernateAfter::After(std::time::Duration::from_secs(600))
    );
    assert_eq!(config.hotkeys.action("Super+Return"), Some("terminal"));
}

#[test]
fn a_full_file_round_trips() {
    let text = r##"
[[profile]]
name = "work"
label = "Work · Acme"
colour = "#f0a"
image = "localhost/zion-profile:latest"
cpus = 2
memory = "4GiB"
pids = 512
devices = ["gpu", "sound"]
network = "none"
capabilities = ["sys_nice"]
autostart = [["foot"], ["firefox", "--new-window"]]
terminal = ["foot", "-e", "bash"]
hibernate_after = "1h30m"
hotkey = "Super+W"

[[profile.binds]]
host = "/srv/projects"
target = "/home/zion/projects"
read_only = false

[[profile]]
name = "play"
cpus = 0.5
hibernate_after = "never"

[hotkeys]
"Super+W" = "none"
"Ctrl+Alt+Return" = "terminal"

[quarantine]
max_size = "2GiB"
auto_release = "1h"
"##;
    let config = parse(text).expect("valid");
    let work = &config.profiles[0];
    assert_eq!(work.colour.to_string(), "#ff00aa");
    assert_eq!(work.memory, Some(4 << 30));
    assert_eq!(work.cpus, Some(2.0));
    assert_eq!(work.devices, vec![Device::Gpu, Device::Sound]);
    assert_eq!(work.capabilities, vec!["CAP_SYS_NICE"]);
    assert!(!work.binds[0].read_only);
    assert_eq!(
        config.hotkeys.action("Super+W"),
        None,
        "a profile's hotkey is not also an action"
    );
    assert_eq!(config.hotkeys.action("Ctrl+Alt+Return"), Some("terminal"));
    assert_eq!(config.quarantine["max_size"].as_str(), Some("2GiB"));

    let again = parse(&config.to_toml()).expect("its own output parses");
    assert_eq!(again, config);
}

#[test]
fn the_shipped_default_file_is_the_built_in_defaults() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../session-files/zion.toml");
    let config = Config::load(&shipped).expect("shipped config is valid");
    assert_eq!(config, Config::defaults());
    assert_eq!(
        parse(&Config::defaults().to_toml()).expect("defaults round-trip"),
        Config::defaults()
    );
}

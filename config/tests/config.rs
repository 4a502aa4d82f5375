//! The validation catalogue: every bad input gets its own error, at the
//! line and column of the offending key or value, with a hint.

use std::path::Path;

use zion_config::{Config, ConfigError};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("zion.toml"))
}

/// Asserts `text` fails at `line:column` with `message` in the message and
/// `hint` in the (always present) hint.
#[track_caller]
fn fails(text: &str, line: usize, column: usize, message: &str, hint: &str) {
    let err = parse(text).expect_err("must be refused");
    let shown = err.to_string();
    assert_eq!(
        (err.line(), err.column()),
        (line, column),
        "position of: {shown}"
    );
    assert!(
        shown.starts_with(&format!("zion.toml:{line}:{column}: ")),
        "{shown}"
    );
    assert!(
        err.message().contains(message),
        "message `{}` lacks `{message}`",
        err.message()
    );
    let got = err.hint().unwrap_or_default();
    assert!(!got.is_empty(), "no hint for: {shown}");
    assert!(got.contains(hint), "hint `{got}` lacks `{hint}`");
    assert!(shown.ends_with(&format!("\n  hint: {got}")), "{shown}");
}

const WORK: &str = "[[profile]]\nname = \"work\"\n";

#[test]
fn the_message_reads_file_line_column_then_hint() {
    let err = parse(&format!("{WORK}colr = \"#ffffff\"\n")).expect_err("unknown key");
    assert_eq!(
        err.to_string(),
        "zion.toml:3:1: unknown key `colr` in profile `work`\n  hint: did you mean `colour`?"
    );
    assert_eq!(err.file(), Path::new("zion.toml"));
}

#[test]
fn toml_syntax_error_points_at_the_spot() {
    fails(
        "[[profile]]\nname = \"work\n",
        2,
        13,
        "invalid basic string",
        "TOML syntax",
    );
}

#[test]
fn a_key_written_twice_is_refused_at_the_second() {
    fails(
        &format!("{WORK}name = \"play\"\n"),
        3,
        1,
        "duplicate key `name`",
        "remove one",
    );
}

#[test]
fn unknown_key_suggests_the_near_one() {
    fails(
        &format!("{WORK}\nmemroy = \"4GiB\"\n"),
        4,
        1,
        "unknown key `memroy` in profile `work`",
        "did you mean `memory`?",
    );
}

#[test]
fn unknown_key_far_from_any_lists_the_keys() {
    fails(
        &format!("{WORK}wallpaper = \"x.png\"\n"),
        3,
        1,
        "unknown key `wallpaper` in profile `work`",
        "hibernate_after",
    );
}

#[test]
fn unknown_key_in_a_bind_names_the_bind_keys() {
    let text =
        format!("{WORK}[[profile.binds]]\nhost = \"/a\"\ntarget = \"/b\"\nreadonly = true\n");
    fails(
        &text,
        6,
        1,
        "unknown key `readonly` in a bind of profile `work`",
        "did you mean `read_only`?",
    );
}

#[test]
fn unknown_section_is_refused() {
    fails(
        &format!("{WORK}[profiles]\nx = 1\n"),
        3,
        2,
        "unknown section `profiles`",
        "did you mean `profile`?",
    );
}

#[test]
fn wrong_type_names_the_key_and_the_form() {
    fails(
        &format!("{WORK}pids = \"many\"\n"),
        3,
        8,
        "`pids` in profile `work` must be a whole number, not a string",
        "pids = 4096",
    );
    fails(
        &format!("{WORK}cpus = \"two\"\n"),
        3,
        8,
        "`cpus` in profile `work` must be a number",
        "cpus = 2",
    );
    fails(
        &format!("{WORK}memory = true\n"),
        3,
        10,
        "`memory` in profile `work` must be a size",
        "\"4GiB\"",
    );
}

#[test]
fn autostart_as_a_flat_list_is_refused_with_the_nested_form() {
    fails(
        &format!("{WORK}autostart = [\"foot\"]\n"),
        3,
        14,
        "must be a list of commands, each a list of strings, not a string",
        "[[\"foot\"], [\"firefox\", \"--new-window\"]]",
    );
}

#[test]
fn a_profile_without_a_name_is_refused_at_its_header() {
    fails(
        &format!("{WORK}\n[[profile]]\nlabel = \"Play\"\n"),
        4,
        1,
        "profile #2 has no `name`",
        "name = ",
    );
}

#[test]
fn a_bind_without_a_target_is_refused() {
    fails(
        &format!("{WORK}[[profile.binds]]\nhost = \"/srv/a\"\n"),
        3,
        1,
        "a bind of profile `work` has no `target`",
        "target = ",
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
    fails(
        &format!("{WORK}colour = \"#12345\"\n"),
        3,
        10,
        "`#12345` is not a colour",
        "#rgb",
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
    let long = "x".repeat(33);
    for (bad, why) in [
        ("../x", "does not start with a lower-case letter"),
        ("..", "does not start with a lower-case letter"),
        ("a/b", "contains `/`"),
        ("a.b", "contains `.`"),
        ("a\\u0000b", "contains `\\0`"),
        ("Work", "does not start with a lower-case letter"),
        ("wOrk", "contains `O`"),
        ("", "cannot be empty"),
        (long.as_str(), "longer than 32 characters"),
    ] {
        let text = format!("[[profile]]\nname = \"{bad}\"\n");
        fails(&text, 2, 8, why, "lower-case letters");
    }
    assert!(parse(&format!("[[profile]]\nname = \"{}\"\n", "x".repeat(32))).is_ok());
}

#[test]
fn label_must_be_short_and_printable() {
    for bad in ["", "   ", "a\\tb", &"L".repeat(65)] {
        fails(
            &format!("{WORK}label = \"{bad}\"\n"),
            3,
            9,
            "the label must be 1 to 64 characters",
            "label = \"Work\"",
        );
    }
}

#[test]
fn image_must_be_a_reference() {
    fails(
        &format!("{WORK}image = \"my image\"\n"),
        3,
        9,
        "`my image` is not an image reference in profile `work`",
        "localhost/zion-profile:latest",
    );
}

#[test]
fn cpus_out_of_range() {
    for bad in ["0", "-1", "0.0", "2000", "nan"] {
        fails(
            &format!("{WORK}cpus = {bad}\n"),
            3,
            8,
            "is out of range in profile `work`",
            "above 0",
        );
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
    fails(
        &format!("{WORK}memory = 1048576\n"),
        3,
        10,
        "memory of 1048576 bytes is below the floor",
        "64MiB",
    );
}

#[test]
fn memory_that_is_not_a_size() {
    for bad in ["\"lots\"", "\"4 gigs\"", "-5", "\"\""] {
        fails(
            &format!("{WORK}memory = {bad}\n"),
            3,
            10,
            "is not a size in profile `work`",
            "\"512MiB\"",
        );
    }
}

#[test]
fn pids_below_the_floor() {
    fails(
        &format!("{WORK}pids = 8\n"),
        3,
        8,
        "pids = 8 is out of range",
        "at least 16",
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
fn unknown_restart_policy() {
    fails(
        &format!("{WORK}restart = \"sometimes\"\n"),
        3,
        11,
        "unknown restart policy `sometimes`",
        "\"on-failure\"",
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
    for bad in ["soon", "10", "0s", "5y"] {
        fails(
            &format!("{WORK}hibernate_after = \"{bad}\"\n"),
            3,
            19,
            &format!("`{bad}` is not a duration"),
            "\"10m\"",
        );
    }
}

#[test]
fn bad_hibernate_mode() {
    fails(
        &format!("{WORK}hibernate = \"suspend\"\n"),
        3,
        13,
        "unknown hibernate mode `suspend` in profile `work`",
        "\"freeze\"",
    );
}

#[test]
fn bad_capability() {
    fails(
        &format!("{WORK}capabilities = [\"CAP_SYS_NICE\", \"CAP_FLY\"]\n"),
        3,
        33,
        "`CAP_FLY` is not a Linux capability",
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
fn bind_paths_that_climb_or_cover_the_root() {
    let text = format!("{WORK}[[profile.binds]]\nhost = \"/srv/a\"\ntarget = \"/home/../etc\"\n");
    fails(&text, 5, 10, "climbs out with `..`", "without `..`");
    let text = format!("{WORK}[[profile.binds]]\nhost = \"/srv/a\"\ntarget = \"/\"\n");
    fails(
        &text,
        5,
        10,
        "would cover the container's whole root",
        "from /",
    );
}

#[test]
fn the_same_target_bound_twice() {
    let bind = "[[profile.binds]]\nhost = \"/srv/a\"\ntarget = \"/mnt\"\n";
    fails(
        &format!("{WORK}{bind}{bind}"),
        8,
        10,
        "`/mnt` is bound twice",
        "once",
    );
}

#[test]
fn empty_argv() {
    fails(
        &format!("{WORK}autostart = [[\"foot\"], []]\n"),
        3,
        24,
        "an autostart app has an empty command",
        "[\"foot\"]",
    );
    fails(
        &format!("{WORK}autostart = [[\"\"]]\n"),
        3,
        14,
        "empty command",
        "[\"foot\"]",
    );
    fails(
        &format!("{WORK}terminal = []\n"),
        3,
        12,
        "the terminal has an empty command",
        "terminal = [\"foot\"]",
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
        "hotkey `Super+1` is already the hotkey of profile `work`",
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
        "`Super+1` is already the hotkey of profile `work`",
        "another chord",
    );
}

#[test]
fn one_chord_spelled_twice_in_hotkeys() {
    let text = format!("{WORK}[hotkeys]\n\"Super+T\" = \"terminal\"\n\"super+t\" = \"browser\"\n");
    fails(
        &text,
        5,
        1,
        "`super+t` is bound twice in [hotkeys] (first as `Super+T`)",
        "one binding per chord",
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
fn chord_that_is_not_a_chord_in_hotkeys() {
    let text = format!("{WORK}[hotkeys]\n\"Hyper+T\" = \"terminal\"\n");
    fails(
        &text,
        4,
        1,
        "`Hyper` in `Hyper+T` is not a modifier in [hotkeys]",
        "Super+Return",
    );
}

#[test]
fn zero_profiles() {
    fails("[hotkeys]\n", 1, 1, "no profile is defined", "[[profile]]");
    fails("", 1, 1, "no profile is defined", "[[profile]]");
}

#[test]
fn a_missing_file_says_so() {
    let err = Config::load(Path::new("/nonexistent/zion.toml")).expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/zion.toml:1:1: cannot read the file"),
        "{err}"
    );
    assert!(err
        .hint()
        .is_some_and(|h| h.contains("zionctl config defaults")));
}

#[test]
fn columns_count_characters_not_bytes() {
    // "é" is two bytes: a byte count would say column 22.
    fails(
        &format!("{WORK}autostart = [[\"é\"], []]\n"),
        3,
        21,
        "empty command",
        "[\"foot\"]",
    );
}

#[test]
fn a_profile_key_before_any_profile_is_called_out() {
    fails(
        "hotkey = \"Super+1\"\n[[profile]]\nname = \"work\"\n",
        1,
        1,
        "`hotkey` is outside any [[profile]]",
        "below the [[profile]] line",
    );
    fails(
        "volume = 3\n[[profile]]\nname = \"work\"\n",
        1,
        1,
        "unknown top-level key `volume`",
        "the sections are [[profile]], [hotkeys] and [quarantine]",
    );
}

#[test]
fn a_single_bracket_profile_is_refused_with_the_double_form() {
    fails(
        "[profile]\nname = \"work\"\n",
        1,
        1,
        "`profile` must be a list of [[profile]] tables, not a table",
        "[[profile]]",
    );
}

#[test]
fn quarantine_values_are_checked_at_load_with_their_line() {
    fails(
        &format!("{WORK}[quarantine]\nauto_release = \"1h\"\nmax_size = \"2 gigs\"\n"),
        5,
        12,
        "invalid size \"2 gigs\"",
        "compare with `zionctl config defaults`",
    );
    fails(
        &format!("{WORK}[quarantine]\nmax_sise = \"1GiB\"\n"),
        4,
        1,
        "unknown key `max_sise` in [quarantine]",
        "did you mean `max_size`?",
    );
    fails(
        &format!("{WORK}[quarantine]\ntransfer_hold = \"10\"\n"),
        4,
        17,
        "has no unit",
        "compare with `zionctl config defaults`",
    );
    fails(
        &format!("{WORK}[quarantine.transfers]\n\"work -> personal\" = \"allow\"\n"),
        3,
        1,
        "expected \"deny\", \"review\" or \"scan\"",
        "compare with `zionctl config defaults`",
    );
}

//! The applications of each profile, as the launcher offers them: read by
//! the real daemon from the real profile containers' files through Podman,
//! listed by `zionctl apps`, started by `zionctl launch` and `zionctl
//! launcher` in their own profile. A hostile profile plants an entry and
//! tries to pass it off as another profile's; it fails.

mod daemon_support;
mod quarantine_support;

use std::path::Path;
use std::time::{Duration, Instant};

use daemon_support::{profile, Daemon};
use quarantine_support::zionctl;
use zion_tests::{TestEnv, TestImage};

fn wait_for_file(path: &Path, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(15), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a hostile profile writes into its own applications folder (through
/// `printf %b`: octal escapes become bytes): a name with a terminal escape,
/// a carriage return and a right-to-left override, that copies the work
/// profile's line after them, and a command that leaves a mark.
const HOSTILE: &str = "[Desktop Entry]\nType=Application\nName=\\033[2K\\r\\342\\200\\256[Work] Foot — Terminal  (work/foot)\nExec=sh -c \"touch ~/launched-here\"\n";

#[test]
fn each_profile_offers_its_own_applications_and_they_run_only_there() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Wayland).expect("the Wayland image");
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    let text = profile("work", "#3465a4", &image, 1).replace(
        "[[profile]]\nname = \"work\"",
        "[[profile]]\nname = \"work\"\nlabel = \"Work\"",
    ) + &profile("personal", "#4e9a06", &image, 2).replace(
        "[[profile]]\nname = \"personal\"",
        "[[profile]]\nname = \"personal\"\nlabel = \"Personal\"",
    );
    std::fs::write(dir.join("zion.toml"), text).expect("config");
    let mut daemon = Daemon::start(&env);
    daemon.wait_for("session up", Duration::from_secs(120));

    // The image's own entries (foot's), read from the container's files.
    let (ok, json, err) = zionctl(&env, &["apps", "work", "--json"]);
    assert!(ok, "{err}");
    let apps: serde_json::Value = serde_json::from_str(&json).expect("apps --json is JSON");
    let list = apps.as_array().expect("a list");
    let foot = list
        .iter()
        .find(|a| a["argv"][0] == "foot")
        .unwrap_or_else(|| panic!("foot's entry from the image: {json}"));
    assert_eq!(foot["profile"], "work");
    assert!(
        list.iter().all(|a| a["profile"] == "work"),
        "only work's: {json}"
    );

    // The personal profile plants an entry meant to pass for work's foot.
    let plant = format!(
        "printf '%b' '{}' > /usr/share/applications/zz-evil.desktop",
        HOSTILE.replace('\'', "'\\''")
    );
    let (ok, _, err) = zionctl(&env, &["profiles", "run", "personal", "sh", "-c", &plant]);
    assert!(ok, "{err}");
    let (ok, all, err) = zionctl(&env, &["apps"]);
    let start = Instant::now();
    let mut all = (ok, all, err);
    while !all.1.contains("zz-evil") {
        assert!(all.0, "{}", all.2);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the planted entry is listed: {}",
            all.1
        );
        std::thread::sleep(Duration::from_millis(100));
        all = zionctl(&env, &["apps"]);
    }
    let all = all.1;
    // Every line is led by its profile's label, in Zion's words: the planted
    // one reads as Personal's, its escapes and override gone.
    let evil: Vec<&str> = all.lines().filter(|l| l.contains("zz-evil")).collect();
    assert_eq!(evil.len(), 1, "{all}");
    assert!(evil[0].starts_with("[Personal] "), "{}", evil[0]);
    assert!(
        !evil[0].contains('\u{1b}') && !evil[0].contains('\u{202e}'),
        "{:?}",
        evil[0]
    );
    let work_foot: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with("[Work] ") && l.contains("(work/"))
        .collect();
    assert!(!work_foot.is_empty(), "{all}");

    // Chosen in the launcher, the planted entry runs in the personal
    // profile's session, and nowhere else.
    let (ok, _, err) = zionctl(
        &env,
        &["launcher", "--menu", "sh", "-c", "grep -m1 'zz-evil'"],
    );
    assert!(ok, "{err}");
    let personal_home = env.xdg.data.join("zion/profiles/personal/home");
    let work_home = env.xdg.data.join("zion/profiles/work/home");
    wait_for_file(
        &personal_home.join("launched-here"),
        "the chosen entry ran in its own profile",
    );
    assert!(
        !work_home.join("launched-here").exists(),
        "it ran in the work profile too"
    );

    // A menu closed without a choice starts nothing; a line the menu made up
    // is refused; an unknown id is named.
    let (ok, _, err) = zionctl(&env, &["launcher", "--menu", "true"]);
    assert!(ok, "{err}");
    let (ok, _, err) = zionctl(
        &env,
        &[
            "launcher",
            "--menu",
            "sh",
            "-c",
            "echo '[Work] Bank  (work/bank)'",
        ],
    );
    assert!(!ok && err.contains("not given"), "{err}");
    let (ok, _, err) = zionctl(&env, &["launch", "work", "zz-evil"]);
    assert!(
        !ok && err.contains("no application `zz-evil` in profile `work`"),
        "work does not offer personal's entry: {err}"
    );
}

//! Firefox ESR as the disposable browser (`[sandbox] browser = "firefox"`,
//! issue 15): its image, its preferences and the command that starts it,
//! pure functions tested without Podman.
//!
//! The sandbox is the same container as Chromium's ([`super::spec`]): a
//! tmpfs home, `~/Downloads` bound to the sandbox's inbox of the quarantine,
//! its own Wayland socket, uid 1000, every capability dropped but
//! `SYS_CHROOT` (which Firefox's own sandbox uses too, to chroot its content
//! processes inside a user namespace of their own). Firefox runs natively on
//! Wayland with a fresh profile made in the tmpfs home on every start, so
//! nothing of one disposable reaches the next.
//!
//! What the host sees of its downloads: nothing. Chromium's DevTools speak
//! over a pipe the daemon holds; Firefox's only equivalents (the Remote
//! Agent's WebDriver BiDi and CDP, Marionette) listen on a TCP port, which a
//! page in the same network namespace can reach. They stay off: Firefox
//! downloads are recorded as whatever the file itself claims, which is
//! nothing (Firefox ESR 115 on Linux writes no `user.xdg.origin.url`; it
//! hands the URL to GIO's metadata store, absent from the sandbox).

use super::spec::container_downloads;
use zion_profiles::spec::CONTAINER_HOME;

pub use zion_profiles::image::FIREFOX_IMAGE_NAME;

/// The Firefox image's recipe.
const FIREFOX_RECIPE: &str = include_str!("../../../session-files/images/firefox.packages");

/// The Firefox profile folder inside the sandbox: in the tmpfs home, so it
/// goes with the container.
pub fn profile_dir() -> String {
    format!("{CONTAINER_HOME}/.zion-firefox")
}

/// The default Firefox image: `localhost/zion-firefox:<tag>`, the tag being
/// its recipe's, as `zionctl image build --browser` (with `[sandbox] browser
/// = "firefox"`) and the test harness build it.
pub fn default_firefox_image() -> String {
    format!(
        "{FIREFOX_IMAGE_NAME}:{}",
        zion_profiles::image::Recipe::parse(FIREFOX_RECIPE).tag()
    )
}

/// The preferences written into the fresh profile's `user.js`: downloads
/// saved into `~/Downloads` without asking; no first-run or welcome pages,
/// no default-browser check, no telemetry, studies or crash reports, no
/// updates, and none of the background connections to Mozilla or Google a
/// throw-away browser has no use for.
pub fn preferences() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    vec![
        // Downloads: into the quarantine's inbox, never a question.
        ("browser.download.dir", json!(container_downloads())),
        ("browser.download.folderList", json!(2)),
        ("browser.download.useDownloadDir", json!(true)),
        (
            "browser.download.always_ask_before_handling_new_types",
            json!(false),
        ),
        ("browser.download.alwaysOpenPanel", json!(false)),
        ("browser.download.manager.addToRecentDocs", json!(false)),
        // Written in place as NAME.part (which the quarantine waits for),
        // not in /tmp and moved: the whole download stays in ~/Downloads.
        ("browser.download.start_downloads_in_tmp_dir", json!(false)),
        ("browser.helperApps.deleteTempFileOnExit", json!(true)),
        // No first run.
        ("browser.shell.checkDefaultBrowser", json!(false)),
        ("browser.startup.homepage_override.mstone", json!("ignore")),
        ("startup.homepage_welcome_url", json!("")),
        ("startup.homepage_welcome_url.additional", json!("")),
        ("browser.aboutwelcome.enabled", json!(false)),
        ("browser.startup.firstrunSkipsHomepage", json!(true)),
        ("datareporting.policy.firstRunURL", json!("")),
        ("trailhead.firstrun.didSeeAboutWelcome", json!(true)),
        ("browser.tabs.warnOnClose", json!(false)),
        ("browser.sessionstore.resume_from_crash", json!(false)),
        ("toolkit.startup.max_resumed_crashes", json!(-1)),
        // No telemetry, studies or crash reports.
        ("datareporting.policy.dataSubmissionEnabled", json!(false)),
        ("datareporting.healthreport.uploadEnabled", json!(false)),
        ("toolkit.telemetry.enabled", json!(false)),
        ("toolkit.telemetry.unified", json!(false)),
        ("toolkit.telemetry.archive.enabled", json!(false)),
        ("toolkit.telemetry.server", json!("")),
        ("app.normandy.enabled", json!(false)),
        ("app.shield.optoutstudies.enabled", json!(false)),
        (
            "browser.crashReports.unsubmittedCheck.autoSubmit2",
            json!(false),
        ),
        // No updates: the image is the version.
        ("app.update.auto", json!(false)),
        ("app.update.enabled", json!(false)),
        ("extensions.update.enabled", json!(false)),
        ("browser.search.update", json!(false)),
        // No background connections.
        ("network.captive-portal-service.enabled", json!(false)),
        ("network.connectivity-service.enabled", json!(false)),
        (
            "browser.safebrowsing.downloads.remote.enabled",
            json!(false),
        ),
        (
            "browser.newtabpage.activity-stream.feeds.telemetry",
            json!(false),
        ),
        ("browser.newtabpage.activity-stream.telemetry", json!(false)),
        ("browser.ping-centre.telemetry", json!(false)),
        ("extensions.pocket.enabled", json!(false)),
        ("browser.discovery.enabled", json!(false)),
        ("extensions.getAddons.cache.enabled", json!(false)),
        ("extensions.systemAddon.update.enabled", json!(false)),
        ("browser.region.update.enabled", json!(false)),
        ("browser.region.network.url", json!("")),
        // The start page (an empty URL) without sponsored tiles or stories.
        (
            "browser.newtabpage.activity-stream.showSponsored",
            json!(false),
        ),
        (
            "browser.newtabpage.activity-stream.showSponsoredTopSites",
            json!(false),
        ),
        (
            "browser.newtabpage.activity-stream.feeds.section.topstories",
            json!(false),
        ),
        // No remote control: the Remote Agent and Marionette listen on TCP
        // ports a page could reach.
        ("remote.enabled", json!(false)),
        ("marionette.enabled", json!(false)),
        ("devtools.debugger.remote-enabled", json!(false)),
    ]
}

/// The `user.js` holding [`preferences`], one `user_pref(...)` a line
/// (values JSON-encoded: the same literals as JavaScript's).
pub fn user_js() -> String {
    preferences()
        .into_iter()
        .map(|(name, value)| format!("user_pref({}, {value});\n", serde_json::json!(name)))
        .collect()
}

/// The command that starts Firefox on `url` inside a sandbox: natively on
/// the sandbox's Wayland socket, or headless when there is none, with a
/// fresh profile holding [`user_js`], never reaching another instance.
pub fn firefox_command(url: &str, wayland: bool) -> Vec<String> {
    let mut out = vec![
        "env".to_owned(),
        format!("ZION_USER_JS={}", user_js()),
        // No crash reporter, no "safe mode?" question after a crash.
        "MOZ_CRASHREPORTER_DISABLE=1".into(),
        "MOZ_DISABLE_AUTO_SAFE_MODE=1".into(),
    ];
    if wayland {
        out.push("MOZ_ENABLE_WAYLAND=1".into());
    }
    let profile = profile_dir();
    let script = format!(
        "mkdir -p {profile} && printf '%s' \"$ZION_USER_JS\" > {profile}/user.js && exec \"$@\""
    );
    out.extend([
        "sh".into(),
        "-c".into(),
        script,
        "zion-browser".into(),
        "firefox-esr".into(),
        // Its own instance: never hands the URL to another Firefox.
        "--no-remote".into(),
        "--new-instance".into(),
        "--profile".into(),
        profile,
    ]);
    if !wayland {
        out.push("--headless".into());
    }
    // `check_url` lets only an absolute URL through (it begins with a
    // letter: never a flag); empty is the start page.
    if !url.is_empty() {
        out.push(url.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firefox_runs_on_wayland_or_headless_with_a_fresh_profile() {
        let shown = firefox_command("http://h/x", true);
        let headless = firefox_command("http://h/x", false);
        assert!(shown.contains(&"MOZ_ENABLE_WAYLAND=1".to_owned()));
        assert!(!shown.contains(&"--headless".to_owned()));
        assert!(headless.contains(&"--headless".to_owned()));
        assert!(!headless.contains(&"MOZ_ENABLE_WAYLAND=1".to_owned()));
        for argv in [&shown, &headless] {
            assert_eq!(argv.last().map(String::as_str), Some("http://h/x"));
            assert!(argv.contains(&"--no-remote".to_owned()));
            let at = argv.iter().position(|a| a == "--profile").expect("profile");
            assert_eq!(argv[at + 1], "/home/zion/.zion-firefox");
            // No remote control on a port (the preferences turn it off too).
            assert!(!argv
                .iter()
                .any(|a| a.starts_with("--remote") || a == "--marionette"));
        }
        // The start page: no URL argument at all.
        assert_eq!(
            firefox_command("", true).last().map(String::as_str),
            Some("/home/zion/.zion-firefox")
        );
    }

    #[test]
    fn downloads_go_to_the_inbox_without_a_question_and_nothing_phones_home() {
        let js = user_js();
        for line in [
            "user_pref(\"browser.download.dir\", \"/home/zion/Downloads\");",
            "user_pref(\"browser.download.folderList\", 2);",
            "user_pref(\"browser.download.useDownloadDir\", true);",
            "user_pref(\"browser.download.always_ask_before_handling_new_types\", false);",
            "user_pref(\"datareporting.healthreport.uploadEnabled\", false);",
            "user_pref(\"toolkit.telemetry.enabled\", false);",
            "user_pref(\"app.update.auto\", false);",
            "user_pref(\"browser.shell.checkDefaultBrowser\", false);",
            "user_pref(\"remote.enabled\", false);",
        ] {
            assert!(js.lines().any(|l| l == line), "{line} not in\n{js}");
        }
        // One line per preference: nothing can break out of a line.
        assert_eq!(js.lines().count(), preferences().len());
    }

    #[test]
    fn the_default_image_is_tagged_by_its_recipe() {
        let image = default_firefox_image();
        let tag = image.strip_prefix("localhost/zion-firefox:").expect("name");
        assert_eq!(tag.len(), 12);
        assert!(tag.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(image, super::super::spec::default_browser_image());
    }
}

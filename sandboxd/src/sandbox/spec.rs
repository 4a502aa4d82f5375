//! Which Podman container a browser sandbox gives, and which command starts
//! its browser: pure functions of the profile, the sandbox's id, its host
//! paths and the URL, tested without Podman.
//!
//! The spec reuses the profile's [`ContainerSpec`] (the body Zion sends to
//! Podman raw, so that `no_new_privileges` really is set), with one field
//! more: `remove`, so that Podman discards the container, and with it the
//! overlay layer holding everything the sandbox wrote, as soon as it ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zion_config::Profile;
use zion_profiles::network::sandbox_network;
use zion_profiles::spec::{network_of, user_namespace, ContainerSpec, IdRange, MemoryLimit};
use zion_profiles::spec::{
    Mount, PidsLimit, Resources, CONTAINER_HOME, CONTAINER_RUNTIME, CONTAINER_WAYLAND,
    WAYLAND_SOCKET,
};

/// Label holding the sandbox's id; every sandbox container has it.
pub const LABEL_SANDBOX: &str = "org.zionos.sandbox";
/// Label holding the profile a sandbox belongs to. Not `org.zionos.profile`:
/// that label is how the profile lifecycle finds a profile's own container,
/// and a sandbox must never be taken for it.
pub const LABEL_SANDBOX_PROFILE: &str = "org.zionos.sandbox.profile";

pub use zion_profiles::image::BROWSER_IMAGE_NAME;

/// The browser image's recipe.
const BROWSER_RECIPE: &str = include_str!("../../../session-files/images/browser.packages");

/// Memory a sandbox may use: a browser with a few tabs.
pub const SANDBOX_MEMORY: u64 = 2 << 30;
/// Tasks a sandbox may run: Chromium's processes and threads.
pub const SANDBOX_PIDS: i64 = 2048;

/// The uid and gid the browser runs as inside the sandbox: not root, so
/// that Chromium turns its own sandbox on (issue 18, finding 13).
pub const BROWSER_UID: u32 = 1000;

/// `~/Downloads` inside the sandbox.
pub fn container_downloads() -> String {
    format!("{CONTAINER_HOME}/Downloads")
}

/// The default browser image: `localhost/zion-browser:<tag>`, the tag being
/// its recipe's, as `zionctl image build --browser` (and the test harness)
/// builds it.
pub fn default_browser_image() -> String {
    format!(
        "{BROWSER_IMAGE_NAME}:{}",
        zion_profiles::image::Recipe::parse(BROWSER_RECIPE).tag()
    )
}

/// The host paths one sandbox is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPaths {
    /// Its inbox folder of the quarantine, mounted as `~/Downloads`.
    pub downloads: PathBuf,
    /// The folder holding its own Wayland socket (`wayland-0`), when the
    /// compositor gave one.
    pub wayland: Option<PathBuf>,
    /// The host ids its user namespace maps under rootful Podman (a range
    /// of its own, apart from every profile's); `None` under rootless
    /// Podman, whose default already maps root inside to the user.
    pub ids: Option<IdRange>,
    /// The folder of its DevTools FIFOs (issue 17), bound at
    /// [`super::devtools::CONTAINER_DEVTOOLS`], when the host follows its downloads.
    pub devtools: Option<PathBuf>,
}

impl SandboxPaths {
    /// The standard layout: `<data>/quarantine/inbox/sandbox-<p>-<id>`.
    pub fn standard(data: &Path, profile: &str, id: &str) -> SandboxPaths {
        SandboxPaths {
            downloads: data
                .join("quarantine")
                .join("inbox")
                .join(source_name(profile, id)),
            wayland: None,
            ids: None,
            devtools: None,
        }
    }
}

/// The quarantine source (inbox folder) name of a sandbox.
pub fn source_name(profile: &str, id: &str) -> String {
    format!("sandbox-{profile}-{id}")
}

/// The quarantine source label of a sandbox, as the user reads it.
pub fn source_label(profile: &str, id: &str) -> String {
    format!("sandbox:{profile}/{id}")
}

/// The container name of a sandbox.
pub fn container_name(profile: &str, id: &str) -> String {
    format!("zion-sandbox-{profile}-{id}")
}

/// The body of Podman's create request for a sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSpec {
    /// The container, as a profile's is described.
    pub container: ContainerSpec,
    /// Podman removes the container (and its overlay layer) when it exits.
    pub remove: bool,
}

impl SandboxSpec {
    /// The JSON body Podman receives.
    pub fn to_json(&self) -> serde_json::Value {
        let mut json = self.container.to_json();
        if let Some(map) = json.as_object_mut() {
            map.insert("remove".into(), serde_json::Value::Bool(self.remove));
        }
        json
    }
}

/// The container of sandbox `id` of `profile`, in `image`: the image's root
/// under a private overlay layer removed with the container, a tmpfs home
/// and `/tmp`, `~/Downloads` bound to its inbox folder and, when there is
/// one, its own Wayland socket folder; nothing else of the host. Every
/// capability dropped, no-new-privileges, pids and memory limits, the
/// profile's network. Its first process only waits (under Podman's init):
/// the browser is exec'd into it when the sandbox is handed out, so that
/// containers can be made ahead of time, before the URL is known.
pub fn sandbox_spec(profile: &Profile, id: &str, paths: &SandboxPaths, image: &str) -> SandboxSpec {
    let name = profile.name.as_ref();
    // The browser's own folders belong to the browser's user.
    let own = format!("mode=0700,uid={BROWSER_UID},gid={BROWSER_UID}");
    let mut mounts = vec![
        tmpfs(CONTAINER_HOME, &own),
        tmpfs("/tmp", "mode=1777"),
        bind(&paths.downloads, &container_downloads()),
    ];
    let mut env = BTreeMap::from([
        ("HOME".to_owned(), CONTAINER_HOME.to_owned()),
        ("ZION_PROFILE".to_owned(), name.to_owned()),
        ("ZION_SANDBOX".to_owned(), id.to_owned()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ]);
    // Its own runtime folder is a private tmpfs; the compositor's socket
    // folder only ever read-only inside it, so that nothing the sandbox
    // writes is a path the compositor later uses (issue 18, finding 1).
    mounts.push(tmpfs(CONTAINER_RUNTIME, &own));
    env.insert("XDG_RUNTIME_DIR".into(), CONTAINER_RUNTIME.into());
    if let Some(devtools) = &paths.devtools {
        mounts.push(Mount::sockets(
            devtools,
            super::devtools::CONTAINER_DEVTOOLS,
        ));
    }
    if let Some(wayland) = &paths.wayland {
        mounts.push(Mount::sockets(wayland, CONTAINER_WAYLAND));
        env.insert(
            "WAYLAND_DISPLAY".into(),
            format!("{CONTAINER_WAYLAND}/{WAYLAND_SOCKET}"),
        );
    }
    // The profile's sandboxes' own isolated network, never the profile's
    // (a page must not reach the profile's container) nor Podman's default
    // one; the daemon's firewall keeps it off the host.
    let (netns, networks) = network_of(profile.network, &sandbox_network(name));
    // Rootful: a range of its own, so that nothing in the sandbox is root
    // outside (issue 18, finding 3). Rootless (no range given): Podman's
    // default, where the sandbox's root is the user.
    let (userns, idmappings) = match paths.ids {
        Some(_) => user_namespace(false, paths.ids),
        None => (None, None),
    };
    let container = ContainerSpec {
        name: container_name(name, id),
        image: image.to_owned(),
        command: vec!["sleep".into(), "infinity".into()],
        init: true,
        hostname: "sandbox".into(),
        labels: BTreeMap::from([
            (LABEL_SANDBOX.to_owned(), id.to_owned()),
            (LABEL_SANDBOX_PROFILE.to_owned(), name.to_owned()),
        ]),
        env,
        work_dir: CONTAINER_HOME.to_owned(),
        // Not root: as root Chromium refuses its own sandbox.
        user: Some(format!("{BROWSER_UID}:{BROWSER_UID}")),
        cap_drop: vec!["ALL".into()],
        // Chromium's sandbox chroots its renderers into an empty folder;
        // Podman's seccomp profile allows chroot only with this capability.
        // It is not in the browser's effective set (it runs as a non-root
        // user), only what its user namespace sandbox gets.
        cap_add: vec!["SYS_CHROOT".into()],
        no_new_privileges: true,
        resource_limits: Resources {
            memory: Some(MemoryLimit {
                limit: SANDBOX_MEMORY,
            }),
            cpu: None,
            pids: PidsLimit {
                limit: SANDBOX_PIDS,
            },
        },
        netns,
        networks,
        userns,
        idmappings,
        mounts,
        devices: Vec::new(),
        // Closing kills: nothing in a sandbox is worth a grace period.
        stop_timeout: 0,
    };
    SandboxSpec {
        container,
        remove: true,
    }
}

/// The command that starts the browser on `url` inside a sandbox: Chromium
/// on the sandbox's Wayland socket, or headless when there is none. It
/// first writes the preferences that save downloads to `~/Downloads`
/// without asking.
pub fn browser_command(url: &str, wayland: bool) -> Vec<String> {
    browser_command_observed(url, wayland, false)
}

/// [`browser_command`], with the browser's DevTools on the FIFOs bound at
/// [`super::devtools::CONTAINER_DEVTOOLS`] (fds 3 and 4) when `devtools`:
/// the host follows its downloads there (issue 17).
pub fn browser_command_observed(url: &str, wayland: bool, devtools: bool) -> Vec<String> {
    let downloads = container_downloads();
    let prefs = serde_json::json!({
        "download": {
            "default_directory": downloads,
            "prompt_for_download": false,
            "directory_upgrade": true,
        },
        "savefile": { "default_directory": downloads },
    });
    // Chromium's own sandbox stays on (no `--no-sandbox`): it runs as a
    // non-root user and builds its renderers' sandbox from user namespaces
    // and seccomp inside the container, a second wall behind the container
    // (issue 18, finding 13).
    let mut argv = vec![
        "chromium".to_owned(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--password-store=basic".into(),
        // Headless would otherwise use a throw-away profile, without the
        // preferences written above.
        format!("--user-data-dir={CONTAINER_HOME}/.config/chromium"),
    ];
    if wayland {
        argv.push("--ozone-platform=wayland".into());
    } else {
        argv.push("--headless=new".into());
        // Headless, nobody can confirm a download Chromium holds as
        // `.crdownload` (a risky type from an http:// origin): the
        // quarantine scans every download anyway. Chromium keeps such a
        // download only when its origin counts as secure.
        argv.push("--safebrowsing-disable-download-protection".into());
        if let Some(origin) = http_origin(url) {
            argv.push(format!(
                "--unsafely-treat-insecure-origin-as-secure={origin}"
            ));
        }
    }
    if devtools {
        // A pipe, not a port: nothing in the sandbox's network reaches it.
        argv.push("--remote-debugging-pipe".into());
    }
    // `--` so that a URL can never be taken for a flag.
    argv.push("--".into());
    argv.push(url.to_owned());
    let fds = if devtools {
        super::devtools::open_fds_script()
    } else {
        String::new()
    };
    let script = "mkdir -p \"$HOME/.config/chromium/Default\" && printf '%s' \"$ZION_PREFS\" > \"$HOME/.config/chromium/Default/Preferences\" && ";
    let script = format!("{script}{fds}exec \"$@\"");
    let mut out = vec![
        "env".to_owned(),
        format!("ZION_PREFS={prefs}"),
        "sh".into(),
        "-c".into(),
        script,
        "zion-browser".into(),
    ];
    out.extend(argv);
    out
}

/// `http://host[:port]` of an http:// URL (what Chromium calls its origin).
pub fn http_origin(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains('@')).then(|| format!("http://{host}"))
}

/// Checks a URL given to `OpenBrowser`: empty means the browser's start
/// page; otherwise it must be absolute (scheme:…) and one line.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    if url.chars().any(char::is_control) {
        return Err("the URL contains control characters".into());
    }
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
    let valid = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return Err(format!(
            "`{url}` is not an absolute URL; give one like https://example.org/"
        ));
    }
    Ok(())
}

fn bind(source: &Path, destination: &str) -> Mount {
    Mount {
        destination: destination.to_owned(),
        kind: "bind".into(),
        source: source.display().to_string(),
        options: vec![
            "rbind".into(),
            "rw".into(),
            "nosuid".into(),
            "nodev".into(),
            "noexec".into(),
        ],
    }
}

fn tmpfs(destination: &str, mode: &str) -> Mount {
    Mount {
        destination: destination.to_owned(),
        kind: "tmpfs".into(),
        source: "tmpfs".into(),
        options: vec![
            "rw".into(),
            "nosuid".into(),
            "nodev".into(),
            mode.to_owned(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zion_config::Config;

    fn work(network: &str) -> Profile {
        let text = format!("[[profile]]\nname = \"work\"\nnetwork = \"{network}\"\n");
        let config = Config::parse(&text, Path::new("zion.toml")).expect("config");
        config.profiles[0].clone()
    }

    fn paths(wayland: bool) -> SandboxPaths {
        let mut p = SandboxPaths::standard(Path::new("/d/zion"), "work", "7");
        if wayland {
            p.wayland = Some("/run/user/1/zion/sandboxes/work/7".into());
        }
        p
    }

    #[test]
    fn downloads_is_the_sandboxs_own_inbox_and_the_only_host_folder() {
        let spec = sandbox_spec(&work("full"), "7", &paths(false), "img").container;
        let binds: Vec<(&str, &str)> = spec
            .mounts
            .iter()
            .filter(|m| m.kind == "bind")
            .map(|m| (m.source.as_str(), m.destination.as_str()))
            .collect();
        assert_eq!(
            binds,
            vec![(
                "/d/zion/quarantine/inbox/sandbox-work-7",
                "/home/zion/Downloads"
            )]
        );
        let tmpfs: Vec<&str> = spec
            .mounts
            .iter()
            .filter(|m| m.kind == "tmpfs")
            .map(|m| m.destination.as_str())
            .collect();
        assert_eq!(tmpfs, vec!["/home/zion", "/tmp", "/run/zion"]);
        assert!(spec.devices.is_empty());
        assert!(!spec.env.contains_key("WAYLAND_DISPLAY"));
    }

    #[test]
    fn the_devtools_fifos_are_bound_read_only_and_opened_as_fds_3_and_4() {
        let mut p = paths(true);
        p.devtools = Some("/run/user/1/zion/devtools/sandbox-work-7".into());
        let spec = sandbox_spec(&work("full"), "7", &p, "img").container;
        let bound = spec
            .mounts
            .iter()
            .find(|m| m.destination == super::super::devtools::CONTAINER_DEVTOOLS)
            .expect("the DevTools folder is bound");
        assert_eq!(bound.source, "/run/user/1/zion/devtools/sandbox-work-7");
        assert!(bound.options.contains(&"ro".to_owned()), "{bound:?}");
        let argv = browser_command_observed("http://h/x", true, true);
        assert!(argv.contains(&"--remote-debugging-pipe".to_owned()));
        assert!(!argv.iter().any(|a| a.contains("remote-debugging-port")));
        let script = &argv[4];
        assert!(
            script.contains(
                "exec 3<>/run/zion-devtools/commands 4<>/run/zion-devtools/events && exec \"$@\""
            ),
            "{script}"
        );
        // Without it, neither.
        let plain = browser_command("http://h/x", true);
        assert!(!plain.iter().any(|a| a.contains("remote-debugging")));
        assert!(!plain[4].contains("devtools"), "{}", plain[4]);
        assert!(!sandbox_spec(&work("full"), "7", &paths(true), "img")
            .container
            .mounts
            .iter()
            .any(|m| m.destination == super::super::devtools::CONTAINER_DEVTOOLS));
    }

    #[test]
    fn the_wayland_folder_is_bound_when_the_compositor_gave_one() {
        let spec = sandbox_spec(&work("full"), "7", &paths(true), "img").container;
        let sockets = spec
            .mounts
            .iter()
            .find(|m| m.destination == CONTAINER_WAYLAND)
            .expect("socket folder mount");
        assert_eq!(sockets.source, "/run/user/1/zion/sandboxes/work/7");
        assert!(sockets.options.contains(&"ro".to_owned()), "{sockets:?}");
        let runtime = spec
            .mounts
            .iter()
            .find(|m| m.destination == CONTAINER_RUNTIME)
            .expect("runtime mount");
        assert_eq!(runtime.kind, "tmpfs");
        assert_eq!(spec.env["WAYLAND_DISPLAY"], "/run/zion/wayland/wayland-0");
        assert_eq!(spec.env["XDG_RUNTIME_DIR"], CONTAINER_RUNTIME);
    }

    #[test]
    fn a_sandbox_has_no_capability_no_new_privileges_and_limits() {
        let spec = sandbox_spec(&work("full"), "7", &paths(false), "img");
        let json = spec.to_json();
        assert_eq!(json["cap_drop"], serde_json::json!(["ALL"]));
        assert_eq!(json["cap_add"], serde_json::json!(["SYS_CHROOT"]));
        assert_eq!(json["user"], "1000:1000");
        assert_eq!(json["no_new_privileges"], true);
        assert_eq!(json["remove"], true);
        assert_eq!(json["resource_limits"]["pids"]["limit"], SANDBOX_PIDS);
        assert_eq!(json["resource_limits"]["memory"]["limit"], SANDBOX_MEMORY);
        assert_eq!(json["labels"][LABEL_SANDBOX], "7");
        assert_eq!(json["labels"][LABEL_SANDBOX_PROFILE], "work");
        assert!(json["labels"].get("org.zionos.profile").is_none());
        assert_eq!(json["name"], "zion-sandbox-work-7");
        assert_eq!(json["image"], "img");
    }

    #[test]
    fn a_rootful_sandbox_maps_a_range_of_its_own() {
        let mut p = paths(true);
        p.ids = IdRange::slot(2048);
        let json = sandbox_spec(&work("full"), "7", &p, "img").to_json();
        assert_eq!(json["userns"]["nsmode"], "private");
        let base = IdRange::slot(2048).expect("slot").base;
        assert_eq!(json["idmappings"]["UIDMap"][0]["host_id"], base);
        assert_eq!(json["idmappings"]["GIDMap"][0]["container_id"], 0);
        let rootless = sandbox_spec(&work("full"), "7", &paths(true), "img").to_json();
        assert!(rootless.get("userns").is_none());
    }

    #[test]
    fn the_profiles_network_policy_applies() {
        let none = sandbox_spec(&work("none"), "7", &paths(false), "img");
        assert_eq!(none.to_json()["netns"]["nsmode"], "none");
        assert!(none.to_json().get("Networks").is_none());
        let full = sandbox_spec(&work("full"), "7", &paths(false), "img");
        assert_eq!(full.to_json()["netns"]["nsmode"], "bridge");
        // Its own network: neither the profile's nor Podman's default.
        assert_eq!(
            full.to_json()["Networks"],
            serde_json::json!({"zion-work.sandboxes": {}})
        );
    }

    #[test]
    fn the_browser_runs_headless_without_a_socket_and_on_wayland_with_one() {
        let headless = browser_command("http://h/x", false);
        let shown = browser_command("http://h/x", true);
        assert!(headless.contains(&"--headless=new".to_owned()));
        assert!(!headless.iter().any(|a| a.contains("no-sandbox")));
        assert!(!shown.iter().any(|a| a.contains("no-sandbox")));
        assert_eq!(headless.last().map(String::as_str), Some("http://h/x"));
        assert_eq!(headless[headless.len() - 2], "--");
        assert!(shown.contains(&"--ozone-platform=wayland".to_owned()));
        assert!(!shown.contains(&"--headless=new".to_owned()));
        let prefs = headless
            .iter()
            .find_map(|a| a.strip_prefix("ZION_PREFS="))
            .expect("prefs");
        let prefs: serde_json::Value = serde_json::from_str(prefs).expect("json");
        assert_eq!(
            prefs["download"]["default_directory"],
            "/home/zion/Downloads"
        );
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("").is_ok());
        assert!(check_url("https://example.org/a?b").is_ok());
        assert!(check_url("--flag").is_err());
        assert_eq!(
            http_origin("http://10.88.0.1:8080/a/report.bin?x=1").as_deref(),
            Some("http://10.88.0.1:8080")
        );
        assert_eq!(http_origin("https://example.org/"), None);
        assert_eq!(http_origin("http://user@evil/"), None);
        assert!(check_url("example.org").is_err());
        assert!(check_url("http://a/\nb").is_err());
    }

    #[test]
    fn the_default_image_is_tagged_by_its_recipe() {
        let image = default_browser_image();
        let tag = image.strip_prefix("localhost/zion-browser:").expect("name");
        assert_eq!(tag.len(), 12);
        assert!(tag.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn names_fit_the_quarantine_and_podman() {
        assert_eq!(source_name("work", "12"), "sandbox-work-12");
        assert_eq!(source_label("work", "12"), "sandbox:work/12");
        assert_eq!(container_name("work", "12"), "zion-sandbox-work-12");
    }
}

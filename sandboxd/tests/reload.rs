//! zion-sandboxd reloads zion.toml when it is edited: a new profile starts,
//! a broken file keeps the running set and is reported with its line, a
//! removed profile stops. Real daemon, harness Podman and bus.

mod daemon_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zion_bus::Profiles1Proxy;

use daemon_support::{podman_states, profile, Daemon};
use futures_util::StreamExt;
use zion_tests::{TestEnv, TestImage};

/// Replaces the file the way editors do: a new file renamed over the old.
fn replace(file: &Path, text: &str) {
    let tmp = file.with_extension("toml.new");
    std::fs::write(&tmp, text).expect("write the new config");
    std::fs::rename(&tmp, file).expect("rename it over zion.toml");
}

fn states(list: &[(String, String, String, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, _, _, state)| (name.clone(), state.clone()))
        .collect()
}

/// Waits for a Profiles1 signal named `member` whose body `matches`.
async fn signal<T: serde::de::DeserializeOwned + zbus::zvariant::Type + std::fmt::Debug>(
    stream: &mut zbus::MessageStream,
    member: &str,
    matches: impl Fn(&T) -> bool,
    timeout: Duration,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut others = Vec::new();
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let Ok(Some(Ok(msg))) = next else {
            panic!("no {member} signal within {timeout:?}; saw {others:?}");
        };
        let header = msg.header();
        if header.member().map(|m| m.as_str()) != Some(member) {
            others.push(format!("{:?}", header.member()));
            continue;
        }
        let body: T = msg.body().deserialize().expect("signal body");
        if matches(&body) {
            return body;
        }
        others.push(format!("{member}{body:?}"));
    }
}

#[test]
fn an_edit_that_adds_a_profile_starts_it_and_a_broken_edit_keeps_the_running_set() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    let file: PathBuf = dir.join("zion.toml");
    let work = profile("work", "#3465a4", &image, 1);
    std::fs::write(&file, &work).expect("config");

    let mut daemon = Daemon::start(&env);
    daemon.wait_for("session up", Duration::from_secs(60));
    assert_eq!(podman_states(&env), ["zion-work running"]);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let bus = env.dbus().connect().await.expect("bus");
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("org.zionos.Profiles1")
            .expect("rule")
            .build();
        let mut signals = zbus::MessageStream::for_match_rule(rule, &bus, None)
            .await
            .expect("match");
        let proxy = Profiles1Proxy::builder(&bus)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("proxy");

        // An editor saves a second profile: it comes up without a restart.
        let two = work.clone() + &profile("personal", "#4e9a06", &image, 2);
        let saved = Instant::now();
        replace(&file, &two);
        let (name, state): (String, String) = signal(
            &mut signals,
            "StateChanged",
            |(n, s): &(String, String)| n == "personal" && s == "running",
            Duration::from_secs(60),
        )
        .await;
        println!("added profile running {:?} after the save", saved.elapsed());
        assert_eq!((name.as_str(), state.as_str()), ("personal", "running"));
        assert_eq!(
            podman_states(&env),
            ["zion-personal running", "zion-work running"]
        );
        let list = proxy.list().await.expect("List");
        assert_eq!(
            states(&list),
            [
                ("work".to_owned(), "running".to_owned()),
                ("personal".to_owned(), "running".to_owned())
            ]
        );
        assert_eq!(proxy.config_status().await.expect("ConfigStatus"), "");

        // A broken save: a third profile whose colour is wrong on line 19.
        let broken = two.clone() + "[[profile]]\nname = \"gaming\"\ncolour = \"blue-ish\"\n";
        let bad_line = broken.lines().count();
        assert!(broken
            .lines()
            .nth(bad_line - 1)
            .unwrap_or_default()
            .starts_with("colour"));
        replace(&file, &broken);
        let (message,): (String,) = signal(
            &mut signals,
            "ConfigError",
            |_: &(String,)| true,
            Duration::from_secs(10),
        )
        .await;
        assert!(
            message.contains(&format!("zion.toml:{bad_line}:")) && message.contains("blue-ish"),
            "the error names the line: {message}"
        );
        assert_eq!(
            proxy.config_status().await.expect("ConfigStatus"),
            message,
            "ConfigStatus keeps the error"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            podman_states(&env),
            ["zion-personal running", "zion-work running"],
            "the running set is untouched"
        );
        assert_eq!(states(&proxy.list().await.expect("List")), states(&list));

        // Fixed by taking personal out again: it stops, its files stay.
        replace(&file, &work);
        signal(
            &mut signals,
            "StateChanged",
            |(n, s): &(String, String)| n == "personal" && s == "stopped",
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(
            podman_states(&env),
            ["zion-personal exited", "zion-work running"]
        );
        assert_eq!(proxy.config_status().await.expect("ConfigStatus"), "");
        assert!(env.xdg.data.join("zion/profiles/personal/home").is_dir());
        let names: Vec<String> = proxy
            .list()
            .await
            .expect("List")
            .into_iter()
            .map(|(n, ..)| n)
            .collect();
        assert_eq!(names, ["work"]);
    });
    let log = daemon.log();
    assert!(log.contains("configuration reloaded"), "{log}");
}

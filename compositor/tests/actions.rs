//! Hotkeys that need the session daemon: Super+Return runs the active
//! profile's terminal through the real zion-sandboxd (its Profiles1.Run, a
//! Podman exec into the profile's container), and with no daemon on the bus
//! the user is told so instead of nothing happening.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use zion_compositor::input::keys;
use zion_compositor::{BackendKind, Compositor, Options};
use zion_config::Config;
use zion_tests::{TestEnv, TestImage};

const WAIT: Duration = Duration::from_secs(60);

/// zion-sandboxd, built beside the compositor by `cargo build --bins`.
fn daemon_program() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_zion-compositor")).with_file_name("zion-sandboxd");
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --bins` (make test does)",
        path.display()
    );
    path
}

fn compositor(env: &TestEnv, config: Config) -> Compositor {
    let options = Options {
        backend: BackendKind::Headless,
        size: (640, 480),
        runtime_dir: env.xdg.runtime.clone(),
    };
    let mut c = Compositor::new(config, &options).expect("compositor starts");
    c.serve_bus(env.dbus().address())
        .expect("Compositor1 on the bus");
    c
}

fn super_key(c: &mut Compositor, key: u32) {
    let s = &mut c.state;
    s.key(keys::LEFT_META, true);
    s.key(key, true);
    s.key(key, false);
    s.key(keys::LEFT_META, false);
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn super_return_without_a_daemon_says_zion_sandboxd_is_not_running() {
    let env = TestEnv::new().expect("test env");
    let mut c = compositor(&env, Config::defaults());
    super_key(&mut c, keys::ENTER);
    let told = c
        .dispatch_until(Duration::from_secs(10), |s| !s.notices.is_empty())
        .expect("event loop runs");
    assert!(told, "no notice after Super+Return");
    let notice = &c.state.notices[0];
    assert!(
        notice.contains("zion-sandboxd is not running") && notice.contains("in work"),
        "{notice}"
    );
}

#[test]
fn super_return_runs_the_terminal_of_the_shown_profile_in_its_container() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    let text = format!(
        "[[profile]]\nname = \"work\"\nimage = \"{image}\"\nnetwork = \"none\"\nhotkey = \"Super+1\"\nterminal = [\"sh\", \"-c\", \"echo $ZION_PROFILE > ~/terminal-ran\"]\n\n\
         [[profile]]\nname = \"personal\"\nimage = \"{image}\"\nnetwork = \"none\"\nhotkey = \"Super+2\"\nterminal = [\"sh\", \"-c\", \"echo $ZION_PROFILE > ~/terminal-ran\"]\n"
    );
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir).expect("config folder");
    std::fs::write(dir.join("zion.toml"), &text).expect("zion.toml");
    let config = Config::load(&dir.join("zion.toml")).expect("valid config");
    let mut c = compositor(&env, config);
    let _daemon = Daemon(
        env.command(daemon_program())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("zion-sandboxd starts"),
    );
    let home = |p: &str| env.xdg.data.join("zion/profiles").join(p).join("home");

    // Show personal, then ask for a terminal: it runs in personal only.
    super_key(&mut c, keys::DIGIT_1 + 1);
    let marker = home("personal").join("terminal-ran");
    let mut seen = usize::MAX;
    let mut last = std::time::Instant::now();
    let ran = c
        .dispatch_until(WAIT, |s| {
            if marker.exists() {
                return true;
            }
            // The daemon may still be bringing the profiles up: after each
            // failure (a notice), press again, at most twice a second.
            let failed_again = seen != usize::MAX && s.notices.len() > seen;
            if seen == usize::MAX || (failed_again && last.elapsed() > Duration::from_millis(500)) {
                seen = s.notices.len();
                last = std::time::Instant::now();
                s.key(keys::LEFT_META, true);
                s.key(keys::ENTER, true);
                s.key(keys::ENTER, false);
                s.key(keys::LEFT_META, false);
            }
            false
        })
        .expect("event loop runs");
    assert!(
        ran,
        "the terminal never ran; notices: {:?}",
        c.state.notices
    );
    let said = std::fs::read_to_string(&marker).expect("marker");
    assert_eq!(said.trim(), "personal");
    assert!(!home("work").join("terminal-ran").exists());
}

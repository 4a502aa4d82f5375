//! The real `zion-bar` binary on Zion's compositor (headless, in this
//! process) and a private session bus where the compositor serves
//! `Compositor1`: what the screenshots show of the strip, clicks through the
//! one input path, and a bus peer that lies in a signal.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zion_bar::model::{Rgb, HEIGHT, IDLE_CHIP};
use zion_compositor::Screenshot;
use zion_config::Config;
use zion_tests::compositor::{colour, rgb, Fixture, Setup};

const BIN: &str = env!("CARGO_BIN_EXE_zion-bar");
const WAIT: Duration = Duration::from_secs(15);
const BTN_LEFT: u32 = 0x110;
/// A row inside every chip's body, above its text.
const TOP_ROW: i32 = 4;
/// A row in the stripe under a desktop's chip that is not shown.
const STRIPE_ROW: i32 = HEIGHT as i32 - 4;

/// The runs of `colour` on row `y` of the bar: (first x, width).
fn runs(shot: &Screenshot, y: i32, colour: (u8, u8, u8)) -> Vec<(i32, i32)> {
    let mut runs = Vec::new();
    let mut start = None;
    for x in 0..=shot.width as i32 {
        let on = shot.pixel(x, y) == Some(colour);
        match (on, start) {
            (true, None) => start = Some(x),
            (false, Some(s)) => {
                if x - s >= 8 {
                    runs.push((s, x - s));
                }
                start = None;
            }
            _ => {}
        }
    }
    runs
}

fn middle((x, w): (i32, i32)) -> f64 {
    f64::from(x) + f64::from(w) / 2.0
}

struct Bar {
    fixture: Fixture,
    runtime: tokio::runtime::Runtime,
    conn: zbus::Connection,
    dir: tempfile::TempDir,
    _bus: zion_tests::DbusBus,
}

impl Bar {
    /// The compositor with the built-in profiles on a private bus, and the
    /// bar on its host socket; `panel` is what a click on the quarantine runs.
    fn start() -> Option<Bar> {
        if !zion_tests::skip::installed("/usr/bin/dbus-daemon", "dbus") {
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary folder");
        let bus = zion_tests::DbusBus::start(dir.path()).expect("private dbus-daemon starts");
        let mut fixture = Fixture::start(Setup {
            config: Config::defaults(),
            size: (800, 200),
            ..Setup::default()
        });
        fixture
            .serve_bus(bus.address())
            .expect("Compositor1 served");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let address = bus.address().to_owned();
        let conn = runtime
            .block_on(async {
                zbus::connection::Builder::address(address.as_str())?
                    .build()
                    .await
            })
            .expect("a connection to the private bus");

        let panel = dir.path().join("panel");
        std::fs::write(
            &panel,
            format!(
                "#!/bin/sh\ntouch '{}'\n",
                dir.path().join("panel-opened").display()
            ),
        )
        .expect("the panel stand-in's script");
        std::fs::set_permissions(&panel, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("executable");
        let log = std::fs::File::create(dir.path().join("bar.log")).expect("bar log");
        let mut command = Command::new(BIN);
        command
            .arg("--panel")
            .arg(&panel)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("WAYLAND_DISPLAY", fixture.host_socket())
            .env("XDG_RUNTIME_DIR", fixture.runtime())
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .env("RUST_LOG", "zion_bar=debug")
            .stdout(Stdio::null())
            .stderr(log);
        fixture.keep(command);
        Some(Bar {
            fixture,
            runtime,
            conn,
            dir,
            _bus: bus,
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bar.log")).unwrap_or_default()
    }

    /// Dispatches the compositor until a screenshot satisfies `done`.
    fn until(&mut self, what: &str, mut done: impl FnMut(&Screenshot) -> bool) -> Screenshot {
        let deadline = Instant::now() + WAIT;
        loop {
            self.fixture.settle();
            let shot = self.fixture.shot();
            if done(&shot) {
                return shot;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {WAIT:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn click(&mut self, x: f64, y: f64) {
        let state = &mut self.fixture.state;
        state.pointer_motion_absolute(x, y);
        state.pointer_button(BTN_LEFT, true);
        state.pointer_button(BTN_LEFT, false);
        self.fixture.settle();
    }

    fn shown(&self) -> String {
        self.fixture.state.layout.active_desktop().name.clone()
    }
}

/// Whether `name`'s chip is the filled one and `others` carry stripes.
fn marks(shot: &Screenshot, name: &str, others: &[&str]) -> bool {
    !runs(shot, TOP_ROW, rgb(colour(name))).is_empty()
        && others.iter().all(|o| {
            runs(shot, TOP_ROW, rgb(colour(o))).is_empty()
                && !runs(shot, STRIPE_ROW, rgb(colour(o))).is_empty()
        })
}

#[test]
fn the_bar_marks_the_shown_desktop_and_a_click_shows_another() {
    let Some(mut bar) = Bar::start() else { return };
    let shot = bar.until(
        "the bar shows work filled, gaming and personal striped",
        |s| marks(s, "work", &["gaming", "personal"]),
    );
    // The strip is along the top: nothing of it below its height.
    assert!(runs(&shot, HEIGHT as i32 + 2, rgb(colour("work"))).is_empty());

    // Shown through Compositor1: the bar follows.
    let conn = bar.conn.clone();
    let call = bar.runtime.spawn(async move {
        zion_bus::Compositor1Proxy::new(&conn)
            .await?
            .switch_to("personal")
            .await
    });
    let shot = bar.until("the bar follows a switch to personal", |s| {
        marks(s, "personal", &["work", "gaming"])
    });
    assert!(bar.runtime.block_on(call).expect("task").is_ok());

    // A click on gaming's chip shows gaming.
    let gaming = runs(&shot, STRIPE_ROW, rgb(colour("gaming")))[0];
    bar.click(middle(gaming), f64::from(HEIGHT / 2));
    bar.fixture
        .wait("a click on gaming's chip shows gaming", |s| {
            s.layout.active_desktop().name == "gaming"
        });
    bar.until("the bar marks gaming", |s| {
        marks(s, "gaming", &["work", "personal"])
    });
}

#[test]
fn a_click_on_the_quarantine_opens_the_panel() {
    let Some(mut bar) = Bar::start() else { return };
    // No daemon on this bus: the count is unknown, the chip plain.
    let shot = bar.until("the bar is drawn", |s| marks(s, "work", &["gaming"]));
    let Rgb(r, g, b) = IDLE_CHIP;
    // From the right: the clock has no chip, the quarantine is the last
    // plain chip.
    let chip = *runs(&shot, TOP_ROW, (r, g, b))
        .last()
        .expect("the quarantine's chip");
    let opened = bar.dir.path().join("panel-opened");
    assert!(!opened.exists());
    bar.click(middle(chip), f64::from(HEIGHT / 2));
    let deadline = Instant::now() + WAIT;
    while !opened.exists() {
        assert!(
            Instant::now() < deadline,
            "the panel was not opened\n{}",
            bar.log()
        );
        bar.fixture.settle();
    }
    assert_eq!(
        bar.shown(),
        "work",
        "a click on the quarantine shows no desktop"
    );
}

/// Anyone on the bus can send a signal; the bar takes it only as a reason
/// to ask the compositor, so a lie about the shown desktop changes nothing.
#[test]
fn a_peer_lying_in_a_signal_does_not_change_what_the_bar_shows() {
    let Some(mut bar) = Bar::start() else { return };
    bar.until("the bar is drawn", |s| marks(s, "work", &["gaming"]));
    let conn = bar.conn.clone();
    let lie = bar.runtime.spawn(async move {
        let changed = std::collections::HashMap::from([(
            "ActiveDesktop",
            zbus::zvariant::Value::from("gaming"),
        )]);
        conn.emit_signal(
            None::<&str>,
            "/org/zionos/Compositor1",
            "org.freedesktop.DBus.Properties",
            "PropertiesChanged",
            &("org.zionos.Compositor1", changed, Vec::<String>::new()),
        )
        .await
    });
    // The answer to the bar's question comes from this thread's loop.
    let deadline = Instant::now() + Duration::from_millis(800);
    while Instant::now() < deadline {
        bar.fixture.settle();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        bar.runtime.block_on(lie).expect("task").is_ok(),
        "the lie was sent"
    );
    let shot = bar.fixture.shot();
    assert!(
        marks(&shot, "work", &["gaming", "personal"]),
        "the bar believed a signal from a peer that is not the compositor"
    );
    assert_eq!(bar.shown(), "work");
}

/// A profile locked on its own says so on its chip (the bar reads
/// `Compositor1.LockedProfiles`), and the bar stays drawn over its cover.
#[test]
fn a_locked_profile_is_marked_locked() {
    let Some(mut bar) = Bar::start() else { return };
    bar.until("the bar is drawn", |s| marks(s, "work", &["gaming"]));
    let conn = bar.conn.clone();
    let call = bar.runtime.spawn(async move {
        zion_bus::Compositor1Proxy::new(&conn)
            .await?
            .lock_profile("gaming")
            .await
    });
    let deadline = Instant::now() + WAIT;
    while !bar.log().contains("gaming · locked") {
        assert!(
            Instant::now() < deadline,
            "the bar never said gaming is locked\n{}",
            bar.log()
        );
        bar.fixture.settle();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(bar.runtime.block_on(call).expect("task").is_ok());
}

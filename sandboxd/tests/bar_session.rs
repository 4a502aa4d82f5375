//! The bar in a whole session: the harness's private Podman and session bus,
//! the headless `zion-compositor`, `zion-sandboxd` with two profiles, and the
//! real `zion-bar` on the compositor's host socket. What the bar draws
//! follows the daemon: a file waiting in the quarantine is counted (and the
//! chip turns amber in the screenshot), a frozen profile says so.

mod quarantine_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use quarantine_support::{drop_file, outbox, REVIEW_OUTBOX};
use zion_tests::{TestEnv, TestImage};

const DAEMON: &str = env!("CARGO_BIN_EXE_zion-sandboxd");
const WAIT: Duration = Duration::from_secs(60);
/// The bar's amber for a quarantine that holds something (`model::WAITING`).
const WAITING: (u8, u8, u8) = (0xe0, 0xa0, 0x20);

fn sibling(name: &str, var: &str) -> PathBuf {
    zion_tests::sibling_bin(DAEMON, name, var)
}

/// The bar's log, waited on until a drawn frame's chips contain `needle`.
fn wait_drawn(log: &Path, needle: &str) {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text
            .lines()
            .any(|l| l.contains("drawn") && l.contains(needle))
        {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "the bar never drew {needle:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The (r, g, b) of row `y` of the PNG at `path`.
fn row_pixels(path: &Path, y: usize) -> Vec<(u8, u8, u8)> {
    let file = std::fs::File::open(path).expect("the screenshot");
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut data = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut data).expect("PNG pixels");
    let channels = info.color_type.samples();
    let start = y * info.line_size;
    data[start..start + info.line_size]
        .chunks_exact(channels)
        .map(|p| (p[0], p[1], p[2]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bar_counts_what_waits_in_the_quarantine_and_shows_a_frozen_profile() {
    let env = TestEnv::new().expect("test environment");
    let image = env.image(TestImage::Base).expect("the base test image");
    let profile = |name: &str, colour: &str| {
        format!(
            "[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\n\
             network = \"none\"\nmemory = \"256MiB\"\nhibernate_after = \"never\"\n\n"
        )
    };
    let text = format!(
        "{}{}[quarantine]\n{REVIEW_OUTBOX}",
        profile("work", "#3465a4"),
        profile("personal", "#4e9a06"),
    );
    let mut desk = zion_tests::desk::Desk::new(env, WAIT).await;
    desk.write_config(&text);
    desk.start_session(
        Some((
            &sibling("zion-compositor", "ZION_COMPOSITOR"),
            "800x200",
            false,
        )),
        Path::new(DAEMON),
        &[("ZION_SANDBOX_POOL", "0"), ("RUST_LOG", "info")],
        &["work", "personal"],
    )
    .await;

    let log = desk.env.root().join("bar.log");
    let mut bar = desk
        .env
        .command(sibling("zion-bar", "ZION_BAR"))
        .env("WAYLAND_DISPLAY", desk.runtime().join("wayland-zion"))
        .env("RUST_LOG", "zion_bar=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("the bar's log"))
        .spawn()
        .expect("zion-bar starts");

    wait_drawn(&log, r#"["work", "personal", "#);
    wait_drawn(&log, "quarantine: empty");

    // A file from work waits for review: the bar counts it.
    drop_file(&outbox(&desk.env), "report.txt", b"quarterly figures\n");
    wait_drawn(&log, "quarantine: 1 waits");
    let shot = desk.env.root().join("bar.png");
    desk.compositor()
        .await
        .screenshot(shot.to_str().expect("UTF-8"))
        .await
        .expect("a screenshot");
    let amber = row_pixels(&shot, 4)
        .into_iter()
        .filter(|p| *p == WAITING)
        .count();
    assert!(
        amber > 20,
        "the quarantine's chip is amber in the screenshot ({amber} pixels)"
    );

    // Personal is frozen: its chip says so.
    desk.profiles()
        .await
        .hibernate("personal")
        .await
        .unwrap_or_else(|e| panic!("hibernating personal: {e}\n{}", desk.logs()));
    wait_drawn(&log, "personal · frozen");

    let _ = bar.kill();
    let _ = bar.wait();
}

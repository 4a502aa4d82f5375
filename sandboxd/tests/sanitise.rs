//! Sanitise (issue 17) end to end: a real zion-sandboxd (`--no-profiles`)
//! on a private bus and a private Podman, the real converter image, gVisor
//! when it is installed; what comes back judged by real parsers (qpdf,
//! poppler, exiftool). Hostile inputs end in clear failures in bounded time.

mod quarantine_support;
mod sanitise_support;

use std::time::{Duration, Instant};

use quarantine_support::*;
use sanitise_support::*;
use zion_tests::TestEnv;

fn have(program: &str, package: &str) -> bool {
    zion_tests::skip::installed(program, package)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_with_javascript_comes_back_as_pixels_without_it_from_a_converter_with_no_network() {
    if !(have("qpdf", "qpdf")
        && have("pdfinfo", "poppler-utils")
        && have("pdftotext", "poppler-utils")
        && have("runsc", "runsc"))
    {
        return;
    }
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let gvisor = env.podman().start_gvisor().expect("the gVisor Podman");
    let daemon = start_daemon(&env, &[("ZION_SANITISE_PODMAN", &gvisor.uri())]);
    let (_bus, proxy) = connect_quarantine(&env).await;

    let hostile = pdf(2, INVOICE, false, true);
    let original = quarantined(&env, &proxy, "invoice.pdf", &hostile).await;
    // The parser sees the script in the original: the check below can fail.
    let scripts = scripts_in(&object(&env, &original));
    assert!(
        scripts.contains(&"/JavaScript".to_owned()) && scripts.contains(&"/OpenAction".to_owned()),
        "{scripts:?}"
    );
    assert!(text_of(&object(&env, &original)).contains("Invoice 42"));
    proxy.hold(original.id, true).await.expect("hold");

    let (copy_id, isolation, summary) = proxy
        .sanitise(original.id)
        .await
        .unwrap_or_else(|e| panic!("sanitise: {e}\n{}", daemon.log()));
    assert_eq!(isolation, "gvisor", "{summary}\n{}", daemon.log());
    assert!(
        summary.contains("with no network (interfaces: lo)"),
        "{summary}"
    );
    // gVisor's own kernel, not the host's, is what the converter saw.
    let host_kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .expect("the host's kernel release")
        .trim()
        .to_owned();
    // The line the daemon logged just before it answered: its log is read
    // by a thread of this test, which may not have read it yet.
    daemon.wait_for_log("zion-sanitise: kernel:", Duration::from_secs(10));
    assert!(daemon.log().contains("network none"), "{}", daemon.log());
    assert!(
        !daemon
            .log()
            .contains(&format!("zion-sanitise: kernel: {host_kernel}")),
        "the converter ran on the host's kernel\n{}",
        daemon.log()
    );

    let copy = scanned(&proxy, |i| i.id == copy_id).await;
    assert_eq!(copy.name, "invoice.sanitised.pdf");
    assert_eq!(
        copy.source,
        format!("sanitised from #{} (gVisor)", original.id)
    );
    assert_eq!(copy.profile, "work");
    assert_eq!(copy.state, "clean", "{copy:?}");
    let safe = object(&env, &copy);
    assert!(scripts_in(&safe).is_empty(), "{:?}", scripts_in(&safe));
    assert_eq!(pages_of(&safe), 2);
    let text = text_of(&safe);
    assert!(
        !text.contains("Invoice"),
        "the copy is pixels, not text: {text:?}"
    );
    let (ok, attached) = tool("pdfdetach", &["-list"], &safe);
    assert!(ok && attached.contains("0 embedded files"), "{attached}");

    // The original is still there, held, unchanged.
    let after = proxy.get(original.id).await.expect("original");
    assert_eq!(
        (after.state.as_str(), after.held, after.sha256.as_str()),
        ("clean", true, original.sha256.as_str())
    );
    assert!(object(&env, &original).exists());
    assert!(leftovers(&env).is_empty(), "{:?}", leftovers(&env));
    assert_eq!(containers(&env), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_with_gps_metadata_comes_back_without_it() {
    if !have("exiftool", "libimage-exiftool-perl") {
        return;
    }
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let daemon = start_daemon(&env, &[]);
    let (_bus, proxy) = connect_quarantine(&env).await;

    let photo = env.root().join("holiday.png");
    std::fs::write(&photo, png(64, 48)).expect("png");
    let (ok, said) = tool(
        "exiftool",
        &[
            "-overwrite_original",
            "-GPSLatitude=48.8584",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.2945",
            "-GPSLongitudeRef=E",
            "-Artist=Jane Doe",
            "-XMP-dc:Description=at home",
        ],
        &photo,
    );
    assert!(ok, "{said}");
    let (_, before) = tool("exiftool", &["-a", "-G1"], &photo);
    assert!(
        before.contains("GPS Latitude") && before.contains("Jane Doe"),
        "{before}"
    );

    let original = quarantined(
        &env,
        &proxy,
        "holiday.png",
        &std::fs::read(&photo).expect("read"),
    )
    .await;
    let (copy_id, isolation, summary) = proxy
        .sanitise(original.id)
        .await
        .unwrap_or_else(|e| panic!("sanitise: {e}\n{}", daemon.log()));
    assert!(
        ["gvisor", "runc-hardened"].contains(&isolation.as_str()),
        "{isolation}"
    );
    let copy = scanned(&proxy, |i| i.id == copy_id).await;
    assert_eq!(copy.name, "holiday.sanitised.png", "{summary}");
    let safe = object(&env, &copy);
    let (ok, after) = tool("exiftool", &["-a", "-G1"], &safe);
    assert!(ok, "{after}");
    for gone in ["GPS", "Jane Doe", "at home", "XMP", "EXIF"] {
        assert!(!after.contains(gone), "{gone} survived:\n{after}");
    }
    assert!(
        after.contains("Image Size                      : 64x48"),
        "{after}"
    );
    assert!(leftovers(&env).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gvisor_the_result_says_runc_hardened() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    // A runtime Podman does not have: as on a machine without runsc.
    let daemon = start_daemon(&env, &[("ZION_SANITISE_RUNTIME", "zion-no-gvisor-here")]);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let original = quarantined(&env, &proxy, "chart.png", &png(16, 16)).await;
    // As a user asks for it: zionctl.
    let (ok, summary, err) = zionctl(&env, &["quarantine", "sanitise", &original.id.to_string()]);
    assert!(ok, "{err}\n{}", daemon.log());
    assert!(summary.contains("(isolation: runc-hardened)"), "{summary}");
    let copy_id = summary
        .split("new item ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no new item in {summary}"));
    assert!(
        summary.contains("runc, hardened, without gVisor") && summary.contains("gVisor not used"),
        "{summary}\n{}",
        daemon.log()
    );
    assert!(summary.contains("(interfaces: lo)"), "{summary}");
    let copy = scanned(&proxy, |i| i.id == copy_id).await;
    assert_eq!(
        copy.source,
        format!(
            "sanitised from #{} (runc, hardened, without gVisor)",
            original.id
        )
    );
}

/// Attack: what an attacker sends as a "PDF" or an "image" — not a PDF at
/// all, a PDF of 5,000 pages, a page whose drawing never ends, an image
/// claiming 3.6 billion pixels, a program — ends in a clear refusal within
/// the time limit, with no copy made and nothing left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_end_in_clear_failures_within_the_time_limit() {
    const LIMIT: u64 = 10;
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    // Under gVisor where it is installed, as a user's session runs it.
    let gvisor = zion_tests::skip::program_missing("runsc", "runsc")
        .is_none()
        .then(|| env.podman().start_gvisor().expect("the gVisor Podman"));
    let mut vars = vec![("ZION_SANITISE_TIMEOUT", LIMIT.to_string())];
    if let Some(g) = &gvisor {
        vars.push(("ZION_SANITISE_PODMAN", g.uri()));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = start_daemon(&env, &vars);
    let (_bus, proxy) = connect_quarantine(&env).await;

    // Millions of tiny fills: a few hundred kilobytes that take poppler minutes.
    let endless = "0 0 1 1 re f\n".repeat(20_000_000);
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "fake.pdf",
            b"%PDF-1.7\nthis is not a PDF at all, only its first line\n".to_vec(),
            "Failed",
            "not a PDF poppler can read",
        ),
        (
            "thick.pdf",
            pdf(5000, INVOICE, false, false),
            "Failed",
            "5000 pages, more than the 100",
        ),
        (
            "endless.pdf",
            pdf(1, endless.as_bytes(), true, false),
            "Failed",
            "did not finish within 10 s",
        ),
        (
            "bomb.png",
            png_bomb(60_000, 60_000),
            "Failed",
            "too many pixels",
        ),
        (
            "setup.pdf.exe",
            b"MZ\x90\0\x03\0\0\0 a program with a PDF's name".to_vec(),
            "NotAllowed",
            "is not a PDF, an image or an office document",
        ),
    ];
    drop(endless);
    for (name, bytes, error, reason) in cases {
        let item = quarantined(&env, &proxy, name, &bytes).await;
        let started = Instant::now();
        let err = proxy
            .sanitise(item.id)
            .await
            .expect_err(&format!("{name} must be refused"));
        let took = started.elapsed();
        let (kind, detail) = method_error(&err);
        assert_eq!(
            kind,
            format!("org.zionos.Quarantine1.Error.{error}"),
            "{name}: {detail}"
        );
        assert!(
            detail.contains(reason),
            "{name}: {detail}\n{}",
            daemon.log()
        );
        assert!(
            took < Duration::from_secs(LIMIT + 20),
            "{name} took {took:?}"
        );
        assert!(leftovers(&env).is_empty(), "{name}: {:?}", leftovers(&env));
        assert_eq!(containers(&env), "", "{name}");
    }
    // No copy of anything was made.
    let items = proxy.list().await.expect("list");
    assert_eq!(items.len(), 5, "{items:?}");
    assert!(
        items.iter().all(|i| !i.source.starts_with("sanitised")),
        "{items:?}"
    );
}

/// A daemon killed mid-conversion leaves a running converter and a job
/// folder; the next daemon removes both (the folder when it starts, the
/// container before it runs a converter of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_killed_daemon_left_is_removed_by_the_next() {
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let mut daemon = start_daemon(&env, &[]);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let endless = "0 0 1 1 re f\n".repeat(20_000_000);
    let slow = quarantined(
        &env,
        &proxy,
        "slow.pdf",
        &pdf(1, endless.as_bytes(), true, false),
    )
    .await;
    drop(endless);
    let chart = quarantined(&env, &proxy, "chart.png", &png(8, 8)).await;
    let call = {
        let proxy = proxy.clone();
        tokio::spawn(async move { proxy.sanitise(slow.id).await })
    };
    eventually("a running converter", Duration::from_secs(30), || {
        let found = !containers(&env).is_empty() && !leftovers(&env).is_empty();
        async move { found.then_some(()) }
    })
    .await;
    daemon.kill();
    assert!(
        call.await.expect("task").is_err(),
        "the call dies with the daemon"
    );
    assert!(!containers(&env).is_empty() && !leftovers(&env).is_empty());

    let daemon = start_daemon(&env, &[]);
    assert!(leftovers(&env).is_empty(), "{:?}", leftovers(&env));
    let (_bus, proxy) = connect_quarantine(&env).await;
    proxy
        .sanitise(chart.id)
        .await
        .unwrap_or_else(|e| panic!("sanitise: {e}\n{}", daemon.log()));
    assert_eq!(containers(&env), "", "{}", daemon.log());
    assert!(leftovers(&env).is_empty());
}

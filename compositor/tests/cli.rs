//! The `zion-compositor` binary as a user starts it.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_zion-compositor");

#[test]
fn headless_run_writes_a_png_of_the_output_and_removes_its_sockets() {
    let runtime = tempfile::tempdir().expect("temporary folder");
    let png_path = runtime.path().join("shot.png");
    let out = Command::new(BIN)
        .args([
            "--backend",
            "headless",
            "--size",
            "320x200",
            "--exit-after",
            "0.3",
        ])
        .arg("--runtime-dir")
        .arg(runtime.path())
        .arg("--screenshot")
        .arg(&png_path)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::File::open(&png_path).expect("the screenshot exists");
    let reader = png::Decoder::new(file).read_info().expect("a PNG");
    assert_eq!((reader.info().width, reader.info().height), (320, 200));
    assert!(!runtime.path().join("wayland-zion").exists());
    assert!(!runtime.path().join("zion/work/wayland-0").exists());
}

#[test]
fn a_broken_config_file_is_reported_with_its_place() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = dir.path().join("zion.toml");
    std::fs::write(&config, "[[profile]]\nname = \"Not Safe\"\n").expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("--runtime-dir")
        .arg(dir.path())
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zion.toml"), "{err}");
}

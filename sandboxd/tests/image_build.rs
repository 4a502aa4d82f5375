//! `zionctl image build`: a real debootstrap build from a recipe, imported
//! into the harness's private Podman, run as a container; a rebuild of the
//! same recipe is skipped; bad recipes fail with the reason.

use std::path::{Path, PathBuf};
use std::process::Output;

use zion_profiles::image::Recipe;
use zion_tests::TestEnv;

/// zionctl, built beside the daemon (its own crate since issue 14).
fn zionctl_bin() -> std::path::PathBuf {
    zion_tests::sibling_bin(
        env!("CARGO_BIN_EXE_zion-sandboxd"),
        "zionctl",
        "ZION_ZIONCTL",
    )
}

fn zionctl(env: &TestEnv, args: &[&str]) -> Output {
    env.command(zionctl_bin())
        .args(args)
        .output()
        .expect("running zionctl")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write(path: &Path, content: &str) -> PathBuf {
    std::fs::write(path, content).expect("writing a test file");
    path.to_owned()
}

#[test]
fn a_recipe_becomes_a_runnable_image_once_and_bad_recipes_say_why() {
    if !rustix::process::geteuid().is_root() {
        zion_tests::skip::lacking("debootstrap needs root and this test runs as a user");
        return;
    }
    let env = TestEnv::new().expect("test env");
    let recipes = env.root().join("recipes");
    std::fs::create_dir_all(&recipes).expect("recipes folder");
    let recipe_text = "# minbase and GNU hello\nhello\n";
    write(&recipes.join("tiny.packages"), recipe_text);
    write(&recipes.join("bad.packages"), "Hello;rm\n");
    write(&recipes.join("gone.packages"), "zion-no-such-package\n");
    let config = write(
        &env.root().join("zion.toml"),
        "[[profile]]\nname = \"work\"\nimage = \"localhost/zion-tiny:latest\"\n\
         [[profile]]\nname = \"personal\"\nimage = \"localhost/zion-tiny:latest\"\n\
         [[profile]]\nname = \"broken\"\nimage = \"localhost/zion-bad:latest\"\n\
         [[profile]]\nname = \"gone\"\nimage = \"localhost/zion-gone:latest\"\n\
         [[profile]]\nname = \"pulled\"\nimage = \"docker.io/library/debian:12\"\n",
    );
    let config = config.to_str().expect("utf-8 path");
    let recipes = recipes.to_str().expect("utf-8 path");
    let tag = Recipe::parse(recipe_text).tag();
    // `zionctl image build PROFILE` with the test's files: its status and all
    // it printed.
    let build = |profile: &str, recipes: &str| {
        let out = zionctl(
            &env,
            &[
                "image",
                "build",
                profile,
                "--config",
                config,
                "--recipes",
                recipes,
            ],
        );
        (out.status.success(), text(&out))
    };

    let (ok, shown) = build("work", recipes);
    assert!(ok, "{shown}");
    assert!(
        shown.contains(&format!("built localhost/zion-tiny:{tag}"))
            && shown.contains("for work, personal"),
        "{shown}"
    );
    // The bar went through debootstrap's steps to the end.
    for step in [
        "Downloading packages",
        "Configuring",
        "Importing into Podman",
    ] {
        assert!(shown.contains(step), "no `{step}` step:\n{shown}");
    }
    assert!(shown.contains("100%"), "{shown}");

    // The configured tag names the new image, and it runs.
    let ran = env
        .podman()
        .cli()
        .args(["run", "--rm", "localhost/zion-tiny:latest", "hello"])
        .output()
        .expect("podman run");
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "Hello, world!",
        "{}",
        text(&ran)
    );

    // The same recipe again: nothing is rebuilt.
    let (ok, shown) = build("work", recipes);
    assert!(ok, "{shown}");
    assert!(shown.contains("is up to date"), "{shown}");
    assert!(!shown.contains("Downloading"), "{shown}");

    // Bad input fails with the reason and builds nothing.
    let (ok, shown) = build("broken", recipes);
    assert!(!ok, "{shown}");
    assert!(
        shown.contains("`Hello;rm` is not a Debian package name"),
        "{shown}"
    );
    let (ok, shown) = build("gone", recipes);
    assert!(!ok, "{shown}");
    assert!(
        shown.contains("debootstrap failed") && shown.contains("zion-no-such-package"),
        "{shown}"
    );
    let (ok, shown) = build("pulled", recipes);
    assert!(!ok, "{shown}");
    assert!(shown.contains("podman pull"), "{shown}");
    let (ok, shown) = build("work", "/nonexistent");
    assert!(!ok, "{shown}");
    assert!(shown.contains("no recipe tiny.packages"), "{shown}");

    let images = env
        .podman()
        .cli()
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .expect("podman images");
    let listed = String::from_utf8_lossy(&images.stdout);
    assert!(
        !listed.contains("zion-bad") && !listed.contains("zion-gone"),
        "{listed}"
    );
}

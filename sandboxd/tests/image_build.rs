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

/// Issue 19: an ordinary user builds a profile image without root —
/// mmdebstrap in a user namespace of the account's subordinate range,
/// imported into the account's own rootless Podman — from the shipped base
/// recipe, tagged by the same recipe hash as a build by root.
#[test]
fn an_ordinary_user_builds_the_base_image_into_their_own_rootless_podman() {
    zion_tests::require!(
        rustix::process::geteuid().is_root(),
        "creating the unprivileged test account needs root"
    );
    zion_tests::require_program!("mmdebstrap", "mmdebstrap");
    let user = zion_tests::user::TestUser::ensure().expect("the unprivileged test account");
    let env = TestEnv::for_user(&user).expect("a session of the test account");
    let zionctl = env.expose(&zionctl_bin()).expect("zionctl for the account");
    let recipe_text = include_str!("../../session-files/images/base.packages");
    let recipes = env.root().join("recipes");
    std::fs::create_dir_all(&recipes).expect("recipes folder");
    write(&recipes.join("base.packages"), recipe_text);
    let config = write(
        &env.root().join("zion.toml"),
        "[[profile]]\nname = \"work\"\nimage = \"localhost/zion-base:latest\"\n",
    );
    // The build's files in the test's folder, the account's own.
    let tmp = env.root().join("tmp");
    std::fs::create_dir_all(&tmp).expect("build folder");
    for path in [&recipes, &config] {
        user.give(path, true).expect("the account reads its files");
    }
    user.give(&tmp, true).expect("the account's build folder");
    let mut cmd = env.command(&zionctl);
    cmd.args(["image", "build", "work", "--config"])
        .arg(&config)
        .arg("--recipes")
        .arg(&recipes)
        .env("TMPDIR", &tmp);
    if let Ok(mirror) = std::env::var("ZION_DEBIAN_MIRROR") {
        cmd.env("ZION_DEBIAN_MIRROR", mirror);
    }
    let out = cmd.output().expect("zionctl runs as the account");
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    let tag = Recipe::parse(recipe_text).tag();
    assert!(
        shown.contains("by mmdebstrap in a user namespace")
            && shown.contains(&format!("built localhost/zion-base:{tag}")),
        "{shown}"
    );
    for step in [
        "Downloading packages",
        "Installing the essential packages",
        "Importing into Podman",
    ] {
        assert!(shown.contains(step), "no `{step}` step:\n{shown}");
    }

    // In the account's own Podman, under the recipe's tag and the
    // configured one, and it runs there.
    let exists = env
        .podman()
        .cli()
        .args(["image", "exists", &format!("localhost/zion-base:{tag}")])
        .status()
        .expect("podman image exists");
    assert!(exists.success(), "no localhost/zion-base:{tag}\n{shown}");
    let ran = env
        .podman()
        .cli()
        .args([
            "run",
            "--rm",
            "localhost/zion-base:latest",
            "cat",
            "/etc/debian_version",
        ])
        .output()
        .expect("podman run");
    assert!(
        String::from_utf8_lossy(&ran.stdout).starts_with("12."),
        "not bookworm: {}",
        text(&ran)
    );
    let leftovers = zion_tests::user::not_owned_by(&tmp, user.uid);
    assert!(
        leftovers.is_empty(),
        "files in the account's build folder it does not own: {leftovers:?}"
    );
}

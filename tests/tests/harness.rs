//! The harness itself, against the real Podman and the real dbus-daemon.

use std::path::PathBuf;
use std::time::Duration;

use rustix::process::{test_kill_process, Pid};
use zion_tests::{cleanup, TestEnv, TestImage};

fn pid_alive(pid: i32) -> bool {
    Pid::from_raw(pid).is_some_and(|p| test_kill_process(p).is_ok())
}

fn podman_out(env: &TestEnv, args: &[&str]) -> String {
    let out = env.podman().cli().args(args).output().expect("podman runs");
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn private_podman_answers_and_starts_with_no_containers() {
    let env = TestEnv::new().expect("test env");
    let podman = env.podman().client();
    podman.ping().await.expect("the private service answers");
    let info = podman.info().await.expect("info");
    let graph_root = info.store.and_then(|s| s.graph_root).expect("graph root");
    assert!(
        PathBuf::from(&graph_root).starts_with(env.root()),
        "the service must use its own storage, not the machine's: {graph_root}"
    );
    assert_eq!(podman_out(&env, &["ps", "--all", "--quiet"]), "");
}

#[tokio::test]
async fn private_bus_lets_a_client_own_a_name() {
    let env = TestEnv::new().expect("test env");
    let owner = env.dbus().connect().await.expect("connect");
    owner
        .request_name("org.zionos.HarnessTest")
        .await
        .expect("own a name");
    let other = env.dbus().connect().await.expect("connect");
    let dbus = zbus::fdo::DBusProxy::new(&other).await.expect("bus proxy");
    let name = zbus::names::BusName::try_from("org.zionos.HarnessTest").expect("name");
    assert!(dbus.name_has_owner(name).await.expect("NameHasOwner"));
}

#[test]
fn cached_image_is_reused_and_visible_to_the_private_service() {
    let env = TestEnv::new().expect("test env");
    let first = env.image(TestImage::Base).expect("base image");
    let start = std::time::Instant::now();
    let second = env.image(TestImage::Base).expect("base image again");
    assert_eq!(first, second);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "a cached image must not be rebuilt"
    );
    assert!(first.starts_with("localhost/zion-test-base:"));
    let out = env
        .podman()
        .cli()
        .args(["image", "exists", &first])
        .status()
        .expect("podman");
    assert!(
        out.success(),
        "the private service sees the cached image {first}"
    );
}

#[test]
fn dropping_the_env_leaves_no_container_mount_or_process() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Base).expect("base image");
    let id = podman_out(
        &env,
        &[
            "run",
            "--detach",
            "--network",
            "none",
            &image,
            "sleep",
            "1000",
        ],
    );
    let pid: i32 = podman_out(&env, &["inspect", "--format", "{{.State.Pid}}", &id])
        .parse()
        .expect("pid");
    let service: i32 = std::fs::read_to_string(env.root().join("podman/podman.pid"))
        .expect("service pid")
        .trim()
        .parse()
        .expect("pid");
    let root = env.root().to_owned();
    assert!(pid_alive(pid) && pid_alive(service));
    assert!(
        !cleanup::mounts_under(&root).is_empty(),
        "the running container has its root mounted"
    );

    drop(env);

    assert!(!pid_alive(pid), "the container's process is gone");
    assert!(!pid_alive(service), "the Podman service is gone");
    assert_eq!(
        cleanup::processes_under(&root),
        vec![],
        "no conmon or helper is left"
    );
    assert!(
        cleanup::mounts_under(&root).is_empty(),
        "nothing stays mounted"
    );
    assert!(!root.exists(), "the folder is removed");
}

#[test]
fn wayland_image_holds_weston_clients_and_foot() {
    let env = TestEnv::new().expect("test env");
    let image = env.image(TestImage::Wayland).expect("wayland image");
    assert!(image.starts_with("localhost/zion-test-wayland:"));
    let out = podman_out(
        &env,
        &[
            "run", "--network", "none", &image, "sh", "-c",
            "for f in /usr/bin/weston-simple-shm /usr/bin/foot /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf; do test -e $f && echo ok $f || echo missing $f; done",
        ],
    );
    assert!(!out.contains("missing"), "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
}

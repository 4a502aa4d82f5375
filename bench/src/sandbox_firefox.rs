//! bench-sandbox's Firefox part (issue 15): with `[sandbox] browser =
//! "firefox"`, from `OpenBrowser` to Firefox ESR's first window mapped on
//! zion-compositor (headless backend: the compositor logs `window mapped`
//! at the window's first committed buffer), with the warm pool and
//! without, beside `podman run -d` of the same image running the same
//! Firefox command on the work profile's socket, in one run.
//!
//! Run alone with `ZION_BENCH_SANDBOX=firefox bench-sandbox`.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use zion_bus::Sandbox1Proxy;
use zion_tests::{TestEnv, TestImage};

use super::{median, ms, podman, Compositor, Daemon, ROUNDS, URL, WAIT};

/// The compositor's origin text for sandbox windows and profile windows.
const SANDBOX: &str = "Some(Sandbox";
const PROFILE: &str = "Some(Profile(";

/// Writes zion.toml with `work` (in `base`) and `[sandbox] browser`.
fn write_config(env: &TestEnv, base: &str, browser: &str) -> anyhow::Result<()> {
    let dir = env.xdg.config.join("zion");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = format!(
        "[sandbox]\nbrowser = \"{browser}\"\n\n[[profile]]\nname = \"work\"\ncolour = \"#3465a4\"\nimage = \"{base}\"\nnetwork = \"full\"\nmemory = \"256MiB\"\n"
    );
    let path = dir.join("zion.toml");
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// `ROUNDS` Firefox sandboxes through a daemon with a warm pool of `pool`:
/// from the request to the first window mapped.
async fn zion(
    env: &TestEnv,
    image: &str,
    pool: usize,
    compositor: &Compositor,
) -> anyhow::Result<Vec<Duration>> {
    let daemon = Daemon::start(env, image, pool, false)?;
    daemon.wait_for("session up", 1).await?;
    if !daemon.log().contains("firefox from image") {
        bail!("the daemon did not take Firefox:\n{}", daemon.log());
    }
    let bus = env
        .dbus()
        .connect()
        .await
        .context("connecting to the bus")?;
    let start = Instant::now();
    let proxy = loop {
        if let Ok(p) = Sandbox1Proxy::new(&bus).await {
            if p.list().await.is_ok() {
                break p;
            }
        }
        if start.elapsed() > WAIT {
            bail!("no org.zionos.Sandbox1 on the bus:\n{}", daemon.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut window = Vec::new();
    for round in 0..ROUNDS {
        if pool > 0 {
            daemon.wait_for("ready in the warm pool", round + 1).await?;
        }
        let mapped = compositor.mapped(SANDBOX);
        let start = Instant::now();
        let id = proxy
            .open_browser("work", URL)
            .await
            .with_context(|| format!("OpenBrowser:\n{}", daemon.log()))?;
        window.push(
            compositor
                .wait_mapped(SANDBOX, mapped, start)
                .with_context(|| format!("the daemon said:\n{}", daemon.log()))?,
        );
        proxy.close(&id).await.context("Close")?;
    }
    let pooled = daemon.count("from the warm pool");
    if pool > 0 && pooled < ROUNDS {
        eprintln!("note: only {pooled} of {ROUNDS} Firefox sandboxes came from the warm pool");
    }
    Ok(window)
}

/// `ROUNDS` times `podman run -d` of the Firefox image with the sandbox's
/// hardening and limits, running the daemon's Firefox command on the work
/// profile's socket. As root inside (the profile's socket is not open to
/// uid 1000 here): the container and Firefox's start cost the same.
fn podman_cli(
    env: &TestEnv,
    image: &str,
    compositor: &Compositor,
) -> anyhow::Result<Vec<Duration>> {
    let volume = format!(
        "{}:/run/zion-wayland",
        env.xdg.runtime.join("zion/work").display()
    );
    let argv = zion_sandboxd::sandbox::firefox::firefox_command(URL, true);
    let mut window = Vec::new();
    for round in 0..ROUNDS {
        let name = format!("bench-sandbox-firefox-{round}");
        let mut args: Vec<&str> = vec![
            "run",
            "-d",
            "--rm",
            "--name",
            &name,
            "--init",
            "--cap-drop",
            "all",
            "--cap-add",
            "SYS_CHROOT",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            "2048",
            "--memory",
            "2g",
            "--tmpfs",
            "/home/zion:mode=0700",
            "--tmpfs",
            "/tmp:mode=1777",
            "--workdir",
            "/home/zion",
            "-e",
            "HOME=/home/zion",
            "-e",
            "LANG=C.UTF-8",
            "-v",
            &volume,
            "-e",
            "WAYLAND_DISPLAY=/run/zion-wayland/wayland-0",
            "-e",
            "XDG_RUNTIME_DIR=/tmp",
            image,
        ];
        args.extend(argv.iter().map(String::as_str));
        let mapped = compositor.mapped(PROFILE);
        let start = Instant::now();
        podman(env, &args)?;
        window.push(compositor.wait_mapped(PROFILE, mapped, start)?);
        podman(env, &["rm", "--force", "--time", "0", &name])?;
    }
    Ok(window)
}

/// Measures and prints the Firefox part; leaves zion.toml as it found it
/// (Chromium's).
pub async fn run(env: &TestEnv, base: &str) -> anyhow::Result<()> {
    let image = env.image(TestImage::Firefox)?;
    write_config(env, base, "firefox")?;
    let compositor = Compositor::start(env).await?;
    let cli = podman_cli(env, &image, &compositor)?;
    let warm = zion(env, &image, 1, &compositor).await?;
    let cold = zion(env, &image, 0, &compositor).await?;
    drop(compositor);
    write_config(env, base, "chromium")?;
    println!(
        "Firefox ESR ([sandbox] browser = \"firefox\") on zion-compositor (headless), natively on Wayland (software rendering), {URL}, median of {ROUNDS} rounds:"
    );
    println!(
        "{:<34} {:>12} {:>12} {:>8}",
        "from request to", "zion", "podman run", "ratio"
    );
    let p = median(cli);
    for (label, samples) in [("warm pool (1)", warm), ("no pool (0)", cold)] {
        let z = median(samples);
        println!(
            "{:<34} {:>10.1}ms {:>10.1}ms {:>7.2}x",
            format!("first window mapped, {label}"),
            ms(z),
            ms(p),
            p.as_secs_f64() / z.as_secs_f64()
        );
    }
    Ok(())
}

//! bench-sessions: the latencies a person feels with profile sessions,
//! through the real zion-sandboxd and zion-compositor (release builds beside
//! this binary) on the harness's private Podman and bus, beside the same
//! steps with the `podman` command line in the same run. Prints medians.
//!
//! - resume: `Profiles1.Resume` of a hibernated profile until the call
//!   returns (the container is unpaused), and a switch to a hibernated
//!   profile (`Compositor1.SwitchTo`) until the daemon signals it running;
//!   beside `podman unpause`.
//! - cold start: `Profiles1.Start` of a profile without a container (created,
//!   started, its autostart `weston-simple-shm` exec'd) until its framed
//!   window is in a compositor screenshot; beside `podman run` of
//!   `weston-simple-shm` on a profile socket to its window, and a bare
//!   `podman start`. Screenshots are polled back to back, so the window
//!   times carry up to one screenshot of delay (its median is printed).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zion_bus::{Compositor1Proxy, Profiles1Proxy};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use zion_tests::{TestEnv, TestImage};

const RESUME_ROUNDS: usize = 15;
const COLD_ROUNDS: usize = 7;
const WAIT: Duration = Duration::from_secs(30);
const WORK: (u8, u8, u8) = (0x34, 0x65, 0xa4);
const GAMING: (u8, u8, u8) = (0xcc, 0x00, 0x00);
const FRAME_PIXELS: usize = 300;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// A release binary beside this one.
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding bench-sessions itself")?;
    let bin = exe.with_file_name(name);
    if !bin.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p zion-sandboxd -p zion-compositor --bins`",
            bin.display()
        );
    }
    Ok(bin)
}

fn cli(env: &TestEnv, args: &[&str]) -> anyhow::Result<String> {
    let out = env
        .podman()
        .cli()
        .args(args)
        .output()
        .context("running podman")?;
    if !out.status.success() {
        bail!("podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn timed_cli(env: &TestEnv, args: &[&str]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    cli(env, args)?;
    Ok(start.elapsed())
}

struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        // The daemon first: it stops the profiles while Podman still runs.
        for child in self.0.iter_mut().rev() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let end = Instant::now() + Duration::from_secs(15);
            while Instant::now() < end && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Pixels of `colour` in the PNG at `path`.
fn count(path: &Path, colour: (u8, u8, u8)) -> anyhow::Result<usize> {
    let file = std::fs::File::open(path).context("opening the screenshot")?;
    let mut reader = png::Decoder::new(file)
        .read_info()
        .context("reading the screenshot")?;
    let mut rgba = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut rgba)
        .context("decoding the screenshot")?;
    rgba.truncate(info.buffer_size());
    let step = if info.color_type == png::ColorType::Rgba {
        4
    } else {
        3
    };
    Ok(rgba
        .chunks_exact(step)
        .filter(|p| (p[0], p[1], p[2]) == colour)
        .count())
}

struct Bench {
    env: TestEnv,
    compositor: Compositor1Proxy<'static>,
    profiles: Profiles1Proxy<'static>,
    shot: PathBuf,
    shot_times: Vec<Duration>,
}

impl Bench {
    /// Screenshots until a window framed in `colour` shows; returns when.
    async fn until_window(&mut self, colour: (u8, u8, u8)) -> anyhow::Result<Instant> {
        let end = Instant::now() + WAIT;
        let text = self
            .shot
            .to_str()
            .context("a UTF-8 screenshot path")?
            .to_owned();
        loop {
            let start = Instant::now();
            self.compositor.screenshot(&text).await?;
            self.shot_times.push(start.elapsed());
            if count(&self.shot, colour)? >= FRAME_PIXELS {
                return Ok(Instant::now());
            }
            if Instant::now() > end {
                bail!("no window framed in {colour:?} within {WAIT:?}");
            }
        }
    }

    async fn until_no_window(&mut self, colour: (u8, u8, u8)) -> anyhow::Result<()> {
        let end = Instant::now() + WAIT;
        let text = self
            .shot
            .to_str()
            .context("a UTF-8 screenshot path")?
            .to_owned();
        loop {
            self.compositor.screenshot(&text).await?;
            if count(&self.shot, colour)? == 0 {
                return Ok(());
            }
            if Instant::now() > end {
                bail!("a window framed in {colour:?} stayed for {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn state(&self, name: &str) -> anyhow::Result<String> {
        let list = self.profiles.list().await?;
        list.into_iter()
            .find(|(n, ..)| n == name)
            .map(|(_, _, _, state)| state)
            .with_context(|| format!("no profile {name}"))
    }

    async fn until_state(&self, name: &str, state: &str) -> anyhow::Result<()> {
        let end = Instant::now() + WAIT;
        while self.state(name).await? != state {
            if Instant::now() > end {
                bail!("profile {name} never became {state}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let daemon = sibling("zion-sandboxd")?;
    let compositor_bin = sibling("zion-compositor")?;
    let env = TestEnv::new()?;
    let image = env.image(TestImage::Wayland)?;
    let dir = env.xdg.config.join("zion");
    std::fs::create_dir_all(&dir)?;
    let profile = |name: &str, colour: &str, autostart: &str| {
        format!(
            "[[profile]]\nname = \"{name}\"\ncolour = \"{colour}\"\nimage = \"{image}\"\nnetwork = \"none\"\nhibernate_after = \"never\"\nautostart = [{autostart}]\n\n"
        )
    };
    let config = [
        profile("work", "#3465a4", "[\"weston-simple-shm\"]"),
        profile("personal", "#4e9a06", ""),
        profile("gaming", "#cc0000", ""),
    ]
    .concat();
    std::fs::write(dir.join("zion.toml"), config)?;

    let mut children = Children(Vec::new());
    children.0.push(
        env.command(&compositor_bin)
            .args(["--backend", "headless", "--size", "640x480", "--no-bar"])
            .arg("--runtime-dir")
            .arg(&env.xdg.runtime)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(env.root().join("compositor.log"))?)
            .spawn()
            .context("starting zion-compositor")?,
    );
    let conn = env.dbus().connect().await?;
    let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
    let wait_name = |name: &'static str| {
        let dbus = dbus.clone();
        async move {
            let end = Instant::now() + WAIT;
            while !dbus.name_has_owner(name.try_into()?).await? {
                if Instant::now() > end {
                    bail!("{name} never appeared on the bus");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            anyhow::Ok(())
        }
    };
    wait_name("org.zionos.Compositor1").await?;
    children.0.push(
        env.command(&daemon)
            .env("ZION_SANDBOX_POOL", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(env.root().join("daemon.log"))?)
            .spawn()
            .context("starting zion-sandboxd")?,
    );
    wait_name("org.zionos.Profiles1").await?;
    let mut b = Bench {
        compositor: Compositor1Proxy::new(&conn).await?,
        profiles: Profiles1Proxy::new(&conn).await?,
        shot: env.root().join("bench-shot.png"),
        shot_times: Vec::new(),
        env,
    };
    for name in ["work", "personal", "gaming"] {
        b.until_state(name, "running").await?;
    }

    // The CLI's container: the same image, idle like a profile.
    cli(
        &b.env,
        &[
            "create",
            "--name",
            "bench-cli",
            "--init",
            "--network",
            "none",
            "--cap-drop",
            "all",
            &image,
            "sleep",
            "infinity",
        ],
    )?;
    cli(&b.env, &["start", "bench-cli"])?;

    // Resume.
    let mut resume_call = Vec::new();
    let mut switch_thaw = Vec::new();
    let mut unpause = Vec::new();
    let mut changes = b.profiles.receive_state_changed().await?;
    b.compositor.switch_to("work").await?;
    for _ in 0..RESUME_ROUNDS {
        b.profiles.hibernate("personal").await?;
        let start = Instant::now();
        b.profiles.resume("personal").await?;
        resume_call.push(start.elapsed());
        if cli(
            &b.env,
            &["inspect", "--format", "{{.State.Status}}", "zion-personal"],
        )? != "running"
        {
            bail!("personal is not running after Resume returned");
        }

        b.profiles.hibernate("personal").await?;
        b.until_state("personal", "hibernated").await?;
        // Drain what the hibernation signalled.
        while tokio::time::timeout(Duration::from_millis(30), changes.next())
            .await
            .is_ok()
        {}
        let start = Instant::now();
        b.compositor.switch_to("personal").await?;
        let end = start + WAIT;
        loop {
            let signal = tokio::time::timeout_at(end.into(), changes.next())
                .await
                .context("no StateChanged after switching to a hibernated profile")?
                .context("the signal stream ended")?;
            let args = signal.args()?;
            if args.name == "personal" && args.state == "running" {
                break;
            }
        }
        switch_thaw.push(start.elapsed());
        b.compositor.switch_to("work").await?;

        cli(&b.env, &["pause", "bench-cli"])?;
        unpause.push(timed_cli(&b.env, &["unpause", "bench-cli"])?);
    }

    // Cold start.
    let mut start_call = Vec::new();
    let mut start_window = Vec::new();
    let mut run_window = Vec::new();
    let mut podman_start = Vec::new();
    let gaming_socket = b.env.xdg.runtime.join("zion/gaming");
    let mount = format!("{}:/run/zion", gaming_socket.display());
    for _ in 0..COLD_ROUNDS {
        // Zion: no container at all, then Start to the window of its
        // autostart app on its desktop.
        b.compositor.switch_to("work").await?;
        b.profiles.stop("work").await?;
        cli(&b.env, &["rm", "--force", "--time", "0", "zion-work"])?;
        b.until_no_window(WORK).await?;
        let start = Instant::now();
        b.profiles.start("work").await?;
        start_call.push(start.elapsed());
        start_window.push(b.until_window(WORK).await? - start);

        // The CLI: `podman run` of the same app on a profile socket.
        b.compositor.switch_to("gaming").await?;
        let start = Instant::now();
        cli(
            &b.env,
            &[
                "run",
                "-d",
                "--name",
                "bench-run",
                "--init",
                "--network",
                "none",
                "--cap-drop",
                "all",
                "-v",
                &mount,
                "-e",
                "XDG_RUNTIME_DIR=/run/zion",
                "-e",
                "WAYLAND_DISPLAY=wayland-0",
                &image,
                "weston-simple-shm",
            ],
        )?;
        run_window.push(b.until_window(GAMING).await? - start);
        cli(&b.env, &["rm", "--force", "--time", "0", "bench-run"])?;
        b.until_no_window(GAMING).await?;

        cli(&b.env, &["stop", "--time", "0", "bench-cli"])?;
        podman_start.push(timed_cli(&b.env, &["start", "bench-cli"])?);
    }
    cli(&b.env, &["rm", "--force", "--time", "0", "bench-cli"])?;

    println!(
        "profile sessions, medians (private Podman {}; release zion-sandboxd and zion-compositor, headless):",
        b.env.podman().uri()
    );
    let row = |what: &str, zion: Duration, cli_what: &str, cli: Duration| {
        println!(
            "  {what:<48} {:>10}   {cli_what:<30} {:>10}   ratio {:.2}x",
            ms(zion),
            ms(cli),
            cli.as_secs_f64() / zion.as_secs_f64()
        );
    };
    println!("resume ({RESUME_ROUNDS} rounds; aim < 50 ms):");
    row(
        "Profiles1.Resume until unpaused",
        median(resume_call),
        "podman unpause (CLI)",
        median(unpause.clone()),
    );
    row(
        "SwitchTo(hibernated) until StateChanged running",
        median(switch_thaw),
        "podman unpause (CLI)",
        median(unpause),
    );
    println!("cold start ({COLD_ROUNDS} rounds; aim < 1 s to the first window):");
    let run = median(run_window);
    row(
        "Profiles1.Start to first window (screenshot)",
        median(start_window),
        "podman run app to first window",
        run,
    );
    row(
        "Profiles1.Start call (create+start+autostart)",
        median(start_call),
        "podman start (CLI, no app)",
        median(podman_start),
    );
    println!(
        "  (window times poll Compositor1.Screenshot back to back: median screenshot {})",
        ms(median(b.shot_times.clone()))
    );
    Ok(())
}

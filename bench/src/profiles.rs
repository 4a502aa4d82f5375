//! bench-profiles: profile lifecycle latency through zion-profiles beside the
//! same operations with the `podman` command line, against the same private
//! Podman service, in one run. Prints medians and ratios (CLI / Zion: above 1
//! means Zion is faster).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use zion_config::{Config, Network};
use zion_profiles::{container_spec, HostDevices, Lifecycle, PodmanClient, ProfilePaths};
use zion_tests::{TestEnv, TestImage};

const ROUNDS: usize = 15;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn cli(env: &TestEnv, args: &[&str]) -> anyhow::Result<()> {
    let out = env
        .podman()
        .cli()
        .args(args)
        .output()
        .context("running podman")?;
    if !out.status.success() {
        bail!("podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = TestEnv::new()?;
    let image = env.image(TestImage::Base)?;
    let mut profile = Config::defaults()
        .profile("work")
        .cloned()
        .context("default work profile")?;
    profile.image = image.clone();
    profile.network = Network::None;
    profile.devices.clear();
    let paths = ProfilePaths::standard("work", &env.xdg.data.join("zion"), &env.xdg.runtime);
    for dir in paths.folders() {
        std::fs::create_dir_all(dir)?;
    }
    let spec = container_spec(&profile, &paths, &HostDevices::default()).spec;
    let lc = Lifecycle::new(PodmanClient::unix(env.podman().socket()));

    let mut zion = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut podman = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        // zion-profiles
        let start = Instant::now();
        lc.up(&spec).await?;
        zion[0].push(start.elapsed());
        let start = Instant::now();
        let out = lc.exec_capture("work", &["true".into()]).await?;
        zion[1].push(start.elapsed());
        if out.exit_code != 0 {
            bail!("exec failed");
        }
        let start = Instant::now();
        lc.freeze("work").await?;
        zion[2].push(start.elapsed());
        let start = Instant::now();
        lc.thaw("work").await?;
        zion[3].push(start.elapsed());
        lc.remove("work").await?;

        // The podman CLI, same service, same hardening and limits.
        podman[0].push(timed(|| {
            cli(
                &env,
                &[
                    "create",
                    "--name",
                    "bench-cli",
                    "--init",
                    "--network",
                    "none",
                    "--cap-drop",
                    "all",
                    "--security-opt",
                    "no-new-privileges",
                    "--pids-limit",
                    "4096",
                    &image,
                    "sleep",
                    "infinity",
                ],
            )?;
            cli(&env, &["start", "bench-cli"])
        })?);
        podman[1].push(timed(|| cli(&env, &["exec", "bench-cli", "true"]))?);
        podman[2].push(timed(|| cli(&env, &["pause", "bench-cli"]))?);
        podman[3].push(timed(|| cli(&env, &["unpause", "bench-cli"]))?);
        cli(&env, &["rm", "--force", "--time", "0", "bench-cli"])?;
    }

    println!(
        "profile lifecycle, median of {ROUNDS} rounds (private Podman {}):",
        env.podman().uri()
    );
    println!(
        "{:<16} {:>12} {:>12} {:>8}",
        "operation", "zion", "podman CLI", "ratio"
    );
    for (i, name) in ["create+start", "exec", "freeze", "thaw"]
        .iter()
        .enumerate()
    {
        let z = median(zion[i].clone());
        let p = median(podman[i].clone());
        println!(
            "{:<16} {:>10.1}ms {:>10.1}ms {:>7.2}x",
            name,
            z.as_secs_f64() * 1e3,
            p.as_secs_f64() * 1e3,
            p.as_secs_f64() / z.as_secs_f64()
        );
    }
    Ok(())
}

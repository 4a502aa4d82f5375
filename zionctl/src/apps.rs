//! `zionctl apps`, `zionctl launch` and `zionctl launcher`: the applications
//! installed in each profile (read by the daemon from the profile's files),
//! started in their profile; the launcher shows them in a dmenu-style menu
//! (fuzzel by default), each line led by its profile's label.

use std::collections::HashMap;
use std::io::Write;
use std::process::{ExitCode, Stdio};

use clap::Args;
use zion_bus::{AppEntry, Profiles1Proxy};

use crate::bus::{self, explain};

/// `zionctl apps`.
#[derive(Debug, Args)]
pub struct AppsArgs {
    /// Only this profile's applications.
    profile: Option<String>,
    /// Prints JSON: a list of {profile, id, name, comment, argv}.
    #[arg(long)]
    json: bool,
}

/// `zionctl launcher`.
#[derive(Debug, Args)]
pub struct LauncherArgs {
    /// The menu program: reads one line per choice on its standard input and
    /// prints the chosen line (dmenu's convention).
    #[arg(
        long,
        num_args = 1..,
        allow_hyphen_values = true,
        default_values = ["fuzzel", "--dmenu", "--prompt", "run in profile: "]
    )]
    menu: Vec<String>,
}

/// Lists the applications.
pub fn apps(args: AppsArgs) -> ExitCode {
    bus::run(async move {
        let (proxy, labels) = connect().await?;
        let apps = proxy
            .apps(args.profile.as_deref().unwrap_or(""))
            .await
            .map_err(explain)?;
        if args.json {
            let list: Vec<serde_json::Value> = apps
                .iter()
                .map(|a| {
                    serde_json::json!({"profile": a.profile, "id": a.id, "name": a.name,
                        "comment": a.comment, "argv": a.argv})
                })
                .collect();
            println!("{}", serde_json::Value::Array(list));
        } else {
            for app in &apps {
                println!("{}", line(app, &labels));
            }
        }
        Ok(())
    })
}

/// Starts one application in its profile.
pub fn launch(profile: String, app: String) -> ExitCode {
    bus::run(async move {
        let (proxy, _) = connect().await?;
        proxy.launch(&profile, &app).await.map_err(explain)
    })
}

/// Shows the menu and starts what was chosen.
pub fn launcher(args: LauncherArgs) -> ExitCode {
    bus::run(async move {
        let (proxy, labels) = connect().await?;
        let apps = proxy.apps("").await.map_err(explain)?;
        if apps.is_empty() {
            return Err("no profile offers an application (is any profile created?)".into());
        }
        let lines: Vec<String> = apps.iter().map(|a| line(a, &labels)).collect();
        let chosen = choose(&args.menu, &lines).await?;
        let Some(chosen) = chosen else {
            return Ok(()); // the menu was closed
        };
        // Our own line, matched whole: the profile's label leads it, so no
        // name another profile wrote can stand for this profile's entry.
        let Some(index) = lines.iter().position(|l| *l == chosen) else {
            return Err(format!(
                "the menu answered a line it was not given: {chosen:?}"
            ));
        };
        let app = &apps[index];
        proxy.launch(&app.profile, &app.id).await.map_err(explain)
    })
}

/// Connects and reads the profiles' labels.
async fn connect() -> Result<(Profiles1Proxy<'static>, HashMap<String, String>), String> {
    let bus = bus::session().await?;
    let proxy = Profiles1Proxy::new(&bus).await.map_err(|e| e.to_string())?;
    let labels = proxy
        .list()
        .await
        .map_err(explain)?
        .into_iter()
        .map(|(name, label, _, _)| (name, label))
        .collect();
    Ok((proxy, labels))
}

/// `[Work] Foot — Terminal  (work/foot)`: the profile's label first, in
/// Zion's words; then what the profile wrote.
fn line(app: &AppEntry, labels: &HashMap<String, String>) -> String {
    let label = labels.get(&app.profile).unwrap_or(&app.profile);
    let comment = if app.comment.is_empty() {
        String::new()
    } else {
        format!(" — {}", app.comment)
    };
    format!(
        "[{label}] {}{comment}  ({}/{})",
        app.name, app.profile, app.id
    )
}

/// Runs the menu with `lines` on its input; its first output line, or
/// `None` when it printed nothing (closed without a choice).
async fn choose(menu: &[String], lines: &[String]) -> Result<Option<String>, String> {
    let (program, menu_args) = menu.split_first().ok_or("no menu program")?;
    let mut command = std::process::Command::new(program);
    command
        .args(menu_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    // The menu goes with zionctl: a launcher stopped (or killed) leaves no
    // menu on screen whose choice nobody would run. (Spawned on the main
    // thread: zionctl's runtime is current-thread, and the signal follows
    // the spawning thread.)
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no
    // memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run the menu `{program}`: {e}"))?;
    let input = lines.join("\n") + "\n";
    let mut stdin = child.stdin.take().ok_or("the menu has no input")?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the menu `{program}`: {e}"))?;
    // A menu may close its input early (a choice made at once): not an error.
    let _ = writer.join();
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .next()
        .map(str::to_owned)
        .filter(|l| !l.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profiles_label_leads_every_line() {
        let labels = HashMap::from([("work".to_owned(), "Work".to_owned())]);
        let app = AppEntry {
            profile: "work".into(),
            id: "foot".into(),
            name: "Foot".into(),
            comment: "Terminal".into(),
            argv: vec!["foot".into()],
        };
        assert_eq!(line(&app, &labels), "[Work] Foot — Terminal  (work/foot)");
        let personal = AppEntry {
            profile: "personal".into(),
            name: "[Work] Foot — Terminal  (work/foot)".into(),
            comment: String::new(),
            ..app
        };
        assert!(line(&personal, &labels).starts_with("[personal] "));
    }
}

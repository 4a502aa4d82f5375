//! zionctl: Zion from the command line.

mod apps;
mod audit;
mod bus;
mod config;
mod docs;
mod image;
mod lock;
mod profiles;
mod quarantine;
mod recall;
mod sandbox;
mod switch;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Controls a Zion session.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The applications installed in the profiles (read from their files).
    Apps(apps::AppsArgs),
    /// Starts an application (an id `zionctl apps` lists) in its profile.
    Launch {
        /// The profile.
        profile: String,
        /// The application's id.
        app: String,
    },
    /// Shows every profile's applications in a menu (fuzzel) and starts the
    /// one chosen in its profile.
    Launcher(apps::LauncherArgs),
    /// The release audit log: verify its chain and anchored head.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// The configuration file.
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
    /// Profile images: build them from their recipes.
    Image {
        #[command(subcommand)]
        command: image::ImageCommand,
    },
    /// The session's profiles.
    Profiles {
        #[command(subcommand)]
        command: profiles::ProfilesCommand,
    },
    /// The quarantine: downloads waiting to be scanned and released.
    Quarantine {
        #[command(subcommand)]
        command: quarantine::QuarantineCommand,
    },
    /// Disposable browsers: open, list, close.
    Sandbox {
        #[command(subcommand)]
        command: sandbox::SandboxCommand,
    },
    /// Shows a profile's desktop (asks the compositor).
    Switch {
        /// The profile, as in `zionctl profiles list`.
        profile: String,
    },
    /// Locks one profile's desktop: a cover instead of its windows, no
    /// input to them; the other desktops keep running.
    Lock {
        /// The profile, as in `zionctl profiles list`.
        profile: String,
    },
    /// Unlocks a locked profile's desktop once you authenticate to the
    /// session's locker (it locks the whole session to ask).
    Unlock {
        /// The profile, as in `zionctl profiles list`.
        profile: String,
    },
    /// Prints the shell completion script (e.g. `zionctl completions bash >
    /// ~/.local/share/bash-completion/completions/zionctl`).
    Completions { shell: clap_complete::Shell },
    /// Prints the manual page (e.g. `zionctl man | man -l -`).
    Man,
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Apps(args) => apps::apps(args),
        Command::Launch { profile, app } => apps::launch(profile, app),
        Command::Launcher(args) => apps::launcher(args),
        Command::Audit { command } => audit::run(command),
        Command::Config { command } => config::run(command),
        Command::Image { command } => image::run(command),
        Command::Profiles { command } => profiles::run(command),
        Command::Quarantine { command } => quarantine::run(command),
        Command::Sandbox { command } => sandbox::run(command),
        Command::Switch { profile } => switch::run(&profile),
        Command::Lock { profile } => lock::lock(&profile),
        Command::Unlock { profile } => lock::unlock(&profile),
        Command::Completions { shell } => docs::completions(shell, Args::command()),
        Command::Man => docs::man(Args::command()),
    }
}

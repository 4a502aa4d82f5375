//! zionctl: Zion from the command line.

mod config;
mod profiles;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Controls a Zion session.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The configuration file.
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
    /// The session's profiles.
    Profiles {
        #[command(subcommand)]
        command: profiles::ProfilesCommand,
    },
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Config { command } => config::run(command),
        Command::Profiles { command } => profiles::run(command),
    }
}

//! zionctl: Zion from the command line.

mod config;

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
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Config { command } => config::run(command),
    }
}

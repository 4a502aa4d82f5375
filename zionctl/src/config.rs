//! `zionctl config`: check and show the configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use zion_profiles::config::Config;
use zion_sandboxd::SessionPaths;

/// What `zionctl config` does.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Checks a configuration file and says precisely what is wrong.
    Check {
        /// The file [default: $XDG_CONFIG_HOME/zion/zion.toml].
        file: Option<PathBuf>,
    },
    /// Prints the built-in default configuration.
    Defaults,
}

/// Runs a `zionctl config` command.
pub fn run(command: ConfigCommand) -> ExitCode {
    match command {
        ConfigCommand::Check { file } => {
            let file = file.unwrap_or_else(|| SessionPaths::from_env().config_file);
            match Config::load(&file) {
                Ok(config) => {
                    let names: Vec<String> =
                        config.profiles.iter().map(|p| p.name.to_string()).collect();
                    println!(
                        "{}: ok ({} profiles: {})",
                        file.display(),
                        names.len(),
                        names.join(", ")
                    );
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("{err}");
                    ExitCode::FAILURE
                }
            }
        }
        ConfigCommand::Defaults => {
            print!("{}", Config::defaults().to_toml());
            ExitCode::SUCCESS
        }
    }
}

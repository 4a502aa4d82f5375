//! `zionctl completions SHELL` and `zionctl man`: shell completions and the
//! manual page, generated from the same clap definition as the parser, so
//! they never disagree with it.

use std::io::Write;
use std::process::ExitCode;

use clap_complete::Shell;

/// Prints the completion script for `shell` for the command `cmd`.
pub fn completions(shell: Shell, mut cmd: clap::Command) -> ExitCode {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// Prints the manual page (roff, section 1) of `cmd`, its subcommands
/// listed.
pub fn man(cmd: clap::Command) -> ExitCode {
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(cmd).render(&mut out) {
        eprintln!("zionctl: writing the manual page: {e}");
        return ExitCode::FAILURE;
    }
    match std::io::stdout().write_all(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zionctl: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Installs Zion's firewall ([`zion_profiles::network::firewall`]): the
//! rules that keep every Zion bridge off the host and off other containers.
//!
//! The rules name no profile (they match the bridges by interface prefix),
//! so they are installed once, are the same for every session, and stay
//! when the daemon exits: profile containers outlive the daemon. Each call
//! checks them and changes only what differs, so it never leaves a moment
//! without them.

use std::process::Command;

use zion_profiles::network::{firewall, FirewallChain};

/// The firewall could not be put in place.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A tool could not be run (missing, or no permission).
    #[error("`{command}` could not run: {source}; containers with network = \"full\" can reach the host (install iptables and run zion-sandboxd where it may change the firewall)")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// A tool ran and refused.
    #[error("`{command}` failed: {stderr}; containers with network = \"full\" can reach the host")]
    Failed {
        /// The command line.
        command: String,
        /// What it said.
        stderr: String,
    },
}

/// The firewall programs: IPv4 and IPv6.
const TOOLS: [&str; 2] = ["iptables", "ip6tables"];

/// Puts Zion's chains and their hooks in place for IPv4 and IPv6 (blocking:
/// it runs `iptables`).
pub fn install() -> Result<(), FirewallError> {
    for tool in TOOLS {
        for chain in firewall() {
            install_chain(tool, &chain)?;
        }
    }
    Ok(())
}

fn install_chain(tool: &str, chain: &FirewallChain) -> Result<(), FirewallError> {
    let wanted: Vec<String> = std::iter::once(format!("-N {}", chain.name))
        .chain(
            chain
                .rules
                .iter()
                .map(|r| format!("-A {} {}", chain.name, r.join(" "))),
        )
        .collect();
    match run(tool, &["-w", "-S", chain.name]) {
        Ok(now) if lines(&now) == wanted => {}
        Ok(_) => {
            // Rebuilt in place: flushed and filled again at once.
            run(tool, &["-w", "-F", chain.name])?;
            append_rules(tool, chain)?;
        }
        Err(_) => {
            run(tool, &["-w", "-N", chain.name])?;
            append_rules(tool, chain)?;
        }
    }
    hook_first(tool, chain)
}

fn append_rules(tool: &str, chain: &FirewallChain) -> Result<(), FirewallError> {
    for rule in &chain.rules {
        let mut args = vec!["-w", "-A", chain.name];
        args.extend(rule.iter().map(String::as_str));
        run(tool, &args)?;
    }
    Ok(())
}

/// Makes the jump to the chain the hook's first rule: netavark adds its
/// own accepting rules to `FORWARD`, and a jump behind them would come too
/// late. A new jump is inserted before older ones are deleted, so the
/// chain is never unhooked.
fn hook_first(tool: &str, chain: &FirewallChain) -> Result<(), FirewallError> {
    let jump = format!("-A {} -j {}", chain.hook, chain.name);
    let rules = |text: &str| -> Vec<String> {
        lines(text)
            .into_iter()
            .filter(|l| l.starts_with("-A "))
            .collect()
    };
    let now = rules(&run(tool, &["-w", "-S", chain.hook])?);
    if now.first() == Some(&jump) && now.iter().filter(|l| **l == jump).count() == 1 {
        return Ok(());
    }
    run(tool, &["-w", "-I", chain.hook, "1", "-j", chain.name])?;
    let now = rules(&run(tool, &["-w", "-S", chain.hook])?);
    // Rule numbers count from 1; delete from the bottom so they hold.
    let stale: Vec<usize> = now
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| **l == jump)
        .map(|(i, _)| i + 1)
        .collect();
    for number in stale.into_iter().rev() {
        run(tool, &["-w", "-D", chain.hook, &number.to_string()])?;
    }
    Ok(())
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

fn run(tool: &str, args: &[&str]) -> Result<String, FirewallError> {
    let command = format!("{tool} {}", args.join(" "));
    let out = Command::new(tool)
        .args(args)
        .output()
        .map_err(|source| FirewallError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(FirewallError::Failed {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

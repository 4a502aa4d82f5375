//! Which Podman network a profile's containers join, and the firewall rules
//! that keep them off the host: pure functions, tested without Podman.
//!
//! Every profile has its own bridge network, `zion-<profile>`, and its
//! disposable browsers another, `zion-<profile>.sandboxes` (a `.` cannot
//! be in a profile's name, so no profile's network can be taken for
//! another's sandboxes'). Each is created with netavark's `isolate` option:
//! netavark drops what one isolated bridge forwards to another, so no
//! profile's container reaches another profile's, nor a sandbox a profile.
//! `isolate` does not keep a container off the host (the bridge's gateway
//! is the host's own address, as is every other address it has): the
//! daemon adds the [`firewall`] for that, matching every Zion bridge by
//! its interface name, which starts with [`BRIDGE_PREFIX`].

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Label on every network Zion creates, valued with the network's name.
pub const LABEL_NETWORK: &str = "org.zionos.network";

/// Every Zion bridge's interface name starts with this, so that one set of
/// firewall rules (`-i zn+`) covers the bridges of every profile.
pub const BRIDGE_PREFIX: &str = "zn";

/// The network of `profile`'s own container.
pub fn profile_network(profile: &str) -> String {
    format!("zion-{profile}")
}

/// The network of `profile`'s disposable browsers.
pub fn sandbox_network(profile: &str) -> String {
    format!("zion-{profile}.sandboxes")
}

/// The host interface of a Zion network's bridge: [`BRIDGE_PREFIX`] and a
/// hash of the network's name and `scope` (interface names have at most 15
/// bytes, profile names up to 32). The scope (the session's data folder)
/// keeps two sessions on one machine, each with its own Podman and a
/// `zion-work`, off each other's bridge: one removing its network would
/// otherwise take the other's bridge with it.
pub fn bridge_interface(network: &str, scope: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(scope.as_bytes());
    hasher.update([0]);
    hasher.update(network.as_bytes());
    let digest = hasher.finalize();
    format!("{BRIDGE_PREFIX}{}", &hex::encode(digest)[..10])
}

/// What Zion asks of one of its networks (the fields of Podman's network
/// create request it sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// The network's name.
    pub name: String,
    /// The bridge's interface name on the host.
    pub interface: String,
    /// Driver options: `isolate = true`.
    pub options: BTreeMap<String, String>,
    /// Labels: [`LABEL_NETWORK`].
    pub labels: BTreeMap<String, String>,
}

/// The network called `name`: a bridge named by [`bridge_interface`],
/// isolated from every other isolated bridge, no DNS server of Podman's
/// (aardvark would listen on the host's side of the bridge; containers use
/// the host's resolvers instead), routed to the outside. `scope` as for
/// [`bridge_interface`].
pub fn network_spec(name: &str, scope: &str) -> NetworkSpec {
    NetworkSpec {
        name: name.to_owned(),
        interface: bridge_interface(name, scope),
        options: BTreeMap::from([("isolate".to_owned(), "true".to_owned())]),
        labels: BTreeMap::from([(LABEL_NETWORK.to_owned(), name.to_owned())]),
    }
}

/// Whether an existing network (from Podman's inspect reply) is one Zion
/// can adopt as `spec`: isolated, on the expected bridge.
pub fn adoptable(spec: &NetworkSpec, inspect: &serde_json::Value) -> bool {
    let isolated = inspect["options"]["isolate"].as_str() == Some("true");
    let interface = inspect["network_interface"].as_str() == Some(spec.interface.as_str());
    isolated && interface
}

/// One of Zion's iptables chains: its name, the built-in chain that jumps
/// to it first, and its rules (arguments after `iptables -A <chain>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallChain {
    /// The chain's name.
    pub name: &'static str,
    /// The built-in chain (of the `filter` table) that jumps to it.
    pub hook: &'static str,
    /// Its rules, in order.
    pub rules: Vec<Vec<String>>,
}

/// Zion's firewall, the same for IPv4 (`iptables`) and IPv6 (`ip6tables`:
/// a bridge has a link-local address even when its network has no IPv6).
/// From a Zion bridge the host answers only what it asked for itself:
/// nothing a container opens reaches a host socket, whichever of the
/// host's addresses it aims at. Nothing is forwarded from a Zion bridge to
/// another one or to one of Podman's own bridges (other containers). What
/// is forwarded elsewhere (the internet) passes.
pub fn firewall() -> Vec<FirewallChain> {
    let zion = format!("{BRIDGE_PREFIX}+");
    let zion = zion.as_str();
    let rule = |args: &[&str]| -> Vec<String> { args.iter().map(|a| (*a).to_owned()).collect() };
    vec![
        FirewallChain {
            name: "ZION_INPUT",
            hook: "INPUT",
            rules: vec![
                rule(&[
                    "-i",
                    zion,
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "RELATED,ESTABLISHED",
                    "-j",
                    "RETURN",
                ]),
                rule(&["-i", zion, "-j", "DROP"]),
            ],
        },
        FirewallChain {
            name: "ZION_FORWARD",
            hook: "FORWARD",
            rules: vec![
                rule(&["-i", zion, "-o", zion, "-j", "DROP"]),
                rule(&["-i", zion, "-o", "podman+", "-j", "DROP"]),
                rule(&["-i", zion, "-o", "cni-podman+", "-j", "DROP"]),
            ],
        },
    ]
}

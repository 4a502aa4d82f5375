//! The configuration written back as TOML that `Config::parse` reads equal:
//! every value spelled out, in the order of the documentation.

use std::fmt::Write;

use super::units::format_size;
use super::{Config, Focus, Profile, SandboxSettings};

/// A TOML string literal, escaped as TOML needs.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A TOML array of strings.
fn list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| quoted(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

// `write!` into a String cannot fail; the results are ignored on purpose.
fn profile(out: &mut String, p: &Profile) {
    let _ = writeln!(out, "\n[[profile]]");
    let _ = writeln!(out, "name = {}", quoted(p.name.as_ref()));
    let _ = writeln!(out, "label = {}", quoted(&p.label));
    let _ = writeln!(out, "colour = \"{}\"", p.colour);
    let _ = writeln!(out, "image = {}", quoted(&p.image));
    if let Some(cpus) = p.cpus {
        // `{:?}` keeps the decimal point, so TOML reads a float back.
        let _ = writeln!(out, "cpus = {cpus:?}");
    }
    if let Some(memory) = p.memory {
        let _ = writeln!(out, "memory = \"{}\"", format_size(memory));
    }
    let _ = writeln!(out, "pids = {}", p.pids);
    let devices: Vec<String> = p.devices.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "devices = {}", list(&devices));
    let _ = writeln!(out, "network = \"{}\"", p.network);
    if !p.capabilities.is_empty() {
        let _ = writeln!(out, "capabilities = {}", list(&p.capabilities));
    }
    let apps: Vec<String> = p.autostart.iter().map(|argv| list(argv)).collect();
    let _ = writeln!(out, "autostart = [{}]", apps.join(", "));
    let _ = writeln!(out, "terminal = {}", list(&p.terminal));
    let _ = writeln!(out, "hibernate_after = \"{}\"", p.hibernate_after);
    let _ = writeln!(out, "hibernate = \"{}\"", p.hibernate);
    if let Some(hotkey) = &p.hotkey {
        let _ = writeln!(out, "hotkey = \"{hotkey}\"");
    }
    let _ = writeln!(out, "restart = \"{}\"", p.restart);
    for b in &p.binds {
        let _ = writeln!(out, "\n[[profile.binds]]");
        let _ = writeln!(out, "host = {}", quoted(&b.host.to_string_lossy()));
        let _ = writeln!(out, "target = {}", quoted(&b.target.to_string_lossy()));
        let _ = writeln!(out, "read_only = {}", b.read_only);
    }
}

/// See [`Config::to_toml`].
pub(super) fn to_toml(config: &Config) -> String {
    let mut out = String::from("# Zion's configuration: one [[profile]] per desktop, in order.\n");
    for p in &config.profiles {
        profile(&mut out, p);
    }
    out.push_str("\n[hotkeys]\n");
    for (chord, action) in &config.hotkeys.bindings {
        let _ = writeln!(out, "{} = {}", quoted(chord), quoted(action));
    }
    if config.focus != Focus::default() {
        let f = &config.focus;
        let _ = writeln!(out, "\n[focus]");
        let _ = writeln!(out, "cpu = {}", f.cpu);
        let _ = writeln!(out, "active_weight = {}", f.active_weight);
        let _ = writeln!(out, "background_weight = {}", f.background_weight);
    }
    if config.sandbox != SandboxSettings::default() {
        let _ = writeln!(out, "\n[sandbox]\npool = {}", config.sandbox.pool);
    }
    if config.session != super::Session::default() {
        let argv: Vec<String> = config.session.locker.iter().map(|a| quoted(a)).collect();
        let _ = writeln!(out, "\n[session]\nlocker = [{}]", argv.join(", "));
    }
    if !config.quarantine.is_empty() {
        // Serialised under its own key so that nested tables come out as
        // `[quarantine.x]`, not as top-level sections.
        let mut wrapper = toml::Table::new();
        wrapper.insert(
            "quarantine".to_owned(),
            toml::Value::Table(config.quarantine.clone()),
        );
        match toml::to_string(&wrapper) {
            Ok(text) => {
                let _ = write!(out, "\n{text}");
            }
            Err(e) => tracing::warn!("the [quarantine] table cannot be written: {e}"),
        }
    }
    out
}

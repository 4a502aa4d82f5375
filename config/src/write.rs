//! The configuration written back as TOML that `Config::parse` reads equal:
//! every value spelled out, in the order of the documentation.

use std::fmt::Write;

use crate::podman::PodmanSettings;
use crate::quarantine::Policy;
use crate::units::format_duration;
use crate::units::format_size;
use crate::{Config, Focus, Profile, SandboxSettings};

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

fn quarantine(out: &mut String, q: &Policy) {
    let _ = writeln!(out, "\n[quarantine]");
    let _ = writeln!(out, "max_size = \"{}\"", q.max_size);
    let _ = writeln!(out, "auto_release = \"{}\"", q.auto_release);
    let _ = writeln!(
        out,
        "default_destination = {}",
        quoted(&q.default_destination.to_string())
    );
    let _ = writeln!(out, "transfer_hold = \"{}\"", q.transfer_hold);
    let _ = writeln!(out, "quota = \"{}\"", q.quota);
    let _ = writeln!(out, "reserve = \"{}\"", q.reserve);
    let _ = writeln!(out, "engine = \"{}\"", q.engine);
    if q.archives != crate::quarantine::Archives::default() {
        let a = &q.archives;
        let _ = writeln!(
            out,
            "archives = {{ depth = {}, members = {}, unpacked = \"{}\", ratio = {} }}",
            a.depth, a.members, a.unpacked, a.ratio
        );
    }
    let mut rules = q.transfers.configured().peekable();
    if rules.peek().is_some() {
        let _ = writeln!(out, "\n[quarantine.transfers]");
        for (key, rule) in rules {
            let _ = writeln!(out, "{} = \"{}\"", quoted(key), rule.as_str());
        }
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
        let _ = writeln!(
            out,
            "{} = {}",
            quoted(&chord.to_string()),
            quoted(&action.to_string())
        );
    }
    if config.focus != Focus::default() {
        let f = &config.focus;
        let _ = writeln!(out, "\n[focus]");
        let _ = writeln!(out, "cpu = {}", f.cpu);
        let _ = writeln!(out, "active_weight = {}", f.active_weight);
        let _ = writeln!(out, "background_weight = {}", f.background_weight);
    }
    if config.sandbox != SandboxSettings::default() {
        let sandbox = &config.sandbox;
        let _ = writeln!(out, "\n[sandbox]\npool = {}", sandbox.pool);
        if sandbox.runtime != SandboxSettings::default().runtime {
            let _ = writeln!(out, "runtime = \"{}\"", sandbox.runtime);
        }
        if sandbox.browser != SandboxSettings::default().browser {
            let _ = writeln!(out, "browser = \"{}\"", sandbox.browser);
        }
    }
    if config.session != crate::Session::default() {
        let session = &config.session;
        let argv: Vec<String> = session.locker.iter().map(|a| quoted(a)).collect();
        let _ = writeln!(out, "\n[session]\nlocker = [{}]", argv.join(", "));
        if !session.bar {
            let _ = writeln!(out, "bar = false");
        }
        if session.idle != crate::session::Idle::default() {
            let delay = |d: Option<std::time::Duration>| {
                quoted(&d.map_or_else(|| "never".to_owned(), crate::units::format_duration))
            };
            let _ = writeln!(
                out,
                "idle = {{ lock_after = {}, screen_off_after = {} }}",
                delay(session.idle.lock_after),
                delay(session.idle.screen_off_after)
            );
        }
        let argv: Vec<String> = config
            .session
            .notifications
            .iter()
            .map(|a| quoted(a))
            .collect();
        let _ = writeln!(out, "notifications = [{}]", argv.join(", "));
    }
    if config.podman != PodmanSettings::default() {
        let p = &config.podman;
        let _ = writeln!(out, "\n[podman]");
        let _ = writeln!(
            out,
            "connect_timeout = \"{}\"",
            format_duration(p.connect_timeout)
        );
        let _ = writeln!(
            out,
            "request_timeout = \"{}\"",
            format_duration(p.request_timeout)
        );
        let long = p
            .long_timeout
            .map_or_else(|| "never".to_owned(), format_duration);
        let _ = writeln!(out, "long_timeout = \"{long}\"");
    }
    crate::input::write(&mut out, &config.input);
    crate::outputs::write(&mut out, &config.outputs);
    if config.quarantine != Policy::default() {
        quarantine(&mut out, &config.quarantine);
    }
    out
}

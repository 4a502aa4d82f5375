//! `zionctl quarantine`: the quarantine through `org.zionos.Quarantine1`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::bus::{self, explain};
use crate::recall;
use futures_util::StreamExt;
use zion_bus::quarantine::{human_size, item_events, utc, ItemEvent, ItemInfo, Quarantine1Proxy};

/// What `zionctl quarantine` does.
#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Lists the items still in quarantine (with --all, released and deleted ones too).
    List {
        /// Include released and deleted items.
        #[arg(long)]
        all: bool,
        /// Only what came from this profile (its downloads and what it sent).
        #[arg(long, value_name = "PROFILE")]
        from: Option<String>,
        /// Only files sent between profiles (no browser downloads).
        #[arg(long)]
        transfers: bool,
    },
    /// Shows everything about one item: hash, verdict, matched rules with their authors.
    Show { id: u64 },
    /// Releases an item to `shared` or `profile:NAME`.
    Release {
        id: u64,
        /// `shared` or `profile:NAME`.
        destination: String,
        /// Release it even though it did not scan clean.
        #[arg(long = "override")]
        override_verdict: bool,
    },
    /// Deletes an item.
    Delete { id: u64 },
    /// Scans an item again.
    Rescan { id: u64 },
    /// Keeps an item from being released automatically.
    Hold { id: u64 },
    /// Lets a held item be released automatically again.
    Unhold { id: u64 },
    /// Moves every copy of a recalled item that is still the released file
    /// back into the quarantine (a new rule matched it after its release).
    Recall { id: u64 },
    /// Makes a safe copy of a PDF, an image or an office document, in a
    /// converter with no network (gVisor when Podman has it): pages drawn
    /// to pixels and rebuilt, images written again without metadata,
    /// office documents made a PDF by LibreOffice, then drawn to pixels.
    /// The copy is a new item, scanned like any other; the original stays
    /// held.
    Sanitise { id: u64 },
    /// Prints every change as it happens (Ctrl+C stops).
    Watch {
        /// Stop after this many changes.
        #[arg(long)]
        count: Option<usize>,
    },
}

/// Runs a `zionctl quarantine` command.
pub fn run(command: QuarantineCommand) -> ExitCode {
    bus::run(call(command))
}

async fn call(command: QuarantineCommand) -> Result<(), String> {
    let bus = bus::session().await?;
    let proxy = Quarantine1Proxy::new(&bus).await.map_err(explain)?;
    match command {
        QuarantineCommand::List {
            all,
            from,
            transfers,
        } => {
            let items = proxy.list().await.map_err(explain)?;
            let recalls = recall::recalls(&proxy).await;
            let shown: Vec<&ItemInfo> = items
                .iter()
                .filter(|i| {
                    all || !matches!(i.state.as_str(), "released" | "deleted")
                        || recall::waiting(&recalls, i.id)
                })
                .filter(|i| from.as_ref().is_none_or(|p| &i.profile == p))
                .filter(|i| !transfers || i.source.starts_with("profile:"))
                .collect();
            if shown.is_empty() {
                println!("the quarantine is empty");
            } else {
                println!(
                    "{:>5}  {:<10} {:>9}  {:<24} NAME",
                    "ID", "STATE", "SIZE", "SOURCE"
                );
                for item in shown {
                    println!("{}{}", list_line(item), recall::mark(&recalls, item.id));
                }
            }
        }
        QuarantineCommand::Show { id } => {
            print!("{}", show(&proxy.get(id).await.map_err(explain)?));
            let recalls = recall::recalls(&proxy).await;
            if let Some(found) = recalls.iter().find(|r| r.covers(id) || r.returned_as == id) {
                print!("{}", recall::show(found));
            }
        }
        QuarantineCommand::Recall { id } => {
            let moved = proxy.move_back(id).await.map_err(explain)?;
            print!("{}", recall::moved(&moved));
        }
        QuarantineCommand::Release {
            id,
            destination,
            override_verdict,
        } => {
            let item = if override_verdict {
                proxy.release_override(id, &destination).await
            } else {
                proxy.release(id, &destination).await
            }
            .map_err(explain)?;
            println!("released item {id} ({}) to {}", item.name, item.detail);
        }
        QuarantineCommand::Delete { id } => {
            proxy.delete(id).await.map_err(explain)?;
            println!("deleted item {id}");
        }
        QuarantineCommand::Rescan { id } => {
            proxy.rescan(id).await.map_err(explain)?;
            println!("item {id} will be scanned again");
        }
        QuarantineCommand::Hold { id } => {
            proxy.hold(id, true).await.map_err(explain)?;
            println!("item {id} is held: only you can release it");
        }
        QuarantineCommand::Unhold { id } => {
            proxy.hold(id, false).await.map_err(explain)?;
            println!("item {id} is no longer held");
        }
        QuarantineCommand::Sanitise { id } => {
            let (copy, isolation, summary) = proxy.sanitise(id).await.map_err(explain)?;
            println!("{summary}");
            println!(
                "new item {copy} (isolation: {isolation}); see `zionctl quarantine show {copy}`"
            );
        }
        QuarantineCommand::Watch { count } => watch(&proxy, count).await?,
    }
    Ok(())
}

async fn watch(proxy: &Quarantine1Proxy<'_>, count: Option<usize>) -> Result<(), String> {
    let mut events = item_events(proxy).await.map_err(explain)?;
    // Say so once the subscription is in place: a script may now drop files.
    println!("watching the quarantine (Ctrl+C stops)");
    let mut seen = 0;
    while count.is_none_or(|n| seen < n) {
        let Some(event) = events.next().await else {
            break;
        };
        let (what, item) = match event.map_err(|e| format!("a malformed signal: {e}"))? {
            ItemEvent::Added(item) => ("added", item),
            ItemEvent::Changed(item) => ("changed", item),
        };
        println!("{what:<8} {}", list_line(&item));
        seen += 1;
    }
    Ok(())
}

/// One line of `list`: id, state, size, source, name, and the verdict's gist.
fn list_line(item: &ItemInfo) -> String {
    let mut line = format!(
        "{:>5}  {:<10} {:>9}  {:<24} {}",
        item.id,
        item.state,
        human_size(item.size),
        item.source,
        item.name
    );
    let rules: Vec<&str> = item.matches.iter().map(|m| m.rule.as_str()).collect();
    if !rules.is_empty() {
        line.push_str(&format!("  [{}]", rules.join(", ")));
    } else if matches!(item.state.as_str(), "error" | "released" | "clean")
        && !item.detail.is_empty()
    {
        line.push_str(&format!("  ({})", item.detail));
    }
    if item.held {
        line.push_str("  held");
    }
    line
}

/// Everything about one item, one field a line.
fn show(item: &ItemInfo) -> String {
    let mut out = String::new();
    let mut field = |k: &str, v: &str| {
        if !v.is_empty() {
            out.push_str(&format!("{k:<12} {v}\n"));
        }
    };
    field("id", &item.id.to_string());
    field("name", &item.name);
    if item.safe_name != item.name {
        field("stored as", &item.safe_name);
    }
    field("source", &item.source);
    field("profile", &item.profile);
    field(
        "size",
        &format!("{} ({} bytes)", human_size(item.size), item.size),
    );
    field("sha256", &item.sha256);
    field("state", &item.state);
    field("verdict", &item.verdict);
    field("detail", &item.detail);
    field("destination", &item.destination);
    field("held", if item.held { "yes" } else { "" });
    field("added", &utc(item.added));
    field("changed", &utc(item.changed));
    let archive = item.matches.iter().any(|m| !m.member.is_empty());
    for (label, text) in item.origin.lines(archive) {
        field(if label.is_empty() { "  " } else { label }, &text);
    }
    for m in &item.matches {
        out.push_str(&format!(
            "match        {} (namespace {})\n",
            m.rule, m.namespace
        ));
        if !m.member.is_empty() {
            out.push_str(&format!(
                "  {:<12} {}{}{}\n",
                "in",
                item.name,
                zion_bus::quarantine::MEMBER_SEPARATOR,
                m.member
            ));
        }
        if !m.author.is_empty() {
            out.push_str(&format!("  {:<12} {}\n", "author", m.author));
        }
        if !m.description.is_empty() {
            out.push_str(&format!("  {:<12} {}\n", "description", m.description));
        }
        if !m.tags.is_empty() {
            out.push_str(&format!("  {:<12} {}\n", "tags", m.tags.join(", ")));
        }
        let mut meta: Vec<_> = m
            .meta
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "author" | "description"))
            .collect();
        meta.sort();
        for (k, v) in meta {
            out.push_str(&format!("  {k:<12} {v}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_says_where_an_item_came_from_and_who_says_so() {
        let item = ItemInfo {
            id: 4,
            name: "a.zip".into(),
            safe_name: "a.zip".into(),
            source: "sandbox:work/2".into(),
            profile: "work".into(),
            size: 10,
            sha256: String::new(),
            state: "clean".into(),
            verdict: "clean".into(),
            detail: String::new(),
            matches: Vec::new(),
            added: 0,
            changed: 0,
            destination: String::new(),
            held: false,
            origin: zion_bus::quarantine::OriginInfo {
                url: "https://example.org/a.zip".into(),
                referrer: "https://example.org/".into(),
                provenance: "file".into(),
                note: String::new(),
            },
        };
        let shown = show(&item);
        assert!(
            shown.contains("from         https://example.org/a.zip\n"),
            "{shown}"
        );
        assert!(
            shown.contains("referrer     https://example.org/\n"),
            "{shown}"
        );
        assert!(
            shown.contains("origin       claimed by the file (not verified)\n"),
            "{shown}"
        );
    }

    #[test]
    fn times_and_sizes_read_as_people_write_them() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(human_size(68), "68 B");
        assert_eq!(human_size(10 << 20), "10.0 MiB");
    }
}

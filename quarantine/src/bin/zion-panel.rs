//! The quarantine review panel. The iced interface is built by a later issue
//! (the session issue); until then this binary says so instead of pretending.

fn main() {
    eprintln!("zion-panel: the review panel is not built yet; use `zionctl quarantine` meanwhile");
    std::process::exit(2);
}

//! Zion's compositor. Its issue (one desktop per profile, trusted frames,
//! hotkeys) is not done yet; this binary says so instead of pretending.

fn main() {
    eprintln!("zion-compositor: not built yet (see the compositor issue); `make run` starts zion-sandboxd alone for now");
    std::process::exit(2);
}

//! What the bar shows, as plain data: the desktops in their colours with the
//! shown one marked, each profile's state, how many quarantine items wait for
//! review and the time; and where each of those lies on the strip, so that a
//! click finds what it hit. Drawing and Wayland are elsewhere (`draw`,
//! `main`).

use zion_bus::quarantine::ItemInfo;

/// The bar's height in surface pixels (also its exclusive zone).
pub const HEIGHT: u32 = 28;
/// Space around and between the bar's chips.
pub const GAP: u32 = 6;
/// Space inside a chip, left and right of its text.
pub const PAD: u32 = 10;
/// The strip under a desktop's chip drawn in its colour, in pixels.
pub const STRIPE: u32 = 3;

/// A colour as `#rrggbb` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb` (or `rrggbb`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Rgb> {
        let hex = text.strip_prefix('#').unwrap_or(text);
        if hex.len() != 6 || !hex.is_ascii() {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    /// Black or white, whichever reads better on this colour.
    pub fn text_on(self) -> Rgb {
        let Rgb(r, g, b) = self;
        let luma = 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b);
        if luma > 140_000 {
            Rgb(0, 0, 0)
        } else {
            Rgb(255, 255, 255)
        }
    }
}

/// The bar's background.
pub const BACKGROUND: Rgb = Rgb(0x1b, 0x1d, 0x22);
/// The fill of a desktop chip that is not shown.
pub const IDLE_CHIP: Rgb = Rgb(0x2c, 0x2f, 0x36);
/// The quarantine chip when something waits for review.
pub const WAITING: Rgb = Rgb(0xe0, 0xa0, 0x20);
/// Ordinary text.
pub const TEXT: Rgb = Rgb(0xe6, 0xe6, 0xe6);

/// One desktop as the bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desktop {
    /// The profile's name, which is the desktop's.
    pub name: String,
    /// Its frame colour.
    pub colour: Rgb,
    /// The profile's state word from `Profiles1` ("running", "hibernated",
    /// …), or "" when the daemon does not answer.
    pub state: String,
    /// Whether its desktop is locked on its own (a per-profile lock).
    pub locked: bool,
}

impl Desktop {
    /// The chip's text: the name, and the state when it is not the usual
    /// one (a running profile says nothing more).
    pub fn label(&self) -> String {
        let state = if self.locked {
            "locked"
        } else {
            match self.state.as_str() {
                "" | "running" => "",
                "hibernated" | "paused" => "frozen",
                "absent" | "created" | "exited" => "stopped",
                other => other,
            }
        };
        if state.is_empty() {
            self.name.clone()
        } else {
            format!("{} · {state}", self.name)
        }
    }
}

/// Everything the bar shows at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The desktops in the compositor's order; empty when it does not answer.
    pub desktops: Vec<Desktop>,
    /// The shown desktop's name.
    pub shown: String,
    /// Quarantine items waiting for review, or `None` when the daemon does
    /// not answer.
    pub waiting: Option<usize>,
}

/// Whether a quarantine item still waits in the quarantine (neither
/// released nor deleted, nor on its way out).
pub fn is_waiting(item: &ItemInfo) -> bool {
    !matches!(item.state.as_str(), "released" | "deleted" | "releasing")
}

/// How many of `items` wait for review.
pub fn waiting(items: &[ItemInfo]) -> usize {
    items.iter().filter(|i| is_waiting(i)).count()
}

/// What a chip stands for: what a click on it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Show this desktop.
    Desktop(String),
    /// Open the quarantine panel.
    Quarantine,
    /// Nothing (the clock).
    Clock,
}

/// A chip on the strip: its text, its place and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chip {
    /// Its text.
    pub text: String,
    /// Its left edge and width, in surface pixels.
    pub x: u32,
    pub width: u32,
    /// What it stands for.
    pub target: Target,
}

/// The quarantine chip's text.
pub fn quarantine_text(waiting: Option<usize>) -> String {
    match waiting {
        Some(0) => "quarantine: empty".to_owned(),
        Some(1) => "quarantine: 1 waits".to_owned(),
        Some(n) => format!("quarantine: {n} wait"),
        None => "quarantine: ?".to_owned(),
    }
}

/// The chips of `snapshot` on a strip `width` wide, with `clock` as the
/// time's text and `measure` giving a text's width in pixels: the desktops
/// from the left, the quarantine and the clock from the right. A chip that
/// would overlap another is left out (a narrow screen loses the clock first,
/// never a desktop).
pub fn layout(
    snapshot: &Snapshot,
    clock: &str,
    width: u32,
    mut measure: impl FnMut(&str) -> u32,
) -> Vec<Chip> {
    let mut chips = Vec::new();
    let mut x = GAP;
    for desktop in &snapshot.desktops {
        let text = desktop.label();
        let w = measure(&text) + 2 * PAD;
        chips.push(Chip {
            text,
            x,
            width: w,
            target: Target::Desktop(desktop.name.clone()),
        });
        x += w + GAP;
    }
    let left_end = x;
    let mut right = width.saturating_sub(GAP);
    for (text, target) in [
        (clock.to_owned(), Target::Clock),
        (quarantine_text(snapshot.waiting), Target::Quarantine),
    ] {
        let w = measure(&text) + 2 * PAD;
        if right < left_end + w {
            continue;
        }
        right -= w;
        chips.push(Chip {
            text,
            x: right,
            width: w,
            target,
        });
        right = right.saturating_sub(GAP);
    }
    chips
}

/// The chip at `x` (surface pixels), if any.
pub fn hit(chips: &[Chip], x: f64) -> Option<&Chip> {
    chips
        .iter()
        .find(|c| x >= f64::from(c.x) && x < f64::from(c.x + c.width))
}

/// The clock's text for a local time: hours and minutes.
pub fn clock_text(now: &chrono::DateTime<chrono::Local>) -> String {
    now.format("%a %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desktop(name: &str, state: &str) -> Desktop {
        Desktop {
            name: name.to_owned(),
            colour: Rgb(1, 2, 3),
            state: state.to_owned(),
            locked: false,
        }
    }

    fn item(state: &str) -> ItemInfo {
        ItemInfo {
            id: 1,
            name: "a".into(),
            safe_name: "a".into(),
            source: "profile:work".into(),
            profile: "work".into(),
            size: 1,
            sha256: String::new(),
            state: state.into(),
            verdict: String::new(),
            detail: String::new(),
            matches: Vec::new(),
            added: 0,
            changed: 0,
            destination: String::new(),
            held: false,
            origin: Default::default(),
        }
    }

    #[test]
    fn colours_are_read_as_config_writes_them_and_nothing_else() {
        assert_eq!(Rgb::parse("#3465a4"), Some(Rgb(0x34, 0x65, 0xa4)));
        assert_eq!(Rgb::parse("3465A4"), Some(Rgb(0x34, 0x65, 0xa4)));
        for bad in ["", "#123", "#12345g", "#1234567", "#ééé"] {
            assert_eq!(Rgb::parse(bad), None, "{bad}");
        }
        assert_eq!(Rgb(255, 255, 0).text_on(), Rgb(0, 0, 0));
        assert_eq!(Rgb(0x20, 0x20, 0x80).text_on(), Rgb(255, 255, 255));
    }

    #[test]
    fn a_chip_says_a_state_only_when_it_is_not_running() {
        assert_eq!(desktop("work", "running").label(), "work");
        assert_eq!(desktop("work", "").label(), "work");
        assert_eq!(desktop("gaming", "hibernated").label(), "gaming · frozen");
        assert_eq!(desktop("gaming", "absent").label(), "gaming · stopped");
        assert_eq!(desktop("gaming", "failed").label(), "gaming · failed");
        let mut locked = desktop("work", "running");
        locked.locked = true;
        assert_eq!(locked.label(), "work · locked");
    }

    #[test]
    fn released_and_deleted_items_do_not_wait() {
        let items: Vec<ItemInfo> = [
            "stored",
            "scanning",
            "clean",
            "infected",
            "error",
            "too_large",
            "released",
            "deleted",
            "releasing",
        ]
        .iter()
        .map(|s| item(s))
        .collect();
        assert_eq!(waiting(&items), 6);
        assert_eq!(quarantine_text(Some(0)), "quarantine: empty");
        assert_eq!(quarantine_text(Some(1)), "quarantine: 1 waits");
        assert_eq!(quarantine_text(Some(6)), "quarantine: 6 wait");
        assert_eq!(quarantine_text(None), "quarantine: ?");
    }

    #[test]
    fn desktops_go_left_the_quarantine_and_clock_right_and_a_click_finds_its_chip() {
        let snapshot = Snapshot {
            desktops: vec![desktop("work", "running"), desktop("gaming", "running")],
            shown: "work".into(),
            waiting: Some(2),
        };
        // Ten pixels a character.
        let chips = layout(&snapshot, "Wed 10:00", 800, |t| {
            10 * t.chars().count() as u32
        });
        let targets: Vec<_> = chips.iter().map(|c| c.target.clone()).collect();
        assert_eq!(
            targets,
            [
                Target::Desktop("work".into()),
                Target::Desktop("gaming".into()),
                Target::Clock,
                Target::Quarantine
            ]
        );
        assert_eq!((chips[0].x, chips[0].width), (GAP, 40 + 2 * PAD));
        assert_eq!(chips[1].x, GAP + 40 + 2 * PAD + GAP);
        assert_eq!(chips[2].x + chips[2].width, 800 - GAP);
        assert!(chips[3].x + chips[3].width < chips[2].x);
        // No chip overlaps another.
        let mut spans: Vec<_> = chips.iter().map(|c| (c.x, c.x + c.width)).collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));

        let middle = |c: &Chip| f64::from(c.x) + f64::from(c.width) / 2.0;
        assert_eq!(
            hit(&chips, middle(&chips[1])).map(|c| &c.target),
            Some(&targets[1])
        );
        assert_eq!(
            hit(&chips, middle(&chips[3])).map(|c| &c.target),
            Some(&Target::Quarantine)
        );
        assert_eq!(hit(&chips, 1.0), None, "the gap before the first chip");
    }

    #[test]
    fn a_narrow_strip_drops_the_clock_and_quarantine_never_a_desktop() {
        let snapshot = Snapshot {
            desktops: vec![
                desktop("work", ""),
                desktop("gaming", ""),
                desktop("personal", ""),
            ],
            shown: "work".into(),
            waiting: None,
        };
        let chips = layout(&snapshot, "Wed 10:00", 300, |t| {
            10 * t.chars().count() as u32
        });
        assert_eq!(chips.len(), 3);
        assert!(chips.iter().all(|c| matches!(c.target, Target::Desktop(_))));
    }
}

//! The policy: `[quarantine]` settings read from TOML with clear errors, and
//! `due()` deciding what happens to an item next.

use std::ffi::OsString;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use zion_quarantine::{
    due, release_at, Action, AutoRelease, ByteSize, Item, ItemId, Policy, RuleMatch, State,
};
use zion_storage::Destination;

#[derive(Debug, Deserialize)]
struct Config {
    quarantine: Policy,
}

fn parse(text: &str) -> Result<Policy, String> {
    toml::from_str::<Config>(text)
        .map(|c| c.quarantine)
        .map_err(|e| e.to_string())
}

fn item(state: State, size: u64, changed: SystemTime) -> Item {
    Item {
        id: ItemId(1),
        original_name: OsString::from("a.txt"),
        safe_name: "a.txt".into(),
        inbox: "sb1".into(),
        source: "sandbox:work/1".into(),
        profile: Some("work".into()),
        size,
        sha256: Some([0; 32]),
        added: changed,
        changed,
        state,
        verdict: None,
        destination: None,
        held: false,
        origin: None,
    }
}

#[test]
fn the_documented_settings_parse() {
    let p = parse(
        "[quarantine]\nmax_size = \"2GiB\"\nauto_release = \"1h\"\ndefault_destination = \"shared\"\n",
    )
    .expect("valid");
    assert_eq!(p.max_size, ByteSize(2 << 30));
    assert_eq!(
        p.auto_release,
        AutoRelease::After(Duration::from_secs(3600))
    );
    assert_eq!(p.default_destination, Destination::Shared);

    let p = parse("[quarantine]\nauto_release = \"10m\"\ndefault_destination = \"profile:work\"\nmax_size = 1048576\n")
        .expect("valid");
    assert_eq!(p.auto_release, AutoRelease::After(Duration::from_secs(600)));
    assert_eq!(p.max_size, ByteSize(1 << 20));
    assert_eq!(
        p.default_destination,
        Destination::Profile {
            name: "work".into()
        }
    );
}

#[test]
fn missing_settings_take_safe_defaults() {
    let p = parse("[quarantine]\n").expect("valid");
    assert_eq!(p, Policy::default());
    assert_eq!(
        p.auto_release,
        AutoRelease::Never,
        "nothing leaves on its own by default"
    );
}

#[test]
fn bad_settings_say_what_was_wrong() {
    let cases = [
        ("max_size = \"2 gigs\"", "invalid size \"2 gigs\""),
        ("max_size = \"GiB\"", "expected a number and a unit"),
        ("auto_release = \"soon\"", "invalid auto_release \"soon\""),
        ("auto_release = \"10\"", "has no unit"),
        ("auto_release = 10", "auto_release must be a string"),
        (
            "default_destination = \"/tmp\"",
            "default_destination: invalid destination",
        ),
        ("max_sise = \"1GiB\"", "unknown field `max_sise`"),
    ];
    for (line, wanted) in cases {
        let err = parse(&format!("[quarantine]\n{line}\n")).expect_err(line);
        assert!(err.contains(wanted), "{line}: {err}");
        assert!(
            err.contains("line 2"),
            "the error points at the line: {err}"
        );
    }
}

#[test]
fn sizes_and_delays_in_every_unit() {
    for (text, bytes) in [
        ("512", 512),
        ("10KiB", 10 << 10),
        ("1.5MiB", 3 << 19),
        ("3MB", 3_000_000),
        ("1 TiB", 1 << 40),
    ] {
        assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
    }
    assert_eq!(ByteSize(2 << 30).to_string(), "2GiB");
    for (text, secs) in [("30s", 30), ("10m", 600), ("1h30m", 5400), ("2d", 172_800)] {
        assert_eq!(
            text.parse::<AutoRelease>(),
            Ok(AutoRelease::After(Duration::from_secs(secs))),
            "{text}"
        );
    }
    assert_eq!("never".parse::<AutoRelease>(), Ok(AutoRelease::Never));
}

#[test]
fn stored_items_are_scanned_unless_too_large() {
    let policy = Policy {
        max_size: ByteSize(1000),
        ..Policy::default()
    };
    let now = SystemTime::now();
    assert_eq!(
        due(&item(State::Stored, 1000, now), now, &policy),
        Some(Action::Scan)
    );
    assert_eq!(
        due(&item(State::Stored, 1001, now), now, &policy),
        Some(Action::MarkTooLarge { limit: 1000 })
    );
}

#[test]
fn clean_items_are_released_after_the_delay_to_the_default_destination() {
    let policy = Policy {
        auto_release: AutoRelease::After(Duration::from_secs(600)),
        default_destination: Destination::Profile {
            name: "work".into(),
        },
        ..Policy::default()
    };
    let clean_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let clean = item(State::Clean, 10, clean_at);

    assert_eq!(
        due(&clean, clean_at + Duration::from_secs(599), &policy),
        None
    );
    assert_eq!(
        due(&clean, clean_at + Duration::from_secs(600), &policy),
        Some(Action::Release {
            destination: Destination::Profile {
                name: "work".into()
            }
        })
    );
    assert_eq!(
        release_at(&clean, &policy),
        Some(clean_at + Duration::from_secs(600))
    );

    let held = Item {
        held: true,
        ..clean.clone()
    };
    assert_eq!(
        due(&held, clean_at + Duration::from_secs(10_000), &policy),
        None,
        "held"
    );
    let never = Policy::default();
    assert_eq!(
        due(&clean, clean_at + Duration::from_secs(1 << 30), &never),
        None
    );
}

#[test]
fn infected_failed_too_large_and_busy_items_are_never_auto_released() {
    let policy = Policy {
        auto_release: AutoRelease::After(Duration::from_secs(1)),
        ..Policy::default()
    };
    let long_ago = SystemTime::UNIX_EPOCH;
    let later = SystemTime::now();
    for state in [
        State::Infected {
            matches: vec![RuleMatch {
                rule: "EICAR".into(),
                namespace: "default".into(),
                tags: vec![],
                meta: Default::default(),
                member: Vec::new(),
            }],
        },
        State::Error {
            reason: "worker killed".into(),
        },
        State::TooLarge { size: 10, limit: 1 },
        State::Scanning,
        State::Ingesting,
        State::Released { path: "/x".into() },
        State::Deleted,
    ] {
        let it = item(state.clone(), 10, long_ago);
        assert_eq!(due(&it, later, &policy), None, "{state:?}");
        assert_eq!(release_at(&it, &policy), None, "{state:?}");
    }
}

fn transfer_item(inbox: &str, changed: SystemTime) -> Item {
    let mut it = item(State::Clean, 10, changed);
    it.inbox = inbox.into();
    it.source = format!("profile:{inbox}");
    it
}

#[test]
fn clean_transfers_follow_their_pairs_rule_not_auto_release() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    // auto_release is "never" by default: downloads stay, transfers under
    // "scan" go as soon as they are clean (transfer_hold 0s).
    let p = parse("[quarantine]\n").expect("valid");
    let to_shared = transfer_item("profile-work", t0);
    assert_eq!(
        due(&to_shared, t0, &p),
        Some(Action::Release {
            destination: Destination::Shared
        })
    );
    let to_personal = transfer_item("profile-work.to-personal", t0);
    assert_eq!(release_at(&to_personal, &p), None, "review by default");
    assert_eq!(
        due(&to_personal, t0 + Duration::from_secs(86_400), &p),
        None
    );

    let p = parse(
        "[quarantine]\ntransfer_hold = \"30s\"\n[quarantine.transfers]\n\"work -> personal\" = \"scan\"\n\"work -> shared\" = \"deny\"\n",
    )
    .expect("valid");
    assert_eq!(due(&to_personal, t0 + Duration::from_secs(29), &p), None);
    assert_eq!(
        due(&to_personal, t0 + Duration::from_secs(30), &p),
        Some(Action::Release {
            destination: Destination::Incoming {
                profile: "personal".into(),
                from: "work".into()
            }
        })
    );
    assert_eq!(
        due(&to_shared, t0 + Duration::from_secs(86_400), &p),
        None,
        "denied"
    );

    let mut held = to_personal.clone();
    held.held = true;
    assert_eq!(
        release_at(&held, &p),
        None,
        "a held transfer waits for the user"
    );
}

#[test]
fn bad_transfer_rules_name_the_key() {
    let err =
        parse("[quarantine.transfers]\n\"work -> personal\" = \"allow\"\n").expect_err("bad rule");
    assert!(
        err.contains("work -> personal") && err.contains("\"review\""),
        "{err}"
    );
    let err = parse("[quarantine]\ntransfer_hold = \"soon\"\n").expect_err("bad hold");
    assert!(err.contains("transfer_hold"), "{err}");
}

//! xdg-activation-v1 with real clients of different profiles: a token
//! activates only windows of the profile that asked for it, on the desktop
//! shown; a profile never pulls the user onto its desktop; a host token may
//! activate anything. Outcomes are read as the clients see them (keyboard
//! enter and leave) and as the desktop shown.

use zion_compositor::Origin;
use zion_tests::compositor::Fixture;
use zion_tests::wayland::{Client, Seen, TestWindow};

fn client(c: &mut Fixture, profile: &str) -> Client {
    let socket = c.profile_socket(profile);
    let mut client = c.connect(&socket);
    client.seat().expect("the client binds the seat");
    client
}

/// Opens a window of `client` and waits until `profile`'s desktop holds
/// `count` windows.
fn open(c: &mut Fixture, client: &mut Client, profile: &str, count: usize) -> TestWindow {
    let window = client
        .window(&format!("{profile} {count}"), (200, 100), 0x0080_8080)
        .expect("a window");
    let desktop = c.desktop(profile);
    let opened = c
        .roundtrip_until(client, |_, s| {
            s.layout.desktops()[desktop].all().count() == count
        })
        .expect("the client runs");
    assert!(opened, "window {count} of {profile} did not open");
    window
}

/// A new activation token of `client` (for `surface`, if given).
fn token(c: &mut Fixture, client: &mut Client, surface: Option<&TestWindow>) -> String {
    let n = client.seen.activation_tokens.len();
    client
        .request_activation_token(surface.map(|w| &w.surface))
        .expect("xdg_activation_v1 is offered");
    c.wait_seen(client, "a token", |s| s.activation_tokens.len() > n);
    client.seen.activation_tokens[n].clone()
}

fn has_keyboard(seen: &Seen, window: &TestWindow) -> bool {
    seen.keyboard_focus.as_ref() == Some(&window.surface)
}

#[test]
fn a_token_from_work_never_activates_a_gaming_window() {
    let mut c = Fixture::new();
    let mut work = client(&mut c, "work");
    let mut gaming = client(&mut c, "gaming");
    let w = open(&mut c, &mut work, "work", 1);
    c.show("gaming");
    let g1 = open(&mut c, &mut gaming, "gaming", 1);
    let g2 = open(&mut c, &mut gaming, "gaming", 2);
    c.wait_seen(&mut gaming, "g2 has the keyboard", |s| has_keyboard(s, &g2));

    // Work's token, handed to gaming (through shared storage, say): g1
    // asks to be activated with it, and is refused.
    let stolen = token(&mut c, &mut work, Some(&w));
    gaming
        .activate(&stolen, &g1.surface)
        .expect("activate sent");
    c.settle_client(&mut gaming);
    assert!(
        has_keyboard(&gaming.seen, &g2),
        "work's token activated a gaming window: {:?}",
        gaming.seen.keyboard_focus
    );

    // Gaming's own token does it (so the refusal above was the token's).
    let own = token(&mut c, &mut gaming, Some(&g2));
    gaming.activate(&own, &g1.surface).expect("activate sent");
    c.wait_seen(&mut gaming, "gaming's own token activates g1", |s| {
        has_keyboard(s, &g1)
    });
    // A token works once.
    gaming.activate(&own, &g2.surface).expect("activate sent");
    c.settle_client(&mut gaming);
    assert!(has_keyboard(&gaming.seen, &g1), "a token was used twice");
}

#[test]
fn a_profile_never_pulls_the_user_onto_its_desktop() {
    let mut c = Fixture::new();
    let mut work = client(&mut c, "work");
    let mut gaming = client(&mut c, "gaming");
    c.show("gaming");
    let g = open(&mut c, &mut gaming, "gaming", 1);
    c.show("work");
    let w = open(&mut c, &mut work, "work", 1);
    c.wait_seen(&mut work, "work's window has the keyboard", |s| {
        has_keyboard(s, &w)
    });
    let enters = gaming.seen.keyboard_enters;
    let own = token(&mut c, &mut gaming, Some(&g));
    gaming.activate(&own, &g.surface).expect("activate sent");
    c.settle_client(&mut gaming);
    c.settle_client(&mut work);
    assert_eq!(
        c.state.layout.active(),
        c.desktop("work"),
        "the desktop switched"
    );
    assert_eq!(
        gaming.seen.keyboard_enters, enters,
        "gaming got the keyboard"
    );
    assert!(has_keyboard(&work.seen, &w), "work lost the keyboard");
}

#[test]
fn a_host_token_may_activate_a_window_on_another_desktop() {
    let mut c = Fixture::new();
    let mut gaming = client(&mut c, "gaming");
    let mut host = c.add_client(Origin::Host);
    c.show("gaming");
    let g = open(&mut c, &mut gaming, "gaming", 1);
    c.show("work");
    let from_host = token(&mut c, &mut host, None);
    gaming
        .activate(&from_host, &g.surface)
        .expect("activate sent");
    c.wait_seen(&mut gaming, "the host's token activates g", |s| {
        has_keyboard(s, &g)
    });
    assert_eq!(c.state.layout.active(), c.desktop("gaming"));
}

#[test]
fn nothing_is_activated_while_the_session_is_locked() {
    let mut c = Fixture::new();
    let mut gaming = client(&mut c, "gaming");
    let mut host = c.add_client(Origin::Host);
    c.show("gaming");
    let g = open(&mut c, &mut gaming, "gaming", 1);
    c.show("work");
    let from_host = token(&mut c, &mut host, None);
    let mut locker = c.add_client(Origin::Host);
    let _lock = locker.lock(0x0000_00ff).expect("the locker locks");
    c.wait_seen(&mut locker, "locked", |s| s.locked);
    gaming
        .activate(&from_host, &g.surface)
        .expect("activate sent");
    c.settle_client(&mut gaming);
    assert_eq!(
        c.state.layout.active(),
        c.desktop("work"),
        "the desktop switched behind the lock"
    );
    assert!(
        !has_keyboard(&gaming.seen, &g),
        "a window got the keyboard behind the lock"
    );
}

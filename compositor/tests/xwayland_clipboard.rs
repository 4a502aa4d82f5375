//! The X11 clipboard joins its profile's clipboard, and nothing else: real
//! `xclip` on each profile's own Xwayland (run as in the profile's
//! container: its X11 folder mounted as `/tmp/.X11-unix`), real `wl-copy`
//! and `wl-paste` on each profile's Wayland socket, all against an
//! in-process headless compositor.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use zion_compositor::clipboard::{Domain, Kind};
use zion_tests::compositor::programs::{self, Running, WL_COPY, WL_PASTE};
use zion_tests::compositor::x11::{x11_command, x11_ready};
use zion_tests::compositor::{press_super_shift, profile_name, Fixture};

const XCLIP: &str = "/usr/bin/xclip";
const XEYES: &str = "/usr/bin/xeyes";
/// How long an X server may take to answer (it starts on first use).
const WAIT: Duration = Duration::from_secs(20);

/// Readies the test thread (a private `/tmp`), or reports why this machine
/// cannot run the test.
fn ready() -> bool {
    x11_ready(&[
        (XCLIP, "xclip"),
        (WL_COPY, "wl-clipboard"),
        (WL_PASTE, "wl-clipboard"),
    ])
}

/// The fixture with every profile's X11 socket, and what these tests do on
/// it.
struct Harness {
    compositor: Fixture,
}

impl Harness {
    fn new() -> Harness {
        let mut compositor = Fixture::x11((640, 480), &[]);
        compositor.open_x11_sockets();
        Harness { compositor }
    }

    fn dispatch(&mut self) {
        self.compositor
            .dispatch(Duration::from_millis(10))
            .expect("event loop runs");
    }

    /// `profile`'s X11 socket: whatever `X<n>` is in its X11 folder, once
    /// it is there.
    fn x11_socket(&mut self, profile: &str) -> PathBuf {
        let folder = self
            .compositor
            .runtime()
            .join("zion")
            .join(profile)
            .join("X11");
        let end = Instant::now() + WAIT;
        loop {
            let found = std::fs::read_dir(&folder).ok().and_then(|entries| {
                entries.flatten().map(|e| e.path()).find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_prefix('X'))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
            });
            if let Some(socket) = found {
                return socket;
            }
            assert!(
                Instant::now() < end,
                "no X11 socket appeared in {}",
                folder.display()
            );
            self.dispatch();
        }
    }

    /// `xclip args` on `profile`'s X server.
    fn xclip(&mut self, profile: &str, args: &[&str]) -> Command {
        self.x11(profile, XCLIP, args)
    }

    /// `program args`, run as in `profile`'s container.
    fn x11(&mut self, profile: &str, program: &str, args: &[&str]) -> Command {
        let socket = self.x11_socket(profile);
        x11_command(&socket, program, args)
    }

    /// Runs `command` to its end, dispatching the compositor meanwhile
    /// (Xwayland and Wayland clients need it).
    fn run(&mut self, mut command: Command) -> Output {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("command starts");
        let pid = child.id();
        let handle = std::thread::spawn(move || child.wait_with_output());
        let end = Instant::now() + WAIT;
        while !handle.is_finished() {
            if Instant::now() > end {
                // Ends it; the thread then returns.
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
            self.dispatch();
        }
        handle
            .join()
            .expect("command thread")
            .expect("command output")
    }

    /// What `xclip -selection clipboard -o` prints on `profile`'s X server,
    /// `None` when it has no clipboard to paste. Retried while the server
    /// does not answer yet.
    fn x11_paste(&mut self, profile: &str) -> Option<String> {
        self.x11_paste_kind(profile, Kind::Clipboard)
    }

    fn x11_paste_kind(&mut self, profile: &str, kind: Kind) -> Option<String> {
        let end = Instant::now() + WAIT;
        loop {
            let command = self.xclip(profile, &["-selection", x11_name(kind), "-o"]);
            let out = self.run(command);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                return Some(String::from_utf8_lossy(&out.stdout).into_owned());
            }
            if !stderr.contains("Can't open display") {
                eprintln!("xclip -o on {profile}: {}", stderr.trim());
                return None;
            }
            assert!(
                Instant::now() < end,
                "{profile}'s X server did not answer xclip: {stderr}"
            );
            self.compositor.wait_x11_ready(profile);
        }
    }

    /// Waits until `profile`'s X server (started by its first client)
    /// answers and has an empty clipboard. An X11 client that takes a
    /// selection while Smithay's window manager is still starting is not
    /// seen by it (Smithay 0.7 watches selections only once it runs).
    fn wait_for_x11_server(&mut self, profile: &str) {
        assert_eq!(
            self.x11_paste(profile),
            None,
            "{profile}'s X clipboard starts empty"
        );
    }

    /// `xclip -selection clipboard -i` of `text` on `profile`'s X server,
    /// left running (it serves the selection) once the compositor has
    /// kept it as the profile's clipboard.
    fn x11_copy(&mut self, profile: &str, text: &str) -> Running {
        self.x11_copy_kind(profile, text, Kind::Clipboard)
    }

    fn x11_copy_kind(&mut self, profile: &str, text: &str, kind: Kind) -> Running {
        let domain = domain(profile);
        let end = Instant::now() + WAIT;
        'start: loop {
            let mut command = self.xclip(profile, &["-selection", x11_name(kind), "-i", "-quiet"]);
            let mut child = Running(
                command
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("xclip starts"),
            );
            {
                let mut stdin = child.0.stdin.take().expect("xclip's stdin");
                stdin.write_all(text.as_bytes()).expect("text to xclip");
            }
            loop {
                assert!(
                    Instant::now() < end,
                    "xclip -i {text:?} in {profile}: not kept as {profile}'s {kind:?}"
                );
                let kept = self
                    .compositor
                    .state
                    .selection_owners
                    .clipboards
                    .get(&domain, kind)
                    .is_some_and(|c| {
                        c.get("text/plain;charset=utf-8").as_deref() == Some(text.as_bytes())
                    });
                if kept {
                    return child;
                }
                if child.0.try_wait().expect("xclip status").is_some() {
                    // The server did not answer yet: again once it does.
                    self.compositor.wait_x11_ready(profile);
                    continue 'start;
                }
                self.dispatch();
            }
        }
    }

    /// Shows `profile`'s desktop (its new windows get the keyboard).
    fn show(&mut self, profile: &str) {
        self.compositor.show(profile);
    }

    /// `wl-copy --foreground text` on `profile`'s socket, once the
    /// compositor has kept it.
    fn wayland_copy(&mut self, profile: &str, text: &str) -> Running {
        self.show(profile);
        let socket = self.compositor.profile_socket(profile);
        programs::copy(
            &mut self.compositor,
            &socket,
            &domain(profile),
            text,
            Kind::Clipboard,
        )
    }

    /// What `wl-paste` prints on `profile`'s socket (its desktop shown),
    /// `None` when it is offered nothing.
    fn wayland_paste(&mut self, profile: &str) -> Option<String> {
        self.wayland_paste_kind(profile, Kind::Clipboard)
    }

    fn wayland_paste_kind(&mut self, profile: &str, kind: Kind) -> Option<String> {
        self.show(profile);
        let socket = self.compositor.profile_socket(profile);
        programs::paste(&mut self.compositor, &socket, kind)
    }
}

/// xclip's name of the selection `kind`.
fn x11_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Clipboard => "clipboard",
        Kind::Primary => "primary",
    }
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

fn start_test() -> Option<Harness> {
    if !ready() {
        return None;
    }
    Some(Harness::new())
}

fn domain(profile: &str) -> Domain {
    Domain::Profile(profile_name(profile))
}

#[test]
fn x11_clipboard_is_its_profiles_clipboard_and_no_other_profiles() {
    let Some(mut h) = start_test() else {
        return;
    };
    let unique = unique();
    // Both X servers run (started by their first client) and hold nothing.
    h.wait_for_x11_server("work");
    h.wait_for_x11_server("personal");

    // personal copies its own text, from Wayland: its X11 clients paste it.
    let personal_text = format!("personal-wayland-{unique}");
    let _personal_copier = h.wayland_copy("personal", &personal_text);
    assert_eq!(
        h.x11_paste("personal").as_deref(),
        Some(personal_text.as_str()),
        "xclip -o on personal's X server pastes personal's Wayland copy"
    );
    assert_eq!(
        h.x11_paste("work"),
        None,
        "work's X server does not get personal's copy"
    );

    // An X11 client of work copies: work's X11 and Wayland clients paste it.
    let work_x11_text = format!("work-x11-{unique}");
    h.show("work");
    let _xclip = h.x11_copy("work", &work_x11_text);
    assert_eq!(
        h.x11_paste("work").as_deref(),
        Some(work_x11_text.as_str()),
        "xclip -o on work's X server"
    );
    assert_eq!(
        h.wayland_paste("work").as_deref(),
        Some(work_x11_text.as_str()),
        "wl-paste on work's socket pastes work's X11 copy"
    );
    // personal sees none of it, and keeps its own.
    assert_eq!(
        h.wayland_paste("personal").as_deref(),
        Some(personal_text.as_str()),
        "wl-paste on personal's socket: personal's own, not work's X11 copy"
    );
    assert_eq!(
        h.x11_paste("personal").as_deref(),
        Some(personal_text.as_str()),
        "xclip -o on personal's X server: personal's own, not work's X11 copy"
    );
    assert_eq!(
        h.wayland_paste("gaming"),
        None,
        "gaming copied nothing and is offered nothing"
    );

    // The other way round: work copies from Wayland; work's X11 clients
    // paste it, personal's do not.
    let work_wayland_text = format!("work-wayland-{unique}");
    let _work_copier = h.wayland_copy("work", &work_wayland_text);
    assert_eq!(
        h.x11_paste("work").as_deref(),
        Some(work_wayland_text.as_str()),
        "xclip -o on work's X server pastes work's Wayland copy"
    );
    assert_eq!(
        h.x11_paste("personal").as_deref(),
        Some(personal_text.as_str()),
        "xclip -o on personal's X server: still personal's own"
    );
    assert_eq!(
        h.wayland_paste("personal").as_deref(),
        Some(personal_text.as_str()),
        "wl-paste on personal's socket: still personal's own"
    );
    assert_eq!(
        h.wayland_paste("work").as_deref(),
        Some(work_wayland_text.as_str()),
        "wl-paste on work's socket"
    );
}

#[test]
fn x11_primary_selection_is_its_profiles_primary_selection() {
    let Some(mut h) = start_test() else {
        return;
    };
    let text = format!("work-x11-primary-{}", unique());
    h.wait_for_x11_server("work");
    h.show("work");
    let _xclip = h.x11_copy_kind("work", &text, Kind::Primary);
    assert_eq!(
        h.wayland_paste_kind("work", Kind::Primary).as_deref(),
        Some(text.as_str()),
        "wl-paste --primary on work's socket pastes work's X11 primary selection"
    );
    assert_eq!(
        h.x11_paste_kind("work", Kind::Clipboard),
        None,
        "the primary selection is not work's clipboard"
    );
    assert_eq!(
        h.wayland_paste_kind("personal", Kind::Primary),
        None,
        "personal is offered no primary selection"
    );
    assert_eq!(
        h.x11_paste_kind("personal", Kind::Primary),
        None,
        "personal's X server has no primary selection"
    );
}

/// Super+Shift+C in work (its clipboard set by an X11 client), then
/// Super+Shift+V with an X11 window of personal focused: personal's X11
/// and Wayland clients paste it.
#[test]
fn transfer_slot_moves_an_x11_copy_into_an_x11_window_of_another_profile() {
    zion_tests::require_program!(XEYES, "x11-apps");
    let Some(mut h) = start_test() else {
        return;
    };
    let text = format!("work-x11-transfer-{}", unique());
    h.wait_for_x11_server("work");
    h.show("work");
    let _xclip = h.x11_copy("work", &text);
    press_super_shift(&mut h.compositor, KEY_C);

    // An X11 window of personal, focused.
    h.show("personal");
    let _xeyes = Running(
        h.x11("personal", XEYES, &[])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xeyes starts"),
    );
    let desktop = h
        .compositor
        .state
        .layout
        .index_of("personal")
        .expect("personal's desktop");
    let focused = h
        .compositor
        .dispatch_until(WAIT, |s| {
            s.layout.active() == desktop
                && s.layout
                    .focused()
                    .is_some_and(|w| w.x11_surface().is_some())
        })
        .expect("event loop runs");
    assert!(focused, "xeyes's window is focused on personal's desktop");
    assert_eq!(
        h.x11_paste("personal"),
        None,
        "personal's X clipboard is empty"
    );

    let before = h.compositor.state.notices.len();
    press_super_shift(&mut h.compositor, KEY_V);
    let notices = h.compositor.state.notices[before..].join("\n");
    assert!(
        notices.contains("pasted the transfer slot"),
        "Super+Shift+V into an X11 window: {notices}"
    );
    assert_eq!(
        h.x11_paste("personal").as_deref(),
        Some(text.as_str()),
        "xclip -o on personal's X server pastes the transferred text"
    );
    assert_eq!(
        h.wayland_paste("personal").as_deref(),
        Some(text.as_str()),
        "wl-paste on personal's socket pastes the transferred text"
    );
    assert_eq!(
        h.x11_paste("work").as_deref(),
        Some(text.as_str()),
        "work keeps its own clipboard"
    );
}

/// evdev KEY_C and KEY_V.
const KEY_C: u32 = 46;
const KEY_V: u32 = 47;

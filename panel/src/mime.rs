//! The MIME type of a file guessed from its first bytes (never from its
//! name, which the sender chose): a small table of magic numbers.

/// How many bytes [`guess`] looks at.
pub const HEAD: usize = 512;

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
    fn a_tar_is_found_at_its_offset() {
        let mut tar = vec![0u8; 512];
        tar[..8].copy_from_slice(b"file.txt");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(guess(&tar), "application/x-tar");
    }
}

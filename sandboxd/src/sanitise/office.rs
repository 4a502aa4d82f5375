//! Office documents for the sanitiser: which kind a file is, told by its
//! content (the compound-file and RTF signatures; for a zip, its members
//! and, for OpenDocument, its `mimetype` member), never by its name.
//!
//! A zip is looked at only through its central directory, one entry at a
//! time (the `zip` crate's iterable reader: memory does not grow with the
//! number of entries), with at most [`MAX_MEMBERS`] entries and
//! [`MAX_UNPACKED`] bytes declared unpacked; more is refused before any
//! converter starts. The member data is never inflated here, except the
//! few bytes of `mimetype`. What the entries declare may lie: the converter
//! checks the real sizes again, confined, before LibreOffice opens the file.

use std::io::{Read, Seek};

/// Entries an office document may have.
pub const MAX_MEMBERS: usize = 10_000;
/// Bytes its members may unpack to, all together.
pub const MAX_UNPACKED: u64 = 256 << 20;

/// An office document's family, and the extension LibreOffice is given it
/// under (its filters are chosen by content, the name is a hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Office {
    /// Word's Office Open XML (`.docx`, `.docm`).
    Docx,
    /// Excel's (`.xlsx`, `.xlsm`).
    Xlsx,
    /// PowerPoint's (`.pptx`, `.pptm`).
    Pptx,
    /// OpenDocument text (`.odt`).
    Odt,
    /// OpenDocument spreadsheet (`.ods`).
    Ods,
    /// OpenDocument presentation (`.odp`).
    Odp,
    /// OpenDocument drawing (`.odg`).
    Odg,
    /// An OLE2 compound file: Word, Excel or PowerPoint 97–2003 (`.doc`,
    /// `.xls`, `.ppt`); LibreOffice tells which by its streams.
    Compound,
    /// Rich Text Format (`.rtf`).
    Rtf,
}

impl Office {
    /// The extension the converter gives the input.
    pub fn extension(self) -> &'static str {
        match self {
            Office::Docx => "docx",
            Office::Xlsx => "xlsx",
            Office::Pptx => "pptx",
            Office::Odt => "odt",
            Office::Ods => "ods",
            Office::Odp => "odp",
            Office::Odg => "odg",
            Office::Compound => "doc",
            Office::Rtf => "rtf",
        }
    }

    /// From the extension the converter is given (its argument).
    pub fn from_extension(ext: &str) -> Option<Office> {
        [
            Office::Docx,
            Office::Xlsx,
            Office::Pptx,
            Office::Odt,
            Office::Ods,
            Office::Odp,
            Office::Odg,
            Office::Compound,
            Office::Rtf,
        ]
        .into_iter()
        .find(|o| o.extension() == ext)
    }

    /// What the first bytes alone tell: an OLE2 compound file or RTF.
    pub fn sniff(head: &[u8]) -> Option<Office> {
        if head.starts_with(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
            Some(Office::Compound)
        } else if head.starts_with(b"{\\rtf") {
            Some(Office::Rtf)
        } else {
            None
        }
    }

    /// Whether `head` starts like a zip (its first local header).
    pub fn maybe_zip(head: &[u8]) -> bool {
        head.starts_with(b"PK\x03\x04")
    }

    /// The family of a zip whose member names are `names`, and whose
    /// `mimetype` member (OpenDocument's first) holds `mimetype`.
    pub fn of_members<'a>(
        names: impl IntoIterator<Item = &'a str>,
        mimetype: Option<&[u8]>,
    ) -> Option<Office> {
        if let Some(m) = mimetype {
            let m = m.trim_ascii();
            let odf = [
                (&b"application/vnd.oasis.opendocument.text"[..], Office::Odt),
                (
                    b"application/vnd.oasis.opendocument.spreadsheet",
                    Office::Ods,
                ),
                (
                    b"application/vnd.oasis.opendocument.presentation",
                    Office::Odp,
                ),
                (b"application/vnd.oasis.opendocument.graphics", Office::Odg),
            ];
            // Exact (templates, `…-template`, are other types).
            return odf.into_iter().find(|(t, _)| *t == m).map(|(_, o)| o);
        }
        let mut content_types = false;
        let mut found = None;
        for name in names {
            match name {
                "[Content_Types].xml" => content_types = true,
                "word/document.xml" => found = found.or(Some(Office::Docx)),
                "xl/workbook.xml" => found = found.or(Some(Office::Xlsx)),
                "ppt/presentation.xml" => found = found.or(Some(Office::Pptx)),
                _ => {}
            }
        }
        if content_types {
            found
        } else {
            None
        }
    }
}

/// A zip's office family (`Ok(None)`: a zip, but no office document), or
/// why it is refused unopened (too many members, too large unpacked,
/// unreadable).
pub fn sniff_zip<R: Read + Seek>(reader: R) -> Result<Option<Office>, String> {
    let mut zip = zip::unstable::read::ZipIterable::try_new(reader, zip::read::Config::default())
        .map_err(|e| format!("a zip that cannot be read: {e}"))?;
    if zip.len() > MAX_MEMBERS {
        return Err(format!(
            "a zip of {} members, more than the {MAX_MEMBERS} an office document may have",
            zip.len()
        ));
    }
    let mut names = Vec::new();
    let mut unpacked: u64 = 0;
    let mut mimetype = None;
    let files = zip
        .files()
        .map_err(|e| format!("a zip that cannot be read: {e}"))?;
    while let Some(entry) = files.next() {
        let entry = entry.map_err(|e| format!("a zip that cannot be read: {e}"))?;
        unpacked = unpacked.saturating_add(entry.size());
        if unpacked > MAX_UNPACKED {
            return Err(format!(
                "its members unpack to more than {} MiB (a zip bomb?)",
                MAX_UNPACKED >> 20
            ));
        }
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        if name == "mimetype" && mimetype.is_none() {
            // The iterator seeks back to the directory for the next entry.
            let file = entry
                .with_reader(files.reader_mut(), zip::ZipReadOptions::default())
                .map_err(|e| format!("the mimetype member cannot be read: {e}"))?;
            let mut head = Vec::new();
            file.take(128)
                .read_to_end(&mut head)
                .map_err(|e| format!("the mimetype member cannot be read: {e}"))?;
            mimetype = Some(head);
        }
        names.push(name);
    }
    Ok(Office::of_members(
        names.iter().map(String::as_str),
        mimetype.as_deref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in members {
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            w.start_file(*name, opts).expect("member");
            w.write_all(data).expect("data");
        }
        w.finish().expect("zip").into_inner()
    }

    #[test]
    fn families_are_told_by_members_not_names() {
        let docx = zip_of(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document/>"),
        ]);
        assert_eq!(sniff_zip(Cursor::new(docx)), Ok(Some(Office::Docx)));
        let xlsx = zip_of(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("xl/workbook.xml", b"<workbook/>"),
        ]);
        assert_eq!(sniff_zip(Cursor::new(xlsx)), Ok(Some(Office::Xlsx)));
        let odt = zip_of(&[
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("content.xml", b"<office:document-content/>"),
        ]);
        assert_eq!(sniff_zip(Cursor::new(odt)), Ok(Some(Office::Odt)));
        // A plain archive, or a jar, is no office document.
        let plain = zip_of(&[("readme.txt", b"hello"), ("word/document.xml", b"x")]);
        assert_eq!(sniff_zip(Cursor::new(plain)), Ok(None));
        let other = zip_of(&[("mimetype", b"application/epub+zip")]);
        assert_eq!(sniff_zip(Cursor::new(other)), Ok(None));
        assert!(sniff_zip(Cursor::new(b"PK\x03\x04 then nothing".to_vec())).is_err());
        assert_eq!(
            Office::sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0"),
            Some(Office::Compound)
        );
        assert_eq!(Office::sniff(b"{\\rtf1\\ansi"), Some(Office::Rtf));
        assert_eq!(Office::sniff(b"MZ"), None);
        for o in [Office::Docx, Office::Odp, Office::Compound, Office::Rtf] {
            assert_eq!(Office::from_extension(o.extension()), Some(o));
        }
    }

    #[test]
    fn bombs_are_refused_by_what_they_declare() {
        // 300 members of 1 MiB of zeros: 300 MiB declared, a few hundred
        // kilobytes stored.
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("[Content_Types].xml", opts).expect("member");
        w.start_file("word/document.xml", opts).expect("member");
        let zeros = vec![0u8; 1 << 20];
        for i in 0..300 {
            w.start_file(format!("word/media/{i}.bin"), opts)
                .expect("member");
            w.write_all(&zeros).expect("data");
        }
        let bomb = w.finish().expect("zip").into_inner();
        let err = sniff_zip(Cursor::new(bomb)).expect_err("a bomb");
        assert!(err.contains("more than 256 MiB"), "{err}");

        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..=MAX_MEMBERS {
            w.start_file(format!("{i}"), zip::write::SimpleFileOptions::default())
                .expect("member");
        }
        let many = w.finish().expect("zip").into_inner();
        let err = sniff_zip(Cursor::new(many)).expect_err("too many");
        assert!(err.contains("10001 members"), "{err}");
    }
}

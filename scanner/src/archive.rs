//! Archives unpacked inside the confined worker: zip, tar, 7z and the gzip,
//! xz, bzip2 and zstd streams (a compressed tar is read as a tar), nested to
//! any mix, each member scanned from memory with the same rules and reported
//! by its member path. Nothing is ever written: member names are labels, so a
//! `../` or absolute name cannot escape anywhere.
//!
//! The format is told by magic bytes, never by name. Bombs are refused in
//! bounded time and memory by one [`Budget`] over every level: nesting depth,
//! members, unpacked bytes and the expansion ratio against the object's own
//! size. Decompressors are metered as they produce bytes, so a refusal comes
//! while the bomb is still being read, not after.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use zion_quarantine::verdict::{ArchiveProblem, RuleMatch};

/// Archives nested deeper than this are refused (`too deep`). A compression
/// layer counts as a level (a gzip quine would otherwise never end).
pub const MAX_DEPTH: u32 = 8;
/// Members over every level (ClamAV's default `MaxFiles`).
pub const MAX_MEMBERS: u64 = 10_000;
/// Unpacked bytes over every level. Members are scanned from memory, and the
/// whole walk must fit the scan's CPU and time limits.
pub const MAX_UNPACKED: u64 = 256 << 20;
/// The largest expansion allowed: unpacked bytes against the object's size.
pub const MAX_RATIO: u64 = 100;
/// The ratio is judged only past this many unpacked bytes (a small text file
/// may well compress a thousand times).
pub const RATIO_FLOOR: u64 = 16 << 20;
/// Decoder memory (LZMA dictionaries, 7z headers) a 7z or xz stream may ask
/// for; 7-Zip's strongest preset needs 64 MiB.
const DECODER_MEMORY_KB: u32 = 256 << 10;
/// The longest member name kept in a report.
const MAX_NAME_CHARS: usize = 1024;

/// The limits of one walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// See [`MAX_DEPTH`].
    pub max_depth: u32,
    /// See [`MAX_MEMBERS`].
    pub max_members: u64,
    /// See [`MAX_UNPACKED`].
    pub max_unpacked: u64,
    /// See [`MAX_RATIO`].
    pub max_ratio: u64,
    /// See [`RATIO_FLOOR`].
    pub ratio_floor: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_depth: MAX_DEPTH,
            max_members: MAX_MEMBERS,
            max_unpacked: MAX_UNPACKED,
            max_ratio: MAX_RATIO,
            ratio_floor: RATIO_FLOOR,
        }
    }
}

/// The container formats, as their first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A zip archive (`PK\3\4`, or an empty one).
    Zip,
    /// A 7z archive.
    SevenZ,
    /// A tar archive (POSIX `ustar`, GNU, or v7 with a valid checksum).
    Tar,
    /// A gzip stream.
    Gzip,
    /// An xz stream.
    Xz,
    /// A bzip2 stream.
    Bzip2,
    /// A zstd frame.
    Zstd,
}

/// How many leading bytes [`detect`] wants (a tar header).
pub const HEAD: usize = 512;

/// The format of an object from its first bytes, if it is one Zion unpacks.
pub fn detect(head: &[u8]) -> Option<Format> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if starts(b"7z\xbc\xaf\x27\x1c") {
        Some(Format::SevenZ)
    } else if starts(b"\x1f\x8b\x08") {
        // Deflate is gzip's only method: two bytes alone would take too many
        // binaries for broken archives.
        Some(Format::Gzip)
    } else if starts(b"\xfd7zXZ\x00") {
        Some(Format::Xz)
    } else if starts(b"BZh")
        && head.get(3).is_some_and(|level| (b'1'..=b'9').contains(level))
        // A block (the digits of pi) or the end of the stream (of sqrt(pi)).
        && head.get(4..10).is_some_and(|magic| {
            magic == b"\x31\x41\x59\x26\x53\x59" || magic == b"\x17\x72\x45\x38\x50\x90"
        })
    {
        Some(Format::Bzip2)
    } else if starts(b"\x28\xb5\x2f\xfd") {
        Some(Format::Zstd)
    } else if is_tar_header(head) {
        Some(Format::Tar)
    } else {
        None
    }
}

/// A tar header: `ustar` magic, or a v7 header whose checksum adds up.
fn is_tar_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..HEAD) else {
        return false;
    };
    if &block[257..262] == b"ustar" {
        return true;
    }
    let Ok(header) = tar::Header::from_byte_slice(block).cksum() else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    block[0] != 0 && sum == header
}

/// Counts what a walk unpacks, over every level, and says which limit a
/// bomb broke first.
#[derive(Debug)]
pub struct Budget {
    limits: ArchiveLimits,
    input: u64,
    members: std::cell::Cell<u64>,
    unpacked: std::cell::Cell<u64>,
    exceeded: RefCell<Option<ArchiveProblem>>,
}

impl Budget {
    /// A budget for an object of `input` bytes.
    pub fn new(limits: ArchiveLimits, input: u64) -> Self {
        Budget {
            limits,
            input,
            members: Default::default(),
            unpacked: Default::default(),
            exceeded: RefCell::new(None),
        }
    }

    /// Counts `n` more members.
    pub fn members(&self, n: u64) -> Result<(), ArchiveProblem> {
        let total = self.members.get().saturating_add(n);
        self.members.set(total);
        if total > self.limits.max_members {
            return self.exceed(ArchiveProblem::TooManyMembers {
                limit: self.limits.max_members,
            });
        }
        Ok(())
    }

    /// Counts `n` more unpacked bytes.
    pub fn bytes(&self, n: u64) -> Result<(), ArchiveProblem> {
        let total = self.unpacked.get().saturating_add(n);
        self.unpacked.set(total);
        if total > self.limits.ratio_floor
            && total > self.input.saturating_mul(self.limits.max_ratio)
        {
            return self.exceed(ArchiveProblem::Ratio {
                limit: self.limits.max_ratio,
            });
        }
        if total > self.limits.max_unpacked {
            return self.exceed(ArchiveProblem::TooLarge {
                limit: self.limits.max_unpacked,
            });
        }
        Ok(())
    }

    /// Checks that one more level of nesting is allowed.
    pub fn depth(&self, depth: u32) -> Result<(), ArchiveProblem> {
        if depth > self.limits.max_depth {
            return self.exceed(ArchiveProblem::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    /// The limit a bomb broke, once one did (every later check fails too).
    pub fn exceeded(&self) -> Option<ArchiveProblem> {
        self.exceeded.borrow().clone()
    }

    fn exceed(&self, problem: ArchiveProblem) -> Result<(), ArchiveProblem> {
        let mut first = self.exceeded.borrow_mut();
        Err(first.get_or_insert(problem).clone())
    }
}

/// What a walk found below the object itself.
#[derive(Debug, Default)]
pub struct Findings {
    /// Matches in members, each with its member path.
    pub matches: Vec<RuleMatch>,
    /// The first member that could not be scanned (a bomb replaces it).
    pub problem: Option<(ArchiveProblem, Vec<String>)>,
}

/// Scans a member's bytes; the walker adds the member path to what it returns.
pub trait MemberScanner {
    /// The rules that match `data`, or why libyara failed.
    fn scan(&mut self, data: &[u8]) -> Result<Vec<RuleMatch>, String>;
}

/// Why a walk stopped early.
enum Stop {
    /// A limit of the budget (a bomb).
    Bomb(ArchiveProblem, Vec<String>),
    /// libyara failed on a member.
    Scan(String),
}

/// Walks the archive in `object` (if it is one), scanning every member.
/// Errors only when libyara fails on a member.
pub fn walk(
    object: &File,
    limits: ArchiveLimits,
    scanner: &mut dyn MemberScanner,
) -> Result<Findings, String> {
    let mut source = Positioned::new(object).map_err(|e| format!("cannot read the object: {e}"))?;
    let budget = Budget::new(limits, source.len);
    let mut walker = Walker {
        budget: &budget,
        scanner,
        found: Findings::default(),
    };
    match walker.container(&mut source, &[], 1) {
        Ok(()) => Ok(walker.found),
        Err(Stop::Bomb(problem, member)) => {
            walker.found.problem = Some((problem, member));
            Ok(walker.found)
        }
        Err(Stop::Scan(reason)) => Err(reason),
    }
}

struct Walker<'a> {
    budget: &'a Budget,
    scanner: &'a mut dyn MemberScanner,
    found: Findings,
}

impl Walker<'_> {
    /// Reads `reader` as a container if its first bytes say it is one.
    fn container<R: Read + Seek>(
        &mut self,
        reader: &mut R,
        path: &[String],
        depth: u32,
    ) -> Result<(), Stop> {
        let mut head = Vec::with_capacity(HEAD);
        let read = reader
            .seek(SeekFrom::Start(0))
            .and_then(|_| reader.by_ref().take(HEAD as u64).read_to_end(&mut head))
            .and_then(|_| reader.seek(SeekFrom::Start(0)));
        if let Err(e) = read {
            self.unreadable(path, e.to_string());
            return Ok(());
        }
        let Some(format) = detect(&head) else {
            return Ok(());
        };
        self.enter(path, depth)?;
        match format {
            Format::Zip => self.zip(reader, path, depth),
            Format::SevenZ => self.seven_z(reader, path, depth),
            Format::Tar => self.tar(reader, path, depth, true),
            Format::Gzip => self.stream(flate2::read::MultiGzDecoder::new(reader), path, depth),
            Format::Xz => self.stream(
                lzma_rust2::XzReader::new_mem_limit(reader, true, DECODER_MEMORY_KB),
                path,
                depth,
            ),
            Format::Bzip2 => self.stream(bzip2::read::MultiBzDecoder::new(reader), path, depth),
            Format::Zstd => match zstd::stream::read::Decoder::new(reader) {
                Ok(decoder) => self.stream(decoder, path, depth),
                Err(e) => {
                    self.unreadable(path, format!("zstd: {e}"));
                    Ok(())
                }
            },
        }
    }

    /// One more level of nesting below `path`, if the budget allows.
    fn enter(&self, path: &[String], depth: u32) -> Result<(), Stop> {
        self.budget
            .depth(depth)
            .map_err(|problem| Stop::Bomb(problem, path.to_vec()))
    }

    /// Scans one member's bytes, then reads it as a container in turn.
    fn member(&mut self, path: Vec<String>, data: &[u8], depth: u32) -> Result<(), Stop> {
        // Folders, links and empty files carry nothing to match.
        if data.is_empty() {
            return Ok(());
        }
        let matches = self.scanner.scan(data).map_err(Stop::Scan)?;
        self.found
            .matches
            .extend(matches.into_iter().map(|m| RuleMatch {
                member: path.clone(),
                ..m
            }));
        self.container(&mut Cursor::new(data), &path, depth + 1)
    }

    /// Notes a member that cannot be scanned; the walk goes on.
    fn problem(&mut self, problem: ArchiveProblem, path: Vec<String>) {
        tracing::info!("archive member {path:?}: {problem}");
        if self.found.problem.is_none() {
            self.found.problem = Some((problem, path));
        }
    }

    fn unreadable(&mut self, path: &[String], reason: String) {
        self.problem(ArchiveProblem::Corrupt { reason }, path.to_vec());
    }

    /// Turns a read error into a bomb refusal if the budget ran out, else
    /// notes the member as corrupt.
    fn read_failed(&mut self, path: Vec<String>, e: &io::Error) -> Result<(), Stop> {
        match self.budget.exceeded() {
            Some(problem) => Err(Stop::Bomb(problem, path)),
            None => {
                self.unreadable(&path, e.to_string());
                Ok(())
            }
        }
    }

    fn zip<R: Read + Seek>(&mut self, reader: R, path: &[String], depth: u32) -> Result<(), Stop> {
        let mut archive = match zip::ZipArchive::new(reader) {
            Ok(archive) => archive,
            Err(e) => {
                self.unreadable(path, format!("zip: {e}"));
                return Ok(());
            }
        };
        self.count_members(archive.len(), path)?;
        for index in 0..archive.len() {
            // Every entry is read, a "folder" too: data hidden in one is
            // still data.
            let (name, encrypted) = match archive.by_index_raw(index) {
                Ok(entry) => (member_name(entry.name_raw()), entry.encrypted()),
                Err(e) => {
                    self.unreadable(path, format!("zip member {index}: {e}"));
                    continue;
                }
            };
            let member = child(path, name);
            if encrypted {
                self.problem(ArchiveProblem::Encrypted, member);
                continue;
            }
            let data = match archive.by_index(index) {
                Ok(entry) => read_member(entry, self.budget, true),
                Err(e) => Err(io::Error::other(e)),
            };
            match data {
                Ok(data) => self.member(member, &data, depth)?,
                Err(e) => self.read_failed(member, &e)?,
            }
        }
        Ok(())
    }

    /// A tar; `counted`: its members' bytes count against the budget (false
    /// when a metered decompressor already counted them).
    fn tar<R: Read>(
        &mut self,
        reader: R,
        path: &[String],
        depth: u32,
        counted: bool,
    ) -> Result<(), Stop> {
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(entries) => entries,
            Err(e) => return self.read_failed(path.to_vec(), &e),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return self.read_failed(path.to_vec(), &e),
            };
            self.count_members(1, path)?;
            // Every entry's data is read, whatever its type says: data
            // hidden in a "folder" or "link" is still data.
            let member = child(path, member_name(&entry.path_bytes()));
            match read_member(entry, self.budget, counted) {
                Ok(data) => self.member(member, &data, depth)?,
                Err(e) => return self.read_failed(member, &e),
            }
        }
        Ok(())
    }

    fn seven_z<R: Read + Seek>(
        &mut self,
        reader: R,
        path: &[String],
        depth: u32,
    ) -> Result<(), Stop> {
        use sevenz_rust2::{ArchiveReader, Error, Password};
        let mut archive = match ArchiveReader::new_with_memory_limit(
            reader,
            Password::empty(),
            DECODER_MEMORY_KB as usize,
        ) {
            Ok(archive) => archive,
            // The names themselves are encrypted: no member can be named.
            // (Built without sevenz-rust2's `aes256`, the reader calls AES an
            // unsupported method; Zion never decrypts.)
            Err(Error::PasswordRequired | Error::MaybeBadPassword(_)) => {
                self.problem(ArchiveProblem::Encrypted, path.to_vec());
                return Ok(());
            }
            Err(Error::UnsupportedCompressionMethod(method)) if method.contains("AES") => {
                self.problem(ArchiveProblem::Encrypted, path.to_vec());
                return Ok(());
            }
            Err(e) => {
                self.unreadable(path, format!("7z: {e}"));
                return Ok(());
            }
        };
        // The worker may not make threads (RLIMIT_NPROC 0, no clone in its
        // seccomp allow-list).
        archive.set_thread_count(1);
        let files = &archive.archive().files;
        self.count_members(files.len(), path)?;
        let mut encrypted = false;
        for (index, file) in files.iter().enumerate() {
            if archive.archive().is_file_encrypted(index) {
                encrypted = true;
                let member = child(path, member_name(file.name.as_bytes()));
                self.problem(ArchiveProblem::Encrypted, member);
            }
        }
        let mut stop = None;
        let result = archive.for_each_entries(|entry, data| {
            if entry.is_directory || !entry.has_stream {
                return Ok(true);
            }
            let member = child(path, member_name(entry.name.as_bytes()));
            let outcome = match read_member(data, self.budget, true) {
                Ok(data) => self.member(member, &data, depth),
                Err(e) => self.read_failed(member, &e),
            };
            match outcome {
                Ok(()) => Ok(true),
                Err(s) => {
                    stop = Some(s);
                    Err(Error::Unsupported("stopped by the scan budget".into()))
                }
            }
        });
        if let Some(stop) = stop {
            return Err(stop);
        }
        match result {
            // An encrypted block cannot be decoded without its password:
            // already reported by name.
            Err(_) if encrypted => Ok(()),
            Err(e) => {
                self.unreadable(path, format!("7z: {e}"));
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// A gzip, xz, bzip2 or zstd stream: its content is read as a tar if it
    /// is one, else as one member.
    fn stream<R: Read>(&mut self, decoder: R, path: &[String], depth: u32) -> Result<(), Stop> {
        let mut metered = Metered {
            inner: decoder,
            budget: self.budget,
        };
        let mut head = Vec::with_capacity(HEAD);
        if let Err(e) = metered.by_ref().take(HEAD as u64).read_to_end(&mut head) {
            return self.read_failed(path.to_vec(), &e);
        }
        let content = Cursor::new(head).chain(metered);
        if is_tar_header(content.get_ref().0.get_ref()) {
            // A compressed tar is one level, as people think of it.
            return self.tar(content, path, depth, false);
        }
        self.count_members(1, path)?;
        let member = child(path, "(decompressed)".to_string());
        match read_member(content, self.budget, false) {
            Ok(data) => self.member(member, &data, depth),
            Err(e) => self.read_failed(member, &e),
        }
    }

    fn count_members(&self, n: usize, path: &[String]) -> Result<(), Stop> {
        self.budget
            .members(u64::try_from(n).unwrap_or(u64::MAX))
            .map_err(|problem| Stop::Bomb(problem, path.to_vec()))
    }
}

/// `path` with `name` added.
fn child(path: &[String], name: String) -> Vec<String> {
    let mut member = path.to_vec();
    member.push(name);
    member
}

/// A member's name as a report shows it: lossy UTF-8, with control and
/// bidirectional-override characters (which could disguise it in the panel
/// or a terminal) replaced, and cut to a sane length. Only ever a label.
pub fn member_name(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut name: String = text
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| {
            let disguise = c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if disguise {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    if text.chars().count() > MAX_NAME_CHARS {
        name.push('…');
    }
    if name.is_empty() {
        name.push_str("(unnamed)");
    }
    name
}

/// Reads a whole member into memory, counting its bytes against the budget
/// (unless a metered decoder below already does). Allocation failures under
/// the worker's address-space limit are errors, not aborts.
fn read_member(mut reader: impl Read, budget: &Budget, count: bool) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(data),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if count {
            budget
                .bytes(n as u64)
                .map_err(|problem| io::Error::other(problem.to_string()))?;
        }
        data.try_reserve(n)
            .map_err(|problem| io::Error::other(problem.to_string()))?;
        data.extend_from_slice(&chunk[..n]);
    }
}

/// A decompressor whose output counts against the budget as it comes.
struct Metered<'a, R> {
    inner: R,
    budget: &'a Budget,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget
            .bytes(n as u64)
            .map_err(|problem| io::Error::other(problem.to_string()))?;
        Ok(n)
    }
}

/// The object read at positions (`pread`): the descriptor's offset, which the
/// parent shares, never moves.
struct Positioned<'f> {
    file: &'f File,
    position: u64,
    len: u64,
}

impl<'f> Positioned<'f> {
    fn new(file: &'f File) -> io::Result<Self> {
        Ok(Positioned {
            file,
            position: 0,
            len: file_size(file)?,
        })
    }
}

impl Read for Positioned<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for Positioned<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        self.position = target.ok_or_else(|| io::Error::other("seek out of range"))?;
        Ok(self.position)
    }
}

/// The object's size through glibc's `fstat` (`newfstatat` with
/// `AT_EMPTY_PATH`, which the seccomp allow-list admits; std's `metadata`
/// tries `statx`, which it does not).
fn file_size(file: &File) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is a valid out-pointer for one `struct stat`, and the
    // descriptor is open for the borrow of `file`.
    let rc = unsafe { libc::fstat(file.as_raw_fd(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    Ok(u64::try_from(stat.st_size).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_magic_bytes() {
        assert_eq!(detect(b"PK\x03\x04rest"), Some(Format::Zip));
        assert_eq!(detect(b"7z\xbc\xaf\x27\x1c\x00\x04"), Some(Format::SevenZ));
        assert_eq!(detect(b"\x1f\x8b\x08\x00"), Some(Format::Gzip));
        assert_eq!(detect(b"\xfd7zXZ\x00\x00"), Some(Format::Xz));
        assert_eq!(detect(b"BZh91AY&SY"), Some(Format::Bzip2));
        assert_eq!(detect(b"BZh9 is a text, not a stream"), None);
        assert_eq!(detect(b"BZhX"), None);
        assert_eq!(detect(b"\x1f\x8b\x07 not deflate"), None);
        assert_eq!(detect(b"\x28\xb5\x2f\xfd\x00"), Some(Format::Zstd));
        assert_eq!(detect(b"MZ\x90\x00"), None);
        assert_eq!(detect(&[0u8; 512]), None);
        let mut header = tar::Header::new_ustar();
        header.set_path("a.txt").expect("path");
        header.set_cksum();
        assert_eq!(detect(header.as_bytes()), Some(Format::Tar));
        let mut old = tar::Header::new_old();
        old.set_path("a.txt").expect("path");
        old.set_cksum();
        assert_eq!(detect(old.as_bytes()), Some(Format::Tar));
        old.as_mut_bytes()[0] = b'b';
        assert_eq!(detect(old.as_bytes()), None, "a bad checksum is no tar");
    }

    fn limits() -> ArchiveLimits {
        ArchiveLimits {
            max_depth: 3,
            max_members: 5,
            max_unpacked: 1000,
            max_ratio: 10,
            ratio_floor: 100,
        }
    }

    #[test]
    fn the_ratio_is_judged_past_its_floor_only() {
        let budget = Budget::new(limits(), 5);
        assert!(budget.bytes(100).is_ok(), "20x, but under the floor");
        assert_eq!(
            budget.bytes(1),
            Err(ArchiveProblem::Ratio { limit: 10 }),
            "past the floor at 20x"
        );
        let big = Budget::new(limits(), 50);
        assert!(big.bytes(500).is_ok(), "10x is allowed");
    }

    #[test]
    fn each_limit_names_itself_and_the_first_one_sticks() {
        let budget = Budget::new(limits(), 1000);
        assert!(budget.bytes(1000).is_ok());
        assert_eq!(
            budget.bytes(1),
            Err(ArchiveProblem::TooLarge { limit: 1000 })
        );
        assert_eq!(
            budget.members(10),
            Err(ArchiveProblem::TooLarge { limit: 1000 }),
            "the first refusal is the one reported"
        );
        let members = Budget::new(limits(), 1000);
        assert!(members.members(5).is_ok());
        assert_eq!(
            members.members(1),
            Err(ArchiveProblem::TooManyMembers { limit: 5 })
        );
        let deep = Budget::new(limits(), 1000);
        assert!(deep.depth(3).is_ok());
        assert_eq!(deep.depth(4), Err(ArchiveProblem::TooDeep { limit: 3 }));
    }

    #[test]
    fn member_names_cannot_disguise_themselves() {
        assert_eq!(member_name(b"docs/readme.exe"), "docs/readme.exe");
        assert_eq!(member_name(b"../../etc/passwd"), "../../etc/passwd");
        assert_eq!(
            member_name("a\u{202e}exe.txt".as_bytes()),
            "a\u{fffd}exe.txt"
        );
        assert_eq!(member_name(b"a\x1b[2Jb\n"), "a\u{fffd}[2Jb\u{fffd}");
        assert_eq!(member_name(b"\xff"), "\u{fffd}");
        assert_eq!(member_name(b""), "(unnamed)");
        assert_eq!(
            member_name(&[b'x'; 5000]).chars().count(),
            MAX_NAME_CHARS + 1
        );
    }
}

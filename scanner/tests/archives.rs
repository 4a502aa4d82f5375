//! Archives are unpacked inside the confined worker and every member scanned
//! with the same rules: a match names its member path, bombs are refused in
//! bounded time under the worker's memory limit, encrypted and corrupt
//! archives are held as unscannable (never clean), and a tar whose members
//! try to escape (`../`, absolute names) writes nothing anywhere.

#[path = "scanner_support.rs"]
mod scanner_support;

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use scanner_support::{eicar, RulesEnv};
use zion_quarantine::{member_path, ArchiveProblem, Verdict};
use zion_scanner::archive::{MAX_DEPTH, MAX_MEMBERS, MAX_UNPACKED};
use zion_scanner::Scanner;

/// A zip of `(name, bytes)` members, deflated.
fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in members {
        writer.start_file(*name, options).expect("zip member");
        writer.write_all(bytes).expect("zip data");
    }
    writer.finish().expect("zip finish").into_inner()
}

/// A tar of `(name, bytes)` members. Names are written into the header as
/// they are, `../` and absolute ones too (the crate's `set_path` would
/// refuse them, as an honest archiver should).
fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in members {
        let mut header = tar::Header::new_gnu();
        let field = &mut header.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *bytes).expect("tar member");
    }
    builder.into_inner().expect("tar finish")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip finish")
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut writer =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).expect("xz writer");
    writer.write_all(bytes).expect("xz");
    writer.finish().expect("xz finish")
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    encoder.write_all(bytes).expect("bzip2");
    encoder.finish().expect("bzip2 finish")
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).expect("zstd")
}

/// A 7z of `(name, bytes)` members (LZMA2, solid).
fn seven_z_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())).expect("7z writer");
    for (name, bytes) in members {
        writer
            .push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(name), Some(*bytes))
            .expect("7z member");
    }
    writer.finish().expect("7z finish").into_inner()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The member paths of every EICAR match below the object itself (a tar, or
/// a tiny member stored rather than compressed, also shows the string in its
/// container's own bytes, which matches there too).
fn eicar_members(verdict: &Verdict) -> Vec<String> {
    let Verdict::Infected { matches } = verdict else {
        panic!("want infected, got {verdict:?}");
    };
    let mut found: Vec<String> = matches
        .iter()
        .filter(|m| m.rule == "EICAR_Test_String" && !m.member.is_empty())
        .map(|m| member_path(&m.member))
        .collect();
    found.sort();
    found
}

/// A scanner whose workers may map no more than `bytes`.
fn scanner_with_memory(env: &RulesEnv, bytes: u64) -> Scanner {
    let mut config = env.config();
    config.mem_limit = bytes;
    Scanner::new(config).expect("scanner starts")
}

#[test]
fn eicar_inside_zip_in_tar_gz_in_7z_is_found_and_named_by_member_path() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let payload = seven_z_of(&[
        ("readme.txt", b"nothing to see\n"),
        ("deep/eicar.com", &eicar()),
    ]);
    let docs = gzip(&tar_of(&[
        ("docs/notes.txt", b"plain notes\n"),
        ("docs/payload.7z", &payload),
    ]));
    let invoice = zip_of(&[
        ("invoice.pdf", b"%PDF-1.4 not really\n"),
        ("bundle/docs.tar.gz", &docs),
    ]);
    assert!(
        !contains(&invoice, &eicar()),
        "the test string must be visible only once unpacked"
    );
    let verdict = scanner.scan(&env.sample("invoice.zip", &invoice));
    let found = eicar_members(&verdict);
    assert!(
        found.contains(&"bundle/docs.tar.gz ▸ docs/payload.7z ▸ deep/eicar.com".to_string()),
        "{found:?}"
    );
    // LZMA2 stores a chunk this small as it is: the 7z's own bytes match too,
    // named as the 7z.
    assert!(
        found
            .iter()
            .all(|f| f.starts_with("bundle/docs.tar.gz ▸ docs/payload.7z")),
        "{found:?}"
    );
    let Verdict::Infected { matches } = &verdict else {
        unreachable!()
    };
    let m = matches
        .iter()
        .max_by_key(|m| m.member.len())
        .expect("a match");
    assert_eq!(
        m.member,
        ["bundle/docs.tar.gz", "docs/payload.7z", "deep/eicar.com"]
    );
    assert_eq!(m.author(), Some("Zion project"), "the rule's meta travels");
}

#[test]
fn every_compressed_tar_and_bare_stream_is_unpacked() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let tar = tar_of(&[("a/clean.txt", b"clean\n"), ("a/eicar.com", &eicar())]);
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("x.tar", tar.clone(), "a/eicar.com"),
        ("x.tar.gz", gzip(&tar), "a/eicar.com"),
        ("x.tar.xz", xz(&tar), "a/eicar.com"),
        ("x.tar.bz2", bzip2(&tar), "a/eicar.com"),
        ("x.tar.zst", zstd(&tar), "a/eicar.com"),
        ("eicar.com.xz", xz(&eicar()), "(decompressed)"),
    ];
    for (name, bytes, member) in cases {
        // The name says nothing: the worker looks at the bytes.
        let verdict = scanner.scan(&env.sample(&format!("{name}.download"), &bytes));
        assert_eq!(
            eicar_members(&verdict).last().map(String::as_str),
            Some(member),
            "{name}"
        );
    }
}

#[test]
fn a_clean_archive_of_clean_files_is_clean() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let inner = seven_z_of(&[("notes.txt", b"meeting at ten\n"), ("empty", b"")]);
    let tarball = xz(&tar_of(&[
        ("src/main.rs", b"fn main() {}\n"),
        ("src/x.7z", &inner),
    ]));
    let outer = zip_of(&[("README", b"hello\n"), ("src.tar.xz", &tarball)]);
    assert_eq!(
        scanner.scan(&env.sample("release.zip", &outer)),
        Verdict::Clean
    );
}

#[test]
fn a_high_ratio_member_is_refused_quickly_under_the_memory_limit() {
    let env = RulesEnv::new();
    // A tight address-space limit: refusing must not need the memory a
    // bomb asks for.
    let scanner = scanner_with_memory(&env, 512 << 20);
    let zeros = vec![0u8; 256 << 20];
    let bomb = zip_of(&[("zeros.bin", &zeros)]);
    drop(zeros);
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let sample = env.sample("bomb.zip", &bomb);
    let started = Instant::now();
    let verdict = scanner.scan(&sample);
    let took = started.elapsed();
    eprintln!("bomb.zip: {verdict:?} in {took:?}");
    assert_eq!(
        verdict,
        Verdict::Unscannable {
            problem: ArchiveProblem::Ratio { limit: 100 },
            member: vec!["zeros.bin".into()],
        }
    );
    assert!(took < Duration::from_secs(3), "refused in {took:?}");
}

#[test]
fn a_42_zip_style_nested_bomb_is_refused_in_bounded_time() {
    let env = RulesEnv::new();
    let scanner = scanner_with_memory(&env, 512 << 20);
    // 16 copies a level, 3 levels over 16 MiB of zeros: 64 GiB unpacked.
    let mut level = zip_of(&[("0.bin", &vec![0u8; 16 << 20])]);
    for depth in 0..3 {
        let names: Vec<String> = (0..16).map(|i| format!("{depth}-{i:x}.zip")).collect();
        let members: Vec<(&str, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), level.as_slice()))
            .collect();
        level = zip_of(&members);
    }
    let sample = env.sample("42.zip", &level);
    let started = Instant::now();
    let verdict = scanner.scan(&sample);
    let took = started.elapsed();
    eprintln!("42.zip: {verdict:?} in {took:?}");
    let Verdict::Unscannable { problem, member } = &verdict else {
        panic!("want a refused bomb, got {verdict:?}");
    };
    assert!(problem.is_bomb(), "{problem}");
    assert!(!member.is_empty(), "the refusal names where: {member:?}");
    assert!(took < Duration::from_secs(3), "refused in {took:?}");
    // The worker survived its refusal: the next scan is served normally.
    assert!(matches!(
        scanner.scan(&env.sample("eicar.com", &eicar())),
        Verdict::Infected { .. }
    ));
}

#[test]
fn archives_nested_too_deep_are_refused() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let mut level = b"just text\n".to_vec();
    for depth in 0..=MAX_DEPTH {
        level = zip_of(&[(&format!("level{depth}"), &level)]);
    }
    let verdict = scanner.scan(&env.sample("russian-doll.zip", &level));
    let Verdict::Unscannable { problem, member } = &verdict else {
        panic!("want too deep, got {verdict:?}");
    };
    assert_eq!(*problem, ArchiveProblem::TooDeep { limit: MAX_DEPTH });
    assert_eq!(member.len(), MAX_DEPTH as usize, "{member:?}");
}

#[test]
fn an_archive_of_too_many_members_is_refused() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let names: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("f{i}")).collect();
    let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let tar = tar_of(&members);
    let started = Instant::now();
    let verdict = scanner.scan(&env.sample("many.tar", &tar));
    assert_eq!(
        verdict,
        Verdict::Unscannable {
            problem: ArchiveProblem::TooManyMembers { limit: MAX_MEMBERS },
            member: vec![],
        }
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn more_unpacked_bytes_than_the_limit_are_refused() {
    let env = RulesEnv::new();
    let scanner = scanner_with_memory(&env, 1 << 30);
    // A plain tar expands nothing (no ratio), but holds more than the limit.
    let half = vec![0u8; usize::try_from(MAX_UNPACKED / 2).expect("size") + 1];
    let tar = tar_of(&[("a.bin", &half), ("b.bin", &half)]);
    drop(half);
    let verdict = scanner.scan(&env.sample("big.tar", &tar));
    assert_eq!(
        verdict,
        Verdict::Unscannable {
            problem: ArchiveProblem::TooLarge {
                limit: MAX_UNPACKED
            },
            member: vec!["b.bin".into()],
        }
    );
}

#[test]
fn the_scanner_config_sets_the_archive_limits() {
    let env = RulesEnv::new();
    let mut config = env.config();
    config.archive.max_members = 3;
    let scanner = Scanner::new(config).expect("scanner starts");
    let four = zip_of(&[("a", b"1"), ("b", b"2"), ("c", b"3"), ("d", b"4")]);
    assert_eq!(
        scanner.scan(&env.sample("four.zip", &four)),
        Verdict::Unscannable {
            problem: ArchiveProblem::TooManyMembers { limit: 3 },
            member: vec![],
        }
    );
    let three = zip_of(&[("a", b"1"), ("b", b"2"), ("c", b"3")]);
    assert_eq!(
        scanner.scan(&env.sample("three.zip", &three)),
        Verdict::Clean
    );
}

#[test]
fn an_encrypted_zip_is_held_as_unscannable_never_clean() {
    if !zion_tests::skip::installed("zip", "zip") {
        return;
    }
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let dir = env.dir.path().join("secret");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("contract.txt"), b"harmless, but who can tell\n").expect("write");
    let archive = env.dir.path().join("secret.zip");
    let status = Command::new("zip")
        .args(["-q", "-P", "hunter2"])
        .arg(&archive)
        .arg("contract.txt")
        .current_dir(&dir)
        .status()
        .expect("run zip");
    assert!(status.success());
    let verdict = scanner.scan(&archive);
    assert_eq!(
        verdict,
        Verdict::Unscannable {
            problem: ArchiveProblem::Encrypted,
            member: vec!["contract.txt".into()],
        }
    );
    assert!(!verdict.is_clean());

    // A match in a readable member still makes the whole infected.
    std::fs::write(dir.join("eicar.com"), eicar()).expect("write");
    let status = Command::new("zip")
        .args(["-q"])
        .arg(&archive)
        .arg("eicar.com")
        .current_dir(&dir)
        .status()
        .expect("run zip");
    assert!(status.success());
    assert_eq!(eicar_members(&scanner.scan(&archive)), ["eicar.com"]);
}

#[test]
fn a_corrupt_archive_is_held_with_its_reason() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let whole = zip_of(&[("a.txt", &b"some text ".repeat(1000))]);
    let truncated = &whole[..whole.len() / 2];
    let cut_tarball = gzip(&tar_of(&[("a.txt", &b"more text ".repeat(10_000))]));
    for (name, bytes) in [
        ("cut.zip", truncated.to_vec()),
        ("cut.tar.gz", cut_tarball[..cut_tarball.len() / 2].to_vec()),
    ] {
        let verdict = scanner.scan(&env.sample(name, &bytes));
        let Verdict::Unscannable {
            problem: ArchiveProblem::Corrupt { reason },
            ..
        } = &verdict
        else {
            panic!("{name}: want corrupt, got {verdict:?}");
        };
        assert!(!reason.is_empty(), "{name}");
    }
}

#[test]
fn a_tar_whose_members_try_to_escape_is_scanned_without_writing_anywhere() {
    let env = RulesEnv::new();
    let scanner = env.scanner();
    let target = env.dir.path().join("escaped");
    std::fs::create_dir_all(&target).expect("mkdir");
    // Relative to wherever an unpacker might stand, and absolute.
    let climbing = format!("../../../../../../../..{}/climbed.com", target.display());
    let absolute = format!("{}/absolute.com", target.display());
    let tar = tar_of(&[(&climbing, &eicar()), (&absolute, &eicar())]);
    let verdict = scanner.scan(&env.sample("escape.tar", &tar));
    let mut want = vec![climbing.clone(), absolute.clone()];
    want.sort();
    assert_eq!(
        eicar_members(&verdict),
        want,
        "each named as the attacker wrote it"
    );
    let left: Vec<_> = std::fs::read_dir(&target).expect("read dir").collect();
    assert!(left.is_empty(), "nothing was written: {left:?}");
    assert!(!Path::new(&absolute).exists());
}

//! Sizes (`4GiB`) and durations (`10m`) as a person writes them.

use std::time::Duration;

/// Parses a positive duration: `90s`, `10m`, `1h30m`, `2d` (see
/// [`parse_delay`]); zero is refused (`"never"` is how a setting says "off").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match parse_delay(s)? {
        Duration::ZERO => Err(format!("`{s}` is not a duration: it is zero")),
        d => Ok(d),
    }
}

/// Parses a delay that may be zero: whole numbers each followed by a unit
/// (`ms`, `s`, `m`, `h`, `d`), e.g. `0s`, `600ms`, `90s`, `1h30m`.
/// Surrounding blanks are ignored. A number without a unit (`"10"`) is
/// refused: seconds or minutes would be a guess.
pub fn parse_delay(s: &str) -> Result<Duration, String> {
    let bad = |why: String| format!("`{s}` is not a duration: {why}");
    let text = s.trim();
    if text.is_empty() {
        return Err(bad("it is empty; write e.g. \"10m\"".into()));
    }
    let mut total = 0u64; // milliseconds
    let mut digits = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let (unit, name) = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                (1, "ms")
            }
            's' => (1000, "s"),
            'm' => (60_000, "m"),
            'h' => (3_600_000, "h"),
            'd' => (86_400_000, "d"),
            other => return Err(bad(format!("unknown unit `{other}` (ms, s, m, h or d)"))),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| bad(format!("a number must come before `{name}`")))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("too long".into()))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(bad(format!("`{digits}` has no unit (ms, s, m, h or d)")));
    }
    Ok(Duration::from_millis(total))
}

/// The shortest text `parse_duration` reads back as `d` (to the
/// millisecond).
pub fn format_duration(d: Duration) -> String {
    let mut millis = d.as_millis().min(u128::from(u64::MAX)) as u64;
    let mut out = String::new();
    for (unit, name) in [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
        (1, "ms"),
    ] {
        if millis >= unit {
            out.push_str(&format!("{}{name}", millis / unit));
            millis %= unit;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// Parses a size: bytes as an integer, or `512MiB`, `4GiB`, `2G`, `1.5 MB`
/// (K/M/G/T and KiB/MiB/GiB/TiB are binary, as Podman reads them;
/// KB (or kB)/MB/GB/TB decimal). Surrounding blanks are ignored.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a size");
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    // Whole numbers are exact; a fraction ("1.5GiB") goes through f64.
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(factor).ok_or_else(bad);
    }
    if !number.contains(|c: char| c.is_ascii_digit()) {
        return Err(bad());
    }
    let bytes = number.parse::<f64>().map_err(|_| bad())? * factor as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

/// The shortest exact text for a size.
pub fn format_size(bytes: u64) -> String {
    for (unit, name) in [
        (1u64 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{name}", bytes / unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(
            parse_size("lots").is_err() && parse_size("5XB").is_err() && parse_size("").is_err()
        );
        assert!(parse_size("20000000T").is_err(), "overflow");
        assert!(parse_size(".GiB").is_err());
        for n in [4096, 512 << 20, 3 << 30, 1_000_000_001, (1 << 60) + 1] {
            assert_eq!(parse_size(&format_size(n)).unwrap(), n);
        }
    }

    #[test]
    fn durations_read_and_print_back() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        for bad in ["", "10", "m", "10x", "0s", "-1m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration(" 10m ").unwrap(), Duration::from_secs(600));
        for s in [90, 600, 3600, 5400, 86401] {
            let d = Duration::from_secs(s);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }

    /// The grammar the quarantine's own parser had and zion.toml's profile
    /// values did not (and the other way round): one grammar now, for both.
    #[test]
    fn one_grammar_for_every_section() {
        // Delays may be zero (a transfer hold of "0s"); durations may not.
        assert_eq!(parse_delay("0s").unwrap(), Duration::ZERO);
        assert!(parse_duration("0s").is_err());
        assert!(
            parse_delay("0").is_err(),
            "no unit is refused, even for zero"
        );
        for bad in ["", " ", "10", "10x", "m", "1.5h", "-1m", "1 m"] {
            let err = parse_delay(bad).expect_err(bad);
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
        assert!(parse_delay("10").unwrap_err().contains("has no unit"));
        // Milliseconds, for key repeat: `ms` is not `m` then `s`.
        assert_eq!(parse_delay("600ms").unwrap(), Duration::from_millis(600));
        assert_eq!(parse_delay("1s250ms").unwrap(), Duration::from_millis(1250));
        assert_eq!(format_duration(Duration::from_millis(1250)), "1s250ms");
        assert!(parse_delay("ms").is_err() && parse_delay("5 ms").is_err());
        // Sizes: what either parser read before is read now.
        assert_eq!(parse_size("10kB").unwrap(), 10_000, "quarantine's kB");
        assert_eq!(parse_size("2G").unwrap(), 2 << 30, "profiles' G");
        assert_eq!(parse_size(" 1 TiB ").unwrap(), 1 << 40);
        assert_eq!(parse_size("3MB").unwrap(), 3_000_000);
        for bad in ["GiB", "2 gigs", "1e5", "-1", "1.2.3MiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}

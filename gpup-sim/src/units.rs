//! Quantities with units on the command line: sizes (`4GiB`, `512MB`),
//! rates (`512MiB/s`, `10Gbit`, `10Gbit/s`, `1.25GB/s`), durations
//! (`750ms`, `1.5s`) and fractions (`25%`, `0.25`).
//!
//! Binary prefixes (`Ki`, `Mi`, `Gi`, `Ti`, and the bare `K`, `M`, `G`, `T`
//! with a byte unit) are powers of 1024; `kB`/`KB`, `MB`, `GB`, `TB` and
//! every bit prefix without `i` (`Gbit`, `Mb`) are powers of 1000, as network
//! speeds are quoted. `B` is bytes, `b`/`bit`/`bits` is bits. Numbers may have
//! a decimal fraction; arithmetic is exact (integers), rounded to the nearest unit.

/// A decimal number as `mantissa / 10^scale`.
struct Decimal {
    mantissa: u128,
    scale: u32,
}

/// Splits `text` into its leading decimal number and the rest.
fn number(text: &str) -> Result<(Decimal, &str), String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("'{text}': the value must not be negative"));
    }
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (digits, rest) = text.split_at(end);
    let digits = digits.replace('_', "");
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(format!("'{text}' does not start with a number"));
    }
    if frac.contains('.') || frac.len() > 18 {
        return Err(format!("'{text}' is not a valid number"));
    }
    let all = format!("{int}{frac}");
    let mantissa = all
        .parse::<u128>()
        .map_err(|_| format!("'{text}': the number is too large"))?;
    let scale = u32::try_from(frac.len()).map_err(|_| format!("'{text}' is not a valid number"))?;
    Ok((Decimal { mantissa, scale }, rest.trim()))
}

/// `value * multiplier / divisor`, rounded to the nearest integer.
fn scaled(value: &Decimal, multiplier: u128, divisor: u128, text: &str) -> Result<u64, String> {
    let too_large = || format!("'{text}' is too large");
    let denominator = 10u128
        .checked_pow(value.scale)
        .and_then(|p| p.checked_mul(divisor))
        .ok_or_else(too_large)?;
    let numerator = value
        .mantissa
        .checked_mul(multiplier)
        .ok_or_else(too_large)?;
    let rounded = numerator
        .checked_add(denominator / 2)
        .ok_or_else(too_large)?
        / denominator;
    u64::try_from(rounded).map_err(|_| too_large())
}

/// The multiplier of a prefix (`""`, `k`, `K`, `Ki`, `M`, `Mi`, ...), with
/// `binary_bare` deciding what a prefix without `i` means.
fn prefix(p: &str, binary_bare: bool) -> Option<u128> {
    let (letter, binary) = match p.strip_suffix('i') {
        Some(letter) => (letter, true),
        None => (p, binary_bare),
    };
    let power = match letter {
        "" => return (!p.ends_with('i')).then_some(1),
        "k" | "K" => 1,
        "m" | "M" => 2,
        "g" | "G" => 3,
        "t" | "T" => 4,
        _ => return None,
    };
    let base: u128 = if binary { 1024 } else { 1000 };
    Some(base.pow(power))
}

const SIZE_UNITS: &str = "B, KiB, MiB, GiB, TiB (or K, M, G, T), KB, MB, GB, TB";

/// A size in bytes: `4096`, `4KiB`, `4K`, `1.5GiB`, `512MB`.
///
/// # Errors
/// A message naming the problem.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (value, unit) = number(text)?;
    let unit = unit.strip_suffix('B').unwrap_or(unit);
    // A bare letter (K, M, G, T) is binary; with B only the `i` form is.
    let binary_bare = !text.trim().ends_with('B') || unit.is_empty();
    let multiplier = prefix(unit, binary_bare)
        .ok_or_else(|| format!("'{text}': unknown size unit (use {SIZE_UNITS})"))?;
    scaled(&value, multiplier, 1, text)
}

/// A rate in bytes per second: `512MiB/s`, `1GB/s`, or in bits: `10Gbit`,
/// `10Gbit/s`, `10Gbps`, `10Gb/s` (bits are divided by 8).
///
/// # Errors
/// A message naming the problem.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    above_zero(text, "the rate", rate(text)?)
}

/// [`parse_rate`] without the zero check.
fn rate(text: &str) -> Result<u64, String> {
    let (value, unit) = number(text)?;
    let unit = unit
        .strip_suffix("/s")
        .or_else(|| unit.strip_suffix("ps"))
        .unwrap_or(unit);
    let bad = || {
        format!(
            "'{text}': unknown rate unit (use bytes: B/s, KiB/s, MiB/s, GiB/s, MB/s, GB/s; or bits: bit, Kbit, Mbit, Gbit, Gbit/s, Gbps)"
        )
    };
    for bits in ["bits", "bit", "b"] {
        if let Some(p) = unit.strip_suffix(bits) {
            let multiplier = prefix(p, false).ok_or_else(bad)?;
            return scaled(&value, multiplier, 8, text);
        }
    }
    let Some(p) = unit.strip_suffix('B') else {
        return Err(bad());
    };
    let multiplier = prefix(p, false).ok_or_else(bad)?;
    scaled(&value, multiplier, 1, text)
}

/// A link speed in bits per second (same syntax as [`parse_rate`]).
///
/// # Errors
/// A message naming the problem.
pub fn parse_link(text: &str) -> Result<u64, String> {
    let (value, _) = number(text)?;
    if value.mantissa == 0 {
        return Err(format!("'{text}': the link speed must be above zero"));
    }
    above_zero(text, "the link speed", link(text)?)
}

/// [`parse_link`] without the zero check.
fn link(text: &str) -> Result<u64, String> {
    let (value, unit) = number(text)?;
    let unit = unit
        .strip_suffix("/s")
        .or_else(|| unit.strip_suffix("ps"))
        .unwrap_or(unit);
    for bits in ["bits", "bit", "b"] {
        if let Some(p) = unit.strip_suffix(bits)
            && let Some(multiplier) = prefix(p, false)
        {
            return scaled(&value, multiplier, 1, text);
        }
    }
    rate(text).and_then(|bytes| {
        bytes
            .checked_mul(8)
            .ok_or_else(|| format!("'{text}' is too large"))
    })
}

/// A duration in nanoseconds: `750ms`, `1.5s`, `250us`, `100ns`, `2min`.
///
/// # Errors
/// A message naming the problem.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let (value, unit) = number(text)?;
    let multiplier: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "min" => 60_000_000_000,
        _ => {
            return Err(format!(
                "'{text}': unknown duration unit (use ns, us, ms, s, min)"
            ));
        }
    };
    scaled(&value, multiplier, 1, text)
}

/// A fraction in `[0, 1]`: `25%` or `0.25`.
///
/// # Errors
/// A message naming the problem.
pub fn parse_fraction(text: &str) -> Result<f64, String> {
    let (value, unit) = number(text)?;
    let millionths = match unit {
        "%" => scaled(&value, 10_000, 1, text)?,
        "" => scaled(&value, 1_000_000, 1, text)?,
        _ => {
            return Err(format!(
                "'{text}': use a percentage (25%) or a fraction (0.25)"
            ));
        }
    };
    if millionths > 1_000_000 {
        return Err(format!("'{text}' is more than 100%"));
    }
    let millionths =
        u32::try_from(millionths).map_err(|_| format!("'{text}' is more than 100%"))?;
    Ok(f64::from(millionths) / 1e6)
}

/// A working set: a size, or a percentage of the VF's reserve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WorkingSet {
    /// Bytes.
    Bytes(u64),
    /// A fraction of the reserve.
    OfReserve(f64),
}

/// A working set: `1GiB` or `25%`.
///
/// # Errors
/// A message naming the problem.
pub fn parse_working_set(text: &str) -> Result<WorkingSet, String> {
    if text.trim().ends_with('%') {
        parse_positive_fraction(text).map(WorkingSet::OfReserve)
    } else {
        above_zero(text, "the working set", parse_size(text)?).map(WorkingSet::Bytes)
    }
}

/// `value` unless it is zero: a message naming `what` otherwise.
fn above_zero(text: &str, what: &str, value: u64) -> Result<u64, String> {
    if value == 0 {
        Err(format!("'{text}': {what} must be above zero"))
    } else {
        Ok(value)
    }
}

/// A fraction in `(0, 1]`: [`parse_fraction`] that refuses zero.
///
/// # Errors
/// A message naming the problem.
pub fn parse_positive_fraction(text: &str) -> Result<f64, String> {
    let fraction = parse_fraction(text)?;
    if fraction > 0.0 {
        Ok(fraction)
    } else {
        Err(format!("'{text}': must be above zero"))
    }
}

/// A whole number (`--seed`); a negative one gets a message about its sign.
///
/// # Errors
/// A message naming the problem.
pub fn parse_count(text: &str) -> Result<u64, String> {
    let (value, unit) = number(text)?;
    if !unit.is_empty() || value.scale != 0 {
        return Err(format!("'{text}' is not a whole number"));
    }
    u64::try_from(value.mantissa).map_err(|_| format!("'{text}' is too large"))
}

/// A whole number of at least 1 (`--write-limit`, `--drop-one-mark-in`).
///
/// # Errors
/// A message naming the problem.
pub fn parse_positive_count(text: &str) -> Result<u64, String> {
    above_zero(text, "the value", parse_count(text)?)
}

/// A whole number that fits 32 bits (`--vfs`, `--ranges`, ...).
///
/// # Errors
/// A message naming the problem.
pub fn parse_u32(text: &str) -> Result<u32, String> {
    u32::try_from(parse_count(text)?).map_err(|_| format!("'{text}' is too large"))
}

/// `bytes` with a binary unit, 3 significant digits (`1.00 GiB`, `512 KiB`).
#[must_use]
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut scale = 1u64;
    while unit + 1 < UNITS.len() && bytes >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} B");
    }
    let value = ratio(bytes, scale);
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// A bit rate, decimal (`10.0 Gbit/s`).
#[must_use]
pub fn format_link(bits: u64) -> String {
    const UNITS: [&str; 5] = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
    let mut unit = 0;
    let mut scale = 1u64;
    while unit + 1 < UNITS.len() && bits >= scale * 1000 {
        scale *= 1000;
        unit += 1;
    }
    format!("{:.1} {}", ratio(bits, scale), UNITS[unit])
}

/// A duration with a unit that keeps 3-4 significant digits.
#[must_use]
pub fn format_duration(d: std::time::Duration) -> String {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ratio(ns, 1_000))
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", ratio(ns, 1_000_000))
    } else if ns < 600_000_000_000 {
        format!("{:.2} s", ratio(ns, 1_000_000_000))
    } else if ns < 86_400_000_000_000 {
        format!("{:.1} min", ratio(ns, 60_000_000_000))
    } else {
        format!("{:.1} days", ratio(ns, 86_400_000_000_000))
    }
}

/// `a / b` as a float (display only).
#[must_use]
pub fn ratio(a: u64, b: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let (a, b) = (a as f64, b.max(1) as f64);
    a / b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4096B"), Ok(4096));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("4GB"), Ok(4_000_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size(" 64 MiB "), Ok(64 << 20));
        assert!(parse_size("4GX").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("GiB").unwrap_err().contains("number"));
        assert!(parse_size("-1GiB").is_err());
        assert!(parse_size("1.2.3GiB").is_err());
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
        assert_eq!(parse_size("4Gi"), Ok(4 << 30));
    }

    #[test]
    fn rates_and_links() {
        assert_eq!(parse_rate("512MiB/s"), Ok(512 << 20));
        assert_eq!(parse_rate("1GB/s"), Ok(1_000_000_000));
        assert_eq!(parse_rate("10Gbit"), Ok(1_250_000_000));
        assert_eq!(parse_rate("8b/s"), Ok(1));
        assert_eq!(parse_link("10Gbit"), Ok(10_000_000_000));
        assert_eq!(parse_link("10Gbit/s"), Ok(10_000_000_000));
        assert_eq!(parse_link("10Gbps"), Ok(10_000_000_000));
        assert_eq!(parse_link("25Gb/s"), Ok(25_000_000_000));
        assert_eq!(parse_link("1.25GB/s"), Ok(10_000_000_000));
        assert_eq!(parse_link("1GiB/s"), Ok(8 << 30));
        assert!(
            parse_rate("10Gfoo")
                .unwrap_err()
                .contains("unknown rate unit")
        );
        assert!(parse_link("fast").is_err());
    }

    #[test]
    fn durations_and_fractions() {
        assert_eq!(parse_duration("750ms"), Ok(750_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("250us"), Ok(250_000));
        assert!(parse_duration("750").unwrap_err().contains("unit"));
        assert_eq!(parse_fraction("25%"), Ok(0.25));
        assert_eq!(parse_fraction("0.9"), Ok(0.9));
        assert!(parse_fraction("150%").unwrap_err().contains("100%"));
        assert_eq!(parse_working_set("25%"), Ok(WorkingSet::OfReserve(0.25)));
        assert_eq!(parse_working_set("1GiB"), Ok(WorkingSet::Bytes(1 << 30)));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(1 << 30), "1.00 GiB");
        assert_eq!(format_size(512 << 10), "512 KiB");
        assert_eq!(format_size(100), "100 B");
        assert_eq!(format_link(10_000_000_000), "10.0 Gbit/s");
        assert_eq!(
            format_duration(std::time::Duration::from_micros(750_000)),
            "750.0 ms"
        );
    }
}

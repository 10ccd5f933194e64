//! Benchmarks of the runner crates against raw tokio, in `benches/`; run them with
//! `cargo xtask bench`. The crate exists so the benchmarks build their dependencies with the
//! production feature set (see `Cargo.toml`); this library holds what the benchmarks share.
#![forbid(unsafe_code)]

use std::error::Error;

/// The result type of the benchmark binaries.
pub type BoxResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Which implementation a measurement is of: ours, or the raw tokio code it wraps. Named on the
/// command line of the child processes that measure one side each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The runner under test.
    Ours,
    /// The raw tokio baseline doing the same work.
    Raw,
}

impl Side {
    /// The side's name on a child's command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Side::Ours => "ours",
            Side::Raw => "raw",
        }
    }

    /// The side called `name`, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Side::Ours, Side::Raw]
            .into_iter()
            .find(|side| side.name() == name)
    }
}

/// The median of `values` (the mean of the middle two for an even count; 0 for none). Sorts
/// `values` in place.
pub fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    let mid = values.len() / 2;
    match values.len() {
        0 => 0,
        len if len % 2 == 0 => values[mid - 1].midpoint(values[mid]),
        _ => values[mid],
    }
}

/// `ours / baseline`, guarding against a zero baseline.
#[must_use]
pub fn ratio(ours: u64, baseline: u64) -> f64 {
    ours as f64 / baseline.max(1) as f64
}

/// This process's resident set, in bytes, from `/proc/self/status`.
///
/// # Errors
///
/// If the file cannot be read or has no `VmRSS` line in kB.
pub fn resident_bytes() -> BoxResult<u64> {
    status_bytes("VmRSS")
}

/// This process's peak resident set so far (its high-water mark), in bytes, from
/// `/proc/self/status`.
///
/// # Errors
///
/// If the file cannot be read or has no `VmHWM` line in kB.
pub fn peak_resident_bytes() -> BoxResult<u64> {
    status_bytes("VmHWM")
}

/// The `field` line of `/proc/self/status` (a size in kB), in bytes.
fn status_bytes(field: &str) -> BoxResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("/proc/self/status has no {field} line"))?;
    let kib = line
        .trim()
        .strip_suffix("kB")
        .ok_or_else(|| format!("{field} is not in kB: {line:?}"))?
        .trim()
        .parse::<u64>()?;
    Ok(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [5, 1, 3]), 3);
        assert_eq!(median(&mut [4, 1, 3, 2]), 2);
        assert_eq!(median(&mut []), 0);
    }

    #[test]
    fn resident_and_peak_are_read() {
        let (now, peak) = (resident_bytes().unwrap(), peak_resident_bytes().unwrap());
        assert!(now > 0 && peak >= now, "VmRSS {now}, VmHWM {peak}");
    }

    #[test]
    fn sides_round_trip_by_name() {
        for side in [Side::Ours, Side::Raw] {
            assert_eq!(Side::from_name(side.name()), Some(side));
        }
        assert_eq!(Side::from_name("both"), None);
    }
}

//! Deadlines that saturate: `Duration::MAX`, and any duration too large to add to an
//! [`Instant`], means "no limit", as it does for `tokio::time::sleep`.

use std::time::{Duration, Instant};

/// About thirty years: far enough to never come, near enough to add to any instant a program
/// sees.
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `from + after`, or a moment in the far future if that overflows (or is further away than
/// thirty years): never a panic.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use runner_lifecycle::deadline::after;
///
/// let now = Instant::now();
/// assert_eq!(after(now, Duration::from_secs(5)), now + Duration::from_secs(5));
/// assert!(after(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
/// ```
#[must_use]
pub fn after(from: Instant, after: Duration) -> Instant {
    from.checked_add(after.min(FAR))
        .unwrap_or_else(|| far_future(from))
}

/// A moment that never comes in practice, for a timer with nothing to wait for.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// let now = Instant::now();
/// assert!(runner_lifecycle::deadline::far_future(now) > now);
/// ```
#[must_use]
pub fn far_future(from: Instant) -> Instant {
    // FAR fits after any instant a running program holds; fall back to a day if it does not.
    from.checked_add(FAR)
        .or_else(|| from.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(from)
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_saturate() {
        let now = Instant::now();
        for huge in [Duration::MAX, Duration::from_secs(u64::MAX), FAR * 2] {
            assert_eq!(after(now, huge), far_future(now));
        }
        assert_eq!(after(now, Duration::ZERO), now);
    }
}

//! [`Backoff`]: how long to wait before retrying a record, or polling again after a poll error.

use std::fmt;
use std::time::Duration;

/// The runners' poll-error backoff, and [`Backoff::default`]'s delay: 1 s, fixed (the
/// reference's `WithPollErrorBackoff` default).
///
/// # Examples
///
/// ```
/// use runner_kafka::{Backoff, DEFAULT_POLL_ERROR_BACKOFF};
///
/// assert_eq!(Backoff::default(), Backoff::fixed(DEFAULT_POLL_ERROR_BACKOFF));
/// assert_eq!(Backoff::default().delay(7), DEFAULT_POLL_ERROR_BACKOFF);
/// ```
pub const DEFAULT_POLL_ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// How long to wait before retry number `attempt`: fixed, or exponential
/// (`initial × multiplier^(attempt-1)`, at most `max`), and with jitter moved by up to ±25 % at
/// random so that partitions that failed together do not retry together.
///
/// Every computation saturates: no attempt number and no duration overflows or panics. The
/// jitter applies after the cap, as in `runner_supervisor::Backoff`, so a jittered delay lies in
/// `[0.75 × max, 1.25 × max]` once the cap is reached (and `1.25 × max` saturates at
/// [`Duration::MAX`]).
///
/// The default is [`fixed`](Backoff::fixed)`(`[`DEFAULT_POLL_ERROR_BACKOFF`]`)`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::Backoff;
///
/// let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1), 2.0)
///     .with_jitter(false);
/// assert_eq!(backoff.delay(1), Duration::from_millis(100));
/// assert_eq!(backoff.delay(3), Duration::from_millis(400));
/// assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(1)); // capped
/// assert_eq!(backoff.to_string(), "exponential 100ms..1s ×2");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    /// At least 1, never NaN (the constructors make sure).
    multiplier: f64,
    jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::fixed(DEFAULT_POLL_ERROR_BACKOFF)
    }
}

impl Backoff {
    /// The same `delay` before every retry, without jitter (turn it on with
    /// [`with_jitter`](Backoff::with_jitter)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::Backoff;
    ///
    /// let backoff = Backoff::fixed(Duration::from_millis(250));
    /// assert_eq!(backoff.delay(1), Duration::from_millis(250));
    /// assert_eq!(backoff.delay(100), Duration::from_millis(250));
    /// ```
    #[must_use]
    pub fn fixed(delay: Duration) -> Self {
        Backoff {
            initial: delay,
            max: delay,
            multiplier: 1.0,
            jitter: false,
        }
    }

    /// Delays from `initial`, multiplied by `multiplier` at each retry, at most `max`, with
    /// jitter (turn it off with [`with_jitter`](Backoff::with_jitter)).
    ///
    /// Never fails and never panics: a `multiplier` below 1, or NaN, counts as 1 (the delay stays
    /// `initial`: a backoff never shrinks), an infinite one reaches `max` at the second retry,
    /// and an `initial` above `max` gives `max` every time. This constructor is for delays
    /// written in the code, where a wrong multiplier is a typo that should not cost a crash at
    /// runtime; delays read from configuration should go through
    /// [`try_exponential`](Backoff::try_exponential), which reports them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::Backoff;
    ///
    /// let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60), 3.0)
    ///     .with_jitter(false);
    /// assert_eq!(backoff.delay(3), Duration::from_secs(9));
    ///
    /// let shrinking = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60), 0.5);
    /// assert_eq!(shrinking.with_jitter(false).delay(3), Duration::from_secs(1)); // clamped to 1
    /// ```
    #[must_use]
    pub fn exponential(initial: Duration, max: Duration, multiplier: f64) -> Self {
        Backoff {
            initial,
            max,
            // `f64::max` returns the other operand when one is NaN.
            multiplier: multiplier.max(1.0),
            jitter: true,
        }
    }

    /// As [`exponential`](Backoff::exponential), but a multiplier below 1 or NaN, or an
    /// `initial` above `max`, is an error instead of being clamped.
    ///
    /// # Errors
    ///
    /// [`BackoffError::BadMultiplier`] and [`BackoffError::InitialAboveMax`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::{Backoff, BackoffError};
    ///
    /// let (second, minute) = (Duration::from_secs(1), Duration::from_secs(60));
    /// assert!(Backoff::try_exponential(second, minute, 2.0).is_ok());
    /// assert_eq!(
    ///     Backoff::try_exponential(second, minute, 0.5),
    ///     Err(BackoffError::BadMultiplier(0.5)),
    /// );
    /// assert_eq!(
    ///     Backoff::try_exponential(minute, second, 2.0).unwrap_err().to_string(),
    ///     "backoff initial delay 60s is longer than its max 1s",
    /// );
    /// ```
    pub fn try_exponential(
        initial: Duration,
        max: Duration,
        multiplier: f64,
    ) -> Result<Self, BackoffError> {
        if multiplier.is_nan() || multiplier < 1.0 {
            return Err(BackoffError::BadMultiplier(multiplier));
        }
        if initial > max {
            return Err(BackoffError::InitialAboveMax { initial, max });
        }
        Ok(Backoff::exponential(initial, max, multiplier))
    }

    /// The same backoff, with the ±25 % jitter on or off. Default: off for
    /// [`fixed`](Backoff::fixed), on for [`exponential`](Backoff::exponential).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::Backoff;
    ///
    /// let spread = Backoff::fixed(Duration::from_secs(4)).with_jitter(true);
    /// let delay = spread.delay(1);
    /// assert!(Duration::from_secs(3) <= delay && delay <= Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn with_jitter(self, jitter: bool) -> Self {
        Backoff { jitter, ..self }
    }

    /// The delay before retry number `attempt` (1 for the first retry; 0 counts as 1), with a
    /// fresh random jitter if the jitter is on. See [`delay_with`](Backoff::delay_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::Backoff;
    ///
    /// let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(10), 2.0);
    /// let delay = backoff.delay(2); // 2 s ± 25 %
    /// assert!(Duration::from_millis(1500) <= delay && delay <= Duration::from_millis(2500));
    /// ```
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let random = if self.jitter { fastrand::f64() } else { 0.5 };
        self.delay_with(attempt, random)
    }

    /// The delay before retry number `attempt` (1 for the first retry; 0 counts as 1), given
    /// `random`, a number in `[0, 1)` used only if the jitter is on: `0` is -25 %, `0.5` the exact
    /// delay, `1` +25 %, linearly in between. A `random` outside `[0, 1]` is clamped into it, and
    /// NaN counts as 0.5. Deterministic, for tests and for callers with their own random source.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::Backoff;
    ///
    /// let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(10), 2.0);
    /// assert_eq!(backoff.delay_with(3, 0.5), Duration::from_secs(4));
    /// assert_eq!(backoff.delay_with(3, 0.0), Duration::from_secs(3)); // -25 %
    /// assert_eq!(backoff.delay_with(3, 1.0), Duration::from_secs(5)); // +25 %
    /// assert_eq!(backoff.delay_with(9, 0.5), Duration::from_secs(10)); // capped
    /// ```
    #[must_use]
    pub fn delay_with(&self, attempt: u32, random: f64) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = scale(self.initial, self.multiplier.powi(exponent)).min(self.max);
        if !self.jitter {
            return base;
        }
        let random = if random.is_nan() {
            0.5
        } else {
            random.clamp(0.0, 1.0)
        };
        scale(base, 0.75 + 0.5 * random)
    }
}

/// `fixed 1s`, `exponential 100ms..5s ×2 ±25%`.
impl fmt::Display for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.multiplier == 1.0 && self.initial == self.max {
            write!(f, "fixed {:?}", self.initial)?;
        } else {
            write!(
                f,
                "exponential {:?}..{:?} ×{}",
                self.initial, self.max, self.multiplier
            )?;
        }
        if self.jitter {
            f.write_str(" ±25%")?;
        }
        Ok(())
    }
}

/// `duration × factor`, saturating at zero and at [`Duration::MAX`]; NaN gives zero (it comes
/// from `0 × ∞`: a zero initial delay stays zero).
///
/// Computed on nanoseconds, where whole multiples of a duration are exact (up to 2^53 ns, about
/// 104 days), so that `100 ms × 4` is exactly 400 ms.
fn scale(duration: Duration, factor: f64) -> Duration {
    const NANOS_PER_SEC: f64 = 1e9;
    // `as` from an integer to a float rounds; from a float to an integer, it saturates.
    let nanos = duration.as_nanos() as f64 * factor;
    if nanos.is_nan() || nanos <= 0.0 {
        return Duration::ZERO;
    }
    if nanos >= Duration::MAX.as_nanos() as f64 {
        return Duration::MAX;
    }
    let secs = (nanos / NANOS_PER_SEC).floor();
    let subsec = (nanos - secs * NANOS_PER_SEC).clamp(0.0, NANOS_PER_SEC - 1.0);
    Duration::new(secs as u64, subsec as u32)
}

/// Error returned by [`Backoff::try_exponential`] for delays that cannot work.
///
/// # Examples
///
/// ```
/// use runner_kafka::BackoffError;
///
/// assert_eq!(
///     BackoffError::BadMultiplier(f64::NAN).to_string(),
///     "backoff multiplier NaN must be at least 1",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BackoffError {
    /// A multiplier below 1 (or NaN) would shrink the delays.
    #[error("backoff multiplier {0} must be at least 1")]
    BadMultiplier(f64),
    /// The first delay is longer than the longest one.
    #[error("backoff initial delay {initial:?} is longer than its max {max:?}")]
    InitialAboveMax {
        /// The first delay given.
        initial: Duration,
        /// The longest delay given.
        max: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn fixed_is_the_same_every_time_and_has_no_jitter_by_default() {
        let backoff = Backoff::fixed(300 * MS);
        for attempt in [0, 1, 2, 10, u32::MAX] {
            assert_eq!(backoff.delay(attempt), 300 * MS, "attempt {attempt}");
            assert_eq!(backoff.delay_with(attempt, 0.0), 300 * MS);
            assert_eq!(backoff.delay_with(attempt, 1.0), 300 * MS);
        }
    }

    #[test]
    fn the_default_is_the_poll_error_backoff() {
        let backoff = Backoff::default();
        assert_eq!(backoff, Backoff::fixed(Duration::from_secs(1)));
        assert_eq!(backoff.delay(1), DEFAULT_POLL_ERROR_BACKOFF);
        assert_eq!(backoff.delay(1000), DEFAULT_POLL_ERROR_BACKOFF);
    }

    #[test]
    fn exponential_multiplies_exactly_up_to_its_cap() {
        let backoff = Backoff::exponential(100 * MS, 1000 * MS, 2.0).with_jitter(false);
        let delays: Vec<_> = (1..=6).map(|attempt| backoff.delay(attempt)).collect();
        assert_eq!(
            delays,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        assert_eq!(backoff.delay(0), 100 * MS, "attempt 0 counts as 1");
    }

    #[test]
    fn exponential_has_jitter_by_default_within_a_quarter() {
        let backoff = Backoff::exponential(Duration::from_secs(2), Duration::from_secs(60), 2.0);
        assert_eq!(backoff.delay_with(2, 0.5), Duration::from_secs(4));
        assert_eq!(backoff.delay_with(2, 0.0), Duration::from_secs(3));
        assert_eq!(backoff.delay_with(2, 1.0), Duration::from_secs(5));
        assert_eq!(backoff.delay_with(2, 0.25), Duration::from_millis(3500));
        for _ in 0..200 {
            let delay = backoff.delay(2);
            assert!(
                Duration::from_secs(3) <= delay && delay <= Duration::from_secs(5),
                "{delay:?}"
            );
        }
    }

    #[test]
    fn the_jitter_applies_after_the_cap() {
        let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(8), 2.0);
        assert_eq!(backoff.delay_with(10, 0.5), Duration::from_secs(8));
        assert_eq!(backoff.delay_with(10, 0.0), Duration::from_secs(6));
        assert_eq!(backoff.delay_with(10, 1.0), Duration::from_secs(10));
    }

    #[test]
    fn out_of_range_randoms_are_clamped_and_nan_is_exact() {
        let backoff = Backoff::fixed(Duration::from_secs(4)).with_jitter(true);
        assert_eq!(backoff.delay_with(1, -3.0), Duration::from_secs(3));
        assert_eq!(backoff.delay_with(1, 7.0), Duration::from_secs(5));
        assert_eq!(backoff.delay_with(1, f64::NAN), Duration::from_secs(4));
        assert_eq!(backoff.delay_with(1, f64::INFINITY), Duration::from_secs(5));
    }

    #[test]
    fn bad_multipliers_are_clamped_to_one() {
        for multiplier in [0.5, 0.0, -2.0, f64::NAN, f64::NEG_INFINITY] {
            let backoff =
                Backoff::exponential(Duration::from_secs(1), Duration::from_secs(9), multiplier)
                    .with_jitter(false);
            assert_eq!(backoff.multiplier, 1.0, "{multiplier}");
            assert_eq!(backoff.delay(5), Duration::from_secs(1), "{multiplier}");
        }
    }

    #[test]
    fn an_infinite_multiplier_jumps_to_the_cap() {
        let backoff = Backoff::exponential(
            Duration::from_secs(1),
            Duration::from_secs(9),
            f64::INFINITY,
        )
        .with_jitter(false);
        assert_eq!(backoff.delay(1), Duration::from_secs(1));
        assert_eq!(backoff.delay(2), Duration::from_secs(9));
        let zero = Backoff::exponential(Duration::ZERO, Duration::from_secs(9), f64::INFINITY)
            .with_jitter(false);
        assert_eq!(zero.delay(2), Duration::ZERO, "0 × ∞ stays zero");
    }

    #[test]
    fn huge_values_saturate_at_the_cap() {
        let backoff = Backoff::exponential(Duration::MAX, Duration::MAX, 10.0);
        assert_eq!(backoff.delay_with(u32::MAX, 0.5), Duration::MAX);
        assert_eq!(
            backoff.delay_with(u32::MAX, 1.0),
            Duration::MAX,
            "+25 % saturates"
        );
        let low = backoff.delay_with(u32::MAX, 0.0).as_secs_f64() / Duration::MAX.as_secs_f64();
        assert!((low - 0.75).abs() < 1e-9, "-25 % of Duration::MAX: {low}");
        let capped = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(3600), 1e300)
            .with_jitter(false);
        assert_eq!(capped.delay(u32::MAX), Duration::from_secs(3600));
        assert_eq!(capped.delay(3), Duration::from_secs(3600));
    }

    #[test]
    fn an_initial_delay_above_the_cap_gives_the_cap() {
        let backoff = Backoff::exponential(Duration::from_secs(10), Duration::from_secs(2), 2.0)
            .with_jitter(false);
        assert_eq!(backoff.delay(1), Duration::from_secs(2));
    }

    #[test]
    fn try_exponential_rejects_what_exponential_clamps() {
        let (one, nine) = (Duration::from_secs(1), Duration::from_secs(9));
        assert_eq!(
            Backoff::try_exponential(one, nine, 2.0),
            Ok(Backoff::exponential(one, nine, 2.0))
        );
        assert_eq!(
            Backoff::try_exponential(one, nine, 1.0),
            Ok(Backoff::exponential(one, nine, 1.0))
        );
        assert_eq!(
            Backoff::try_exponential(one, nine, 0.9),
            Err(BackoffError::BadMultiplier(0.9))
        );
        assert!(matches!(
            Backoff::try_exponential(one, nine, f64::NAN),
            Err(BackoffError::BadMultiplier(m)) if m.is_nan()
        ));
        assert_eq!(
            Backoff::try_exponential(nine, one, 2.0),
            Err(BackoffError::InitialAboveMax {
                initial: nine,
                max: one
            })
        );
    }

    #[test]
    fn display_says_the_kind_and_the_numbers() {
        assert_eq!(Backoff::default().to_string(), "fixed 1s");
        assert_eq!(
            Backoff::fixed(250 * MS).with_jitter(true).to_string(),
            "fixed 250ms ±25%"
        );
        assert_eq!(
            Backoff::exponential(100 * MS, Duration::from_secs(5), 1.5).to_string(),
            "exponential 100ms..5s ×1.5 ±25%"
        );
    }

    #[test]
    fn scale_is_exact_on_whole_multiples_and_saturates() {
        assert_eq!(scale(100 * MS, 4.0), 400 * MS);
        assert_eq!(scale(Duration::new(3, 500), 2.0), Duration::new(6, 1000));
        assert_eq!(scale(MS, -1.0), Duration::ZERO);
        assert_eq!(scale(MS, f64::NAN), Duration::ZERO);
        assert_eq!(scale(MS, f64::INFINITY), Duration::MAX);
    }
}

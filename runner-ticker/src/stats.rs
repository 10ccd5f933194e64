//! [`Stats`] of a ticker's runs, and the health [`Gauge`] with hysteresis: plain values and pure
//! transitions. The [`Ledger`](crate::ledger::Ledger) publishes them.

use std::time::Duration;

use runner_core::Health;
use tokio::time::Instant;

/// Counts and timings of a ticker's runs, since it was built (they survive restarts).
///
/// Instants are tokio's, like [`TickContext::scheduled`](crate::TickContext::scheduled): the
/// schedule runs on tokio's clock (paused in tests), so a run's start and the tick it was due
/// for compare directly, and either can go to `tokio::time::sleep_until`. Convert with
/// `into_std()` where a `std` instant is wanted.
///
/// # Examples
///
/// ```
/// use runner_ticker::Stats;
///
/// fn report(stats: &Stats) -> String {
///     format!(
///         "{} runs, {} failed, {} panicked, {} timed out, mean {:?}",
///         stats.runs, stats.failures, stats.panics, stats.timeouts, stats.durations.mean()
///     )
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Runs that ended, however they ended.
    pub runs: u64,
    /// Runs that returned an error.
    pub failures: u64,
    /// Runs that panicked.
    pub panics: u64,
    /// Runs that exceeded the per-run timeout, or were aborted when a stop's deadline passed.
    pub timeouts: u64,
    /// When the last run started, on tokio's clock.
    pub last_run_start: Option<Instant>,
    /// How long the last run took.
    pub last_run_duration: Option<Duration>,
    /// The durations of all runs.
    pub durations: DurationSummary,
}

/// Minimum, maximum and mean of the run durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurationSummary {
    pub(crate) count: u64,
    pub(crate) total: Duration,
    pub(crate) min: Option<Duration>,
    pub(crate) max: Option<Duration>,
}

impl DurationSummary {
    /// How many durations were recorded.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The shortest run, if any ran.
    #[must_use]
    pub fn min(&self) -> Option<Duration> {
        self.min
    }

    /// The longest run, if any ran.
    #[must_use]
    pub fn max(&self) -> Option<Duration> {
        self.max
    }

    /// The mean run, if any ran.
    #[must_use]
    pub fn mean(&self) -> Option<Duration> {
        let count = u32::try_from(self.count).unwrap_or(u32::MAX);
        (count > 0).then(|| self.total / count)
    }
}

/// How one run ended, for the statistics and the gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunKind {
    Succeeded,
    Failed,
    Panicked,
    TimedOut,
}

/// Health with hysteresis: unhealthy after `fail_after` failed runs in a row, healthy again after
/// `recover_after` successful runs in a row, so one blip does not flap. The thresholds; the
/// state is a [`GaugeState`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gauge {
    fail_after: u32,
    recover_after: u32,
}

/// Where a [`Gauge`] stands. Packs into one `u64`, so it can be published with one store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GaugeState {
    failures_in_row: u32,
    /// Counted only while unhealthy: all a recovery needs.
    successes_in_row: u32,
    unhealthy: bool,
}

/// A change of the gauge, for tracing and for the version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Flip {
    None,
    BecameUnhealthy,
    BecameHealthy,
}

impl GaugeState {
    const UNHEALTHY: u64 = 1 << 63;

    pub(crate) fn pack(self) -> u64 {
        let unhealthy = if self.unhealthy { Self::UNHEALTHY } else { 0 };
        unhealthy
            | (u64::from(self.failures_in_row & 0x7fff_ffff) << 32)
            | u64::from(self.successes_in_row)
    }

    pub(crate) fn unpack(packed: u64) -> Self {
        GaugeState {
            failures_in_row: u32::try_from((packed >> 32) & 0x7fff_ffff).unwrap_or(u32::MAX),
            successes_in_row: u32::try_from(packed & 0xffff_ffff).unwrap_or(u32::MAX),
            unhealthy: packed & Self::UNHEALTHY != 0,
        }
    }
}

impl Gauge {
    pub(crate) fn new(fail_after: u32, recover_after: u32) -> Self {
        Gauge {
            fail_after,
            recover_after,
        }
    }

    /// The state after one more run, and whether health flipped. A success while healthy and
    /// with no failure in a row changes nothing: the common case costs no store.
    pub(crate) fn record(self, state: GaugeState, succeeded: bool) -> (GaugeState, Flip) {
        let mut next = state;
        let mut flip = Flip::None;
        if succeeded {
            next.failures_in_row = 0;
            if next.unhealthy {
                next.successes_in_row = next.successes_in_row.saturating_add(1);
                if next.successes_in_row >= self.recover_after {
                    next = GaugeState::default();
                    flip = Flip::BecameHealthy;
                }
            }
        } else {
            next.successes_in_row = 0;
            // Kept below 2^31: the packed form has 31 bits for it.
            next.failures_in_row = next.failures_in_row.saturating_add(1).min(0x7fff_ffff);
            if !next.unhealthy && next.failures_in_row >= self.fail_after {
                next.unhealthy = true;
                flip = Flip::BecameUnhealthy;
            }
        }
        (next, flip)
    }

    /// Healthy, or unhealthy with why (the failures in a row, or how far the recovery is) and the
    /// last error.
    pub(crate) fn health(
        self,
        state: GaugeState,
        last_error: Option<&dyn std::fmt::Display>,
    ) -> Health {
        if !state.unhealthy {
            return Health::Healthy;
        }
        let why = if state.failures_in_row > 0 {
            let runs = state.failures_in_row;
            format!(
                "{runs} failed run{} in a row",
                if runs == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "recovering: {} of {} successful runs needed",
                state.successes_in_row, self.recover_after
            )
        };
        match last_error {
            Some(error) => Health::unhealthy(format!("{why}; last error: {error}")),
            None => Health::unhealthy(why),
        }
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    /// Feeds `runs` to a gauge, returning each flip.
    fn feed(gauge: Gauge, runs: &[bool]) -> (GaugeState, Vec<Flip>) {
        let mut state = GaugeState::default();
        let mut flips = Vec::new();
        for &succeeded in runs {
            let (next, flip) = gauge.record(state, succeeded);
            assert_eq!(GaugeState::unpack(next.pack()), next, "packs losslessly");
            state = next;
            flips.push(flip);
        }
        (state, flips)
    }

    #[test]
    fn hysteresis_needs_n_failures_then_m_successes() {
        use Flip::{BecameHealthy as H, BecameUnhealthy as U, None as N};
        let gauge = Gauge::new(3, 2);
        let (state, flips) = feed(
            gauge,
            &[
                false, false, true, false, false, false, true, false, true, true,
            ],
        );
        // A success resets the failure count; one blip of success does not flap.
        assert_eq!(flips, [N, N, N, N, N, U, N, N, N, H]);
        assert!(gauge.health(state, None).is_healthy());
        let (state, _) = feed(gauge, &[false, false, false, true]);
        assert_eq!(
            gauge.health(state, None),
            Health::unhealthy("recovering: 1 of 2 successful runs needed")
        );
    }

    #[test]
    fn a_healthy_success_changes_nothing() {
        let gauge = Gauge::new(3, 1);
        let state = GaugeState::default();
        assert_eq!(gauge.record(state, true), (state, Flip::None));
    }

    #[test]
    fn summary_tracks_min_mean_max() {
        let summary = DurationSummary {
            count: 3,
            total: Duration::from_millis(60),
            min: Some(Duration::from_millis(10)),
            max: Some(Duration::from_millis(30)),
        };
        assert_eq!(summary.mean(), Some(Duration::from_millis(20)));
        assert_eq!(DurationSummary::default().mean(), None);
    }
}

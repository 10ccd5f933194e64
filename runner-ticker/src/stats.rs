//! [`Stats`] of a ticker's runs, and the health [`Gauge`] with hysteresis. Plain values, updated
//! under the control plane's lock.

use std::time::{Duration, Instant};

use runner_core::Health;

/// Counts and timings of a ticker's runs, since it was built (they survive restarts).
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
    /// When the last run started (on tokio's clock, as a `std` instant).
    pub last_run_start: Option<Instant>,
    /// How long the last run took.
    pub last_run_duration: Option<Duration>,
    /// The durations of all runs.
    pub durations: DurationSummary,
}

/// Minimum, maximum and mean of the run durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurationSummary {
    count: u64,
    total: Duration,
    min: Option<Duration>,
    max: Option<Duration>,
}

impl DurationSummary {
    pub(crate) fn record(&mut self, duration: Duration) {
        self.count += 1;
        self.total = self.total.saturating_add(duration);
        self.min = Some(self.min.map_or(duration, |m| m.min(duration)));
        self.max = Some(self.max.map_or(duration, |m| m.max(duration)));
    }

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

impl Stats {
    pub(crate) fn record(&mut self, kind: RunKind, started: Instant, took: Duration) {
        self.runs += 1;
        match kind {
            RunKind::Succeeded => {}
            RunKind::Failed => self.failures += 1,
            RunKind::Panicked => self.panics += 1,
            RunKind::TimedOut => self.timeouts += 1,
        }
        self.last_run_start = Some(started);
        self.last_run_duration = Some(took);
        self.durations.record(took);
    }
}

/// Health with hysteresis: unhealthy after `fail_after` failed runs in a row, healthy again after
/// `recover_after` successful runs in a row, so one blip does not flap.
#[derive(Clone, Debug)]
pub(crate) struct Gauge {
    fail_after: u32,
    recover_after: u32,
    failures_in_row: u32,
    successes_in_row: u32,
    unhealthy: bool,
}

/// A change of the gauge, for tracing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Flip {
    None,
    BecameUnhealthy,
    BecameHealthy,
}

impl Gauge {
    pub(crate) fn new(fail_after: u32, recover_after: u32) -> Self {
        Gauge {
            fail_after,
            recover_after,
            failures_in_row: 0,
            successes_in_row: 0,
            unhealthy: false,
        }
    }

    pub(crate) fn record(&mut self, succeeded: bool) -> Flip {
        if succeeded {
            self.failures_in_row = 0;
            self.successes_in_row = self.successes_in_row.saturating_add(1);
            if self.unhealthy && self.successes_in_row >= self.recover_after {
                self.unhealthy = false;
                return Flip::BecameHealthy;
            }
        } else {
            self.successes_in_row = 0;
            self.failures_in_row = self.failures_in_row.saturating_add(1);
            if !self.unhealthy && self.failures_in_row >= self.fail_after {
                self.unhealthy = true;
                return Flip::BecameUnhealthy;
            }
        }
        Flip::None
    }

    /// Healthy, or unhealthy with why (the failures in a row, or how far the recovery is) and the
    /// last error.
    pub(crate) fn health(&self, last_error: Option<&dyn std::fmt::Display>) -> Health {
        if !self.unhealthy {
            return Health::Healthy;
        }
        let why = if self.failures_in_row > 0 {
            let runs = self.failures_in_row;
            format!(
                "{runs} failed run{} in a row",
                if runs == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "recovering: {} of {} successful runs needed",
                self.successes_in_row, self.recover_after
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

    #[test]
    fn hysteresis_needs_n_failures_then_m_successes() {
        let mut gauge = Gauge::new(3, 2);
        assert_eq!(gauge.record(false), Flip::None);
        assert_eq!(gauge.record(false), Flip::None);
        assert_eq!(
            gauge.record(true),
            Flip::None,
            "a success resets the failure count"
        );
        assert_eq!(gauge.record(false), Flip::None);
        assert_eq!(gauge.record(false), Flip::None);
        assert_eq!(gauge.record(false), Flip::BecameUnhealthy);
        assert!(!gauge.health(None).is_healthy());
        assert_eq!(
            gauge.record(true),
            Flip::None,
            "one blip of success does not flap"
        );
        assert_eq!(gauge.record(false), Flip::None);
        assert_eq!(gauge.record(true), Flip::None);
        assert_eq!(gauge.record(true), Flip::BecameHealthy);
        assert!(gauge.health(None).is_healthy());
    }

    #[test]
    fn summary_tracks_min_mean_max() {
        let mut summary = DurationSummary::default();
        assert_eq!(summary.mean(), None);
        for ms in [10, 30, 20] {
            summary.record(Duration::from_millis(ms));
        }
        assert_eq!(summary.min(), Some(Duration::from_millis(10)));
        assert_eq!(summary.max(), Some(Duration::from_millis(30)));
        assert_eq!(summary.mean(), Some(Duration::from_millis(20)));
        assert_eq!(summary.count(), 3);
    }
}

//! [`TickState`]: the ticker's own part of the control plane (statistics, health gauge, period),
//! kept under the control plane's lock so that one critical section per tick records a run; and
//! [`Ticking`], the ticker's operations on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use runner_core::Health;
use runner_lifecycle::Control;

use crate::error::Error;
use crate::stats::{Flip, Gauge, RunKind, Stats};

/// The control plane of a ticker.
pub(crate) type TickControl = Control<Error, TickState>;

#[derive(Debug)]
pub(crate) struct TickState {
    stats: Stats,
    gauge: Gauge,
    /// The period in force; none for a cron schedule.
    period: Option<Duration>,
    /// A new period asked for from inside a run, and when.
    reset: Option<(Instant, Duration)>,
}

impl TickState {
    pub(crate) fn new(period: Option<Duration>, gauge: Gauge) -> Self {
        TickState {
            stats: Stats::default(),
            gauge,
            period,
            reset: None,
        }
    }

    /// The ticker's run is over: a period change it did not get to apply belongs to the next
    /// start, as the period in force; it must not fire as a reset measured from its old call.
    pub(crate) fn forget_reset(&mut self) {
        self.reset = None;
    }
}

/// How one tick's run ended, as the driver reports it.
#[derive(Debug)]
pub(crate) struct RunReport {
    pub(crate) kind: RunKind,
    pub(crate) error: Option<Error>,
    pub(crate) started: Instant,
    pub(crate) took: Duration,
}

/// The ticker's operations on its control plane.
pub(crate) trait Ticking {
    /// Records how one tick's run ended (the ticker goes on), and takes the new period asked for
    /// during the run, if any: one critical section per tick. A flip of the health gauge moves
    /// the version, so watchers learn it without polling.
    fn record(&self, report: RunReport) -> (Flip, Option<(Instant, Duration)>);

    /// A new period from inside a run, at `at`: the next tick is due one new period later.
    /// Returns `false` (and changes nothing) for a cron schedule, which has no period.
    fn set_period(&self, at: Instant, period: Duration) -> bool;

    /// The period in force.
    fn period(&self) -> Option<Duration>;

    fn stats(&self) -> Stats;

    /// Liveness while running: the gauge's verdict, naming the last error.
    fn gauge_health(&self) -> Health;
}

impl Ticking for TickControl {
    fn record(&self, report: RunReport) -> (Flip, Option<(Instant, Duration)>) {
        self.update(|parts| {
            let state = &mut *parts.ext;
            state.stats.record(report.kind, report.started, report.took);
            if let Some(error) = report.error {
                parts.errors.record(error);
            }
            let state = &mut *parts.ext;
            let flip = state.gauge.record(report.kind == RunKind::Succeeded);
            let reset = state.reset.take();
            if flip != Flip::None {
                parts.touch();
            }
            (flip, reset)
        })
    }

    fn set_period(&self, at: Instant, period: Duration) -> bool {
        self.update(|parts| {
            let state = &mut *parts.ext;
            if state.period.is_none() {
                return false;
            }
            state.period = Some(period);
            state.reset = Some((at, period));
            true
        })
    }

    fn period(&self) -> Option<Duration> {
        self.read(|state, _, _| state.period)
    }

    fn stats(&self) -> Stats {
        self.read(|state, _, _| state.stats.clone())
    }

    fn gauge_health(&self) -> Health {
        self.read(|state, errors, _| {
            let last = errors
                .last()
                .map(|e: &Arc<Error>| e as &dyn std::fmt::Display);
            state.gauge.health(last)
        })
    }
}

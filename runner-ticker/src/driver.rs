//! The task of one run of a ticker: it sleeps until the next tick is due (and nothing else: no
//! background wake-ups), runs the function, records how the run ended, and goes on until the
//! ticker is asked to stop. A stop cancels the run in progress and gives it the stop timeout to
//! end before it is dropped.

use core::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::catch_unwind::{CatchUnwind, call};
use crate::context::TickContext;
use crate::control::RunReport;
use crate::error::Error;
use crate::schedule::{Plan, Tick};
use crate::shared::{Shared, TickFn, now};
use crate::stats::{Flip, RunKind};

/// Spawns the task of run `run`, which began at `started`. The span is attached only when some
/// subscriber wants it, so it costs nothing otherwise.
pub(crate) fn spawn<F: TickFn>(shared: Arc<Shared<F>>, run: u64, started: Instant) {
    let span = tracing::debug_span!(
        target: "runner::ticker",
        "runner.ticker",
        runner.name = %shared.config.name,
        run,
    );
    if span.is_disabled() {
        tokio::spawn(drive(shared, run, started));
    } else {
        tokio::spawn(drive(shared, run, started).instrument(span));
    }
}

async fn drive<F: TickFn>(shared: Arc<Shared<F>>, run: u64, started: Instant) {
    let config = &shared.config;
    let control = &shared.control;
    let mut plan = Plan::new(
        &config.every,
        control.period(),
        started,
        config.first_run,
        config.missed_ticks,
    );
    let mut jitter = Jitter::new(config.jitter);
    let aborted = loop {
        let Some(due) = plan.due() else {
            // A cron schedule with no further occurrence: nothing to do but wait for the stop.
            control.stop_requested(run).await;
            break None;
        };
        let start_at = due + jitter.sample();
        tokio::select! {
            biased;
            () = control.stop_requested(run) => break None,
            () = tokio::time::sleep_until(start_at.into()) => {}
        }
        let tick = plan.fire(now());
        let ended = run_tick(&shared, run, tick).await;
        match control.record(ended.report) {
            Flip::None => {}
            Flip::BecameUnhealthy => {
                tracing::warn!(target: "runner::ticker", health = %control.gauge_health(), "runner.health: unhealthy");
            }
            Flip::BecameHealthy => {
                tracing::info!(target: "runner::ticker", "runner.health: healthy again");
            }
        }
        if ended.stopping {
            break ended.aborted;
        }
        if let Some((at, period)) = control.take_reset() {
            plan.reset(at, period);
        }
    };
    if control.finish(run, aborted) {
        tracing::debug!(target: "runner::ticker", "runner.stopped");
    }
}

/// How one tick's run ended.
struct Ended {
    report: RunReport,
    /// A stop request came during the run: the ticker ends after it.
    stopping: bool,
    /// The run outlived the stop timeout and was dropped.
    aborted: Option<Error>,
}

/// Runs the function once for `tick`: under the per-run timeout, catching a panic, and cut short
/// by a stop request, after which it has the stop timeout to end.
async fn run_tick<F: TickFn>(shared: &Arc<Shared<F>>, run: u64, tick: Tick) -> Ended {
    let config = &shared.config;
    let seq = tick.seq;
    let context = TickContext::new(Arc::clone(shared) as _, run, seq, tick.scheduled.into());
    let started = now();
    let lateness = started.saturating_duration_since(tick.scheduled);
    tracing::trace!(target: "runner::ticker", seq, ?lateness, "runner.tick");
    let mut stopping = false;
    let mut aborted = None;
    let outcome = match call(|| shared.function.call(context)) {
        Err(panic) => Err(Error::Panicked { seq, panic }),
        Ok(work) => {
            let mut work = pin!(CatchUnwind::new(work));
            let timed_out = Error::TimedOut {
                seq,
                after: config.run_timeout.unwrap_or_default(),
            };
            let ended = tokio::select! {
                biased;
                ended = work.as_mut() => Some(outcome(seq, ended)),
                () = sleep_for(config.run_timeout) => return ended_with(started, Err(timed_out), false, None),
                () = shared.control.stop_requested(run) => None,
            };
            match ended {
                Some(outcome) => outcome,
                None => {
                    stopping = true;
                    match tokio::time::timeout(config.stop_timeout, work).await {
                        Ok(ended) => outcome(seq, ended),
                        Err(_elapsed) => {
                            aborted = Some(Error::Aborted {
                                seq,
                                grace: config.stop_timeout,
                            });
                            Ok(())
                        }
                    }
                }
            }
        }
    };
    ended_with(started, outcome, stopping, aborted)
}

/// What the function's future ended with, as our error (at once, so the user's error type never
/// has to be held, or be `Send`, across an await).
fn outcome<E: Into<crate::error::BoxError>>(
    seq: u64,
    ended: Result<Result<(), E>, runner_core::Panicked>,
) -> Result<(), Error> {
    match ended {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(Error::Run {
            seq,
            source: Arc::from(error.into()),
        }),
        Err(panic) => Err(Error::Panicked { seq, panic }),
    }
}

fn ended_with(
    started: Instant,
    outcome: Result<(), Error>,
    stopping: bool,
    aborted: Option<Error>,
) -> Ended {
    let kind = match (&outcome, &aborted) {
        (_, Some(_)) | (Err(Error::TimedOut { .. }), _) => RunKind::TimedOut,
        (Err(Error::Panicked { .. }), _) => RunKind::Panicked,
        (Err(_), _) => RunKind::Failed,
        (Ok(()), None) => RunKind::Succeeded,
    };
    if let Err(error) = &outcome {
        tracing::debug!(target: "runner::ticker", %error, "runner.tick: failed");
    }
    Ended {
        report: RunReport {
            kind,
            error: outcome.err(),
            started,
            took: now().saturating_duration_since(started),
        },
        stopping,
        aborted,
    }
}

/// Sleeps for `limit`, or forever if there is none.
async fn sleep_for(limit: Option<Duration>) {
    match limit {
        Some(limit) => tokio::time::sleep(limit).await,
        None => std::future::pending().await,
    }
}

/// A uniform random delay in `[0, max]` per run.
struct Jitter {
    max_nanos: u64,
    rng: fastrand::Rng,
}

impl Jitter {
    fn new(max: Duration) -> Self {
        Jitter {
            max_nanos: u64::try_from(max.as_nanos()).unwrap_or(u64::MAX),
            rng: fastrand::Rng::new(),
        }
    }

    fn sample(&mut self) -> Duration {
        if self.max_nanos == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.rng.u64(0..=self.max_nanos))
        }
    }
}

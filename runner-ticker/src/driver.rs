//! [`Drive`]: the task of one run of a ticker. It sleeps until the next tick is due (and nothing
//! else: no background wake-ups), runs the function, records how the run ended, and goes on
//! until the ticker is asked to stop. A stop cancels the run in progress and gives it the stop
//! timeout to end before it is dropped.
//!
//! A hand-written future, so an idle ticker costs little: one timer serves the next tick, the
//! per-run timeout and the stop's grace period in turn; one waiter key serves the whole run; and
//! one critical section per tick records the run and picks up a period change.
//!
//! Every deadline saturates (`Duration::MAX` is "no limit"), and the task is spawned guarded: if
//! it panics or is dropped with its runtime, the ticker's run ends as a recorded fault instead of
//! a live state with no task behind it.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker, ready};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;
use runner_core::{Exit, Panicked};
use runner_lifecycle::catch_unwind::call;
use runner_lifecycle::control::Report;
use runner_lifecycle::{CatchUnwind, deadline, now, task};
use tokio::time::Sleep;
use tracing::Instrument;

use crate::context::TickContext;
use crate::error::{BoxError, Error};
use crate::ledger::Writer;
use crate::schedule::{Plan, Tick};
use crate::shared::{Shared, TickFn};
use crate::state::Ticking;
use crate::stats::{Flip, RunKind};

/// Spawns the task of run `run`, which began at `started`. The span is attached only when some
/// subscriber wants it, so it costs nothing otherwise.
pub(crate) fn spawn<F: TickFn>(
    shared: Arc<Shared<F>>,
    runtime: &tokio::runtime::Handle,
    run: u64,
    started: Instant,
) {
    let span = tracing::debug_span!(
        target: "runner::ticker",
        "runner.ticker",
        runner.name = %shared.config.name,
        run,
    );
    let drive = Drive::new(shared, run, started);
    if span.is_disabled() {
        task::spawn(runtime, drive);
    } else {
        task::spawn(runtime, drive.instrument(span));
    }
}

pin_project! {
    /// What the task is doing.
    #[project = PhaseProj]
    enum Phase<W> {
        /// Waiting for the next tick; the timer is set to its start.
        Waiting,
        /// Running the function for `tick`; the timer is set to the run timeout, or to the stop's
        /// grace period once `stopping`, if `timed` says it is set at all.
        Running {
            #[pin]
            work: CatchUnwind<W>,
            tick: Tick,
            started: Instant,
            timed: bool,
        },
        /// The run has been reported finished.
        Done,
    }
}

pin_project! {
    /// The task of run `run` of a ticker.
    #[must_use = "futures do nothing unless polled"]
    #[project = DriveProj]
    pub(crate) struct Drive<F>
    where
        F: TickFn,
    {
        shared: Arc<Shared<F>>,
        run: u64,
        // The schedule, the jitter and our copies of what we write to the ledger.
        course: Course,
        // Copied from the configuration, so a tick reads no cold line for them.
        run_timeout: Option<Duration>,
        stop_grace: Duration,
        // The waker the control plane holds for us, to wake us on a stop request.
        registered: Option<Waker>,
        // Set once the stop request has been seen.
        stopping: bool,
        #[pin]
        timer: Sleep,
        #[pin]
        phase: Phase<F::Run>,
    }
}

impl<F: TickFn> Drive<F> {
    fn new(shared: Arc<Shared<F>>, run: u64, started: Instant) -> Self {
        let config = &shared.config;
        let plan = Plan::new(
            &config.every,
            shared.control.period(),
            started,
            config.first_run,
            config.missed_ticks,
        );
        let mut course = Course {
            plan,
            jitter: Jitter::new(config.jitter),
            writer: shared.ledger.writer(&shared.tally),
        };
        let first = course.next_due(started);
        let (run_timeout, stop_grace) = (config.run_timeout, config.stop_grace);
        Drive {
            shared,
            run,
            course,
            run_timeout,
            stop_grace,
            registered: None,
            stopping: false,
            timer: tokio::time::sleep_until(first.into()),
            phase: Phase::Waiting,
        }
    }
}

impl<F: TickFn> Future for Drive<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let shared = &**this.shared;
        let run = *this.run;

        // One atomic load per poll for the stop request (the lock only to register our waker),
        // until it comes.
        if !*this.stopping
            && shared
                .control
                .poll_stop(run, this.registered, cx)
                .is_ready()
        {
            *this.stopping = true;
            if let PhaseProj::Running { timed, .. } = this.phase.as_mut().project() {
                // The run's token has fired: it has the stop grace to end.
                *timed = true;
                let grace = deadline::after(now(), *this.stop_grace);
                this.timer.as_mut().reset(tokio_instant(grace));
            }
        }

        loop {
            match this.phase.as_mut().project() {
                PhaseProj::Done => return Poll::Ready(()),
                PhaseProj::Waiting => {
                    if *this.stopping {
                        finish(shared, run, None);
                        this.phase.set(Phase::Done);
                        continue;
                    }
                    ready!(this.timer.as_mut().poll(cx));
                    let started = now();
                    let tick = this.course.plan.fire(started);
                    let lateness = started.saturating_duration_since(tick.scheduled);
                    tracing::trace!(target: "runner::ticker", seq = tick.seq, ?lateness, "runner.tick");
                    let context = TickContext::new(
                        Arc::clone(this.shared) as _,
                        run,
                        tick.seq,
                        tick.scheduled.into(),
                    );
                    match call(|| shared.function.call(context)) {
                        Err(panic) => {
                            let outcome = Err(Error::Panicked {
                                seq: tick.seq,
                                panic,
                            });
                            ended(shared, this.course, this.timer.as_mut(), outcome, started);
                        }
                        Ok(work) => {
                            let timed = this.run_timeout.is_some();
                            if let Some(limit) = *this.run_timeout {
                                let limit = deadline::after(started, limit);
                                this.timer.as_mut().reset(tokio_instant(limit));
                            }
                            this.phase.set(Phase::Running {
                                work: CatchUnwind::new(work),
                                tick,
                                started,
                                timed,
                            });
                        }
                    }
                }
                PhaseProj::Running {
                    work,
                    tick,
                    started,
                    timed,
                } => {
                    let (seq, started, timed) = (tick.seq, *started, *timed);
                    let outcome = match work.poll(cx) {
                        Poll::Ready(end) => outcome(seq, end),
                        Poll::Pending => {
                            if !timed || this.timer.as_mut().poll(cx).is_pending() {
                                return Poll::Pending;
                            }
                            if *this.stopping {
                                // The stop's grace period is over: drop the run, then finish.
                                this.phase.set(Phase::Waiting);
                                let grace = *this.stop_grace;
                                tracing::warn!(target: "runner::ticker", seq, ?grace, "runner.aborted: run outlived the stop grace");
                                let writer = &mut this.course.writer;
                                let _ = record(shared, writer, RunKind::TimedOut, None, started);
                                finish(shared, run, Some(Error::Aborted { seq, grace }));
                                this.phase.set(Phase::Done);
                                continue;
                            }
                            let after = this.run_timeout.unwrap_or_default();
                            Err(Error::TimedOut { seq, after })
                        }
                    };
                    // The run has ended (or timed out and is dropped here).
                    this.phase.set(Phase::Waiting);
                    ended(shared, this.course, this.timer.as_mut(), outcome, started);
                }
            }
        }
    }
}

impl<F: TickFn> task::Driver for Drive<F> {
    fn fault(self: Pin<&mut Self>, fault: runner_lifecycle::Fault) {
        let this = self.project();
        let (shared, run) = (&**this.shared, *this.run);
        if let Some((exit, state)) = shared.control.fault(run, fault) {
            tracing::error!(target: "runner::ticker", { runner.name = %shared.config.name, run, %exit, %state }, "runner.faulted: the ticker's task ended without finishing its run");
        }
    }
}

/// A tick's run has ended: records it, applies a period change, and sets the timer to the next
/// tick (unless the ticker is stopping, when the next poll of `Waiting` finishes the run).
fn ended<F: TickFn>(
    shared: &Shared<F>,
    course: &mut Course,
    timer: Pin<&mut Sleep>,
    outcome: Result<(), Error>,
    started: Instant,
) {
    let kind = match &outcome {
        Ok(()) => RunKind::Succeeded,
        Err(Error::TimedOut { .. }) => RunKind::TimedOut,
        Err(Error::Panicked { .. }) => RunKind::Panicked,
        Err(_) => RunKind::Failed,
    };
    if let Err(error) = &outcome {
        tracing::debug!(target: "runner::ticker", %error, "runner.tick: failed");
    }
    if let Some((at, period)) = record(shared, &mut course.writer, kind, outcome.err(), started) {
        course.plan.reset(at, period);
    }
    timer.reset(tokio_instant(course.next_due(started)));
}

/// Records how one tick's run ended: in the ledger, and (only if there is any) its error, a
/// health flip, a pending period change and waiting readers in the control plane. Returns the
/// period change to apply.
fn record<F: TickFn>(
    shared: &Shared<F>,
    writer: &mut Writer,
    kind: RunKind,
    error: Option<Error>,
    started: Instant,
) -> Option<(Instant, Duration)> {
    let took = now().saturating_duration_since(started);
    let recorded = shared
        .ledger
        .record(&shared.tally, writer, kind, started, took);
    let reset = shared.control.after_run(&shared.ledger, error, &recorded);
    match recorded.flip {
        Flip::None => {}
        Flip::BecameUnhealthy => {
            tracing::warn!(target: "runner::ticker", health = %crate::ticker::gauge_health(shared), "runner.health: unhealthy");
        }
        Flip::BecameHealthy => {
            tracing::info!(target: "runner::ticker", "runner.health: healthy again");
        }
    }
    reset
}

/// What the task keeps from tick to tick: the schedule, the jitter, and its copies of what it
/// writes to the ledger.
struct Course {
    plan: Plan,
    jitter: Jitter,
    writer: Writer,
}

impl Course {
    /// When the next run starts: the next tick's due time plus this run's jitter, or, for a
    /// schedule with no next occurrence, a timer far away (the task then waits for the stop
    /// only).
    fn next_due(&mut self, from: Instant) -> Instant {
        let jitter = &mut self.jitter;
        self.plan.due().map_or(deadline::far_future(from), |due| {
            deadline::after(due, jitter.sample())
        })
    }
}

/// The ticker's run is over, because it was asked to stop: publishes `Stopped`. `aborted` is the
/// error of a tick that had to be dropped at the stop's deadline; `stop` returns it.
fn finish<F: TickFn>(shared: &Shared<F>, run: u64, aborted: Option<Error>) {
    let finished = shared.control.finish(run, |_facts, errors, state| {
        state.forget_reset(&shared.ledger);
        match aborted {
            Some(error) => {
                let recorded = errors.record(error);
                Report {
                    exit: Exit::Failed(recorded.clone()),
                    start_error: None,
                    stop_result: Err((*recorded).clone()),
                }
            }
            None => Report::ok(Exit::Stopped),
        }
    });
    if let Some((exit, state)) = finished {
        tracing::debug!(target: "runner::ticker", %exit, %state, "runner.stopped");
    }
}

/// What the function's future ended with, as our error (at once, so the user's error type never
/// has to be stored).
fn outcome<E: Into<BoxError>>(
    seq: u64,
    ended: Result<Result<(), E>, Panicked>,
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

fn tokio_instant(at: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(at)
}

/// A uniform random delay in `[0, max]` per run.
struct Jitter {
    max_nanos: u64,
    rng: fastrand::Rng,
}

impl Jitter {
    fn new(max: Duration) -> Self {
        let max_nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        // No jitter, no random seed to draw: a start costs less.
        let rng = if max_nanos == 0 {
            fastrand::Rng::with_seed(0)
        } else {
            fastrand::Rng::new()
        };
        Jitter { max_nanos, rng }
    }

    fn sample(&mut self) -> Duration {
        if self.max_nanos == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.rng.u64(0..=self.max_nanos))
        }
    }
}

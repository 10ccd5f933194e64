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
use crate::schedule::Plan;
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
        /// Running the function for tick `seq`, which started at `started`. The timer is set
        /// to the run timeout, or to the stop's grace period once stopping, if either applies.
        Running {
            #[pin]
            work: CatchUnwind<W>,
            seq: u64,
            started: Instant,
        },
        /// The run has been reported finished.
        Done,
    }
}

/// In [`Drive::flags`]: the stop request has been seen.
const STOPPING: u8 = 1;
/// In [`Drive::flags`]: runs have a timeout (`run_timeout` in the configuration).
const TIMED_RUNS: u8 = 2;
/// In [`Drive::flags`]: runs start with a jitter.
const JITTER: u8 = 4;

pin_project! {
    /// The task of run `run` of a ticker.
    #[must_use = "futures do nothing unless polled"]
    #[project = DriveProj]
    //
    // `repr(C)`, in the order a tick touches them, and small: an idle ticker's task is cold when
    // its tick comes, and every cache line a tick touches costs a miss. What only some tickers
    // use (a run timeout, a jitter) is read from the configuration when a flag says so.
    #[repr(C)]
    pub(crate) struct Drive<F>
    where
        F: TickFn,
    {
        shared: Arc<Shared<F>>,
        run: u64,
        // The waker the control plane holds for us, to wake us on a stop request.
        registered: Option<Waker>,
        // STOPPING, TIMED_RUNS, JITTER.
        flags: u8,
        #[pin]
        phase: Phase<F::Run>,
        plan: Plan,
        // Our copies of what we write to the tally.
        writer: Writer,
        timer: Timer,
        // Draws the jitter, if there is one.
        rng: fastrand::Rng,
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
        let mut flags = 0;
        if config.run_timeout.is_some() {
            flags |= TIMED_RUNS;
        }
        // No jitter, no random seed to draw: a start costs less.
        let rng = if config.jitter.is_zero() {
            fastrand::Rng::with_seed(0)
        } else {
            flags |= JITTER;
            fastrand::Rng::new()
        };
        let writer = shared.ledger.writer(&shared.tally);
        let mut drive = Drive {
            shared,
            run,
            registered: None,
            flags,
            phase: Phase::Waiting,
            plan,
            writer,
            timer: Timer::Unarmed(started),
            rng,
        };
        let first = next_due(
            &drive.shared,
            drive.flags,
            &drive.plan,
            &mut drive.rng,
            started,
        );
        drive.timer = Timer::Unarmed(first);
        drive
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
        if *this.flags & STOPPING == 0
            && shared
                .control
                .poll_stop(run, this.registered, cx)
                .is_ready()
        {
            *this.flags |= STOPPING;
            if let PhaseProj::Running { .. } = this.phase.as_mut().project() {
                // The run's token has fired: it has the stop grace to end.
                let grace = deadline::after(now(), shared.config.stop_grace);
                this.timer.reset(tokio_instant(grace));
            }
        }

        loop {
            match this.phase.as_mut().project() {
                PhaseProj::Done => return Poll::Ready(()),
                PhaseProj::Waiting => {
                    if *this.flags & STOPPING != 0 {
                        finish(shared, run, None);
                        this.phase.set(Phase::Done);
                        continue;
                    }
                    ready!(this.timer.poll(cx));
                    let started = now();
                    let tick = this.plan.fire(started);
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
                            ended(shared, this.writer, this.plan, outcome, started);
                            let due = next_due(shared, *this.flags, this.plan, this.rng, started);
                            this.timer.reset(tokio_instant(due));
                        }
                        Ok(work) => {
                            if *this.flags & TIMED_RUNS != 0 {
                                let limit = shared.config.run_timeout.unwrap_or(Duration::MAX);
                                let limit = deadline::after(started, limit);
                                this.timer.reset(tokio_instant(limit));
                            }
                            this.phase.set(Phase::Running {
                                work: CatchUnwind::new(work),
                                seq: tick.seq,
                                started,
                            });
                        }
                    }
                }
                PhaseProj::Running { work, seq, started } => {
                    let (seq, started) = (*seq, *started);
                    let outcome = match work.poll(cx) {
                        Poll::Ready(end) => outcome(seq, end),
                        Poll::Pending => {
                            let timed = *this.flags & (TIMED_RUNS | STOPPING) != 0;
                            if !timed || this.timer.poll(cx).is_pending() {
                                return Poll::Pending;
                            }
                            if *this.flags & STOPPING != 0 {
                                // The stop's grace period is over: drop the run, then finish.
                                this.phase.set(Phase::Waiting);
                                let grace = shared.config.stop_grace;
                                tracing::warn!(target: "runner::ticker", seq, ?grace, "runner.aborted: run outlived the stop grace");
                                let writer = &mut *this.writer;
                                let _ = record(shared, writer, RunKind::TimedOut, None, started);
                                finish(shared, run, Some(Error::Aborted { seq, grace }));
                                this.phase.set(Phase::Done);
                                continue;
                            }
                            let after = shared.config.run_timeout.unwrap_or_default();
                            Err(Error::TimedOut { seq, after })
                        }
                    };
                    // The run has ended (or timed out and is dropped here).
                    this.phase.set(Phase::Waiting);
                    ended(shared, this.writer, this.plan, outcome, started);
                    let due = next_due(shared, *this.flags, this.plan, this.rng, started);
                    this.timer.reset(tokio_instant(due));
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

/// A tick's run, which started at `started`, has ended: records it and applies a period change.
/// The caller then sets the timer to the next tick (if the ticker is stopping, the next poll of
/// `Waiting` finishes the run instead).
fn ended<F: TickFn>(
    shared: &Shared<F>,
    writer: &mut Writer,
    plan: &mut Plan,
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
    if let Some((at, period)) = record(shared, writer, kind, outcome.err(), started) {
        plan.reset(at, period);
    }
}

/// When the next run starts: the next tick's due time, plus a jitter if the ticker has one; or,
/// for a schedule with no next occurrence, a timer far away (the task then waits for the stop
/// only).
fn next_due<F: TickFn>(
    shared: &Shared<F>,
    flags: u8,
    plan: &Plan,
    rng: &mut fastrand::Rng,
    from: Instant,
) -> Instant {
    let Some(due) = plan.due() else {
        return deadline::far_future(from);
    };
    if flags & JITTER == 0 {
        return due;
    }
    let max = u64::try_from(shared.config.jitter.as_nanos()).unwrap_or(u64::MAX);
    deadline::after(due, Duration::from_nanos(rng.u64(0..=max)))
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

/// The task's one timer: the next tick, a run's timeout, or a stop's grace. Its `Sleep` is
/// boxed, and made on the task's first poll: on a worker thread, as a hand-written `interval`
/// loop does, so the timers of many tickers sit together in that thread's memory, apart from
/// the tasks. The timer wheel walks them in order when they expire; measured, an idle ticker's
/// run cost about a third less than with the `Sleep` inside the task.
enum Timer {
    /// Not polled yet: due at this instant.
    Unarmed(Instant),
    Armed(Pin<Box<Sleep>>),
}

impl Timer {
    fn sleep(&mut self) -> Pin<&mut Sleep> {
        if let Timer::Unarmed(due) = *self {
            *self = Timer::Armed(Box::pin(tokio::time::sleep_until(tokio_instant(due))));
        }
        match self {
            Timer::Armed(sleep) => sleep.as_mut(),
            Timer::Unarmed(_) => unreachable!("armed above"),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.sleep().poll(cx)
    }

    fn reset(&mut self, due: tokio::time::Instant) {
        match self {
            Timer::Unarmed(at) => *at = due.into_std(),
            Timer::Armed(sleep) => sleep.as_mut().reset(due),
        }
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

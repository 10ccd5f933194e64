//! [`Drive`]: the task of one run. It polls the run's future, notices a stop request or the
//! run's own end, runs the stop hook once under its deadline while the run winds down, gives the
//! run its grace period, aborts it (drops it) if it must, and reports the run to the control
//! plane.
//!
//! Everything a `stop` waits for happens here rather than in the caller's future, which is why
//! dropping a `stop` future never cancels a shutdown. The task is spawned guarded
//! ([`task::spawn`](crate::task::spawn)): if it panics or is dropped with its runtime, the run is
//! ended as a fault instead of leaving a state with no task behind it.
//!
//! While a run is idle this task holds only the run's future (inline, not boxed) and a waiter
//! key; everything the shutdown needs lives in [`Ending`], allocated when it begins.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker, ready};
use std::sync::Arc;

use pin_project_lite::pin_project;
use runner_core::{ErrorLog, Exit, Panicked};
use tokio::time::Sleep;
use tracing::Instrument;

use super::context::RunContext;
use super::error::{BoxError, Error};
use super::shared::Shared;
use super::work::Work;
use crate::catch_unwind::{CatchUnwind, call};
use crate::control::{Facts, Report};
use crate::deadline;
use crate::machine::Exited;
use crate::task;

/// Calls the run function for run `run`, then spawns the task that drives the run. The span is
/// attached only when some subscriber wants it, so it costs nothing otherwise.
pub(crate) fn spawn<W: Work>(shared: Arc<Shared<W>>, runtime: &tokio::runtime::Handle, run: u64) {
    let context = RunContext::new(Arc::clone(&shared) as _, run);
    let work = call(|| Arc::clone(&shared.work).run(context));
    let span = tracing::debug_span!(
        target: "runner::lifecycle",
        "runner.run",
        runner.name = %shared.config.name,
        run,
    );
    let drive = Drive::new(shared, run, work, W::stop);
    if span.is_disabled() {
        task::spawn(runtime, drive);
    } else {
        task::spawn(runtime, drive.instrument(span));
    }
}

/// How the run's future ended.
enum Outcome {
    /// It returned `Ok(())`.
    Returned,
    /// It returned an error.
    Failed(Error),
    /// It panicked.
    Panicked(Panicked),
    /// It outlived its grace period after the stop hook and was dropped.
    Aborted(std::time::Duration),
}

impl core::fmt::Display for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Outcome::Returned => f.write_str("returned"),
            Outcome::Failed(error) => write!(f, "failed: {error}"),
            Outcome::Panicked(panicked) => core::fmt::Display::fmt(panicked, f),
            Outcome::Aborted(grace) => write!(f, "aborted after {grace:?}"),
        }
    }
}

pin_project! {
    /// The run's future, until it ends or is aborted.
    #[project = RunProj]
    enum Run<R> {
        Alive { #[pin] future: CatchUnwind<R> },
        Ended,
    }
}

pin_project! {
    /// The task of run `run`.
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct Drive<W, R, H, K>
    where
        W: Work,
    {
        shared: Arc<Shared<W>>,
        run: u64,
        #[pin]
        future: Run<R>,
        // Makes the stop hook's future: `W::stop`, a function item, so it takes no room.
        hook: K,
        // The waker the control plane holds for us, to wake us on a stop request.
        registered: Option<Waker>,
        // The shutdown, once it has begun.
        ending: Option<Pin<Box<Ending<H>>>>,
    }
}

impl<W, R, H, K> Drive<W, R, H, K>
where
    W: Work,
    R: Future<Output = Result<(), W::Error>>,
    H: Future<Output = Result<(), W::Error>>,
    K: Fn(Arc<W>) -> H + Copy,
{
    fn new(shared: Arc<Shared<W>>, run: u64, future: Result<R, Panicked>, hook: K) -> Self {
        let mut drive = Drive {
            shared,
            run,
            future: Run::Ended,
            hook,
            registered: None,
            ending: None,
        };
        match future {
            Ok(future) => {
                drive.future = Run::Alive {
                    future: CatchUnwind::new(future),
                }
            }
            // The run function panicked before it returned a future: the run is over already.
            Err(panicked) => ended(
                &drive.shared,
                drive.run,
                &mut drive.ending,
                hook,
                Outcome::Panicked(panicked),
            ),
        }
        drive
    }
}

/// The run's future ended (or never began): begins the shutdown if a stop request has not
/// already begun it, and records how the run ended.
fn ended<W: Work, H>(
    shared: &Shared<W>,
    run: u64,
    ending: &mut Option<Pin<Box<Ending<H>>>>,
    hook: impl Fn(Arc<W>) -> H,
    outcome: Outcome,
) where
    H: Future<Output = Result<(), W::Error>>,
{
    // This also cancels the run's token, for anything the run spawned with it.
    if shared.control.exited(run) == Exited::ByItself {
        tracing::debug!(target: "runner::lifecycle", %outcome, "runner.exited: the run ended by itself");
    }
    ending
        .get_or_insert_with(|| Ending::begin(shared, hook))
        .as_mut()
        .project()
        .outcome
        .replace(outcome);
}

impl<W, R, H, K> Future for Drive<W, R, H, K>
where
    W: Work,
    R: Future<Output = Result<(), W::Error>>,
    H: Future<Output = Result<(), W::Error>>,
    K: Fn(Arc<W>) -> H + Copy,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let shared = &**this.shared;
        let hook = *this.hook;

        // The run's future is polled every time, until it ends: also while the stop hook runs,
        // so a graceful shutdown can drain.
        if let RunProj::Alive { future } = this.future.as_mut().project() {
            if let Poll::Ready(end) = future.poll(cx) {
                this.future.set(Run::Ended);
                let outcome = outcome(end);
                ended(shared, *this.run, this.ending, hook, outcome);
            }
        }

        if this.ending.is_none() {
            ready!(shared.control.poll_stop(*this.run, this.registered, cx));
            tracing::debug!(target: "runner::lifecycle", "runner.winding_down: stop hook started while the run winds down");
            *this.ending = Some(Ending::begin(shared, hook));
        }
        let Some(ending) = this.ending.as_mut() else {
            unreachable!("the shutdown began above");
        };

        ready!(ending.as_mut().poll_hook(cx, shared));
        if let Run::Alive { .. } = *this.future {
            ready!(ending.as_mut().poll_grace(cx, shared));
            let grace = shared.config.exit_timeout;
            tracing::warn!(target: "runner::lifecycle", ?grace, "runner.aborted: the run outlived its grace period");
            // Dropping the future aborts it, before the run is reported finished.
            this.future.set(Run::Ended);
            *ending.as_mut().project().outcome = Some(Outcome::Aborted(grace));
        }

        let ending = ending.as_mut().project();
        let outcome = ending.outcome.take().unwrap_or(Outcome::Returned);
        let stop_hook = ending.hook_result.take().unwrap_or(Ok(()));
        if let Some((exit, state)) = shared.control.finish(*this.run, |facts, errors, _| {
            report(facts, errors, outcome, stop_hook)
        }) {
            tracing::debug!(target: "runner::lifecycle", %exit, %state, "runner.finished");
        }
        Poll::Ready(())
    }
}

impl<W, R, H, K> task::Driver for Drive<W, R, H, K>
where
    W: Work,
    R: Future<Output = Result<(), W::Error>> + Send + 'static,
    H: Future<Output = Result<(), W::Error>> + Send + 'static,
    K: Fn(Arc<W>) -> H + Copy + Send + 'static,
{
    fn fault(self: Pin<&mut Self>, fault: crate::Fault) {
        let this = self.project();
        let (shared, run) = (&**this.shared, *this.run);
        if let Some((exit, state)) = shared.control.fault(run, fault) {
            tracing::error!(target: "runner::lifecycle", { runner.name = %shared.config.name, run, %exit, %state }, "runner.faulted: the run's task ended without finishing the run");
        }
    }
}

fn outcome<E: Into<BoxError>>(ended: Result<Result<(), E>, Panicked>) -> Outcome {
    match ended {
        Ok(Ok(())) => Outcome::Returned,
        Ok(Err(error)) => Outcome::Failed(Error::run(error.into())),
        Err(panicked) => Outcome::Panicked(panicked),
    }
}

/// How the run ended, for `start`, `stop` and `last_exit`: records its errors in the order they
/// happened.
fn report(
    facts: Facts,
    errors: &mut ErrorLog<Error>,
    outcome: Outcome,
    stop_hook: Result<(), Error>,
) -> Report<Error> {
    let aborted_after = match outcome {
        Outcome::Aborted(grace) => Some(grace),
        _ => None,
    };

    // 1. How the run ended; its failure is recorded first, as it came first.
    let (mut exit, failure) = match outcome {
        Outcome::Returned | Outcome::Aborted(_) if facts.stop_requested => (Exit::Stopped, None),
        Outcome::Returned | Outcome::Aborted(_) => (Exit::Completed, None),
        Outcome::Failed(error) => {
            let recorded = errors.record(error);
            (Exit::Failed(recorded.clone()), Some(recorded))
        }
        Outcome::Panicked(panicked) => {
            let recorded = errors.record(Error::RunPanicked(panicked.clone()));
            (Exit::Panicked(panicked), Some(recorded))
        }
    };

    // 2. What a `start` waiting for readiness reports, if the run never got ready: its failure,
    //    or why it ended without one (recorded, like every error `start` returns).
    let start_error = (!facts.reached_running).then(|| match failure {
        Some(failure) => (*failure).clone(),
        None if facts.stop_requested => (*errors.record(Error::StoppedBeforeReady)).clone(),
        None => (*errors.record(Error::EndedBeforeReady)).clone(),
    });

    // 3. What `stop` reports: the stop hook's error, then the abort that carries it.
    let hook_error = stop_hook.err().map(|error| errors.record(error));
    let stop_result = match (aborted_after, hook_error) {
        (Some(grace), stop_error) => {
            let aborted = errors.record(Error::Aborted { grace, stop_error });
            exit = Exit::Failed(aborted.clone());
            Err((*aborted).clone())
        }
        (None, Some(hook_error)) => Err((*hook_error).clone()),
        (None, None) => Ok(()),
    };
    Report {
        exit,
        start_error,
        stop_result,
    }
}

pin_project! {
    /// The stop hook's future, until it ends.
    #[project = HookProj]
    enum Hook<H> {
        Running { #[pin] future: CatchUnwind<H> },
        Ended,
    }
}

pin_project! {
    /// The shutdown of a run: the stop hook under its deadline, then the run's grace period.
    /// Boxed, and made only when the shutdown begins.
    struct Ending<H> {
        #[pin]
        hook: Hook<H>,
        // Armed only if the stop hook's first poll is pending.
        deadline: Option<Pin<Box<Sleep>>>,
        hook_result: Option<Result<(), Error>>,
        // Armed only if the run outlives the stop hook.
        grace: Option<Pin<Box<Sleep>>>,
        outcome: Option<Outcome>,
    }
}

impl<H, E> Ending<H>
where
    H: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    /// Calls the stop hook (once per run), catching a panic in its synchronous part.
    fn begin<W: Work>(shared: &Shared<W>, hook: impl Fn(Arc<W>) -> H) -> Pin<Box<Self>> {
        let (hook, hook_result) = match call(|| hook(Arc::clone(&shared.work))) {
            Ok(future) => (
                Hook::Running {
                    future: CatchUnwind::new(future),
                },
                None,
            ),
            Err(panicked) => (Hook::Ended, Some(Err(Error::StopPanicked(panicked)))),
        };
        Box::pin(Ending {
            hook,
            deadline: None,
            hook_result,
            grace: None,
            outcome: None,
        })
    }

    /// Ready once the stop hook has finished, failed, panicked or missed its deadline.
    fn poll_hook<W>(self: Pin<&mut Self>, cx: &mut Context<'_>, shared: &Shared<W>) -> Poll<()> {
        let mut this = self.project();
        let HookProj::Running { future } = this.hook.as_mut().project() else {
            return Poll::Ready(());
        };
        let result = match future.poll(cx) {
            Poll::Ready(Ok(Ok(()))) => Ok(()),
            Poll::Ready(Ok(Err(error))) => Err(Error::stop(error.into())),
            Poll::Ready(Err(panicked)) => Err(Error::StopPanicked(panicked)),
            Poll::Pending => {
                let limit = shared.config.stop_hook_timeout;
                let deadline = this.deadline.get_or_insert_with(|| Box::pin(sleep(limit)));
                ready!(deadline.as_mut().poll(cx));
                Err(Error::StopTimedOut(limit))
            }
        };
        match &result {
            Ok(()) => tracing::trace!(target: "runner::lifecycle", "runner.stop_hook: done"),
            Err(error) => {
                tracing::debug!(target: "runner::lifecycle", %error, "runner.stop_hook: failed")
            }
        }
        // Dropping a timed-out stop hook here is its cancellation, at its deadline.
        this.hook.set(Hook::Ended);
        *this.hook_result = Some(result);
        Poll::Ready(())
    }

    /// Ready once the run's grace period has passed.
    fn poll_grace<W>(self: Pin<&mut Self>, cx: &mut Context<'_>, shared: &Shared<W>) -> Poll<()> {
        let grace = shared.config.exit_timeout;
        self.project()
            .grace
            .get_or_insert_with(|| Box::pin(sleep(grace)))
            .as_mut()
            .poll(cx)
    }
}

/// A sleep of `limit` from now, saturating: `Duration::MAX` is "no limit".
fn sleep(limit: std::time::Duration) -> Sleep {
    let now = tokio::time::Instant::now();
    tokio::time::sleep_until(deadline::after(now.into_std(), limit).into())
}

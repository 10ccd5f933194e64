//! [`Drive`]: the task of one run. It polls the start function's future, notices a stop request
//! or the function's own end, runs the stop function once under its deadline while the start
//! function winds down, gives the start function its grace period, aborts it (drops it) if it
//! must, and reports the run to the control plane.
//!
//! Everything a `stop` waits for happens here rather than in the caller's future, which is why
//! dropping a `stop` future never cancels a shutdown.
//!
//! While a run is idle this task holds only the start function's future (inline, not boxed) and
//! a waiter key; everything the shutdown needs lives in [`Ending`], allocated when it begins.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::Arc;

use pin_project_lite::pin_project;
use runner_core::Panicked;
use tokio::time::Sleep;
use tracing::Instrument;

use crate::catch_unwind::{CatchUnwind, call};
use crate::context::RunContext;
use crate::control::WorkOutcome;
use crate::error::{BoxError, Error};
use crate::lifecycle::Exited;
use crate::shared::{Shared, StartFn, StopFn};

/// Calls the start function for run `run`, then spawns the task that drives the run. The span
/// is attached only when some subscriber wants it, so it costs nothing otherwise.
pub(crate) fn spawn<S: StartFn, T: StopFn>(shared: Arc<Shared<S, T>>, run: u64) {
    let context = RunContext::new(Arc::clone(&shared) as _, run);
    let work = call(|| shared.functions.start.call(context));
    let span = tracing::debug_span!(
        target: "runner::startstop",
        "runner.run",
        runner.name = %shared.config.name,
        run,
    );
    let drive = Drive::new(shared, run, work);
    if span.is_disabled() {
        tokio::spawn(drive);
    } else {
        tokio::spawn(drive.instrument(span));
    }
}

pin_project! {
    /// The start function's future, until it ends or is aborted.
    #[project = WorkProj]
    enum Work<W> {
        Alive { #[pin] future: CatchUnwind<W> },
        Ended,
    }
}

pin_project! {
    /// The task of run `run`.
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct Drive<S, T>
    where
        S: StartFn,
        T: StopFn,
    {
        shared: Arc<Shared<S, T>>,
        run: u64,
        #[pin]
        work: Work<S::Work>,
        // Our waker's key in the control plane while we wait for a stop request.
        stop_key: Option<u64>,
        // The shutdown, once it has begun.
        ending: Option<Pin<Box<Ending<T::Hook>>>>,
    }

    impl<S, T> PinnedDrop for Drive<S, T>
    where
        S: StartFn,
        T: StopFn,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.shared.control.forget(this.stop_key);
        }
    }
}

impl<S: StartFn, T: StopFn> Drive<S, T> {
    fn new(shared: Arc<Shared<S, T>>, run: u64, work: Result<S::Work, Panicked>) -> Self {
        let mut drive = Drive {
            shared,
            run,
            work: Work::Ended,
            stop_key: None,
            ending: None,
        };
        match work {
            Ok(future) => {
                drive.work = Work::Alive {
                    future: CatchUnwind::new(future),
                }
            }
            // The start function panicked before it returned a future: the run is over already.
            Err(panicked) => drive.ended(WorkOutcome::Panicked(panicked)),
        }
        drive
    }

    /// The start function's future ended (or never began): begins the shutdown if a stop
    /// request has not already begun it, and records how the work ended.
    fn ended(&mut self, outcome: WorkOutcome) {
        ended(
            &self.shared,
            self.run,
            &mut self.stop_key,
            &mut self.ending,
            outcome,
        );
    }
}

/// See [`Drive::ended`]; a free function so `poll` can call it on projected fields.
fn ended<S: StartFn, T: StopFn>(
    shared: &Shared<S, T>,
    run: u64,
    stop_key: &mut Option<u64>,
    ending: &mut Option<Pin<Box<Ending<T::Hook>>>>,
    outcome: WorkOutcome,
) {
    // This also fires the run's token, for anything the start function spawned with it.
    if shared.control.exited(run, stop_key) == Exited::ByItself {
        tracing::debug!(target: "runner::startstop", %outcome, "runner.exited: start function ended by itself");
    }
    ending
        .get_or_insert_with(|| Ending::begin(shared))
        .as_mut()
        .project()
        .outcome
        .replace(outcome);
}

impl<S: StartFn, T: StopFn> Future for Drive<S, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let shared = &**this.shared;

        // The start function's future is polled every time, until it ends: also while the stop
        // function runs, so a graceful shutdown can drain.
        if let WorkProj::Alive { future } = this.work.as_mut().project() {
            if let Poll::Ready(end) = future.poll(cx) {
                this.work.set(Work::Ended);
                ended(shared, *this.run, this.stop_key, this.ending, outcome(end));
            }
        }

        if this.ending.is_none() {
            ready!(
                shared
                    .control
                    .poll_stop_requested(*this.run, this.stop_key, cx)
            );
            tracing::debug!(target: "runner::startstop", "runner.winding_down: stop function started while the start function runs");
            *this.ending = Some(Ending::begin(shared));
        }
        let Some(ending) = this.ending.as_mut() else {
            unreachable!("the shutdown began above");
        };

        ready!(ending.as_mut().poll_hook(cx, shared));
        if let Work::Alive { .. } = *this.work {
            ready!(ending.as_mut().poll_grace(cx, shared));
            let grace = shared.config.exit_timeout;
            tracing::warn!(target: "runner::startstop", ?grace, "runner.aborted: start function outlived its grace period");
            // Dropping the future aborts it, before the run is reported finished.
            this.work.set(Work::Ended);
            *ending.as_mut().project().outcome = Some(WorkOutcome::Aborted(grace));
        }

        let ending = ending.as_mut().project();
        let outcome = ending.outcome.take().unwrap_or(WorkOutcome::Returned);
        let stop_hook = ending.hook_result.take().unwrap_or(Ok(()));
        if let Some((exit, state)) = shared.control.finish(*this.run, outcome, stop_hook) {
            tracing::debug!(target: "runner::startstop", %exit, %state, "runner.finished");
        }
        Poll::Ready(())
    }
}

fn outcome<E: Into<BoxError>>(ended: Result<Result<(), E>, Panicked>) -> WorkOutcome {
    match ended {
        Ok(Ok(())) => WorkOutcome::Returned,
        Ok(Err(error)) => WorkOutcome::Failed(Error::start(error.into())),
        Err(panicked) => WorkOutcome::Panicked(panicked),
    }
}

pin_project! {
    /// The stop function's future, until it ends.
    #[project = HookProj]
    enum Hook<H> {
        Running { #[pin] future: CatchUnwind<H> },
        Ended,
    }
}

pin_project! {
    /// The shutdown of a run: the stop function under its deadline, then the start function's
    /// grace period. Boxed, and made only when the shutdown begins.
    struct Ending<H> {
        #[pin]
        hook: Hook<H>,
        // Armed only if the stop function's first poll is pending.
        deadline: Option<Pin<Box<Sleep>>>,
        hook_result: Option<Result<(), Error>>,
        // Armed only if the start function outlives the stop function.
        grace: Option<Pin<Box<Sleep>>>,
        outcome: Option<WorkOutcome>,
    }
}

impl<H, E> Ending<H>
where
    H: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    /// Calls the stop function (once per run), catching a panic in its synchronous part.
    fn begin<S: StartFn, T: StopFn<Hook = H>>(shared: &Shared<S, T>) -> Pin<Box<Self>> {
        let (hook, hook_result) = match call(|| shared.functions.stop.call()) {
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

    /// Ready once the stop function has finished, failed, panicked or missed its deadline.
    fn poll_hook<S, T>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        shared: &Shared<S, T>,
    ) -> Poll<()> {
        let mut this = self.project();
        let HookProj::Running { future } = this.hook.as_mut().project() else {
            return Poll::Ready(());
        };
        let result = match future.poll(cx) {
            Poll::Ready(Ok(Ok(()))) => Ok(()),
            Poll::Ready(Ok(Err(error))) => Err(Error::stop(error.into())),
            Poll::Ready(Err(panicked)) => Err(Error::StopPanicked(panicked)),
            Poll::Pending => {
                let limit = shared.config.stop_timeout;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                ready!(deadline.as_mut().poll(cx));
                Err(Error::StopTimedOut(limit))
            }
        };
        match &result {
            Ok(()) => tracing::trace!(target: "runner::startstop", "runner.stop_hook: done"),
            Err(error) => {
                tracing::debug!(target: "runner::startstop", %error, "runner.stop_hook: failed")
            }
        }
        // Dropping a timed-out stop function here is its cancellation, at its deadline.
        this.hook.set(Hook::Ended);
        *this.hook_result = Some(result);
        Poll::Ready(())
    }

    /// Ready once the start function's grace period has passed.
    fn poll_grace<S, T>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        shared: &Shared<S, T>,
    ) -> Poll<()> {
        let grace = shared.config.exit_timeout;
        self.project()
            .grace
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(grace)))
            .as_mut()
            .poll(cx)
    }
}

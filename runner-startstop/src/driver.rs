//! The task that drives one run: it runs the start function, notices a stop request or the
//! function's own end, runs the stop function once under its deadline, gives the start function
//! its grace period, aborts it if it must, and reports the run to the control plane.
//!
//! Everything a `stop` must wait for happens here rather than in the caller's future, which is
//! why dropping a `stop` future never cancels a shutdown. While the run is idle, the task holds
//! only the start function's future and a wait on the control plane; the shutdown path is boxed,
//! so its state costs nothing until a stop.

use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::Poll;
use std::sync::Arc;
use std::time::Duration;

use runner_core::Panicked;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::catch_unwind::{CatchUnwind, call};
use crate::context::RunContext;
use crate::control::WorkOutcome;
use crate::error::Error;
use crate::lifecycle::Exited;
use crate::shared::{Shared, StartFn, StopFn};

/// Calls the start function for run `run`, then spawns the task that drives the run. The
/// span is attached only when some subscriber wants it, so it costs nothing otherwise.
pub(crate) fn spawn<S: StartFn, T: StopFn>(
    shared: Arc<Shared<S, T>>,
    run: u64,
    token: CancellationToken,
) {
    let context = RunContext::new(token, Arc::clone(&shared) as _, run);
    let work = call(|| shared.functions.start.call(context));
    let span = tracing::debug_span!(
        target: "runner::startstop",
        "runner.run",
        runner.name = %shared.config.name,
        run,
    );
    if span.is_disabled() {
        tokio::spawn(drive(shared, run, work));
    } else {
        tokio::spawn(drive(shared, run, work).instrument(span));
    }
}

type Ended<E> = Result<Result<(), E>, Panicked>;

async fn drive<S: StartFn, T: StopFn>(
    shared: Arc<Shared<S, T>>,
    run: u64,
    work: Result<S::Work, Panicked>,
) {
    let (outcome, stop_hook) = match work {
        Err(panicked) => {
            Box::pin(ended_by_itself(
                &shared,
                run,
                WorkOutcome::Panicked(panicked),
            ))
            .await
        }
        Ok(work) => {
            let mut work = pin!(CatchUnwind::new(work));
            let ended = tokio::select! {
                biased;
                () = shared.control.stop_requested(run) => None,
                ended = work.as_mut() => Some(outcome(ended)),
            };
            match ended {
                Some(outcome) => Box::pin(ended_by_itself(&shared, run, outcome)).await,
                None => Box::pin(wind_down(&shared, work)).await,
            }
            // An aborted start function's future is dropped here, before the run is reported
            // finished: `stop` returns only after it is gone.
        }
    };
    if let Some((exit, state)) = shared.control.finish(run, outcome, stop_hook) {
        tracing::debug!(target: "runner::startstop", %exit, %state, "runner.finished");
    }
}

/// The start function ended by itself (or just before it saw a stop request): signal anything it
/// spawned, then run the stop function once.
async fn ended_by_itself<S: StartFn, T: StopFn>(
    shared: &Shared<S, T>,
    run: u64,
    outcome: WorkOutcome,
) -> (WorkOutcome, Result<(), Error>) {
    let (exited, signal) = shared.control.exited(run);
    if let Some(signal) = signal {
        signal.cancel();
    }
    if exited == Exited::ByItself {
        tracing::debug!(target: "runner::startstop", %outcome, "runner.exited: start function ended by itself");
    }
    (outcome, stop_hook(shared).await)
}

/// A stop was requested: run the stop function while still polling the start function, then give
/// the start function `exit_timeout` to end, and abort it (by dropping it) if it does not.
async fn wind_down<S: StartFn, T: StopFn>(
    shared: &Shared<S, T>,
    mut work: Pin<&mut CatchUnwind<S::Work>>,
) -> (WorkOutcome, Result<(), Error>) {
    tracing::debug!(target: "runner::startstop", "runner.stopping: stop requested");
    let mut ended = None;
    let mut hook = pin!(stop_hook(shared));
    let hook_result = loop {
        if ended.is_some() {
            break hook.await;
        }
        tokio::select! {
            biased;
            result = hook.as_mut() => break result,
            finished = work.as_mut() => ended = Some(outcome(finished)),
        }
    };
    if ended.is_none() {
        ended = first_poll_then_timeout(work, shared.config.exit_timeout)
            .await
            .map(outcome);
    }
    let outcome = match ended {
        Some(outcome) => outcome,
        None => {
            let grace = shared.config.exit_timeout;
            tracing::warn!(target: "runner::startstop", ?grace, "runner.aborted: start function outlived its grace period");
            WorkOutcome::Aborted(grace)
        }
    };
    (outcome, hook_result)
}

fn outcome<E: Into<crate::error::BoxError>>(ended: Ended<E>) -> WorkOutcome {
    match ended {
        Ok(Ok(())) => WorkOutcome::Returned,
        Ok(Err(error)) => WorkOutcome::Failed(Error::start(error.into())),
        Err(panicked) => WorkOutcome::Panicked(panicked),
    }
}

/// Polls `future` once, and only if it is not done arms a timer of `limit`: the common case
/// (done at once) reads no clock and registers no timer.
async fn first_poll_then_timeout<F: Future>(
    mut future: Pin<&mut F>,
    limit: Duration,
) -> Option<F::Output> {
    if let Poll::Ready(output) = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await {
        return Some(output);
    }
    tokio::time::timeout(limit, future).await.ok()
}

/// Runs the stop function once, under its own deadline, catching its panic.
async fn stop_hook<S: StartFn, T: StopFn>(shared: &Shared<S, T>) -> Result<(), Error> {
    let limit = shared.config.stop_timeout;
    let hook = call(|| shared.functions.stop.call()).map_err(Error::StopPanicked)?;
    let hook = pin!(HookResult {
        hook: CatchUnwind::new(hook),
    });
    let result = first_poll_then_timeout(hook, limit)
        .await
        .unwrap_or(Err(Error::StopTimedOut(limit)));
    match &result {
        Ok(()) => tracing::trace!(target: "runner::startstop", "runner.stop_hook: done"),
        Err(error) => {
            tracing::debug!(target: "runner::startstop", %error, "runner.stop_hook: failed")
        }
    }
    result
}

pin_project_lite::pin_project! {
    /// The stop function's future, resolving to our [`Error`] at once, so the user's error type
    /// never has to be held (or be `Send`) across an await.
    struct HookResult<F> {
        #[pin]
        hook: CatchUnwind<F>,
    }
}

impl<F, E> Future for HookResult<F>
where
    F: Future<Output = Result<(), E>>,
    E: Into<crate::error::BoxError>,
{
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> Poll<Self::Output> {
        self.project().hook.poll(cx).map(|ended| match ended {
            Err(panicked) => Err(Error::StopPanicked(panicked)),
            Ok(Err(error)) => Err(Error::stop(error.into())),
            Ok(Ok(())) => Ok(()),
        })
    }
}

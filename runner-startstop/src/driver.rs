//! The task that drives one run: it runs the start function, notices a stop request or the
//! function's own end, runs the stop function once under its deadline, gives the start function
//! its grace period, aborts it if it must, and reports the run to the control plane.
//!
//! Everything a `stop` must wait for happens here rather than in the caller's future, which is
//! why dropping a `stop` future never cancels a shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::catch_unwind::{CatchUnwind, call};
use crate::context::RunContext;
use crate::control::{RunReport, WorkOutcome};
use crate::error::Error;
use crate::lifecycle::Exited;
use crate::shared::Shared;
use crate::sync::Arc;

pub(crate) async fn drive(shared: Arc<Shared>, run: u64, token: CancellationToken) {
    let span = tracing::debug_span!(
        target: "runner::startstop",
        "runner.run",
        runner.name = %shared.config.name,
        run,
    );
    drive_run(&shared, run, token).instrument(span).await;
}

async fn drive_run(shared: &Arc<Shared>, run: u64, token: CancellationToken) {
    let context = RunContext::new(token.clone(), Arc::clone(shared), run);
    let mut work = match call(|| (shared.start)(context)) {
        Ok(future) => Some(CatchUnwind::new(future)),
        Err(panicked) => {
            if let (_, Some(signal)) = shared.control.exited(run) {
                signal.cancel();
            }
            let stop_hook = stop_hook(shared).await;
            return finish(
                shared,
                run,
                WorkOutcome::Panicked(panicked),
                stop_hook,
                None,
            );
        }
    };
    let running = work.as_mut().expect("work was just created");

    let ended_first = tokio::select! {
        biased;
        () = token.cancelled() => None,
        outcome = running => Some(outcome),
    };

    let report = match ended_first {
        Some(outcome) => {
            // The start function ended by itself (or just before it saw the stop request).
            work = None;
            let outcome = work_outcome(outcome);
            let (exited, signal) = shared.control.exited(run);
            if let Some(signal) = signal {
                signal.cancel(); // for anything the start function spawned with the token
            }
            if exited == Exited::ByItself {
                tracing::debug!(target: "runner::startstop", outcome = %outcome, "runner.exited: start function ended by itself");
            }
            (outcome, stop_hook(shared).await, None)
        }
        None => {
            tracing::debug!(target: "runner::startstop", "runner.stopping: stop requested");
            stop_while_winding_down(shared, &mut work).await
        }
    };
    drop(work);
    let (outcome, stop_hook, aborted_after) = report;
    finish(shared, run, outcome, stop_hook, aborted_after);
}

/// Runs the stop function while still polling the start function, then gives the start function
/// `exit_timeout` to end. Leaves `work` as `None` if it ended, `Some` if it must be aborted.
async fn stop_while_winding_down(
    shared: &Shared,
    work: &mut Option<CatchUnwind<crate::shared::WorkFuture>>,
) -> (WorkOutcome, Result<(), Error>, Option<Duration>) {
    let mut outcome = None;
    let hook = stop_hook(shared);
    tokio::pin!(hook);
    let hook_result = loop {
        let Some(running) = work.as_mut().filter(|_| outcome.is_none()) else {
            break hook.await;
        };
        tokio::select! {
            biased;
            result = &mut hook => break result,
            ended = running => outcome = Some(work_outcome(ended)),
        }
    };
    if outcome.is_none() {
        if let Some(running) = work.as_mut() {
            let grace = shared.config.exit_timeout;
            if let Ok(ended) = tokio::time::timeout(grace, running).await {
                outcome = Some(work_outcome(ended));
            }
        }
    }
    match outcome {
        Some(outcome) => {
            *work = None;
            (outcome, hook_result, None)
        }
        None => {
            let grace = shared.config.exit_timeout;
            tracing::warn!(target: "runner::startstop", ?grace, "runner.aborted: start function outlived its grace period");
            (WorkOutcome::Returned, hook_result, Some(grace))
        }
    }
}

fn work_outcome(
    ended: Result<Result<(), crate::error::BoxError>, runner_core::Panicked>,
) -> WorkOutcome {
    match ended {
        Ok(Ok(())) => WorkOutcome::Returned,
        Ok(Err(error)) => WorkOutcome::Failed(Error::start(error)),
        Err(panicked) => WorkOutcome::Panicked(panicked),
    }
}

/// Runs the stop function once, under its own deadline, catching its panic.
async fn stop_hook(shared: &Shared) -> Result<(), Error> {
    let limit = shared.config.stop_timeout;
    let hook = call(|| (shared.stop)()).map_err(Error::StopPanicked)?;
    let result = match tokio::time::timeout(limit, CatchUnwind::new(hook)).await {
        Err(_elapsed) => Err(Error::StopTimedOut(limit)),
        Ok(Err(panicked)) => Err(Error::StopPanicked(panicked)),
        Ok(Ok(Err(error))) => Err(Error::stop(error)),
        Ok(Ok(Ok(()))) => Ok(()),
    };
    match &result {
        Ok(()) => tracing::trace!(target: "runner::startstop", "runner.stop_hook: done"),
        Err(error) => {
            tracing::debug!(target: "runner::startstop", %error, "runner.stop_hook: failed")
        }
    }
    result
}

fn finish(
    shared: &Shared,
    run: u64,
    work: WorkOutcome,
    stop_hook: Result<(), Error>,
    aborted_after: Option<Duration>,
) {
    let report = RunReport {
        work,
        stop_hook,
        aborted_after,
    };
    if let Some((exit, state)) = shared.control.finish(run, report) {
        tracing::debug!(target: "runner::startstop", %exit, %state, "runner.finished");
    }
}

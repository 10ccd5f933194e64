//! The engine: the supervisor's task. It carries out what the [`Core`] asks, feeds the results
//! back into it, fires its timers, and ends the supervisor's run when the core says so.
//! Everything that decides is in the core; this is the async shell around it.
//!
//! Each attempt to run a service is one future, polled by this task itself ([`Attempts`]): it
//! starts the service, reports how that went, then watches the service's changes (through its
//! awaitable `changed`, never polling) and reports each, until it is cancelled (the service
//! ended by itself, or its start was abandoned) or replaced by the service's stop. No task per
//! service: a service's steps wake this task directly. The runners' `start` and `stop` are
//! polled under `catch_unwind`, so a runner that panics there fails its own start or stop, not
//! the supervisor.

use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use pin_project_lite::pin_project;
use runner_core::{DynRunner, Exit, Runner, SharedError, State, Status, Version};
use runner_lifecycle::control::Report;
use runner_lifecycle::sync::{Mutex, lock};
use runner_lifecycle::{CatchUnwind, Control, Fault, now, task};
use tokio::runtime::Handle;
use tokio::sync::{Notify, broadcast};

use crate::attempts::Attempts;
use crate::core::{Action, Core, Finish, Id, Observed, Started, Stopped};
use crate::error::{Error, StopReport};
use crate::events::Event;
use crate::mailbox::Mailbox;

/// What a supervisor, its engine and the engine's helpers share.
pub(crate) struct Shared {
    pub(crate) name: Cow<'static, str>,
    pub(crate) control: Control<Error>,
    pub(crate) core: Mutex<Core>,
    /// The services' runners, by id.
    pub(crate) runners: Mutex<Vec<Arc<dyn DynRunner>>>,
    pub(crate) mailbox: Mailbox<Input>,
    pub(crate) events: broadcast::Sender<Event>,
    /// Notified after each round of the engine: what `remove` waits on.
    pub(crate) rounds: Notify,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("name", &self.name)
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

/// What the engine's helpers post to it.
#[derive(Debug)]
pub(crate) enum Input {
    Started {
        id: Id,
        epoch: u64,
        outcome: Started,
    },
    Changed {
        id: Id,
        epoch: u64,
        observed: Observed,
    },
    Stopped {
        id: Id,
        epoch: u64,
        outcome: Stopped,
    },
    /// The core changed from outside the engine (a service was added or removed): carry out
    /// its actions.
    Kick,
}

/// A start that did not finish in time.
#[derive(Debug)]
struct StartTimedOut(Duration);

impl fmt::Display for StartTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "did not start within {:?}", self.0)
    }
}

impl std::error::Error for StartTimedOut {}

/// Spawns the engine of run `run` on `runtime`.
pub(crate) fn spawn(shared: Arc<Shared>, runtime: &Handle, run: u64) {
    let future = engine(Arc::clone(&shared), run);
    task::spawn(
        runtime,
        Engine {
            future,
            shared,
            run,
        },
    );
}

pin_project! {
    /// The engine's future, guarded: if the task dies, the run is ended as a fault.
    struct Engine<F> {
        #[pin]
        future: F,
        shared: Arc<Shared>,
        run: u64,
    }
}

impl<F: Future<Output = ()>> Future for Engine<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().future.poll(cx)
    }
}

impl<F: Future<Output = ()> + Send + 'static> task::Driver for Engine<F> {
    fn fault(self: Pin<&mut Self>, fault: Fault) {
        let this = self.project();
        if let Some((exit, state)) = this.shared.control.fault(*this.run, fault) {
            tracing::error!(target: "runner::supervisor", { supervisor = %this.shared.name, %exit, %state }, "supervisor.faulted: its task ended without finishing the run; its services are no longer supervised");
        }
    }
}

/// What woke the engine.
enum Woke {
    Stop,
    Inputs,
    Timer,
}

async fn engine(shared: Arc<Shared>, run: u64) {
    let mut attempts = Attempts::new();
    let mut registered = None;
    let mut stopping = false;
    let mut inputs = Vec::new();
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    lock(&shared.core).begin(now());
    loop {
        // Carry out what the core asked for, until it asks nothing more.
        loop {
            let actions = lock(&shared.core).take_actions();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                if let Some(finish) = execute(&shared, run, &mut attempts, action) {
                    conclude(&shared, run, finish);
                    shared.rounds.notify_waiters();
                    return;
                }
            }
        }
        shared.rounds.notify_waiters();

        let deadline = {
            let mut core = lock(&shared.core);
            let deadline = core.next_deadline();
            if let Some(at) = deadline {
                let now = now();
                if at <= now {
                    // Due already (a zero delay): no trip through the timer wheel.
                    core.fire(now);
                    continue;
                }
            }
            deadline
        };
        match (deadline, &mut timer) {
            (Some(at), Some(sleep)) => sleep.as_mut().reset(at.into()),
            (Some(at), None) => timer = Some(Box::pin(tokio::time::sleep_until(at.into()))),
            (None, _) => timer = None,
        }
        let woke = poll_fn(|cx| {
            // The attempts post what they saw to the mailbox, drained just below.
            attempts.poll(cx);
            if !stopping
                && shared
                    .control
                    .poll_stop(run, &mut registered, cx)
                    .is_ready()
            {
                return Poll::Ready(Woke::Stop);
            }
            if shared.mailbox.poll_drain(cx, &mut inputs).is_ready() {
                return Poll::Ready(Woke::Inputs);
            }
            if let Some(sleep) = timer.as_mut() {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::Timer);
                }
            }
            Poll::Pending
        })
        .await;
        let now = now();
        let mut core = lock(&shared.core);
        core.want_events(
            shared.events.receiver_count() > 0
                || tracing::enabled!(target: "runner::supervisor", tracing::Level::WARN),
        );
        match woke {
            Woke::Stop => {
                stopping = true;
                core.stop(now);
            }
            Woke::Timer => core.fire(now),
            Woke::Inputs => {
                for input in inputs.drain(..) {
                    match input {
                        Input::Started { id, epoch, outcome } => {
                            core.started(id, epoch, outcome, now);
                        }
                        Input::Changed {
                            id,
                            epoch,
                            observed,
                        } => core.changed(id, epoch, observed, now),
                        Input::Stopped { id, epoch, outcome } => {
                            core.stopped(id, epoch, outcome, now);
                        }
                        Input::Kick => {}
                    }
                }
            }
        }
    }
}

/// Carries out one action; returns how the run ends, if it does.
fn execute(
    shared: &Arc<Shared>,
    run: u64,
    attempts: &mut Attempts,
    action: Action,
) -> Option<Finish> {
    let runner = |id: Id| Arc::clone(&lock(&shared.runners)[id]);
    match action {
        Action::Start {
            id,
            epoch,
            delay,
            timeout,
            stop_timeout,
        } => {
            let (runner, shared) = (runner(id), Arc::clone(shared));
            attempts.set(id, async move {
                // Boxed: the attempt lives as long as the service runs, and should not keep
                // the room of its start future all that while.
                let outcome = Box::pin(start(&*runner, delay, timeout, stop_timeout)).await;
                let from = match &outcome {
                    Started::Ok(observed) => Some(observed.version),
                    _ => None,
                };
                shared.mailbox.post(Input::Started { id, epoch, outcome });
                if let Some(from) = from {
                    watch(&runner, &shared, id, epoch, from).await;
                }
            });
        }
        Action::AbortStart { id, epoch } => {
            attempts.cancel(id);
            lock(&shared.core).started(id, epoch, Started::Aborted, now());
        }
        Action::Stop { id, epoch } => {
            // The stop replaces the attempt's watching (or its abandoned start).
            let (runner, shared) = (runner(id), Arc::clone(shared));
            attempts.set(id, async move {
                let outcome = stop(&*runner).await;
                shared.mailbox.post(Input::Stopped { id, epoch, outcome });
            });
        }
        Action::StopTimedOut { id, epoch } => {
            let state = runner(id).state();
            lock(&shared.core).stopped(id, epoch, Stopped::TimedOut(state), now());
        }
        Action::Unwatch { id } => attempts.cancel(id),
        Action::Event(event) => {
            event.trace();
            // Nobody subscribed is fine: events are for whoever listens.
            let _ = shared.events.send(event);
        }
        Action::Touch => shared.control.update(|parts| parts.touch()),
        Action::Ready => {
            if shared.control.ready(run, now()) {
                tracing::info!(target: "runner::supervisor", supervisor = %shared.name, "supervisor.ready: every required service is running and ready");
            }
        }
        Action::Finish(finish) => return Some(finish),
    }
    None
}

/// Starts `runner` after `delay`, bounded by `timeout`; a start that timed out is stopped again
/// (its dropped `start` may have left it starting), bounded by `stop_timeout`.
async fn start(
    runner: &dyn DynRunner,
    delay: Duration,
    timeout: Duration,
    stop_timeout: Duration,
) -> Started {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    // Caught: the start is polled by the engine's task, which a runner's panic must not end.
    match tokio::time::timeout(timeout, CatchUnwind::new(runner.start())).await {
        Ok(Ok(Ok(()))) => Started::Ok(observe(runner)),
        Ok(Ok(Err(error))) => Started::Err(error),
        Ok(Err(panicked)) => Started::Err(Arc::new(panicked)),
        Err(_) => {
            let _ = tokio::time::timeout(stop_timeout, runner.stop()).await;
            Started::Err(Arc::new(StartTimedOut(timeout)) as SharedError)
        }
    }
}

/// Posts every change of a started service, until the attempt is cancelled or replaced by
/// the service's stop. A `changed` that panics (a broken runner) ends the watching; the
/// service's exit is then not seen, which the stop still ends.
async fn watch(runner: &Arc<dyn DynRunner>, shared: &Shared, id: Id, epoch: u64, from: Version) {
    let mut from = from;
    loop {
        let Ok(seen) = CatchUnwind::new(runner.changed(from)).await else {
            tracing::error!(target: "runner::supervisor", service = id, "supervisor.watch: the service's `changed` panicked; no longer watched");
            return;
        };
        from = seen.version;
        let observed = observe(&**runner);
        shared.mailbox.post(Input::Changed {
            id,
            epoch,
            observed,
        });
    }
}

/// Stops `runner`. (Its stop timeout is the core's: a stop that takes too long is reported by
/// the core, and this one goes on.)
async fn stop(runner: &dyn DynRunner) -> Stopped {
    // A run that fails as it stops may be recorded by the service rather than returned from its
    // `stop` (the contract allows either): it counts all the same. (Not for a start the engine
    // abandoned: the service may record that it was stopped before it was ready, which is no
    // failure of its own.)
    let was_running = runner.state() == State::Running;
    let errors_before = runner.dyn_error_count();
    match CatchUnwind::new(runner.stop())
        .await
        .unwrap_or_else(|p| Err(Arc::new(p)))
    {
        Ok(()) => match runner.dyn_last_error() {
            Some(error) if was_running && runner.dyn_error_count() > errors_before => {
                Stopped::Err(error)
            }
            _ => Stopped::Ok,
        },
        Err(error) => Stopped::Err(error),
    }
}

/// A service as it stands: state, version, health, readiness, and its exit if it ended.
fn observe(runner: &dyn DynRunner) -> Observed {
    let seen = runner.snapshot();
    Observed {
        state: seen.state,
        version: seen.version,
        health: runner.health(),
        ready: runner.readiness().is_ready(),
        exit: seen.state.is_idle().then(|| runner.last_exit()).flatten(),
    }
}

/// Ends run `run` as failed with `error` (its start failed, or it gave up), recording the stop
/// report too if the stop that followed was not clean.
fn fail(
    control: &Control<Error>,
    run: u64,
    error: Error,
    report: StopReport,
) -> Option<(Exit, State)> {
    let _ = control.exited(run);
    control.finish(run, |_, errors, _| {
        let error = errors.record(error);
        if !report.is_clean() {
            errors.record(Error::Stop(Arc::new(report)));
        }
        Report {
            exit: Exit::Failed(error.clone()),
            start_error: Some((*error).clone()),
            stop_result: Ok(()),
        }
    })
}

/// Ends the supervisor's run as the core decided.
fn conclude(shared: &Shared, run: u64, finish: Finish) {
    let control = &shared.control;
    let finished = match finish {
        Finish::Stopped(report) => control.finish(run, |_, errors, _| {
            if report.is_clean() {
                Report::ok(Exit::Stopped)
            } else {
                let error = errors.record(Error::Stop(Arc::new(report)));
                Report {
                    exit: Exit::Stopped,
                    start_error: None,
                    stop_result: Err((*error).clone()),
                }
            }
        }),
        Finish::StartFailed(failed, report) => {
            fail(control, run, Error::Start(Arc::new(failed)), report)
        }
        Finish::GaveUp(gave_up, report) => fail(control, run, gave_up, report),
    };
    if let Some((exit, state)) = finished {
        tracing::info!(target: "runner::supervisor", supervisor = %shared.name, %exit, %state, "supervisor.finished");
    }
}

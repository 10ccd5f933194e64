//! [`Control`]: the shared control plane of one runner. The lifecycle, the error log and the
//! results of each run live under one lock, and every state change wakes the waiters.
//!
//! Generic over the stop signal `S` (a `CancellationToken` in the runner, a unit in the loom
//! models), and free of tokio and clocks, so loom checks exactly this code.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use runner_core::{ErrorLog, Exit, Panicked, Snapshot, State, Version};

use crate::error::Error;
use crate::lifecycle::{Applied, Exited, Lifecycle, ReadyWhen, Start, Stop};
use crate::sync::{Mutex, MutexGuard, lock};
use crate::waiters::Waiters;

pub(crate) struct Control<S> {
    inner: Mutex<Inner<S>>,
}

struct Inner<S> {
    life: Lifecycle,
    /// The stop signal of the current run, until it is taken to be fired.
    signal: Option<S>,
    /// When the current run became `Running`.
    running_since: Option<Instant>,
    errors: ErrorLog<Error>,
    last_exit: Option<Exit>,
    /// Why the last finished run ended, as `start()` reports it when the run never got ready.
    ended: Option<(u64, Error)>,
    /// What the stop of the last finished run reports.
    stopped: Option<(u64, Result<(), Error>)>,
    waiters: Waiters,
}

/// What a `start` call must do, decided by [`Control::begin_start`].
#[must_use]
pub(crate) enum Begin<S> {
    /// Already running.
    AlreadyRunning,
    /// Spawn run `run`, to be stopped through `signal`.
    Spawn { run: u64, signal: S },
}

/// What a `stop` call must do, decided by [`Control::request_stop`].
#[must_use]
pub(crate) enum StopRequest<S> {
    /// Nothing to stop.
    Idle,
    /// Fire `signal` (if any: a run that exited by itself took its own), then wait for `run`.
    Signal { run: u64, signal: Option<S> },
    /// Run `run` is already stopping: wait for it.
    Wait { run: u64 },
}

/// How the start function of a run ended.
pub(crate) enum WorkOutcome {
    /// It returned `Ok(())`.
    Returned,
    /// It returned an error.
    Failed(Error),
    /// It panicked.
    Panicked(Panicked),
}

impl fmt::Display for WorkOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkOutcome::Returned => f.write_str("returned"),
            WorkOutcome::Failed(error) => write!(f, "failed: {error}"),
            WorkOutcome::Panicked(panicked) => fmt::Display::fmt(panicked, f),
        }
    }
}

/// How a run ended, handed to [`Control::finish`] by the task that drove it.
pub(crate) struct RunReport {
    /// How the start function ended.
    pub(crate) work: WorkOutcome,
    /// What the stop function did: `Ok`, or its failure, panic or timeout.
    pub(crate) stop_hook: Result<(), Error>,
    /// Set when the start function outlived the grace period after the stop function and was
    /// aborted.
    pub(crate) aborted_after: Option<Duration>,
}

impl<S: Clone> Control<S> {
    pub(crate) fn new(error_capacity: usize) -> Self {
        Control {
            inner: Mutex::new(Inner {
                life: Lifecycle::new(),
                signal: None,
                running_since: None,
                errors: ErrorLog::new(error_capacity),
                last_exit: None,
                ended: None,
                stopped: None,
                waiters: Waiters::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        lock(&self.inner)
    }

    /// Runs `f` under the lock; if the state changed, wakes every waiter after unlocking.
    fn transition<T>(&self, f: impl FnOnce(&mut Inner<S>) -> T) -> T {
        let mut inner = self.lock();
        let before = inner.life.snapshot().version;
        let out = f(&mut inner);
        let wakers = if inner.life.snapshot().version == before {
            Vec::new()
        } else {
            inner.waiters.take()
        };
        drop(inner);
        wakers.into_iter().for_each(core::task::Waker::wake);
        out
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        self.lock().life.snapshot()
    }

    /// Resolves once the version differs from `since`.
    pub(crate) fn changed(&self, since: Version) -> Changed<'_, S> {
        Changed {
            control: self,
            since,
            key: None,
        }
    }

    /// Waits until `f` returns `Some`, re-checking after every state change.
    async fn wait_until<T>(&self, mut f: impl FnMut(&Inner<S>) -> Option<T>) -> T {
        loop {
            let version = {
                let inner = self.lock();
                if let Some(out) = f(&inner) {
                    return out;
                }
                inner.life.snapshot().version
            };
            self.changed(version).await;
        }
    }

    /// The `start` protocol up to spawning: waits out a start or stop in progress, then either
    /// finds the runner running or begins run N with a fresh signal from `new_signal`.
    pub(crate) async fn begin_start(
        &self,
        when: ReadyWhen,
        now: impl Fn() -> Instant,
        mut new_signal: impl FnMut() -> S,
    ) -> Begin<S> {
        loop {
            let waiting = self.transition(|inner| match inner.life.start(when) {
                Start::AlreadyRunning => Err(Begin::AlreadyRunning),
                Start::Begin { run } => {
                    let signal = new_signal();
                    inner.signal = Some(signal.clone());
                    if inner.life.state() == State::Running {
                        inner.running_since = Some(now());
                    }
                    Err(Begin::Spawn { run, signal })
                }
                Start::Wait => Ok(inner.life.snapshot().version),
            });
            match waiting {
                Err(begin) => return begin,
                Ok(version) => {
                    self.changed(version).await;
                }
            }
        }
    }

    /// Run `run` signals ready. Returns `true` if that made it `Running`.
    pub(crate) fn ready(&self, run: u64, now: Instant) -> bool {
        self.transition(|inner| match inner.life.ready(run) {
            Applied::Done => {
                inner.running_since = Some(now);
                true
            }
            Applied::Ignored => false,
        })
    }

    /// Waits until run `run` is running (`Ok`) or has ended without getting ready (`Err`).
    pub(crate) async fn ready_outcome(&self, run: u64) -> Result<(), Error> {
        self.wait_until(|inner| {
            if inner.life.finished() >= run {
                return Some(Err(match &inner.ended {
                    Some((r, error)) if *r == run => error.clone(),
                    _ => Error::StoppedBeforeReady,
                }));
            }
            match inner.life.state() {
                State::Running if inner.life.run() == run => Some(Ok(())),
                State::Stopping if inner.life.run() == run => Some(Err(Error::StoppedBeforeReady)),
                _ => None,
            }
        })
        .await
    }

    /// A caller wants the runner stopped: moves it to `Stopping` and hands out the signal.
    pub(crate) fn request_stop(&self) -> StopRequest<S> {
        self.transition(|inner| match inner.life.stop() {
            Stop::Idle => StopRequest::Idle,
            Stop::Signal { run } => {
                inner.running_since = None;
                StopRequest::Signal {
                    run,
                    signal: inner.signal.take(),
                }
            }
            Stop::Wait { run } => StopRequest::Wait { run },
        })
    }

    /// The whole `stop` protocol: requests the stop, hands the signal of the run to `fire` (once,
    /// to the caller that moved the run to `Stopping`), and waits for the run to finish.
    ///
    /// Cancel-safe: once the first poll has requested the stop, the run finishes without this
    /// future, and a later call waits for the same run.
    pub(crate) async fn stop(&self, fire: impl FnOnce(u64, S)) -> Result<(), Error> {
        match self.request_stop() {
            StopRequest::Idle => Ok(()),
            StopRequest::Signal { run, signal } => {
                if let Some(signal) = signal {
                    fire(run, signal);
                }
                self.stop_outcome(run).await
            }
            StopRequest::Wait { run } => self.stop_outcome(run).await,
        }
    }

    /// Waits until run `run` has finished, and returns what its stop reports.
    pub(crate) async fn stop_outcome(&self, run: u64) -> Result<(), Error> {
        self.wait_until(|inner| {
            (inner.life.finished() >= run).then(|| match &inner.stopped {
                Some((r, result)) if *r == run => result.clone(),
                _ => Ok(()),
            })
        })
        .await
    }

    /// The start function of run `run` returned or panicked. Returns how the run came to end,
    /// and takes the run's signal so the caller can fire it for anything the function spawned.
    pub(crate) fn exited(&self, run: u64) -> (Exited, Option<S>) {
        self.transition(|inner| {
            let exited = inner.life.exited(run);
            inner.running_since = None;
            (exited, inner.signal.take())
        })
    }

    /// Run `run` is over: records its errors and exit, and publishes `Stopped` or `Failed`.
    /// Returns the exit and the new state, or `None` if `run` was not the run stopping.
    pub(crate) fn finish(&self, run: u64, report: RunReport) -> Option<(Exit, State)> {
        self.transition(|inner| {
            let requested = inner.life.stop_requested();
            let work_failed = !matches!(report.work, WorkOutcome::Returned);
            if inner.life.finish(run, work_failed) == Applied::Ignored {
                return None;
            }
            let (exit, ended) = match report.work {
                WorkOutcome::Returned if requested => (Exit::Stopped, Error::StoppedBeforeReady),
                WorkOutcome::Returned => (Exit::Completed, Error::EndedBeforeReady),
                WorkOutcome::Failed(error) => {
                    let recorded = inner.errors.record(error);
                    (Exit::Failed(recorded.clone()), (*recorded).clone())
                }
                WorkOutcome::Panicked(panicked) => {
                    let error = Error::StartPanicked(panicked.clone());
                    inner.errors.record(error.clone());
                    (Exit::Panicked(panicked), error)
                }
            };
            let hook_error = report.stop_hook.err().map(|e| inner.errors.record(e));
            let stop_result = match (report.aborted_after, hook_error) {
                (Some(grace), stop_error) => {
                    let aborted = Error::Aborted { grace, stop_error };
                    inner.errors.record(aborted.clone());
                    Err(aborted)
                }
                (None, Some(hook_error)) => Err((*hook_error).clone()),
                (None, None) => Ok(()),
            };
            inner.signal = None;
            inner.running_since = None;
            inner.last_exit = Some(exit.clone());
            inner.ended = Some((run, ended));
            inner.stopped = Some((run, stop_result));
            Some((exit, inner.life.state()))
        })
    }

    /// When the current run became `Running`, if it is running.
    pub(crate) fn running_since(&self) -> Option<Instant> {
        let inner = self.lock();
        inner
            .running_since
            .filter(|_| inner.life.state() == State::Running)
    }

    pub(crate) fn last_exit(&self) -> Option<Exit> {
        self.lock().last_exit.clone()
    }

    pub(crate) fn errors(&self) -> Vec<StdArc<Error>> {
        self.lock().errors.to_vec()
    }

    pub(crate) fn last_error(&self) -> Option<StdArc<Error>> {
        self.lock().errors.last().cloned()
    }

    pub(crate) fn error_count(&self) -> u64 {
        self.lock().errors.total()
    }

    pub(crate) fn error_capacity(&self) -> usize {
        self.lock().errors.capacity()
    }

    /// How many futures are registered for the next change (for tests: nothing leaks).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.lock().waiters.len()
    }
}

/// Future returned by [`Control::changed`]. Deregisters its waker when dropped.
pub(crate) struct Changed<'a, S> {
    control: &'a Control<S>,
    since: Version,
    key: Option<u64>,
}

impl<S> Future for Changed<'_, S> {
    type Output = Snapshot;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Snapshot> {
        let this = self.get_mut();
        let mut inner = lock(&this.control.inner);
        let now = inner.life.snapshot();
        if now.version != this.since {
            if let Some(key) = this.key.take() {
                inner.waiters.remove(key);
            }
            return Poll::Ready(now);
        }
        inner.waiters.register(&mut this.key, cx.waker());
        Poll::Pending
    }
}

impl<S> Drop for Changed<'_, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.control.inner).waiters.remove(key);
        }
    }
}

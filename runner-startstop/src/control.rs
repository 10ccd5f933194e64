//! [`Control`]: the shared control plane of one runner. The lifecycle, the error log and the
//! record of the last run live under one lock, and every state change wakes the waiters.
//!
//! Cancellation of a run goes through here too: the start function waits on the control plane
//! ([`Control::poll_cancelled`]), and a `CancellationToken` is made only if it asks for one.
//! Generic over that signal `S` (the token in the runner, a unit in the loom models), and free of
//! tokio and clocks, so loom checks exactly this code.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use runner_core::{ErrorLog, Exit, Panicked, Snapshot, State, Version, WaitList};

use crate::error::Error;
use crate::lifecycle::{Applied, Exited, Lifecycle, ReadyWhen, Start, Stop};
use crate::sync::{Mutex, MutexGuard, lock};

pub(crate) struct Control<S> {
    inner: Mutex<Inner<S>>,
}

/// A stop signal handed out to the start function on request: fired when its run is asked to
/// stop or ends.
pub(crate) trait Signal: Clone {
    fn fire(&self);
}

pub(crate) struct Inner<S> {
    life: Lifecycle,
    /// The stop signal of the current run, if the start function asked for one, until it is
    /// taken to be fired.
    signal: Option<S>,
    /// When the current run became `Running`.
    running_since: Option<Instant>,
    errors: ErrorLog<Error>,
    /// How the last finished run ended; boxed (and the box reused) so an idle runner does not
    /// carry it inline.
    last: Option<Box<RunRecord>>,
    waiters: WaitList,
}

/// How a finished run ended, as `start`, `stop` and `last_exit` report it.
struct RunRecord {
    run: u64,
    exit: Exit,
    /// What `start` reports if the run never got ready; `None` if it did.
    start_error: Option<Error>,
    /// What `stop` reports.
    stop_result: Result<(), Error>,
}

/// What a `start` call must do, decided by [`Control::begin_start`].
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Begin {
    /// Already running.
    AlreadyRunning,
    /// Spawn run `run`.
    Spawn { run: u64 },
}

/// How the start function of a run ended.
pub(crate) enum WorkOutcome {
    /// It returned `Ok(())`.
    Returned,
    /// It returned an error.
    Failed(Error),
    /// It panicked.
    Panicked(Panicked),
    /// It outlived its grace period after the stop function and was dropped.
    Aborted(Duration),
}

impl fmt::Display for WorkOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkOutcome::Returned => f.write_str("returned"),
            WorkOutcome::Failed(error) => write!(f, "failed: {error}"),
            WorkOutcome::Panicked(panicked) => fmt::Display::fmt(panicked, f),
            WorkOutcome::Aborted(grace) => write!(f, "aborted after {grace:?}"),
        }
    }
}

impl<S> Control<S> {
    pub(crate) fn new(error_capacity: usize) -> Self {
        Control {
            inner: Mutex::new(Inner {
                life: Lifecycle::new(),
                signal: None,
                running_since: None,
                errors: ErrorLog::new(error_capacity),
                last: None,
                waiters: WaitList::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        lock(&self.inner)
    }

    /// Runs `f` under the lock; if the state changed, wakes every waiter after unlocking.
    fn transition<T>(&self, f: impl FnOnce(&mut Inner<S>) -> T) -> T {
        let mut inner = self.lock();
        let before = inner.life.version();
        let out = f(&mut inner);
        if inner.life.version() == before || inner.waiters.is_empty() {
            return out;
        }
        let wakers = inner.waiters.take();
        drop(inner);
        wakers.wake_all();
        out
    }

    /// Resolves with the first `Some` that `check` returns, checking now and after every state
    /// change, under the same lock that registers the waker: no change can slip in between.
    fn until<T, F>(&self, check: F) -> Until<'_, S, F>
    where
        F: FnMut(&Inner<S>) -> Option<T> + Unpin,
    {
        Until {
            control: self,
            check,
            key: None,
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        self.lock().life.snapshot()
    }

    /// Resolves once the version differs from `since`.
    pub(crate) fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + '_ {
        self.until(move |inner| (inner.life.version() != since).then(|| inner.life.snapshot()))
    }

    /// The `start` protocol up to spawning: waits out a start or stop in progress, then either
    /// finds the runner running or begins a run.
    pub(crate) async fn begin_start(&self, when: ReadyWhen, now: impl Fn() -> Instant) -> Begin {
        loop {
            let waiting = self.transition(|inner| match inner.life.start(when) {
                Start::AlreadyRunning => Err(Begin::AlreadyRunning),
                Start::Begin { run } => {
                    if inner.life.state() == State::Running {
                        inner.running_since = Some(now());
                    }
                    Err(Begin::Spawn { run })
                }
                Start::Wait => Ok(inner.life.version()),
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

    /// What a `start` waiting for readiness reports: `Ok` once run `run` has been running;
    /// otherwise, once it has finished, the error it ended with.
    pub(crate) fn ready_outcome(&self, run: u64) -> impl Future<Output = Result<(), Error>> + '_ {
        self.until(move |inner| {
            if inner.life.run() == run && inner.life.reached_running() {
                return Some(Ok(()));
            }
            (inner.life.finished() >= run).then(|| match &inner.last {
                Some(record) if record.run == run => match &record.start_error {
                    Some(error) => Err(error.clone()),
                    None => Ok(()),
                },
                _ => Err(Error::StoppedBeforeReady),
            })
        })
    }

    /// The whole `stop` protocol: requests the stop (telling `requested` which run, once, if this
    /// call is the one that moved it to `Stopping`), fires its signal, and waits for the run to
    /// finish.
    ///
    /// Cancel-safe: once the first poll has requested the stop, the run finishes without this
    /// future, and a later call waits for the same run.
    pub(crate) async fn stop(&self, requested: impl FnOnce(u64)) -> Result<(), Error>
    where
        S: Signal,
    {
        let request = self.transition(|inner| match inner.life.stop() {
            Stop::Idle => None,
            Stop::Signal { run } => {
                inner.running_since = None;
                Some((run, Some(inner.signal.take())))
            }
            Stop::Wait { run } => Some((run, None)),
        });
        let Some((run, signalled)) = request else {
            return Ok(());
        };
        if let Some(signal) = signalled {
            requested(run);
            if let Some(signal) = signal {
                signal.fire();
            }
        }
        self.until(move |inner| {
            (inner.life.finished() >= run).then(|| match &inner.last {
                Some(record) if record.run == run => record.stop_result.clone(),
                _ => Ok(()),
            })
        })
        .await
    }

    /// Checks `check` and, if it says not yet, registers the task's waker under `key`, in one
    /// critical section: the building block of every wait, also for futures that cannot borrow
    /// the control plane (the driver task owns its `Arc`). Whoever stops waiting before `Ready`
    /// must [`forget`](Self::forget) the key.
    pub(crate) fn poll_until<T>(
        &self,
        key: &mut Option<u64>,
        cx: &mut Context<'_>,
        check: impl FnOnce(&Inner<S>) -> Option<T>,
    ) -> Poll<T> {
        let mut inner = self.lock();
        if let Some(out) = check(&inner) {
            if let Some(key) = key.take() {
                inner.waiters.remove(key);
            }
            return Poll::Ready(out);
        }
        inner.waiters.register(key, cx.waker());
        Poll::Pending
    }

    /// Drops the waker registered under `key` by [`poll_until`](Self::poll_until).
    pub(crate) fn forget(&self, key: &mut Option<u64>) {
        if let Some(key) = key.take() {
            self.lock().waiters.remove(key);
        }
    }

    /// Whether run `run` is no longer wanted: asked to stop, ending by itself, or over.
    fn cancelled(inner: &Inner<S>, run: u64) -> bool {
        inner.life.run() != run || !matches!(inner.life.state(), State::Starting | State::Running)
    }

    /// What `RunContext::is_cancelled` reports.
    pub(crate) fn is_cancelled(&self, run: u64) -> bool {
        Self::cancelled(&self.lock(), run)
    }

    /// What `RunContext::cancelled` waits for.
    pub(crate) fn poll_cancelled(
        &self,
        run: u64,
        key: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.poll_until(key, cx, |inner| Self::cancelled(inner, run).then_some(()))
    }

    /// The stop signal of run `run`, made by `new` on first request and shared after that; fired
    /// already if the run is no longer wanted.
    pub(crate) fn signal(&self, run: u64, new: impl FnOnce() -> S) -> S
    where
        S: Signal,
    {
        let mut inner = self.lock();
        if Self::cancelled(&inner, run) {
            drop(inner);
            let signal = new();
            signal.fire();
            return signal;
        }
        inner.signal.get_or_insert_with(new).clone()
    }

    /// Ready once a caller has asked run `run` to stop: what its driver waits for.
    pub(crate) fn poll_stop_requested(
        &self,
        run: u64,
        key: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.poll_until(key, cx, |inner| {
            (inner.life.run() != run || inner.life.stop_requested()).then_some(())
        })
    }

    /// The start function of run `run` returned or panicked: returns how the run came to end,
    /// and fires the run's signal for anything the function spawned with it. The driver stops
    /// waiting for a stop request: its waker under `stop_key` is dropped too.
    pub(crate) fn exited(&self, run: u64, stop_key: &mut Option<u64>) -> Exited
    where
        S: Signal,
    {
        let (exited, signal) = self.transition(|inner| {
            if let Some(key) = stop_key.take() {
                inner.waiters.remove(key);
            }
            let exited = inner.life.exited(run);
            inner.running_since = None;
            (exited, inner.signal.take())
        });
        if let Some(signal) = signal {
            signal.fire();
        }
        exited
    }

    /// Run `run` is over: records its errors, in the order they happened, and its exit, and
    /// publishes `Stopped` or `Failed`. Returns the exit and the new state, or `None` if `run`
    /// was not the run stopping.
    pub(crate) fn finish(
        &self,
        run: u64,
        work: WorkOutcome,
        stop_hook: Result<(), Error>,
    ) -> Option<(Exit, State)> {
        self.transition(|inner| {
            let requested = inner.life.stop_requested();
            let ready = inner.life.reached_running();
            let work_failed = !matches!(work, WorkOutcome::Returned);
            let aborted_after = match work {
                WorkOutcome::Aborted(grace) => Some(grace),
                _ => None,
            };
            if inner.life.finish(run, work_failed) == Applied::Ignored {
                return None;
            }
            let errors = &mut inner.errors;

            // 1. How the start function ended; its failure is recorded first, as it came first.
            let (mut exit, failure) = match work {
                WorkOutcome::Returned | WorkOutcome::Aborted(_) if requested => {
                    (Exit::Stopped, None)
                }
                WorkOutcome::Returned | WorkOutcome::Aborted(_) => (Exit::Completed, None),
                WorkOutcome::Failed(error) => {
                    let recorded = errors.record(error);
                    (Exit::Failed(recorded.clone()), Some(recorded))
                }
                WorkOutcome::Panicked(panicked) => {
                    let recorded = errors.record(Error::StartPanicked(panicked.clone()));
                    (Exit::Panicked(panicked), Some(recorded))
                }
            };

            // 2. What a `start` waiting for readiness reports, if the run never got ready: its
            //    failure, or why it ended without one (recorded, like every error `start` returns).
            let start_error = (!ready).then(|| match failure {
                Some(failure) => (*failure).clone(),
                None if requested => (*errors.record(Error::StoppedBeforeReady)).clone(),
                None => (*errors.record(Error::EndedBeforeReady)).clone(),
            });

            // 3. What `stop` reports: the stop function's error, then the abort that carries it.
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

            inner.signal = None;
            inner.running_since = None;
            let record = RunRecord {
                run,
                exit: exit.clone(),
                start_error,
                stop_result,
            };
            match &mut inner.last {
                Some(last) => **last = record,
                None => inner.last = Some(Box::new(record)),
            }
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
        self.lock().last.as_ref().map(|record| record.exit.clone())
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

/// Future returned by [`Control::until`]. Deregisters its waker when dropped.
pub(crate) struct Until<'a, S, F> {
    control: &'a Control<S>,
    check: F,
    key: Option<u64>,
}

impl<S, T, F> Future for Until<'_, S, F>
where
    F: FnMut(&Inner<S>) -> Option<T> + Unpin,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        this.control.poll_until(&mut this.key, cx, &mut this.check)
    }
}

impl<S, F> Drop for Until<'_, S, F> {
    fn drop(&mut self) {
        self.control.forget(&mut self.key);
    }
}

/// The loom models and unit tests need no real signal.
#[cfg(test)]
impl Signal for () {
    fn fire(&self) {}
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use core::pin::pin;
    use core::task::Waker;

    use super::*;

    #[test]
    fn a_dropped_waiter_leaves_nothing_behind() {
        let control = Control::<()>::new(1);
        let since = control.snapshot().version;
        for _ in 0..3 {
            let mut changed = pin!(control.changed(since));
            let cx = &mut Context::from_waker(Waker::noop());
            assert!(changed.as_mut().poll(cx).is_pending());
            assert!(changed.as_mut().poll(cx).is_pending(), "polled again");
            assert_eq!(
                control.waiting(),
                1,
                "one key per future, however often polled"
            );
        }
        assert_eq!(control.waiting(), 0);
    }

    #[test]
    fn a_change_wakes_and_resolves_a_waiter() {
        let control = Control::<()>::new(1);
        let since = control.snapshot().version;
        let mut changed = pin!(control.changed(since));
        let cx = &mut Context::from_waker(Waker::noop());
        assert!(changed.as_mut().poll(cx).is_pending());
        let t0 = Instant::now();
        let begun = poll_ready_now(control.begin_start(ReadyWhen::Spawned, || t0));
        assert_eq!(begun, Begin::Spawn { run: 1 });
        assert_eq!(control.waiting(), 0, "the change took every waker");
        match changed.as_mut().poll(cx) {
            Poll::Ready(seen) => assert_eq!(seen.state, State::Running),
            Poll::Pending => panic!("still pending after a change"),
        }
    }

    /// `begin_start` on a stopped runner completes in its first poll.
    fn poll_ready_now<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("expected to complete in one poll"),
        }
    }
}

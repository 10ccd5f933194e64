//! [`Control`]: the control plane of one runner. The state machine, the run bookkeeping, the
//! error log, the cancellation token and the waiters live under one lock, with room for the
//! runner's own state beside them; every change of version wakes every waiter.
//!
//! Free of tokio's runtime and of clocks (callers pass the time in), and built on the
//! [`sync`](crate::sync) facade, so loom checks exactly this code.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::Arc as StdArc;
use std::time::Instant;

use runner_core::{ErrorLog, Exit, SharedError, Snapshot, State, Version};
use tokio_util::sync::CancellationToken;

use crate::fault::Fault;
use crate::machine::{Applied, Exited, Machine, ReadyWhen, Start, Stop};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Mutex, MutexGuard, lock};
use crate::wait_list::WaitList;

/// The control plane of one runner: what its `start`, `stop`, status queries and run tasks share.
///
/// `E` is the type of the errors the runner records; `X` is the runner's own state, kept under
/// the same lock so that one critical section covers both (a ticker's statistics and health
/// gauge, for example).
///
/// The protocols, in the order a run sees them:
///
/// 1. `start`: [`begin_start`](Control::begin_start) waits out a start or stop in progress and
///    begins a run (or finds one running); the caller spawns the run's task (see
///    [`spawn`](crate::task::spawn)); with [`ReadyWhen::Signalled`] it awaits
///    [`ready_outcome`](Control::ready_outcome).
/// 2. The run's task watches [`poll_stop`](Control::poll_stop) (an atomic load per poll, no
///    lock), reports the end of its work with
///    [`exited`](Control::exited) and the end of the run with [`finish`](Control::finish). If the
///    task dies instead, [`fault`](Control::fault) ends the run for it.
/// 3. `stop`: [`stop`](Control::stop) requests the stop, fires the run's token and waits for the
///    run to finish. Cancel-safe: the run finishes without the caller.
///
/// # Examples
///
/// A whole run, driven by hand:
///
/// ```
/// use std::time::Instant;
/// use runner_core::{Exit, State};
/// use runner_lifecycle::control::{Begin, Control, Report};
/// use runner_lifecycle::{Fault, ReadyWhen};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let control: Control<Fault> = Control::new(8, ());
/// let Begin::Spawn { run, .. } = control.begin_start(ReadyWhen::Spawned, Instant::now).await else {
///     unreachable!("a new runner starts");
/// };
/// assert_eq!(control.snapshot().state, State::Running);
///
/// // The run's work returned by itself; its task reports the run over.
/// let _ = control.exited(run);
/// control.finish(run, |_facts, _errors, _own| Report::ok(Exit::Completed));
/// assert_eq!(control.snapshot().state, State::Stopped);
/// assert!(control.stop(|_| {}).await.is_ok()); // nothing to stop
/// # }
/// ```
#[repr(C)] // the stop hint first: a runner may lay its own hot fields out right before it
pub struct Control<E, X = ()> {
    /// The last run a caller asked to stop (0: none yet). Written under the lock, read without
    /// it by the run's task on every poll: while it is not the task's run, nothing changed.
    stop_hint: AtomicU64,
    inner: Mutex<Inner<E, X>>,
}

struct Inner<E, X> {
    machine: Machine,
    /// The waker of the current run's task, woken when the run is asked to stop: kept apart from
    /// the waiters, so that other changes neither wake the task nor make it register again.
    driver: Option<Waker>,
    /// The current run's cancellation token, if its work asked for one, until it is fired.
    token: Option<CancellationToken>,
    /// When the current run became `Running`.
    running_since: Option<Instant>,
    errors: ErrorLog<E>,
    /// How the last finished run ended; boxed (and the box reused) so an idle runner does not
    /// carry it inline.
    last: Option<Box<Record<E>>>,
    waiters: WaitList,
    ext: X,
}

/// What [`Control::begin_start`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Begin {
    /// Already running: `start` is a no-op.
    AlreadyRunning,
    /// Run `run` began at `at`: spawn its task.
    Spawn {
        /// The new run's number.
        run: u64,
        /// When it began (the `now` given to `begin_start`).
        at: Instant,
    },
}

/// How a finished run ended, as `start`, `stop` and `last_exit` report it: what the closure given
/// to [`Control::finish`] returns.
#[derive(Debug)]
pub struct Report<E> {
    /// How the run ended. A failure ([`Exit::is_failure`]) of a run nobody asked to stop leaves
    /// the runner `Failed`; anything else leaves it `Stopped`.
    pub exit: Exit,
    /// What a `start` waiting for readiness reports if the run never got ready (`None`: it was
    /// stopped before it was ready). Ignored if it got ready.
    pub start_error: Option<E>,
    /// What `stop` reports.
    pub stop_result: Result<(), E>,
}

impl<E> Report<E> {
    /// A run that ended as `exit`, with nothing to report to `start` or `stop`.
    #[must_use]
    pub fn ok(exit: Exit) -> Self {
        Report {
            exit,
            start_error: None,
            stop_result: Ok(()),
        }
    }
}

/// What the closure given to [`Control::finish`] knows about the run.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Facts {
    /// A caller asked the run to stop (it did not end by itself).
    pub stop_requested: bool,
    /// The run got as far as `Running` (it was ready, in readiness mode).
    pub reached_running: bool,
}

/// The runner's own part of the state, and the error log, as [`Control::update`] lends them.
#[derive(Debug)]
pub struct Parts<'a, E, X> {
    /// The runner's own state.
    pub ext: &'a mut X,
    /// The error log.
    pub errors: &'a mut ErrorLog<E>,
    machine: &'a mut Machine,
}

impl<E, X> Parts<'_, E, X> {
    /// Something watchers should learn changed (health, readiness): the version grows and every
    /// waiter wakes once the lock is released.
    pub fn touch(&mut self) {
        self.machine.touch();
    }

    /// The state and its version.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        self.machine.snapshot()
    }

    /// Whether run `run` is still wanted: the current run, starting or running.
    #[must_use]
    pub fn is_live(&self, run: u64) -> bool {
        self.machine.is_live(run)
    }
}

#[derive(Debug)]
struct Record<E> {
    run: u64,
    /// Whether the run got as far as `Running`.
    reached_running: bool,
    report: Report<E>,
}

impl<E, X> Control<E, X> {
    /// A control plane for a runner that has never run, keeping at most `error_capacity` errors.
    pub fn new(error_capacity: usize, ext: X) -> Self {
        Control {
            stop_hint: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                machine: Machine::new(),
                driver: None,
                token: None,
                running_since: None,
                errors: ErrorLog::new(error_capacity),
                last: None,
                waiters: WaitList::default(),
                ext,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<E, X>> {
        lock(&self.inner)
    }

    /// Runs `f` under the lock; if the version changed, wakes every waiter after unlocking.
    fn transition<T>(&self, f: impl FnOnce(&mut Inner<E, X>) -> T) -> T {
        let mut inner = self.lock();
        let before = inner.machine.version();
        let out = f(&mut inner);
        if inner.machine.version() == before || inner.waiters.is_empty() {
            return out;
        }
        let wakers = inner.waiters.take();
        drop(inner);
        wakers.wake_all();
        out
    }

    /// Resolves with the first `Some` that `check` returns, checking now and after every change,
    /// under the same lock that registers the waker: no change can slip in between.
    fn until<T, F>(&self, check: F) -> Until<'_, E, X, F>
    where
        F: FnMut(&Inner<E, X>) -> Option<T> + Unpin,
    {
        Until {
            control: self,
            check,
            key: None,
        }
    }

    /// The state and its version.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().machine.snapshot()
    }

    /// Resolves once the version differs from `since`: what `Status::changed` returns.
    pub fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send + '_
    where
        E: Send + Sync,
        X: Send,
    {
        self.until(move |inner| {
            (inner.machine.version() != since).then(|| inner.machine.snapshot())
        })
    }

    /// The `start` protocol up to spawning: waits out a start or stop in progress, then either
    /// finds the runner running or begins a run at `now()`.
    pub async fn begin_start(&self, when: ReadyWhen, now: impl Fn() -> Instant) -> Begin {
        loop {
            let waiting = self.transition(|inner| match inner.machine.start(when) {
                Start::AlreadyRunning => Err(Begin::AlreadyRunning),
                Start::Begin { run } => {
                    let at = now();
                    if inner.machine.state() == State::Running {
                        inner.running_since = Some(at);
                    }
                    Err(Begin::Spawn { run, at })
                }
                Start::Wait => Ok(inner.machine.version()),
            });
            match waiting {
                Err(begin) => return begin,
                Ok(version) => {
                    self.until(move |inner| (inner.machine.version() != version).then_some(()))
                        .await;
                }
            }
        }
    }

    /// Records `error` (a start refused before anything began) and returns it, for `start` to
    /// return: every error `start` returns is in the history.
    pub fn refuse_start(&self, error: E) -> E
    where
        E: Clone,
    {
        (*self.lock().errors.record(error)).clone()
    }

    /// Run `run` says it is ready at `now`. Returns `true` if that made it `Running`.
    pub fn ready(&self, run: u64, now: Instant) -> bool {
        self.transition(|inner| match inner.machine.ready(run) {
            Applied::Done => {
                inner.running_since = Some(now);
                true
            }
            Applied::Ignored => false,
        })
    }

    /// What a `start` waiting for readiness reports: `Ok` once run `run` has been running;
    /// otherwise, once it has finished, the error it ended with (`Err(None)` if a newer run has
    /// finished since, so its report is gone: it was stopped before it was ready).
    pub fn ready_outcome(&self, run: u64) -> impl Future<Output = Result<(), Option<E>>> + '_
    where
        E: Clone,
    {
        self.until(move |inner| {
            if inner.machine.run() == run && inner.machine.reached_running() {
                return Some(Ok(()));
            }
            (inner.machine.finished() >= run).then(|| match &inner.last {
                Some(record) if record.run == run && record.reached_running => Ok(()),
                Some(record) if record.run == run => Err(record.report.start_error.clone()),
                _ => Err(None),
            })
        })
    }

    /// The whole `stop` protocol: requests the stop (telling `requested` which run, once, if this
    /// call is the one that moved it to `Stopping`), fires its token, and waits for the run to
    /// finish; returns what the run reported for `stop`. A runner backing off is stopped at once.
    ///
    /// Cancel-safe: once the first poll has requested the stop, the run finishes without this
    /// future, and a later call waits for the same run.
    pub async fn stop(&self, requested: impl FnOnce(u64)) -> Result<(), E>
    where
        E: Clone,
    {
        let request = self.transition(|inner| match inner.machine.stop() {
            Stop::Idle | Stop::Cancelled => None,
            Stop::Signal { run } => {
                inner.running_since = None;
                self.stop_hint.store(run, Ordering::Release);
                Some((run, Some((inner.token.take(), inner.driver.take()))))
            }
            Stop::Wait { run } => Some((run, None)),
        });
        let Some((run, signalled)) = request else {
            return Ok(());
        };
        if let Some((token, driver)) = signalled {
            requested(run);
            if let Some(token) = token {
                token.cancel();
            }
            if let Some(driver) = driver {
                driver.wake();
            }
        }
        self.until(move |inner| {
            (inner.machine.finished() >= run).then(|| match &inner.last {
                Some(record) if record.run == run => record.report.stop_result.clone(),
                _ => Ok(()),
            })
        })
        .await
    }

    /// Checks `check` and, if it says not yet, registers the task's waker under `key`, in one
    /// critical section. Whoever stops waiting before `Ready` must [`forget`](Self::forget) the
    /// key.
    fn poll_until<T>(
        &self,
        key: &mut Option<u64>,
        cx: &mut Context<'_>,
        check: impl FnOnce(&Inner<E, X>) -> Option<T>,
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

    /// Drops the waker a `poll_*` method registered under `key`: call it when a task stops
    /// waiting before the wait is over (a dropped future).
    pub fn forget(&self, key: &mut Option<u64>) {
        if let Some(key) = key.take() {
            self.lock().waiters.remove(key);
        }
    }

    /// Whether run `run` is no longer wanted: asked to stop, ending by itself, or over.
    pub fn is_cancelled(&self, run: u64) -> bool {
        !self.lock().machine.is_live(run)
    }

    /// Ready once run `run` is no longer wanted (see [`is_cancelled`](Self::is_cancelled)); the
    /// waker is registered under `key` until then. What `RunContext::cancelled` waits for.
    pub fn poll_cancelled(
        &self,
        run: u64,
        key: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.poll_until(key, cx, |inner| (!inner.machine.is_live(run)).then_some(()))
    }

    /// Ready once a caller has asked run `run` to stop (not when it ends by itself): what a run's
    /// own task checks on every poll. Costs one atomic load while nothing changed and the task's
    /// waker is the one registered: `registered` is the task's copy of the waker the control
    /// plane holds for it (start with `None`); the lock is taken only to register a new waker.
    /// The stop wakes that waker; other changes do not.
    pub fn poll_stop(
        &self,
        run: u64,
        registered: &mut Option<Waker>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if self.stop_hint.load(Ordering::Acquire) == run {
            return Poll::Ready(());
        }
        if registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let mut inner = self.lock();
        if inner.machine.run() != run || inner.machine.stop_requested() {
            return Poll::Ready(());
        }
        let waker = cx.waker().clone();
        inner.driver = Some(waker.clone());
        *registered = Some(waker);
        Poll::Pending
    }

    /// The cancellation token of run `run`: made on the first request and shared after that,
    /// cancelled when the run is asked to stop or its work ends; already cancelled if the run is
    /// no longer wanted.
    pub fn token(&self, run: u64) -> CancellationToken {
        let mut inner = self.lock();
        if !inner.machine.is_live(run) {
            drop(inner);
            let token = CancellationToken::new();
            token.cancel();
            return token;
        }
        inner
            .token
            .get_or_insert_with(CancellationToken::new)
            .clone()
    }

    /// The work of run `run` returned or panicked: returns how the run came to end, and cancels
    /// the run's token for anything the work spawned with it. The run's task is no longer woken
    /// by a stop request.
    pub fn exited(&self, run: u64) -> Exited {
        let (exited, token) = self.transition(|inner| {
            let exited = inner.machine.exited(run);
            inner.running_since = None;
            inner.driver = None;
            (exited, inner.token.take())
        });
        if let Some(token) = token {
            token.cancel();
        }
        exited
    }

    /// Run `run` is over: `report` records its errors, in the order they happened, tidies the
    /// runner's own state, and says how the run ended; the runner becomes `Stopped` or `Failed`.
    /// Returns the exit and the new state, or `None` (and `report` is not called) if `run` was not
    /// the run stopping.
    pub fn finish(
        &self,
        run: u64,
        report: impl FnOnce(Facts, &mut ErrorLog<E>, &mut X) -> Report<E>,
    ) -> Option<(Exit, State)> {
        let (finished, token) = self.transition(|inner| {
            if inner.machine.run() != run || inner.machine.state() != State::Stopping {
                return (None, None);
            }
            let facts = Facts {
                stop_requested: inner.machine.stop_requested(),
                reached_running: inner.machine.reached_running(),
            };
            let report = report(facts, &mut inner.errors, &mut inner.ext);
            let failed = report.exit.is_failure();
            let _ = inner.machine.finish(run, failed);
            let exit = report.exit.clone();
            inner.running_since = None;
            inner.driver = None;
            let record = Record {
                run,
                reached_running: facts.reached_running,
                report,
            };
            match &mut inner.last {
                Some(last) => **last = record,
                None => inner.last = Some(Box::new(record)),
            }
            (Some((exit, inner.machine.state())), inner.token.take())
        });
        if let Some(token) = token {
            token.cancel();
        }
        finished
    }

    /// The task of run `run` died without finishing it (`fault` says how): records the fault
    /// and ends the run as a failure, so nothing waits for it for ever. `stop` and a `start`
    /// waiting for readiness return the fault. Returns the exit and the new state, or `None` if
    /// the run was over already.
    pub fn fault(&self, run: u64, fault: Fault) -> Option<(Exit, State)>
    where
        E: From<Fault> + Clone + std::error::Error + Send + Sync + 'static,
    {
        let (ended, token) = self.transition(|inner| {
            if inner.machine.run() != run || inner.machine.finished() >= run {
                return (None, None);
            }
            let _ = inner.machine.exited(run);
            let error = inner.errors.record(E::from(fault));
            let reached = inner.machine.reached_running();
            let report = Report {
                exit: Exit::Failed(error.clone() as SharedError),
                start_error: (!reached).then(|| (*error).clone()),
                stop_result: Err((*error).clone()),
            };
            let _ = inner.machine.finish(run, true);
            inner.running_since = None;
            inner.driver = None;
            let exit = report.exit.clone();
            inner.last = Some(Box::new(Record {
                run,
                reached_running: reached,
                report,
            }));
            (Some((exit, inner.machine.state())), inner.token.take())
        });
        if let Some(token) = token {
            token.cancel();
        }
        ended
    }

    /// After run `run` ended by itself, the runner waits before starting itself again: it is
    /// `BackingOff` from here until [`retry`](Self::retry) or a `stop`. Returns `false` if the run
    /// did not end by itself or a caller has moved on.
    pub fn back_off(&self, run: u64) -> bool {
        self.transition(|inner| inner.machine.back_off(run) == Applied::Done)
    }

    /// The back-off after run `after` is over, at `now`: begins the next run and returns its
    /// number, for the caller to spawn; `None` if a caller stopped or started the runner
    /// meanwhile.
    pub fn retry(&self, after: u64, when: ReadyWhen, now: Instant) -> Option<u64> {
        self.transition(|inner| {
            let run = inner.machine.retry(after, when)?;
            if inner.machine.state() == State::Running {
                inner.running_since = Some(now);
            }
            Some(run)
        })
    }

    /// Runs `f` on the runner's own state and the error log, under the lock; if it
    /// [touched](Parts::touch) the version, wakes every waiter after unlocking.
    pub fn update<T>(&self, f: impl FnOnce(&mut Parts<'_, E, X>) -> T) -> T {
        self.transition(|inner| {
            let inner = &mut *inner;
            f(&mut Parts {
                ext: &mut inner.ext,
                errors: &mut inner.errors,
                machine: &mut inner.machine,
            })
        })
    }

    /// Reads the runner's own state, the error log and the state machine together, under the
    /// lock.
    pub fn read<T>(&self, f: impl FnOnce(&X, &ErrorLog<E>, &Machine) -> T) -> T {
        let inner = self.lock();
        f(&inner.ext, &inner.errors, &inner.machine)
    }

    /// When the current run became `Running`, if it is running.
    pub fn running_since(&self) -> Option<Instant> {
        let inner = self.lock();
        inner
            .running_since
            .filter(|_| inner.machine.state() == State::Running)
    }

    /// How the last finished run ended.
    pub fn last_exit(&self) -> Option<Exit> {
        self.lock()
            .last
            .as_ref()
            .map(|record| record.report.exit.clone())
    }

    /// The retained errors, oldest first.
    pub fn errors(&self) -> Vec<StdArc<E>> {
        self.lock().errors.to_vec()
    }

    /// The most recent retained error.
    pub fn last_error(&self) -> Option<StdArc<E>> {
        self.lock().errors.last().cloned()
    }

    /// How many errors were ever recorded.
    pub fn error_count(&self) -> u64 {
        self.lock().errors.total()
    }

    /// The most errors retained.
    pub fn error_capacity(&self) -> usize {
        self.lock().errors.capacity()
    }

    /// How many futures wait for a change: for tests, which check that nothing leaks.
    pub fn waiting(&self) -> usize {
        self.lock().waiters.len()
    }
}

impl<E, X> fmt::Debug for Control<E, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("Control")
            .field("state", &inner.machine.snapshot())
            .field("run", &inner.machine.run())
            .field("errors", &inner.errors.total())
            .field("waiting", &inner.waiters.len())
            .finish_non_exhaustive()
    }
}

/// Future returned by [`Control::until`]. Deregisters its waker when dropped.
struct Until<'a, E, X, F> {
    control: &'a Control<E, X>,
    check: F,
    key: Option<u64>,
}

impl<E, X, T, F> Future for Until<'_, E, X, F>
where
    F: FnMut(&Inner<E, X>) -> Option<T> + Unpin,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        this.control.poll_until(&mut this.key, cx, &mut this.check)
    }
}

impl<E, X, F> Drop for Until<'_, E, X, F> {
    fn drop(&mut self) {
        self.control.forget(&mut self.key);
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use core::pin::pin;
    use core::task::Waker;

    use super::*;

    fn control() -> Control<Fault> {
        Control::new(4, ())
    }

    /// Polls a future that must complete at once.
    fn now<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("expected to complete in one poll"),
        }
    }

    fn begin(control: &Control<Fault>, when: ReadyWhen) -> u64 {
        match now(control.begin_start(when, Instant::now)) {
            Begin::Spawn { run, .. } => run,
            Begin::AlreadyRunning => panic!("already running"),
        }
    }

    #[test]
    fn a_dropped_waiter_leaves_nothing_behind() {
        let control = control();
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
        let control = control();
        let since = control.snapshot().version;
        let mut changed = pin!(control.changed(since));
        let cx = &mut Context::from_waker(Waker::noop());
        assert!(changed.as_mut().poll(cx).is_pending());
        assert_eq!(begin(&control, ReadyWhen::Spawned), 1);
        assert_eq!(control.waiting(), 0, "the change took every waker");
        match changed.as_mut().poll(cx) {
            Poll::Ready(seen) => assert_eq!(seen.state, State::Running),
            Poll::Pending => panic!("still pending after a change"),
        }
    }

    #[test]
    fn a_touch_wakes_watchers_without_a_state_change() {
        let control = control();
        let before = control.snapshot();
        let mut changed = pin!(control.changed(before.version));
        let cx = &mut Context::from_waker(Waker::noop());
        assert!(changed.as_mut().poll(cx).is_pending());
        control.update(|parts| parts.touch());
        match changed.as_mut().poll(cx) {
            Poll::Ready(seen) => {
                assert_eq!(seen.state, before.state);
                assert!(seen.version > before.version);
            }
            Poll::Pending => panic!("a touch did not wake the watcher"),
        }
    }

    #[test]
    fn a_fault_ends_the_run_as_failed_and_records_it() {
        let control = control();
        let run = begin(&control, ReadyWhen::Spawned);
        let (exit, state) = control
            .fault(run, Fault::Abandoned)
            .expect("the run was live");
        assert_eq!(state, State::Failed);
        assert!(exit.is_failure());
        assert_eq!(control.error_count(), 1);
        assert!(control.fault(run, Fault::Abandoned).is_none(), "once only");
        assert!(now(control.stop(|_| {})).is_ok(), "nothing left to stop");
    }

    #[test]
    fn a_fault_while_stopping_is_what_stop_returns() {
        let control = control();
        let run = begin(&control, ReadyWhen::Spawned);
        let mut stop = pin!(control.stop(|_| {}));
        let cx = &mut Context::from_waker(Waker::noop());
        assert!(stop.as_mut().poll(cx).is_pending());
        let (_, state) = control
            .fault(run, Fault::Abandoned)
            .expect("the run was stopping");
        assert_eq!(
            state,
            State::Stopped,
            "a stop was requested: no failure to keep"
        );
        match stop.as_mut().poll(cx) {
            Poll::Ready(Err(Fault::Abandoned)) => {}
            other => panic!("stop returned {other:?}"),
        }
    }

    #[test]
    fn a_fault_before_ready_is_what_start_returns() {
        let control = control();
        let run = begin(&control, ReadyWhen::Signalled);
        let _ = control.fault(run, Fault::NoRuntime);
        assert_eq!(now(control.ready_outcome(run)), Err(Some(Fault::NoRuntime)));
    }

    #[test]
    fn stop_cancels_a_back_off() {
        let control = control();
        let run = begin(&control, ReadyWhen::Spawned);
        let _ = control.exited(run);
        let _ = control.finish(run, |_, _, _| Report::ok(Exit::Completed));
        assert!(control.back_off(run));
        assert_eq!(control.snapshot().state, State::BackingOff);
        assert!(now(control.stop(|_| {})).is_ok());
        assert_eq!(control.snapshot().state, State::Stopped);
        assert_eq!(control.retry(run, ReadyWhen::Spawned, Instant::now()), None);
    }
}

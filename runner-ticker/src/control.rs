//! [`Control`]: the shared control plane of one ticker. The lifecycle, the error log, the
//! statistics and the health gauge live under one lock, and every state change wakes the
//! waiters.
//!
//! A run learns it should end through here too ([`Control::poll_cancelled`]); a
//! `CancellationToken` is made only if the function asks for one. Generic over that signal `S`
//! (the token in the ticker, a unit in the loom models), and free of tokio and clocks, so loom
//! checks exactly this code.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use runner_core::{ErrorLog, Exit, Health, Snapshot, State, Version, WaitList};

use crate::error::Error;
use crate::lifecycle::{Lifecycle, Start, Stop};
use crate::stats::{Flip, Gauge, RunKind, Stats};
use crate::sync::{Mutex, MutexGuard, lock};

pub(crate) struct Control<S> {
    inner: Mutex<Inner<S>>,
}

/// A stop signal handed out to the function on request: fired when its run is asked to stop.
pub(crate) trait Signal: Clone {
    fn fire(&self);
}

pub(crate) struct Inner<S> {
    life: Lifecycle,
    /// The stop signal of the current run, if the function asked for one.
    signal: Option<S>,
    /// When the current run began.
    running_since: Option<Instant>,
    errors: ErrorLog<Error>,
    stats: Stats,
    gauge: Gauge,
    /// The period in force; none for a cron schedule.
    period: Option<Duration>,
    /// A new period asked for from inside a run, and when.
    reset: Option<(Instant, Duration)>,
    last_exit: Option<Exit>,
    /// What the stop of the last finished run reports.
    stopped: Option<(u64, Result<(), Error>)>,
    waiters: WaitList,
}

/// What a `start` call must do, decided by [`Control::begin_start`].
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Begin {
    AlreadyRunning,
    /// Spawn run `run`, which began `at`.
    Spawn {
        run: u64,
        at: Instant,
    },
}

/// How one tick's run ended, as the driver reports it.
#[derive(Debug)]
pub(crate) struct RunReport {
    pub(crate) kind: RunKind,
    pub(crate) error: Option<Error>,
    pub(crate) started: Instant,
    pub(crate) took: Duration,
}

impl<S> Control<S> {
    pub(crate) fn new(error_capacity: usize, period: Option<Duration>, gauge: Gauge) -> Self {
        Control {
            inner: Mutex::new(Inner {
                life: Lifecycle::new(),
                signal: None,
                running_since: None,
                errors: ErrorLog::new(error_capacity),
                stats: Stats::default(),
                gauge,
                period,
                reset: None,
                last_exit: None,
                stopped: None,
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

    /// Checks `check` and, if it says not yet, registers the task's waker under `key`, in one
    /// critical section: the building block of every wait. Whoever stops waiting before `Ready`
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

    /// The `start` protocol up to spawning: waits out a stop in progress, then either finds the
    /// ticker running or begins a run.
    pub(crate) async fn begin_start(&self, now: impl Fn() -> Instant) -> Begin {
        loop {
            let waiting = self.transition(|inner| match inner.life.start() {
                Start::AlreadyRunning => Err(Begin::AlreadyRunning),
                Start::Begin { run } => {
                    let at = now();
                    inner.running_since = Some(at);
                    Err(Begin::Spawn { run, at })
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

    /// The whole `stop` protocol: requests the stop (telling `requested` which run, once, if this
    /// call is the one that moved it to `Stopping`), fires its signal, and waits for the run's
    /// task to end. Cancel-safe: once the first poll has requested the stop, the run ends without
    /// this future, and a later call waits for the same run.
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
            (inner.life.finished() >= run).then(|| match &inner.stopped {
                Some((r, result)) if *r == run => result.clone(),
                _ => Ok(()),
            })
        })
        .await
    }

    /// Resolves once a caller has asked run `run` to stop: what the ticker's task waits for
    /// (with [`poll_cancelled`](Self::poll_cancelled)); the loom models' tasks await this.
    #[cfg(all(test, runner_loom))]
    pub(crate) fn stop_requested(&self, run: u64) -> impl Future<Output = ()> + '_ {
        self.until(move |inner| Self::cancelled(inner, run).then_some(()))
    }

    /// Whether run `run` is no longer wanted.
    fn cancelled(inner: &Inner<S>, run: u64) -> bool {
        inner.life.run() != run || inner.life.state() != State::Running
    }

    /// What `TickContext::is_cancelled` reports.
    pub(crate) fn is_cancelled(&self, run: u64) -> bool {
        Self::cancelled(&self.lock(), run)
    }

    /// What `TickContext::cancelled` waits for.
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

    /// Records how one tick's run ended (the ticker goes on), and takes the new period asked for
    /// during the run, if any: one critical section per tick.
    pub(crate) fn record(&self, report: RunReport) -> (Flip, Option<(Instant, Duration)>) {
        let mut inner = self.lock();
        inner.stats.record(report.kind, report.started, report.took);
        if let Some(error) = report.error {
            inner.errors.record(error);
        }
        let flip = inner.gauge.record(report.kind == RunKind::Succeeded);
        (flip, inner.reset.take())
    }

    /// A new period from inside a run, at `at`: the next tick is due one new period later.
    /// Returns `false` (and changes nothing) for a cron schedule, which has no period.
    #[must_use]
    pub(crate) fn set_period(&self, at: Instant, period: Duration) -> bool {
        let mut inner = self.lock();
        if inner.period.is_none() {
            return false;
        }
        inner.period = Some(period);
        inner.reset = Some((at, period));
        true
    }

    pub(crate) fn period(&self) -> Option<Duration> {
        self.lock().period
    }

    /// Run `run`'s task has ended: publishes `Stopped`. `aborted` is the error of a run that had
    /// to be dropped at the stop's deadline; `stop` returns it.
    pub(crate) fn finish(&self, run: u64, aborted: Option<Error>) -> bool {
        self.transition(|inner| {
            if !inner.life.finish(run) {
                return false;
            }
            let (exit, result) = match aborted {
                Some(error) => {
                    let recorded = inner.errors.record(error);
                    (Exit::Failed(recorded.clone()), Err((*recorded).clone()))
                }
                None => (Exit::Stopped, Ok(())),
            };
            inner.signal = None;
            inner.running_since = None;
            // A period change the run did not get to apply belongs to the next start, as the
            // period in force; it must not fire as a reset measured from its old call.
            inner.reset = None;
            inner.last_exit = Some(exit);
            inner.stopped = Some((run, result));
            true
        })
    }

    pub(crate) fn running_since(&self) -> Option<Instant> {
        let inner = self.lock();
        inner
            .running_since
            .filter(|_| inner.life.state() == State::Running)
    }

    pub(crate) fn last_exit(&self) -> Option<Exit> {
        self.lock().last_exit.clone()
    }

    pub(crate) fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Liveness while running: the gauge's verdict, naming the last error.
    pub(crate) fn gauge_health(&self) -> Health {
        let inner = self.lock();
        let last = inner.errors.last().map(|e| e as &dyn std::fmt::Display);
        inner.gauge.health(last)
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

    /// How many futures are registered for the next change (for the loom models: nothing leaks).
    #[cfg(all(test, runner_loom))]
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

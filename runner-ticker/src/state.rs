//! [`TickState`]: the ticker's own part of the control plane, under its lock: the period in
//! force, a period change waiting for the task, and the readers waiting for a run count; and
//! [`Ticking`], the ticker's operations on it. Everything a run touches every time is in the
//! [`Ledger`](crate::ledger::Ledger) instead, without a lock.

use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use runner_lifecycle::{Control, WaitList};

use crate::error::Error;
use crate::ledger::{Ledger, Recorded};
use crate::stats::Flip;

/// The control plane of a ticker.
pub(crate) type TickControl = Control<Error, TickState>;

#[derive(Debug)]
pub(crate) struct TickState {
    /// The period in force; none for a cron schedule.
    period: Option<Duration>,
    /// A new period asked for from inside a run, and when.
    reset: Option<(Instant, Duration)>,
    /// Readers waiting for a run count (`Ticker::until_runs`).
    run_waiters: WaitList,
}

impl TickState {
    pub(crate) fn new(period: Option<Duration>) -> Self {
        TickState {
            period,
            reset: None,
            run_waiters: WaitList::default(),
        }
    }

    /// The ticker's run is over: a period change it did not get to apply belongs to the next
    /// start, as the period in force; it must not fire as a reset measured from its old call.
    pub(crate) fn forget_reset(&mut self, ledger: &Ledger) {
        self.reset = None;
        ledger.set_reset_pending(false);
    }
}

/// The ticker's operations on its control plane: the rare paths of a run, and the readers'.
pub(crate) trait Ticking {
    /// After a run the ledger recorded: records its error, moves the version if health flipped,
    /// takes a pending period change, wakes the readers waiting for a run count; in one critical
    /// section, and none at all when there is nothing of the kind (the common case).
    fn after_run(
        &self,
        ledger: &Ledger,
        error: Option<Error>,
        recorded: &Recorded,
    ) -> Option<(Instant, Duration)>;

    /// A new period from inside a run, at `at`: the next tick is due one new period later.
    /// Returns `false` (and changes nothing) for a cron schedule, which has no period.
    fn set_period(&self, ledger: &Ledger, at: Instant, period: Duration) -> bool;

    /// The period in force.
    fn period(&self) -> Option<Duration>;

    /// Ready once at least `n` runs have ended; the waker is registered under `key` until then.
    fn poll_runs(
        &self,
        ledger: &Ledger,
        n: u64,
        key: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<()>;

    /// Forgets the waker registered under `key` by [`poll_runs`](Ticking::poll_runs).
    fn forget_runs_waiter(&self, key: &mut Option<u64>);
}

impl Ticking for TickControl {
    fn after_run(
        &self,
        ledger: &Ledger,
        error: Option<Error>,
        recorded: &Recorded,
    ) -> Option<(Instant, Duration)> {
        let flipped = recorded.flip != Flip::None;
        if error.is_none() && !flipped && !recorded.reset_pending && !recorded.watched {
            return None;
        }
        let (reset, waiters) = self.update(|parts| {
            if let Some(error) = error {
                parts.errors.record(error);
            }
            if flipped {
                parts.touch();
            }
            let reset = if recorded.reset_pending {
                ledger.set_reset_pending(false);
                parts.ext.reset.take()
            } else {
                None
            };
            let waiters = recorded.watched.then(|| parts.ext.run_waiters.take());
            (reset, waiters)
        });
        if let Some(waiters) = waiters {
            waiters.wake_all();
        }
        reset
    }

    fn set_period(&self, ledger: &Ledger, at: Instant, period: Duration) -> bool {
        self.update(|parts| {
            let state = &mut *parts.ext;
            if state.period.is_none() {
                return false;
            }
            state.period = Some(period);
            state.reset = Some((at, period));
            ledger.set_reset_pending(true);
            true
        })
    }

    fn period(&self) -> Option<Duration> {
        self.read(|state, _, _| state.period)
    }

    fn poll_runs(
        &self,
        ledger: &Ledger,
        n: u64,
        key: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.update(|parts| {
            // Under the lock the task takes the waiters with: a run recorded before this check
            // is seen here; one after it finds the waker registered.
            if ledger.runs() >= n {
                if let Some(key) = key.take() {
                    parts.ext.run_waiters.remove(key);
                }
                return Poll::Ready(());
            }
            parts.ext.run_waiters.register(key, cx.waker());
            Poll::Pending
        })
    }

    fn forget_runs_waiter(&self, key: &mut Option<u64>) {
        if let Some(key) = key.take() {
            self.update(|parts| parts.ext.run_waiters.remove(key));
        }
    }
}

//! [`Probe`]: how the kit sees the work a runner starts.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The kit's window into a runner's work. Pass it into the work the runner runs.
///
/// The runner under test must, for every run:
///
/// 1. call [`enter`](Probe::enter) when its work begins, and keep the returned [`Activity`]
///    alive until the work has ended (drop it last);
/// 2. end the work with the result of [`outcome`](Probe::outcome) when it is told to stop, so the
///    kit can make runs fail on purpose.
///
/// With that, the kit can tell whether `stop` really waited for the work, whether a second
/// `start` began the work again, and whether failures reach the error history.
///
/// # Examples
///
/// The work of a runner built for the kit (with `runner-startstop`, `ticker` or your own):
///
/// ```
/// use runner_core::conformance::{Probe, ProbeError};
///
/// async fn work(probe: Probe, stop_requested: impl std::future::Future<Output = ()>) -> Result<(), ProbeError> {
///     let _alive = probe.enter();
///     stop_requested.await;
///     probe.outcome()
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Probe {
    shared: Arc<Mutex<Counters>>,
}

#[derive(Debug, Default)]
struct Counters {
    /// Activities begun since the probe was made.
    entered: u64,
    /// Activities not yet dropped.
    live: u64,
    /// Whether [`Probe::outcome`] fails.
    failing: bool,
    /// Tasks waiting in [`Probe::entered_at_least`].
    waiters: Vec<Waker>,
}

impl Probe {
    /// A probe with no activity, whose outcome is success.
    #[must_use]
    pub fn new() -> Self {
        Probe::default()
    }

    /// Marks the beginning of the runner's work; the work is alive until the guard is dropped.
    #[must_use = "the work counts as ended as soon as the guard is dropped"]
    pub fn enter(&self) -> Activity {
        let waiters = {
            let mut counters = self.lock();
            counters.entered += 1;
            counters.live += 1;
            std::mem::take(&mut counters.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
        Activity {
            probe: self.clone(),
        }
    }

    /// The result the work should end with: `Ok(())`, or [`ProbeError`] when the kit makes runs
    /// fail on purpose.
    ///
    /// # Errors
    ///
    /// [`ProbeError`] while the kit is checking that failures are recorded.
    pub fn outcome(&self) -> Result<(), ProbeError> {
        if self.lock().failing {
            Err(ProbeError { _private: () })
        } else {
            Ok(())
        }
    }

    /// How many activities began.
    #[must_use]
    pub fn entered(&self) -> u64 {
        self.lock().entered
    }

    /// How many activities are alive now.
    #[must_use]
    pub fn live(&self) -> u64 {
        self.lock().live
    }

    /// Makes [`outcome`](Probe::outcome) fail (`true`) or succeed (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.lock().failing = failing;
    }

    /// Resolves once at least `n` activities have begun. Never polls: woken by
    /// [`enter`](Probe::enter).
    pub fn entered_at_least(&self, n: u64) -> impl Future<Output = ()> + Send + '_ {
        EnteredAtLeast { probe: self, n }
    }

    fn lock(&self) -> MutexGuard<'_, Counters> {
        // The counters stay consistent even if a holder panicked: every update is one statement.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct EnteredAtLeast<'a> {
    probe: &'a Probe,
    n: u64,
}

impl Future for EnteredAtLeast<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut counters = self.probe.lock();
        if counters.entered >= self.n {
            return Poll::Ready(());
        }
        if !counters.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            counters.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Proof that a runner's work is alive; see [`Probe::enter`]. Dropping it ends the activity.
#[derive(Debug)]
pub struct Activity {
    probe: Probe,
}

impl Drop for Activity {
    fn drop(&mut self) {
        let mut counters = self.probe.lock();
        counters.live = counters.live.saturating_sub(1);
    }
}

/// The failure [`Probe::outcome`] returns when the kit makes runs fail on purpose.
#[derive(Clone, PartialEq, Eq)]
pub struct ProbeError {
    _private: (),
}

impl fmt::Debug for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProbeError")
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("scripted failure from the conformance kit")
    }
}

impl std::error::Error for ProbeError {}

//! [`Probe`]: how the kit sees the work a runner starts, and makes it end.

use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The kit's window into a runner's work. Pass it into the work the runner runs.
///
/// The simplest wiring is [`run`](Probe::run): make the whole work (or each run of it) be
/// `probe.run(stop_requested)`. It does all of the below:
///
/// 1. it calls [`enter`](Probe::enter) when the work begins, and keeps the returned [`Activity`]
///    alive until the work has ended, so the kit can tell whether `stop` really waited for the
///    work and whether a second `start` began it again;
/// 2. it ends with the result of [`outcome`](Probe::outcome) when the runner asks it to stop, so
///    the kit can make runs fail on purpose;
/// 3. it ends *by itself*, without being asked, when the kit says so with
///    [`end_by_itself`](Probe::end_by_itself): returning `Ok`, returning an error, or panicking,
///    as the kit's [`Ending`] says. That is how the kit checks that a runner publishes how its work
///    ended.
///
/// A work that only calls `enter` and `outcome` still passes the rules that do not need it to end
/// by itself; the others report that the work never ended.
///
/// # Examples
///
/// The work of a runner built for the kit:
///
/// ```
/// use runner_core::conformance::{Probe, ProbeError};
///
/// async fn work(probe: Probe, stop_requested: impl std::future::Future<Output = ()>) -> Result<(), ProbeError> {
///     probe.run(stop_requested).await
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
    /// Failures handed out so far: each [`ProbeError`] gets the next number.
    failures: u64,
    /// How many times the kit said "end by itself", and how the last time.
    ends: u64,
    ending: Option<Ending>,
    /// Tasks waiting for an activity to begin, or for the kit to end the work.
    waiters: Vec<Waker>,
}

/// How the kit makes the work end by itself: see [`Probe::end_by_itself`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ending {
    /// The work returns `Ok(())`.
    Ok,
    /// The work returns a [`ProbeError`].
    Err,
    /// The work panics.
    Panic,
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ending::Ok => "returned Ok",
            Ending::Err => "returned an error",
            Ending::Panic => "panicked",
        })
    }
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
        // One critical section: a kit woken by this entry and ending the work at once must find
        // the activity already counting its end requests from here.
        let (waiters, ends_before) = {
            let mut counters = self.lock();
            counters.entered += 1;
            counters.live += 1;
            (std::mem::take(&mut counters.waiters), counters.ends)
        };
        waiters.into_iter().for_each(Waker::wake);
        Activity {
            probe: self.clone(),
            ends_before,
        }
    }

    /// The whole work of one run, wired for the kit: enters, waits until `stop_requested`
    /// resolves or the kit [ends the work](Probe::end_by_itself), and ends as the kit wants.
    ///
    /// # Errors
    ///
    /// A [`ProbeError`] when the kit makes the run fail on purpose.
    ///
    /// # Panics
    ///
    /// When the kit makes the run panic on purpose ([`Ending::Panic`]): that is how it checks
    /// that the runner catches panics.
    pub async fn run(&self, stop_requested: impl Future<Output = ()>) -> Result<(), ProbeError> {
        let alive = self.enter();
        let ended = {
            let mut stop_requested = pin!(stop_requested);
            let mut end_requested = pin!(alive.end_requested());
            poll_fn(|cx| {
                if stop_requested.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                end_requested.as_mut().poll(cx).map(Some)
            })
            .await
        };
        alive.end(ended)
    }

    /// The result the work should end with when asked to stop: `Ok(())`, or a [`ProbeError`]
    /// when the kit makes runs fail on purpose.
    ///
    /// # Errors
    ///
    /// A [`ProbeError`] while the kit is checking that failures are recorded.
    pub fn outcome(&self) -> Result<(), ProbeError> {
        if self.lock().failing {
            Err(self.failure())
        } else {
            Ok(())
        }
    }

    /// Makes every run now waiting in [`run`](Probe::run) end by itself, as `ending` says. Runs
    /// that begin later are not affected.
    pub fn end_by_itself(&self, ending: Ending) {
        let waiters = {
            let mut counters = self.lock();
            counters.ends += 1;
            counters.ending = Some(ending);
            std::mem::take(&mut counters.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
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

    /// How many [`ProbeError`]s were handed out: the number of the newest one.
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.lock().failures
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

    fn failure(&self) -> ProbeError {
        let mut counters = self.lock();
        counters.failures += 1;
        ProbeError {
            number: counters.failures,
        }
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
///
/// Work that cannot be written as one [`Probe::run`] (it wraps other work, say) uses the pieces:
/// [`end_requested`](Activity::end_requested) to learn that the kit wants it to end by itself,
/// and [`end`](Activity::end) for the result to end with.
#[derive(Debug)]
pub struct Activity {
    probe: Probe,
    /// How many times the kit had said "end by itself" when this activity began.
    ends_before: u64,
}

impl Activity {
    /// Resolves once the kit [ends the work by itself](Probe::end_by_itself), with how it
    /// should end; never, if the kit does not.
    pub fn end_requested(&self) -> impl Future<Output = Ending> + Send + '_ {
        poll_fn(|cx| {
            let mut counters = self.probe.lock();
            if counters.ends > self.ends_before {
                if let Some(ending) = counters.ending {
                    return Poll::Ready(ending);
                }
            }
            if !counters.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                counters.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    /// Ends the activity with the result the work should return: as the kit's `ending` says if
    /// it asked the work to end by itself, else (`None`, the runner asked it to stop) the
    /// [`outcome`](Probe::outcome).
    ///
    /// # Errors
    ///
    /// A [`ProbeError`] when the kit makes the run fail on purpose.
    ///
    /// # Panics
    ///
    /// With [`Ending::Panic`], on purpose.
    pub fn end(self, ending: Option<Ending>) -> Result<(), ProbeError> {
        let probe = self.probe.clone();
        drop(self);
        match ending {
            None => probe.outcome(),
            Some(Ending::Ok) => Ok(()),
            Some(Ending::Err) => Err(probe.failure()),
            Some(Ending::Panic) => {
                let number = probe.failure().number;
                panic!("scripted panic #{number} from the conformance kit")
            }
        }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        let mut counters = self.probe.lock();
        counters.live = counters.live.saturating_sub(1);
    }
}

/// The failure a [`Probe`] makes the work return when the kit makes runs fail on purpose.
///
/// Each one is numbered, in the order they were handed out, and says its number in its message
/// (`scripted failure #3 from the conformance kit`), so the kit can tell the newest error in a
/// history from the oldest, however the runner wraps it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProbeError {
    number: u64,
}

impl ProbeError {
    /// The failure's number: 1 for the first one a probe handed out.
    #[must_use]
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl fmt::Debug for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProbeError(#{})", self.number)
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scripted failure #{} from the conformance kit",
            self.number
        )
    }
}

impl std::error::Error for ProbeError {}

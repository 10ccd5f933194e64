//! [`Status`]: what a runner is doing, and a way to wait for it to change.

use core::fmt;
use core::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::{Exit, Health, Readiness};

/// The lifecycle state of a runner.
///
/// ```text
///            start             work ends by itself
/// Stopped ─────────► Starting ─► Running ─────────────────► Stopped (Completed) / Failed
///    ▲                              │ stop
///    └─────────── Stopping ◄────────┘
/// ```
///
/// Runners that restart themselves (a supervisor) also pass through
/// [`BackingOff`](State::BackingOff). New states may be added, so match with a wildcard arm.
///
/// # Examples
///
/// ```
/// use runner_core::State;
///
/// assert!(State::Running.is_running());
/// assert!(State::Failed.is_idle());
/// assert_eq!(State::BackingOff.to_string(), "backing-off");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Not running: never started, stopped on request, or the work completed by itself.
    Stopped,
    /// `start` is in progress: the work is being set up and is not yet running (or ready).
    Starting,
    /// The work is running.
    Running,
    /// `stop` is in progress: the work was told to end and the runner waits for it and for the
    /// stop hook.
    Stopping,
    /// Not running: the last run ended by itself with an error or a panic. See
    /// [`Status::last_exit`].
    Failed,
    /// Not running, waiting before restarting itself after its work ended (runners with a restart
    /// policy).
    BackingOff,
}

impl State {
    /// `true` for [`Running`](State::Running) only.
    #[must_use]
    pub const fn is_running(self) -> bool {
        matches!(self, State::Running)
    }

    /// `true` when nothing is in flight: [`Stopped`](State::Stopped) or
    /// [`Failed`](State::Failed). `start` may be called from here; `stop` is a no-op.
    #[must_use]
    pub const fn is_idle(self) -> bool {
        matches!(self, State::Stopped | State::Failed)
    }

    /// A short lowercase name, as used in `Display` and in tracing fields.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping => "stopping",
            State::Failed => "failed",
            State::BackingOff => "backing-off",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A position in a runner's sequence of state changes: it grows by at least one on every change.
///
/// Two snapshots with the same version saw the same state. A version that grew by more than one
/// between two observations means states were passed through in between.
///
/// # Examples
///
/// ```
/// use runner_core::Version;
///
/// let v = Version::INITIAL;
/// assert!(v.next() > v);
/// assert_eq!(v.next().get(), 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u64);

impl Version {
    /// The version of a runner that has never changed state.
    pub const INITIAL: Version = Version(0);

    /// A version with the given sequence number.
    #[must_use]
    pub const fn new(seq: u64) -> Self {
        Version(seq)
    }

    /// The sequence number.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The version after this one.
    #[must_use]
    pub const fn next(self) -> Self {
        Version(self.0.wrapping_add(1))
    }
}

/// A state together with the [`Version`] at which it was observed.
///
/// # Examples
///
/// ```
/// use runner_core::{Snapshot, State, Version};
///
/// let s = Snapshot::new(State::Running, Version::new(2));
/// assert_eq!(s.to_string(), "running (v2)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// The state.
    pub state: State,
    /// When, in the runner's sequence of changes, it was observed.
    pub version: Version,
}

impl Snapshot {
    /// A snapshot of `state` at `version`.
    #[must_use]
    pub const fn new(state: State, version: Version) -> Self {
        Snapshot { state, version }
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (v{})", self.state, self.version.get())
    }
}

/// What a runner is doing, readable at any time and awaitable without polling.
///
/// # The contract
///
/// 1. [`snapshot`](Status::snapshot) is cheap, never blocks on the work, and never fails.
/// 2. Every state change increases the [`Version`], and wakes *every* pending
///    [`changed`](Status::changed) future, not just one. Watchers never need to poll.
/// 3. A change of [`health`](Status::health) or [`readiness`](Status::readiness) from one kind to
///    another (healthy, degraded, unhealthy; ready, not ready) is a change like a state change: it
///    increases the version and wakes the waiters, even when the state stays the same. A
///    supervisor learns that a running service turned unhealthy without polling. (A new reason
///    text alone need not.)
/// 4. [`changed(since)`](Status::changed) with a `since` older than the current version resolves
///    at once: a change that happened while nobody waited is not lost.
/// 5. A state is published before the call that caused it returns: after `start` returns `Ok`,
///    the snapshot already says [`Running`](State::Running); after `stop` returns, it says an idle
///    state: [`Stopped`](State::Stopped), or [`Failed`](State::Failed) when the run had already
///    failed by itself before the stop arrived (a stop never masks a failure).
/// 6. When the work ends by itself, the state leaves `Running` at once: `Stopped` with
///    [`Exit::Completed`] if it returned without error, `Failed` with [`Exit::Failed`] or
///    [`Exit::Panicked`] otherwise. Runners whose work is meant to go on after a failure (a
///    ticker recording a failed tick) document that instead, and report it through
///    [`health`](Status::health).
/// 7. [`uptime`](Status::uptime) is `Some` exactly while the state is `Running`.
/// 8. [`health`](Status::health) and [`readiness`](Status::readiness) are *liveness* and
///    *readiness* in the Kubernetes sense; the provided implementations derive both from the state
///    and the last exit.
///
/// # Examples
///
/// Wait for a runner to be running, without polling, whatever it is:
///
/// ```
/// use runner_core::{State, Status};
///
/// async fn until_running(status: &impl Status) -> bool {
///     let seen = status.wait_for(|s| s.is_running() || s == State::Failed).await;
///     seen.state.is_running()
/// }
/// ```
pub trait Status: Send + Sync {
    /// The current state and its version.
    fn snapshot(&self) -> Snapshot;

    /// Resolves with the current snapshot as soon as its version differs from `since`: a change
    /// of state, health or readiness (rules 2 and 3).
    ///
    /// Resolves at once if the runner has already moved past `since` (rule 4). Changes that
    /// happen while nobody is waiting are not lost: the version tells that they happened.
    /// Cancel-safe: dropping the future loses nothing.
    fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send;

    /// How long the current run has lasted; `None` unless the state is
    /// [`Running`](State::Running).
    fn uptime(&self) -> Option<Duration>;

    /// How the most recent run ended, or `None` if no run has ended yet.
    fn last_exit(&self) -> Option<Exit>;

    /// The current state.
    fn state(&self) -> State {
        self.snapshot().state
    }

    /// `true` while the state is [`Running`](State::Running).
    fn is_running(&self) -> bool {
        self.state().is_running()
    }

    /// Liveness: is the runner doing its job?
    ///
    /// The provided implementation says [`Healthy`](Health::Healthy) while running,
    /// [`Degraded`](Health::Degraded) while starting, stopping or backing off, and
    /// [`Unhealthy`](Health::Unhealthy) when stopped or failed (naming the last exit).
    fn health(&self) -> Health {
        match self.state() {
            State::Running => Health::Healthy,
            State::Failed => match self.last_exit() {
                Some(exit) => Health::unhealthy(exit.to_string()),
                None => Health::unhealthy("failed"),
            },
            state if state.is_idle() => Health::unhealthy(state.as_str()),
            state => Health::degraded(state.as_str()),
        }
    }

    /// Readiness: may traffic be sent to it? The provided implementation is ready exactly while
    /// running.
    fn readiness(&self) -> Readiness {
        match self.state() {
            State::Running => Readiness::Ready,
            state => Readiness::not_ready(state.as_str()),
        }
    }

    /// Resolves with the first snapshot whose state satisfies `accept`, checking the current one
    /// first. Built on [`changed`](Status::changed), so it never polls.
    ///
    /// States that come and go while the waiter is not scheduled may be missed; accept every
    /// state you would settle for (for example `Running` *or* `Failed`).
    fn wait_for<F>(&self, mut accept: F) -> impl Future<Output = Snapshot> + Send
    where
        F: FnMut(State) -> bool + Send,
    {
        async move {
            let mut seen = self.snapshot();
            while !accept(seen.state) {
                seen = self.changed(seen.version).await;
            }
            seen
        }
    }
}

/// Forwards every required method to `**self`.
macro_rules! forward_status {
    ($($ptr:ty),+ $(,)?) => {$(
        impl<T: Status + ?Sized> Status for $ptr {
            fn snapshot(&self) -> Snapshot {
                (**self).snapshot()
            }

            fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send {
                (**self).changed(since)
            }

            fn uptime(&self) -> Option<Duration> {
                (**self).uptime()
            }

            fn last_exit(&self) -> Option<Exit> {
                (**self).last_exit()
            }

            fn health(&self) -> Health {
                (**self).health()
            }

            fn readiness(&self) -> Readiness {
                (**self).readiness()
            }
        }
    )+};
}

forward_status!(&T, &mut T, Box<T>, Arc<T>);

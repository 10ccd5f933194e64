//! [`Error`] and [`BuildError`].

use std::time::Duration;

use runner_core::{Panicked, SharedError};
use runner_lifecycle::Fault;

/// An error from the user's function, before it is wrapped in [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The shortest period a ticker accepts.
pub const MIN_PERIOD: Duration = Duration::from_millis(1);

/// A recorded failure of one run (the ticker goes on), or the error a `stop` returns.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_ticker::Error;
///
/// let error = Error::TimedOut { seq: 7, after: Duration::from_secs(2) };
/// assert_eq!(error.to_string(), "run #7 did not finish within 2s");
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Run `seq` returned an error.
    #[error("run #{seq} failed: {source}")]
    Run {
        /// The run's sequence number.
        seq: u64,
        /// What it returned.
        source: SharedError,
    },
    /// Run `seq` panicked.
    #[error("run #{seq} {panic}")]
    Panicked {
        /// The run's sequence number.
        seq: u64,
        /// The panic, with its message.
        panic: Panicked,
    },
    /// Run `seq` exceeded the per-run timeout and was dropped.
    #[error("run #{seq} did not finish within {after:?}")]
    TimedOut {
        /// The run's sequence number.
        seq: u64,
        /// The per-run timeout.
        after: Duration,
    },
    /// Run `seq` was in progress when the ticker was stopped, did not end within the stop
    /// timeout after its token fired, and was dropped. `stop` returns this error.
    #[error("run #{seq} did not end within {grace:?} of the stop request and was aborted")]
    Aborted {
        /// The run's sequence number.
        seq: u64,
        /// The stop grace.
        grace: Duration,
    },
    /// `start` was called outside a tokio runtime; the ticker was left stopped.
    #[error("start was called outside a tokio runtime; nothing was started")]
    NoRuntime,
    /// The ticker's task was dropped while it was ticking (its runtime shut down). The ticker is
    /// `Failed` (or `Stopped`, if a stop had been asked for); a later `stop` returns at once.
    #[error("the ticker's task was dropped while ticking (its runtime shut down?)")]
    Abandoned,
    /// The ticker's own task panicked: a bug in this crate, not in the function (whose panics are
    /// [`Error::Panicked`]). The ticker is `Failed`; it can be started again.
    #[error("the ticker's task {0}")]
    Internal(Panicked),
}

impl From<Fault> for Error {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::NoRuntime => Error::NoRuntime,
            Fault::Abandoned => Error::Abandoned,
            Fault::Panicked(panicked) => Error::Internal(panicked),
        }
    }
}

/// Error returned for a configuration that cannot work: by [`Builder::build`](crate::Builder::build),
/// [`Ticker::new`](crate::Ticker::new) and [`TickContext::set_period`](crate::TickContext::set_period).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_ticker::{BuildError, Ticker};
///
/// let built = Ticker::new(Duration::from_micros(500), |_tick| async { Ok::<_, std::io::Error>(()) });
/// assert!(matches!(built, Err(BuildError::PeriodTooShort { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The period is below [`MIN_PERIOD`]. (Go's ticker silently used 30 s instead; we don't.)
    #[error("period {period:?} is below the minimum of {MIN_PERIOD:?}")]
    PeriodTooShort {
        /// The period given.
        period: Duration,
    },
    /// The jitter is not shorter than the period, so runs could reorder or pile up.
    #[error("jitter {jitter:?} must be shorter than the period {period:?}")]
    JitterNotBelowPeriod {
        /// The jitter given.
        jitter: Duration,
        /// The period.
        period: Duration,
    },
    /// A run timeout or stop grace of zero would drop every run before it ran.
    #[error("{which} must be greater than zero")]
    ZeroTimeout {
        /// `"run timeout"` or `"stop grace"`.
        which: &'static str,
    },
    /// A health threshold of zero runs cannot be met.
    #[error("health threshold `{which}` must be at least 1")]
    ZeroThreshold {
        /// `"unhealthy_after"` or `"healthy_after"`.
        which: &'static str,
    },
    /// The name is empty; it is what tells this ticker apart in traces.
    #[error("ticker name must not be empty")]
    EmptyName,
    /// A cron schedule has no period to change.
    #[error("a ticker on a cron schedule has no period to change")]
    NoPeriod,
}

pub(crate) fn check_period(period: Duration) -> Result<(), BuildError> {
    if period < MIN_PERIOD {
        Err(BuildError::PeriodTooShort { period })
    } else {
        Ok(())
    }
}

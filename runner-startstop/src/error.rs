//! [`Error`] and [`BuildError`].

use std::sync::Arc;
use std::time::Duration;

use runner_core::{Panicked, SharedError};

/// An error from the user's start or stop function, before it is wrapped in [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Error returned by [`StartStop`](crate::StartStop)'s `start` and `stop`, and the type of its
/// recorded errors.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_startstop::Error;
///
/// let error = Error::StopTimedOut(Duration::from_secs(5));
/// assert_eq!(error.to_string(), "stop function did not finish within 5s");
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The start function returned an error.
    #[error("start function failed: {0}")]
    Start(SharedError),
    /// The start function panicked.
    #[error("start function {0}")]
    StartPanicked(Panicked),
    /// The stop function returned an error.
    #[error("stop function failed: {0}")]
    Stop(SharedError),
    /// The stop function panicked.
    #[error("stop function {0}")]
    StopPanicked(Panicked),
    /// The stop function did not finish within its deadline and was dropped.
    #[error("stop function did not finish within {0:?}")]
    StopTimedOut(Duration),
    /// The start function did not end within the grace period after the stop function finished,
    /// and was aborted. If the stop function failed too, its error is the source.
    #[error("start function did not end within {grace:?} after the stop function and was aborted")]
    Aborted {
        /// How long it was given.
        grace: Duration,
        /// The stop function's own error, if it also failed.
        #[source]
        stop_error: Option<Arc<Error>>,
    },
    /// `start` was waiting for the start function to signal ready when the run was stopped.
    #[error("stopped before the start function signalled ready")]
    StoppedBeforeReady,
    /// The start function returned `Ok` before it signalled ready.
    #[error("start function returned before it signalled ready")]
    EndedBeforeReady,
}

impl Error {
    pub(crate) fn start(error: BoxError) -> Self {
        Error::Start(Arc::from(error))
    }

    pub(crate) fn stop(error: BoxError) -> Self {
        Error::Stop(Arc::from(error))
    }
}

/// Error returned by [`Builder::build`](crate::Builder::build) for a configuration that cannot
/// work.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_startstop::{BuildError, StartStop};
///
/// let built = StartStop::builder(
///     |run: runner_startstop::RunContext| async move { run.cancelled().await; Ok::<_, std::io::Error>(()) },
///     || async { Ok::<_, std::io::Error>(()) },
/// )
/// .stop_timeout(Duration::ZERO)
/// .build();
/// assert_eq!(built.unwrap_err(), BuildError::ZeroStopTimeout);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The name is empty; it is what tells this runner apart in traces.
    #[error("runner name must not be empty")]
    EmptyName,
    /// A stop timeout of zero would drop every stop function before it ran.
    #[error("stop timeout must be greater than zero")]
    ZeroStopTimeout,
}

//! [`Error`] and [`BuildError`] of a [`Managed`](crate::Managed) runner.

use std::sync::Arc;
use std::time::Duration;

use runner_core::{Panicked, SharedError};

use crate::fault::Fault;

/// An error from a [`Work`](crate::Work)'s run or stop hook, before it is wrapped in [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Error returned by a [`Managed`](crate::Managed) runner's `start` and `stop`, and the type of
/// its recorded errors.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_lifecycle::Error;
///
/// let error = Error::StopTimedOut(Duration::from_secs(5));
/// assert_eq!(error.to_string(), "stop hook did not finish within 5s");
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The run returned an error.
    #[error("run failed: {0}")]
    Run(SharedError),
    /// The run panicked.
    #[error("run {0}")]
    RunPanicked(Panicked),
    /// The stop hook returned an error.
    #[error("stop hook failed: {0}")]
    Stop(SharedError),
    /// The stop hook panicked.
    #[error("stop hook {0}")]
    StopPanicked(Panicked),
    /// The stop hook did not finish within its deadline and was dropped.
    #[error("stop hook did not finish within {0:?}")]
    StopTimedOut(Duration),
    /// The run did not end within the grace period after the stop hook finished, and was
    /// aborted. If the stop hook failed too, its error is the source.
    #[error("run did not end within {grace:?} after the stop hook and was aborted")]
    Aborted {
        /// How long it was given.
        grace: Duration,
        /// The stop hook's own error, if it also failed.
        #[source]
        stop_error: Option<Arc<Error>>,
    },
    /// `start` was waiting for the run to signal ready when the run was stopped.
    #[error("stopped before the run signalled ready")]
    StoppedBeforeReady,
    /// The run returned `Ok` before it signalled ready.
    #[error("run returned before it signalled ready")]
    EndedBeforeReady,
    /// `start` was called outside a tokio runtime; the runner was left stopped.
    #[error("start was called outside a tokio runtime; nothing was started")]
    NoRuntime,
    /// The run's task was dropped before the run ended (its runtime shut down); the stop hook did
    /// not run.
    #[error(
        "the run's task was dropped before the run ended (its runtime shut down?); the stop hook did not run"
    )]
    Abandoned,
    /// The runner's own task panicked: a bug in this crate. The run was ended.
    #[error("the runner's task {0}")]
    Internal(Panicked),
}

impl Error {
    pub(crate) fn run(error: BoxError) -> Self {
        Error::Run(Arc::from(error))
    }

    pub(crate) fn stop(error: BoxError) -> Self {
        Error::Stop(Arc::from(error))
    }
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

/// Error returned by [`Builder::build`](crate::managed::Builder::build) for a configuration that
/// cannot work.
///
/// # Examples
///
/// ```
/// use runner_lifecycle::BuildError;
///
/// assert_eq!(BuildError::EmptyName.to_string(), "runner name must not be empty");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The name is empty; it is what tells this runner apart in traces.
    #[error("runner name must not be empty")]
    EmptyName,
    /// A stop hook timeout of zero would drop every stop hook before it ran.
    #[error("stop hook timeout must be greater than zero")]
    ZeroStopHookTimeout,
}

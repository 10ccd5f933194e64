//! [`Exit`]: how one run of a runner ended.

use core::fmt;

use crate::{Panicked, SharedError};

/// How one run of a runner ended.
///
/// A run begins when `start` succeeds and ends when the work is over. The exit is published
/// through [`Status::last_exit`](crate::Status::last_exit); the error it carries, if any, is also
/// in the runner's [`ErrorHistory`](crate::ErrorHistory).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use runner_core::{Exit, Panicked};
///
/// let exit = Exit::Panicked(Panicked::new("index out of bounds"));
/// assert!(exit.is_failure());
/// assert_eq!(exit.to_string(), "panicked: index out of bounds");
///
/// let io = std::io::Error::other("connection reset");
/// let exit = Exit::Failed(Arc::new(io));
/// assert_eq!(exit.to_string(), "failed: connection reset");
/// assert!(!Exit::Stopped.is_failure());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Exit {
    /// The work returned by itself, without an error, and nobody asked it to stop.
    Completed,
    /// The work returned an error, by itself or while it was being stopped.
    Failed(SharedError),
    /// The work panicked; the panic was caught at the task boundary.
    Panicked(Panicked),
    /// The work ended without an error because `stop` asked it to.
    Stopped,
}

impl Exit {
    /// `true` for [`Failed`](Exit::Failed) and [`Panicked`](Exit::Panicked).
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(self, Exit::Failed(_) | Exit::Panicked(_))
    }

    /// The error this exit carries, if it is a failure.
    #[must_use]
    pub fn error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Exit::Failed(error) => Some(&**error),
            Exit::Panicked(panicked) => Some(panicked),
            Exit::Completed | Exit::Stopped => None,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Completed => f.write_str("completed"),
            Exit::Failed(error) => write!(f, "failed: {error}"),
            Exit::Panicked(panicked) => fmt::Display::fmt(panicked, f),
            Exit::Stopped => f.write_str("stopped"),
        }
    }
}

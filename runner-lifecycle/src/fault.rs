//! [`Fault`]: the ways a run can end that are nobody's work returning: no runtime to run on, a
//! task dropped with its runtime, a panic in the runner's own task.

use runner_core::Panicked;

/// A failure of the machinery around the work rather than of the work itself. Every runner
/// built on this crate records these in its error history (its error type has a variant for
/// each, through `From<Fault>`), so nothing ends silently.
///
/// Deliberately exhaustive: a runner must say what each fault means to its users, so a new
/// fault is a breaking change that makes every `From<Fault>` name it.
///
/// # Examples
///
/// ```
/// use runner_lifecycle::Fault;
///
/// assert_eq!(
///     Fault::NoRuntime.to_string(),
///     "start was called outside a tokio runtime; nothing was started"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// `start` was called where there is no tokio runtime to spawn the run on. The runner was
    /// left stopped.
    #[error("start was called outside a tokio runtime; nothing was started")]
    NoRuntime,
    /// The run's task was dropped before the run ended, most often because the runtime it ran on
    /// shut down. Nothing was stopped gracefully: the stop hook did not run.
    #[error(
        "the run's task was dropped before the run ended (its runtime shut down?); the stop hook did not run"
    )]
    Abandoned,
    /// The runner's own task panicked (a bug in the runner, not in the work, whose panics are
    /// caught separately). The run was ended.
    #[error("the runner's task {0}")]
    Panicked(Panicked),
}

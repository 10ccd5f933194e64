//! [`Runner`]: starting and stopping a long-lived part of a service.

use core::future::Future;
use std::sync::Arc;

/// A long-lived part of a service that can be started and stopped.
///
/// Methods take `&self`, so one runner can be shared (in an [`Arc`]) between the code that
/// controls it and the code that watches it through [`Status`](crate::Status).
///
/// # The contract
///
/// Callers (your `main`, a supervisor) rely on these rules, and the
/// [conformance kit][kit] checks them. The *work* is whatever the runner runs
/// while it is running: its spawned tasks, its loops, its stop hook.
///
/// ## [`start`](Runner::start)
///
/// 1. `Ok(())` means the runner is running: [`state`](crate::Status::state) is
///    [`Running`](crate::State::Running) and [`uptime`](crate::Status::uptime) is `Some`. Where the
///    runner can tell when it is *ready* (a listener bound, a consumer joined its group), `start`
///    resolves only once it is, and reports an error instead if the work fails before that.
/// 2. `Err(e)` means the runner is not running and holds nothing: none of its work is alive, its
///    state is [`Stopped`](crate::State::Stopped) or [`Failed`](crate::State::Failed), and `e` is
///    also in its error history. The runner stays usable: a later `start` tries again.
/// 3. On a running runner, `start` is a no-op that returns `Ok(())`: no work begins again, no
///    state changes, the error history is untouched. Use [`restart`](Runner::restart) to begin
///    again on purpose.
/// 4. Concurrent `start` and `stop` calls are serialised: each waits for the one before it, the
///    last call decides the final state, and none deadlocks.
/// 5. **Cancel safety.** Dropping the future before it completes leaves the runner either not
///    running, or starting/running exactly as if `start` had been awaited; a later `start` or
///    `stop` continues from there. Bound `start` with a timeout by dropping it, then call `stop`
///    to end whatever it began.
/// 6. `start` does not run the work itself: it returns while the work goes on (see *This is
///    wrong* below).
/// 7. A runner that cannot start at all (no async runtime to spawn on, a bad configuration)
///    returns `Err` as in rule 2; it never panics and never publishes `Running` first.
///
/// ## [`stop`](Runner::stop)
///
/// 1. `Ok(())` means everything the runner started has ended and its stop hook finished without
///    error. The state is idle: [`Stopped`](crate::State::Stopped), or
///    [`Failed`](crate::State::Failed) when the run had already failed by itself before the stop
///    arrived. A stop never masks a failure: [`last_exit`](crate::Status::last_exit) still tells
///    it.
/// 2. `Err(e)` means the runner is stopped all the same, and reports what went wrong on the way:
///    the stop hook failed or missed its deadline, or the work had to be aborted. The error is also
///    in the error history. Do not call `stop` again to retry: it is a no-op now.
/// 3. On a runner that is not running (stopped or failed), `stop` is a no-op that returns
///    `Ok(())` at once, also after the work ended by itself.
/// 4. The stop hook is always awaited, under its own deadline, and is never cancelled early.
/// 5. **Cancel safety.** Dropping the future does *not* cancel the stop: shutdown goes on in the
///    background, and a later `stop` waits for it to end. This is how a caller bounds `stop`:
///    `tokio::time::timeout(limit, runner.stop())`.
/// 6. Every error the work returns, even one returned while it was being stopped, is recorded in
///    the runner's [`ErrorHistory`](crate::ErrorHistory); none is lost.
///
/// ## [`restart`](Runner::restart)
///
/// Stop then start, as one call. The provided implementation awaits `stop`, returns its error
/// without starting if there is one, and then awaits `start`. Both halves follow the rules above,
/// so a dropped `restart` leaves the runner stopped or starting, never wedged. A restart keeps the
/// error history, like every other call.
///
/// ## Drop
///
/// A runner dropped while running should cancel its work rather than leak it. Code that needs
/// the stop hook to run must call `stop` before dropping.
///
/// # Panics
///
/// No method panics because of the runner's state or the order of calls. A panic inside the
/// work is caught at the task boundary and reported as an error (see
/// [`Panicked`](crate::Panicked)), never propagated into the caller.
///
/// # Examples
///
/// Code that controls any runner:
///
/// ```
/// use std::time::Duration;
/// use runner_core::{Runner, Status};
///
/// async fn serve_until<R: Runner + Status>(
///     runner: &R,
///     shutdown: impl std::future::Future<Output = ()>,
/// ) -> Result<(), R::Error> {
///     runner.start().await?;
///     assert!(runner.is_running());
///     shutdown.await;
///     // Bound the stop by dropping its future; the stop itself goes on in the background.
///     match tokio::time::timeout(Duration::from_secs(10), runner.stop()).await {
///         Ok(stopped) => stopped,
///         Err(_elapsed) => Ok(()), // still stopping; a later `stop` would wait for the rest
///     }
/// }
/// ```
///
/// A complete implementation, checked with the conformance kit, is in the workspace README.
///
/// # This is wrong
///
/// `start` must hand the work to a task and return; it must not *be* the work. This one never
/// returns while the service runs, so a supervisor awaiting it never learns the runner is up,
/// and `stop` has nothing to signal:
///
/// ```no_run
/// # use std::convert::Infallible;
/// # use runner_core::Runner;
/// struct Wrong;
///
/// impl Runner for Wrong {
///     type Error = Infallible;
///
///     async fn start(&self) -> Result<(), Infallible> {
///         loop {
///             // serve requests forever: WRONG, `start` has to return once running
///             tokio::task::yield_now().await;
///         }
///     }
///
///     async fn stop(&self) -> Result<(), Infallible> {
///         Ok(()) // WRONG as well: returns before the work above has ended
///     }
/// }
/// ```
#[cfg_attr(feature = "conformance", doc = "[kit]: crate::conformance")]
#[cfg_attr(not(feature = "conformance"), doc = "[kit]: crate#crate-features")]
pub trait Runner: Send + Sync {
    /// The error returned by [`start`](Runner::start), [`stop`](Runner::stop) and
    /// [`restart`](Runner::restart).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Starts the runner and resolves once it is running (or ready, where it can tell).
    ///
    /// Idempotent: on a running runner this is a no-op that returns `Ok(())`. Cancel-safe: see
    /// rule 5 of the [contract](Runner#start).
    ///
    /// # Errors
    ///
    /// The runner could not start (for example, no async runtime), or its work failed before it
    /// was ready. The runner is then not running, holds nothing, and may be started again.
    fn start(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Stops the runner and resolves once everything it started has ended and its stop hook has
    /// finished. The state is then idle (`Stopped`, or `Failed` if the run failed by itself
    /// first).
    ///
    /// Idempotent: on a runner that is not running this is a no-op that returns `Ok(())`.
    /// Dropping the future does not cancel the stop: see rule 5 of the
    /// [contract](Runner#stop).
    ///
    /// # Errors
    ///
    /// The stop hook failed or missed its deadline, or the work had to be aborted. The runner is
    /// stopped all the same.
    fn stop(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Stops the runner, then starts it again.
    ///
    /// # Errors
    ///
    /// The error of `stop` (in which case `start` was not attempted), or the error of `start`.
    fn restart(&self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async move {
            self.stop().await?;
            self.start().await
        }
    }
}

/// Forwards every method to `**self`, keeping the target's own `restart` if it overrides it.
macro_rules! forward_runner {
    ($($ptr:ty),+ $(,)?) => {$(
        impl<T: Runner + ?Sized> Runner for $ptr {
            type Error = T::Error;

            fn start(&self) -> impl Future<Output = Result<(), Self::Error>> + Send {
                (**self).start()
            }

            fn stop(&self) -> impl Future<Output = Result<(), Self::Error>> + Send {
                (**self).stop()
            }

            fn restart(&self) -> impl Future<Output = Result<(), Self::Error>> + Send {
                (**self).restart()
            }
        }
    )+};
}

forward_runner!(&T, &mut T, Box<T>, Arc<T>);

//! [`StartStop`]: a start function and a stop function, as a [`Runner`].

use core::future::Future;
use std::sync::Arc;
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Health, Runner, Snapshot, Status, Version};
use runner_lifecycle::{BoxError, Error, Managed, RunContext};

use crate::builder::Builder;

/// A [`Runner`] made of a long-running **start function** (it runs until the service ends: a
/// server's serve loop, a queue consumer) and a graceful **stop function** (the server's
/// shutdown).
///
/// Each `start` spawns one *run*: a tokio task that calls the start function with a
/// [`RunContext`]. `stop` cancels the context's token, runs the stop function once under its
/// deadline while the start function winds down, gives the start function its grace period, and
/// aborts it if it must. It implements [`Runner`], [`Status`] and [`ErrorHistory`], and passes
/// the runner-core conformance kit. It is runner-lifecycle's
/// [`Managed`](runner_lifecycle::Managed) runner, made of closures.
///
/// | event | what happens | state after |
/// |-------|--------------|-------------|
/// | `start` while running | no-op, `Ok` | `Running` |
/// | `start` outside a tokio runtime | [`Error::NoRuntime`], recorded; nothing starts | `Stopped` |
/// | `stop` while stopped or failed | no-op, `Ok` | unchanged |
/// | start function returns `Ok` by itself | exit `Completed`; stop function run once | `Stopped` |
/// | start function returns `Err` by itself | exit `Failed`, error recorded; stop function run once | `Failed` |
/// | start function panics | exit `Panicked`, [`Error::RunPanicked`] recorded with the message; process unharmed | `Failed` |
/// | start function returns `Err` while being stopped | exit `Failed`, error recorded; `stop` returns the stop function's result | `Stopped` |
/// | stop function fails, panics or exceeds `stop_fn_timeout` | recorded, returned from `stop` | `Stopped` |
/// | start function outlives `exit_timeout` after the stop function | its future is dropped (aborted); exit `Failed` with [`Error::Aborted`], recorded and returned from `stop` | `Stopped` |
/// | the runtime running it shuts down | [`Error::Abandoned`] recorded; a later `stop` returns it at once | `Failed` (`Stopped` if a stop was asked) |
/// | a `stop` future is dropped (a caller's timeout) | the stop goes on in the run's task; the next `stop` waits for it | `Stopping`, then `Stopped` |
/// | the `StartStop` is dropped while running | the run is told to stop; its stop function still runs | — |
///
/// Aborting drops the start function's future; tasks it spawned itself only see the cancelled
/// token, so give them the token (or a child of it). The longest a `stop` can take is
/// `stop_fn_timeout + exit_timeout`; `Duration::MAX` for either means no limit.
///
/// # Examples
///
/// ```
/// use runner_core::{Runner, Status, State};
/// use runner_startstop::{RunContext, StartStop};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), runner_startstop::Error> {
/// let worker = StartStop::new(
///     |run: RunContext| async move {
///         run.cancelled().await; // serve until asked to stop
///         Ok::<_, std::io::Error>(())
///     },
///     || async { Ok::<_, std::io::Error>(()) }, // graceful shutdown
/// );
/// worker.start().await?;
/// assert!(worker.is_running());
/// worker.stop().await?;
/// assert_eq!(worker.state(), State::Stopped);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct StartStop {
    managed: Managed,
}

impl StartStop {
    /// A runner with the default settings (see [`Builder`]).
    pub fn new<S, SF, SE, T, TF, TE>(start: S, stop: T) -> StartStop
    where
        S: Fn(RunContext) -> SF + Send + Sync + 'static,
        SF: Future<Output = Result<(), SE>> + Send + 'static,
        SE: Into<BoxError> + 'static,
        T: Fn() -> TF + Send + Sync + 'static,
        TF: Future<Output = Result<(), TE>> + Send + 'static,
        TE: Into<BoxError> + 'static,
    {
        Builder::new(start, stop).finish()
    }

    /// A [`Builder`] for a runner with other settings.
    pub fn builder<S, SF, SE, T, TF, TE>(start: S, stop: T) -> Builder<S, T>
    where
        S: Fn(RunContext) -> SF + Send + Sync + 'static,
        SF: Future<Output = Result<(), SE>> + Send + 'static,
        SE: Into<BoxError> + 'static,
        T: Fn() -> TF + Send + Sync + 'static,
        TF: Future<Output = Result<(), TE>> + Send + 'static,
        TE: Into<BoxError> + 'static,
    {
        Builder::new(start, stop)
    }

    pub(crate) fn from_managed(managed: Managed) -> Self {
        StartStop { managed }
    }

    /// The name given to the [`Builder`].
    #[must_use]
    pub fn name(&self) -> &str {
        self.managed.name()
    }
}

// Everything below forwards to the managed runner: the behaviour is runner-lifecycle's, the
// documentation (the table above) this crate's.

impl Runner for StartStop {
    type Error = Error;

    /// Starts a run. See the [contract](Runner#start).
    ///
    /// # Errors
    ///
    /// [`Error::NoRuntime`] outside a tokio runtime. With
    /// [`ReadyWhen::Signalled`](crate::ReadyWhen::Signalled): the start function's error or
    /// panic if it ended before signalling ready, [`Error::EndedBeforeReady`] if it returned `Ok`
    /// before that, or [`Error::StoppedBeforeReady`] if a `stop` came first.
    fn start(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.managed.start()
    }

    /// Stops the current run and waits for it to end. See the [contract](Runner#stop).
    ///
    /// # Errors
    ///
    /// The stop function's error, panic or timeout, [`Error::Aborted`] if the start function had
    /// to be aborted, or [`Error::Abandoned`] if its runtime shut down under it. The runner is
    /// stopped all the same.
    fn stop(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.managed.stop()
    }
}

impl Status for StartStop {
    fn snapshot(&self) -> Snapshot {
        self.managed.snapshot()
    }

    fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send {
        self.managed.changed(since)
    }

    fn uptime(&self) -> Option<Duration> {
        self.managed.uptime()
    }

    fn last_exit(&self) -> Option<Exit> {
        self.managed.last_exit()
    }

    /// While running, what the start function reported with [`RunContext::set_health`]
    /// (healthy if nothing); otherwise unhealthy (stopped, failed) or degraded (in transition).
    fn health(&self) -> Health {
        self.managed.health()
    }
}

impl ErrorHistory for StartStop {
    type Recorded = Error;

    fn errors(&self) -> Vec<Arc<Error>> {
        self.managed.errors()
    }

    fn last_error(&self) -> Option<Arc<Error>> {
        self.managed.last_error()
    }

    fn error_count(&self) -> u64 {
        self.managed.error_count()
    }

    fn error_capacity(&self) -> usize {
        self.managed.error_capacity()
    }
}

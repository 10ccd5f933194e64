//! [`StartStop`]: a start function and a stop function, as a [`Runner`].

use core::future::Future;
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Runner, Snapshot, Status, Version};

use std::sync::Arc;

use crate::builder::Builder;
use crate::context::RunContext;
use crate::control::{Begin, Control};
use crate::error::{BoxError, Error};
use crate::lifecycle::ReadyWhen;
use crate::shared::{Config, Engine, Functions, Shared, StartFn, StopFn, now};

/// A [`Runner`] made of a long-running **start function** (it runs until the service ends: a
/// server's serve loop, a queue consumer) and a graceful **stop function** (the server's
/// shutdown).
///
/// Each `start` spawns one *run*: a tokio task that calls the start function with a
/// [`RunContext`]. `stop` cancels the context's token, runs the stop function once under its
/// deadline while the start function winds down, gives the start function its grace period, and
/// aborts it if it must. It implements [`Runner`], [`Status`] and [`ErrorHistory`], and passes
/// the runner-core conformance kit.
///
/// | event | what happens | state after |
/// |-------|--------------|-------------|
/// | `start` while running | no-op, `Ok` | `Running` |
/// | `stop` while stopped or failed | no-op, `Ok` | unchanged |
/// | start function returns `Ok` by itself | exit `Completed`; stop function run once | `Stopped` |
/// | start function returns `Err` by itself | exit `Failed`, error recorded; stop function run once | `Failed` |
/// | start function panics | exit `Panicked`, [`Error::StartPanicked`] recorded with the message; process unharmed | `Failed` |
/// | start function returns `Err` while being stopped | exit `Failed`, error recorded; `stop` returns the stop function's result | `Stopped` |
/// | stop function fails, panics or exceeds `stop_timeout` | recorded, returned from `stop` | `Stopped` |
/// | start function outlives `exit_timeout` after the stop function | its future is dropped (aborted); exit `Failed` with [`Error::Aborted`], recorded and returned from `stop` | `Stopped` |
/// | a `stop` future is dropped (a caller's timeout) | the stop goes on in the run's task; the next `stop` waits for it | `Stopping`, then `Stopped` |
/// | the `StartStop` is dropped while running | the run is told to stop; its stop function still runs | — |
///
/// Aborting drops the start function's future; tasks it spawned itself only see the cancelled
/// token, so give them the token (or a child of it). The longest a `stop` can take is
/// `stop_timeout + exit_timeout`.
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
    engine: Arc<dyn Engine>,
}

impl StartStop {
    /// A runner with the default settings (see [`Builder`]).
    pub fn new<S, SF, SE, T, TF, TE>(start: S, stop: T) -> StartStop
    where
        S: Fn(RunContext) -> SF + Send + Sync + 'static,
        SF: Future<Output = Result<(), SE>> + Send + 'static,
        SE: Into<BoxError>,
        T: Fn() -> TF + Send + Sync + 'static,
        TF: Future<Output = Result<(), TE>> + Send + 'static,
        TE: Into<BoxError>,
    {
        // The defaults are valid settings: nothing to check.
        Builder::new(start, stop).finish()
    }

    /// A [`Builder`] for a runner with other settings.
    pub fn builder<S, SF, SE, T, TF, TE>(start: S, stop: T) -> Builder<S, T>
    where
        S: Fn(RunContext) -> SF + Send + Sync + 'static,
        SF: Future<Output = Result<(), SE>> + Send + 'static,
        SE: Into<BoxError>,
        T: Fn() -> TF + Send + Sync + 'static,
        TF: Future<Output = Result<(), TE>> + Send + 'static,
        TE: Into<BoxError>,
    {
        Builder::new(start, stop)
    }

    pub(crate) fn from_parts<S: StartFn, T: StopFn>(
        config: Config,
        error_capacity: usize,
        functions: Functions<S, T>,
    ) -> Self {
        StartStop {
            engine: Arc::new(Shared {
                config,
                control: Control::new(error_capacity),
                functions,
            }),
        }
    }

    /// The name given to the [`Builder`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.engine.config().name
    }
}

impl Runner for StartStop {
    type Error = Error;

    /// Starts a run. See the [contract](Runner#start).
    ///
    /// # Errors
    ///
    /// With [`ReadyWhen::Signalled`]: the start function's error or panic if it ended before
    /// signalling ready, [`Error::EndedBeforeReady`] if it returned `Ok` before that, or
    /// [`Error::StoppedBeforeReady`] if a `stop` came first.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime, like `tokio::spawn`.
    async fn start(&self) -> Result<(), Error> {
        let engine = &self.engine;
        let (config, control) = (engine.config(), engine.control());
        let when = config.ready_when;
        match control.begin_start(when, now).await {
            Begin::AlreadyRunning => {
                tracing::trace!(target: "runner::startstop", { runner.name = %config.name }, "runner.start: already running");
                Ok(())
            }
            Begin::Spawn { run } => {
                tracing::debug!(target: "runner::startstop", { runner.name = %config.name, run, ready_when = ?when }, "runner.starting");
                Arc::clone(engine).spawn_run(run);
                match when {
                    ReadyWhen::Spawned => Ok(()),
                    ReadyWhen::Signalled => control.ready_outcome(run).await,
                }
            }
        }
    }

    /// Stops the current run and waits for it to end. See the [contract](Runner#stop).
    ///
    /// # Errors
    ///
    /// The stop function's error, panic or timeout, or [`Error::Aborted`] if the start function
    /// had to be aborted. The runner is stopped all the same.
    async fn stop(&self) -> Result<(), Error> {
        let name = &self.engine.config().name;
        self.engine
            .control()
            .stop(|run| {
                tracing::debug!(target: "runner::startstop", { runner.name = %name, run }, "runner.stop: requested");
            })
            .await
    }
}

impl Status for StartStop {
    fn snapshot(&self) -> Snapshot {
        self.engine.control().snapshot()
    }

    fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send {
        self.engine.control().changed(since)
    }

    fn uptime(&self) -> Option<Duration> {
        self.engine
            .control()
            .running_since()
            .map(|since| now().saturating_duration_since(since))
    }

    fn last_exit(&self) -> Option<Exit> {
        self.engine.control().last_exit()
    }
}

impl ErrorHistory for StartStop {
    type Recorded = Error;

    fn errors(&self) -> Vec<std::sync::Arc<Error>> {
        self.engine.control().errors()
    }

    fn last_error(&self) -> Option<std::sync::Arc<Error>> {
        self.engine.control().last_error()
    }

    fn error_count(&self) -> u64 {
        self.engine.control().error_count()
    }

    fn error_capacity(&self) -> usize {
        self.engine.control().error_capacity()
    }
}

impl Drop for StartStop {
    /// Tells a running run to stop; its driver task still runs the stop function.
    fn drop(&mut self) {
        // The first poll requests the stop; the driver finishes the rest on its own.
        let stop = core::pin::pin!(self.engine.control().stop(|_| {}));
        let _ = stop.poll(&mut core::task::Context::from_waker(
            core::task::Waker::noop(),
        ));
    }
}

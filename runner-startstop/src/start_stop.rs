//! [`StartStop`]: a start function and a stop function, as a [`Runner`].

use core::future::Future;
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Runner, Snapshot, Status, Version};
use tokio_util::sync::CancellationToken;

use crate::builder::Builder;
use crate::context::RunContext;
use crate::control::{Begin, Control, StopRequest};
use crate::driver;
use crate::error::{BoxError, BuildError, Error};
use crate::lifecycle::ReadyWhen;
use crate::shared::{Config, Shared, StartFn, StopFn, WorkFuture, now};
use crate::sync::Arc;

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
/// | event | what happens |
/// |-------|--------------|
/// | `start` while running | no-op, `Ok` |
/// | `stop` while stopped | no-op, `Ok` |
/// | start function returns by itself | exit `Completed` / `Failed` (state `Failed`), error recorded, stop function run once |
/// | start function panics | exit `Panicked` (state `Failed`), panic message recorded, process unharmed |
/// | stop function fails, panics or times out | recorded, returned from `stop`; the runner is stopped all the same |
/// | start function outlives `exit_timeout` | aborted, [`Error::Aborted`] recorded and returned from `stop` |
/// | a `stop` future is dropped | the stop goes on; the next `stop` waits for it |
/// | the `StartStop` is dropped while running | the run is told to stop; its stop function still runs |
///
/// # Examples
///
/// ```
/// use runner_core::{Runner, Status, State};
/// use runner_startstop::{RunContext, StartStop};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
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
/// # Ok::<_, runner_startstop::Error>(()) }
/// ```
#[derive(Debug)]
pub struct StartStop {
    shared: Arc<Shared>,
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
        match StartStop::builder(start, stop).build() {
            Ok(runner) => runner,
            Err(error) => unreachable!("the default settings are valid: {error}"),
        }
    }

    /// A [`Builder`] for a runner with other settings.
    pub fn builder<S, SF, SE, T, TF, TE>(start: S, stop: T) -> Builder
    where
        S: Fn(RunContext) -> SF + Send + Sync + 'static,
        SF: Future<Output = Result<(), SE>> + Send + 'static,
        SE: Into<BoxError>,
        T: Fn() -> TF + Send + Sync + 'static,
        TF: Future<Output = Result<(), TE>> + Send + 'static,
        TE: Into<BoxError>,
    {
        let start: StartFn = Box::new(move |run| -> WorkFuture {
            let work = start(run);
            Box::pin(async move { work.await.map_err(Into::into) })
        });
        let stop: StopFn = Box::new(move || -> WorkFuture {
            let hook = stop();
            Box::pin(async move { hook.await.map_err(Into::into) })
        });
        Builder::new(start, stop)
    }

    pub(crate) fn from_parts(
        config: Config,
        error_capacity: usize,
        start: StartFn,
        stop: StopFn,
    ) -> Self {
        StartStop {
            shared: Arc::new(Shared {
                config,
                start,
                stop,
                control: Control::new(error_capacity),
            }),
        }
    }

    /// The name given to the [`Builder`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.config.name
    }
}

/// Builder errors cannot happen with the defaults; this keeps `new` infallible without a panic
/// path that could be reached.
const _: fn() -> Option<BuildError> = || None;

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
        let shared = &self.shared;
        let when = shared.config.ready_when;
        match shared
            .control
            .begin_start(when, now, CancellationToken::new)
            .await
        {
            Begin::AlreadyRunning => {
                tracing::trace!(target: "runner::startstop", { runner.name = %shared.config.name }, "runner.start: already running");
                Ok(())
            }
            Begin::Spawn { run, signal } => {
                tracing::debug!(target: "runner::startstop", { runner.name = %shared.config.name, run, ready_when = ?when }, "runner.starting");
                tokio::spawn(driver::drive(Arc::clone(shared), run, signal));
                match when {
                    ReadyWhen::Spawned => Ok(()),
                    ReadyWhen::Signalled => shared.control.ready_outcome(run).await,
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
        let name = &self.shared.config.name;
        self.shared
            .control
            .stop(|run, token| {
                tracing::debug!(target: "runner::startstop", { runner.name = %name, run }, "runner.stop: requested");
                token.cancel();
            })
            .await
    }
}

impl Status for StartStop {
    fn snapshot(&self) -> Snapshot {
        self.shared.control.snapshot()
    }

    fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send {
        self.shared.control.changed(since)
    }

    fn uptime(&self) -> Option<Duration> {
        self.shared
            .control
            .running_since()
            .map(|since| now().saturating_duration_since(since))
    }

    fn last_exit(&self) -> Option<Exit> {
        self.shared.control.last_exit()
    }
}

impl ErrorHistory for StartStop {
    type Recorded = Error;

    fn errors(&self) -> Vec<std::sync::Arc<Error>> {
        self.shared.control.errors()
    }

    fn last_error(&self) -> Option<std::sync::Arc<Error>> {
        self.shared.control.last_error()
    }

    fn error_count(&self) -> u64 {
        self.shared.control.error_count()
    }

    fn error_capacity(&self) -> usize {
        self.shared.control.error_capacity()
    }
}

impl Drop for StartStop {
    /// Tells a running run to stop; its driver task still runs the stop function.
    fn drop(&mut self) {
        if let StopRequest::Signal {
            signal: Some(signal),
            ..
        } = self.shared.control.request_stop()
        {
            signal.cancel();
        }
    }
}

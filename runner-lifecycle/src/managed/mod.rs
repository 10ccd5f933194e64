//! [`Managed`]: a runner made of any [`Work`], keeping the whole runner-core contract. The high
//! level of this crate, for library authors; `runner-startstop` is this with closures.

mod builder;
mod config;
mod context;
mod driver;
mod engine;
mod error;
mod shared;
mod work;

use core::fmt;
use core::future::Future;
use std::sync::Arc;
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Health, Runner, Snapshot, State, Status, Version};

pub use builder::Builder;
pub use config::{DEFAULT_EXIT_TIMEOUT, DEFAULT_STOP_HOOK_TIMEOUT};
pub use context::RunContext;
pub use error::{BoxError, BuildError, Error};
pub use work::Work;

use crate::control::Begin;
use crate::machine::ReadyWhen;
use engine::Engine;

/// A [`Runner`] made of a [`Work`]: its run is the service, its stop hook the graceful part of
/// the shutdown. It implements [`Runner`], [`Status`] and [`ErrorHistory`], passes the
/// runner-core conformance kit, and so can join a supervisor or a `Vec<Arc<dyn DynRunner>>` like
/// any runner.
///
/// Each `start` spawns one *run*: a tokio task that calls [`Work::run`] with a [`RunContext`].
/// `stop` cancels the context, runs [`Work::stop`] once under the stop hook timeout while the run
/// winds down, gives the run its exit timeout, and aborts it if it must.
///
/// | event | what happens | state after |
/// |-------|--------------|-------------|
/// | `start` while running | no-op, `Ok` | `Running` |
/// | `start` outside a tokio runtime | [`Error::NoRuntime`], recorded; nothing changes | `Stopped` |
/// | `stop` while stopped or failed | no-op, `Ok` | unchanged |
/// | the run returns `Ok` by itself | exit `Completed`; stop hook run once | `Stopped` |
/// | the run returns `Err` by itself | exit `Failed`, error recorded; stop hook run once | `Failed` |
/// | the run panics | exit `Panicked`, [`Error::RunPanicked`] recorded with the message | `Failed` |
/// | the run returns `Err` while being stopped | exit `Failed`, error recorded; `stop` returns the hook's result | `Stopped` |
/// | the stop hook fails, panics or exceeds the stop hook timeout | recorded, returned from `stop` | `Stopped` |
/// | the run outlives the exit timeout after the stop hook | its future is dropped; exit `Failed` with [`Error::Aborted`], returned from `stop` | `Stopped` |
/// | the run's runtime shuts down under it | [`Error::Abandoned`] recorded; a `stop` from anywhere returns it | `Failed` (or `Stopped` if a stop was asked) |
/// | a `stop` future is dropped | the stop goes on in the run's task; the next `stop` waits for it | `Stopping`, then idle |
/// | the `Managed` is dropped while running | the run is told to stop; its stop hook still runs | — |
///
/// Durations saturate: `Duration::MAX` as a timeout means "no limit".
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use runner_core::{Runner, State, Status};
/// use runner_lifecycle::{Managed, RunContext, Work};
///
/// struct Worker;
///
/// impl Work for Worker {
///     type Error = std::io::Error;
///
///     async fn run(self: Arc<Self>, run: RunContext) -> std::io::Result<()> {
///         run.cancelled().await; // serve until asked to stop
///         Ok(())
///     }
///
///     async fn stop(self: Arc<Self>) -> std::io::Result<()> {
///         Ok(()) // flush, close, say goodbye
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), runner_lifecycle::Error> {
/// let worker = Managed::new(Worker);
/// worker.start().await?;
/// assert!(worker.is_running());
/// worker.stop().await?;
/// assert_eq!(worker.state(), State::Stopped);
/// # Ok(()) }
/// ```
pub struct Managed {
    engine: Arc<dyn Engine>,
}

impl Managed {
    /// A runner of `work` with the default settings (see [`Builder`]).
    pub fn new<W: Work>(work: impl Into<Arc<W>>) -> Managed {
        // The defaults are valid settings: nothing to check.
        Builder::new(work.into()).finish()
    }

    /// A [`Builder`] for a runner of `work` with other settings.
    pub fn builder<W>(work: impl Into<Arc<W>>) -> Builder<W> {
        Builder::new(work.into())
    }

    /// The name given to the [`Builder`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.engine.config().name
    }
}

impl Runner for Managed {
    type Error = Error;

    /// Starts a run. See the [contract](Runner#start).
    ///
    /// # Errors
    ///
    /// [`Error::NoRuntime`] outside a tokio runtime (nothing is started). With
    /// [`ReadyWhen::Signalled`]: the run's error or panic if it ended before signalling ready,
    /// [`Error::EndedBeforeReady`] if it returned `Ok` before that, or
    /// [`Error::StoppedBeforeReady`] if a `stop` came first.
    async fn start(&self) -> Result<(), Error> {
        let engine = &self.engine;
        let (config, control) = (engine.config(), engine.control());
        let runtime = match crate::task::runtime() {
            Ok(runtime) => runtime,
            Err(fault) => {
                tracing::warn!(target: "runner::lifecycle", { runner.name = %config.name }, "runner.start: refused, no tokio runtime");
                return Err(control.refuse_start(fault.into()));
            }
        };
        let when = config.ready_when;
        match control.begin_start(when, crate::now).await {
            Begin::AlreadyRunning => {
                tracing::trace!(target: "runner::lifecycle", { runner.name = %config.name }, "runner.start: already running");
                Ok(())
            }
            Begin::Spawn { run, .. } => {
                tracing::debug!(target: "runner::lifecycle", { runner.name = %config.name, run, ready_when = ?when }, "runner.starting");
                Arc::clone(engine).spawn_run(&runtime, run);
                match when {
                    ReadyWhen::Spawned => Ok(()),
                    ReadyWhen::Signalled => control
                        .ready_outcome(run)
                        .await
                        .map_err(|error| error.unwrap_or(Error::StoppedBeforeReady)),
                }
            }
        }
    }

    /// Stops the current run and waits for it to end. See the [contract](Runner#stop).
    ///
    /// # Errors
    ///
    /// The stop hook's error, panic or timeout, [`Error::Aborted`] if the run had to be aborted,
    /// or [`Error::Abandoned`] if its task was dropped. The runner is stopped all the same.
    async fn stop(&self) -> Result<(), Error> {
        let name = &self.engine.config().name;
        self.engine
            .control()
            .stop(|run| {
                tracing::debug!(target: "runner::lifecycle", { runner.name = %name, run }, "runner.stop: requested");
            })
            .await
    }
}

impl Status for Managed {
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
            .map(|since| crate::now().saturating_duration_since(since))
    }

    fn last_exit(&self) -> Option<Exit> {
        self.engine.control().last_exit()
    }

    /// While running, what the run reported with [`RunContext::set_health`] (healthy if
    /// nothing); otherwise as the provided default.
    fn health(&self) -> Health {
        let reported = self.engine.control().read(|slot, _, machine| {
            (machine.state() == State::Running).then(|| {
                context::reported(slot, machine.run())
                    .cloned()
                    .unwrap_or(Health::Healthy)
            })
        });
        reported.unwrap_or_else(|| default_health(self))
    }
}

/// The provided `Status::health` for a runner that is not running.
fn default_health(managed: &Managed) -> Health {
    match managed.state() {
        State::Failed => match managed.last_exit() {
            Some(exit) => Health::unhealthy(exit.to_string()),
            None => Health::unhealthy("failed"),
        },
        state if state.is_idle() => Health::unhealthy(state.as_str()),
        state => Health::degraded(state.as_str()),
    }
}

impl ErrorHistory for Managed {
    type Recorded = Error;

    fn errors(&self) -> Vec<Arc<Error>> {
        self.engine.control().errors()
    }

    fn last_error(&self) -> Option<Arc<Error>> {
        self.engine.control().last_error()
    }

    fn error_count(&self) -> u64 {
        self.engine.control().error_count()
    }

    fn error_capacity(&self) -> usize {
        self.engine.control().error_capacity()
    }
}

impl fmt::Debug for Managed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Managed")
            .field("config", self.engine.config())
            .field("control", self.engine.control())
            .finish()
    }
}

impl Drop for Managed {
    /// Tells a running run to stop; its task still runs the stop hook.
    fn drop(&mut self) {
        // The first poll requests the stop; the run's task finishes the rest on its own.
        let stop = core::pin::pin!(self.engine.control().stop(|_| {}));
        let _ = stop.poll(&mut core::task::Context::from_waker(
            core::task::Waker::noop(),
        ));
    }
}

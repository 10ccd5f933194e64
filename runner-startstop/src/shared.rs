//! [`Shared`]: what a runner and the tasks of its runs share: configuration, the control plane
//! and the user's functions, erased behind [`Engine`] only where a run is spawned.
//!
//! The functions keep their concrete types inside [`Shared`], so the task that drives a run is
//! generic over them: the start function's future lives inline in that task, with no box and no
//! wrapper.

use core::fmt;
use core::future::Future;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::context::RunContext;
use crate::control::{Control, Signal};
use crate::driver;
use crate::error::BoxError;
use crate::lifecycle::ReadyWhen;

/// The settings a [`Builder`](crate::Builder) validated.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) name: Cow<'static, str>,
    pub(crate) stop_timeout: Duration,
    pub(crate) exit_timeout: Duration,
    pub(crate) ready_when: ReadyWhen,
}

/// A start function: `Fn(RunContext) -> impl Future<Output = Result<(), E>>`.
pub(crate) trait StartFn: Send + Sync + 'static {
    type Work: Future<Output = Result<(), Self::Error>> + Send + 'static;
    type Error: Into<BoxError>;
    fn call(&self, run: RunContext) -> Self::Work;
}

impl<F, W, E> StartFn for F
where
    F: Fn(RunContext) -> W + Send + Sync + 'static,
    W: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    type Work = W;
    type Error = E;

    fn call(&self, run: RunContext) -> W {
        self(run)
    }
}

/// A stop function: `Fn() -> impl Future<Output = Result<(), E>>`.
pub(crate) trait StopFn: Send + Sync + 'static {
    type Hook: Future<Output = Result<(), Self::Error>> + Send + 'static;
    type Error: Into<BoxError>;
    fn call(&self) -> Self::Hook;
}

impl<F, H, E> StopFn for F
where
    F: Fn() -> H + Send + Sync + 'static,
    H: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    type Hook = H;
    type Error = E;

    fn call(&self) -> H {
        self()
    }
}

/// The user's two functions.
pub(crate) struct Functions<S, T> {
    pub(crate) start: S,
    pub(crate) stop: T,
}

pub(crate) struct Shared<S, T> {
    pub(crate) config: Config,
    pub(crate) control: Control<CancellationToken>,
    pub(crate) functions: Functions<S, T>,
}

/// A [`Shared`] with its function types erased: what `StartStop` and `RunContext` hold.
pub(crate) trait Engine: Send + Sync + 'static {
    fn config(&self) -> &Config;
    fn control(&self) -> &Control<CancellationToken>;
    /// Calls the start function for run `run` and spawns the task that drives it.
    fn spawn_run(self: Arc<Self>, run: u64);
}

impl<S: StartFn, T: StopFn> Engine for Shared<S, T> {
    fn config(&self) -> &Config {
        &self.config
    }

    fn control(&self) -> &Control<CancellationToken> {
        &self.control
    }

    fn spawn_run(self: Arc<Self>, run: u64) {
        driver::spawn(self, run);
    }
}

impl fmt::Debug for dyn Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartStop")
            .field("config", self.config())
            .field("state", &self.control().snapshot())
            .finish_non_exhaustive()
    }
}

impl Signal for CancellationToken {
    fn fire(&self) {
        self.cancel();
    }
}

/// Run `run` says it is ready.
pub(crate) fn ready(engine: &dyn Engine, run: u64) {
    if engine.control().ready(run, now()) {
        tracing::debug!(target: "runner::startstop", { runner.name = %engine.config().name, run }, "runner.ready: running");
    }
}

/// Now, on tokio's clock (which tests may pause), as a `std` instant.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

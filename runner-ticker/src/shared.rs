//! [`Shared`]: what a ticker and its task share: configuration, the control plane and the user's
//! function, whose type is erased behind [`Engine`] only where a run is spawned.

use core::fmt;
use core::future::Future;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::context::TickContext;
use crate::control::{Control, Signal};
use crate::driver;
use crate::error::BoxError;
use crate::schedule::{Every, FirstRun, MissedTicks};

/// The settings a [`Builder`](crate::Builder) validated.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) name: Cow<'static, str>,
    pub(crate) every: Every,
    pub(crate) first_run: FirstRun,
    pub(crate) missed_ticks: MissedTicks,
    pub(crate) run_timeout: Option<Duration>,
    pub(crate) stop_timeout: Duration,
    pub(crate) jitter: Duration,
}

/// The function run on every tick: `Fn(TickContext) -> impl Future<Output = Result<(), E>>`.
pub(crate) trait TickFn: Send + Sync + 'static {
    type Run: Future<Output = Result<(), Self::Error>> + Send + 'static;
    type Error: Into<BoxError>;
    fn call(&self, tick: TickContext) -> Self::Run;
}

impl<F, R, E> TickFn for F
where
    F: Fn(TickContext) -> R + Send + Sync + 'static,
    R: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    type Run = R;
    type Error = E;

    fn call(&self, tick: TickContext) -> R {
        self(tick)
    }
}

pub(crate) struct Shared<F> {
    pub(crate) config: Config,
    pub(crate) control: Control<CancellationToken>,
    pub(crate) function: F,
}

/// A [`Shared`] with its function type erased: what `Ticker` and `TickContext` hold.
pub(crate) trait Engine: Send + Sync + 'static {
    fn config(&self) -> &Config;
    fn control(&self) -> &Control<CancellationToken>;
    /// Spawns the task of run `run`, which began `at`.
    fn spawn_run(self: Arc<Self>, run: u64, at: Instant);
}

impl<F: TickFn> Engine for Shared<F> {
    fn config(&self) -> &Config {
        &self.config
    }

    fn control(&self) -> &Control<CancellationToken> {
        &self.control
    }

    fn spawn_run(self: Arc<Self>, run: u64, at: Instant) {
        driver::spawn(self, run, at);
    }
}

impl fmt::Debug for dyn Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
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

/// Now, on tokio's clock (which tests may pause), as a `std` instant.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

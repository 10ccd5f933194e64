//! [`Shared`]: what a runner and its driver task share: configuration, the user's functions and
//! the control plane.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::borrow::Cow;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::context::RunContext;
use crate::control::Control;
use crate::error::BoxError;
use crate::lifecycle::ReadyWhen;

pub(crate) type WorkFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;
pub(crate) type StartFn = Box<dyn Fn(RunContext) -> WorkFuture + Send + Sync>;
pub(crate) type StopFn = Box<dyn Fn() -> WorkFuture + Send + Sync>;

/// The settings a [`Builder`](crate::Builder) validated.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) name: Cow<'static, str>,
    pub(crate) stop_timeout: Duration,
    pub(crate) exit_timeout: Duration,
    pub(crate) ready_when: ReadyWhen,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) start: StartFn,
    pub(crate) stop: StopFn,
    pub(crate) control: Control<CancellationToken>,
}

impl Shared {
    /// Run `run` says it is ready.
    pub(crate) fn ready(&self, run: u64) {
        if self.control.ready(run, now()) {
            tracing::debug!(target: "runner::startstop", { runner.name = %self.config.name, run }, "runner.ready: running");
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("state", &self.control.snapshot())
            .finish_non_exhaustive()
    }
}

/// Now, on tokio's clock (which tests may pause), as a `std` instant.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

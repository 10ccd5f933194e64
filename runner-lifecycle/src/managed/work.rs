//! [`Work`]: what a managed runner runs.

use core::future::Future;
use std::sync::Arc;

use super::context::RunContext;
use super::error::BoxError;

/// What a [`Managed`](crate::Managed) runner runs: a **run** that is the service itself (it runs
/// until told to stop), and an optional graceful **stop hook**.
///
/// Implement this for your type and [`Managed::new`](crate::Managed::new) makes a runner of it
/// that keeps every rule of the runner-core contract: idempotent, cancel-safe `start` and
/// `stop`, an awaitable status, a bounded error history, panics caught, a run that ends by
/// itself published with its exit.
///
/// # The rules for implementations
///
/// 1. [`run`](Work::run) is called once per run, on the run's own task. Its future should end
///    soon after [`RunContext::cancelled`] resolves; if it outlives the runner's exit timeout
///    after the stop hook, it is dropped (aborted).
/// 2. [`stop`](Work::stop) is called at most once per run, when the run is asked to stop or ends
///    by itself, and runs alongside the run's future under the stop hook timeout.
/// 3. Both may fail or panic: either is recorded, never propagated.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use runner_core::{Runner, Status};
/// use runner_lifecycle::{Managed, RunContext, Work};
///
/// struct Heartbeat;
///
/// impl Work for Heartbeat {
///     type Error = std::io::Error;
///
///     async fn run(self: Arc<Self>, run: RunContext) -> std::io::Result<()> {
///         run.cancelled().await; // beat until told to stop
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), runner_lifecycle::Error> {
/// let heartbeat = Managed::new(Heartbeat);
/// heartbeat.start().await?;
/// assert!(heartbeat.is_running());
/// heartbeat.stop().await?;
/// # Ok(()) }
/// ```
pub trait Work: Send + Sync + 'static {
    /// The error of the run and the stop hook.
    type Error: Into<BoxError>;

    /// The run: the service itself, until [`RunContext::cancelled`] resolves.
    fn run(
        self: Arc<Self>,
        run: RunContext,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static;

    /// The graceful part of a shutdown, run once per run under the stop hook timeout. Default:
    /// nothing to do.
    fn stop(self: Arc<Self>) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        async { Ok(()) }
    }
}

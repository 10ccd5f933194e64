//! [`RunContext`]: what the start function gets.

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use std::sync::Arc;

use crate::shared::{self, Engine};

/// Handed to the start function for one run: a cancellation token that fires when the runner is
/// asked to stop, and a way to say the service is ready.
///
/// Cheap to clone; clones share the token and the readiness signal, so a sub-task can signal
/// ready or watch for cancellation.
///
/// # Examples
///
/// ```
/// use runner_startstop::{ReadyWhen, RunContext, StartStop};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = StartStop::builder(
///     |run: RunContext| async move {
///         let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///         run.ready(); // `start()` returns now, with the port bound
///         tokio::select! {
///             _ = run.cancelled() => Ok(()),
///             accepted = listener.accept() => accepted.map(drop),
///         }
///     },
///     || async { Ok::<_, std::io::Error>(()) },
/// )
/// .ready_when(ReadyWhen::Signalled)
/// .build()
/// .unwrap();
/// # use runner_core::Runner;
/// server.start().await.unwrap();
/// server.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RunContext {
    token: CancellationToken,
    engine: Arc<dyn Engine>,
    run: u64,
}

impl RunContext {
    pub(crate) fn new(token: CancellationToken, engine: Arc<dyn Engine>, run: u64) -> Self {
        RunContext { token, engine, run }
    }

    /// The token cancelled when the runner is asked to stop (or dropped). Pass it, or child
    /// tokens of it, to whatever the start function spawns.
    #[must_use]
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Resolves when the runner is asked to stop.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// `true` once the runner has been asked to stop.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Says the service is ready: with [`ReadyWhen::Signalled`](crate::ReadyWhen::Signalled),
    /// the pending `start()` resolves and the state becomes `Running`. Idempotent, and a no-op
    /// otherwise.
    pub fn ready(&self) {
        shared::ready(&*self.engine, self.run);
    }

    /// The number of this run: 1 for the first `start`, 2 after a restart, and so on.
    #[must_use]
    pub fn run(&self) -> u64 {
        self.run
    }
}

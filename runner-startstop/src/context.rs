//! [`RunContext`]: what the start function gets, and [`Cancelled`], the future of its
//! cancellation.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::control::Control;
use crate::shared::{self, Engine};

/// Handed to the start function for one run: a way to learn that the runner was asked to stop
/// ([`cancelled`](RunContext::cancelled), or a [`CancellationToken`](RunContext::token)), and a way
/// to say the service is ready.
///
/// Cheap to clone; clones share everything, so a sub-task can signal ready or watch for
/// cancellation.
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
///             () = run.cancelled() => Ok(()),
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
#[derive(Clone)]
pub struct RunContext {
    engine: Arc<dyn Engine>,
    run: u64,
}

impl RunContext {
    pub(crate) fn new(engine: Arc<dyn Engine>, run: u64) -> Self {
        RunContext { engine, run }
    }

    /// Resolves when the runner is asked to stop (or dropped), or the run is ending anyway.
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled {
            control: self.engine.control(),
            run: self.run,
            key: None,
        }
    }

    /// `true` once the runner has been asked to stop, or the run is ending anyway.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.engine.control().is_cancelled(self.run)
    }

    /// A token cancelled when the runner is asked to stop or the run ends: pass it, or child
    /// tokens of it, to whatever the start function spawns, or to an API that takes one. Every
    /// call during a run returns a handle to the same token; it is made on the first call, so a
    /// run that never asks pays nothing for it.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        self.engine
            .control()
            .signal(self.run, CancellationToken::new)
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

impl fmt::Debug for RunContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext")
            .field("runner", &self.engine.config().name)
            .field("run", &self.run)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Future returned by [`RunContext::cancelled`]: resolves when the runner is asked to stop, or
/// the run is ending anyway. Cancel-safe: dropping it leaves nothing behind.
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled<'a> {
    control: &'a Control<CancellationToken>,
    run: u64,
    key: Option<u64>,
}

impl Future for Cancelled<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.control.poll_cancelled(this.run, &mut this.key, cx)
    }
}

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        self.control.forget(&mut self.key);
    }
}

impl fmt::Debug for Cancelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

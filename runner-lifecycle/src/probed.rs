//! [`Probed`]: any [`Work`] run under runner-core's conformance kit (feature `conformance`).

use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;
use std::sync::Arc;

use runner_core::conformance::{Ending, Probe, ProbeError};

use crate::managed::{BoxError, RunContext, Work};

/// A [`Work`] wrapped so that the conformance kit can watch it and end it: each run enters the
/// kit's [`Probe`] and stays alive until the wrapped run has ended; the kit can make it end by
/// itself (returning, failing or panicking), and fail it on a stop. Everything else is the
/// wrapped work's own: its real run, its real stop hook.
///
/// Check your own [`Work`] with it in a test, through the [`Managed`](crate::Managed) runner it
/// becomes:
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use runner_core::conformance::Kit;
/// use runner_lifecycle::{Managed, Probed, RunContext, Work};
///
/// struct Idle;
///
/// impl Work for Idle {
///     type Error = std::io::Error;
///
///     async fn run(self: Arc<Self>, run: RunContext) -> std::io::Result<()> {
///         run.cancelled().await;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// Kit::new(|probe| Managed::new(Probed::new(Idle, probe)))
///     .deadline(Duration::from_secs(5), tokio::time::sleep)
///     .run()
///     .await
///     .assert_ok();
/// # }
/// ```
pub struct Probed<W> {
    work: Arc<W>,
    probe: Probe,
}

impl<W> Probed<W> {
    /// `work`, watched by `probe`.
    pub fn new(work: impl Into<Arc<W>>, probe: Probe) -> Self {
        Probed {
            work: work.into(),
            probe,
        }
    }
}

impl<W> fmt::Debug for Probed<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probed")
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}

/// Error of a [`Probed`] work: the wrapped work's own, or the kit's scripted failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbedError {
    /// The wrapped work failed.
    #[error(transparent)]
    Work(BoxError),
    /// The kit made the run fail on purpose.
    #[error(transparent)]
    Scripted(#[from] ProbeError),
}

impl<W: Work> Work for Probed<W> {
    type Error = ProbedError;

    async fn run(self: Arc<Self>, run: RunContext) -> Result<(), ProbedError> {
        let alive = self.probe.enter();
        let cancelled = run.clone();
        let mut work = pin!(Arc::clone(&self.work).run(run));
        let ended = {
            let (mut stop, mut end) = (pin!(cancelled.cancelled()), pin!(alive.end_requested()));
            poll_fn(|cx| {
                if let Poll::Ready(result) = work.as_mut().poll(cx) {
                    // The real work ended by itself.
                    return Poll::Ready(Err(result.map_err(|e| ProbedError::Work(e.into()))));
                }
                if let Poll::Ready(ending) = end.as_mut().poll(cx) {
                    return Poll::Ready(Ok(Some(ending)));
                }
                stop.as_mut().poll(cx).map(|()| Ok(None))
            })
            .await
        };
        match ended {
            Err(result) => {
                let scripted = alive.end(None);
                result?;
                Ok(scripted?)
            }
            // The kit ends the run: the wrapped run is dropped, the activity ends as scripted.
            Ok(Some(ending)) => Ok(alive.end(Some(ending as Ending))?),
            // Asked to stop: the wrapped run winds down, and the activity lives until it has.
            Ok(None) => {
                let result = work.await;
                let scripted = alive.end(None);
                result.map_err(|e| ProbedError::Work(e.into()))?;
                Ok(scripted?)
            }
        }
    }

    fn stop(self: Arc<Self>) -> impl Future<Output = Result<(), ProbedError>> + Send {
        let hook = Arc::clone(&self.work).stop();
        async move { hook.await.map_err(|e| ProbedError::Work(e.into())) }
    }
}

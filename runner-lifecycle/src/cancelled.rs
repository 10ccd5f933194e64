//! [`Cancelled`]: the future of a run's cancellation, waiting on the control plane itself (no
//! token is made unless the work asks for one).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::control::Control;

/// What [`Cancelled`] waits on: a control plane, whatever its type parameters.
trait Source: Send + Sync {
    fn poll_cancelled(&self, run: u64, key: &mut Option<u64>, cx: &mut Context<'_>) -> Poll<()>;
    fn forget(&self, key: &mut Option<u64>);
}

impl<E: Send + Sync, X: Send> Source for Control<E, X> {
    fn poll_cancelled(&self, run: u64, key: &mut Option<u64>, cx: &mut Context<'_>) -> Poll<()> {
        Control::poll_cancelled(self, run, key, cx)
    }

    fn forget(&self, key: &mut Option<u64>) {
        Control::forget(self, key);
    }
}

/// Future that resolves when a run is no longer wanted: asked to stop, ending by itself, or over.
/// Cancel-safe: dropping it leaves nothing behind.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use runner_lifecycle::control::{Begin, Control};
/// use runner_lifecycle::{Cancelled, Fault, ReadyWhen};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let control: Control<Fault> = Control::new(8, ());
/// let Begin::Spawn { run, .. } = control.begin_start(ReadyWhen::Spawned, Instant::now).await else {
///     unreachable!()
/// };
/// let stopping = control.stop(|_| {});
/// // A stop was requested: the run's `Cancelled` resolves at once.
/// # let mut stopping = std::pin::pin!(stopping);
/// # let _ = futures_poll_once(stopping.as_mut());
/// Cancelled::new(&control, run).await;
/// # fn futures_poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
/// #     f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
/// # }
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled<'a> {
    source: &'a dyn Source,
    run: u64,
    key: Option<u64>,
}

impl<'a> Cancelled<'a> {
    /// Resolves once run `run` of `control` is no longer wanted.
    pub fn new<E: Send + Sync, X: Send>(control: &'a Control<E, X>, run: u64) -> Self {
        Cancelled {
            source: control,
            run,
            key: None,
        }
    }
}

impl Future for Cancelled<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.source.poll_cancelled(this.run, &mut this.key, cx)
    }
}

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        self.source.forget(&mut self.key);
    }
}

impl fmt::Debug for Cancelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

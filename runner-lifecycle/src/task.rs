//! [`spawn`]: the task of one run, guarded so that it always reports the run's end.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::catch_unwind::CatchUnwind;
use crate::fault::Fault;

/// Checks that `start` runs inside a tokio runtime, before it changes anything.
///
/// # Errors
///
/// [`Fault::NoRuntime`] outside a runtime.
///
/// # Examples
///
/// ```
/// use runner_lifecycle::{Fault, task::runtime};
///
/// assert_eq!(runtime(), Err(Fault::NoRuntime));
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async { assert_eq!(runtime(), Ok(())) });
/// ```
pub fn runtime() -> Result<(), Fault> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|_| Fault::NoRuntime)
}

/// Spawns `driver`, the task of one run, on the current tokio runtime, guarded: if the driver
/// panics, or is dropped before it completes (its runtime shut down), `on_fault` is called with
/// [`Fault::Panicked`] or [`Fault::Abandoned`], once, so the runner can end the run (with
/// [`Control::fault`](crate::Control::fault)) instead of leaving a state with no task behind
/// it. A driver that completes normally has reported the run's end itself.
///
/// Call [`runtime`] first: like `tokio::spawn`, this panics outside a runtime.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use runner_lifecycle::{Fault, task::spawn};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let seen = Arc::new(Mutex::new(None));
/// let record = Arc::clone(&seen);
/// let task = spawn(async { panic!("bug in the driver") }, move |fault| {
///     *record.lock().unwrap() = Some(fault);
/// });
/// task.await.unwrap(); // the panic was caught by the guard, not by tokio
/// assert!(matches!(*seen.lock().unwrap(), Some(Fault::Panicked(_))));
/// # }
/// ```
pub fn spawn<D, G>(driver: D, on_fault: G) -> tokio::task::JoinHandle<()>
where
    D: Future<Output = ()> + Send + 'static,
    G: FnOnce(Fault) + Send + 'static,
{
    tokio::spawn(Guarded {
        driver: CatchUnwind::new(driver),
        on_fault: Some(on_fault),
    })
}

pin_project! {
    /// A run's driver and what to do if it never completes.
    #[must_use = "futures do nothing unless polled"]
    struct Guarded<D, G>
    where
        G: FnOnce(Fault),
    {
        #[pin]
        driver: CatchUnwind<D>,
        on_fault: Option<G>,
    }

    impl<D, G> PinnedDrop for Guarded<D, G>
    where
        G: FnOnce(Fault),
    {
        fn drop(this: Pin<&mut Self>) {
            if let Some(on_fault) = this.project().on_fault.take() {
                on_fault(Fault::Abandoned);
            }
        }
    }
}

impl<D, G> Future for Guarded<D, G>
where
    D: Future<Output = ()>,
    G: FnOnce(Fault),
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let ended = ready!(this.driver.poll(cx));
        let on_fault = this.on_fault.take();
        if let (Err(panicked), Some(on_fault)) = (ended, on_fault) {
            on_fault(Fault::Panicked(panicked));
        }
        Poll::Ready(())
    }
}

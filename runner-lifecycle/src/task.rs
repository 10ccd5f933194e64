//! [`spawn`]: the task of one run, guarded so that it always reports the run's end; and
//! [`Driver`], what such a task runs.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::runtime::Handle;
use tracing::instrument::Instrumented;

use crate::catch_unwind::CatchUnwind;
use crate::fault::Fault;

/// The tokio runtime `start` runs in, checked before it changes anything: spawn the run on it
/// with [`spawn`].
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
/// assert_eq!(runtime().err(), Some(Fault::NoRuntime));
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async { assert!(runtime().is_ok()) });
/// ```
pub fn runtime() -> Result<Handle, Fault> {
    Handle::try_current().map_err(|_| Fault::NoRuntime)
}

/// The task of one run: a future that reports the run's end itself when it completes, and that
/// can be told its task died before that.
///
/// # Examples
///
/// See [`spawn`].
pub trait Driver: Future<Output = ()> + Send + 'static {
    /// The task is dying before this future completed: it panicked ([`Fault::Panicked`]; the
    /// future is in whatever state the panic left it, so touch only what a panic cannot have
    /// half-changed, such as the control plane) or it is being dropped ([`Fault::Abandoned`],
    /// its runtime shut down). End the run, typically with
    /// [`Control::fault`](crate::Control::fault). Called at most once, never after `poll`
    /// returned `Ready`.
    fn fault(self: Pin<&mut Self>, fault: Fault);
}

impl<D: Driver> Driver for Instrumented<D> {
    fn fault(self: Pin<&mut Self>, fault: Fault) {
        self.inner_pin_mut().fault(fault);
    }
}

/// Spawns `driver`, the task of one run, on `runtime`, guarded: if the driver
/// panics, or is dropped before it completes (its runtime shut down), its
/// [`fault`](Driver::fault) is called, once, so the runner ends the run instead of leaving a
/// state with no task behind it. A driver that completes normally has reported the run's end
/// itself.
///
/// `runtime` is what [`runtime()`] returned when `start` began.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::{Arc, Mutex};
/// use std::task::{Context, Poll};
/// use runner_lifecycle::Fault;
/// use runner_lifecycle::task::{Driver, spawn};
///
/// struct Buggy(Arc<Mutex<Option<Fault>>>);
///
/// impl Future for Buggy {
///     type Output = ();
///     fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
///         panic!("bug in the driver")
///     }
/// }
///
/// impl Driver for Buggy {
///     fn fault(self: Pin<&mut Self>, fault: Fault) {
///         *self.0.lock().unwrap() = Some(fault);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let seen = Arc::new(Mutex::new(None));
/// let runtime = runner_lifecycle::task::runtime().unwrap();
/// spawn(&runtime, Buggy(Arc::clone(&seen))).await.unwrap(); // the guard caught the panic, not tokio
/// assert!(matches!(*seen.lock().unwrap(), Some(Fault::Panicked(_))));
/// # }
/// ```
pub fn spawn<D: Driver>(runtime: &Handle, driver: D) -> tokio::task::JoinHandle<()> {
    runtime.spawn(Guarded {
        driver: CatchUnwind::new(driver),
        done: false,
    })
}

pin_project! {
    /// A run's driver, and whether it has completed (or been told it died).
    #[must_use = "futures do nothing unless polled"]
    struct Guarded<D: Driver> {
        #[pin]
        driver: CatchUnwind<D>,
        done: bool,
    }

    impl<D: Driver> PinnedDrop for Guarded<D> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.done {
                this.driver.get_pin_mut().fault(Fault::Abandoned);
            }
        }
    }
}

impl<D: Driver> Future for Guarded<D> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let ended = ready!(this.driver.as_mut().poll(cx));
        *this.done = true;
        if let Err(panicked) = ended {
            this.driver.get_pin_mut().fault(Fault::Panicked(panicked));
        }
        Poll::Ready(())
    }
}

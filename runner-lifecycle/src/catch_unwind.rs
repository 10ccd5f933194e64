//! [`CatchUnwind`]: turns a panic inside a future into a value, at the task boundary; and
//! [`call`], the same for a plain function.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pin_project_lite::pin_project;
use runner_core::Panicked;

pin_project! {
    /// Polls `inner`, resolving to `Err(Panicked)` if a poll panics. It is never polled again
    /// after that, so whatever the panic left half-done inside it is dropped, not observed: this
    /// is why asserting unwind safety is sound here.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_lifecycle::CatchUnwind;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let caught = CatchUnwind::new(async { panic!("disk full") }).await;
    /// # let _: &Result<(), _> = &caught;
    /// assert_eq!(caught.unwrap_err().message(), "disk full");
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct CatchUnwind<F> {
        #[pin]
        inner: F,
    }
}

impl<F> CatchUnwind<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        CatchUnwind { inner }
    }

    /// The wrapped future, pinned.
    #[must_use]
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut F> {
        self.project().inner
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panicked>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(Panicked::from_payload(payload.as_ref()))),
        }
    }
}

/// Calls `f`, turning a panic into `Err(Panicked)`: for the synchronous part of a user function,
/// before it returns its future.
///
/// # Errors
///
/// [`Panicked`], with the panic's message, if `f` panicked.
///
/// # Examples
///
/// ```
/// let caught = runner_lifecycle::catch_unwind::call(|| -> u32 { panic!("bad config") });
/// assert_eq!(caught.unwrap_err().message(), "bad config");
/// ```
pub fn call<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| Panicked::from_payload(payload.as_ref()))
}

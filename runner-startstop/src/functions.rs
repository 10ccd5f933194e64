//! [`Functions`]: a start function and a stop function, as the [`Work`] of a managed runner.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::Arc;

use pin_project_lite::pin_project;
use runner_lifecycle::{BoxError, RunContext, Work};

/// The user's two functions.
pub(crate) struct Functions<S, T> {
    pub(crate) start: S,
    pub(crate) stop: T,
}

impl<S, SF, SE, T, TF, TE> Work for Functions<S, T>
where
    S: Fn(RunContext) -> SF + Send + Sync + 'static,
    SF: Future<Output = Result<(), SE>> + Send + 'static,
    SE: Into<BoxError> + 'static,
    T: Fn() -> TF + Send + Sync + 'static,
    TF: Future<Output = Result<(), TE>> + Send + 'static,
    TE: Into<BoxError> + 'static,
{
    type Error = BoxError;

    fn run(self: Arc<Self>, run: RunContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        Boxed {
            inner: (self.start)(run),
        }
    }

    fn stop(self: Arc<Self>) -> impl Future<Output = Result<(), BoxError>> + Send {
        Boxed {
            inner: (self.stop)(),
        }
    }
}

pin_project! {
    /// A user function's future with its error boxed: the two functions' error types differ, a
    /// `Work` has one. Hand-written rather than an `async` block, so it adds no state to the
    /// run's task.
    #[must_use = "futures do nothing unless polled"]
    struct Boxed<F> {
        #[pin]
        inner: F,
    }
}

impl<F, E> Future for Boxed<F>
where
    F: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    type Output = Result<(), BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(ready!(self.project().inner.poll(cx)).map_err(Into::into))
    }
}

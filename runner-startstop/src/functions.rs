//! [`Functions`]: a start function and a stop function, as the [`Work`] of a managed runner.

use core::future::Future;
use std::sync::Arc;

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
        let started = (self.start)(run);
        async move { started.await.map_err(Into::into) }
    }

    fn stop(self: Arc<Self>) -> impl Future<Output = Result<(), BoxError>> + Send {
        let stopping = (self.stop)();
        async move { stopping.await.map_err(Into::into) }
    }
}

//! [`DynRunner`]: the object-safe twin of [`Runner`] + [`Status`] + [`ErrorHistory`].

use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::{
    ErrorHistory, Exit, Health, Readiness, Runner, SharedError, Snapshot, Status, Version,
};

/// An owned, boxed, `Send` future, as returned by [`DynRunner`]'s methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe twin of [`Runner`] + [`Status`] + [`ErrorHistory`], so runners of different
/// types can live in one collection.
///
/// Every `Runner + Status + ErrorHistory` whose recorded errors are sized implements it (blanket
/// impl); errors are erased to [`SharedError`]. You rarely call its `dyn_*` methods:
/// `dyn DynRunner` implements [`Runner`], [`Status`] and [`ErrorHistory`] itself (recording
/// `dyn Error`), so `Box<dyn DynRunner>` and `Arc<dyn DynRunner>` are runners like any other, and
/// the rules of all three traits hold unchanged.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use runner_core::{DynRunner, ErrorHistory, Runner, Status};
///
/// async fn stop_all(runners: &[Arc<dyn DynRunner>]) -> Vec<runner_core::SharedError> {
///     let mut errors = Vec::new();
///     for runner in runners.iter().rev() {
///         if let Err(error) = runner.stop().await {
///             errors.push(error);
///         }
///         assert!(!runner.is_running());
///     }
///     errors
/// }
///
/// fn report(runners: &[Arc<dyn DynRunner>]) {
///     for runner in runners {
///         if let Some(last) = runner.last_error() {
///             eprintln!("{} errors, last: {last}", runner.error_count());
///         }
///     }
/// }
/// ```
pub trait DynRunner: Send + Sync {
    /// [`Runner::start`], boxed.
    fn dyn_start(&self) -> BoxFuture<'_, Result<(), SharedError>>;
    /// [`Runner::stop`], boxed.
    fn dyn_stop(&self) -> BoxFuture<'_, Result<(), SharedError>>;
    /// [`Runner::restart`], boxed.
    fn dyn_restart(&self) -> BoxFuture<'_, Result<(), SharedError>>;
    /// [`Status::snapshot`].
    fn dyn_snapshot(&self) -> Snapshot;
    /// [`Status::changed`], boxed.
    fn dyn_changed(&self, since: Version) -> BoxFuture<'_, Snapshot>;
    /// [`Status::uptime`].
    fn dyn_uptime(&self) -> Option<Duration>;
    /// [`Status::last_exit`].
    fn dyn_last_exit(&self) -> Option<Exit>;
    /// [`Status::health`].
    fn dyn_health(&self) -> Health;
    /// [`Status::readiness`].
    fn dyn_readiness(&self) -> Readiness;
    /// [`ErrorHistory::errors`], erased.
    fn dyn_errors(&self) -> Vec<SharedError>;
    /// [`ErrorHistory::last_error`], erased.
    fn dyn_last_error(&self) -> Option<SharedError>;
    /// [`ErrorHistory::error_count`].
    fn dyn_error_count(&self) -> u64;
    /// [`ErrorHistory::error_capacity`].
    fn dyn_error_capacity(&self) -> usize;
}

fn share<E: std::error::Error + Send + Sync + 'static>(error: E) -> SharedError {
    Arc::new(error)
}

impl<T> DynRunner for T
where
    T: Runner + Status + ErrorHistory,
    T::Recorded: Sized,
{
    fn dyn_start(&self) -> BoxFuture<'_, Result<(), SharedError>> {
        let start = self.start();
        Box::pin(async move { start.await.map_err(share) })
    }

    fn dyn_stop(&self) -> BoxFuture<'_, Result<(), SharedError>> {
        let stop = self.stop();
        Box::pin(async move { stop.await.map_err(share) })
    }

    fn dyn_restart(&self) -> BoxFuture<'_, Result<(), SharedError>> {
        let restart = self.restart();
        Box::pin(async move { restart.await.map_err(share) })
    }

    fn dyn_snapshot(&self) -> Snapshot {
        self.snapshot()
    }

    fn dyn_changed(&self, since: Version) -> BoxFuture<'_, Snapshot> {
        Box::pin(self.changed(since))
    }

    fn dyn_uptime(&self) -> Option<Duration> {
        self.uptime()
    }

    fn dyn_last_exit(&self) -> Option<Exit> {
        self.last_exit()
    }

    fn dyn_health(&self) -> Health {
        self.health()
    }

    fn dyn_readiness(&self) -> Readiness {
        self.readiness()
    }

    fn dyn_errors(&self) -> Vec<SharedError> {
        self.errors()
            .into_iter()
            .map(|e| e as SharedError)
            .collect()
    }

    fn dyn_last_error(&self) -> Option<SharedError> {
        self.last_error().map(|e| e as SharedError)
    }

    fn dyn_error_count(&self) -> u64 {
        self.error_count()
    }

    fn dyn_error_capacity(&self) -> usize {
        self.error_capacity()
    }
}

impl Runner for dyn DynRunner + '_ {
    type Error = SharedError;

    fn start(&self) -> impl Future<Output = Result<(), SharedError>> + Send {
        self.dyn_start()
    }

    fn stop(&self) -> impl Future<Output = Result<(), SharedError>> + Send {
        self.dyn_stop()
    }

    fn restart(&self) -> impl Future<Output = Result<(), SharedError>> + Send {
        self.dyn_restart()
    }
}

impl Status for dyn DynRunner + '_ {
    fn snapshot(&self) -> Snapshot {
        self.dyn_snapshot()
    }

    fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send {
        self.dyn_changed(since)
    }

    fn uptime(&self) -> Option<Duration> {
        self.dyn_uptime()
    }

    fn last_exit(&self) -> Option<Exit> {
        self.dyn_last_exit()
    }

    fn health(&self) -> Health {
        self.dyn_health()
    }

    fn readiness(&self) -> Readiness {
        self.dyn_readiness()
    }
}

impl ErrorHistory for dyn DynRunner + '_ {
    type Recorded = dyn std::error::Error + Send + Sync + 'static;

    fn errors(&self) -> Vec<SharedError> {
        self.dyn_errors()
    }

    fn last_error(&self) -> Option<SharedError> {
        self.dyn_last_error()
    }

    fn error_count(&self) -> u64 {
        self.dyn_error_count()
    }

    fn error_capacity(&self) -> usize {
        self.dyn_error_capacity()
    }
}

//! [`Builder`]: every setting of a [`StartStop`], validated at `build`.

use core::fmt;
use core::future::Future;
use std::borrow::Cow;
use std::time::Duration;

use runner_lifecycle::{BoxError, BuildError, Managed, ReadyWhen, RunContext};

use crate::StartStop;
use crate::functions::Functions;

/// Builds a [`StartStop`] with settings other than the defaults. Made by
/// [`StartStop::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_startstop::{ReadyWhen, RunContext, StartStop};
///
/// let worker = StartStop::builder(
///     |run: RunContext| async move {
///         run.ready();
///         run.cancelled().await;
///         Ok::<_, std::io::Error>(())
///     },
///     || async { Ok::<_, std::io::Error>(()) },
/// )
/// .name("orders-consumer")
/// .stop_fn_timeout(Duration::from_secs(10))
/// .exit_timeout(Duration::from_secs(1))
/// .error_capacity(16)
/// .ready_when(ReadyWhen::Signalled)
/// .build()
/// .expect("valid settings");
/// assert_eq!(worker.name(), "orders-consumer");
/// ```
///
/// `S` and `T` are the types of the start and stop functions.
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<S, T> {
    inner: runner_lifecycle::Builder<Functions<S, T>>,
}

impl<S, T> Builder<S, T> {
    pub(crate) fn new(start: S, stop: T) -> Self {
        Builder {
            inner: Managed::builder(Functions { start, stop }).name("startstop"),
        }
    }

    /// The name used in tracing spans and events. Default: `"startstop"`.
    pub fn name(self, name: impl Into<Cow<'static, str>>) -> Self {
        Builder {
            inner: self.inner.name(name),
        }
    }

    /// How long the stop function may run before it is dropped and `stop` reports
    /// [`Error::StopTimedOut`](crate::Error::StopTimedOut). `Duration::MAX` means no limit.
    /// Default: [`DEFAULT_STOP_FN_TIMEOUT`](crate::DEFAULT_STOP_FN_TIMEOUT).
    pub fn stop_fn_timeout(self, timeout: Duration) -> Self {
        Builder {
            inner: self.inner.stop_hook_timeout(timeout),
        }
    }

    /// How long the start function has to return after the stop function finished, before it
    /// is aborted and `stop` reports [`Error::Aborted`](crate::Error::Aborted). Zero aborts it at
    /// once; `Duration::MAX` means no limit. Default:
    /// [`DEFAULT_EXIT_TIMEOUT`](crate::DEFAULT_EXIT_TIMEOUT).
    pub fn exit_timeout(self, timeout: Duration) -> Self {
        Builder {
            inner: self.inner.exit_timeout(timeout),
        }
    }

    /// How many errors the history keeps (the total count is kept regardless). Default:
    /// [`DEFAULT_ERROR_CAPACITY`](runner_core::DEFAULT_ERROR_CAPACITY).
    pub fn error_capacity(self, capacity: usize) -> Self {
        Builder {
            inner: self.inner.error_capacity(capacity),
        }
    }

    /// When a run counts as running, and so when `start()` resolves. Default:
    /// [`ReadyWhen::Spawned`].
    pub fn ready_when(self, when: ReadyWhen) -> Self {
        Builder {
            inner: self.inner.ready_when(when),
        }
    }
}

impl<S, SF, SE, T, TF, TE> Builder<S, T>
where
    S: Fn(RunContext) -> SF + Send + Sync + 'static,
    SF: Future<Output = Result<(), SE>> + Send + 'static,
    SE: Into<BoxError> + 'static,
    T: Fn() -> TF + Send + Sync + 'static,
    TF: Future<Output = Result<(), TE>> + Send + 'static,
    TE: Into<BoxError> + 'static,
{
    /// Builds the runner.
    ///
    /// # Errors
    ///
    /// [`BuildError::EmptyName`] for an empty name, [`BuildError::ZeroStopHookTimeout`] for a zero
    /// stop function timeout.
    pub fn build(self) -> Result<StartStop, BuildError> {
        self.inner.build().map(StartStop::from_managed)
    }

    /// Builds the runner from settings known to be valid (the defaults).
    pub(crate) fn finish(self) -> StartStop {
        match self.inner.build() {
            Ok(managed) => StartStop::from_managed(managed),
            Err(error) => unreachable!("the default settings are valid: {error}"),
        }
    }
}

impl<S, T> fmt::Debug for Builder<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.inner)
            .finish()
    }
}

//! [`Builder`]: every setting of a [`StartStop`], validated at `build`.

use core::fmt;
use std::borrow::Cow;
use std::time::Duration;

use runner_core::DEFAULT_ERROR_CAPACITY;

use crate::StartStop;
use crate::error::BuildError;
use crate::lifecycle::ReadyWhen;
use crate::shared::{Config, Functions, StartFn, StopFn};

/// The default [`Builder::stop_timeout`]: 5 s.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The default [`Builder::exit_timeout`]: 2 s, as in the Go package this grew from.
pub const DEFAULT_EXIT_TIMEOUT: Duration = Duration::from_secs(2);

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
/// .stop_timeout(Duration::from_secs(10))
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
    config: Config,
    error_capacity: usize,
    functions: Functions<S, T>,
}

impl<S, T> Builder<S, T> {
    pub(crate) fn new(start: S, stop: T) -> Self {
        Builder {
            config: Config {
                name: Cow::Borrowed("startstop"),
                stop_timeout: DEFAULT_STOP_TIMEOUT,
                exit_timeout: DEFAULT_EXIT_TIMEOUT,
                ready_when: ReadyWhen::Spawned,
            },
            error_capacity: DEFAULT_ERROR_CAPACITY,
            functions: Functions { start, stop },
        }
    }

    /// The name used in tracing spans and events. Default: `"startstop"`.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.name = name.into();
        self
    }

    /// How long the stop function may run before it is dropped and `stop` reports
    /// [`Error::StopTimedOut`](crate::Error::StopTimedOut). Default: [`DEFAULT_STOP_TIMEOUT`].
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.config.stop_timeout = timeout;
        self
    }

    /// How long the start function has to return after the stop function finished, before it
    /// is aborted and `stop` reports [`Error::Aborted`](crate::Error::Aborted). Zero aborts it at
    /// once. Default: [`DEFAULT_EXIT_TIMEOUT`].
    pub fn exit_timeout(mut self, timeout: Duration) -> Self {
        self.config.exit_timeout = timeout;
        self
    }

    /// How many errors the history keeps (the total count is kept regardless). Default:
    /// [`DEFAULT_ERROR_CAPACITY`].
    pub fn error_capacity(mut self, capacity: usize) -> Self {
        self.error_capacity = capacity;
        self
    }

    /// When a run counts as running, and so when `start()` resolves. Default:
    /// [`ReadyWhen::Spawned`].
    pub fn ready_when(mut self, when: ReadyWhen) -> Self {
        self.config.ready_when = when;
        self
    }

    /// Builds the runner.
    ///
    /// # Errors
    ///
    /// [`BuildError::EmptyName`] for an empty name, [`BuildError::ZeroStopTimeout`] for a zero
    /// stop timeout.
    #[allow(
        private_bounds,
        reason = "StartFn and StopFn are blanket-implemented for the Fn bounds of StartStop::builder"
    )]
    pub fn build(self) -> Result<StartStop, BuildError>
    where
        S: StartFn,
        T: StopFn,
    {
        if self.config.name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        if self.config.stop_timeout.is_zero() {
            return Err(BuildError::ZeroStopTimeout);
        }
        Ok(self.finish())
    }

    /// Builds the runner from settings known to be valid.
    pub(crate) fn finish(self) -> StartStop
    where
        S: StartFn,
        T: StopFn,
    {
        StartStop::from_parts(self.config, self.error_capacity, self.functions)
    }
}

impl<S, T> fmt::Debug for Builder<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("error_capacity", &self.error_capacity)
            .finish_non_exhaustive()
    }
}

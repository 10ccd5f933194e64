//! [`Builder`]: every setting of a [`Managed`] runner, validated at `build`.

use core::fmt;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use runner_core::DEFAULT_ERROR_CAPACITY;

use super::Managed;
use super::config::Config;
#[cfg(doc)]
use super::config::{DEFAULT_EXIT_TIMEOUT, DEFAULT_STOP_HOOK_TIMEOUT};
use super::error::BuildError;
use super::shared::Shared;
use super::work::Work;
use crate::control::Control;
use crate::machine::ReadyWhen;

/// Builds a [`Managed`] runner with settings other than the defaults. Made by
/// [`Managed::builder`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use runner_lifecycle::{Managed, ReadyWhen, RunContext, Work};
///
/// struct Consumer;
///
/// impl Work for Consumer {
///     type Error = std::io::Error;
///
///     async fn run(self: Arc<Self>, run: RunContext) -> std::io::Result<()> {
///         run.ready();
///         run.cancelled().await;
///         Ok(())
///     }
/// }
///
/// let consumer = Managed::builder(Consumer)
///     .name("orders-consumer")
///     .stop_hook_timeout(Duration::from_secs(10))
///     .exit_timeout(Duration::from_secs(1))
///     .error_capacity(16)
///     .ready_when(ReadyWhen::Signalled)
///     .build()
///     .expect("valid settings");
/// assert_eq!(consumer.name(), "orders-consumer");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<W> {
    config: Config,
    error_capacity: usize,
    work: Arc<W>,
}

impl<W> Builder<W> {
    pub(crate) fn new(work: Arc<W>) -> Self {
        Builder {
            config: Config::default(),
            error_capacity: DEFAULT_ERROR_CAPACITY,
            work,
        }
    }

    /// The name used in tracing spans and events. Default: `"runner"`.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.name = name.into();
        self
    }

    /// How long the stop hook may run before it is dropped and `stop` reports
    /// [`Error::StopTimedOut`](crate::Error::StopTimedOut). `Duration::MAX` means no limit.
    /// Default: [`DEFAULT_STOP_HOOK_TIMEOUT`].
    pub fn stop_hook_timeout(mut self, timeout: Duration) -> Self {
        self.config.stop_hook_timeout = timeout;
        self
    }

    /// How long the run has to end after the stop hook finished, before it is aborted and `stop`
    /// reports [`Error::Aborted`](crate::Error::Aborted). Zero aborts it at once;
    /// `Duration::MAX` means no limit. Default: [`DEFAULT_EXIT_TIMEOUT`].
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
    /// [`BuildError::EmptyName`] for an empty name, [`BuildError::ZeroStopHookTimeout`] for a zero
    /// stop hook timeout.
    pub fn build(self) -> Result<Managed, BuildError>
    where
        W: Work,
    {
        if self.config.name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        if self.config.stop_hook_timeout.is_zero() {
            return Err(BuildError::ZeroStopHookTimeout);
        }
        Ok(self.finish())
    }

    /// Builds the runner from settings known to be valid.
    pub(crate) fn finish(self) -> Managed
    where
        W: Work,
    {
        Managed {
            engine: Arc::new(Shared {
                config: self.config,
                control: Control::new(self.error_capacity, None),
                work: self.work,
            }),
        }
    }
}

impl<W> fmt::Debug for Builder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("error_capacity", &self.error_capacity)
            .finish_non_exhaustive()
    }
}

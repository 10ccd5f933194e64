//! [`Builder`]: every setting of a [`Ticker`], validated at `build`.

use core::fmt;
use std::borrow::Cow;
use std::time::Duration;

use runner_core::DEFAULT_ERROR_CAPACITY;

use crate::Ticker;
use crate::config::Config;
use crate::error::{BuildError, check_period};
use crate::schedule::{Every, FirstRun, MissedTicks};
use crate::shared::TickFn;

/// The default [`Builder::stop_grace`]: 5 s.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);

/// The default [`Builder::unhealthy_after`]: 3 failed runs in a row.
pub const DEFAULT_UNHEALTHY_AFTER: u32 = 3;

/// The default [`Builder::healthy_after`]: 1 successful run.
pub const DEFAULT_HEALTHY_AFTER: u32 = 1;

/// Builds a [`Ticker`] with settings other than the defaults. Made by [`Ticker::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_ticker::{FirstRun, MissedTicks, TickContext, Ticker};
///
/// let warmer = Ticker::builder(Duration::from_secs(60), |_tick: TickContext| async {
///     Ok::<_, std::io::Error>(())
/// })
/// .name("cache-warmer")
/// .first_run(FirstRun::Immediately)
/// .missed_ticks(MissedTicks::Delay)
/// .run_timeout(Duration::from_secs(20))
/// .jitter(Duration::from_secs(5))
/// .unhealthy_after(2)
/// .build()
/// .expect("valid settings");
/// assert_eq!(warmer.name(), "cache-warmer");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<F> {
    config: Config,
    error_capacity: usize,
    unhealthy_after: u32,
    healthy_after: u32,
    function: F,
}

impl<F> Builder<F> {
    pub(crate) fn new(every: Every, function: F) -> Self {
        Builder {
            config: Config {
                name: Cow::Borrowed("ticker"),
                every,
                first_run: FirstRun::AfterPeriod,
                missed_ticks: MissedTicks::Skip,
                run_timeout: None,
                stop_grace: DEFAULT_STOP_GRACE,
                jitter: Duration::ZERO,
            },
            error_capacity: DEFAULT_ERROR_CAPACITY,
            unhealthy_after: DEFAULT_UNHEALTHY_AFTER,
            healthy_after: DEFAULT_HEALTHY_AFTER,
            function,
        }
    }

    /// The name used in tracing spans and events. Default: `"ticker"`.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.name = name.into();
        self
    }

    /// When the first run happens. Default: [`FirstRun::AfterPeriod`].
    pub fn first_run(mut self, first: FirstRun) -> Self {
        self.config.first_run = first;
        self
    }

    /// What happens to ticks that came due during a slow run. Default: [`MissedTicks::Skip`].
    pub fn missed_ticks(mut self, policy: MissedTicks) -> Self {
        self.config.missed_ticks = policy;
        self
    }

    /// How long one run may take before it is dropped and recorded as
    /// [`Error::TimedOut`](crate::Error::TimedOut). `Duration::MAX` is the same as no limit.
    /// Default: no limit.
    pub fn run_timeout(mut self, timeout: Duration) -> Self {
        self.config.run_timeout = Some(timeout);
        self
    }

    /// How long a run in progress has to end after a stop request (its token fires) before it is
    /// dropped, and `stop` returns [`Error::Aborted`](crate::Error::Aborted). `Duration::MAX`
    /// means no limit. Default: [`DEFAULT_STOP_GRACE`].
    ///
    /// It bounds the run the stop interrupts, not the stop itself: a ticker has no stop hook.
    /// (`runner-startstop`'s `stop_fn_timeout` bounds its stop function; its `exit_timeout` is
    /// the counterpart of this grace.)
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.config.stop_grace = grace;
        self
    }

    /// A random delay in `[0, jitter]` added to each run's start, so many tickers with the same
    /// period do not fire together. The schedule itself does not drift. Must be shorter than the
    /// period (on a cron schedule, keep it shorter than the gap between occurrences). Default:
    /// none.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.config.jitter = jitter;
        self
    }

    /// How many errors the history keeps (the total count is kept regardless). Default:
    /// [`DEFAULT_ERROR_CAPACITY`].
    pub fn error_capacity(mut self, capacity: usize) -> Self {
        self.error_capacity = capacity;
        self
    }

    /// The ticker reports itself unhealthy after this many failed runs in a row (errors, panics,
    /// timeouts). Default: [`DEFAULT_UNHEALTHY_AFTER`].
    pub fn unhealthy_after(mut self, failed_runs: u32) -> Self {
        self.unhealthy_after = failed_runs;
        self
    }

    /// Once unhealthy, the ticker reports itself healthy again after this many successful runs in
    /// a row, so one lucky run does not make it flap. Default: [`DEFAULT_HEALTHY_AFTER`].
    pub fn healthy_after(mut self, successful_runs: u32) -> Self {
        self.healthy_after = successful_runs;
        self
    }

    /// Builds the ticker.
    ///
    /// # Errors
    ///
    /// [`BuildError::PeriodTooShort`] for a period below [`MIN_PERIOD`](crate::MIN_PERIOD),
    /// [`BuildError::JitterNotBelowPeriod`], [`BuildError::ZeroTimeout`] for a zero run or stop
    /// timeout, [`BuildError::ZeroThreshold`] for a zero health threshold, and
    /// [`BuildError::EmptyName`].
    #[allow(
        private_bounds,
        reason = "TickFn is blanket-implemented for the Fn bounds of Ticker::builder"
    )]
    pub fn build(self) -> Result<Ticker, BuildError>
    where
        F: TickFn,
    {
        let config = &self.config;
        if let Some(period) = config.every.period() {
            check_period(period)?;
            if config.jitter >= period {
                return Err(BuildError::JitterNotBelowPeriod {
                    jitter: config.jitter,
                    period,
                });
            }
        }
        if config.run_timeout == Some(Duration::ZERO) {
            return Err(BuildError::ZeroTimeout {
                which: "run timeout",
            });
        }
        if config.stop_grace.is_zero() {
            return Err(BuildError::ZeroTimeout {
                which: "stop grace",
            });
        }
        if self.unhealthy_after == 0 {
            return Err(BuildError::ZeroThreshold {
                which: "unhealthy_after",
            });
        }
        if self.healthy_after == 0 {
            return Err(BuildError::ZeroThreshold {
                which: "healthy_after",
            });
        }
        if config.name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        Ok(Ticker::from_parts(
            self.config,
            self.error_capacity,
            (self.unhealthy_after, self.healthy_after),
            self.function,
        ))
    }
}

impl<F> fmt::Debug for Builder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("error_capacity", &self.error_capacity)
            .field("unhealthy_after", &self.unhealthy_after)
            .field("healthy_after", &self.healthy_after)
            .finish_non_exhaustive()
    }
}

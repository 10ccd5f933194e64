//! [`TickContext`]: what the function gets on every tick.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

use runner_lifecycle::Cancelled;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{BuildError, check_period};
use crate::ledger::Ledger;
use crate::state::{TickControl, Ticking};

/// What a tick's context reaches: the control plane, the ledger and the ticker's name, whatever
/// the function.
pub(crate) trait Scope: Send + Sync + 'static {
    fn control(&self) -> &TickControl;
    fn ledger(&self) -> &Ledger;
    fn name(&self) -> &str;
}

/// Handed to the function for one tick: which tick it is and when it was due, a way to learn
/// that the ticker is being stopped, and a way to change the period.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_ticker::{TickContext, Ticker};
///
/// // Back off while the upstream is down, speed up again when it is back.
/// let poller = Ticker::new(Duration::from_secs(1), |tick: TickContext| async move {
///     let upstream_ok = tick.seq() % 5 != 0; // stand-in for a real check
///     let period = if upstream_ok { Duration::from_secs(1) } else { Duration::from_secs(10) };
///     if tick.period() != Some(period) {
///         tick.set_period(period)?;
///     }
///     Ok::<_, runner_ticker::BuildError>(())
/// })
/// .unwrap();
/// # drop(poller);
/// ```
#[derive(Clone)]
pub struct TickContext {
    scope: Arc<dyn Scope>,
    run: u64,
    seq: u64,
    scheduled: Instant,
}

impl TickContext {
    pub(crate) fn new(scope: Arc<dyn Scope>, run: u64, seq: u64, scheduled: Instant) -> Self {
        TickContext {
            scope,
            run,
            seq,
            scheduled,
        }
    }

    /// The tick's number since the ticker was started: 1 for the first run.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the tick was due, on tokio's clock. The run starts at or after it (later by the
    /// jitter, or because an earlier run was slow).
    #[must_use]
    pub fn scheduled(&self) -> Instant {
        self.scheduled
    }

    /// The period in force, or `None` for a cron schedule.
    #[must_use]
    pub fn period(&self) -> Option<Duration> {
        self.scope.control().period()
    }

    /// Changes the period, as Go's `Ticker.Reset` does: the next tick is due one new period
    /// after this call, and every new period after that. The run in progress is not affected.
    /// `Duration::MAX` is accepted and means "no further tick" in practice.
    ///
    /// # Errors
    ///
    /// [`BuildError::PeriodTooShort`] below [`MIN_PERIOD`](crate::MIN_PERIOD), and
    /// [`BuildError::NoPeriod`] on a cron schedule; the schedule is then unchanged.
    pub fn set_period(&self, period: Duration) -> Result<(), BuildError> {
        check_period(period)?;
        let (control, ledger) = (self.scope.control(), self.scope.ledger());
        if !control.set_period(ledger, runner_lifecycle::now(), period) {
            return Err(BuildError::NoPeriod);
        }
        tracing::debug!(target: "runner::ticker", { runner.name = %self.scope.name(), ?period }, "runner.period: changed from inside a run");
        Ok(())
    }

    /// Resolves when the ticker is asked to stop (or dropped).
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled::new(self.scope.control(), self.run)
    }

    /// `true` once the ticker has been asked to stop.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.scope.control().is_cancelled(self.run)
    }

    /// A token cancelled when the ticker is asked to stop: pass it, or child tokens of it, to
    /// whatever the run hands work to. It is made on the first call and shared by all the runs
    /// until the ticker stops, so a function that never asks pays nothing for it.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        self.scope.control().token(self.run)
    }
}

impl fmt::Debug for TickContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TickContext")
            .field("ticker", &self.scope.name())
            .field("seq", &self.seq)
            .field("scheduled", &self.scheduled)
            .finish_non_exhaustive()
    }
}

//! [`poll_until`]: check a condition on a fixed interval until it holds or a
//! timeout passes (the async port of Go's `runner.RunTick`).

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

/// Error returned by [`poll_until`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use runner_ticker::{PollUntilError, poll_until};
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)] // paused clock: runs instantly
/// async fn main() {
///     let ms = Duration::from_millis;
///     let res = poll_until(ms(300), ms(1000), || async { false }).await;
///     // Checks at 0, 300, 600 and 900 ms, and a last one at the deadline.
///     assert_eq!(res, Err(PollUntilError::TimedOut { checks: 5, waited: ms(1000) }));
///
///     let res = poll_until(Duration::ZERO, ms(1000), || async { true }).await;
///     assert_eq!(res, Err(PollUntilError::ZeroInterval));
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PollUntilError {
    /// The timeout passed and every check returned `false`.
    #[error("check still false after {checks} checks over {waited:?}")]
    TimedOut {
        /// How many checks ran (at least 1).
        checks: u32,
        /// Time from the call until the last check returned. It is at least
        /// the timeout, and more only if that last check was still running
        /// when the deadline passed.
        waited: Duration,
    },
    /// `interval` was zero. `check` did not run.
    #[error("interval must be greater than zero")]
    ZeroInterval,
}

/// Checks `check` at once, then every `interval`, until it returns true or
/// `timeout` has passed since the call.
///
/// Schedule, with `t0` the instant of the call and `deadline = t0 + timeout`:
///
/// - The first check runs at once, at `t0` (Go's `RunTick` waits one tick).
/// - Later checks are due at `t0 + k * interval` for `k = 1, 2, …`.
/// - Checks never overlap: each `check` future is awaited to completion
///   before the next one is created. If a check runs past one or more due
///   instants, the next check starts as soon as it returns, once (missed
///   ticks are skipped, not run in a burst), and the following ones are due
///   on the original grid again, as with
///   [`MissedTickBehavior::Skip`](tokio::time::MissedTickBehavior::Skip).
/// - The deadline is never overshot by a tick: a wait that would end after
///   the deadline is shortened to end exactly at it, and one final check
///   runs at the deadline. With `interval = 300ms` and `timeout = 1s`, the
///   checks run at 0, 300, 600, 900 and 1000 ms.
/// - A check that is still running when the deadline passes is awaited, not
///   cancelled (wrap the check in `tokio::time::timeout` to bound it); if it
///   then returns `true`, that is a success. No check starts after the
///   deadline.
/// - `timeout == Duration::ZERO` runs exactly one check.
/// - A timeout too large to add to the current instant means "no deadline".
///
/// Returns `Ok(elapsed)`, the time from the call until the passing check
/// returned `true` (`Duration::ZERO` if the first check passes without
/// waiting).
///
/// The clock is tokio's ([`tokio::time::Instant`]), so a paused test clock
/// (`#[tokio::test(start_paused = true)]`) drives it.
///
/// # No separate action
///
/// Go's `RunTick` also takes an `action` run between checks. This function
/// only checks: to act (log, nudge the service), do it inside `check`, which
/// already runs once per tick and sees whether the condition held.
///
/// # Errors
///
/// - [`PollUntilError::ZeroInterval`] if `interval` is zero; `check` does
///   not run.
/// - [`PollUntilError::TimedOut`] if no check returned `true` by the
///   deadline, with the number of checks and the time waited.
///
/// # Cancellation
///
/// There is no context argument: dropping the returned future stops the
/// polling at once. A check in progress is dropped with it and no further
/// check starts. It is therefore safe to use in `tokio::select!` with a
/// shutdown signal (e.g. a `CancellationToken`).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::time::Duration;
///
/// use runner_ticker::poll_until;
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)] // paused clock: runs instantly
/// async fn main() {
///     let checks = Cell::new(0);
///     let elapsed = poll_until(Duration::from_millis(100), Duration::from_secs(5), || {
///         checks.set(checks.get() + 1);
///         let connected = checks.get() == 3; // e.g. "is the database up?"
///         async move { connected }
///     })
///     .await;
///     // The checks ran at 0, 100 and 200 ms.
///     assert_eq!(elapsed, Ok(Duration::from_millis(200)));
/// }
/// ```
pub async fn poll_until<C, CF>(
    interval: Duration,
    timeout: Duration,
    mut check: C,
) -> Result<Duration, PollUntilError>
where
    C: FnMut() -> CF,
    CF: Future<Output = bool>,
{
    if interval.is_zero() {
        return Err(PollUntilError::ZeroInterval);
    }
    let start = Instant::now();
    // `None`: the timeout cannot be represented as an instant; no deadline.
    let deadline = start.checked_add(timeout);
    // The next instant of the grid `start + k * interval` (`None`: beyond
    // any representable instant, so later than any deadline).
    let mut due = start.checked_add(interval);
    let mut checks: u32 = 0;
    // Bounded by the deadline (when there is one): each iteration after the
    // first starts at a due instant or at the deadline, due instants strictly
    // increase, and an iteration whose check ends at or after the deadline
    // returns.
    loop {
        checks = checks.saturating_add(1);
        let passed = check().await;
        let now = Instant::now();
        let waited = now.saturating_duration_since(start);
        tracing::trace!(
            target: "runner::ticker",
            { poll.check = checks, poll.passed = passed, poll.elapsed = ?waited },
            "runner.poll_until.check"
        );
        if passed {
            return Ok(waited);
        }
        if deadline.is_some_and(|deadline| now >= deadline) {
            return Err(PollUntilError::TimedOut { checks, waited });
        }
        let wake = match due {
            Some(tick) if tick <= now => {
                // The check ran past one or more ticks: check again at once
                // and skip the rest, realigning on the grid.
                due = next_tick_after(start, interval, now);
                Some(now)
            }
            Some(tick) => {
                due = tick.checked_add(interval);
                Some(tick)
            }
            None => None,
        };
        match (wake, deadline) {
            (Some(wake), Some(deadline)) => sleep_until(wake.min(deadline)).await,
            (Some(wake), None) => sleep_until(wake).await,
            (None, Some(deadline)) => sleep_until(deadline).await,
            // Neither another tick nor the deadline is representable: the
            // caller asked to wait for ever.
            (None, None) => std::future::pending::<()>().await,
        }
    }
}

/// The first instant `start + k * interval` (`k >= 1`) strictly after `now`,
/// or `None` if it cannot be represented. `interval` must not be zero.
fn next_tick_after(start: Instant, interval: Duration, now: Instant) -> Option<Instant> {
    let elapsed = now.saturating_duration_since(start).as_nanos();
    let step = interval.as_nanos();
    let ticks = elapsed.checked_div(step)?.checked_add(1)?;
    let offset = ticks.checked_mul(step)?;
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(offset / NANOS_PER_SEC).ok()?;
    let nanos = u32::try_from(offset % NANOS_PER_SEC).ok()?;
    start.checked_add(Duration::new(secs, nanos))
}

//! [`retry_n`]: check a condition, acting between failed checks, a bounded
//! number of times (the async port of Go's `runner.RunNbr`).

use std::future::Future;

/// Error returned by [`retry_n`].
///
/// # Examples
///
/// ```
/// use runner_ticker::{RetryError, retry_n};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let never = retry_n(2, || async { false }, || async {}).await;
///     assert_eq!(never, Err(RetryError::Exhausted { attempts: 2 }));
///     assert_eq!(
///         never.unwrap_err().to_string(),
///         "check still false after 2 attempts"
///     );
///
///     let zero = retry_n(0, || async { true }, || async {}).await;
///     assert_eq!(zero, Err(RetryError::ZeroAttempts));
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError {
    /// Every one of the `attempts` checks returned `false`.
    ///
    /// `act` ran `attempts - 1` times: once between each pair of checks and
    /// never after the last one.
    #[error("check still false after {attempts} attempts")]
    Exhausted {
        /// The number of checks that ran, equal to the `attempts` argument.
        attempts: u32,
    },
    /// `attempts` was 0. Neither `check` nor `act` ran.
    ///
    /// This is an error, not a silent `true` or `false`, so that a caller
    /// whose count is computed learns that it computed 0.
    #[error("attempts must be at least 1")]
    ZeroAttempts,
}

/// Checks `check`; while it is false, runs `act` and checks again, up to
/// `attempts` checks in all.
///
/// The sequence is `check, act, check, act, …, check`:
///
/// - The first check runs at once, before `act` has ever run.
/// - `act` runs only between two checks: after a failed check that is not
///   the last one. It never runs after the last failed check, so on
///   exhaustion it has run `attempts - 1` times.
/// - There is no delay of its own between attempts; to back off, wait
///   inside `act` (e.g. `tokio::time::sleep`).
/// - `check` and `act` never overlap: each future is awaited to completion
///   before the next one is created.
///
/// Returns `Ok(n)` as soon as a check passes, where `n` (from 1 to
/// `attempts`) is the number of checks that ran, the passing one included;
/// `act` then ran `n - 1` times.
///
/// Unlike Go's `RunNbr`, which returns a bare `bool`, the count of 0 is
/// rejected with a typed error.
///
/// # Errors
///
/// - [`RetryError::ZeroAttempts`] if `attempts == 0`; nothing runs.
/// - [`RetryError::Exhausted`] if all `attempts` checks returned `false`.
///
/// # Cancellation
///
/// Dropping the returned future stops the sequence: the `check` or `act`
/// future in progress is dropped and nothing further runs. Combine it with
/// `tokio::time::timeout` or `tokio::select!` to bound the total time.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::time::Duration;
///
/// use runner_ticker::retry_n;
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)] // paused clock: runs instantly
/// async fn main() {
///     let calls = Cell::new(0);
///     let used = retry_n(
///         5,
///         || {
///             calls.set(calls.get() + 1);
///             let ready = calls.get() == 3; // e.g. "is the server up?"
///             async move { ready }
///         },
///         || tokio::time::sleep(Duration::from_millis(100)),
///     )
///     .await;
///     assert_eq!(used, Ok(3));
/// }
/// ```
pub async fn retry_n<C, CF, A, AF>(
    attempts: u32,
    mut check: C,
    mut act: A,
) -> Result<u32, RetryError>
where
    C: FnMut() -> CF,
    CF: Future<Output = bool>,
    A: FnMut() -> AF,
    AF: Future<Output = ()>,
{
    if attempts == 0 {
        return Err(RetryError::ZeroAttempts);
    }
    // Bounded: `used` grows by one per iteration and the loop returns once
    // it reaches `attempts`.
    let mut used: u32 = 0;
    loop {
        used += 1;
        let passed = check().await;
        tracing::trace!(
            target: "runner::ticker",
            { retry.attempt = used, retry.attempts = attempts, retry.passed = passed },
            "runner.retry_n.check"
        );
        if passed {
            return Ok(used);
        }
        if used >= attempts {
            return Err(RetryError::Exhausted { attempts });
        }
        act().await;
    }
}

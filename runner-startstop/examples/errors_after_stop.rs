//! Checking for errors after a stop, done right: the Go runner package's "check for errors
//! during lifecycle" pattern, with nothing lost.
//!
//! `stop()` returns the error of the *shutdown* (the stop function failed, panicked or timed
//! out, or the start function had to be aborted). An error the start function returns while it
//! winds down is not returned by `stop()`: it is the run's exit (`last_exit()`) and it is in the
//! error history. So after a stop, look at both; the history keeps every error, oldest first,
//! across runs, and `error_count()` tells how many were added since you last looked.
//!
//! Three runners:
//!
//! 1. a start function that fails as it is cancelled ("flush failed on shutdown") and a stop
//!    function that fails ("connection already closed"), over two start/stop cycles;
//! 2. a stop function that never finishes, cut off by `stop_fn_timeout` (`Error::StopTimedOut`);
//! 3. a start function that ignores cancellation, aborted after `exit_timeout`
//!    (`Error::Aborted`).
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p runner-startstop --example errors_after_stop
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_startstop::{Error, RunContext, StartStop};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let began = Instant::now();
    failing_shutdown().await?;
    stop_fn_times_out().await?;
    start_fn_is_aborted().await?;
    let took = began.elapsed();
    println!("all done in {took:?}");
    assert!(took < Duration::from_secs(1));
    Ok(())
}

/// The errors recorded since the history's count was `before`, oldest first (as many of them as
/// the history still retains).
fn errors_since<H: ErrorHistory>(history: &H, before: u64) -> Vec<Arc<H::Recorded>> {
    let added = usize::try_from(history.error_count() - before).unwrap_or(usize::MAX);
    let mut errors = history.errors();
    let keep_from = errors.len().saturating_sub(added);
    errors.split_off(keep_from)
}

async fn failing_shutdown() -> Result<(), Box<dyn std::error::Error>> {
    println!("-- a start fn and a stop fn that both fail on shutdown");
    let runner = StartStop::new(
        |run: RunContext| async move {
            run.cancelled().await;
            Err::<(), _>(std::io::Error::other("flush failed on shutdown"))
        },
        || async { Err::<(), _>(std::io::Error::other("connection already closed")) },
    );

    for cycle in 1..=2_u64 {
        let before = runner.error_count();
        runner.start().await?;

        // `stop()` reports the stop function's error...
        let Err(error) = runner.stop().await else {
            return Err("stop() hid the stop function's error".into());
        };
        println!("cycle {cycle}: stop() returned: {error}");
        assert!(matches!(&error, Error::Stop(e) if e.to_string() == "connection already closed"));

        // ...and the runner is stopped, not failed: it was asked to stop, and it did.
        assert_eq!(runner.state(), State::Stopped);
        // The start function's error is the run's exit.
        let Some(Exit::Failed(exit)) = runner.last_exit() else {
            return Err(format!("expected a failed exit, got {:?}", runner.last_exit()).into());
        };
        println!("cycle {cycle}: last exit: failed: {exit}");
        assert_eq!(exit.to_string(), "run failed: flush failed on shutdown");

        // Both errors are in the history, the start function's first.
        let added: Vec<String> = errors_since(&runner, before)
            .iter()
            .map(ToString::to_string)
            .collect();
        println!("cycle {cycle}: recorded {added:?}");
        assert_eq!(
            added,
            [
                "run failed: flush failed on shutdown",
                "stop hook failed: connection already closed",
            ]
        );
        // Never cleared by a new run: the count only grows, the earlier cycle's errors stay.
        assert_eq!(runner.error_count(), 2 * cycle);
        assert_eq!(runner.errors().len(), usize::try_from(2 * cycle)?);
    }
    let all = runner.errors();
    assert!(matches!(*all[0], Error::Run(_)));
    assert!(matches!(*all[1], Error::Stop(_)));
    assert!(matches!(*all[2], Error::Run(_)));
    assert!(matches!(*all[3], Error::Stop(_)));
    Ok(())
}

async fn stop_fn_times_out() -> Result<(), Box<dyn std::error::Error>> {
    println!("-- a stop fn that never finishes");
    let runner = StartStop::builder(
        |run: RunContext| async move {
            run.cancelled().await;
            Ok::<_, std::io::Error>(())
        },
        || async {
            // Waits for a reply that never comes.
            std::future::pending::<()>().await;
            Ok::<_, std::io::Error>(())
        },
    )
    .stop_fn_timeout(Duration::from_millis(50))
    .build()?;
    runner.start().await?;

    let began = Instant::now();
    let stopped = runner.stop().await;
    let took = began.elapsed();
    println!("stop() returned {stopped:?} after {took:?}");
    assert!(
        matches!(stopped, Err(Error::StopTimedOut(limit)) if limit == Duration::from_millis(50))
    );
    assert!(took >= Duration::from_millis(50));
    assert_eq!(runner.state(), State::Stopped);
    // The start function itself ended cleanly when cancelled.
    assert!(matches!(runner.last_exit(), Some(Exit::Stopped)));
    assert_eq!(runner.error_count(), 1);
    assert!(matches!(
        runner.last_error().as_deref(),
        Some(Error::StopTimedOut(_))
    ));
    Ok(())
}

async fn start_fn_is_aborted() -> Result<(), Box<dyn std::error::Error>> {
    println!("-- a start fn that ignores cancellation");
    let runner = StartStop::builder(
        |_run: RunContext| async move {
            // Never looks at the run's token, so it never ends by itself.
            std::future::pending::<()>().await;
            Ok::<_, std::io::Error>(())
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .exit_timeout(Duration::from_millis(20))
    .build()?;
    runner.start().await?;

    let stopped = runner.stop().await;
    println!("stop() returned {stopped:?}");
    let Err(Error::Aborted { grace, stop_error }) = &stopped else {
        return Err(format!("expected Error::Aborted, got {stopped:?}").into());
    };
    assert_eq!(*grace, Duration::from_millis(20));
    assert!(stop_error.is_none()); // the stop function itself succeeded
    assert_eq!(runner.state(), State::Stopped);
    // The aborted run did not end cleanly: its exit carries the abort, which is also recorded.
    println!("last exit: {:?}", runner.last_exit());
    assert!(matches!(runner.last_exit(), Some(Exit::Failed(_))));
    assert_eq!(runner.error_count(), 1);
    assert!(matches!(
        runner.last_error().as_deref(),
        Some(Error::Aborted { .. })
    ));
    Ok(())
}

//! Panic recovery: a start function that panics does not crash the process. The panic becomes
//! the run's exit and an error in the history, and the same runner can be started again.
//!
//! With `ReadyWhen::Spawned` (the default) `start()` returns `Ok` as soon as the run is spawned;
//! the panic happens afterwards, and the runner reaches `State::Failed` with
//! `Exit::Panicked("something went wrong!")`. `restart()` then begins a second run, which
//! does not panic, and stops cleanly. A second runner shows a panicking *stop* function: `stop()`
//! reports it as `Error::StopPanicked`, and the runner is stopped all the same.
//!
//! Rust's default panic hook still prints each panic and its location on stderr: that output is
//! expected.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p runner-startstop --example panic_recovery
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_startstop::{Error, RunContext, StartStop};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    start_fn_panics().await?;
    stop_fn_panics().await?;
    Ok(())
}

async fn start_fn_panics() -> Result<(), Box<dyn std::error::Error>> {
    let attempts = Arc::new(AtomicUsize::new(0));
    let stop_calls = Arc::new(AtomicUsize::new(0));
    let runner = StartStop::new(
        {
            let attempts = Arc::clone(&attempts);
            move |run: RunContext| {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    if attempt == 1 {
                        panic!("something went wrong!");
                    }
                    println!("run {}: serving", run.run());
                    run.cancelled().await;
                    Ok::<_, std::io::Error>(())
                }
            }
        },
        {
            let stop_calls = Arc::clone(&stop_calls);
            move || {
                stop_calls.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, std::io::Error>(()) }
            }
        },
    );

    // `start()` only spawns the run, so it succeeds; the panic comes after.
    runner.start().await?;
    // Waits for the run to end, without polling (idle = `Stopped` or `Failed`).
    let seen = runner.wait_for(State::is_idle).await;
    println!("after the panic: {seen}, the process is still here");
    assert_eq!(seen.state, State::Failed);

    let Some(Exit::Panicked(panicked)) = runner.last_exit() else {
        return Err(format!("expected a panicked exit, got {:?}", runner.last_exit()).into());
    };
    println!("last exit: {panicked}");
    assert_eq!(panicked.message(), "something went wrong!");

    let errors = runner.errors();
    assert_eq!(errors.len(), 1);
    assert!(matches!(&*errors[0], Error::RunPanicked(p) if p.message() == "something went wrong!"));
    println!("recorded: {}", errors[0]);
    // The stop function still ran once for the run that panicked.
    assert_eq!(stop_calls.load(Ordering::SeqCst), 1);

    // Same runner, second run: `restart` = `stop` (a no-op on a failed runner) + `start`.
    runner.restart().await?;
    assert!(runner.is_running());
    runner.stop().await?;
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(runner.state(), State::Stopped);
    assert!(matches!(runner.last_exit(), Some(Exit::Stopped)));
    assert_eq!(stop_calls.load(Ordering::SeqCst), 2);
    // The panic of run 1 stays in the history.
    assert_eq!(runner.error_count(), 1);
    println!(
        "run 2 stopped cleanly; {} error recorded",
        runner.error_count()
    );
    Ok(())
}

/// A stop function that panics instead of releasing its lock file.
async fn release_lock_file() -> Result<(), std::io::Error> {
    panic!("lock file vanished");
}

async fn stop_fn_panics() -> Result<(), Box<dyn std::error::Error>> {
    let runner = StartStop::new(
        |run: RunContext| async move {
            run.cancelled().await;
            Ok::<_, std::io::Error>(())
        },
        release_lock_file,
    );
    runner.start().await?;

    let Err(error) = runner.stop().await else {
        return Err("stop() hid the stop function's panic".into());
    };
    println!("stop() returned: {error}");
    assert!(matches!(&error, Error::StopPanicked(p) if p.message() == "lock file vanished"));
    // Stopped all the same, not Failed: the runner was asked to stop and it did.
    assert_eq!(runner.state(), State::Stopped);
    assert!(matches!(runner.last_exit(), Some(Exit::Stopped)));
    assert_eq!(runner.error_count(), 1);
    assert!(matches!(
        runner.last_error().as_deref(),
        Some(Error::StopPanicked(_))
    ));
    // Nothing left to stop: a second `stop()` is a no-op.
    runner.stop().await?;
    Ok(())
}

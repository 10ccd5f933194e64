//! Regression tests for the ways a run used to end with nobody told: `start` outside a runtime
//! (defect A), the runtime dropped under a run (defect H), and a stop racing a failure (defect
//! G, "a stop never masks a failure").

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_startstop::{Error, RunContext, StartStop};

fn until_stopped() -> StartStop {
    StartStop::new(
        |run: RunContext| async move {
            run.cancelled().await;
            Ok::<_, Infallible>(())
        },
        || async { Ok::<_, Infallible>(()) },
    )
}

/// Polls `future` once, outside any runtime.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    pin!(future).poll(&mut Context::from_waker(Waker::noop()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

/// Defect A: `start` outside a runtime used to publish `Running`, then panic in `tokio::spawn`,
/// leaving a runner that every later call hung on.
#[test]
fn start_outside_a_runtime_is_a_typed_error_and_leaves_it_stopped() {
    let runner = until_stopped();
    match poll_once(runner.start()) {
        Poll::Ready(Err(Error::NoRuntime)) => {}
        other => panic!("expected Err(NoRuntime), got {other:?}"),
    }
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(
        runner.error_count(),
        1,
        "every error start returns is recorded"
    );
    assert!(matches!(poll_once(runner.stop()), Poll::Ready(Ok(()))));

    // Inside a runtime, the same runner starts and stops as if nothing happened.
    runtime().block_on(async {
        runner.start().await.expect("start inside a runtime");
        assert!(runner.is_running());
        runner.stop().await.expect("stop");
    });
    assert_eq!(runner.state(), State::Stopped);
}

/// Defect H: a runtime dropped under a running run used to drop the run's task without a word:
/// the runner stayed `Running`, and a `stop` from another runtime hung in `Stopping` for ever.
#[test]
fn a_runtime_dropped_under_a_run_reports_its_end() {
    let runner = until_stopped();
    let first = runtime();
    first.block_on(async {
        runner.start().await.expect("start");
        tokio::task::yield_now().await; // the run's task is polled once
    });
    drop(first);
    assert_eq!(runner.state(), State::Failed, "the run ended by itself");
    match runner.last_exit() {
        Some(Exit::Failed(error)) => assert!(error.to_string().contains("dropped"), "{error}"),
        other => panic!("expected a failed exit, got {other:?}"),
    }
    assert!(matches!(
        runner.last_error().as_deref(),
        Some(Error::Abandoned)
    ));

    runtime().block_on(async {
        let stopped = tokio::time::timeout(Duration::from_secs(5), runner.stop()).await;
        assert!(
            matches!(stopped, Ok(Ok(()))),
            "stop hung or failed: {stopped:?}"
        );
        // And it runs again on the new runtime.
        runner.start().await.expect("start on a new runtime");
        runner.stop().await.expect("stop");
    });
}

/// Defect H, mid-stop: the runtime is dropped while a stop waits for a slow stop function. The
/// run still reports its end: the runner is `Stopped` (a stop was asked for), nothing waits.
#[test]
fn a_runtime_dropped_while_stopping_still_ends_the_run() {
    let runner = StartStop::new(
        |run: RunContext| async move {
            run.cancelled().await;
            Ok::<_, Infallible>(())
        },
        std::future::pending::<Result<(), Infallible>>,
    );
    let first = runtime();
    first.block_on(async {
        runner.start().await.expect("start");
        let gave_up = tokio::time::timeout(Duration::from_secs(1), runner.stop()).await;
        assert!(gave_up.is_err(), "the stop function never ends");
        assert_eq!(runner.state(), State::Stopping);
    });
    drop(first);
    assert_eq!(runner.state(), State::Stopped);
    runtime().block_on(async {
        let stopped = tokio::time::timeout(Duration::from_secs(5), runner.stop()).await;
        assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
    });
}

/// Defect G: a stop that races a run failing by itself returns `Ok` (the stop itself went fine)
/// and leaves the runner `Failed`: the failure happened first and is not masked.
#[tokio::test(start_paused = true)]
async fn a_stop_after_a_failure_by_itself_keeps_the_failure() {
    let runner = StartStop::new(
        |_run: RunContext| async { Err::<(), _>(std::io::Error::other("disk full")) },
        || async {
            // The stop function runs after the failure, and a caller's stop arrives during it.
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, Infallible>(())
        },
    );
    runner.start().await.expect("start");
    runner.wait_for(|s| s == State::Stopping).await;
    runner.stop().await.expect("the stop itself went fine");
    assert_eq!(runner.state(), State::Failed, "the failure is not masked");
    assert!(matches!(runner.last_exit(), Some(Exit::Failed(_))));
    assert!(!runner.health().is_healthy());
}

//! The decided semantics of `StartStop`, one test each, on tokio's paused clock: time only moves
//! when every task is idle, so durations are exact and nothing sleeps for real.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Health, Runner, State, Status};
use runner_startstop::{
    BuildError, DEFAULT_EXIT_TIMEOUT, DEFAULT_STOP_FN_TIMEOUT, Error, RunContext, StartStop,
};
use tokio::time::Instant;

/// Counts calls of the stop function.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Counter {
    fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A stop function that counts its calls and succeeds.
fn counting_stop(
    counter: &Counter,
) -> impl Fn() -> std::future::Ready<Result<(), io::Error>> + Send + Sync + 'static {
    let counter = counter.clone();
    move || {
        counter.hit();
        std::future::ready(Ok(()))
    }
}

/// A start function that serves until cancelled.
async fn serve(run: RunContext) -> Result<(), io::Error> {
    run.cancelled().await;
    Ok(())
}

/// Sets its flag when dropped: tells whether a start function's future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn start_fn_returning_ok_by_itself_completes_and_runs_the_stop_fn_once() {
    let stops = Counter::default();
    let runner = StartStop::new(
        |_run: RunContext| async { Ok::<_, io::Error>(()) },
        counting_stop(&stops),
    );
    runner.start().await.unwrap();
    let seen = runner.wait_for(State::is_idle).await;
    assert_eq!(seen.state, State::Stopped);
    assert!(matches!(runner.last_exit(), Some(Exit::Completed)));
    assert_eq!(stops.get(), 1);
    assert_eq!(runner.error_count(), 0);
    runner.stop().await.unwrap();
    assert_eq!(stops.get(), 1, "stop on a stopped runner is a no-op");
}

#[tokio::test(start_paused = true)]
async fn start_fn_failing_by_itself_ends_failed_with_the_error_recorded() {
    let stops = Counter::default();
    let runner = StartStop::new(
        |_run: RunContext| async { Err::<(), _>(io::Error::other("disk full")) },
        counting_stop(&stops),
    );
    runner.start().await.unwrap();
    runner.wait_for(State::is_idle).await;
    assert_eq!(runner.state(), State::Failed);
    let exit = runner.last_exit().unwrap();
    assert_eq!(exit.to_string(), "failed: run failed: disk full");
    assert!(
        matches!(&*runner.last_error().unwrap(), Error::Run(e) if e.to_string() == "disk full")
    );
    assert_eq!(runner.error_count(), 1);
    assert_eq!(
        stops.get(),
        1,
        "the stop function runs once after an exit by itself"
    );
    assert_eq!(
        runner.health(),
        Health::unhealthy("failed: run failed: disk full")
    );
    runner.stop().await.unwrap();
    assert_eq!(
        runner.state(),
        State::Failed,
        "stop on a failed runner is a no-op"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_start_fn_is_caught_with_its_message() {
    let stops = Counter::default();
    let runner = StartStop::new(
        |_run: RunContext| async {
            tokio::task::yield_now().await;
            panic!("something went wrong!");
            #[allow(unreachable_code, reason = "gives the async block its output type")]
            Ok::<_, io::Error>(())
        },
        counting_stop(&stops),
    );
    runner.start().await.unwrap();
    runner.wait_for(State::is_idle).await;
    assert_eq!(runner.state(), State::Failed);
    match runner.last_exit() {
        Some(Exit::Panicked(p)) => assert_eq!(p.message(), "something went wrong!"),
        other => panic!("expected a panicked exit, got {other:?}"),
    }
    assert!(matches!(
        &*runner.last_error().unwrap(),
        Error::RunPanicked(_)
    ));
    assert_eq!(stops.get(), 1);
    // The runner is usable again.
    runner.start().await.unwrap();
    assert_eq!(runner.wait_for(State::is_idle).await.state, State::Failed);
    assert_eq!(runner.error_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_panic_before_the_start_fn_returns_its_future_is_caught_too() {
    let runner = StartStop::new(
        |_run: RunContext| -> std::future::Ready<Result<(), io::Error>> {
            panic!("bad configuration")
        },
        || async { Ok::<_, io::Error>(()) },
    );
    runner.start().await.unwrap();
    runner.wait_for(State::is_idle).await;
    assert_eq!(
        runner.last_exit().unwrap().to_string(),
        "panicked: bad configuration"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_stop_fn_is_returned_and_recorded_and_the_runner_is_stopped() {
    let runner = StartStop::new(serve, || async {
        Err::<(), _>(io::Error::other("connection already closed"))
    });
    runner.start().await.unwrap();
    let error = runner.stop().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "stop hook failed: connection already closed"
    );
    assert_eq!(runner.state(), State::Stopped);
    assert!(matches!(runner.last_exit(), Some(Exit::Stopped)));
    assert_eq!(runner.error_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_stop_fn_is_reported_as_such() {
    let runner = StartStop::new(serve, || async {
        panic!("shutdown bug");
        #[allow(unreachable_code, reason = "gives the async block its output type")]
        Ok::<_, io::Error>(())
    });
    runner.start().await.unwrap();
    match runner.stop().await {
        Err(Error::StopPanicked(p)) => assert_eq!(p.message(), "shutdown bug"),
        other => panic!("expected StopPanicked, got {other:?}"),
    }
    assert_eq!(runner.state(), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_stop_fn_past_its_deadline_times_out_after_exactly_the_deadline() {
    let runner = StartStop::new(serve, std::future::pending::<Result<(), io::Error>>);
    runner.start().await.unwrap();
    let began = Instant::now();
    let error = runner.stop().await.unwrap_err();
    assert!(matches!(error, Error::StopTimedOut(d) if d == DEFAULT_STOP_FN_TIMEOUT));
    assert_eq!(began.elapsed(), DEFAULT_STOP_FN_TIMEOUT);
    assert_eq!(runner.state(), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn the_stop_fn_is_never_cancelled_early_even_when_the_caller_gives_up() {
    let finished = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&finished);
    let runner = StartStop::new(serve, move || {
        let flag = Arc::clone(&flag);
        async move {
            tokio::time::sleep(Duration::from_secs(4)).await; // a slow, graceful drain
            flag.store(true, Ordering::SeqCst);
            Ok::<_, io::Error>(())
        }
    });
    runner.start().await.unwrap();
    let began = Instant::now();
    // The caller bounds stop to 1 s by dropping its future.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), runner.stop())
            .await
            .is_err()
    );
    assert_eq!(runner.state(), State::Stopping);
    assert!(!finished.load(Ordering::SeqCst));
    // A later stop waits for the same shutdown, which ran to its end.
    runner.stop().await.unwrap();
    assert!(finished.load(Ordering::SeqCst));
    assert_eq!(began.elapsed(), Duration::from_secs(4));
    assert_eq!(runner.state(), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_start_fn_ignoring_cancellation_is_aborted_after_the_exit_timeout() {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let runner = StartStop::new(
        move |_run: RunContext| {
            let guard = DropFlag(Arc::clone(&flag));
            async move {
                let _guard = guard;
                loop {
                    tokio::time::sleep(Duration::from_secs(3600)).await; // ignores the token
                }
                #[allow(unreachable_code, reason = "gives the async block its output type")]
                Ok::<_, io::Error>(())
            }
        },
        || async { Ok::<_, io::Error>(()) },
    );
    runner.start().await.unwrap();
    let began = Instant::now();
    let error = runner.stop().await.unwrap_err();
    assert!(
        matches!(&error, Error::Aborted { grace, stop_error: None } if *grace == DEFAULT_EXIT_TIMEOUT),
        "{error:?}"
    );
    assert_eq!(began.elapsed(), DEFAULT_EXIT_TIMEOUT);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the start fn was dropped before stop returned"
    );
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(runner.error_count(), 1);
    match runner.last_exit() {
        Some(Exit::Failed(e)) => assert!(e.to_string().contains("was aborted"), "{e}"),
        other => panic!("an aborted run did not end cleanly, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_abort_carries_the_stop_fns_own_error_as_its_source() {
    let runner = StartStop::builder(
        |_run: RunContext| std::future::pending::<Result<(), io::Error>>(),
        || async { Err::<(), _>(io::Error::other("flush failed")) },
    )
    .exit_timeout(Duration::from_millis(100))
    .build()
    .unwrap();
    runner.start().await.unwrap();
    let error = runner.stop().await.unwrap_err();
    let source = std::error::Error::source(&error).expect("the stop fn's error is the source");
    assert_eq!(source.to_string(), "stop hook failed: flush failed");
    assert_eq!(runner.error_count(), 2, "both errors are recorded");
    let kinds: Vec<String> = runner.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(
        kinds,
        [
            "stop hook failed: flush failed",
            "run did not end within 100ms after the stop hook and was aborted"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_returned_while_stopping_is_recorded_but_the_runner_is_stopped() {
    let runner = StartStop::new(
        |run: RunContext| async move {
            run.cancelled().await;
            Err::<(), _>(io::Error::other("flush on shutdown failed"))
        },
        || async { Ok::<_, io::Error>(()) },
    );
    runner.start().await.unwrap();
    runner
        .stop()
        .await
        .expect("the stop itself went fine: the stop fn succeeded");
    assert_eq!(
        runner.state(),
        State::Stopped,
        "it was asked to stop, and did"
    );
    assert!(matches!(runner.last_exit(), Some(Exit::Failed(_))));
    assert_eq!(runner.error_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn restart_runs_the_stop_fn_once_per_run_and_numbers_the_runs() {
    let stops = Counter::default();
    let last_run = Arc::new(AtomicU64::new(0));
    let seen_run = Arc::clone(&last_run);
    let runner = StartStop::new(
        move |run: RunContext| {
            seen_run.store(run.run(), Ordering::SeqCst);
            serve(run)
        },
        counting_stop(&stops),
    );
    runner.start().await.unwrap();
    for expected in 2..=4 {
        runner.restart().await.unwrap();
        assert!(runner.is_running());
        tokio::task::yield_now().await;
        assert_eq!(last_run.load(Ordering::SeqCst), expected);
    }
    runner.stop().await.unwrap();
    assert_eq!(stops.get(), 4);
}

#[tokio::test(start_paused = true)]
async fn the_error_history_is_bounded_counts_everything_and_is_never_cleared() {
    let runner = StartStop::builder(
        |_run: RunContext| async { Err::<(), _>(io::Error::other("boom")) },
        || async { Ok::<_, io::Error>(()) },
    )
    .error_capacity(2)
    .build()
    .unwrap();
    for _ in 0..5 {
        runner.start().await.unwrap();
        runner.wait_for(State::is_idle).await;
    }
    assert_eq!(runner.error_capacity(), 2);
    assert_eq!(runner.errors().len(), 2);
    assert_eq!(runner.error_count(), 5);
    runner.start().await.unwrap();
    assert_eq!(runner.error_count(), 5, "start never clears the history");
}

#[tokio::test(start_paused = true)]
async fn uptime_follows_the_clock_while_running_only() {
    let runner = StartStop::new(serve, || async { Ok::<_, io::Error>(()) });
    assert_eq!(runner.uptime(), None);
    runner.start().await.unwrap();
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(runner.uptime(), Some(Duration::from_secs(10)));
    runner.stop().await.unwrap();
    assert_eq!(runner.uptime(), None);
}

#[tokio::test(start_paused = true)]
async fn every_state_change_wakes_a_watcher_in_another_task() {
    let runner = Arc::new(StartStop::new(serve, || async { Ok::<_, io::Error>(()) }));
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut seen = runner.snapshot(); // before `start`, so no change can slip by
    let watcher = {
        let runner = Arc::clone(&runner);
        tokio::spawn(async move {
            while seen.state != State::Stopped || seen.version.get() == 0 {
                seen = runner.changed(seen.version).await;
                seen_tx.send(seen).unwrap();
            }
        })
    };
    runner.start().await.unwrap();
    let running = seen_rx.recv().await.unwrap();
    assert_eq!(
        running.state,
        State::Running,
        "the watcher was woken by start"
    );
    runner.stop().await.unwrap();
    watcher.await.unwrap();
    // After Running, the watcher saw Stopping then Stopped, or only Stopped if it was not
    // scheduled in between: versions tell it that a state passed by.
    let mut rest = Vec::new();
    while let Ok(seen) = seen_rx.try_recv() {
        rest.push(seen);
    }
    let last = rest.last().unwrap();
    assert_eq!(last.state, State::Stopped);
    assert_eq!(last.version.get(), running.version.get() + 2);
    assert!(rest.windows(2).all(|w| w[0].version < w[1].version));
}

#[tokio::test(start_paused = true)]
async fn dropping_a_running_runner_stops_its_run_and_still_runs_the_stop_fn() {
    let stops = Counter::default();
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancelled);
    let runner = StartStop::new(
        move |run: RunContext| {
            let flag = Arc::clone(&flag);
            async move {
                run.cancelled().await;
                flag.store(true, Ordering::SeqCst);
                Ok::<_, io::Error>(())
            }
        },
        counting_stop(&stops),
    );
    runner.start().await.unwrap();
    drop(runner);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(cancelled.load(Ordering::SeqCst));
    assert_eq!(stops.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_starts_and_stops_from_many_tasks_settle_consistently() {
    let stops = Counter::default();
    let runner = Arc::new(StartStop::new(serve, counting_stop(&stops)));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let runner = Arc::clone(&runner);
            tokio::spawn(async move {
                for _ in 0..10 {
                    if i % 2 == 0 {
                        runner.start().await.unwrap();
                    } else {
                        runner.stop().await.unwrap();
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    runner.stop().await.unwrap();
    assert_eq!(runner.state(), State::Stopped);
    let runs = runner.snapshot().version.get() / 3;
    assert_eq!(stops.get(), runs, "one stop fn call per run");
    assert_eq!(runner.error_count(), 0);
}

#[test]
fn bad_settings_are_typed_errors() {
    let start = |run: RunContext| serve(run);
    let stop = || async { Ok::<_, io::Error>(()) };
    let built = StartStop::builder(start, stop).name("").build();
    assert_eq!(built.unwrap_err(), BuildError::EmptyName);
    let built = StartStop::builder(start, stop)
        .stop_fn_timeout(Duration::ZERO)
        .build();
    assert_eq!(built.unwrap_err(), BuildError::ZeroStopHookTimeout);
    let built = StartStop::builder(start, stop)
        .exit_timeout(Duration::ZERO)
        .build();
    assert!(
        built.is_ok(),
        "a zero exit timeout aborts at once, by choice"
    );
}

//! Regression tests for the ways a ticker used to die silently: `start` outside a runtime
//! (defect A), user durations added to an `Instant` with `+` (defects B–E: `Duration::MAX` as
//! the period, run timeout, stop grace or a new period panicked inside the task, which died
//! behind a `Running` state), and the runtime dropped under it (defect H).

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_ticker::{Error, FirstRun, TickContext, Ticker};

const SECOND: Duration = Duration::from_secs(1);

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

/// A ticker counting its runs, each lasting `lasts`.
fn counting(period: Duration, lasts: Duration) -> (Ticker, Arc<AtomicU64>) {
    let runs = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&runs);
    let ticker = Ticker::builder(period, move |tick: TickContext| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::select! {
                () = tick.cancelled() => {}
                () = tokio::time::sleep(lasts) => {}
            }
            Ok::<_, Infallible>(())
        }
    })
    .first_run(FirstRun::Immediately);
    (ticker.build().expect("valid settings"), runs)
}

/// Stops within a bound, or fails the test: the old ticker hung here.
async fn stop_promptly(ticker: &Ticker) -> Result<(), Error> {
    tokio::time::timeout(Duration::from_secs(60), ticker.stop())
        .await
        .expect("stop hung: the ticker's task is dead behind a live state")
}

/// Defect A.
#[test]
fn start_outside_a_runtime_is_a_typed_error_and_leaves_it_stopped() {
    let (ticker, runs) = counting(SECOND, Duration::ZERO);
    match poll_once(ticker.start()) {
        Poll::Ready(Err(Error::NoRuntime)) => {}
        other => panic!("expected Err(NoRuntime), got {other:?}"),
    }
    assert_eq!(ticker.state(), State::Stopped);
    assert_eq!(ticker.error_count(), 1);
    runtime().block_on(async {
        ticker.start().await.expect("start inside a runtime");
        tokio::time::sleep(SECOND / 2).await;
        stop_promptly(&ticker).await.expect("stop");
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// Defect B: `Ticker::new(Duration::MAX, f)` built, then panicked inside `start`.
#[tokio::test(start_paused = true)]
async fn a_period_of_duration_max_never_ticks_and_stops() {
    let runs = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&runs);
    let ticker = Ticker::new(Duration::MAX, move |_tick: TickContext| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(()) }
    })
    .expect("Duration::MAX is a valid period: never");
    ticker.start().await.expect("start");
    tokio::time::sleep(Duration::from_secs(86_400)).await;
    assert!(ticker.is_running());
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    stop_promptly(&ticker).await.expect("stop");
    assert_eq!(ticker.state(), State::Stopped);
}

/// Defect C: `run_timeout(Duration::MAX)` panicked in the task on the first tick.
#[tokio::test(start_paused = true)]
async fn a_run_timeout_of_duration_max_is_no_limit() {
    let runs = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&runs);
    let ticker = Ticker::builder(SECOND, move |_tick: TickContext| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(()) }
    })
    .run_timeout(Duration::MAX)
    .build()
    .expect("valid settings");
    ticker.start().await.expect("start");
    tokio::time::sleep(SECOND * 3 + SECOND / 2).await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(ticker.error_count(), 0);
    stop_promptly(&ticker).await.expect("stop");
}

/// Defect D: `stop_grace(Duration::MAX)` panicked in the task when a stop met a run in
/// progress.
#[tokio::test(start_paused = true)]
async fn a_stop_grace_of_duration_max_waits_for_the_run() {
    let ticker = Ticker::builder(SECOND, |tick: TickContext| async move {
        tick.cancelled().await;
        tokio::time::sleep(Duration::from_secs(3600)).await; // a slow wind-down
        Ok::<_, Infallible>(())
    })
    .first_run(FirstRun::Immediately)
    .stop_grace(Duration::MAX)
    .build()
    .expect("valid settings");
    ticker.start().await.expect("start");
    tokio::time::sleep(SECOND / 2).await;
    let stopped = tokio::time::timeout(Duration::from_secs(7200), ticker.stop()).await;
    assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
    assert_eq!(ticker.stats().runs, 1);
}

/// Defect E: `set_period(Duration::MAX)` from inside a run panicked in the task.
#[tokio::test(start_paused = true)]
async fn set_period_of_duration_max_means_no_further_tick() {
    let ticker = Ticker::builder(SECOND, |tick: TickContext| async move {
        tick.set_period(Duration::MAX)?;
        Ok::<_, runner_ticker::BuildError>(())
    })
    .first_run(FirstRun::Immediately)
    .build()
    .expect("valid settings");
    ticker.start().await.expect("start");
    tokio::time::sleep(Duration::from_secs(86_400)).await;
    assert!(ticker.is_running());
    assert_eq!(ticker.stats().runs, 1);
    assert_eq!(ticker.period(), Some(Duration::MAX));
    stop_promptly(&ticker).await.expect("stop");
}

/// Defect H.
#[test]
fn a_runtime_dropped_under_a_ticker_reports_its_end() {
    let (ticker, _runs) = counting(SECOND, Duration::ZERO);
    let first = runtime();
    first.block_on(async {
        ticker.start().await.expect("start");
        tokio::time::sleep(SECOND / 2).await;
    });
    drop(first);
    assert_eq!(ticker.state(), State::Failed);
    assert!(matches!(ticker.last_exit(), Some(Exit::Failed(_))));
    assert!(matches!(
        ticker.last_error().as_deref(),
        Some(Error::Abandoned)
    ));
    assert!(!ticker.health().is_healthy());
    runtime().block_on(async {
        stop_promptly(&ticker).await.expect("a no-op");
        ticker.start().await.expect("start on a new runtime");
        stop_promptly(&ticker).await.expect("stop");
    });
}

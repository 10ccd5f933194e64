//! `Ticker::until_runs`: waiting for a run count without polling; and `Stats` on tokio's clock,
//! like `TickContext::scheduled`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use runner_core::Runner;
use runner_ticker::{FirstRun, TickContext, Ticker};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn every_second(first: FirstRun) -> (Ticker, Arc<Mutex<Vec<Instant>>>) {
    let due = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&due);
    let ticker = Ticker::builder(SECOND, move |tick: TickContext| {
        seen.lock().unwrap().push(tick.scheduled());
        async { Ok::<_, Infallible>(()) }
    })
    .first_run(first)
    .build()
    .expect("valid settings");
    (ticker, due)
}

#[tokio::test(start_paused = true)]
async fn resolves_when_the_nth_run_has_ended() {
    let (ticker, _) = every_second(FirstRun::AfterPeriod);
    let t0 = Instant::now();
    ticker.start().await.unwrap();
    let stats = ticker.until_runs(3).await;
    assert_eq!(stats.runs, 3);
    assert_eq!(
        Instant::now() - t0,
        SECOND * 3,
        "no later than the third tick"
    );
    // A count already reached resolves at once, with the current stats.
    assert_eq!(ticker.until_runs(2).await.runs, 3);
    assert_eq!(ticker.until_runs(0).await.runs, 3);
    ticker.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_first_run_of_an_immediate_ticker_can_be_awaited() {
    let (ticker, due) = every_second(FirstRun::Immediately);
    let t0 = Instant::now();
    ticker.start().await.unwrap();
    assert_eq!(ticker.until_runs(1).await.runs, 1);
    assert_eq!(Instant::now(), t0, "run #1 is due at the start");
    assert_eq!(due.lock().unwrap().len(), 1);
    ticker.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn several_readers_wait_for_different_counts() {
    let (ticker, _) = every_second(FirstRun::AfterPeriod);
    ticker.start().await.unwrap();
    let (two, five) = tokio::join!(ticker.until_runs(2), ticker.until_runs(5));
    assert_eq!((two.runs, five.runs), (2, 5));
    ticker.stop().await.unwrap();
}

/// Counts how often it is woken.
#[derive(Default)]
struct Wakes(Mutex<u32>);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        *self.0.lock().unwrap() += 1;
    }
}

#[tokio::test(start_paused = true)]
async fn a_reader_is_woken_by_runs_only_and_leaves_nothing_when_dropped() {
    let (ticker, _) = every_second(FirstRun::AfterPeriod);
    ticker.start().await.unwrap();
    let wakes = Arc::new(Wakes::default());
    let waker = Waker::from(Arc::clone(&wakes));
    let mut cx = Context::from_waker(&waker);
    {
        let mut waiting = pin!(ticker.until_runs(3));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        tokio::time::sleep(SECOND / 2).await;
        assert_eq!(*wakes.0.lock().unwrap(), 0, "nothing ran: not woken");
        tokio::time::sleep(SECOND).await; // run #1
        assert_eq!(*wakes.0.lock().unwrap(), 1, "woken by the run");
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
    } // dropped before run #3
    tokio::time::sleep(SECOND * 3).await;
    assert_eq!(
        *wakes.0.lock().unwrap(),
        1,
        "a dropped reader is not woken again"
    );
    assert_eq!(ticker.stats().runs, 4);
    ticker.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn last_run_start_is_on_the_clock_of_scheduled() {
    let (ticker, due) = every_second(FirstRun::AfterPeriod);
    ticker.start().await.unwrap();
    let stats = ticker.until_runs(2).await;
    let scheduled = *due.lock().unwrap().last().unwrap();
    // No jitter, a paused clock: the run started exactly when its tick was due.
    assert_eq!(stats.last_run_start, Some(scheduled));
    ticker.stop().await.unwrap();
}

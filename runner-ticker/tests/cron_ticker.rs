//! A `Ticker` on a cron schedule, on tokio's paused clock.
#![cfg(feature = "cron")]

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_core::Runner;
use runner_ticker::cron::CronSchedule;
use runner_ticker::{BuildError, MissedTicks, TickContext, Ticker};
use tokio::time::Instant;

/// Runs a ticker on `expression` for `span`, each run lasting `lasts`; returns when each run
/// was due, relative to the first, and the ticker.
async fn due_times(
    expression: &str,
    policy: MissedTicks,
    lasts: Duration,
    span: Duration,
) -> Vec<Duration> {
    let due = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&due);
    let schedule = CronSchedule::parse_utc(expression).expect("a valid expression");
    let ticker = Ticker::cron(schedule, move |tick: TickContext| {
        log.lock().unwrap().push(tick.scheduled());
        assert_eq!(tick.period(), None);
        assert_eq!(
            tick.set_period(Duration::from_secs(1)),
            Err(BuildError::NoPeriod)
        );
        async move {
            tokio::time::sleep(lasts).await;
            Ok::<_, io::Error>(())
        }
    })
    .missed_ticks(policy)
    .build()
    .expect("valid settings");
    ticker.start().await.unwrap();
    tokio::time::sleep(span).await;
    ticker.stop().await.unwrap();
    let due = due.lock().unwrap().clone();
    let first = due[0];
    due.into_iter().map(|at: Instant| at - first).collect()
}

#[tokio::test(start_paused = true)]
async fn runs_at_each_occurrence() {
    // The first occurrence is the next whole second of the wall clock, 0-1 s after the start:
    // within 6.5 s there are 6 or 7 runs; the first 6 are exactly 1 s apart.
    let due = due_times(
        "* * * * * *",
        MissedTicks::Skip,
        Duration::ZERO,
        Duration::from_millis(6_500),
    )
    .await;
    let seconds: Vec<u64> = due.iter().take(6).map(Duration::as_secs).collect();
    assert_eq!(seconds, [0, 1, 2, 3, 4, 5]);
    assert!(
        due.iter().all(|d| d.subsec_nanos() == 0),
        "occurrences are whole seconds apart"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_run_skips_the_occurrences_it_missed() {
    // Every second, first at f (0-1 s after the start); each run lasts 2.5 s. Runs start at
    // f (due f), f+2.5 (the late f+1), f+5 (due f+3), f+7.5 (due f+6); f+10 is past the span.
    let due = due_times(
        "* * * * * *",
        MissedTicks::Skip,
        Duration::from_millis(2_500),
        Duration::from_millis(9_900),
    )
    .await;
    let ms: Vec<u128> = due.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 1_000, 3_000, 6_000]);
}

#[tokio::test(start_paused = true)]
async fn burst_runs_every_missed_occurrence() {
    // Runs start at f, f+2.5, f+5, f+7.5 for due f, f+1, f+2, f+3.
    let due = due_times(
        "* * * * * *",
        MissedTicks::Burst,
        Duration::from_millis(2_500),
        Duration::from_millis(9_900),
    )
    .await;
    let ms: Vec<u128> = due.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 1_000, 2_000, 3_000]);
}

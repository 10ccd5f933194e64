//! When do runs start? Random periods, run durations, missed-tick policies and first-run modes,
//! checked against a model: an independent simulation of the documented rules, in whole
//! milliseconds. The ticker runs on tokio's paused clock, so its start times are exact.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use runner_core::Runner;
use runner_ticker::{FirstRun, MissedTicks, TickContext, Ticker};
use tokio::time::Instant;

/// The documented rules: a tick that came due during a run fires as soon as the run ends; after
/// a tick that fired a whole period or more late, Burst keeps the grid, Skip jumps to the first
/// grid point after the firing, Delay restarts the grid from the firing.
fn model(
    period: u64,
    first: FirstRun,
    policy: MissedTicks,
    lasts: &[u64],
    horizon: u64,
) -> Vec<u64> {
    let mut due = match first {
        FirstRun::Immediately => 0,
        _ => period,
    };
    let mut free_at = 0; // when the previous run ended
    let mut starts = Vec::new();
    while starts.len() < 10_000 {
        let start = due.max(free_at);
        if start > horizon {
            break;
        }
        starts.push(start);
        due = if start < due + period {
            due + period
        } else {
            match policy {
                MissedTicks::Burst => due + period,
                MissedTicks::Delay => start + period,
                _ => due + period * ((start - due) / period + 1),
            }
        };
        free_at = start + lasts[(starts.len() - 1) % lasts.len()];
    }
    starts
}

/// The real ticker's start times, in milliseconds, until `horizon` (plus half a millisecond, so
/// that no run is due exactly when the test stops it).
fn observed(
    period: u64,
    first: FirstRun,
    policy: MissedTicks,
    lasts: &[u64],
    horizon: u64,
) -> Vec<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let t0 = Instant::now();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&starts);
        let lasts: Arc<[u64]> = lasts.into();
        let ticker = Ticker::builder(Duration::from_millis(period), move |tick: TickContext| {
            let index = log.lock().unwrap().len();
            let ms = u64::try_from((Instant::now() - t0).as_millis()).unwrap();
            log.lock().unwrap().push(ms);
            let lasts = Duration::from_millis(lasts[index % lasts.len()]);
            async move {
                tokio::select! {
                    () = tokio::time::sleep(lasts) => {}
                    () = tick.cancelled() => {}
                }
                Ok::<_, io::Error>(())
            }
        })
        .first_run(first)
        .missed_ticks(policy)
        .build()
        .expect("valid settings");
        ticker.start().await.expect("start");
        tokio::time::sleep_until(t0 + Duration::from_micros(horizon * 1000 + 500)).await;
        ticker.stop().await.expect("stop");
        starts.lock().unwrap().clone()
    })
}

fn policy() -> impl Strategy<Value = MissedTicks> {
    prop_oneof![
        Just(MissedTicks::Skip),
        Just(MissedTicks::Burst),
        Just(MissedTicks::Delay)
    ]
}

fn first_run() -> impl Strategy<Value = FirstRun> {
    prop_oneof![Just(FirstRun::AfterPeriod), Just(FirstRun::Immediately)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn runs_start_when_the_model_says(
        period in 1u64..=50,
        first in first_run(),
        policy in policy(),
        // Each run lasts up to three periods; zero-length runs too.
        lasts in prop::collection::vec(0u64..=150, 1..6),
        periods in 5u64..=30,
    ) {
        let horizon = period * periods;
        let expected = model(period, first, policy, &lasts, horizon);
        let seen = observed(period, first, policy, &lasts, horizon);
        prop_assert_eq!(seen, expected);
    }
}

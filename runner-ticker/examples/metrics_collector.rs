//! The plumego "Metrics Collector" pattern on a `Ticker`: every 20 ms, record a few values into
//! a shared metrics store, and see what `MissedTicks::Skip` and `set_period` do to the schedule.
//!
//! Each run records its lateness (`Instant::now() - tick.scheduled()`), a tick counter and a
//! fake gauge. Run #3 is deliberately slow (2.5 periods). With `MissedTicks::Skip` (the
//! default, spelled out here), the tick that came due during it runs as soon as it ends, late,
//! and the ticks missed meanwhile are dropped: the next one is due on the original grid, later
//! than now, not immediately (`Burst`) and not off the grid (`Delay`). Run #6 then calls
//! `tick.set_period` to halve the rate: the next tick is due one new period after that call.
//! The example asserts these on the ticks' scheduled instants, which are exact, rather than on
//! when the runs happened to start, which depends on the machine's load. It ends with a summary
//! from `stats()`.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p runner-ticker --example metrics_collector
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_core::{ErrorHistory, Runner, Status};
use runner_ticker::{BuildError, MissedTicks, TickContext, Ticker};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const PERIOD: Duration = Duration::from_millis(20);
/// The run that takes 2.5 periods.
const SLOW_RUN: u64 = 3;
/// The run that doubles the period.
const RESET_RUN: u64 = 6;
/// The last run the example waits for.
const LAST_RUN: u64 = 8;
/// The bound on every wait: far more than the example needs, so only a regression reaches it.
const DEADLINE: Duration = Duration::from_secs(1);

/// Named series of values: plumego's `MetricsStore.Record(name, value)`.
#[derive(Default)]
struct MetricsStore {
    series: Mutex<BTreeMap<&'static str, Vec<f64>>>,
}

impl MetricsStore {
    fn record(&self, name: &'static str, value: f64) {
        let mut series = self.series.lock().expect("store lock");
        series.entry(name).or_default().push(value);
    }

    fn series(&self, name: &str) -> Vec<f64> {
        let series = self.series.lock().expect("store lock");
        series.get(name).cloned().unwrap_or_default()
    }
}

/// What one run tells `main` about its tick.
#[derive(Debug)]
struct Sample {
    seq: u64,
    scheduled: Instant,
    started: Instant,
    lateness: Duration,
    /// When the run called `set_period`: just before and just after the call.
    reset: Option<(Instant, Duration, Instant)>,
}

/// The offset of `at` from `origin`, in whole periods; `None` if it is not on that grid.
fn periods(origin: Instant, at: Instant, period: Duration) -> Option<u128> {
    let offset = at.duration_since(origin).as_nanos();
    (offset % period.as_nanos() == 0).then(|| offset / period.as_nanos())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(MetricsStore::default());
    let (samples_tx, mut samples) = mpsc::unbounded_channel::<Sample>();

    let collector = Ticker::builder(PERIOD, {
        let store = Arc::clone(&store);
        move |tick: TickContext| {
            let store = Arc::clone(&store);
            let samples = samples_tx.clone();
            async move {
                let started = Instant::now();
                let lateness = started.saturating_duration_since(tick.scheduled());
                let seq = tick.seq();
                store.record("collector.lateness_ms", lateness.as_secs_f64() * 1e3);
                store.record("collector.ticks_total", seq as f64);
                store.record("app.open_connections", (seq * 7 % 5) as f64);
                if seq == SLOW_RUN {
                    // A slow scrape: the ticks due during it cannot run (runs never overlap).
                    tokio::time::sleep(PERIOD * 5 / 2).await;
                }
                let mut reset = None;
                if seq == RESET_RUN {
                    let before = Instant::now();
                    tick.set_period(PERIOD * 2)?; // collect half as often from now on
                    reset = Some((before, PERIOD * 2, Instant::now()));
                }
                let _ = samples.send(Sample {
                    seq,
                    scheduled: tick.scheduled(),
                    started,
                    lateness,
                    reset,
                });
                Ok::<_, BuildError>(())
            }
        }
    })
    .name("metrics-collector")
    .missed_ticks(MissedTicks::Skip)
    .build()?;

    collector.start().await?;
    let mut runs: Vec<Sample> = Vec::new();
    while runs.last().is_none_or(|sample| sample.seq < LAST_RUN) {
        runs.push(
            timeout(DEADLINE, samples.recv())
                .await?
                .ok_or("collector gone")?,
        );
    }
    collector.stop().await?;

    let origin = runs[0].scheduled;
    println!("seq  due (ms after #1)  since previous  lateness");
    let mut previous = origin;
    for sample in &runs {
        println!(
            "{:>3}  {:>16.1}  {:>14.1?}  {:>8.1?}",
            sample.seq,
            sample.scheduled.duration_since(origin).as_secs_f64() * 1e3,
            sample.scheduled.duration_since(previous),
            sample.lateness,
        );
        previous = sample.scheduled;
    }
    let seqs: Vec<u64> = runs.iter().map(|sample| sample.seq).collect();
    assert_eq!(seqs, (1..=LAST_RUN).collect::<Vec<_>>());
    let at = |seq: u64| &runs[usize::try_from(seq - 1).expect("small")];

    // Up to the reset, every tick is due on the grid origin + k * PERIOD, k increasing.
    let mut slots = Vec::new();
    for seq in 1..=RESET_RUN {
        let k = periods(origin, at(seq).scheduled, PERIOD)
            .ok_or_else(|| format!("tick #{seq} is off the grid"))?;
        slots.push(k);
    }
    assert!(slots.windows(2).all(|w| w[0] < w[1]), "{slots:?}");

    // The tick after the slow run came due during it and ran as soon as it ended: late by at
    // least 1.5 periods. The tick after that is on the grid again and due after the slow run
    // ended (`Burst` would have made it due during the slow run, to run at once), so at least
    // one tick in between was dropped.
    let slow = at(SLOW_RUN);
    let late = at(SLOW_RUN + 1);
    let next = at(SLOW_RUN + 2);
    assert!(late.lateness >= PERIOD * 3 / 2, "{late:?}");
    assert!(
        next.scheduled > slow.started + PERIOD * 5 / 2,
        "tick #{} was due before the slow run ended",
        SLOW_RUN + 2
    );
    let gap = slots[usize::try_from(SLOW_RUN + 1).expect("small")]
        - slots[usize::try_from(SLOW_RUN).expect("small")];
    assert!(
        gap >= 2,
        "tick #{} is {gap} period(s) after #{}",
        SLOW_RUN + 2,
        SLOW_RUN + 1
    );
    println!(
        "after the slow run #{SLOW_RUN}: #{} ran {:.1?} late, then {} tick(s) dropped",
        SLOW_RUN + 1,
        late.lateness,
        gap - 1
    );

    // The reset: the next tick is due one new period after the call, then every new period.
    let (before, new_period, after) = at(RESET_RUN).reset.ok_or("run #6 reset the period")?;
    let first_after = at(RESET_RUN + 1).scheduled;
    assert!(
        before + new_period <= first_after && first_after <= after + new_period,
        "tick #{} is due {:?} after the set_period call",
        RESET_RUN + 1,
        first_after.saturating_duration_since(before)
    );
    for seq in RESET_RUN + 1..=LAST_RUN {
        let k = periods(first_after, at(seq).scheduled, new_period)
            .ok_or_else(|| format!("tick #{seq} is off the new grid"))?;
        assert!(seq == RESET_RUN + 1 || k > 0);
    }

    // The store got one value per run in each series (runs after LAST_RUN may add more).
    let ticks = store.series("collector.ticks_total");
    assert!(ticks.len() >= runs.len());
    let worst_lateness_ms = store
        .series("collector.lateness_ms")
        .into_iter()
        .fold(0.0, f64::max);
    assert!(worst_lateness_ms >= (PERIOD * 3 / 2).as_secs_f64() * 1e3);
    assert!(!store.series("app.open_connections").is_empty());

    let stats = collector.stats();
    assert!(stats.runs >= LAST_RUN, "{stats:?}");
    assert_eq!((stats.failures, stats.panics, stats.timeouts), (0, 0, 0));
    assert_eq!(collector.error_count(), 0);
    let slowest = stats.durations.max().ok_or("runs were timed")?;
    assert!(slowest >= PERIOD * 5 / 2, "the slow run took {slowest:?}");
    assert!(!collector.is_running());
    println!(
        "stats: {} runs, mean {:.1?}, min {:.1?}, max {:.1?}; worst lateness {worst_lateness_ms:.1} ms",
        stats.runs,
        stats.durations.mean().unwrap_or_default(),
        stats.durations.min().unwrap_or_default(),
        slowest
    );
    Ok(())
}

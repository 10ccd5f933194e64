//! The exact behaviour of `Ticker` on tokio's paused clock: time only moves when every task is
//! idle, so run start times are exact and nothing sleeps for real.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Health, Runner, State, Status};
use runner_ticker::{BuildError, Error, FirstRun, MIN_PERIOD, MissedTicks, TickContext, Ticker};
use tokio::time::Instant;

const P: Duration = Duration::from_secs(10);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// What each run saw: its number, when it started and when it was due, relative to `t0`.
#[derive(Clone)]
struct Log {
    t0: Instant,
    runs: Arc<Mutex<Vec<(u64, Duration, Duration)>>>,
}

impl Log {
    fn new() -> Self {
        Log {
            t0: Instant::now(),
            runs: Arc::default(),
        }
    }

    fn record(&self, tick: &TickContext) {
        let started = Instant::now() - self.t0;
        let due = tick.scheduled() - self.t0;
        self.runs.lock().unwrap().push((tick.seq(), started, due));
    }

    /// Start times, in periods.
    fn starts(&self) -> Vec<f64> {
        let runs = self.runs.lock().unwrap();
        runs.iter()
            .map(|(_, started, _)| started.as_secs_f64() / P.as_secs_f64())
            .collect()
    }

    fn count(&self) -> usize {
        self.runs.lock().unwrap().len()
    }
}

/// A ticker whose run number `slow` lasts `lasts` (others are instant), logging every run.
fn logging(log: &Log, first: FirstRun, policy: MissedTicks, slow: u64, lasts: Duration) -> Ticker {
    let log = log.clone();
    Ticker::builder(P, move |tick: TickContext| {
        log.record(&tick);
        async move {
            if tick.seq() == slow {
                tokio::time::sleep(lasts).await;
            }
            Ok::<_, io::Error>(())
        }
    })
    .first_run(first)
    .missed_ticks(policy)
    .build()
    .unwrap()
}

/// Starts `ticker`, lets `span` of (paused) time pass, and stops it.
async fn run_for(ticker: &Ticker, span: Duration) {
    ticker.start().await.unwrap();
    tokio::time::sleep(span).await;
    ticker.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_first_run_is_one_period_after_start_by_default() {
    let log = Log::new();
    let ticker = logging(&log, FirstRun::AfterPeriod, MissedTicks::Skip, 0, P);
    run_for(&ticker, secs(35.0)).await;
    assert_eq!(log.starts(), [1.0, 2.0, 3.0]);
    let runs = log.runs.lock().unwrap().clone();
    let seqs: Vec<u64> = runs.iter().map(|r| r.0).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert!(
        runs.iter().all(|(_, started, due)| started == due),
        "on time"
    );
}

#[tokio::test(start_paused = true)]
async fn the_first_run_can_be_immediate() {
    let log = Log::new();
    let ticker = logging(&log, FirstRun::Immediately, MissedTicks::Skip, 0, P);
    run_for(&ticker, secs(25.0)).await;
    assert_eq!(log.starts(), [0.0, 1.0, 2.0]);
}

#[tokio::test(start_paused = true)]
async fn after_a_slow_run_skip_drops_missed_ticks_and_returns_to_the_grid() {
    let log = Log::new();
    let ticker = logging(
        &log,
        FirstRun::AfterPeriod,
        MissedTicks::Skip,
        1,
        secs(25.0),
    );
    run_for(&ticker, secs(55.0)).await;
    assert_eq!(log.starts(), [1.0, 3.5, 4.0, 5.0]);
}

#[tokio::test(start_paused = true)]
async fn after_a_slow_run_burst_runs_missed_ticks_back_to_back() {
    let log = Log::new();
    let ticker = logging(
        &log,
        FirstRun::AfterPeriod,
        MissedTicks::Burst,
        1,
        secs(25.0),
    );
    run_for(&ticker, secs(55.0)).await;
    assert_eq!(log.starts(), [1.0, 3.5, 3.5, 4.0, 5.0]);
    let due: Vec<f64> = log
        .runs
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.2.as_secs_f64() / 10.0)
        .collect();
    assert_eq!(
        due,
        [1.0, 2.0, 3.0, 4.0, 5.0],
        "burst keeps every tick of the grid"
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_slow_run_delay_moves_the_grid() {
    let log = Log::new();
    let ticker = logging(
        &log,
        FirstRun::AfterPeriod,
        MissedTicks::Delay,
        1,
        secs(25.0),
    );
    run_for(&ticker, secs(60.0)).await;
    assert_eq!(log.starts(), [1.0, 3.5, 4.5, 5.5]);
}

#[tokio::test(start_paused = true)]
async fn runs_never_overlap() {
    let active = Arc::new(Mutex::new((0u32, 0u32))); // (now, most at once)
    let counter = Arc::clone(&active);
    let ticker = Ticker::builder(P, move |tick: TickContext| {
        let counter = Arc::clone(&counter);
        async move {
            {
                let mut c = counter.lock().unwrap();
                c.0 += 1;
                c.1 = c.1.max(c.0);
            }
            // Every run outlasts two periods (unless the ticker is stopped).
            tokio::select! {
                () = tokio::time::sleep(secs(25.0)) => {}
                () = tick.cancelled() => {}
            }
            counter.lock().unwrap().0 -= 1;
            Ok::<_, io::Error>(())
        }
    })
    .missed_ticks(MissedTicks::Burst)
    .build()
    .unwrap();
    run_for(&ticker, secs(200.0)).await;
    assert_eq!(active.lock().unwrap().1, 1);
    assert!(ticker.stats().runs >= 7);
}

#[tokio::test(start_paused = true)]
async fn set_period_from_inside_a_run_restarts_the_grid_from_the_call() {
    let log = Log::new();
    let recorder = log.clone();
    let ticker = Ticker::new(P, move |tick: TickContext| {
        recorder.record(&tick);
        async move {
            if tick.seq() == 2 {
                assert_eq!(tick.period(), Some(P));
                tick.set_period(secs(3.0)).expect("a valid period");
                assert_eq!(
                    tick.set_period(Duration::from_micros(10)),
                    Err(BuildError::PeriodTooShort {
                        period: Duration::from_micros(10)
                    })
                );
            }
            Ok::<_, io::Error>(())
        }
    })
    .unwrap();
    run_for(&ticker, secs(30.0)).await;
    assert_eq!(log.starts(), [1.0, 2.0, 2.3, 2.6, 2.9]);
    assert_eq!(ticker.period(), Some(secs(3.0)));
}

#[tokio::test(start_paused = true)]
async fn a_changed_period_outlives_a_restart_and_a_pending_change_does_not_leak() {
    let log = Log::new();
    let recorder = log.clone();
    let ticker = Ticker::new(P, move |tick: TickContext| {
        recorder.record(&tick);
        // Sequence numbers restart with each start: only the very first run changes the period.
        let first_ever = recorder.count() == 1;
        async move {
            if first_ever {
                tick.set_period(secs(20.0)).expect("a valid period");
                tick.cancelled().await; // still running when the stop comes
            }
            Ok::<_, io::Error>(())
        }
    })
    .unwrap();
    ticker.start().await.unwrap();
    tokio::time::sleep(secs(15.0)).await; // run 1 started at 10 s, is waiting
    ticker.stop().await.unwrap();
    assert_eq!(ticker.period(), Some(secs(20.0)));
    tokio::time::sleep(secs(5.0)).await;
    ticker.start().await.unwrap(); // at 20 s: the new period from the start
    tokio::time::sleep(secs(45.0)).await;
    ticker.stop().await.unwrap();
    // Run 1 at 10 s; after the restart at 20 s, every 20 s: 40 s, 60 s.
    assert_eq!(log.starts(), [1.0, 4.0, 6.0]);
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_each_run_within_its_bound_and_the_grid_does_not_drift() {
    let log = Log::new();
    let recorder = log.clone();
    let ticker = Ticker::builder(P, move |tick: TickContext| {
        recorder.record(&tick);
        async { Ok::<_, io::Error>(()) }
    })
    .jitter(secs(2.0))
    .build()
    .unwrap();
    run_for(&ticker, secs(505.0)).await;
    let runs = log.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 50);
    for (seq, started, due) in &runs {
        assert_eq!(*due, P * u32::try_from(*seq).unwrap(), "due on the grid");
        let delay = *started - *due;
        assert!(delay <= secs(2.0), "run {seq} started {delay:?} late");
    }
    let jittered = runs
        .iter()
        .filter(|(_, started, due)| started > due)
        .count();
    assert!(jittered > 40, "jitter applied to most runs, got {jittered}");
}

#[tokio::test(start_paused = true)]
async fn a_run_over_its_timeout_is_dropped_and_recorded_and_ticking_goes_on() {
    let ticker = Ticker::builder(P, |tick: TickContext| async move {
        if tick.seq() == 1 {
            tokio::time::sleep(secs(60.0)).await;
        }
        Ok::<_, io::Error>(())
    })
    .run_timeout(secs(4.0))
    .build()
    .unwrap();
    run_for(&ticker, secs(35.0)).await;
    let stats = ticker.stats();
    assert_eq!((stats.runs, stats.timeouts), (3, 1));
    assert_eq!(stats.durations.max(), Some(secs(4.0)));
    assert!(matches!(
        &*ticker.last_error().unwrap(),
        Error::TimedOut { seq: 1, after } if *after == secs(4.0)
    ));
}

#[tokio::test(start_paused = true)]
async fn errors_and_panics_are_recorded_and_ticking_goes_on() {
    let ticker = Ticker::new(P, |tick: TickContext| async move {
        match tick.seq() % 3 {
            1 => Err(io::Error::other("upstream down")),
            2 => panic!("bad data in tick {}", tick.seq()),
            _ => Ok(()),
        }
    })
    .unwrap();
    run_for(&ticker, secs(65.0)).await;
    let stats = ticker.stats();
    assert_eq!((stats.runs, stats.failures, stats.panics), (6, 2, 2));
    let errors: Vec<String> = ticker.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errors,
        [
            "run #1 failed: upstream down",
            "run #2 panicked: bad data in tick 2",
            "run #4 failed: upstream down",
            "run #5 panicked: bad data in tick 5",
        ]
    );
    assert_eq!(ticker.state(), State::Stopped);
    assert!(matches!(ticker.last_exit(), Some(Exit::Stopped)));
}

#[tokio::test(start_paused = true)]
async fn stop_while_idle_returns_at_once_and_no_run_follows() {
    let log = Log::new();
    let ticker = logging(&log, FirstRun::AfterPeriod, MissedTicks::Skip, 0, P);
    ticker.start().await.unwrap();
    tokio::time::sleep(secs(15.0)).await;
    let before = Instant::now();
    ticker.stop().await.unwrap();
    assert_eq!(before.elapsed(), Duration::ZERO);
    tokio::time::sleep(secs(100.0)).await;
    assert_eq!(log.count(), 1);
    assert_eq!(ticker.uptime(), None);
}

#[tokio::test(start_paused = true)]
async fn stop_during_a_run_cancels_it_and_waits_for_it() {
    let ticker = Ticker::new(P, |tick: TickContext| async move {
        tick.cancelled().await; // a long job that honours cancellation
        tokio::time::sleep(secs(1.0)).await; // and cleans up
        Ok::<_, io::Error>(())
    })
    .unwrap();
    ticker.start().await.unwrap();
    tokio::time::sleep(secs(15.0)).await; // the first run is in progress
    let before = Instant::now();
    ticker.stop().await.unwrap();
    assert_eq!(
        before.elapsed(),
        secs(1.0),
        "stop waited for the run's clean-up"
    );
    assert_eq!(ticker.stats().runs, 1);
    assert_eq!(ticker.error_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_run_ignoring_the_stop_is_aborted_at_the_stop_grace() {
    let ticker = Ticker::builder(P, |_tick: TickContext| async {
        tokio::time::sleep(secs(3600.0)).await;
        Ok::<_, io::Error>(())
    })
    .stop_grace(secs(2.0))
    .build()
    .unwrap();
    ticker.start().await.unwrap();
    tokio::time::sleep(secs(15.0)).await;
    let before = Instant::now();
    let error = ticker.stop().await.unwrap_err();
    assert_eq!(before.elapsed(), secs(2.0));
    assert!(matches!(error, Error::Aborted { seq: 1, grace } if grace == secs(2.0)));
    assert_eq!(ticker.state(), State::Stopped);
    assert!(matches!(ticker.last_exit(), Some(Exit::Failed(_))));
    assert_eq!(ticker.error_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn health_has_hysteresis_with_the_default_thresholds() {
    // Runs 1-3 fail, 4 succeeds, 5-6 fail, 7-8 succeed.
    let outcomes = [false, false, false, true, false, false, true, true];
    let ticker = Ticker::new(P, move |tick: TickContext| {
        let ok = outcomes[usize::try_from(tick.seq() - 1).unwrap() % outcomes.len()];
        async move {
            if ok {
                Ok(())
            } else {
                Err(io::Error::other(format!("check {} failed", tick.seq())))
            }
        }
    })
    .unwrap();
    ticker.start().await.unwrap();
    tokio::time::sleep(P / 2).await; // read health half-way between runs
    let mut health = Vec::new();
    for _ in 0..outcomes.len() {
        tokio::time::sleep(P).await;
        health.push(ticker.health());
    }
    ticker.stop().await.unwrap();
    // Unhealthy from the 3rd failure in a row (naming it); one success heals (healthy_after = 1).
    assert_eq!(
        health[2],
        Health::unhealthy("3 failed runs in a row; last error: run #3 failed: check 3 failed")
    );
    let healthy: Vec<bool> = health.iter().map(Health::is_healthy).collect();
    assert_eq!(healthy, [true, true, false, true, true, true, true, true]);
    assert_eq!(
        ticker.health(),
        Health::unhealthy("stopped"),
        "a stopped ticker is not doing its job"
    );
}

#[tokio::test(start_paused = true)]
async fn health_recovers_only_after_enough_successes() {
    let outcomes = [false, false, true, false, true, true, true];
    let ticker = Ticker::builder(P, move |tick: TickContext| {
        let ok = outcomes[usize::try_from(tick.seq() - 1).unwrap() % outcomes.len()];
        async move {
            if ok {
                Ok(())
            } else {
                Err(io::Error::other("down"))
            }
        }
    })
    .unhealthy_after(2)
    .healthy_after(2)
    .build()
    .unwrap();
    ticker.start().await.unwrap();
    tokio::time::sleep(P / 2).await; // read health half-way between runs
    let mut health = Vec::new();
    for _ in 0..outcomes.len() {
        tokio::time::sleep(P).await;
        health.push(ticker.health().is_healthy());
    }
    ticker.stop().await.unwrap();
    // fail, fail (unhealthy), ok (still: 1 of 2), fail, ok, ok (healthy), ok
    assert_eq!(health, [true, false, false, false, false, true, true]);
}

#[tokio::test(start_paused = true)]
async fn uptime_follows_the_clock_while_running() {
    let ticker = Ticker::new(P, |_tick: TickContext| async { Ok::<_, io::Error>(()) }).unwrap();
    assert_eq!(ticker.uptime(), None);
    ticker.start().await.unwrap();
    tokio::time::sleep(secs(42.0)).await;
    assert_eq!(ticker.uptime(), Some(secs(42.0)));
    ticker.stop().await.unwrap();
    assert_eq!(ticker.uptime(), None);
}

#[test]
fn bad_settings_are_typed_errors() {
    let f = |_tick: TickContext| async { Ok::<_, io::Error>(()) };
    let too_short = Duration::from_micros(999);
    assert_eq!(
        Ticker::new(too_short, f).unwrap_err(),
        BuildError::PeriodTooShort { period: too_short }
    );
    assert!(Ticker::new(MIN_PERIOD, f).is_ok());
    assert_eq!(
        Ticker::builder(P, f).jitter(P).build().unwrap_err(),
        BuildError::JitterNotBelowPeriod {
            jitter: P,
            period: P
        }
    );
    assert_eq!(
        Ticker::builder(P, f)
            .run_timeout(Duration::ZERO)
            .build()
            .unwrap_err(),
        BuildError::ZeroTimeout {
            which: "run timeout"
        }
    );
    assert_eq!(
        Ticker::builder(P, f)
            .stop_grace(Duration::ZERO)
            .build()
            .unwrap_err(),
        BuildError::ZeroTimeout {
            which: "stop grace"
        }
    );
    assert_eq!(
        Ticker::builder(P, f)
            .unhealthy_after(0)
            .build()
            .unwrap_err(),
        BuildError::ZeroThreshold {
            which: "unhealthy_after"
        }
    );
    assert_eq!(
        Ticker::builder(P, f).healthy_after(0).build().unwrap_err(),
        BuildError::ZeroThreshold {
            which: "healthy_after"
        }
    );
    assert_eq!(
        Ticker::builder(P, f).name("").build().unwrap_err(),
        BuildError::EmptyName
    );
}

use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::thread;
use runner_core::{Exit, State};
use runner_lifecycle::control::{Begin, Report};
use runner_lifecycle::sync::Arc;
use runner_lifecycle::{Control, ReadyWhen};

use crate::error::Error;
use crate::ledger::{Ledger, Tally};
use crate::state::{TickControl, TickState, Ticking};
use crate::stats::{Gauge, RunKind};

/// A ticker's control plane and ledger, as its task shares them.
struct Ticker {
    control: TickControl,
    ledger: Ledger,
    tally: Tally,
}

fn ticker() -> Arc<Ticker> {
    Arc::new(Ticker {
        control: Control::new(4, TickState::new(Some(Duration::from_secs(1)))),
        ledger: Ledger::new(),
        tally: Tally::new(Gauge::new(1, 1), Instant::now()),
    })
}

/// `start` as `Ticker::start` runs it.
fn start(ticker: &Ticker) -> u64 {
    let t0 = Instant::now();
    match block_on(ticker.control.begin_start(ReadyWhen::Spawned, move || t0)) {
        Begin::Spawn { run, .. } => run,
        Begin::AlreadyRunning => panic!("a new ticker starts"),
    }
}

/// `stop` as `Ticker::stop` runs it.
fn stop(ticker: &Ticker) -> Result<(), Error> {
    block_on(ticker.control.stop(|_| {}))
}

/// One tick's run ended, failed: recorded as the task records it.
fn a_failed_tick(ticker: &Ticker) -> Option<(Instant, Duration)> {
    let error = Error::TimedOut {
        seq: 1,
        after: Duration::from_secs(1),
    };
    let mut writer = ticker.ledger.writer(&ticker.tally);
    let recorded = ticker.ledger.record(
        &ticker.tally,
        &mut writer,
        RunKind::Failed,
        Instant::now(),
        Duration::from_millis(3),
    );
    ticker
        .control
        .after_run(&ticker.ledger, Some(error), &recorded)
}

/// Plays the ticker's task for `run`: one tick (if not asked to stop yet), then waits for the
/// stop request and reports the run finished, as the driver does.
fn drive(ticker: &Ticker, run: u64) {
    if !ticker.control.is_cancelled(run) {
        let _ = a_failed_tick(ticker);
    }
    let mut registered = None;
    block_on(core::future::poll_fn(|cx| {
        ticker.control.poll_stop(run, &mut registered, cx)
    }));
    let finished = ticker.control.finish(run, |_, _, state| {
        state.forget_reset(&ticker.ledger);
        Report::ok(Exit::Stopped)
    });
    assert!(finished.is_some(), "the task of run {run} must finish it");
}

fn assert_quiet(ticker: &Ticker) {
    assert_eq!(ticker.control.snapshot().state, State::Stopped);
    assert_eq!(ticker.control.waiting(), 0, "a waker was left registered");
}

/// A stop racing a failing tick: the tick is recorded (its error in the history, its health flip
/// moving the version) or never starts, the stop returns, and nothing is left waiting.
#[test]
fn loom_stop_races_a_tick() {
    loom::model(|| {
        let ticker = ticker();
        let run = start(&ticker);
        let task = {
            let ticker = Arc::clone(&ticker);
            thread::spawn(move || drive(&ticker, run))
        };
        assert!(stop(&ticker).is_ok());
        task.join().unwrap();
        assert_quiet(&ticker);
        let runs = ticker.ledger.stats(&ticker.tally).runs;
        assert!(runs <= 1);
        assert_eq!(ticker.control.error_count(), runs);
        // start, stopping, stopped: three versions; a recorded failure flipped health: four.
        assert_eq!(ticker.control.snapshot().version.get(), 3 + runs);
        assert!(matches!(ticker.control.last_exit(), Some(Exit::Stopped)));
    });
}

/// A period change from inside a run racing a stop: neither blocks the other, the new period is
/// kept for the next start, and no reset leaks into it.
#[test]
fn loom_reset_races_stop() {
    loom::model(|| {
        let ticker = ticker();
        let run = start(&ticker);
        let task = {
            let ticker = Arc::clone(&ticker);
            thread::spawn(move || {
                let at = Instant::now();
                assert!(
                    ticker
                        .control
                        .set_period(&ticker.ledger, at, Duration::from_secs(5))
                );
                drive(&ticker, run);
            })
        };
        assert!(stop(&ticker).is_ok());
        task.join().unwrap();
        assert_eq!(ticker.control.period(), Some(Duration::from_secs(5)));
        assert_quiet(&ticker);
        assert_eq!(a_failed_tick(&ticker), None, "a reset leaked past the stop");
    });
}

/// A reader waiting for the first run (`until_runs(1)`) while the task records it: the reader is
/// woken whichever comes first, its registration or the run, and leaves nothing behind.
#[test]
fn loom_until_runs_races_a_tick() {
    loom::model(|| {
        let ticker = ticker();
        let task = {
            let ticker = Arc::clone(&ticker);
            thread::spawn(move || {
                let _ = a_failed_tick(&ticker);
            })
        };
        let mut key = None;
        ticker.ledger.watch(true);
        block_on(core::future::poll_fn(|cx| {
            ticker.control.poll_runs(&ticker.ledger, 1, &mut key, cx)
        }));
        ticker.ledger.watch(false);
        task.join().unwrap();
        assert_eq!(ticker.ledger.stats(&ticker.tally).runs, 1);
        assert!(key.is_none());
    });
}

/// `stats()` while a run is recorded: the reader sees the run whole or not at all.
#[test]
fn loom_stats_are_read_whole() {
    loom::model(|| {
        let ticker = ticker();
        let task = {
            let ticker = Arc::clone(&ticker);
            thread::spawn(move || {
                let _ = a_failed_tick(&ticker);
            })
        };
        let stats = ticker.ledger.stats(&ticker.tally);
        match stats.runs {
            0 => assert!(stats.last_run_duration.is_none() && stats.durations.max().is_none()),
            1 => {
                assert_eq!(stats.last_run_duration, Some(Duration::from_millis(3)));
                assert_eq!(stats.durations.max(), Some(Duration::from_millis(3)));
                assert!(stats.last_run_start.is_some());
            }
            runs => panic!("{runs} runs"),
        }
        task.join().unwrap();
    });
}

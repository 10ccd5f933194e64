use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::thread;
use runner_core::{Exit, State};
use runner_lifecycle::control::{Begin, Report};
use runner_lifecycle::sync::Arc;
use runner_lifecycle::{Control, ReadyWhen};

use crate::error::Error;
use crate::state::{RunReport, TickControl, TickState, Ticking};
use crate::stats::{Gauge, RunKind};

fn control() -> Arc<TickControl> {
    let state = TickState::new(Some(Duration::from_secs(1)), Gauge::new(1, 1));
    Arc::new(Control::new(4, state))
}

/// `start` as `Ticker::start` runs it.
fn start(control: &TickControl) -> u64 {
    let t0 = Instant::now();
    match block_on(control.begin_start(ReadyWhen::Spawned, move || t0)) {
        Begin::Spawn { run, .. } => run,
        Begin::AlreadyRunning => panic!("a new ticker starts"),
    }
}

/// `stop` as `Ticker::stop` runs it.
fn stop(control: &TickControl) -> Result<(), Error> {
    block_on(control.stop(|_| {}))
}

fn a_failed_tick() -> RunReport {
    RunReport {
        kind: RunKind::Failed,
        error: Some(Error::TimedOut {
            seq: 1,
            after: Duration::from_secs(1),
        }),
        started: Instant::now(),
        took: Duration::ZERO,
    }
}

/// Plays the ticker's task for `run`: one tick (if not cancelled yet), then waits for the stop
/// request and reports the run finished, as the driver does.
fn drive(control: &TickControl, run: u64) {
    if !control.is_cancelled(run) {
        let _ = control.record(a_failed_tick());
    }
    let mut key = None;
    block_on(core::future::poll_fn(|cx| {
        control.poll_cancelled(run, &mut key, cx)
    }));
    let finished = control.finish(run, |_, _, state| {
        state.forget_reset();
        Report::ok(Exit::Stopped)
    });
    assert!(finished.is_some(), "the task of run {run} must finish it");
}

fn assert_quiet(control: &TickControl) {
    assert_eq!(control.snapshot().state, State::Stopped);
    assert_eq!(control.waiting(), 0, "a waker was left registered");
}

/// A stop racing a failing tick: the tick is recorded (its health flip moving the version) or
/// never starts, the stop returns, and nothing is left waiting.
#[test]
fn loom_stop_races_a_tick() {
    loom::model(|| {
        let control = control();
        let run = start(&control);
        let driver = {
            let control = Arc::clone(&control);
            thread::spawn(move || drive(&control, run))
        };
        assert!(stop(&control).is_ok());
        driver.join().unwrap();
        assert_quiet(&control);
        let runs = control.stats().runs;
        assert!(runs <= 1);
        // start, stopping, stopped: three versions; a recorded failure flipped health: four.
        assert_eq!(control.snapshot().version.get(), 3 + runs);
        assert!(matches!(control.last_exit(), Some(Exit::Stopped)));
    });
}

/// A period change from inside a run racing a stop: neither blocks the other, the new period is
/// kept for the next start, and no reset leaks into it.
#[test]
fn loom_reset_races_stop() {
    loom::model(|| {
        let control = control();
        let run = start(&control);
        let resetter = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                assert!(control.set_period(Instant::now(), Duration::from_secs(5)));
                drive(&control, run);
            })
        };
        assert!(stop(&control).is_ok());
        resetter.join().unwrap();
        assert_eq!(control.period(), Some(Duration::from_secs(5)));
        assert_quiet(&control);
        let (_, reset) = control.record(a_failed_tick());
        assert_eq!(reset, None, "a reset leaked past the stop");
    });
}

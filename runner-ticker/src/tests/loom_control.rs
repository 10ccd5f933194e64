use core::future::Future;
use core::pin::pin;
use core::task::{Context, Waker};
use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use runner_core::{Exit, State};

use crate::control::{Begin, Control, RunReport, Signal};
use crate::error::Error;
use crate::stats::{Gauge, RunKind};
use crate::sync::Arc;

type Ctl = Control<()>;

fn control<S>() -> Arc<Control<S>> {
    Arc::new(Control::new(
        4,
        Some(Duration::from_secs(1)),
        Gauge::new(3, 1),
    ))
}

/// `start` as `Ticker::start` runs it; returns the run to drive if one began.
fn start<S>(control: &Control<S>) -> Option<u64> {
    let t0 = Instant::now();
    match block_on(control.begin_start(move || t0)) {
        Begin::AlreadyRunning => None,
        Begin::Spawn { run, .. } => Some(run),
    }
}

/// `stop` as `Ticker::stop` runs it.
fn stop<S: Signal>(control: &Control<S>) -> Result<(), Error> {
    block_on(control.stop(|_| {}))
}

fn a_run() -> RunReport {
    RunReport {
        kind: RunKind::Succeeded,
        error: None,
        started: Instant::now(),
        took: Duration::ZERO,
    }
}

/// Plays the ticker's task for `run`: one tick (if not cancelled yet), then waits for the stop
/// request and reports the run finished, as the driver does.
fn drive<S>(control: &Control<S>, run: u64, aborted: Option<Error>) {
    if !control.is_cancelled(run) {
        let _ = control.record(a_run());
    }
    block_on(control.stop_requested(run));
    assert!(
        control.finish(run, aborted),
        "the task of run {run} must finish it"
    );
}

fn spawn_driver(control: &Arc<Ctl>, run: u64) -> thread::JoinHandle<()> {
    let control = Arc::clone(control);
    thread::spawn(move || drive(&control, run, None))
}

fn start_and_drive(control: &Arc<Ctl>) -> Option<thread::JoinHandle<()>> {
    start(&**control).map(|run| spawn_driver(control, run))
}

fn assert_quiet<S>(control: &Control<S>) {
    assert_eq!(control.snapshot().state, State::Stopped);
    assert_eq!(control.waiting(), 0, "a waker was left registered");
}

/// A stop racing a tick in progress: the tick is recorded or never starts, the stop returns, and
/// nothing is left waiting.
#[test]
fn loom_stop_races_a_tick() {
    loom::model(|| {
        let control = control::<()>();
        let driver = start_and_drive(&control).expect("a new ticker starts");
        let stopper = {
            let control = Arc::clone(&control);
            thread::spawn(move || stop(&*control))
        };
        assert!(stopper.join().unwrap().is_ok());
        driver.join().unwrap();
        assert_quiet(&*control);
        assert!(control.stats().runs <= 1);
        assert!(matches!(control.last_exit(), Some(Exit::Stopped)));
    });
}

/// A period change from inside a run racing a stop: neither blocks the other.
#[test]
fn loom_reset_races_stop() {
    loom::model(|| {
        let control = control::<()>();
        let run = start(&*control).expect("a new ticker starts");
        let resetter = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                assert!(control.set_period(Instant::now(), Duration::from_secs(5)));
                drive(&control, run, None);
            })
        };
        assert!(stop(&*control).is_ok());
        resetter.join().unwrap();
        assert_eq!(control.period(), Some(Duration::from_secs(5)));
        assert_quiet(&*control);
    });
}

/// `restart` (stop, then start) racing a `stop`: both return, runs never overlap, and a final
/// `stop` brings down whatever the restart began.
#[test]
fn loom_restart_races_stop() {
    loom::model(|| {
        let control = control::<()>();
        let driver = start_and_drive(&control).expect("a new ticker starts");
        let restarter = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                assert!(stop(&*control).is_ok());
                start_and_drive(&control)
            })
        };
        assert!(stop(&*control).is_ok());
        driver.join().unwrap();
        let second = restarter.join().unwrap();
        assert!(stop(&*control).is_ok());
        if let Some(driver) = second {
            driver.join().unwrap();
        }
        assert_quiet(&*control);
    });
}

/// A `stop` polled once and dropped, then a second `stop`: the run ends without the first, the
/// second returns, nothing is lost, and the dropped one left no waker behind.
#[test]
fn loom_dropped_stop_then_retry() {
    loom::model(|| {
        let control = control::<()>();
        let run = start(&*control).expect("a new ticker starts");
        let driver = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                drive(
                    &control,
                    run,
                    Some(Error::Aborted {
                        seq: 1,
                        grace: Duration::from_secs(5),
                    }),
                );
            })
        };
        {
            let stopping = pin!(control.stop(|_| {}));
            let _ = stopping.poll(&mut Context::from_waker(Waker::noop()));
        }
        // If the run is still stopping, the later stop reports its abort; if it has finished
        // already, the later stop is a no-op. Either way the abort is in the history.
        match stop(&*control) {
            Ok(()) | Err(Error::Aborted { seq: 1, .. }) => {}
            Err(other) => panic!("unexpected stop result: {other}"),
        }
        driver.join().unwrap();
        assert_quiet(&*control);
        assert_eq!(control.error_count(), 1);
        assert!(matches!(control.last_exit(), Some(Exit::Failed(_))));
    });
}

/// A signal loom can see.
#[derive(Clone)]
struct Flag(Arc<AtomicBool>);

impl Signal for Flag {
    fn fire(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A run asks for its token while a stop races it: whichever comes first, the token is fired by
/// the time the stop returns.
#[test]
fn loom_token_requested_while_stopping() {
    loom::model(|| {
        let control: Arc<Control<Flag>> = control();
        let run = start(&*control).expect("a new ticker starts");
        let task = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                let token = control.signal(run, || Flag(Arc::new(AtomicBool::new(false))));
                drive(&control, run, None);
                token
            })
        };
        assert!(stop(&*control).is_ok());
        let token = task.join().unwrap();
        assert!(
            token.0.load(Ordering::SeqCst),
            "a live token survived the stop"
        );
        assert_quiet(&*control);
    });
}

use core::pin::pin;
use core::task::{Context, Waker};
use std::future::Future;
use std::time::Instant;

use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use runner_core::{Exit, State};

use crate::control::{Begin, Control, Signal, WorkOutcome};
use crate::error::Error;
use crate::lifecycle::ReadyWhen;
use crate::sync::Arc;

/// The stop signal is a unit: drivers in these models watch the state instead.
type Ctl = Control<()>;

fn control() -> Arc<Ctl> {
    Arc::new(Control::new(4))
}

/// `start` as `StartStop::start` runs it; returns the run to drive if one began.
fn start(control: &Ctl, when: ReadyWhen) -> Option<u64> {
    let t0 = Instant::now();
    match block_on(control.begin_start(when, move || t0)) {
        Begin::AlreadyRunning => None,
        Begin::Spawn { run } => Some(run),
    }
}

/// `stop` as `StartStop::stop` runs it.
fn stop(control: &Ctl) -> Result<(), Error> {
    block_on(control.stop(|_| {}))
}

/// How a modelled driver's run ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The start function runs until asked to stop.
    WhenAsked,
    /// The start function returns by itself.
    ByItself,
}

/// Plays the driver task of `run`.
fn drive(control: &Ctl, run: u64, ending: Ending) {
    if ending == Ending::WhenAsked {
        block_on(async {
            loop {
                let seen = control.snapshot();
                if seen.state == State::Stopping {
                    return;
                }
                control.changed(seen.version).await;
            }
        });
    }
    // A driver always reports how the work ended, then runs the hook, then finishes.
    let _ = control.exited(run, &mut None);
    assert!(
        control.finish(run, WorkOutcome::Returned, Ok(())).is_some(),
        "the driver of run {run} must be the one to finish it"
    );
}

fn spawn_driver(control: &Arc<Ctl>, run: u64, ending: Ending) -> thread::JoinHandle<()> {
    let control = Arc::clone(control);
    thread::spawn(move || drive(&control, run, ending))
}

/// Nothing is left running or waiting.
fn assert_quiet(control: &Ctl) {
    let seen = control.snapshot();
    assert!(seen.state.is_idle(), "ended in {seen}");
    assert_eq!(control.waiting(), 0, "a waker was left registered");
}

/// A start function returning by itself while a `stop` is in flight: one finish, one exit, and
/// `stop` returns.
#[test]
fn loom_stop_races_exit_by_itself() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Spawned).expect("a new runner starts");
        let driver = spawn_driver(&control, run, Ending::ByItself);
        let stopper = {
            let control = Arc::clone(&control);
            thread::spawn(move || stop(&control))
        };
        assert!(stopper.join().unwrap().is_ok());
        driver.join().unwrap();
        assert_quiet(&control);
        assert_eq!(control.snapshot().state, State::Stopped);
        assert!(matches!(
            control.last_exit(),
            Some(Exit::Completed | Exit::Stopped)
        ));
    });
}

/// `start` as `StartStop::start` runs it, spawning the driver of a run that began, as the real
/// `start` spawns its task before returning.
fn start_and_drive(control: &Arc<Ctl>) -> Option<thread::JoinHandle<()>> {
    start(control, ReadyWhen::Spawned).map(|run| spawn_driver(control, run, Ending::WhenAsked))
}

/// `start` and `stop` from two threads on a running runner: serialised, no deadlock, and a final
/// `stop` always brings down whatever the `start` began.
#[test]
fn loom_concurrent_start_and_stop() {
    loom::model(|| {
        let control = control();
        let driver = start_and_drive(&control).expect("a new runner starts");
        let starter = {
            let control = Arc::clone(&control);
            thread::spawn(move || start_and_drive(&control))
        };
        assert!(stop(&control).is_ok());
        driver.join().unwrap();
        let second = starter.join().unwrap();
        assert!(stop(&control).is_ok());
        if let Some(driver) = second {
            driver.join().unwrap();
        }
        assert_quiet(&control);
    });
}

/// `restart` (stop, then start) racing a `stop`: both return, runs never overlap, and a final
/// `stop` brings down whatever the restart began.
#[test]
fn loom_restart_races_stop() {
    loom::model(|| {
        let control = control();
        let driver = start_and_drive(&control).expect("a new runner starts");
        let restarter = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                assert!(stop(&control).is_ok());
                start_and_drive(&control)
            })
        };
        assert!(stop(&control).is_ok());
        driver.join().unwrap();
        let second = restarter.join().unwrap();
        assert!(stop(&control).is_ok());
        if let Some(driver) = second {
            driver.join().unwrap();
        }
        assert_quiet(&control);
    });
}

/// A `stop` future polled once and dropped (a timeout), then a second `stop`: the run finishes
/// without the first future, the second one returns, and the dropped one left no waker behind.
#[test]
fn loom_dropped_stop_then_retry() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Spawned).expect("a new runner starts");
        let driver = spawn_driver(&control, run, Ending::WhenAsked);
        {
            let stopping = pin!(control.stop(|_| {}));
            let _ = stopping.poll(&mut Context::from_waker(Waker::noop()));
        }
        assert!(stop(&control).is_ok());
        driver.join().unwrap();
        assert_quiet(&control);
        assert_eq!(control.snapshot().state, State::Stopped);
    });
}

/// With readiness on, `ready` racing `stop`: the waiting `start` learns either that the run is
/// running or that it was stopped first, never both and never neither.
#[test]
fn loom_ready_races_stop() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Signalled).expect("a new runner starts");
        assert_eq!(control.snapshot().state, State::Starting);
        let driver = spawn_driver(&control, run, Ending::WhenAsked);
        let signaller = {
            let control = Arc::clone(&control);
            thread::spawn(move || control.ready(run, Instant::now()))
        };
        let stopper = {
            let control = Arc::clone(&control);
            thread::spawn(move || stop(&control))
        };
        let outcome = block_on(control.ready_outcome(run));
        let became_running = signaller.join().unwrap();
        assert!(stopper.join().unwrap().is_ok());
        driver.join().unwrap();
        match outcome {
            Ok(()) => assert!(became_running, "start saw Running that nobody published"),
            Err(Error::StoppedBeforeReady) => {}
            Err(other) => panic!("unexpected start outcome: {other}"),
        }
        assert_quiet(&control);
    });
}

/// A signal loom can see: fired is a loom atomic.
#[derive(Clone)]
struct Flag(Arc<AtomicBool>);

impl Signal for Flag {
    fn fire(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The start function asks for its token while a `stop` races it, then waits to be cancelled:
/// whichever comes first, the token it holds is fired by the time the stop returns, and its wait
/// for cancellation ends.
#[test]
fn loom_token_requested_while_stopping() {
    loom::model(|| {
        let control: Arc<Control<Flag>> = Arc::new(Control::new(4));
        let t0 = Instant::now();
        let Begin::Spawn { run } = block_on(control.begin_start(ReadyWhen::Spawned, move || t0))
        else {
            panic!("a new runner starts");
        };
        let work = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                let token = control.signal(run, || Flag(Arc::new(AtomicBool::new(false))));
                let mut key = None;
                block_on(core::future::poll_fn(|cx| {
                    control.poll_cancelled(run, &mut key, cx)
                }));
                // The work has seen its cancellation: it ends, and its driver reports it.
                let _ = control.exited(run, &mut None);
                let _ = control.finish(run, WorkOutcome::Returned, Ok(()));
                token
            })
        };
        assert!(block_on(control.stop(|_| {})).is_ok());
        let token = work.join().unwrap();
        assert!(
            token.0.load(Ordering::SeqCst),
            "a live token survived the stop"
        );
        assert_eq!(control.snapshot().state, State::Stopped);
        assert_eq!(control.waiting(), 0);
    });
}
